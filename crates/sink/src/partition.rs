//! Hive-partitioned Parquet output: `DIR/account-id=…/region=…/date=…/part-….parquet` for flow
//! records, or OCSF events in Security Lake's custom-source layout,
//! `DIR/region=…/accountId=…/eventDay=YYYYMMDD/part-….parquet`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampSecondType};
use arrow_array::{Array, RecordBatch, UInt32Array};
use std::sync::Arc;

use arrow_schema::{DataType, Schema};

use crate::{BatchWriter, ParquetOptions, ParquetWriter};

/// The partition of one record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Partition {
    /// `account-id` (or `unknown`).
    pub account: String,
    /// `region` (or the region its S3 key names, or `unknown`).
    pub region: String,
    /// The UTC date of `start` (`YYYY-MM-DD`, or `unknown`).
    pub date: String,
}

/// Longest path component [`path_safe`] makes (file systems allow 255 bytes; the rest of the
/// name, `account-id=` and `part-….parquet`, must fit too).
pub const MAX_COMPONENT: usize = 96;

/// Makes a value one safe path component, one to one: letters, digits, `-`, `_` and `.` stay,
/// every other byte becomes `%XX` (as Hive, Spark, pyarrow and DuckDB escape partition values),
/// and `.`/`..` become `%2E`/`%2E%2E`. An empty value is `unknown`, as a missing one is. A value
/// longer than `MAX_COMPONENT` (96) bytes once escaped keeps its first bytes and ends in `~` and the
/// XXH3-64 of the whole value (`~` is always escaped, so no plain value looks like that).
/// Values come from untrusted input: no value can leave its directory or name another's.
pub fn path_safe(value: &str) -> String {
    if value.is_empty() {
        return "unknown".to_owned();
    }
    let dots = value.bytes().all(|b| b == b'.');
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if !dots && (b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > MAX_COMPONENT {
        let mut end = MAX_COMPONENT - 17;
        // Never cut an escape in two.
        while out.as_bytes()[end - 1] == b'%' || out.as_bytes()[end - 2] == b'%' {
            end -= 1;
        }
        out.truncate(end);
        out.push_str(&format!(
            "~{:016x}",
            xxhash_rust::xxh3::xxh3_64(value.as_bytes())
        ));
    }
    out
}

/// What a partitioned tree holds, and how its directories are named.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// Flow-log records as decoded, under `account-id=…/region=…/date=YYYY-MM-DD/`.
    #[default]
    Flows,
    /// OCSF 1.1.0 Network Activity events ([`crate::ocsf_batch`]) under
    /// `region=…/accountId=…/eventDay=YYYYMMDD/`: the layout Amazon Security Lake requires of a
    /// custom source (one OCSF class per source).
    SecurityLake,
}

impl Partition {
    /// The directory of this partition under `root`, in `layout`.
    pub fn dir(&self, root: &Path, layout: Layout) -> PathBuf {
        match layout {
            Layout::Flows => root
                .join(format!("account-id={}", path_safe(&self.account)))
                .join(format!("region={}", path_safe(&self.region)))
                .join(format!("date={}", path_safe(&self.date))),
            Layout::SecurityLake => root
                .join(format!("region={}", path_safe(&self.region)))
                .join(format!("accountId={}", path_safe(&self.account)))
                .join(format!(
                    "eventDay={}",
                    path_safe(&self.date.replace('-', ""))
                )),
        }
    }
}

fn date_of(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Writes one source's batches into per-partition Parquet files named `part-<stem>.parquet`.
/// Files appear (renamed into place) only when [`BatchWriter::finish`] is called.
#[derive(Debug)]
pub struct PartitionedWriter {
    root: PathBuf,
    stem: String,
    default_region: String,
    opts: ParquetOptions,
    layout: Layout,
    /// One writer per partition directory (keyed by the directory, so that two partitions can
    /// never write one file).
    writers: BTreeMap<PathBuf, ParquetWriter>,
    /// Files written, by [`BatchWriter::finish`].
    pub files: Vec<PathBuf>,
    /// Rows written.
    pub rows: u64,
}

impl PartitionedWriter {
    /// A writer under `root` for one source; `stem` names its files (made path-safe), and
    /// `default_region` is used for records without a `region` field.
    pub fn new(
        root: &Path,
        stem: &str,
        default_region: Option<&str>,
        opts: ParquetOptions,
    ) -> PartitionedWriter {
        PartitionedWriter {
            root: root.to_owned(),
            stem: path_safe(stem),
            default_region: default_region.unwrap_or("unknown").to_owned(),
            opts,
            layout: Layout::Flows,
            writers: BTreeMap::new(),
            files: Vec::new(),
            rows: 0,
        }
    }

    /// Writes in `layout` instead of [`Layout::Flows`].
    pub fn with_layout(mut self, layout: Layout) -> PartitionedWriter {
        self.layout = layout;
        self
    }

    fn keys(&self, batch: &RecordBatch) -> Vec<Partition> {
        let dict_value = |name: &str, row: usize| -> Option<String> {
            let c = batch.column_by_name(name)?;
            if c.data_type() != &DataType::Utf8 || c.is_null(row) {
                return None;
            }
            Some(c.as_string::<i32>().value(row).to_owned())
        };
        let start = batch
            .column_by_name("start")
            .filter(|c| matches!(c.data_type(), DataType::Timestamp(..)))
            .map(|c| c.as_primitive::<TimestampSecondType>());
        (0..batch.num_rows())
            .map(|row| Partition {
                account: dict_value("account-id", row).unwrap_or_else(|| "unknown".into()),
                region: dict_value("region", row).unwrap_or_else(|| self.default_region.clone()),
                date: start
                    .filter(|s| s.is_valid(row))
                    .map_or_else(|| "unknown".into(), |s| date_of(s.value(row))),
            })
            .collect()
    }
}

/// The partition columns as plain strings: readers add the Hive partition values as string
/// columns of the same names, and a dictionary column of that name would not merge with them.
fn partition_columns_as_strings(batch: &RecordBatch) -> io::Result<RecordBatch> {
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if matches!(field.name().as_str(), "account-id" | "region")
            && let DataType::Dictionary(key, value) = field.data_type()
            && **key == DataType::Int32
            && **value == DataType::Utf8
        {
            let dict = column.as_dictionary::<Int32Type>();
            let strings = arrow_select::take::take(dict.values(), dict.keys(), None)
                .map_err(io::Error::other)?;
            fields.push(Arc::new(
                field.as_ref().clone().with_data_type(DataType::Utf8),
            ));
            columns.push(strings);
        } else {
            fields.push(field.clone());
            columns.push(column.clone());
        }
    }
    RecordBatch::try_new(
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
        columns,
    )
    .map_err(io::Error::other)
}

