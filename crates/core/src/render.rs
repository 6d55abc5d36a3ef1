//! Renders one Arrow value as text without allocating: the shared core of every output writer,
//! and of reading Parquet rows back into records.

use std::io::{self, Write};
use std::net::IpAddr;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int32Type, Int64Type, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeBinaryArray, MapArray, StringArray, UInt64Array,
};
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
    /// Counts by name (a map column of string keys and integer values): `{"BPA":3}` in JSON,
    /// `BPA=3` as text.
    Counts(&'a StringArray, &'a UInt64Array, std::ops::Range<usize>),
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

    /// The name–count entries of a [`Value::Counts`].
    fn entries(&self) -> impl Iterator<Item = (&str, u64)> {
        let (keys, values, range) = match self {
            Value::Counts(k, v, r) => (Some(*k), Some(*v), r.clone()),
            _ => (None, None, 0..0),
        };
        range.filter_map(move |i| Some((keys?.value(i), values?.value(i))))
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
            Value::Counts(..) => {
                out.write_all(b"{")?;
                for (i, (k, n)) in self.entries().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    write_json_string(out, k)?;
                    write!(out, ":{n}")?;
                }
                out.write_all(b"}")
            }
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
            Value::Counts(..) => {
                for (i, (k, n)) in self.entries().enumerate() {
                    write!(f, "{}{k}={n}", if i > 0 { " " } else { "" })?;
                }
                Ok(())
            }
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
    /// A map of string keys to UInt64 values, with its offsets.
    Counts(&'a MapArray, &'a StringArray, &'a UInt64Array),
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
            DataType::Map(..) => {
                let map = array.as_map();
                match (
                    map.keys().as_string_opt::<i32>(),
                    map.values().as_primitive_opt::<UInt64Type>(),
                ) {
                    (Some(k), Some(v)) => ReaderKind::Counts(map, k, v),
                    _ => ReaderKind::Other,
                }
            }
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
            ReaderKind::Counts(map, k, v) => {
                let offsets = map.value_offsets();
                Value::Counts(k, v, offsets[row] as usize..offsets[row + 1] as usize)
            }
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

#[cfg(test)]
mod counts_tests {
    use super::*;
    use arrow_array::builder::{MapBuilder, StringBuilder, UInt64Builder};

    #[test]
    fn a_map_of_counts_renders_as_an_object_and_as_text() {
        let mut b = MapBuilder::new(None, StringBuilder::new(), UInt64Builder::new());
        b.keys().append_value("BPA");
        b.values().append_value(6);
        b.append(true).unwrap();
        b.append(true).unwrap();
        let array: ArrayRef = std::sync::Arc::new(b.finish());
        let r = ColumnReader::new(&array);
        let mut json = Vec::new();
        r.value(0).write_json(&mut json).unwrap();
        assert_eq!(String::from_utf8(json).unwrap(), r#"{"BPA":6}"#);
        assert_eq!(r.value(0).to_string(), "BPA=6");
        let mut json = Vec::new();
        r.value(1).write_json(&mut json).unwrap();
        assert_eq!(String::from_utf8(json).unwrap(), "{}");
    }
}
