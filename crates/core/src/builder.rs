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
use arrow_buffer::{BooleanBufferBuilder, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use std::hash::BuildHasher;

use crate::field::Kind;
use crate::render::Value;
use crate::value::{self, ValueError};

/// Why a field's token could not be appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadValue {
    /// Not a number / not an address.
    Invalid,
    /// A number too large for the column.
    Overflow,
    /// Text that is not UTF-8.
    Utf8,
}

/// Moves `pos` past the token that starts there; returns whether it was all ASCII.
#[inline(always)]
pub(crate) fn skip_token(line: &[u8], pos: &mut usize) -> bool {
    let mut high = 0u8;
    while *pos < line.len() {
        let b = line[*pos];
        if b == b' ' {
            break;
        }
        high |= b;
        *pos += 1;
    }
    high < 0x80
}

/// Eight bytes at `at` as a little-endian word.
#[inline(always)]
fn word_at(line: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&line[at..at + 8]);
    u64::from_le_bytes(w)
}

/// How many of a word's bytes, from the first, are ASCII digits, and their value (when fewer
/// than eight), branch-free: the digit count and value come from a few word operations
/// instead of a loop with a branch per digit.
#[inline(always)]
fn swar_digits(w: u64) -> (usize, u64) {
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A digit's byte ^ 0x30 is its value 0..=9; anything else is >= 10 or has bit 7 set.
    let v = w ^ 0x3030_3030_3030_3030;
    let non_digit = (v | ((v & LOW) + 0x7676_7676_7676_7676)) & HIGH;
    let len = (non_digit.trailing_zeros() / 8) as usize;
    if len == 0 || len == 8 {
        return (len, 0);
    }
    // Keep the digits, most significant first in the lowest byte; leading zeros fill in.
    let mut d = (v & ((1u64 << (8 * len)) - 1)) << (8 * (8 - len));
    d = (d.wrapping_mul(10) + (d >> 8)) & 0x00ff_00ff_00ff_00ff;
    d = (d.wrapping_mul(100) + (d >> 16)) & 0x0000_ffff_0000_ffff;
    d = (d.wrapping_mul(10000) + (d >> 32)) & 0xffff_ffff;
    (len, d)
}

/// The value of eight ASCII digits in a word.
#[inline(always)]
fn swar_eight(w: u64) -> u64 {
    let mut d = w ^ 0x3030_3030_3030_3030;
    d = (d.wrapping_mul(10) + (d >> 8)) & 0x00ff_00ff_00ff_00ff;
    d = (d.wrapping_mul(100) + (d >> 16)) & 0x0000_ffff_0000_ffff;
    (d.wrapping_mul(10000) + (d >> 32)) & 0xffff_ffff
}

const POW10: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/// Scans an unsigned integer token at `pos`, no larger than `max`.
#[inline(always)]
fn scan_uint(line: &[u8], pos: &mut usize, max: u64) -> Result<u64, BadValue> {
    let start = *pos;
    // Fast path: up to 15 digits followed by a space, read a word at a time.
    if start + 16 <= line.len() {
        let (len, value) = swar_digits(word_at(line, start));
        let (len, value) = match len {
            1..=7 => (len, value),
            8 => {
                let (more, low) = swar_digits(word_at(line, start + 8));
                if (1..8).contains(&more) {
                    (
                        8 + more,
                        swar_eight(word_at(line, start)) * POW10[more] + low,
                    )
                } else if more == 0 {
                    (8, swar_eight(word_at(line, start)))
                } else {
                    (0, 0)
                }
            }
            _ => (0, 0),
        };
        if len > 0 && line[start + len] == b' ' {
            if value > max {
                *pos = start + len;
                return Err(BadValue::Overflow);
            }
            *pos = start + len;
            return Ok(value);
        }
    }
    let mut value: u64 = 0;
    while *pos < line.len() {
        let digit = line[*pos].wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        value = value.wrapping_mul(10).wrapping_add(digit as u64);
        *pos += 1;
    }
    let digits = *pos - start;
    if *pos < line.len() && line[*pos] != b' ' {
        skip_token(line, pos);
        return Err(BadValue::Invalid);
    }
    if digits == 0 {
        return Err(BadValue::Invalid);
    }
    if digits > 19 {
        // Past 19 digits the fast loop may have wrapped: check it the slow way.
        return value::parse_uint(&line[start..*pos], max).map_err(|e| match e {
            ValueError::Invalid => BadValue::Invalid,
            ValueError::Overflow => BadValue::Overflow,
        });
    }
    if value > max {
        return Err(BadValue::Overflow);
    }
    Ok(value)
}

