//! `flows`: flow-log files and S3 objects as a DataFusion table, decoded by vpcflow's own
//! decoder.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{RecordBatch, new_null_array};
use arrow_schema::{Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileGroup, FileOpenFuture, FileOpener, FileScanConfig, FileScanConfigBuilder, FileSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::object_store::ObjectStore;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::{DisplayFormatType, ExecutionPlan};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use vpcflow_aws::{AwsOptions, KeyInfo, Progress, S3Object, SinkFactory};
use vpcflow_core::{Decoder, DecoderOptions, LogFormat};
use vpcflow_input::{
    FileRange, Input, SourceReport, SourceSink, decode_range, decode_source, open, plan_ranges,
};

/// Where records of a [`FlowTable`] come from; one source is one partition of a scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlowSource {
    /// A local file, read whole (text, gzip, Parquet or a JSON envelope).
    File(PathBuf),
    /// The bytes `start..end` of an uncompressed text file, at line starts.
    Range {
        /// The file.
        path: PathBuf,
        /// Its first byte.
        start: u64,
        /// One past its last byte.
        end: u64,
    },
    /// An S3 object, read with the credentials and endpoint [`set_s3_access`] gave the process
    /// that runs the scan.
    S3(S3Object),
}

impl FlowSource {
    /// How reports name it.
    pub fn name(&self) -> String {
        match self {
            FlowSource::File(p) => p.display().to_string(),
            FlowSource::Range { path, start, end } => {
                format!("{} (bytes {start}..{end})", path.display())
            }
            FlowSource::S3(o) => format!("s3://{}", o.id()),
        }
    }
}

/// How a process reads S3: the options of the standard credential chain, and a client made
/// on first use.
#[derive(Debug)]
struct S3Access {
    options: AwsOptions,
    client: tokio::sync::OnceCell<vpcflow_aws::s3::Client>,
}

impl S3Access {
    /// Access with `options` (region, profile, endpoint, limits); credentials come from the
    /// standard chain.
    fn new(options: AwsOptions) -> S3Access {
        S3Access {
            options,
            client: tokio::sync::OnceCell::new(),
        }
    }

    async fn client(&self) -> &vpcflow_aws::s3::Client {
        self.client
            .get_or_init(|| async { self.options.s3(&self.options.load().await) })
            .await
    }
}

/// Flow-log files and S3 objects (text, gzip, Parquet or JSON envelopes, as `vpcflow parse`
/// reads them) as one table with the columns of one format.
///
/// A scan has a partition per source: per S3 object, per small file, and per byte range of a
/// large uncompressed file. A scan's filters on `start` and `end` leave out S3 objects whose
/// keys say they hold no record of the window, as `--since`/`--until` do.
///
/// Records of a file whose own header names another format are matched to the table's columns
/// by name: a column the file lacks is null, a field the table lacks is dropped.
#[derive(Debug, Clone)]
pub struct FlowTable {
    sources: Vec<FlowSource>,
    format: LogFormat,
    plain: bool,
}

impl FlowTable {
    /// The table of `sources`, with `format`'s columns.
    pub fn new(sources: Vec<FlowSource>, format: LogFormat) -> FlowTable {
        FlowTable {
            sources,
            format,
            plain: false,
        }
    }

    /// The same table with its dictionary-encoded text columns (`action`, `interface-id`, …)
    /// as plain strings, for SQL on a cluster: Ballista's shuffle hands a stage the values of a
    /// dictionary group key as plain strings while the plan still says dictionary, and the
    /// next stage fails. The verdict keeps the dictionaries (its aggregate reads them, and
    /// they never cross a shuffle: only the shard key and the binary states do).
    pub fn with_plain_strings(mut self) -> FlowTable {
        self.plain = true;
        self
    }

    /// Whether text columns are plain strings ([`FlowTable::with_plain_strings`]).
    pub fn plain_strings(&self) -> bool {
        self.plain
    }

    /// The table of local `files`.
    pub fn of_files(files: Vec<PathBuf>, format: LogFormat) -> FlowTable {
        FlowTable::new(files.into_iter().map(FlowSource::File).collect(), format)
    }

    /// The sources, in the order given.
    pub fn sources(&self) -> &[FlowSource] {
        &self.sources
    }

