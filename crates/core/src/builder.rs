//! Column builders that the decoder appends to, and an interner for repeated strings.
//!
//! Each builder keeps plain `Vec`s reserved for a whole batch, so appending a record never
//! allocates; finishing a batch hands the `Vec`s to Arrow without copying.

use std::sync::Arc;

use arrow_array::types::{Int32Type, UInt8Type, UInt16Type, UInt64Type};
use arrow_array::{
    ArrayRef, DictionaryArray, FixedSizeBinaryArray, PrimitiveArray, StringArray,
    TimestampSecondArray,
};
use arrow_buffer::{Buffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use std::hash::BuildHasher;

use crate::field::Kind;

/// A value parsed from one field, before it is committed to its column.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) enum Parsed {
    /// `-`
    #[default]
    Null,
    /// An integer, already range-checked for the column.
    Int(u64),
    /// An address as 16 bytes.
    Ip([u8; 16]),
    /// A text value: the byte range within the line, already checked to be UTF-8.
    Text(u32, u32),
}

/// Interns repeated strings into one dictionary per batch.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    table: HashTable<i32>,
    hasher: DefaultHashBuilder,
    offsets: Vec<i32>,
    data: Vec<u8>,
    last: Option<(i32, u32, u32)>,
}

impl Interner {
    fn value<'a>(offsets: &[i32], data: &'a [u8], key: i32) -> &'a [u8] {
        let k = key as usize;
        &data[offsets[k] as usize..offsets[k + 1] as usize]
    }

    #[inline]
    pub(crate) fn intern(&mut self, s: &[u8]) -> i32 {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        // Consecutive records often repeat a value (one ENI per CloudWatch stream).
        if let Some((key, start, end)) = self.last
            && &self.data[start as usize..end as usize] == s
        {
            return key;
        }
        let hash = self.hasher.hash_one(s);
        let (offsets, data) = (&self.offsets, &self.data);
        let key = match self
            .table
            .find(hash, |&k| Self::value(offsets, data, k) == s)
        {
            Some(&k) => k,
            None => {
                let k = (self.offsets.len() - 1) as i32;
                self.data.extend_from_slice(s);
                self.offsets.push(self.data.len() as i32);
                let (offsets, data, hasher) = (&self.offsets, &self.data, &self.hasher);
                self.table
                    .insert_unique(hash, k, |&k| hasher.hash_one(Self::value(offsets, data, k)));
                k
            }
        };
        let k = key as usize;
        self.last = Some((key, self.offsets[k] as u32, self.offsets[k + 1] as u32));
        key
    }

    fn finish(&mut self) -> StringArray {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let data = std::mem::take(&mut self.data);
        self.table.clear();
        self.last = None;
        StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(data),
            None,
        )
        .expect("interned values are UTF-8 with valid offsets")
    }
}

/// The storage of one column while a batch is built.
#[derive(Debug)]
pub(crate) enum ColumnBuilder {
    UInt8(Vec<u8>, NullBufferBuilder),
    UInt16(Vec<u16>, NullBufferBuilder),
    UInt64(Vec<u64>, NullBufferBuilder),
    Timestamp(Vec<i64>, NullBufferBuilder),
    Ip(Vec<u8>, NullBufferBuilder),
    Dict(Vec<i32>, NullBufferBuilder, Box<Interner>),
    Text(Vec<i32>, Vec<u8>, NullBufferBuilder),
}

impl ColumnBuilder {
    pub(crate) fn new(kind: Kind, capacity: usize) -> ColumnBuilder {
        let nulls = NullBufferBuilder::new(capacity);
        match kind {
            Kind::UInt8 => ColumnBuilder::UInt8(Vec::with_capacity(capacity), nulls),
            Kind::UInt16 => ColumnBuilder::UInt16(Vec::with_capacity(capacity), nulls),
            Kind::UInt64 => ColumnBuilder::UInt64(Vec::with_capacity(capacity), nulls),
            Kind::Timestamp => ColumnBuilder::Timestamp(Vec::with_capacity(capacity), nulls),
            Kind::Ip => ColumnBuilder::Ip(Vec::with_capacity(capacity * 16), nulls),
            Kind::Dict => ColumnBuilder::Dict(Vec::with_capacity(capacity), nulls, Box::default()),
            Kind::Text => {
                let mut offsets = Vec::with_capacity(capacity + 1);
                offsets.push(0);
                ColumnBuilder::Text(offsets, Vec::with_capacity(capacity * 8), nulls)
            }
        }
    }

