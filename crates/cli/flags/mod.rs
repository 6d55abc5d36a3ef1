//! The command line, in two steps (as ripgrep's `flags/` does it):
//! 1. this module: the clap definitions, each value parsed and range-checked by [`values`];
//! 2. [`resolve`]: the parsed flags turned into validated, typed options per command
//!    ([`resolve::Job`]). Commands run on those, never on strings.
//!
//! Flag names are a contract: add, never rename.

pub mod resolve;
pub mod values;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use values::{ByteSize, TimeArg};

/// Reads AWS VPC Flow Logs and says which connection attempts were blocked, and where.
#[derive(Debug, Parser)]
#[command(name = "vpcflow", version, about, long_about = None)]
#[command(after_help = "\
Exit codes: 0 success (verdict: nothing blocked), 1 verdict found something blocked, 2 error.
Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) or pass -v for more.")]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode flow-log files into records: JSON lines, CSV, a table, Parquet or a summary.
    #[command(after_help = "\
Examples:
  vpcflow parse testdata/decode/v2.log
  vpcflow parse --output summary big.log.gz
  vpcflow parse --output parquet --out flows.parquet logs/*.log.gz
  vpcflow parse --log-format '${srcaddr} ${dstaddr} ${action}' custom.log
  zcat object.log.gz | vpcflow parse --output csv -

Inputs are plain text, gzip (detected by its magic bytes, multi-member included) or Parquet.
The format comes from --log-format, else the file's header line (S3 objects have one), else
the default version 2 format.")]
    Parse(ParseArgs),

    /// Say, per database endpoint and client, whether connection attempts were blocked, where,
    /// and since when.
    #[command(after_help = "\
Examples:
  vpcflow verdict --endpoints testdata/rds-sg-patterns/endpoints.toml testdata/rds-sg-patterns/cloudwatch/
  vpcflow verdict --endpoints endpoints.toml --output json --since 2h logs/*.log.gz
  vpcflow verdict --endpoints endpoints.toml --since 2026-11-20T00:00:00Z --until 2026-11-21T00:00:00Z s3-export/
  vpcflow verdict --endpoints endpoints.toml --since 24h s3://my-flow-logs/AWSLogs/123456789012/
  vpcflow verdict --endpoints endpoints.toml --since 2h --log-group soa-05-001-FlowLogGroup
  vpcflow verdict --endpoints testdata/rds-sg-patterns/endpoints.toml --explain \\
      --config-snapshot testdata/rds-sg-patterns/config testdata/rds-sg-patterns/cloudwatch/
  vpcflow verdict --discover --explain --region ap-northeast-1 --since 2h --log-group flows
  vpcflow verdict --endpoints testdata/rds-sg-patterns/endpoints.toml --explain \
      --config-snapshot testdata/rds-sg-patterns/config --output html --out report.html \
      testdata/rds-sg-patterns/cloudwatch/
  vpcflow verdict --endpoints endpoints.toml --cluster df://scheduler:50050 \
      --since 24h s3://org-flow-logs/AWSLogs/     # feature `distributed`

Verdicts: blocked (every attempt blocked), allowed (every attempt connected), intermittent
(some of each; the reason says since when), unanswered (none blocked, none connected).
Semantics: docs/verdicts.md.
Exit codes: 0 nothing blocked, 1 some attempt was blocked (with --fail-on blocked,unexpected
also: a client connected that should not have), 2 error.")]
    Verdict(VerdictArgs),

    /// Follow a CloudWatch Logs flow-log group live and keep the verdicts up to date.
    #[command(after_help = "\
Examples:
  vpcflow tail --log-group soa-05-001-FlowLogGroup --endpoints endpoints.toml
  vpcflow tail --log-group soa-05-001-FlowLogGroup --endpoints endpoints.toml --output json --duration 10m
  vpcflow tail --log-group flows --endpoints endpoints.toml --checkpoint tail.ckpt   # resumable
  vpcflow tail --log-group soa-05-001-FlowLogGroup --discover --region ap-northeast-1
  vpcflow tail --sqs-queue https://sqs.ap-northeast-1.amazonaws.com/123456789012/flow-logs \
      --endpoints endpoints.toml --checkpoint bucket.ckpt       # follow a bucket

It reads the last --lookback of events first, then follows new ones: with StartLiveTail where the
server supports it, else by polling FilterLogEvents with overlapping windows (events arrive late),
dropping events it has already counted. --output json writes one JSON line per verdict change.
Ctrl-C or --duration ends it with a final summary.")]
    Tail(TailArgs),

    /// Write flow logs as Parquet, partitioned Hive-style by account, region and date, or as
    /// OCSF events for Amazon Security Lake; print the Athena table for what it writes.
    #[command(after_help = "\
Examples:
  vpcflow convert --out parquet/ logs/*.log.gz
  vpcflow convert --out parquet/ --since 24h s3://my-flow-logs/AWSLogs/123456789012/
  duckdb -c \"SELECT action, count(*) FROM read_parquet('parquet/**/*.parquet', hive_partitioning=true) GROUP BY 1\"
  vpcflow convert --format ocsf --out lake/ logs/                 # Security Lake custom source
  vpcflow convert --athena-ddl --out parquet/ --table flows --location s3://my-bucket/parquet/