    /// The partitions of a scan for `workers`: large text files in ranges, S3 objects whose
    /// keys lie outside `[since, until]` left out.
    fn partitions(
        &self,
        workers: usize,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Vec<FlowSource> {
        let mut out = Vec::new();
        for source in &self.sources {
            match source {
                FlowSource::File(path) => {
                    match plan_ranges(path, workers, DecoderOptions::default().max_line_len) {
                        Ok(Some(ranges)) => {
                            out.extend(ranges.into_iter().map(|r| FlowSource::Range {
                                path: path.clone(),
                                start: r.start,
                                end: r.end,
                            }))
                        }
                        // Unreadable here: the scan says why when it opens it.
                        _ => out.push(source.clone()),
                    }
                }
                FlowSource::S3(o) if !KeyInfo::parse(&o.key).may_overlap(since, until) => {}
                _ => out.push(source.clone()),
            }
        }
        out
    }

    /// The format whose columns the table has.
    pub fn format(&self) -> &LogFormat {
        &self.format
    }
}

#[async_trait]
impl TableProvider for FlowTable {
    fn schema(&self) -> SchemaRef {
        columns(&self.format, self.plain)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Every filter is kept above the scan (`Inexact`): the scan uses those on `start` and
    /// `end` to leave out objects, never to drop records.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let (since, until) = window(filters);
        let workers = state.config().target_partitions();
        scan_exec(
            self.partitions(workers, since, until)
                .into_iter()
                .map(|s| vec![s])
                .collect(),
            self.format.clone(),
            self.plain,
            projection.cloned(),
        )
    }
}

/// The window (Unix seconds) that conjunctive filters on `start` and `end` bound records to:
/// `start`/`end` `>=` or `>` a time gives its lower end, `<=` or `<` its upper end.
fn window(filters: &[Expr]) -> (Option<i64>, Option<i64>) {
    let (mut since, mut until): (Option<i64>, Option<i64>) = (None, None);
    let mut bound = |op: Operator, t: i64| match op {
        Operator::Gt | Operator::GtEq => since = Some(since.map_or(t, |s| s.max(t))),
        Operator::Lt | Operator::LtEq => until = Some(until.map_or(t, |u| u.min(t))),
        _ => {}
    };
    let mut stack: Vec<&Expr> = filters.iter().collect();
    while let Some(e) = stack.pop() {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
            continue;
        };
        if *op == Operator::And {
            stack.push(left);
            stack.push(right);
            continue;
        }
        match (
            time_column(left),
            seconds(right),
            time_column(right),
            seconds(left),
        ) {
            (true, Some(t), _, _) => bound(*op, t),
            (_, _, true, Some(t)) => op.swap().into_iter().for_each(|op| bound(op, t)),
            _ => {}
        }
    }
    (since, until)
}

/// Whether `e` is `start` or `end`, cast or not.
fn time_column(e: &Expr) -> bool {
    match e {
        Expr::Column(c) => c.name == "start" || c.name == "end",
        Expr::Cast(c) => time_column(&c.expr),
        Expr::TryCast(c) => time_column(&c.expr),
        _ => false,
    }
}

/// A literal time or number as Unix seconds (rounded outwards is not needed: objects are
/// pruned with a margin of minutes).
fn seconds(e: &Expr) -> Option<i64> {
    let Expr::Literal(v, _) = e else { return None };
    match v {
        ScalarValue::TimestampSecond(Some(t), _) | ScalarValue::Int64(Some(t)) => Some(*t),
        ScalarValue::TimestampMillisecond(Some(t), _) => Some(t.div_euclid(1_000)),
        ScalarValue::TimestampMicrosecond(Some(t), _) => Some(t.div_euclid(1_000_000)),
        ScalarValue::TimestampNanosecond(Some(t), _) => Some(t.div_euclid(1_000_000_000)),
        _ => None,
    }
}

/// The scan of a [`FlowTable`]: DataFusion's `DataSourceExec` over a `FileScanConfig` whose
/// file groups are the partitions, each file one [`FlowSource`] (carried as the file's
/// extension). Being a file scan is what lets Ballista hand each task only the partitions it
/// runs; its scheduler restricts no other kind of leaf.
pub fn scan_exec(
    partitions: Vec<Vec<FlowSource>>,
    format: LogFormat,
    plain: bool,
    projection: Option<Vec<usize>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let source = Arc::new(FlowFileSource::new(format, plain, projection)?);
    let mut groups: Vec<FileGroup> = partitions
        .into_iter()
        .map(|sources| {
            FileGroup::new(
                sources
                    .into_iter()
                    .map(|s| {
                        let size = match &s {
                            FlowSource::File(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
                            FlowSource::Range { start, end, .. } => end - start,
                            FlowSource::S3(o) => o.size,
                        };
                        PartitionedFile::new(s.name(), size).with_extension(s)
                    })
                    .collect(),
            )
        })
        .collect();
    if groups.is_empty() {
        // Every source pruned: one empty partition, since a plan of none fails Ballista's
        // distribution check (a single-partition aggregate over zero partitions).
        groups.push(FileGroup::new(Vec::new()));
    }
    let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), source)
        .with_file_groups(groups)
        .build();
    Ok(DataSourceExec::from_data_source(config))
}