    /// Appends one parsed value. `line` is the record's bytes, for text ranges.
    #[inline]
    pub(crate) fn append(&mut self, value: Parsed, line: &[u8]) {
        macro_rules! primitive {
            ($values:expr, $nulls:expr, $t:ty) => {
                match value {
                    Parsed::Int(v) => {
                        $values.push(v as $t);
                        $nulls.append_non_null();
                    }
                    _ => {
                        $values.push(<$t>::default());
                        $nulls.append_null();
                    }
                }
            };
        }
        match self {
            ColumnBuilder::UInt8(values, nulls) => primitive!(values, nulls, u8),
            ColumnBuilder::UInt16(values, nulls) => primitive!(values, nulls, u16),
            ColumnBuilder::UInt64(values, nulls) => primitive!(values, nulls, u64),
            ColumnBuilder::Timestamp(values, nulls) => primitive!(values, nulls, i64),
            ColumnBuilder::Ip(values, nulls) => match value {
                Parsed::Ip(bytes) => {
                    values.extend_from_slice(&bytes);
                    nulls.append_non_null();
                }
                _ => {
                    values.extend_from_slice(&[0; 16]);
                    nulls.append_null();
                }
            },
            ColumnBuilder::Dict(keys, nulls, interner) => match value {
                Parsed::Text(start, end) => {
                    keys.push(interner.intern(&line[start as usize..end as usize]));
                    nulls.append_non_null();
                }
                _ => {
                    keys.push(0);
                    nulls.append_null();
                }
            },
            ColumnBuilder::Text(offsets, data, nulls) => {
                if let Parsed::Text(start, end) = value {
                    data.extend_from_slice(&line[start as usize..end as usize]);
                    nulls.append_non_null();
                } else {
                    nulls.append_null();
                }
                offsets.push(data.len() as i32);
            }
        }
    }

    /// Hands the buffered values to Arrow and starts over with `capacity` reserved.
    pub(crate) fn finish(&mut self, capacity: usize) -> ArrayRef {
        fn take<T>(values: &mut Vec<T>, capacity: usize) -> Vec<T> {
            std::mem::replace(values, Vec::with_capacity(capacity))
        }
        match self {
            ColumnBuilder::UInt8(values, nulls) => Arc::new(PrimitiveArray::<UInt8Type>::new(
                ScalarBuffer::from(take(values, capacity)),
                nulls.finish(),
            )),
            ColumnBuilder::UInt16(values, nulls) => Arc::new(PrimitiveArray::<UInt16Type>::new(
                ScalarBuffer::from(take(values, capacity)),
                nulls.finish(),
            )),
            ColumnBuilder::UInt64(values, nulls) => Arc::new(PrimitiveArray::<UInt64Type>::new(
                ScalarBuffer::from(take(values, capacity)),
                nulls.finish(),
            )),
            ColumnBuilder::Timestamp(values, nulls) => Arc::new(
                TimestampSecondArray::new(
                    ScalarBuffer::from(take(values, capacity)),
                    nulls.finish(),
                )
                .with_timezone("UTC"),
            ),
            ColumnBuilder::Ip(values, nulls) => Arc::new(
                FixedSizeBinaryArray::try_new(
                    16,
                    Buffer::from_vec(take(values, capacity * 16)),
                    nulls.finish(),
                )
                .expect("16 bytes per row"),
            ),
            ColumnBuilder::Dict(keys, nulls, interner) => {
                let keys = PrimitiveArray::<Int32Type>::new(
                    ScalarBuffer::from(take(keys, capacity)),
                    nulls.finish(),
                );
                Arc::new(
                    DictionaryArray::<Int32Type>::try_new(keys, Arc::new(interner.finish()))
                        .expect("keys index the interned values"),
                )
            }
            ColumnBuilder::Text(offsets, data, nulls) => {
                let mut fresh = Vec::with_capacity(capacity + 1);
                fresh.push(0);
                let offsets = std::mem::replace(offsets, fresh);
                let data = take(data, capacity * 8);
                Arc::new(
                    StringArray::try_new(
                        OffsetBuffer::new(ScalarBuffer::from(offsets)),
                        Buffer::from_vec(data),
                        nulls.finish(),
                    )
                    .expect("text values are checked UTF-8"),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    #[test]
    fn interner_reuses_keys_and_resets_per_batch() {
        let mut i = Interner::default();
        assert_eq!(i.intern(b"eni-a"), 0);
        assert_eq!(i.intern(b"eni-b"), 1);
        assert_eq!(i.intern(b"eni-a"), 0);
        assert_eq!(i.intern(b"eni-a"), 0);
        assert_eq!(i.intern(b""), 2);
        let values = i.finish();
        assert_eq!(
            values.iter().flatten().collect::<Vec<_>>(),
            ["eni-a", "eni-b", ""]
        );
        assert_eq!(i.intern(b"eni-b"), 0);
        assert_eq!(i.finish().len(), 1);
    }
}