impl BatchWriter for PartitionedWriter {
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        let batch = &partition_columns_as_strings(batch)?;
        let keys = self.keys(batch);
        let mut groups: BTreeMap<&Partition, Vec<u32>> = BTreeMap::new();
        for (row, key) in keys.iter().enumerate() {
            groups.entry(key).or_default().push(row as u32);
        }
        for (key, rows) in groups {
            let part = if rows.len() == batch.num_rows() {
                batch.clone()
            } else {
                let indices = UInt32Array::from(rows);
                arrow_select::take::take_record_batch(batch, &indices).map_err(io::Error::other)?
            };
            let part = match self.layout {
                Layout::Flows => part,
                Layout::SecurityLake => crate::ocsf::ocsf_batch(&part)?,
            };
            let dir = key.dir(&self.root, self.layout);
            let writer = match self.writers.entry(dir) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    std::fs::create_dir_all(e.key())?;
                    let path = e.key().join(format!("part-{}.parquet", self.stem));
                    e.insert(ParquetWriter::new(&path, self.opts.clone()))
                }
            };
            writer.write(&part)?;
            self.rows += part.num_rows() as u64;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        for (dir, mut writer) in std::mem::take(&mut self.writers) {
            writer.finish()?;
            self.files
                .push(dir.join(format!("part-{}.parquet", self.stem)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_cannot_leave_the_output_directory() {
        assert_eq!(path_safe("123456789012"), "123456789012");
        assert_eq!(path_safe("ap-northeast-1"), "ap-northeast-1");
        assert_eq!(path_safe("../../etc"), "..%2F..%2Fetc");
        assert_eq!(path_safe(".."), "%2E%2E");
        assert_eq!(path_safe("."), "%2E");
        assert_eq!(path_safe(""), "unknown");
        assert_eq!(path_safe("a/b\\c d%"), "a%2Fb%5Cc%20d%25");
        assert_eq!(path_safe("é"), "%C3%A9");
        let p = Partition {
            account: "../x".into(),
            region: "..".into(),
            date: "2026-11-20".into(),
        };
        let dir = p.dir(Path::new("/out"), Layout::Flows);
        assert_eq!(
            dir,
            Path::new("/out/account-id=..%2Fx/region=%2E%2E/date=2026-11-20")
        );
        assert_eq!(
            p.dir(Path::new("/out"), Layout::SecurityLake),
            Path::new("/out/region=%2E%2E/accountId=..%2Fx/eventDay=20261120")
        );
    }

    /// Regression (faults #6): `a/b` and `a_b` both became `a_b`, and two writers raced for
    /// one file.
    #[test]
    fn values_that_cleaned_up_alike_map_to_different_components() {
        let values = ["a/b", "a_b", "a b", "a%2Fb", "a.b", "A_b", ".", "%2E"];
        let mut seen = std::collections::HashSet::new();
        for v in values {
            assert!(seen.insert(path_safe(v)), "{v} collides");
        }
    }

    /// Regression (faults #7): a 300-character account-id made a name too long to create.
    #[test]
    fn long_values_are_bounded_and_stay_distinct() {
        let a = "1".repeat(300);
        let b = format!("{}2", "1".repeat(299));
        let (pa, pb) = (path_safe(&a), path_safe(&b));
        assert!(
            pa.len() <= MAX_COMPONENT && pb.len() <= MAX_COMPONENT,
            "{pa}"
        );
        assert_ne!(pa, pb);
        assert!(pa.starts_with("1111") && pa.contains('~'), "{pa}");
        // An escape is never cut in two.
        let slashes = path_safe(&"/".repeat(200));
        assert!(slashes.len() <= MAX_COMPONENT);
        let head = slashes.split('~').next().unwrap();
        assert_eq!(head.len() % 3, 0, "{slashes}");
        assert!(head.chars().filter(|&c| c == '%').count() * 3 == head.len());
    }
}