Files are DIR/account-id=<id>/region=<region>/date=<YYYY-MM-DD>/part-<source>.parquet, zstd,
row groups of up to 131,072 rows. With --format ocsf they are OCSF 1.1.0 Network Activity
events under DIR/region=<region>/accountId=<id>/eventDay=<YYYYMMDD>/, as Security Lake wants
of a custom source. One file per input and partition: re-converting an input replaces its
files. --athena-ddl prints a CREATE EXTERNAL TABLE with partition projection for the files
under --out (after converting, when inputs are given), or for --log-format's fields.")]
    Convert(ConvertArgs),

    /// Measure records/s and MB/s per pipeline stage (read, inflate, decode, aggregate).
    #[command(after_help = "\
Examples:
  vpcflow bench                                   # 1,000,000 generated v2 records
  vpcflow bench --records 5000000 --format v5 --gzip
  vpcflow bench --endpoints endpoints.toml flows.log.gz

Stages run one after another over the whole input on one thread; each includes the ones before
it, and 'stage only' is its own share.")]
    Bench(BenchArgs),

    /// Build the endpoint catalogue from the account: `vpcflow endpoints discover`.
    #[command(subcommand)]
    Endpoints(EndpointsCommand),

    /// Write deterministic synthetic flow logs (for benchmarks and examples).
    #[command(after_help = "\
Examples:
  vpcflow generate --records 5000000 --out flows.log
  vpcflow generate --records 1000000 --format v5 --header --gzip --out flows.log.gz
  vpcflow generate --records 100000 --endpoints 20 --catalogue endpoints.toml --out flows.log

The same options and --seed always give the same bytes.")]
    Generate(GenerateArgs),

    /// SQL over flow-log files with Apache DataFusion: the table `flows`, decoded by vpcflow
    /// (needs the `distributed` feature).
    #[cfg(feature = "distributed")]
    #[command(after_help = "\
Examples:
  vpcflow query 'SELECT action, count(*) FROM flows GROUP BY action' logs/
  vpcflow query --output json \\
      'SELECT srcaddr, dstport, count(*) AS n FROM flows WHERE action = '\''REJECT'\'' \\
       GROUP BY srcaddr, dstport ORDER BY n DESC LIMIT 10' logs/*.log.gz
  vpcflow query 'SELECT \"interface-id\", sum(bytes) FROM flows GROUP BY 1' flows.parquet

  vpcflow query --since 1h \
      'SELECT srcaddr, count(*) AS n FROM flows WHERE action = '\''REJECT'\'' \
       GROUP BY srcaddr ORDER BY n DESC LIMIT 10' s3://my-flow-logs/AWSLogs/
  vpcflow query --cluster df://scheduler:50050 'SELECT count(*) FROM flows' s3://logs/AWSLogs/

