//! The second step: parsed flags become validated, typed options, one struct per command.
//! Everything a command needs is decided here — inputs expanded, times turned into Unix
//! seconds against one `now`, formats parsed, conflicting flags refused — so commands only run.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use vpcflow_aws::{AwsOptions, KeyFilter, LogsOptions, S3Url};
use vpcflow_core::{DecoderOptions, LogFormat};
use vpcflow_input::{Input, RunOptions};
use vpcflow_verdict::REQUIRED;

use super::{
    AwsArgs, BenchArgs, Command, ConnectArgs, ConvertArgs, DecodeArgs, DiscoverArgs,
    EndpointsCommand, GenerateArgs, LogGroupArgs, ParseArgs, ParseOutput, TailArgs, TailOutput,
    TimeArg, VerdictArgs, VerdictOutput,
};
use crate::time::parse_time;

/// A command, resolved.
#[derive(Debug)]
pub enum Job {
    /// `vpcflow parse`.
    Parse(ParseJob),
    /// `vpcflow verdict`.
    Verdict(Box<VerdictJob>),
    /// `vpcflow tail`.
    Tail(Box<TailJob>),
    /// `vpcflow convert`.
    Convert(ConvertJob),
    /// `vpcflow bench`.
    Bench(BenchArgs, RunOptions),
    /// `vpcflow endpoints discover`.
    Discover(DiscoverJob),
    /// `vpcflow generate`.
    Generate(GenerateArgs),
    /// `vpcflow query`.
    #[cfg(feature = "distributed")]
    Query(Box<QueryJob>),
    /// `vpcflow cluster scheduler`.
    #[cfg(feature = "distributed")]
    Scheduler(super::SchedulerArgs),
    /// `vpcflow cluster executor`, and how it reaches S3.
    #[cfg(feature = "distributed")]
    Executor(super::ExecutorArgs, AwsOptions),
}

/// `vpcflow query`, resolved.
#[cfg(feature = "distributed")]
#[derive(Debug)]
pub struct QueryJob {
    /// The command line.
    pub args: super::QueryArgs,
    /// Its inputs.
    pub inputs: Inputs,
    /// How to reach S3, and which keys to read.
    pub aws: AwsJob,
}

/// Where records come from.
#[derive(Debug)]
pub enum Inputs {
    /// Files, directories (expanded) or stdin.
    Local(Vec<Input>),
    /// `s3://bucket/prefix` locations.
    S3(Vec<S3Url>),
}

/// A time window: `--since`/`--until` as Unix seconds, and as spelled (a resumed run compares
/// the spelling, since `2h` means another time on every run).
#[derive(Clone, Debug, Default)]
pub struct Window {
    /// Records ending at or after this.
    pub since: Option<i64>,
    /// Records starting at or before this.
    pub until: Option<i64>,
    /// `--since` and `--until` as given.
    pub spelled: (Option<String>, Option<String>),
}

/// How to reach AWS, and which S3 objects to read.
#[derive(Clone, Debug)]
pub struct AwsJob {
    /// Region, profile, endpoint.
    pub connect: AwsOptions,
    /// Objects (or streams) at once.
    pub concurrency: usize,
    /// Which S3 keys to read (the window of the command included).
    pub filter: KeyFilter,
}

/// Where the endpoint catalogue comes from.
#[derive(Debug)]
pub enum CatalogueFrom {
    /// `--endpoints FILE`.
    File(PathBuf),
    /// `--discover`, with this RDS page size.
    Discover(i32),
}

/// Where `--explain` reads the network configuration.
#[derive(Debug, PartialEq, Eq)]
pub enum ExplainFrom {
    /// `--config-snapshot DIR`.
    Snapshot(PathBuf),
    /// EC2, live.
    Live,
}

/// The verdict state's memory bound and spill directory.
#[derive(Clone, Debug)]
pub struct Memory {
    /// Bytes of state held before spilling.
    pub limit: usize,
    /// Where to spill (`None`: `TMPDIR`).
    pub temp_dir: Option<PathBuf>,
}

