//! `flows`: flow-log files as a DataFusion table, decoded by vpcflow's own decoder.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{RecordBatch, new_null_array};
use arrow_schema::{Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use vpcflow_core::{Decoder, DecoderOptions, LogFormat};
use vpcflow_input::{Input, decode_source, open};

/// Flow-log files (text, gzip or Parquet, as `vpcflow parse` reads them) as one table with the
/// columns of one format. Each file is one partition of a scan.
///
/// Records of a file whose own header names another format are matched to the table's columns
/// by name: a column the file lacks is null, a field the table lacks is dropped.
#[derive(Debug, Clone)]
pub struct FlowTable {
    files: Vec<PathBuf>,
    format: LogFormat,
}

impl FlowTable {
    /// The table of `files`, with `format`'s columns.
    pub fn new(files: Vec<PathBuf>, format: LogFormat) -> FlowTable {
        FlowTable { files, format }
    }

    /// The files, in the order given.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The format whose columns the table has.
    pub fn format(&self) -> &LogFormat {
        &self.format
    }
}

#[async_trait]
impl TableProvider for FlowTable {
    fn schema(&self) -> SchemaRef {
        self.format.schema().clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(FlowScanExec::new(
            self.files.iter().map(|f| vec![f.clone()]).collect(),
            self.format.clone(),
            projection.cloned(),
        )?))
    }
}

/// The scan of a [`FlowTable`]: partition `i` decodes the files of `partitions[i]` in order.
#[derive(Debug)]
pub struct FlowScanExec {
    partitions: Vec<Vec<PathBuf>>,
    format: LogFormat,
    projection: Option<Vec<usize>>,
    /// The projected schema.
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl FlowScanExec {
    /// A scan of `partitions` with `format`'s columns, projected to `projection` (indices into
    /// the format's columns; `None`: all).
    pub fn new(
        partitions: Vec<Vec<PathBuf>>,
        format: LogFormat,
        projection: Option<Vec<usize>>,
    ) -> Result<FlowScanExec> {
        let schema = match &projection {
            Some(p) => Arc::new(format.schema().project(p)?),
            None => format.schema().clone(),
        };
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(partitions.len().max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(FlowScanExec {
            partitions,
            format,
            projection,
            schema,
            properties,
        })
    }
}

impl DisplayAs for FlowScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let files: usize = self.partitions.iter().map(Vec::len).sum();
        write!(
            f,
            "FlowScanExec: {files} files in {} partitions, {} columns",
            self.partitions.len(),
            self.schema.fields().len()
        )
    }
}

impl ExecutionPlan for FlowScanExec {
    fn name(&self) -> &str {
        "FlowScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "FlowScanExec has no children".into(),
            ))
        }
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let files = self.partitions.get(partition).cloned().unwrap_or_default();
        let mut builder = RecordBatchReceiverStreamBuilder::new(self.schema.clone(), 2);
        let tx = builder.tx();
        let (format, projection, schema) = (
            self.format.clone(),
            self.projection.clone(),
            self.schema.clone(),
        );
        builder.spawn_blocking(move || {
            let columns = projection.as_ref().map(|p| {
                p.iter()
                    .filter_map(|&i| format.columns().get(i).map(|c| c.name.to_string()))
                    .collect()
            });
            let mut decoder = Decoder::new(DecoderOptions {
                format: Some(format.clone()),
                columns,
                ..DecoderOptions::default()
            });
            for file in files {
                let input = Input::Path(file);
                let name = input.name();
                let opened = open(&input)
                    .map_err(|e| DataFusionError::Execution(format!("cannot open {name}: {e}")))?;
                let mut send = |batch: RecordBatch| -> std::io::Result<()> {
                    let batch = conform(&batch, format.schema(), projection.as_deref(), &schema)
                        .map_err(std::io::Error::other)?;
                    tx.blocking_send(Ok(batch))
                        .map_err(|_| std::io::Error::other("the query stopped reading"))
                };
                let report = decode_source(opened, &name, &mut decoder, &mut send)
                    .map_err(|e| DataFusionError::Execution(e.to_string()))?;
                report_source(&report);
            }
            Ok(())
        });
        Ok(builder.build())
    }
}

/// Says what a source's decoding met that a user must hear of: malformed lines (with file and
/// line) and a source that broke midway.
fn report_source(report: &vpcflow_input::SourceReport) {
    for m in &report.malformed_lines {
        tracing::warn!("{m}");
    }
    if report.malformed > report.malformed_lines.len() as u64 {
        tracing::warn!(
            "{}: {} malformed lines in all",
            report.name,
            report.malformed
        );
    }
    if let Some(e) = &report.error {
        tracing::warn!("{e}");
    }
}

/// `batch` with the columns of `table` (matched by name; a missing one is null), then
/// projected to `projection`, as `schema`.
fn conform(
    batch: &RecordBatch,
    table: &Schema,
    projection: Option<&[usize]>,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let all: Vec<usize> = (0..table.fields().len()).collect();
    let columns = projection
        .unwrap_or(&all)
        .iter()
        .map(|&i| {
            let field = table.field(i);
            match batch.column_by_name(field.name()) {
                Some(c) if c.data_type() == field.data_type() => c.clone(),
                _ => new_null_array(field.data_type(), batch.num_rows()),
            }
        })
        .collect();
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &options,
    )?)
}