/// Scans an address token at `pos` into 16 bytes (IPv4 as IPv4-mapped IPv6).
#[inline(always)]
fn scan_ip(line: &[u8], pos: &mut usize) -> Result<[u8; 16], BadValue> {
    let start = *pos;
    // IPv4 fast path: four dotted octets, no leading zeros. The octets gather in a register
    // (bytes written to a stack array and read back as a word stall store forwarding).
    let mut addr: u32 = 0;
    let mut octet = 0usize;
    let mut value: u32 = 0;
    let mut digits = 0u32;
    let mut ok = true;
    while *pos < line.len() {
        let b = line[*pos];
        if b == b' ' {
            break;
        }
        let d = b.wrapping_sub(b'0');
        if d <= 9 {
            if digits > 0 && value == 0 {
                ok = false;
            }
            value = value * 10 + d as u32;
            digits += 1;
            if value > 255 {
                ok = false;
            }
        } else if b == b'.' && digits > 0 && octet < 3 {
            addr = (addr << 8) | value;
            octet += 1;
            value = 0;
            digits = 0;
        } else {
            ok = false;
        }
        if !ok {
            skip_token(line, pos);
            break;
        }
        *pos += 1;
    }
    if ok && octet == 3 && digits > 0 {
        let v4 = ((addr << 8) | value).to_be_bytes();
        let mut out = [0u8; 16];
        out[10] = 0xff;
        out[11] = 0xff;
        out[12..].copy_from_slice(&v4);
        return Ok(out);
    }
    value::parse_ip(&line[start..*pos]).map_err(|_| BadValue::Invalid)
}

/// Equality of two short byte strings without a call to `memcmp` (most interned values are
/// 2–21 bytes: action, log-status, account and ENI ids).
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        // Whole words, then the last (overlapping) word.
        let mut i = 0;
        while i + 8 <= n {
            if word_at(a, i) != word_at(b, i) {
                return false;
            }
            i += 8;
        }
        word_at(a, n - 8) == word_at(b, n - 8)
    } else {
        a.iter().zip(b).all(|(x, y)| x == y)
    }
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
            && same(&self.data[start as usize..end as usize], s)
        {
            return key;
        }
        let hash = self.hasher.hash_one(s);
        let (offsets, data) = (&self.offsets, &self.data);
        let key = match self
            .table
            .find(hash, |&k| same(Self::value(offsets, data, k), s))
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

/// Rows that are null in a column: rare in flow logs, so a list beats a bitmap written per row.
#[derive(Debug, Default)]
pub(crate) struct Nulls(Vec<u32>);

impl Nulls {
    #[inline]
    fn push(&mut self, row: usize) {
        self.0.push(row as u32);
    }

    fn truncate(&mut self, rows: usize) {
        while self.0.last().is_some_and(|&r| r as usize >= rows) {
            self.0.pop();
        }
    }

    fn finish(&mut self, rows: usize) -> Option<NullBuffer> {
        if self.0.is_empty() {
            return None;
        }
        let mut bits = BooleanBufferBuilder::new(rows);
        bits.append_n(rows, true);
        for &r in &self.0 {
            bits.set_bit(r as usize, false);
        }
        self.0.clear();
        Some(NullBuffer::new(bits.finish()))
    }
}

