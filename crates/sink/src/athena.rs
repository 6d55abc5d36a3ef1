//! `CREATE EXTERNAL TABLE` statements for Athena over what [`crate::PartitionedWriter`] writes,
//! with partition projection, so that the table needs no crawler and no `MSCK REPAIR`.
//!
//! Flow-log column names have hyphens (`account-id`), which Athena does not allow, so the flow
//! layout's table reads columns by position (`parquet.column.index.access`) under names with
//! underscores, and its partition keys (`p_account_id`, `p_region`, `p_date`) differ from the
//! data columns of the same meaning, which Athena also requires. OCSF names are valid as they
//! are and are read by name.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::partition::Layout;

/// The partition values present in a written tree: projected as enums when known, else
/// injected (every query then names them).
#[derive(Clone, Debug, Default)]
pub struct PartitionValues {
    /// Account ids.
    pub accounts: BTreeSet<String>,
    /// Regions.
    pub regions: BTreeSet<String>,
    /// The first day (`YYYY-MM-DD`), for the date projection's range.
    pub first_day: Option<String>,
}

/// What a table is called and where its files are.
#[derive(Clone, Debug)]
pub struct Table<'a> {
    /// The table name (letters, digits and `_`).
    pub name: &'a str,
    /// `s3://bucket/prefix/`: the directory `convert --out` was uploaded to.
    pub location: &'a str,
}

/// Why no statement can be written.
#[derive(Debug)]
pub enum DdlError {
    /// A table name Athena does not accept.
    BadName(String),
    /// A location that is not `s3://bucket/…`.
    BadLocation(String),
    /// A column type without an Athena equivalent.
    Type(String, DataType),
}

impl std::fmt::Display for DdlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DdlError::BadName(n) => write!(
                f,
                "--table {n:?}: Athena table names are lower-case letters, digits and '_'"
            ),
            DdlError::BadLocation(l) => {
                write!(
                    f,
                    "--location {l:?}: give the s3://bucket/prefix/ the files are under"
                )
            }
            DdlError::Type(n, t) => write!(f, "column {n} has type {t}, which Athena cannot read"),
        }
    }
}

impl std::error::Error for DdlError {}

/// The Athena (Hive DDL) type of an Arrow type as vpcflow writes it to Parquet.
fn athena_type(field: &Field) -> Result<String, DdlError> {
    let t = field.data_type();
    Ok(match t {
        // Unsigned 8- and 16-bit columns are INT32 in Parquet; Athena's tinyint and smallint are
        // signed and too small for 255 and 65535.
        DataType::UInt8 | DataType::UInt16 | DataType::Int32 => "int".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 => "smallint".into(),
        // Byte and packet counts are INT64 in Parquet (never above 2^63 in a flow log).
        DataType::UInt32 | DataType::UInt64 | DataType::Int64 => "bigint".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Utf8 | DataType::LargeUtf8 => "string".into(),
        DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8) => "string".into(),
        DataType::FixedSizeBinary(_) | DataType::Binary | DataType::LargeBinary => "binary".into(),
        // Parquet has no seconds unit: arrow writes `start` and `end` as plain INT64 seconds.
        DataType::Timestamp(TimeUnit::Second, _) => "bigint".into(),
        DataType::Timestamp(..) => "timestamp".into(),
        DataType::Struct(fields) => {
            let inner: Result<Vec<String>, DdlError> = fields
                .iter()
                .map(|f| Ok(format!("{}:{}", f.name(), athena_type(f)?)))
                .collect();
            format!("struct<{}>", inner?.join(","))
        }
        DataType::List(item) => format!("array<{}>", athena_type(item)?),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                format!("map<{},{}>", athena_type(&kv[0])?, athena_type(&kv[1])?)
            }
            _ => return Err(DdlError::Type(field.name().clone(), t.clone())),
        },
        _ => return Err(DdlError::Type(field.name().clone(), t.clone())),
    })
}

/// A flow-log field name as an Athena column name.
pub fn column_name(name: &str) -> String {
    name.replace('-', "_").to_ascii_lowercase()
}