/// `--out FILE` and whether it may be overwritten.
#[derive(Clone, Debug)]
pub struct OutFile {
    /// The path.
    pub path: PathBuf,
    /// `--force`.
    pub force: bool,
}

/// `vpcflow parse`.
#[derive(Debug)]
pub struct ParseJob {
    pub inputs: Inputs,
    pub output: ParseOutput,
    pub out: Option<OutFile>,
    pub run: RunOptions,
    pub aws: AwsJob,
}

/// What `verdict` reads.
#[derive(Debug)]
pub enum VerdictSource {
    /// Files or S3.
    Inputs(Inputs),
    /// A CloudWatch Logs group.
    LogGroup(LogsOptions),
}

/// `vpcflow verdict`.
#[derive(Debug)]
pub struct VerdictJob {
    pub source: VerdictSource,
    /// The inputs as given (for checkpoint fingerprints).
    pub spelled_inputs: Vec<String>,
    pub catalogue: CatalogueFrom,
    pub explain: Option<ExplainFrom>,
    pub output: VerdictOutput,
    /// `--out FILE` (`--force` to overwrite).
    pub out: Option<OutFile>,
    pub fail_on: super::values::FailOn,
    pub window: Window,
    /// `--checkpoint FILE` and how often it is written.
    pub checkpoint: Option<(PathBuf, Duration)>,
    pub memory: Memory,
    pub run: RunOptions,
    /// Filter-first off (`--check-all-lines`, or `--strict`).
    pub check_all_lines: bool,
    pub aws: AwsJob,
    /// `--cluster URL`, and how it plans (`--partitions N`, `--shuffle-codec`).
    #[cfg(feature = "distributed")]
    pub cluster: Option<(String, vpcflow_datafusion::cluster::Remote)>,
}

/// `vpcflow tail`.
#[derive(Debug)]
pub struct TailJob {
    pub logs: LogsOptions,
    /// `--sqs-queue URL`: follow a bucket's notifications instead of a log group.
    pub sqs_queue: Option<String>,
    /// `--sqs-visibility SECS`.
    pub sqs_visibility: i32,
    pub catalogue: CatalogueFrom,
    pub output: TailOutput,
    pub duration: Option<Duration>,
    pub lookback: Duration,
    pub poll_interval: Duration,
    pub checkpoint: Option<PathBuf>,
    pub live: bool,
    pub memory: Memory,
    pub run: RunOptions,
    pub aws: AwsJob,
}

/// `vpcflow convert`.
#[derive(Debug)]
pub struct ConvertJob {
    pub inputs: Inputs,
    /// The inputs as given (for the checkpoint's fingerprint).
    pub spelled_inputs: Vec<String>,
    /// `--out` (absent only with `--athena-ddl` and no inputs).
    pub out: Option<PathBuf>,
    pub layout: vpcflow_sink::Layout,
    /// `--athena-ddl`: the table name and location.
    pub athena: Option<(String, String)>,
    /// `--checkpoint FILE` (S3 inputs only).
    pub checkpoint: Option<PathBuf>,
    pub run: RunOptions,
    pub aws: AwsJob,
}

/// `vpcflow endpoints discover`.
#[derive(Debug)]
pub struct DiscoverJob {
    pub out: Option<OutFile>,
    pub page_size: i32,
    pub connect: AwsOptions,
}