/// Values of a fixed-width column, written by row index into a buffer sized for a whole batch.
#[derive(Debug)]
pub(crate) struct Fixed<T> {
    values: Vec<T>,
    nulls: Nulls,
}

impl<T: Copy + Default> Fixed<T> {
    fn new(capacity: usize) -> Fixed<T> {
        Fixed {
            values: vec![T::default(); capacity],
            nulls: Nulls::default(),
        }
    }

    #[inline(always)]
    fn set(&mut self, row: usize, value: T) {
        if row < self.values.len() {
            self.values[row] = value;
        } else {
            self.values.push(value);
        }
    }

    fn null(&mut self, row: usize) {
        self.set(row, T::default());
        self.nulls.push(row);
    }

    /// Appends an unsigned integer token (or `-`, null), converted by `to`.
    #[inline(always)]
    pub(crate) fn append_uint(
        &mut self,
        row: usize,
        line: &[u8],
        pos: &mut usize,
        max: u64,
        to: impl Fn(u64) -> T,
    ) -> Result<(), BadValue> {
        if is_null(line, *pos) {
            *pos += 1;
            self.null(row);
        } else {
            self.set(row, to(scan_uint(line, pos, max)?));
        }
        Ok(())
    }

    fn finish(&mut self, rows: usize, capacity: usize) -> (ScalarBuffer<T>, Option<NullBuffer>)
    where
        T: arrow_buffer::ArrowNativeType,
    {
        let mut values = std::mem::replace(&mut self.values, vec![T::default(); capacity]);
        values.truncate(rows);
        (ScalarBuffer::from(values), self.nulls.finish(rows))
    }
}

impl Fixed<[u8; 16]> {
    /// Appends an address token (or `-`, null).
    #[inline(always)]
    pub(crate) fn append_ip(
        &mut self,
        row: usize,
        line: &[u8],
        pos: &mut usize,
    ) -> Result<(), BadValue> {
        if is_null(line, *pos) {
            *pos += 1;
            self.null(row);
        } else {
            self.set(row, scan_ip(line, pos)?);
        }
        Ok(())
    }
}

impl Fixed<i32> {
    /// Appends a token interned in `interner` (or `-`, null).
    #[inline(always)]
    pub(crate) fn append_dict(
        &mut self,
        interner: &mut Interner,
        row: usize,
        line: &[u8],
        pos: &mut usize,
    ) -> Result<(), BadValue> {
        if is_null(line, *pos) {
            *pos += 1;
            self.null(row);
            return Ok(());
        }
        self.set(row, interner.intern(text_token(line, pos)?));
        Ok(())
    }
}

/// An unsigned integer no larger than `max` from a typed value: an integer, an integral float,
/// or text holding one. Negative numbers are invalid, not wrapped.
fn uint_of(value: &Value<'_>, max: u64) -> Result<u64, BadValue> {
    let v: i128 = match value {
        Value::Int(v) => *v,
        Value::Float(f) if f.fract() == 0.0 && f.is_finite() => *f as i128,
        Value::Str(s) => {
            return crate::value::parse_uint(s.trim().as_bytes(), max).map_err(|e| match e {
                crate::value::ValueError::Overflow => BadValue::Overflow,
                crate::value::ValueError::Invalid => BadValue::Invalid,
            });
        }
        _ => return Err(BadValue::Invalid),
    };
    if v < 0 {
        Err(BadValue::Invalid)
    } else if v > i128::from(max) {
        Err(BadValue::Overflow)
    } else {
        Ok(v as u64)
    }
}