Columns are named as AWS names the fields (quote those with a dash: \"interface-id\"); srcaddr
and dstaddr are 16-byte addresses, shown as text. The columns are those of --log-format, else
of the first file's (or object's) header line, else of the default version 2 format. Filters
on start and end leave out S3 objects whose keys lie outside them, as --since/--until do.")]
    Query(QueryArgs),

    /// Run a Ballista scheduler or executor that carries vpcflow's table, codecs and functions
    /// (needs the `distributed` feature).
    #[cfg(feature = "distributed")]
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

#[derive(Debug, Subcommand)]
pub enum EndpointsCommand {
    /// Write the TOML catalogue of every RDS/Aurora instance the credentials can see, placed
    /// on the network interfaces RDS created for it.
    #[command(after_help = "\
Examples:
  vpcflow endpoints discover --region ap-northeast-1 > endpoints.toml
  vpcflow endpoints discover --profile prod --out endpoints.toml
  vpcflow endpoints discover --endpoint-url http://127.0.0.1:5000   # moto, LocalStack

It reads RDS DescribeDBInstances and DescribeDBClusters and EC2 DescribeNetworkInterfaces (the
ENIs RDS creates have the description RDSNetworkInterface). An ENI is an instance's when its
endpoint name resolves to the ENI's address, or when only that instance's security groups and
DB subnet group fit it (a Multi-AZ standby is found this way), or when, of the instances that
fit, only it is in the ENI's availability zone (Aurora cluster members).
Instances it cannot place are listed on stderr and left out.
Permissions: rds:DescribeDBInstances, rds:DescribeDBClusters, ec2:DescribeNetworkInterfaces.")]
    Discover(DiscoverArgs),
}

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// Write the catalogue here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Overwrite --out if it exists.
    #[arg(long)]
    pub force: bool,

    /// Records per RDS Describe call (AWS allows 20-100).
    #[arg(long, value_name = "N", default_value = "100", value_parser = values::rds_page_size, hide = true)]
    pub page_size: i32,

    #[command(flatten)]
    pub aws: ConnectArgs,
}

/// `--shuffle-codec`: how a cluster's stages compress what they hand on.
#[cfg(feature = "distributed")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShuffleCodec {
    /// Not compressed.
    None,
    /// LZ4 frames.
    Lz4,
    /// Zstandard.
    Zstd,
}