/// Resolves a parsed command.
pub fn resolve(command: Command) -> Result<Job> {
    let now = jiff::Timestamp::now().as_second();
    Ok(match command {
        Command::Parse(a) => Job::Parse(parse(a, now)?),
        Command::Verdict(a) => Job::Verdict(Box::new(verdict(a, now)?)),
        Command::Tail(a) => Job::Tail(Box::new(tail(a)?)),
        Command::Convert(a) => Job::Convert(convert(a, now)?),
        Command::Bench(a) => {
            let mut run = run_options(&a.decode)?;
            run.threads = 1;
            Job::Bench(a, run)
        }
        Command::Endpoints(EndpointsCommand::Discover(a)) => Job::Discover(discover(a)),
        Command::Generate(a) => Job::Generate(a),
        #[cfg(feature = "distributed")]
        Command::Query(a) => {
            let w = window(a.window.since.as_ref(), a.window.until.as_ref(), now)?;
            Job::Query(Box::new(QueryJob {
                inputs: inputs(&a.inputs)?,
                aws: aws_job(&a.aws, (w.since, w.until)),
                args: a,
            }))
        }
        #[cfg(feature = "distributed")]
        Command::Cluster(super::ClusterCommand::Scheduler(a)) => Job::Scheduler(a),
        #[cfg(feature = "distributed")]
        Command::Cluster(super::ClusterCommand::Executor(a)) => {
            let aws = aws_options(&a.connect);
            Job::Executor(a, aws)
        }
    })
}

/// The options of every decoding command.
pub fn run_options(args: &DecodeArgs) -> Result<RunOptions> {
    let format = match &args.log_format {
        Some(text) => {
            let format = LogFormat::parse(text).context("bad --log-format")?;
            if args.strict {
                format.deny_unknown()?;
            }
            Some(format)
        }
        None => None,
    };
    let mut opts = RunOptions {
        decoder: DecoderOptions {
            batch_size: args.batch_size,
            strict: args.strict,
            format,
            ..DecoderOptions::default()
        },
        ..RunOptions::default()
    };
    if let Some(threads) = args.threads {
        opts.threads = threads;
    }
    Ok(opts)
}

/// The AWS options of the command line.
pub fn aws_options(args: &ConnectArgs) -> AwsOptions {
    AwsOptions {
        region: args.region.clone(),
        profile: args.profile.clone(),
        endpoint_url: args.endpoint_url.clone(),
        limits: vpcflow_aws::config::Limits {
            connect: args.connect_timeout,
            attempt: args.timeout,
            operation: args.operation_timeout,
            attempts: args.max_attempts,
        },
    }
}

fn aws_job(args: &AwsArgs, key_window: (Option<i64>, Option<i64>)) -> AwsJob {
    AwsJob {
        connect: aws_options(&args.connect),
        concurrency: args.concurrency,
        filter: KeyFilter {
            since: key_window.0,
            until: key_window.1,
            account: args.account.clone(),
            region: args.connect.region.clone(),
            flow_log_id: args.flow_log_id.clone(),
        },
    }
}

/// `--since` and `--until` against `now`; an error if since is after until.
fn window(since: Option<&TimeArg>, until: Option<&TimeArg>, now: i64) -> Result<Window> {
    let at = |t: Option<&TimeArg>| t.map(|t| parse_time(&t.0, now)).transpose();
    let (s, u) = (at(since)?, at(until)?);
    if let (Some(s), Some(u)) = (s, u)
        && s > u
    {
        bail!("--since is after --until");
    }
    Ok(Window {
        since: s,
        until: u,
        spelled: (since.map(|t| t.0.clone()), until.map(|t| t.0.clone())),
    })
}

/// The inputs named on the command line: S3 locations, or local paths with directories
/// expanded (none means stdin). Mixing the two is refused.
pub fn inputs(args: &[String]) -> Result<Inputs> {
    let s3: Vec<&String> = args.iter().filter(|i| i.starts_with("s3://")).collect();
    if !s3.is_empty() {
        if s3.len() != args.len() {
            bail!("mixing s3:// and local inputs in one run is not supported; run them separately");
        }
        return s3
            .iter()
            .map(|i| S3Url::parse(i).with_context(|| format!("`{i}` is not s3://bucket/prefix")))
            .collect::<Result<Vec<_>>>()
            .map(Inputs::S3);
    }
    if args.is_empty() {
        return Ok(Inputs::Local(vec![Input::Stdin]));
    }
    let mut out = Vec::new();
    for arg in args {
        out.extend(Input::expand(arg).with_context(|| format!("cannot read {arg}"))?);
    }
    if out.is_empty() {
        bail!("no input files found in {}", args.join(" "));
    }
    Ok(Inputs::Local(out))
}