/// The text of a typed value for a string column (numbers, booleans and addresses as a text log
/// has them), written into `buf` when it is not text already.
fn text_of<'v>(value: &'v Value<'_>, buf: &'v mut [u8; 40]) -> Result<&'v [u8], BadValue> {
    use std::io::Write;
    match value {
        Value::Str(s) => Ok(s.as_bytes()),
        Value::Null | Value::Counts(..) => Err(BadValue::Invalid),
        // Numbers, booleans and addresses as their text would have them.
        other => {
            let mut cursor = std::io::Cursor::new(&mut buf[..]);
            write!(cursor, "{other}").map_err(|_| BadValue::Invalid)?;
            let n = cursor.position() as usize;
            Ok(&buf[..n])
        }
    }
}

/// Whether the token at `pos` is `-` (null).
#[inline(always)]
fn is_null(line: &[u8], pos: usize) -> bool {
    line[pos] == b'-' && (pos + 1 == line.len() || line[pos + 1] == b' ')
}

/// The storage of one column while a batch is built.
#[derive(Debug)]
pub(crate) enum ColumnBuilder {
    UInt8(Fixed<u8>),
    UInt16(Fixed<u16>),
    UInt64(Fixed<u64>),
    Timestamp(Fixed<i64>),
    Ip(Fixed<[u8; 16]>),
    Dict(Fixed<i32>, Box<Interner>),
    Text(Vec<i32>, Vec<u8>, Nulls),
}

/// The text token at `pos`, moving `pos` past it; it must be UTF-8 (checked only when it is
/// not ASCII, which the scan notices on the way).
#[inline(always)]
fn text_token<'l>(line: &'l [u8], pos: &mut usize) -> Result<&'l [u8], BadValue> {
    let start = *pos;
    if skip_token(line, pos) {
        Ok(&line[start..*pos])
    } else {
        checked_utf8(&line[start..*pos])
    }
}

/// `token`, checked to be UTF-8 unless it is known to be ASCII.
#[inline(always)]
fn utf8_token(token: &[u8], ascii: bool) -> Result<&[u8], BadValue> {
    if ascii || token.is_ascii() {
        Ok(token)
    } else {
        checked_utf8(token)
    }
}

#[cold]
fn checked_utf8(token: &[u8]) -> Result<&[u8], BadValue> {
    std::str::from_utf8(token)
        .map(str::as_bytes)
        .map_err(|_| BadValue::Utf8)
}

impl ColumnBuilder {
    pub(crate) fn new(kind: Kind, capacity: usize) -> ColumnBuilder {
        match kind {
            Kind::UInt8 => ColumnBuilder::UInt8(Fixed::new(capacity)),
            Kind::UInt16 => ColumnBuilder::UInt16(Fixed::new(capacity)),
            Kind::UInt64 => ColumnBuilder::UInt64(Fixed::new(capacity)),
            Kind::Timestamp => ColumnBuilder::Timestamp(Fixed::new(capacity)),
            Kind::Ip => ColumnBuilder::Ip(Fixed::new(capacity)),
            Kind::Dict => ColumnBuilder::Dict(Fixed::new(capacity), Box::default()),
            Kind::Text => {
                let mut offsets = Vec::with_capacity(capacity + 1);
                offsets.push(0);
                ColumnBuilder::Text(offsets, Vec::with_capacity(capacity * 8), Nulls::default())
            }
        }
    }

    /// Parses the token at `pos` (which is not a space) into row `row`, moving `pos` past it.
    /// On error `pos` is past the token and the row is left to be overwritten.
    #[inline(always)]
    pub(crate) fn parse_append(
        &mut self,
        row: usize,
        line: &[u8],
        pos: &mut usize,
    ) -> Result<(), BadValue> {
        match self {
            ColumnBuilder::UInt8(c) => c.append_uint(row, line, pos, u8::MAX as u64, |v| v as u8),
            ColumnBuilder::UInt16(c) => {
                c.append_uint(row, line, pos, u16::MAX as u64, |v| v as u16)
            }
            ColumnBuilder::UInt64(c) => c.append_uint(row, line, pos, u64::MAX, |v| v),
            ColumnBuilder::Timestamp(c) => {
                c.append_uint(row, line, pos, i64::MAX as u64, |v| v as i64)
            }
            ColumnBuilder::Ip(c) => c.append_ip(row, line, pos),
            ColumnBuilder::Dict(keys, interner) => keys.append_dict(interner, row, line, pos),
            ColumnBuilder::Text(offsets, data, nulls) => {
                if is_null(line, *pos) {
                    *pos += 1;
                    offsets.push(data.len() as i32);
                    nulls.push(row);
                    return Ok(());
                }
                data.extend_from_slice(text_token(line, pos)?);
                offsets.push(data.len() as i32);
                Ok(())
            }
        }
    }

