//! A Ballista cluster that runs vpcflow's plans: the scheduler and an executor as library
//! calls (the `vpcflow cluster` commands wrap them), and the client's remote session.
//!
//! Every process carries the same [`LogicalCodec`] and [`PhysicalCodec`], and a function
//! registry with `vpcflow_shard`; the verdict aggregate travels inside the plan with its
//! catalogue. Executors read S3 with the standard credential chain and their own options
//! ([`set_s3_access`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use vpcflow_aws::AwsOptions;

use crate::SHARD;
use crate::codec::{LogicalCodec, PhysicalCodec};
use crate::table::{FlowTable, set_s3_access};
use crate::verdict::{ShardUdf, VerdictUdaf};

fn ballista(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// How fast a cluster notices a lost executor.
#[derive(Clone, Copy, Debug)]
pub struct Liveness {
    /// How often an executor tells the scheduler it is alive.
    pub heartbeat: Duration,
    /// How long the scheduler waits without a heartbeat before it takes an executor for lost
    /// and runs its tasks elsewhere.
    pub executor_timeout: Duration,
}

impl Default for Liveness {
    fn default() -> Liveness {
        Liveness {
            heartbeat: Duration::from_secs(5),
            executor_timeout: Duration::from_secs(30),
        }
    }
}

/// Runs a scheduler on `listener` until the process ends.
pub async fn run_scheduler(listener: tokio::net::TcpListener, liveness: Liveness) -> Result<()> {
    let addr = listener.local_addr()?;
    let config = SchedulerConfig {
        bind_host: addr.ip().to_string(),
        external_host: addr.ip().to_string(),
        bind_port: addr.port(),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        override_session_builder: Some(Arc::new(|config: SessionConfig| {
            let state = default_session_builder(config)?;
            Ok(SessionStateBuilder::new_from_existing(state)
                .with_scalar_functions(vec![Arc::new(ScalarUDF::from(ShardUdf::default()))])
                .build())
        })),
        executor_timeout_seconds: liveness.executor_timeout.as_secs().max(1),
        expire_dead_executor_interval_seconds: (liveness.executor_timeout.as_secs() / 4).max(1),
        no_executors_grace_period_seconds: liveness.executor_timeout.as_secs().max(1),
        ..SchedulerConfig::default()
    };
    let config = Arc::new(config);
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ballista)?;
    let scheduler = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config)
        .await
        .map_err(ballista)?;
    start_grpc_service_with_listener(listener, scheduler)
        .await
        .map_err(ballista)
}

/// An executor's settings.
#[derive(Clone, Debug)]
pub struct ExecutorOptions {
    /// The scheduler's host and port.
    pub scheduler: (String, u16),
    /// The address the executor serves its shuffle data on (Arrow Flight), and tells the
    /// scheduler; its port must be free.
    pub flight: SocketAddr,
    /// The port of its gRPC service, on the same host.
    pub grpc_port: u16,
    /// Tasks it runs at once.
    pub slots: usize,
    /// Where shuffle files go (default: a temporary directory).
    pub work_dir: Option<PathBuf>,
    /// How it reads S3.
    pub aws: AwsOptions,
    /// How often it reports to the scheduler.
    pub liveness: Liveness,
}

/// Runs an executor until the process ends.
pub async fn run_executor(opts: ExecutorOptions) -> Result<()> {
    set_s3_access(opts.aws.clone());
    let mut registry = BallistaFunctionRegistry::default();
    let shard = Arc::new(ScalarUDF::from(ShardUdf::default()));
    registry.scalar_functions.insert(SHARD.to_owned(), shard);
    let config = ExecutorProcessConfig {
        bind_host: opts.flight.ip().to_string(),
        external_host: Some(opts.flight.ip().to_string()),
        port: opts.flight.port(),
        grpc_port: opts.grpc_port,
        scheduler_host: opts.scheduler.0.clone(),
        scheduler_port: opts.scheduler.1,
        vcores: opts.slots.max(1),
        work_dir: opts.work_dir.map(|p| p.display().to_string()),
        executor_heartbeat_interval_seconds: opts.liveness.heartbeat.as_secs().max(1),
        override_function_registry: Some(Arc::new(registry)),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(ballista)
}

/// How the files a stage writes for the next one (its shuffle output, and a job's result) are
/// compressed: Ballista's `ballista.shuffle.compression.codec`. Executors send shuffle files to
/// each other as they are (Ballista's block transport); a job's result goes to the client over
/// Arrow Flight, LZ4 there whatever this says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ShuffleCodec {
    /// Not compressed: the verdict's default, since its states are packed varints that LZ4
    /// halves at a CPU cost larger than the time a fast network saves (docs/distributed.md).
    #[default]
    None,
    /// LZ4 frames: Ballista's default.
    Lz4,
    /// Zstandard: the fewest bytes, the most CPU.
    Zstd,
}

impl ShuffleCodec {
    /// Ballista's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ShuffleCodec::None => "none",
            ShuffleCodec::Lz4 => "lz4",
            ShuffleCodec::Zstd => "zstd",
        }
    }
}

/// How a client session plans the queries it sends to a cluster.
#[derive(Clone, Copy, Debug)]
pub struct Remote {
    /// Target partitions: of the final stage, across which a verdict's shards are spread.
    pub partitions: usize,
    /// How stages' outputs are compressed.
    pub shuffle: ShuffleCodec,
}

/// A client session on the cluster at `url` (`df://host:port`) with `table` as `flows`,
/// `vpcflow_shard`, and `vpcflow_verdict` when given, planned as `remote` says. Queries on it
/// run on the cluster's executors.
pub async fn remote_session(
    url: &str,
    table: FlowTable,
    verdict: Option<VerdictUdaf>,
    remote: Remote,
) -> Result<SessionContext> {
    let mut config = SessionConfig::new_with_ballista()
        .with_target_partitions(remote.partitions.max(1))
        .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::default()));
    config.options_mut().set(
        ballista_core::config::BALLISTA_SHUFFLE_COMPRESSION_CODEC,
        remote.shuffle.as_str(),
    )?;
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .build();
    crate::with_flows(
        SessionContext::remote_with_state(url, state).await?,
        table,
        verdict,
    )
}
