use std::io::{self, Write};
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

/// Counts what `vpcflow parse --output summary` reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Records decoded.
    pub records: u64,
    /// Records with `action` ACCEPT.
    pub accept: u64,
    /// Records with `action` REJECT.
    pub reject: u64,
    /// Records with `log-status` NODATA.
    pub nodata: u64,
    /// Records with `log-status` SKIPDATA.
    pub skipdata: u64,
    /// The sum of the `bytes` field (traffic volume, not input size).
    pub flow_bytes: u64,
    /// Malformed lines skipped.
    pub malformed: u64,
    /// Input bytes read (decompressed).
    pub input_bytes: u64,
}

/// Counts, for each dictionary value of `column`, how many rows carry it.
fn count_dictionary(batch: &RecordBatch, column: &str, mut each: impl FnMut(&str, u64)) {
    let Some(array) = batch.column_by_name(column) else {
        return;
    };
    if !matches!(array.data_type(), DataType::Dictionary(k, v)
        if **k == DataType::Int32 && **v == DataType::Utf8)
    {
        return;
    }
    let dict = array.as_dictionary::<Int32Type>();
    let values = dict.values().as_string::<i32>();
    let mut counts = vec![0u64; values.len()];
    let keys = dict.keys();
    if keys.null_count() == 0 {
        for &k in keys.values() {
            counts[k as usize] += 1;
        }
    } else {
        for k in keys.iter().flatten() {
            counts[k as usize] += 1;
        }
    }
    for (i, n) in counts.into_iter().enumerate() {
        if n > 0 {
            each(values.value(i), n);
        }
    }
}

impl Summary {
    /// Adds one batch of decoded records.
    pub fn add_batch(&mut self, batch: &RecordBatch) {
        self.records += batch.num_rows() as u64;
        count_dictionary(batch, "action", |value, n| match value {
            "ACCEPT" => self.accept += n,
            "REJECT" => self.reject += n,
            _ => {}
        });
        count_dictionary(batch, "log-status", |value, n| match value {
            "NODATA" => self.nodata += n,
            "SKIPDATA" => self.skipdata += n,
            _ => {}
        });
        if let Some(bytes) = batch.column_by_name("bytes")
            && bytes.data_type() == &DataType::UInt64
        {
            let bytes = bytes.as_primitive::<UInt64Type>();
            self.flow_bytes = self
                .flow_bytes
                .wrapping_add(bytes.iter().flatten().fold(0u64, u64::wrapping_add));
        }
    }

    /// Adds another summary's counts.
    pub fn merge(&mut self, o: &Summary) {
        self.records += o.records;
        self.accept += o.accept;
        self.reject += o.reject;
        self.nodata += o.nodata;
        self.skipdata += o.skipdata;
        self.flow_bytes = self.flow_bytes.wrapping_add(o.flow_bytes);
        self.malformed += o.malformed;
        self.input_bytes += o.input_bytes;
    }

    /// Writes the summary as aligned `name value` lines.
    pub fn write_to(&self, out: &mut impl Write, elapsed: Duration) -> io::Result<()> {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let rows: [(&str, String); 10] = [
            ("records", self.records.to_string()),
            ("ACCEPT", self.accept.to_string()),
            ("REJECT", self.reject.to_string()),
            ("NODATA", self.nodata.to_string()),
            ("SKIPDATA", self.skipdata.to_string()),
            ("malformed", self.malformed.to_string()),
            ("flow bytes", self.flow_bytes.to_string()),
            ("bytes read", self.input_bytes.to_string()),
            ("elapsed", format!("{:.3} s", elapsed.as_secs_f64())),
            (
                "throughput",
                format!(
                    "{:.1} MB/s, {:.0} records/s",
                    self.input_bytes as f64 / secs / 1e6,
                    self.records as f64 / secs
                ),
            ),
        ];
        for (name, value) in rows {
            writeln!(out, "{name:<12}{value}")?;
        }
        out.flush()
    }
}