fn out_file(out: &Option<PathBuf>, force: bool) -> Option<OutFile> {
    out.as_ref().map(|path| OutFile {
        path: path.clone(),
        force,
    })
}

fn parse(a: ParseArgs, now: i64) -> Result<ParseJob> {
    let mut run = run_options(&a.decode)?;
    // Counting does not care about order: threads may share a large file.
    run.split = a.output == ParseOutput::Summary;
    if a.output == ParseOutput::Parquet && a.out.is_none() {
        bail!("--output parquet needs --out PATH");
    }
    let w = window(a.window.since.as_ref(), a.window.until.as_ref(), now)?;
    Ok(ParseJob {
        inputs: inputs(&a.inputs)?,
        output: a.output,
        out: out_file(&a.out, a.force),
        run,
        aws: aws_job(&a.aws, (w.since, w.until)),
    })
}

/// Refuses a format that lacks what verdicts need, naming what is missing.
pub fn check_verdict_format(format: &LogFormat, origin: &str) -> Result<()> {
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|f| !format.names().any(|n| n == *f))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{origin} lacks the field{} verdicts need: {} (a verdict needs {})",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            REQUIRED.join(", ")
        );
    }
    Ok(())
}

fn catalogue_from(
    endpoints: &Option<PathBuf>,
    discover: bool,
    page_size: i32,
) -> Result<CatalogueFrom> {
    match endpoints {
        Some(path) => Ok(CatalogueFrom::File(path.clone())),
        None if discover => Ok(CatalogueFrom::Discover(page_size)),
        None => {
            bail!("give the catalogue with --endpoints FILE, or --discover to build it from RDS")
        }
    }
}

fn logs_options(group: &str, g: &LogGroupArgs, concurrency: usize) -> LogsOptions {
    LogsOptions {
        group: group.to_owned(),
        enis: g.eni.clone(),
        filter_pattern: g.filter_pattern.clone(),
        max_rps: g.max_rps,
        concurrency,
        page_size: g.page_size,
    }
}

fn verdict(a: VerdictArgs, now: i64) -> Result<VerdictJob> {
    let mut run = run_options(&a.decode)?;
    // Verdicts do not depend on record order: threads may share a large file.
    run.split = true;
    // Parquet inputs: read only the columns verdicts use.
    run.decoder.columns = Some(vpcflow_verdict::READ.map(str::to_owned).to_vec());
    if let Some(format) = &run.decoder.format {
        check_verdict_format(format, "--log-format")?;
    }
    let w = window(a.since.as_ref(), a.until.as_ref(), now)?;
    let source = match &a.log_group {
        Some(group) => {
            if !a.inputs.is_empty() {
                bail!("--log-group reads the group; give no INPUT files with it");
            }
            VerdictSource::LogGroup(logs_options(group, &a.group, a.aws.concurrency))
        }
        None => VerdictSource::Inputs(inputs(&a.inputs)?),
    };
    if a.checkpoint.is_some() && !matches!(source, VerdictSource::Inputs(Inputs::S3(_))) {
        bail!("--checkpoint applies to s3:// inputs");
    }
    match (a.output, &a.out) {
        (VerdictOutput::Html, None) => {
            bail!("--output html needs --out FILE (the report is one HTML file)")
        }
        (VerdictOutput::Html, Some(_)) | (_, None) => {}
        (_, Some(_)) => bail!("--out is for --output html; the other outputs go to stdout"),
    }
    let explain = match (&a.config_snapshot, a.explain) {
        (Some(dir), _) => Some(ExplainFrom::Snapshot(dir.clone())),
        (None, true) => Some(ExplainFrom::Live),
        (None, false) => None,
    };
    Ok(VerdictJob {
        catalogue: catalogue_from(&a.endpoints, a.discover, a.discover_page_size)?,
        spelled_inputs: a.inputs.clone(),
        source,
        explain,
        output: a.output,
        out: out_file(&a.out, a.force),
        fail_on: a.fail_on,
        checkpoint: a.checkpoint.map(|p| (p, a.checkpoint_every)),
        memory: Memory {
            limit: a.memory.memory_limit.0,
            temp_dir: a.memory.temp_dir,
        },
        aws: aws_job(&a.aws, (w.since, w.until)),
        window: w,
        check_all_lines: a.check_all_lines || run.decoder.strict,
        run,
        #[cfg(feature = "distributed")]
        cluster: a.cluster.map(|url| {
            let remote = vpcflow_datafusion::cluster::Remote {
                partitions: a.partitions,
                shuffle: a.shuffle_codec.into(),
            };
            (url, remote)
        }),
    })
}