    /// Parses the token `line[start..end]` (no spaces in it; a space or the line's end after
    /// it) into row `row`. `ascii`: the whole block is ASCII, so text needs no UTF-8 check.
    /// Integers and addresses parse as [`ColumnBuilder::parse_append`] does; ids and text are
    /// taken whole, with no scan for their end.
    #[inline(always)]
    pub(crate) fn parse_token(
        &mut self,
        row: usize,
        line: &[u8],
        start: usize,
        end: usize,
        ascii: bool,
    ) -> Result<(), BadValue> {
        match self {
            ColumnBuilder::Dict(keys, interner) => {
                let t = &line[start..end];
                if t == b"-" {
                    keys.null(row);
                } else {
                    keys.set(row, interner.intern(utf8_token(t, ascii)?));
                }
                Ok(())
            }
            ColumnBuilder::Text(offsets, data, nulls) => {
                let t = &line[start..end];
                if t == b"-" {
                    nulls.push(row);
                } else {
                    data.extend_from_slice(utf8_token(t, ascii)?);
                }
                offsets.push(data.len() as i32);
                Ok(())
            }
            _ => {
                let mut pos = start;
                self.parse_append(row, line, &mut pos)?;
                if pos == end {
                    Ok(())
                } else {
                    Err(BadValue::Invalid)
                }
            }
        }
    }

    /// Appends a typed value (from a columnar source such as Parquet) into row `row`, checked
    /// as the text would be: integers in range, addresses parsed, `-` and nulls null. On error
    /// the row is left to be overwritten.
    pub(crate) fn append_value(&mut self, row: usize, value: &Value<'_>) -> Result<(), BadValue> {
        if matches!(value, Value::Null) || matches!(value, Value::Str("-")) {
            self.append_null(row);
            return Ok(());
        }
        match self {
            ColumnBuilder::UInt8(c) => c.set(row, uint_of(value, u8::MAX as u64)? as u8),
            ColumnBuilder::UInt16(c) => c.set(row, uint_of(value, u16::MAX as u64)? as u16),
            ColumnBuilder::UInt64(c) => c.set(row, uint_of(value, u64::MAX)?),
            ColumnBuilder::Timestamp(c) => c.set(row, uint_of(value, i64::MAX as u64)? as i64),
            ColumnBuilder::Ip(c) => c.set(
                row,
                match value {
                    Value::Ip(ip) => crate::value::ip_to_bytes(*ip),
                    Value::Str(s) => {
                        crate::value::parse_ip(s.as_bytes()).map_err(|_| BadValue::Invalid)?
                    }
                    _ => return Err(BadValue::Invalid),
                },
            ),
            ColumnBuilder::Dict(keys, interner) => {
                let mut buf = [0u8; 40];
                keys.set(row, interner.intern(text_of(value, &mut buf)?));
            }
            ColumnBuilder::Text(offsets, data, _) => {
                let mut buf = [0u8; 40];
                data.extend_from_slice(text_of(value, &mut buf)?);
                offsets.push(data.len() as i32);
            }
        }
        Ok(())
    }