#[cfg(feature = "distributed")]
impl From<ShuffleCodec> for vpcflow_datafusion::cluster::ShuffleCodec {
    fn from(c: ShuffleCodec) -> Self {
        match c {
            ShuffleCodec::None => Self::None,
            ShuffleCodec::Lz4 => Self::Lz4,
            ShuffleCodec::Zstd => Self::Zstd,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VerdictOutput {
    /// A table, blocked first.
    Table,
    /// One JSON object per client–endpoint pair.
    Json,
    /// CSV with a header row.
    Csv,
    /// One self-contained HTML page (needs --out): a timeline per pair, the path that blocked
    /// it with --explain.
    Html,
    /// One OCSF 1.1.0 Network Activity event per pair, aggregated over its attempts (JSON lines).
    Ocsf,
}

#[derive(Debug, Args)]
pub struct VerdictArgs {
    /// Flow-log files or directories (read recursively), s3://bucket/prefix locations, or -
    /// for stdin (the default).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,

    /// The endpoint catalogue (TOML).
    #[arg(long, value_name = "FILE", required_unless_present = "discover")]
    pub endpoints: Option<PathBuf>,

    /// Build the catalogue from RDS and EC2 instead of --endpoints (as `endpoints discover`).
    #[arg(long, conflicts_with = "endpoints")]
    pub discover: bool,

    /// Records per RDS Describe call of --discover (AWS allows 20-100).
    #[arg(long, value_name = "N", default_value = "100", value_parser = values::rds_page_size, hide = true)]
    pub discover_page_size: i32,

    /// For each blocked pair, name the security group or network ACL that blocks it and the
    /// rule that would admit it, from EC2 (live) or --config-snapshot.
    #[arg(long)]
    pub explain: bool,

    /// Read the network configuration for --explain from this directory of `aws ec2
    /// describe-security-groups / describe-network-acls / describe-network-interfaces /
    /// describe-subnets --output json` files instead of calling EC2. Implies --explain.
    #[arg(long, value_name = "DIR")]
    pub config_snapshot: Option<PathBuf>,

    /// What to write.
    #[arg(short, long, value_enum, default_value_t = VerdictOutput::Table)]
    pub output: VerdictOutput,

    /// What makes the exit code 1: `blocked` (some attempt was blocked), `unexpected` (a client
    /// connected that the endpoint's expected_clients does not name, or one from outside the
    /// VPC), or both: `blocked,unexpected`.
    #[arg(long, value_name = "WHAT", default_value = "blocked", value_parser = values::fail_on)]
    pub fail_on: values::FailOn,

    /// The file --output html writes (the other outputs go to stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Overwrite --out if it exists.
    #[arg(long)]
    pub force: bool,

    /// Only records that end at or after this time: RFC 3339, or relative to now (`90s`, `30m`,
    /// `2h`, `7d`).
    #[arg(long, value_name = "TIME", value_parser = values::time)]
    pub since: Option<TimeArg>,

    /// Only records that start at or before this time (same forms as --since).
    #[arg(long, value_name = "TIME", value_parser = values::time)]
    pub until: Option<TimeArg>,

    /// Decode and check every line. By default (filter-first) a line whose srcport and dstport
    /// are both outside the catalogue's ports is counted and skipped after only its field count
    /// and ports are read, so a bad value elsewhere in it is not reported (it could change no
    /// verdict). --strict implies this.
    #[arg(long)]
    pub check_all_lines: bool,

    /// Record finished S3 objects and the verdict state here, and resume from it: a re-run
    /// skips finished objects, so an interrupted run resumed to the end gives the same verdicts.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,

    /// Seconds between checkpoint writes (it is also written at the end).
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = values::checkpoint_every, hide = true)]
    pub checkpoint_every: Duration,

    #[command(flatten)]
    pub memory: MemoryArgs,

    /// Read this CloudWatch Logs group (FilterLogEvents over --since/--until) instead of files.
    #[arg(long, value_name = "NAME")]
    pub log_group: Option<String>,

    #[command(flatten)]
    pub group: LogGroupArgs,

    /// Run on a Ballista cluster (`df://HOST:PORT`, its scheduler): the same verdicts, decoded
    /// and folded by the cluster's executors (feature `distributed`).
    #[cfg(feature = "distributed")]
    #[arg(long, value_name = "URL", conflicts_with_all = ["log_group", "checkpoint"])]
    pub cluster: Option<String>,

    /// With --cluster: partitions of the final stage, across which conversations are spread;
    /// the cluster's slots (executors × --slots) make it one wave.
    #[cfg(feature = "distributed")]
    #[arg(long, value_name = "N", default_value = "16", requires = "cluster", value_parser = values::threads)]
    pub partitions: usize,

    /// With --cluster: how the states stages hand on are compressed. They are packed already
    /// (LZ4 only halves them): compress across zones or on links slower than about 4 Gbit/s
    /// per executor core (docs/distributed.md).
    #[cfg(feature = "distributed")]
    #[arg(long, value_enum, value_name = "CODEC", default_value_t = ShuffleCodec::None, requires = "cluster")]
    pub shuffle_codec: ShuffleCodec,

    #[command(flatten)]
    pub decode: DecodeArgs,

    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Flow-log files, directories, or s3://bucket/prefix locations.
    #[arg(value_name = "INPUT", required_unless_present = "athena_ddl")]
    pub inputs: Vec<String>,

    /// The output directory (created if missing).
    #[arg(long, value_name = "DIR", required_unless_present = "athena_ddl")]
    pub out: Option<PathBuf>,

    /// What to write: the flow records (`parquet`), or OCSF 1.1.0 Network Activity events in
    /// Security Lake's custom-source layout (`ocsf`).
    #[arg(long, value_enum, default_value = "parquet")]
    pub format: ConvertFormat,

    /// Print an Athena CREATE EXTERNAL TABLE for what convert writes, with partition
    /// projection: for the files under --out if there are any, else for --log-format's fields.
    #[arg(long)]
    pub athena_ddl: bool,

    /// The table --athena-ddl creates [default: vpc_flow_logs, or vpc_flow_logs_ocsf].
    #[arg(long, value_name = "NAME", requires = "athena_ddl")]
    pub table: Option<String>,

    /// Where the files are in S3, for --athena-ddl: the s3:// prefix --out was copied to.
    #[arg(long, value_name = "S3_URL", requires = "athena_ddl")]
    pub location: Option<String>,

    /// Keep the S3 objects already converted here (bucket/key and ETag), so an interrupted
    /// conversion resumes where it stopped. An object is listed only once all its part files
    /// are in place; the file is written every few seconds and at the end, and a resumed run
    /// rewrites the same part names, so nothing is duplicated.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,

    #[command(flatten)]
    pub window: KeyWindowArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,

    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A flow-log file to measure; without it, one is generated.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Records to generate.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,

    /// Generated format: v2 or v5.
    #[arg(long, default_value = "v2")]
    pub format: String,

    /// gzip the generated file.
    #[arg(long)]
    pub gzip: bool,

    /// A catalogue for the aggregate stage of a given FILE (generated input brings its own).
    #[arg(long, value_name = "FILE")]
    pub endpoints: Option<PathBuf>,

    #[command(flatten)]
    pub decode: DecodeArgs,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// How many records.
    #[arg(long, default_value_t = 100_000)]
    pub records: u64,

    /// `v2` (the default format), `v5` (every v2–v5 field) or a custom '${field} …' format.
    #[arg(long, default_value = "v2")]
    pub format: String,

    /// The share of client–endpoint pairs that are blocked (0 to 1).
    #[arg(long, default_value = "0.2", value_parser = values::share)]
    pub reject_share: f64,

    /// How many database endpoints.
    #[arg(long, default_value_t = 20)]
    pub endpoints: usize,

    /// How many clients.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,

    /// A realistic mix: this share of the records touches a catalogued endpoint, the rest is
    /// background traffic (web, DNS, NTP, other ports, database ports on uncatalogued
    /// addresses) between random 10.x addresses and ports on --enis ENIs.
    #[arg(long, value_name = "F", value_parser = values::share)]
    pub db_share: Option<f64>,

    /// ENIs the background traffic of --db-share is logged on.
    #[arg(long, default_value_t = 500)]
    pub enis: usize,

    /// The random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Seconds the records span (time advances through it, as in a delivered log).
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub span: u64,

    /// Start with a header line naming the fields, as S3 objects do.
    #[arg(long)]
    pub header: bool,

    /// gzip the output.
    #[arg(long)]
    pub gzip: bool,

    /// Write here instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// Overwrite --out if it exists.
    #[arg(long)]
    pub force: bool,

    /// Also write the endpoint catalogue (for `verdict --endpoints`) to this file.
    #[arg(long, value_name = "PATH")]
    pub catalogue: Option<PathBuf>,
}

/// The verdict state's memory bound (`verdict`, `tail`).
#[derive(Debug, Args)]
pub struct MemoryArgs {
    /// Keep about this much verdict state in memory (e.g. 256MiB, 1GiB); beyond it, the
    /// state is spilled to files in --temp-dir. Verdicts do not depend on it.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = values::size)]
    pub memory_limit: ByteSize,