/// The sources of each partition of a scan made by [`scan_exec`], and its file source; `None`
/// for any other plan.
pub fn scan_parts(plan: &dyn ExecutionPlan) -> Option<(Vec<Vec<FlowSource>>, &FlowFileSource)> {
    let exec = plan.downcast_ref::<DataSourceExec>()?;
    let any: &dyn std::any::Any = exec.data_source().as_ref();
    let config = any.downcast_ref::<FileScanConfig>()?;
    let source = config.file_source().downcast_ref::<FlowFileSource>()?;
    let groups = config
        .file_groups
        .iter()
        .map(|g| {
            g.files()
                .iter()
                .filter_map(|f| f.extension::<FlowSource>().cloned())
                .collect()
        })
        .collect();
    Some((groups, source))
}

/// The records of flow-log sources, decoded by vpcflow's decoder, as a DataFusion file source.
#[derive(Debug, Clone)]
pub struct FlowFileSource {
    conformer: Arc<Conformer>,
    /// The projected columns: what the scan yields.
    table: TableSchema,
    metrics: ExecutionPlanMetricsSet,
}

impl FlowFileSource {
    /// Sources of `format` (text columns as plain strings if `plain`), projected to
    /// `projection` (indices into its columns; `None`: all).
    pub fn new(
        format: LogFormat,
        plain: bool,
        projection: Option<Vec<usize>>,
    ) -> Result<FlowFileSource> {
        let all = columns(&format, plain);
        let schema = match &projection {
            Some(p) => Arc::new(all.project(p)?),
            None => all.clone(),
        };
        Ok(FlowFileSource {
            table: TableSchema::from(schema.clone()),
            conformer: Arc::new(Conformer {
                format,
                plain,
                all,
                projection,
                schema,
            }),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The format whose columns the scan decodes.
    pub fn format(&self) -> &LogFormat {
        &self.conformer.format
    }

    /// The columns decoded (indices into the format's), `None` for all.
    pub fn projection(&self) -> Option<&[usize]> {
        self.conformer.projection.as_deref()
    }

    /// Whether text columns are plain strings ([`FlowTable::with_plain_strings`]).
    pub fn plain_strings(&self) -> bool {
        self.conformer.plain
    }
}

/// The columns of `format`, dictionary-encoded text as plain strings if `plain`.
fn columns(format: &LogFormat, plain: bool) -> SchemaRef {
    if !plain {
        return format.schema().clone();
    }
    let fields: Vec<arrow_schema::Field> = format
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            arrow_schema::DataType::Dictionary(_, value) => {
                f.as_ref().clone().with_data_type(value.as_ref().clone())
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

impl FileSource for FlowFileSource {
    fn create_file_opener(
        &self,
        _object_store: Arc<dyn ObjectStore>,
        _config: &FileScanConfig,
        _partition: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        Ok(Arc::new(FlowOpener {
            conformer: self.conformer.clone(),
        }))
    }

    fn table_schema(&self) -> &TableSchema {
        &self.table
    }

    fn with_batch_size(&self, _batch_size: usize) -> Arc<dyn FileSource> {
        Arc::new(self.clone())
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        &self.metrics
    }

    fn file_type(&self) -> &str {
        "vpcflow"
    }

    /// Large files are already split at line starts by [`FlowTable`]'s scan.
    fn supports_repartitioning(&self) -> bool {
        false
    }

    fn fmt_extra(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, ", {} columns", self.conformer.schema.fields().len())
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }
}

/// Opens one [`FlowSource`]: decodes it on a blocking thread (S3: as its body streams in)
/// and yields its batches, conformed to the table's columns.
struct FlowOpener {
    conformer: Arc<Conformer>,
}

type Batches = tokio::sync::mpsc::Sender<Result<RecordBatch>>;

impl FileOpener for FlowOpener {
    fn open(&self, file: PartitionedFile) -> Result<FileOpenFuture> {
        let source = file.extension::<FlowSource>().cloned().ok_or_else(|| {
            DataFusionError::Internal(format!("{} is not a flow-log source", file.path()))
        })?;
        let scan = self.conformer.clone();
        Ok(Box::pin(async move {
            let (tx, rx): (Batches, _) = tokio::sync::mpsc::channel(2);
            match source {
                FlowSource::S3(object) => {
                    tokio::spawn(async move {
                        if let Err(e) = read_s3(&object, &scan, &tx).await {
                            let _ = tx.send(Err(e)).await;
                        }
                    });
                }
                local => {
                    tokio::task::spawn_blocking(move || {
                        if let Err(e) = read_local(&local, &scan, &tx) {
                            let _ = tx.blocking_send(Err(e));
                        }
                    });
                }
            }
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|batch| (batch, rx))
            });
            Ok(stream.boxed())
        }))
    }
}

/// Decodes a local file or range into `tx`.
fn read_local(source: &FlowSource, scan: &Conformer, tx: &Batches) -> Result<()> {
    let mut decoder = Decoder::new(scan.decoder_options());
    let name = source.name();
    let mut send = |batch: RecordBatch| scan.send(tx, &batch);
    let report = match source {
        FlowSource::Range { path, start, end } => decode_range(
            path,
            FileRange {
                start: *start,
                end: *end,
            },
            scan.format.clone(),
            &mut decoder,
            &mut send,
        ),
        FlowSource::File(path) => {
            let opened = open(&Input::Path(path.clone()))
                .map_err(|e| DataFusionError::Execution(format!("cannot open {name}: {e}")))?;
            decode_source(opened, &name, &mut decoder, &mut send)
        }
        FlowSource::S3(_) => return Err(DataFusionError::Internal(format!("{name} is not local"))),
    }
    .map_err(|e| DataFusionError::Execution(e.to_string()))?;
    report_source(&report)
}

/// Fetches and decodes an S3 object into `tx`, with this process's [`S3Access`].
async fn read_s3(object: &S3Object, scan: &Arc<Conformer>, tx: &Batches) -> Result<()> {
    let Some(access) = S3_ACCESS.get() else {
        return Err(DataFusionError::Execution(format!(
            "cannot read s3://{}: this process has no S3 access configured",
            object.id()
        )));
    };
    let (to, conformer) = (tx.clone(), scan.clone());
    let sinks: SinkFactory = Arc::new(move |_: &S3Object| {
        Box::new(Forward {
            tx: to.clone(),
            scan: conformer.clone(),
        }) as Box<dyn SourceSink>
    });
    let report = vpcflow_aws::s3::read_object(
        access.client().await,
        object,
        scan.decoder_options(),
        sinks,
        &Arc::new(Progress::default()),
    )
    .await
    .map_err(|e| DataFusionError::Execution(e.to_string()))?;
    report_source(&report)
}

/// How this process reads S3: set once, by the first local session or executor.
static S3_ACCESS: std::sync::OnceLock<S3Access> = std::sync::OnceLock::new();

/// Makes scans in this process read S3 with `options` (the first call wins: a process is one
/// executor, or one client). A scan's file source is made without a session, so the access is
/// the process's, not a session's.
pub fn set_s3_access(options: AwsOptions) {
    let _ = S3_ACCESS.set(S3Access::new(options));
}

/// What every source of a scan is decoded with and conformed to.
#[derive(Debug)]
struct Conformer {
    format: LogFormat,
    plain: bool,
    /// The table's columns, all of them.
    all: SchemaRef,
    projection: Option<Vec<usize>>,
    /// The projected schema.
    schema: SchemaRef,
}

impl Conformer {
    /// A decoder of the table's format that decodes only the projected columns.
    fn decoder_options(&self) -> DecoderOptions {
        let columns = self.projection.as_ref().map(|p| {
            p.iter()
                .filter_map(|&i| self.format.columns().get(i).map(|c| c.name.to_string()))
                .collect()
        });
        DecoderOptions {
            format: Some(self.format.clone()),
            columns,
            ..DecoderOptions::default()
        }
    }