fn projection(out: &mut String, key: &str, values: &BTreeSet<String>) {
    if values.is_empty() || values.iter().any(|v| v.contains(',')) {
        let _ = writeln!(out, "  'projection.{key}.type' = 'injected',");
    } else {
        let list: Vec<&str> = values.iter().map(String::as_str).collect();
        let _ = writeln!(out, "  'projection.{key}.type' = 'enum',");
        let _ = writeln!(out, "  'projection.{key}.values' = '{}',", list.join(","));
    }
}

/// The `CREATE EXTERNAL TABLE` statement for files of `schema` written in `layout`.
pub fn create_table(
    schema: &Schema,
    layout: Layout,
    table: &Table<'_>,
    values: &PartitionValues,
) -> Result<String, DdlError> {
    if table.name.is_empty()
        || !table
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(DdlError::BadName(table.name.to_owned()));
    }
    let location = table.location.trim_end_matches('/');
    if !location.starts_with("s3://") || location.len() <= 5 || location.contains(['\'', '\\']) {
        return Err(DdlError::BadLocation(table.location.to_owned()));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "CREATE EXTERNAL TABLE IF NOT EXISTS `{}` (",
        table.name
    );
    let columns: Result<Vec<String>, DdlError> = schema
        .fields()
        .iter()
        .map(|f| Ok(format!("  `{}` {}", column_name(f.name()), athena_type(f)?)))
        .collect();
    let _ = writeln!(out, "{}", columns?.join(",\n"));
    let (keys, template, day) = match layout {
        Layout::Flows => (
            ["p_account_id", "p_region", "p_date"],
            "account-id=${p_account_id}/region=${p_region}/date=${p_date}",
            ("yyyy-MM-dd", values.first_day.clone()),
        ),
        Layout::SecurityLake => (
            ["region", "accountid", "eventday"],
            "region=${region}/accountId=${accountid}/eventDay=${eventday}",
            (
                "yyyyMMdd",
                values.first_day.as_ref().map(|d| d.replace('-', "")),
            ),
        ),
    };
    let _ = writeln!(out, ")");
    let _ = writeln!(
        out,
        "PARTITIONED BY ({})",
        keys.iter()
            .map(|k| format!("`{k}` string"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'"
    );
    if layout == Layout::Flows {
        // Hyphenated Parquet names cannot be Athena names: read by position instead.
        let _ = writeln!(
            out,
            "WITH SERDEPROPERTIES ('parquet.column.index.access' = 'true')"
        );
    }
    let _ = writeln!(
        out,
        "STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'"
    );
    let _ = writeln!(
        out,
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'"
    );
    let _ = writeln!(out, "LOCATION '{location}/'");
    let _ = writeln!(out, "TBLPROPERTIES (");
    let _ = writeln!(out, "  'projection.enabled' = 'true',");
    let (regions, accounts) = match layout {
        Layout::Flows => (keys[1], keys[0]),
        Layout::SecurityLake => (keys[0], keys[1]),
    };
    projection(&mut out, accounts, &values.accounts);
    projection(&mut out, regions, &values.regions);
    let (format, first) = day;
    let _ = writeln!(out, "  'projection.{}.type' = 'date',", keys[2]);
    let _ = writeln!(out, "  'projection.{}.format' = '{format}',", keys[2]);
    let first = first.unwrap_or_else(|| match layout {
        Layout::Flows => "2015-01-01".into(),
        Layout::SecurityLake => "20150101".into(),
    });
    let _ = writeln!(out, "  'projection.{}.range' = '{first},NOW',", keys[2]);
    let _ = writeln!(out, "  'projection.{}.interval' = '1',", keys[2]);
    let _ = writeln!(out, "  'projection.{}.interval.unit' = 'DAYS',", keys[2]);
    let _ = writeln!(
        out,
        "  'storage.location.template' = '{location}/{template}'"
    );
    let _ = writeln!(out, ");");
    Ok(out)
}

impl PartitionValues {
    /// The partition values under `root`, a tree written in `layout`, and the Arrow schema its
    /// part files share (`None` without files). Files of two schemas are an error naming both:
    /// one Athena table reads one schema.
    pub fn scan(
        root: &Path,
        layout: Layout,
    ) -> Result<(PartitionValues, Option<SchemaRef>), String> {
        let keys = match layout {
            Layout::Flows => ["account-id", "region", "date"],
            Layout::SecurityLake => ["region", "accountId", "eventDay"],
        };
        let mut values = PartitionValues::default();
        let mut schema: Option<(SchemaRef, PathBuf)> = None;
        let mut days = BTreeSet::new();
        let mut stack = vec![(root.to_path_buf(), 0usize)];
        while let Some((dir, depth)) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for entry in entries {
                let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if depth < 3 {
                    let Some(value) = name.strip_prefix(&format!("{}=", keys[depth])) else {
                        continue;
                    };
                    if !path.is_dir() {
                        continue;
                    }
                    let value = value.to_owned();
                    match (layout, depth) {
                        (Layout::Flows, 0) | (Layout::SecurityLake, 1) => {
                            values.accounts.insert(value);
                        }
                        (Layout::Flows, 1) | (Layout::SecurityLake, 0) => {
                            values.regions.insert(value);
                        }
                        _ => {
                            days.insert(value);
                        }
                    }
                    stack.push((path, depth + 1));
                } else if name.starts_with("part-") && name.ends_with(".parquet") {
                    let file = std::fs::File::open(&path)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    let found =
                        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                            file,
                        )
                        .map_err(|e| format!("{}: {e}", path.display()))?
                        .schema()
                        .clone();
                    match &schema {
                        None => schema = Some((found, path)),
                        Some((first, at)) if first.fields() != found.fields() => {
                            return Err(format!(
                                "{} and {} hold records of different fields; an Athena table reads one schema, so convert each log format into its own directory",
                                at.display(),
                                path.display()
                            ));
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        values.first_day = days
            .iter()
            .filter_map(|d| match layout {
                Layout::Flows if d.len() == 10 && d.as_bytes()[4] == b'-' => Some(d.clone()),
                Layout::SecurityLake if d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) => {
                    Some(format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..]))
                }
                _ => None,
            })
            .min();
        Ok((values, schema.map(|(s, _)| s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flows() -> Schema {
        Schema::new(vec![
            Field::new("account-id", DataType::Utf8, true),
            Field::new("dstport", DataType::UInt16, true),
            Field::new("bytes", DataType::UInt64, true),
            Field::new(
                "start",
                DataType::Timestamp(TimeUnit::Second, Some("UTC".into())),
                true,
            ),
            Field::new("srcaddr", DataType::FixedSizeBinary(16), true),
        ])
    }

    #[test]
    fn flow_columns_get_athena_names_types_and_positional_access() {
        let table = Table {
            name: "flows",
            location: "s3://b/p/",
        };
        let values = PartitionValues {
            accounts: ["123456789012".to_owned()].into(),
            regions: BTreeSet::new(),
            first_day: Some("2026-11-20".into()),
        };
        let ddl = create_table(&flows(), Layout::Flows, &table, &values).unwrap();
        for line in [
            "  `account_id` string,",
            "  `dstport` int,",
            "  `bytes` bigint,",
            "  `start` bigint,",
            "  `srcaddr` binary\n)",
            "'parquet.column.index.access' = 'true'",
            "'projection.p_account_id.values' = '123456789012'",
            "'projection.p_region.type' = 'injected'",
            "'projection.p_date.range' = '2026-11-20,NOW'",
            "LOCATION 's3://b/p/'",
            "'storage.location.template' = 's3://b/p/account-id=${p_account_id}/region=${p_region}/date=${p_date}'",
        ] {
            assert!(ddl.contains(line), "{line} not in\n{ddl}");
        }
    }

    #[test]
    fn names_and_locations_athena_would_refuse_are_errors() {
        let values = PartitionValues::default();
        let bad = |name, location| {
            create_table(&flows(), Layout::Flows, &Table { name, location }, &values)
                .unwrap_err()
                .to_string()
        };
        assert!(bad("Flows-1", "s3://b/").contains("--table"));
        assert!(bad("flows", "/tmp/x").contains("--location"));
        assert!(bad("flows", "s3://b/it's").contains("--location"));
        let odd = Schema::new(vec![Field::new("x", DataType::Float16, true)]);
        let e = create_table(
            &odd,
            Layout::Flows,
            &Table {
                name: "t",
                location: "s3://b/",
            },
            &values,
        )
        .unwrap_err();
        assert!(e.to_string().contains("column x"), "{e}");
    }
}