    /// Where to spill verdict state (default: TMPDIR). Spill files are removed at the end, and
    /// on Ctrl-C.
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
}

/// Options every command that decodes flow logs shares.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The record format, in AWS's syntax: '${version} ${account-id} …'.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,

    /// Stop at the first malformed line or unknown field instead of skipping and warning.
    #[arg(long)]
    pub strict: bool,

    /// Worker threads (default: all cores). Files are shared out among them; for `verdict` and
    /// `parse --output summary`, a large uncompressed file is also split at line boundaries
    /// into parts they decode at once.
    #[arg(long, value_name = "N", value_parser = values::threads)]
    pub threads: Option<usize>,

    /// Records per Arrow batch.
    #[arg(long, value_name = "ROWS", default_value = "8192", value_parser = values::batch_size, hide = true)]
    pub batch_size: usize,
}

/// Which S3 objects to read by the time in their keys (`parse`, `convert`, `query`).
#[derive(Debug, Args, Default)]
pub struct KeyWindowArgs {
    /// Only S3 objects whose key time may hold records at or after this time (RFC 3339 or
    /// relative: 90s, 30m, 2h, 7d). Records themselves are not filtered.
    #[arg(long, value_name = "TIME", value_parser = values::time)]
    pub since: Option<TimeArg>,

