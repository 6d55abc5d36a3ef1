//! `vpcflow cluster scheduler` and `vpcflow cluster executor`: Ballista's processes with
//! vpcflow's codecs and functions (feature `distributed`).

use std::io::Write;
use std::net::{SocketAddr, TcpListener};

use anyhow::{Context, Result};
use vpcflow_aws::AwsOptions;
use vpcflow_datafusion::cluster::{ExecutorOptions, Liveness, run_executor, run_scheduler};

use crate::aws::runtime;
use crate::flags::{ExecutorArgs, SchedulerArgs};
use crate::report::EXIT_OK;

/// Runs the scheduler until it is stopped (Ctrl-C, SIGTERM).
pub fn scheduler(args: SchedulerArgs) -> Result<u8> {
    let rt = runtime(2)?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("cannot listen on {}", args.bind))?;
        let addr = listener.local_addr()?;
        announce(&format!("scheduler listening on {addr}"))?;
        let liveness = Liveness {
            executor_timeout: args.executor_timeout,
            ..Liveness::default()
        };
        tokio::select! {
            served = run_scheduler(listener, liveness) => served.context("the scheduler stopped")?,
            _ = stopped() => {}
        }
        Ok(EXIT_OK)
    })
}

/// Runs an executor until it is stopped (Ctrl-C, SIGTERM).
pub fn executor(args: ExecutorArgs, aws: AwsOptions) -> Result<u8> {
    let (host, port) = args
        .scheduler
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
        .with_context(|| format!("--scheduler {}: expected HOST:PORT", args.scheduler))?;
    let flight = match args.bind.port() {
        0 => free_port(args.bind)?,
        _ => args.bind,
    };
    let grpc_port = match args.grpc_port {
        Some(p) => p,
        None => free_port(SocketAddr::new(flight.ip(), 0))?.port(),
    };
    let slots = args
        .slots
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let opts = ExecutorOptions {
        scheduler: (host.clone(), port),
        flight,
        grpc_port,
        slots,
        work_dir: args.work_dir,
        aws,
        liveness: Liveness {
            heartbeat: args.heartbeat,
            ..Liveness::default()
        },
    };
    let rt = runtime(slots.max(2))?;
    rt.block_on(async {
        announce(&format!(
            "executor serving on {flight} (gRPC port {grpc_port}, {slots} slots) for the scheduler at {host}:{port}"
        ))?;
        tokio::select! {
            served = run_executor(opts) => served.context("the executor stopped")?,
            _ = stopped() => {}
        }
        Ok(EXIT_OK)
    })
}

/// A line on stdout, flushed: scripts and tests wait for it.
fn announce(line: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// A port on `addr`'s host that is free now. Ballista binds its executor's ports itself and
/// tells the scheduler the configured ones, so port 0 cannot be passed through.
fn free_port(addr: SocketAddr) -> Result<SocketAddr> {
    let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    Ok(listener.local_addr()?)
}

/// Ctrl-C or SIGTERM.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