    /// Appends a null into row `row`.
    fn append_null(&mut self, row: usize) {
        match self {
            ColumnBuilder::UInt8(c) => c.null(row),
            ColumnBuilder::UInt16(c) => c.null(row),
            ColumnBuilder::UInt64(c) => c.null(row),
            ColumnBuilder::Timestamp(c) => c.null(row),
            ColumnBuilder::Ip(c) => c.null(row),
            ColumnBuilder::Dict(keys, _) => keys.null(row),
            ColumnBuilder::Text(offsets, data, nulls) => {
                offsets.push(data.len() as i32);
                nulls.push(row);
            }
        }
    }

    /// Forgets anything written past the first `rows` rows (a record that turned out
    /// malformed).
    pub(crate) fn truncate(&mut self, rows: usize) {
        match self {
            ColumnBuilder::UInt8(c) => c.nulls.truncate(rows),
            ColumnBuilder::UInt16(c) => c.nulls.truncate(rows),
            ColumnBuilder::UInt64(c) => c.nulls.truncate(rows),
            ColumnBuilder::Timestamp(c) => c.nulls.truncate(rows),
            ColumnBuilder::Ip(c) => c.nulls.truncate(rows),
            ColumnBuilder::Dict(keys, _) => keys.nulls.truncate(rows),
            ColumnBuilder::Text(offsets, data, nulls) => {
                offsets.truncate(rows + 1);
                data.truncate(offsets[rows] as usize);
                nulls.truncate(rows);
            }
        }
    }

    /// Hands the first `rows` values to Arrow and starts over with `capacity` reserved.
    pub(crate) fn finish(&mut self, rows: usize, capacity: usize) -> ArrayRef {
        match self {
            ColumnBuilder::UInt8(c) => {
                let (values, nulls) = c.finish(rows, capacity);
                Arc::new(PrimitiveArray::<UInt8Type>::new(values, nulls))
            }
            ColumnBuilder::UInt16(c) => {
                let (values, nulls) = c.finish(rows, capacity);
                Arc::new(PrimitiveArray::<UInt16Type>::new(values, nulls))
            }
            ColumnBuilder::UInt64(c) => {
                let (values, nulls) = c.finish(rows, capacity);
                Arc::new(PrimitiveArray::<UInt64Type>::new(values, nulls))
            }
            ColumnBuilder::Timestamp(c) => {
                let (values, nulls) = c.finish(rows, capacity);
                Arc::new(TimestampSecondArray::new(values, nulls).with_timezone("UTC"))
            }
            ColumnBuilder::Ip(c) => {
                let nulls = c.nulls.finish(rows);
                let mut values = std::mem::replace(&mut c.values, vec![[0; 16]; capacity]);
                values.truncate(rows);
                let bytes: Vec<u8> = values.into_iter().flatten().collect();
                Arc::new(
                    FixedSizeBinaryArray::try_new(16, Buffer::from_vec(bytes), nulls)
                        .expect("16 bytes per row"),
                )
            }
            ColumnBuilder::Dict(keys, interner) => {
                let (keys, nulls) = keys.finish(rows, capacity);
                let keys = PrimitiveArray::<Int32Type>::new(keys, nulls);
                Arc::new(
                    DictionaryArray::<Int32Type>::try_new(keys, Arc::new(interner.finish()))
                        .expect("keys index the interned values"),
                )
            }
            ColumnBuilder::Text(offsets, data, nulls) => {
                let nulls = nulls.finish(rows);
                let mut fresh = Vec::with_capacity(capacity + 1);
                fresh.push(0);
                let offsets = std::mem::replace(offsets, fresh);
                let data = std::mem::replace(data, Vec::with_capacity(capacity * 8));
                Arc::new(
                    StringArray::try_new(
                        OffsetBuffer::new(ScalarBuffer::from(offsets)),
                        Buffer::from_vec(data),
                        nulls,
                    )
                    .expect("text values are checked UTF-8"),
                )
            }
        }
    }
}

/// Where a record stopped: at field `.0`, for want of a token (`None`) or on a bad value.
pub(crate) type Stop = (usize, Option<BadValue>);