    /// Only S3 objects whose key time may hold records at or before this time.
    #[arg(long, value_name = "TIME", value_parser = values::time)]
    pub until: Option<TimeArg>,
}

/// Where CloudWatch Logs inputs are.
#[derive(Debug, Args, Default)]
pub struct LogGroupArgs {
    /// Only the log streams of this ENI (repeatable).
    #[arg(long, value_name = "ENI")]
    pub eni: Vec<String>,

    /// A CloudWatch Logs filter pattern, passed to FilterLogEvents as is.
    #[arg(long, value_name = "PATTERN")]
    pub filter_pattern: Option<String>,

    /// At most this many CloudWatch Logs requests per second (FilterLogEvents has a quota of 5
    /// per account and Region, shared with every other client).
    #[arg(long, value_name = "N", default_value = "5", value_parser = values::rate)]
    pub max_rps: f64,

    /// Events per FilterLogEvents page (default: the service's, up to 10,000).
    #[arg(long, value_name = "N", value_parser = values::logs_page_size, hide = true)]
    pub page_size: Option<i32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TailOutput {
    /// A table redrawn in place after every poll, blocked first.
    Table,
    /// One JSON line per new or changed verdict.
    Json,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    /// The CloudWatch Logs group the flow log delivers to.
    #[arg(long, value_name = "NAME", required_unless_present = "sqs_queue")]
    pub log_group: Option<String>,

    /// Follow an S3 bucket instead: the URL of the SQS queue its ObjectCreated notifications
    /// reach (straight from S3, through SNS, or from EventBridge). Each new object is read once;
    /// a message is deleted only after its object is in --checkpoint.
    #[arg(long, value_name = "URL", conflicts_with = "log_group")]
    pub sqs_queue: Option<String>,

    /// Seconds a received notification stays hidden from other receivers (extended every half
    /// of it while its objects are read).
    #[arg(long, value_name = "SECS", default_value_t = 120, value_parser = clap::value_parser!(i32).range(2..=43200), requires = "sqs_queue", hide = true)]
    pub sqs_visibility: i32,

    /// The endpoint catalogue (TOML).
    #[arg(long, value_name = "FILE", required_unless_present = "discover")]
    pub endpoints: Option<PathBuf>,

    /// Build the catalogue from RDS and EC2 instead of --endpoints (as `endpoints discover`).
    #[arg(long, conflicts_with = "endpoints")]
    pub discover: bool,

    /// Records per RDS Describe call of --discover (AWS allows 20-100).
    #[arg(long, value_name = "N", default_value = "100", value_parser = values::rds_page_size, hide = true)]
    pub discover_page_size: i32,

    /// What to write.
    #[arg(short, long, value_enum, default_value_t = TailOutput::Table)]
    pub output: TailOutput,

    /// Stop after this long (90s, 30m, 2h); default: until Ctrl-C.
    #[arg(long, value_name = "DURATION", value_parser = values::duration)]
    pub duration: Option<Duration>,

    /// How far back to read at start, and how much each poll overlaps the previous one
    /// (ingestion lags the flows by minutes).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = values::duration)]
    pub lookback: Duration,

    /// Seconds between polls.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = values::poll_interval)]
    pub poll_interval: Duration,

    /// Persist the position, the recently seen event ids and the verdict state here, and resume
    /// from it: a restarted tail neither misses nor double-counts events.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,

    /// Poll even where StartLiveTail is available.
    #[arg(long)]
    pub no_live_tail: bool,

    #[command(flatten)]
    pub memory: MemoryArgs,

    #[command(flatten)]
    pub group: LogGroupArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,

    #[command(flatten)]
    pub aws: AwsArgs,
}

/// How to reach AWS: on top of the standard credential chain.
#[derive(Debug, Args, Default)]
pub struct ConnectArgs {
    /// AWS region (for S3 inputs also: only keys of this region). Default: the standard chain
    /// (AWS_REGION, the profile).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// A named profile from ~/.aws/config.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Send AWS requests here instead (an S3-compatible server, moto, LocalStack). Also read
    /// from AWS_ENDPOINT_URL. S3 then uses path-style addressing.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Seconds to open a connection to AWS.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = values::timeout)]
    pub connect_timeout: Duration,