fn tail(a: TailArgs) -> Result<TailJob> {
    let run = run_options(&a.decode)?;
    if let Some(format) = &run.decoder.format {
        check_verdict_format(format, "--log-format")?;
    }
    Ok(TailJob {
        logs: logs_options(
            a.log_group.as_deref().unwrap_or_default(),
            &a.group,
            a.aws.concurrency,
        ),
        sqs_queue: a.sqs_queue,
        sqs_visibility: a.sqs_visibility,
        catalogue: catalogue_from(&a.endpoints, a.discover, a.discover_page_size)?,
        output: a.output,
        duration: a.duration,
        lookback: a.lookback,
        poll_interval: a.poll_interval,
        checkpoint: a.checkpoint,
        live: !a.no_live_tail,
        memory: Memory {
            limit: a.memory.memory_limit.0,
            temp_dir: a.memory.temp_dir,
        },
        aws: aws_job(&a.aws, (None, None)),
        run,
    })
}

fn convert(a: ConvertArgs, now: i64) -> Result<ConvertJob> {
    let run = run_options(&a.decode)?;
    let layout = match a.format {
        crate::flags::ConvertFormat::Parquet => vpcflow_sink::Layout::Flows,
        crate::flags::ConvertFormat::Ocsf => vpcflow_sink::Layout::SecurityLake,
    };
    let athena = a.athena_ddl.then(|| {
        let table = a.table.clone().unwrap_or_else(|| {
            match layout {
                vpcflow_sink::Layout::Flows => "vpc_flow_logs",
                vpcflow_sink::Layout::SecurityLake => "vpc_flow_logs_ocsf",
            }
            .to_owned()
        });
        let location = a.location.clone().unwrap_or_else(|| {
            eprintln!(
                "note: no --location; the table points at s3://YOUR-BUCKET/PREFIX/, replace it with where --out is copied to"
            );
            "s3://YOUR-BUCKET/PREFIX/".to_owned()
        });
        (table, location)
    });
    // `--athena-ddl` alone converts nothing: no inputs, no window.
    let (inputs, window) = if a.inputs.is_empty() {
        (Inputs::Local(Vec::new()), Window::default())
    } else {
        let inputs = inputs(&a.inputs)?;
        if let Inputs::Local(list) = &inputs
            && list.contains(&Input::Stdin)
        {
            bail!("convert reads files and S3 objects, not stdin");
        }
        if a.checkpoint.is_some() && !matches!(inputs, Inputs::S3(_)) {
            bail!("--checkpoint applies to s3:// inputs");
        }
        let w = window(a.window.since.as_ref(), a.window.until.as_ref(), now)?;
        (inputs, w)
    };
    Ok(ConvertJob {
        inputs,
        spelled_inputs: a.inputs,
        out: a.out,
        layout,
        athena,
        checkpoint: a.checkpoint,
        run,
        aws: aws_job(&a.aws, (window.since, window.until)),
    })
}

fn discover(a: DiscoverArgs) -> DiscoverJob {
    DiscoverJob {
        out: out_file(&a.out, a.force),
        page_size: a.page_size,
        connect: aws_options(&a.aws),
    }
}
