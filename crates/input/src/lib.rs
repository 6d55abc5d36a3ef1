//! Local inputs for vpcflow: files and stdin, plain text, gzip (multi-member, as S3 objects
//! are) and Parquet (AWS's Parquet delivery, or vpcflow's own), decoded on worker threads.
//!
//! # A tour
//! - [`Input`]: a path or `-` for stdin.
//! - [`open`]: sniffs the first bytes (gzip magic `1f 8b`, Parquet magic `PAR1`) and returns an
//!   [`Opened`] source.
//! - [`decode_source`]: runs one opened source through a [`Decoder`](vpcflow_core::Decoder),
//!   handing each batch to a callback and reporting how far it got ([`SourceReport`], with a
//!   [`SourceError`] when it broke).
//! - [`for_each_batch`]: decodes many inputs on `threads` worker threads, each with its own
//!   decoder, and calls a shared callback with every batch as it is produced.
#![deny(missing_docs)]

mod isolate;
mod open;
mod parquet_in;
mod pipe;
mod report;
mod run;
mod shape;
mod split;

pub use open::{Compression, Input, Opened, open, open_pipelined, open_reader};
pub use report::{RunError, SourceError, SourceReport};
pub use run::{
    RunOptions, SourceSink, decode_range, decode_source, for_each_batch, for_each_source,
};
pub use shape::Shape;
pub use split::{FileRange, MIN_PART, plan_ranges};