    /// Seconds one attempt of an AWS call may wait for its answer to start (and an S3 object's
    /// body may pause). A stalled attempt is retried, up to --max-attempts.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = values::timeout)]
    pub timeout: Duration,

    /// Seconds one AWS call may take over all its attempts.
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = values::timeout)]
    pub operation_timeout: Duration,

    /// Tries per AWS call (the first included) on throttling, 5xx, resets and timeouts.
    #[arg(long, value_name = "N", default_value = "8", value_parser = values::max_attempts)]
    pub max_attempts: u32,
}

/// Where AWS inputs are and how to reach them.
#[derive(Debug, Args, Default)]
pub struct AwsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// S3 objects fetched and decoded at once (and CloudWatch Logs streams read at once).
    #[arg(long, value_name = "N", default_value = "16", value_parser = values::concurrency)]
    pub concurrency: usize,

    /// Only S3 keys of this account.
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,

    /// Only S3 keys of this flow log (fl-…).
    #[arg(long, value_name = "ID")]
    pub flow_log_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConvertFormat {
    /// The flow records, one column per field.
    Parquet,
    /// OCSF 1.1.0 Network Activity events, as Amazon Security Lake's custom sources take them.
    Ocsf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ParseOutput {
    /// One JSON object per record, keyed by AWS's field names.
    Json,
    /// One OCSF 1.1.0 Network Activity event (class 4001) per record, as JSON lines, mapped as
    /// AWS maps VPC flow logs for Security Lake.
    Ocsf,
    /// CSV with a header row.
    Csv,
    /// An aligned table.
    Table,
    /// A zstd-compressed Parquet file (needs --out).
    Parquet,
    /// Counts of records, ACCEPT, REJECT, NODATA, SKIPDATA and malformed lines, and MB/s.
    Summary,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Flow-log files (.log, .log.gz, .parquet), directories (read recursively),
    /// s3://bucket/prefix locations, or - for stdin (the default).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,

    /// What to write.
    #[arg(short, long, value_enum, default_value_t = ParseOutput::Json)]
    pub output: ParseOutput,

    /// Write to this file instead of stdout (required for parquet).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// Overwrite --out if it exists.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub window: KeyWindowArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,

    #[command(flatten)]
    pub aws: AwsArgs,
}

/// `vpcflow cluster …`.
#[cfg(feature = "distributed")]
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// A scheduler: plans queries and hands their tasks to executors.
    #[command(after_help = "\
Examples:
  vpcflow cluster scheduler --bind 0.0.0.0:50050
  vpcflow cluster scheduler --bind 127.0.0.1:0     # a free port; the address is printed

Prints `scheduler listening on HOST:PORT` on stdout once it accepts connections.")]
    Scheduler(SchedulerArgs),

    /// An executor: runs tasks (decoding, partial verdicts, shuffles) for a scheduler.
    #[command(after_help = "\
Examples:
  vpcflow cluster executor --scheduler 10.0.0.5:50050 --slots 8
  vpcflow cluster executor --scheduler 127.0.0.1:50050 --endpoint-url http://127.0.0.1:5000

It reads S3 with the standard credential chain (env, profile, IMDS), and local paths as the
client named them: give every process the same view of local files (a shared volume).")]
    Executor(ExecutorArgs),
}

