//! The extension codecs that carry vpcflow's table, scan and functions across a Ballista
//! cluster: client to scheduler (the logical plan), scheduler to executors (the physical plan).
//!
//! Each wraps Ballista's own codec. What is vpcflow's is written as [`MAGIC`] and a JSON
//! document; everything else goes to Ballista's codec untouched, so its bytes are
//! Ballista's own. JSON, not protobuf: the payloads are a few source names, a format string
//! and a catalogue, once per plan, and JSON keeps them readable in a captured plan.

use std::any::Any;
use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use serde::{Deserialize, Serialize};
use vpcflow_core::LogFormat;
use vpcflow_verdict::Catalogue;

use crate::table::{FlowSource, FlowTable, scan_exec, scan_parts};
use crate::verdict::{ShardUdf, VerdictUdaf};

/// What starts every payload of vpcflow's; Ballista's own payloads are protobuf, whose first
/// byte is a field tag and never `0x00`.
pub const MAGIC: &[u8] = b"\0vpcflow1";

/// vpcflow's part of a plan, on the wire.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Wire {
    /// A [`FlowTable`].
    Table {
        sources: Vec<FlowSource>,
        /// The log format, as AWS spells it (`${version} ${account-id} …`).
        format: String,
        /// Text columns as plain strings.
        plain: bool,
    },
    /// A scan made by [`scan_exec`].
    Scan {
        partitions: Vec<Vec<FlowSource>>,
        format: String,
        plain: bool,
        projection: Option<Vec<usize>>,
    },
    /// A [`VerdictUdaf`]: the catalogue (TOML) and window travel with the plan.
    Verdict {
        catalogue: String,
        since: Option<i64>,
        until: Option<i64>,
        /// `vpcflow_judged` ([`VerdictUdaf::judging`]); absent for `vpcflow_verdict`.
        #[serde(default)]
        judged: bool,
    },
    /// [`ShardUdf`].
    Shard,
}

impl Wire {
    fn write(&self, buf: &mut Vec<u8>) -> Result<()> {
        buf.extend_from_slice(MAGIC);
        serde_json::to_writer(buf, self)
            .map_err(|e| DataFusionError::Internal(format!("cannot encode {self:?}: {e}")))
    }

    /// The payload in `buf`, `None` when it is not vpcflow's.
    fn read(buf: &[u8]) -> Option<Result<Wire>> {
        let body = buf.strip_prefix(MAGIC)?;
        Some(serde_json::from_slice(body).map_err(|e| {
            DataFusionError::Internal(format!(
                "a vpcflow plan node does not decode ({e}); are the client, scheduler and \
                 executors the same vpcflow version?"
            ))
        }))
    }

    fn of_udaf(udaf: &AggregateUDF) -> Option<Wire> {
        let inner: &dyn Any = udaf.inner().as_ref();
        inner.downcast_ref::<VerdictUdaf>().map(|v| {
            let (catalogue, since, until) = v.key().clone();
            Wire::Verdict {
                catalogue,
                since,
                until,
                judged: v.judged(),
            }
        })
    }

    fn of_udf(udf: &ScalarUDF) -> Option<Wire> {
        let inner: &dyn Any = udf.inner().as_ref();
        inner.downcast_ref::<ShardUdf>().map(|_| Wire::Shard)
    }

    fn udaf(buf: &[u8]) -> Option<Result<Arc<AggregateUDF>>> {
        Some(Wire::read(buf)?.and_then(|w| match w {
            Wire::Verdict {
                catalogue,
                since,
                until,
                judged,
            } => {
                let catalogue = Catalogue::from_toml(&catalogue, "the plan's catalogue")
                    .map_err(|e| DataFusionError::Plan(e.to_string()))?;
                let udaf = VerdictUdaf::new(catalogue, since, until);
                Ok(Arc::new(AggregateUDF::from(if judged {
                    udaf.judging()
                } else {
                    udaf
                })))
            }
            other => Err(unexpected(&other, "an aggregate function")),
        }))
    }

    fn udf(buf: &[u8]) -> Option<Result<Arc<ScalarUDF>>> {
        Some(Wire::read(buf)?.and_then(|w| match w {
            Wire::Shard => Ok(Arc::new(ScalarUDF::from(ShardUdf::default()))),
            other => Err(unexpected(&other, "a scalar function")),
        }))
    }
}

fn unexpected(wire: &Wire, wanted: &str) -> DataFusionError {
    DataFusionError::Internal(format!("expected {wanted}, found {wire:?}"))
}

fn format(text: &str) -> Result<LogFormat> {
    LogFormat::parse(text).map_err(|e| DataFusionError::Plan(format!("the plan's format: {e}")))
}

/// The four function methods both codecs share: vpcflow's functions, else the inner codec's.
macro_rules! functions {
    () => {
        fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
            Wire::udf(buf).unwrap_or_else(|| self.inner.try_decode_udf(name, buf))
        }

        fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
            match Wire::of_udf(node) {
                Some(w) => w.write(buf),
                None => self.inner.try_encode_udf(node, buf),
            }
        }

        fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
            Wire::udaf(buf).unwrap_or_else(|| self.inner.try_decode_udaf(name, buf))
        }

        fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
            match Wire::of_udaf(node) {
                Some(w) => w.write(buf),
                None => self.inner.try_encode_udaf(node, buf),
            }
        }
    };
}

/// The logical codec: [`FlowTable`] and the two functions, then Ballista's.
#[derive(Debug, Default)]
pub struct LogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match Wire::read(buf) {
            Some(wire) => match wire? {
                Wire::Table {
                    sources,
                    format: f,
                    plain,
                } => {
                    let table = FlowTable::new(sources, format(&f)?);
                    Ok(Arc::new(if plain {
                        table.with_plain_strings()
                    } else {
                        table
                    }))
                }
                other => Err(unexpected(&other, "a table")),
            },
            None => self
                .inner
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let any: &dyn Any = node.as_ref();
        match any.downcast_ref::<FlowTable>() {
            Some(t) => Wire::Table {
                sources: t.sources().to_vec(),
                format: t.format().to_aws_string(),
                plain: t.plain_strings(),
            }
            .write(buf),
            None => self.inner.try_encode_table_provider(table_ref, node, buf),
        }
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    functions!();
}

/// The physical codec: the scan of [`scan_exec`] and the two functions, then Ballista's (its shuffle
/// writers and readers).
#[derive(Debug, Default)]
pub struct PhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match Wire::read(buf) {
            Some(wire) => match wire? {
                Wire::Scan {
                    partitions,
                    format: f,
                    plain,
                    projection,
                } => scan_exec(partitions, format(&f)?, plain, projection),
                other => Err(unexpected(&other, "a scan")),
            },
            None => self.inner.try_decode(buf, inputs, ctx, proto_converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        match scan_parts(node.as_ref()) {
            Some((partitions, source)) => Wire::Scan {
                partitions,
                format: source.format().to_aws_string(),
                plain: source.plain_strings(),
                projection: source.projection().map(<[usize]>::to_vec),
            }
            .write(buf),
            None => self.inner.try_encode(node, buf, proto_converter),
        }
    }

    functions!();
}