    /// `batch` conformed, sent into a scan's stream (from a blocking thread).
    fn send(&self, tx: &Batches, batch: &RecordBatch) -> std::io::Result<()> {
        let batch = conform(batch, &self.all, self.projection.as_deref(), &self.schema)
            .map_err(std::io::Error::other)?;
        tx.blocking_send(Ok(batch))
            .map_err(|_| std::io::Error::other("the query stopped reading"))
    }
}

/// An S3 object's batches, conformed, into a scan's stream.
struct Forward {
    tx: Batches,
    scan: Arc<Conformer>,
}

impl SourceSink for Forward {
    fn batch(&mut self, batch: RecordBatch) -> std::io::Result<()> {
        self.scan.send(&self.tx, &batch)
    }

    fn finish(self: Box<Self>, _report: &SourceReport) -> std::io::Result<()> {
        Ok(())
    }
}

/// Says what a source's decoding met that a user must hear of: malformed lines (with file and
/// line) are logged where the scan runs; a source that could not be read, or broke midway,
/// fails the query naming it, so no result ever leaves records out unsaid.
fn report_source(report: &SourceReport) -> Result<()> {
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
    match &report.error {
        Some(e) => Err(DataFusionError::Execution(format!("{}: {e}", report.name))),
        None => Ok(()),
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
                Some(c) if c.data_type() == field.data_type() => Ok(c.clone()),
                Some(c) if matches!(c.data_type(), arrow_schema::DataType::Dictionary(..)) => {
                    datafusion::arrow::compute::cast(c, field.data_type())
                }
                _ => Ok(new_null_array(field.data_type(), batch.num_rows())),
            }
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &options,
    )?)
}