/// Moves `pos` past spaces; false at the end of the line.
#[inline(always)]
pub(crate) fn next_token(line: &[u8], pos: &mut usize) -> bool {
    while *pos < line.len() && line[*pos] == b' ' {
        *pos += 1;
    }
    *pos < line.len()
}

/// Parses one record's fields into `columns` (row `row`); returns the position after the last.
#[inline(always)]
pub(crate) fn record_fields(
    columns: &mut [ColumnBuilder],
    row: usize,
    line: &[u8],
) -> Result<usize, Stop> {
    let mut pos = 0;
    for (i, column) in columns.iter_mut().enumerate() {
        if !next_token(line, &mut pos) {
            return Err((i, None));
        }
        column
            .parse_append(row, line, &mut pos)
            .map_err(|bad| (i, Some(bad)))?;
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    /// Review finding: a boolean, float or address in a text column (an unknown Parquet column)
    /// made every row malformed; they are written as their text, as a text log has them.
    #[test]
    fn typed_values_in_a_text_column_are_their_text() {
        for (kind, value, text) in [
            (Kind::Text, Value::Bool(true), "true"),
            (Kind::Text, Value::Float(2.5), "2.5"),
            (
                Kind::Text,
                Value::Ip("10.0.0.1".parse().unwrap()),
                "10.0.0.1",
            ),
            (Kind::Dict, Value::Int(123456789012), "123456789012"),
        ] {
            let mut c = ColumnBuilder::new(kind, 4);
            c.append_value(0, &value).unwrap();
            let array = c.finish(1, 4);
            let r = crate::render::ColumnReader::new(&array);
            assert_eq!(r.value(0).to_string(), text, "{kind:?}");
        }
        let mut c = ColumnBuilder::new(Kind::UInt16, 4);
        assert_eq!(
            c.append_value(0, &Value::Int(70_000)),
            Err(BadValue::Overflow)
        );
        assert_eq!(c.append_value(0, &Value::Int(-1)), Err(BadValue::Invalid));
        assert_eq!(
            c.append_value(0, &Value::Float(2.5)),
            Err(BadValue::Invalid)
        );
    }

    #[test]
    fn word_at_a_time_integers_agree_with_the_loop() {
        let mut cases: Vec<String> = vec![
            "0".into(),
            "7".into(),
            "65535".into(),
            "65536".into(),
            "1795165200".into(),
            "12345678".into(),
            "123456789012345".into(),
            "1234567890123456".into(),
            "99999999999999999999".into(),
            "0012".into(),
            "12a4".into(),
            "-".into(),
            "1-2".into(),
            "١٢".into(),
        ];
        for n in [
            1u64,
            9,
            10,
            99,
            100,
            255,
            256,
            4096,
            99_999_999,
            100_000_000,
            u32::MAX as u64,
        ] {
            cases.push(n.to_string());
        }
        for case in cases {
            for max in [u8::MAX as u64, u16::MAX as u64, i64::MAX as u64, u64::MAX] {
                // Padded so the fast path runs, and bare so the loop does.
                let padded = format!("{case} 1 2 3 4 5 6 7 8 9 10 11 12");
                let (mut p1, mut p2) = (0, 0);
                let fast = scan_uint(padded.as_bytes(), &mut p1, max);
                let slow = scan_uint(case.as_bytes(), &mut p2, max);
                assert_eq!(fast, slow, "{case:?} max {max}");
                assert_eq!(p1, p2, "{case:?}: the position after the token");
            }
        }
    }

    #[test]
    fn short_string_equality_agrees_with_slices() {
        let words: [&[u8]; 9] = [
            b"",
            b"OK",
            b"ACCEPT",
            b"REJECT",
            b"12345678",
            b"123456789012",
            b"eni-0c1a2b3c4d5e6f708",
            b"eni-0c1a2b3c4d5e6f709",
            b"fni-0c1a2b3c4d5e6f708",
        ];
        for a in words {
            for b in words {
                assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

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
