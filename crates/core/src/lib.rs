//! The core of vpcflow: AWS VPC Flow Log fields, formats, the Arrow schema, and a streaming
//! decoder. No I/O, no async runtime.
//!
//! # A tour
//! - [`field`]: every field AWS documents ([`field::FIELDS`]) and the [`Kind`] it decodes to.
//! - [`LogFormat`]: the ordered fields of a record, from a `${field}` string, an S3 header line
//!   or the default version 2 format, with its Arrow schema.
//! - [`Decoder`]: push bytes in, take [`RecordBatch`](arrow_array::RecordBatch)es out. It never
//!   allocates per record and handles lines split across reads.
//! - [`Reader`]: a pull adapter over any [`BufRead`](std::io::BufRead).
//! - [`Error`] and [`MalformedLine`]: what went wrong, and where.
//! - [`value`]: the byte-level parsers for integers and addresses.
//! - [`render`]: reads any column value back as text or JSON.
//!
//! # Example
//! ```
//! use arrow_array::cast::AsArray;
//! use arrow_array::types::UInt16Type;
//! use arrow_array::Array;
//! use vpcflow_core::{Decoder, DecoderOptions, Reader};
//!
//! let logs = "2 123456789012 eni-085da82d3ccb0f0ad 10.0.1.10 10.0.3.213 49152 3306 6 1 60 1700000000 1700000060 REJECT OK
//! 2 123456789012 eni-085da82d3ccb0f0ad - - - - - - - 1700000000 1700000060 - NODATA
//! this line is malformed
//! ";
//! let mut reader = Reader::new(logs.as_bytes(), Decoder::new(DecoderOptions::default()), "eni.log");
//! let batch = reader.next().unwrap().unwrap();
//! assert_eq!(batch.num_rows(), 2);
//! let dstport = batch.column_by_name("dstport").unwrap().as_primitive::<UInt16Type>();
//! assert_eq!(dstport.value(0), 3306);
//! assert!(dstport.is_null(1));
//! let malformed = reader.decoder_mut().take_malformed();
//! assert_eq!(malformed[0].to_string(), "eni.log:3: expected 14 fields, found 4");
//! ```
#![deny(missing_docs)]

mod builder;
pub mod decode;
pub mod error;
pub mod field;
pub mod filter;
pub mod format;
pub mod reader;
pub mod render;
pub mod value;

pub use decode::{DecodeStats, Decoder, DecoderOptions};
pub use error::{Error, ErrorKind, Malformed, MalformedLine, Position, Result};
pub use field::{FieldDef, Kind};
pub use filter::PortSet;
pub use format::{Column, LogFormat};
pub use reader::Reader;