/// `vpcflow cluster scheduler`.
#[cfg(feature = "distributed")]
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// The address to listen on (port 0: any free port).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    pub bind: std::net::SocketAddr,

    /// Seconds without a heartbeat after which an executor is taken for lost and its tasks
    /// run elsewhere.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = values::timeout)]
    pub executor_timeout: Duration,
}

/// `vpcflow cluster executor`.
#[cfg(feature = "distributed")]
#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler's address.
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: String,

    /// Tasks run at once (default: the cores).
    #[arg(long, value_name = "N", value_parser = values::threads)]
    pub slots: Option<usize>,

    /// The address to serve shuffle data on, told to the scheduler (port 0: any free port).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:0")]
    pub bind: std::net::SocketAddr,

    /// The port of the executor's gRPC service on the same host (default: a free one).
    #[arg(long, value_name = "PORT")]
    pub grpc_port: Option<u16>,

    /// Where shuffle files go (default: a temporary directory, which an executor that is
    /// killed leaves behind). The scheduler has a job's files removed 5 minutes after it ends.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,

    /// Seconds between heartbeats to the scheduler.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = values::timeout)]
    pub heartbeat: Duration,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// What `query` writes.
#[cfg(feature = "distributed")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryOutput {
    /// An aligned text table.
    Table,
    /// One JSON object per row.
    Json,
    /// CSV with a header line.
    Csv,
    /// A Parquet file (needs --out).
    Parquet,
}

/// `vpcflow query`.
#[cfg(feature = "distributed")]
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The query; the table is `flows`.
    #[arg(value_name = "SQL")]
    pub sql: String,

    /// Flow-log files (.log, .log.gz, .parquet), directories (read recursively), or
    /// s3://bucket/prefix locations.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<String>,

    /// What to write.
    #[arg(short, long, value_enum, default_value_t = QueryOutput::Table)]
    pub output: QueryOutput,

    /// Run on a Ballista cluster (`df://HOST:PORT`, its scheduler) instead of in this process.
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,

    /// With --cluster: how the data stages hand on is compressed (Ballista's default, LZ4).
    #[arg(long, value_enum, value_name = "CODEC", default_value_t = ShuffleCodec::Lz4, requires = "cluster")]
    pub shuffle_codec: ShuffleCodec,

    // Which S3 objects are read (a filter on `start` or `end` prunes them too).
    #[command(flatten)]
    pub window: KeyWindowArgs,

    #[command(flatten)]
    pub aws: AwsArgs,

    /// Write to this file instead of stdout (required for parquet).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// Overwrite --out if it exists.
    #[arg(long)]
    pub force: bool,

    /// The log format (the `${field} ...` string of the flow log); its fields are the columns.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,

    /// Partitions DataFusion plans for (default: the cores).
    #[arg(long, value_name = "N", value_parser = values::threads)]
    pub threads: Option<usize>,
}
