//! Renders one Arrow value as text without allocating: the shared core of every output writer,
//! and of reading Parquet rows back into records.

use std::io::{self, Write};
use std::net::IpAddr;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int32Type, Int64Type, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use arrow_array::{Array, ArrayRef, BooleanArray, FixedSizeBinaryArray, StringArray};
use arrow_schema::{DataType, TimeUnit};

/// One value, ready to write.
#[derive(Debug)]
pub enum Value<'a> {
    /// A missing value (`-` in the flow log).
    Null,
    /// An integer.
    Int(i128),
    /// A floating-point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// An IP address.
    Ip(IpAddr),
    /// Text.
    Str(&'a str),
}

impl Value<'_> {
    /// Whether JSON writes this value unquoted.
    pub fn is_json_bare(&self) -> bool {
        matches!(
            self,
            Value::Null | Value::Int(_) | Value::Float(_) | Value::Bool(_)
        )
    }

    /// Writes the value as plain text (`-` for null).
    pub fn write_plain(&self, out: &mut impl Write) -> io::Result<()> {
        match self {
            Value::Str(s) => out.write_all(s.as_bytes()),
            other => write!(out, "{other}"),
        }
    }

    /// Writes the value as JSON.
    pub fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        match self {
            Value::Null => out.write_all(b"null"),
            Value::Int(_) | Value::Bool(_) => self.write_plain(out),
            Value::Float(v) if v.is_finite() => write!(out, "{v}"),
            Value::Float(_) => out.write_all(b"null"),
            Value::Ip(ip) => write!(out, "\"{ip}\""),
            Value::Str(s) => write_json_string(out, s),
        }
    }
}

impl std::fmt::Display for Value<'_> {
    /// Plain text, `-` for null: the flow-log rendering.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("-"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Ip(ip) => write!(f, "{ip}"),
            Value::Str(s) => f.write_str(s),
        }
    }
}

/// Writes `s` as a JSON string literal.
pub fn write_json_string(out: &mut impl Write, s: &str) -> io::Result<()> {
    out.write_all(b"\"")?;
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.write_all(&bytes[start..i])?;
        match escape {
            Some(e) => out.write_all(e)?,
            None => write!(out, "\\u{b:04x}")?,
        }
        start = i + 1;
    }
    out.write_all(&bytes[start..])?;
    out.write_all(b"\"")
}

/// Reads values of one column of one batch.
#[derive(Debug)]
pub struct ColumnReader<'a> {
    array: &'a ArrayRef,
    kind: ReaderKind<'a>,
}

#[derive(Debug)]
enum ReaderKind<'a> {
    Dict(&'a StringArray),
    Str(&'a StringArray),
    Ip(&'a FixedSizeBinaryArray),
    Bool(&'a BooleanArray),
    Other,
}

impl<'a> ColumnReader<'a> {
    /// Prepares to read `array`.
    pub fn new(array: &'a ArrayRef) -> ColumnReader<'a> {
        let kind = match array.data_type() {
            DataType::Dictionary(key, value)
                if **key == DataType::Int32 && **value == DataType::Utf8 =>
            {
                ReaderKind::Dict(
                    array
                        .as_dictionary::<Int32Type>()
                        .values()
                        .as_string::<i32>(),
                )
            }
            DataType::Utf8 => ReaderKind::Str(array.as_string::<i32>()),
            DataType::FixedSizeBinary(16) => ReaderKind::Ip(array.as_fixed_size_binary()),
            DataType::Boolean => ReaderKind::Bool(array.as_boolean()),
            _ => ReaderKind::Other,
        };
        ColumnReader { array, kind }
    }

    /// The value at `row`.
    #[inline]
    pub fn value(&self, row: usize) -> Value<'a> {
        if self.array.is_null(row) {
            return Value::Null;
        }
        let a = self.array;
        match &self.kind {
            ReaderKind::Dict(values) => {
                let key = a.as_dictionary::<Int32Type>().keys().value(row);
                Value::Str(values.value(key as usize))
            }
            ReaderKind::Str(s) => Value::Str(s.value(row)),
            ReaderKind::Ip(ips) => {
                let bytes: [u8; 16] = ips.value(row).try_into().unwrap_or([0; 16]);
                Value::Ip(crate::value::ip_from_bytes(bytes))
            }
            ReaderKind::Bool(b) => Value::Bool(b.value(row)),
            ReaderKind::Other => match a.data_type() {
                DataType::UInt8 => Value::Int(a.as_primitive::<UInt8Type>().value(row).into()),
                DataType::UInt16 => Value::Int(a.as_primitive::<UInt16Type>().value(row).into()),
                DataType::UInt32 => Value::Int(a.as_primitive::<UInt32Type>().value(row).into()),
                DataType::UInt64 => Value::Int(a.as_primitive::<UInt64Type>().value(row).into()),
                DataType::Int32 => Value::Int(a.as_primitive::<Int32Type>().value(row).into()),
                DataType::Int64 => Value::Int(a.as_primitive::<Int64Type>().value(row).into()),
                DataType::Float64 => Value::Float(a.as_primitive::<Float64Type>().value(row)),
                DataType::Timestamp(TimeUnit::Second, _) => {
                    Value::Int(a.as_primitive::<TimestampSecondType>().value(row).into())
                }
                _ => Value::Str("?"),
            },
        }
    }
}
