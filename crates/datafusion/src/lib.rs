//! vpcflow on Apache DataFusion: flow logs as a SQL table decoded by vpcflow's own decoder,
//! and the verdict as an aggregate whose partial state is the mergeable [`VerdictState`].
//!
//! # A tour
//! - [`FlowTable`]: files and S3 objects (text, gzip, Parquet, JSON envelopes) as the table
//!   `flows`, one partition per object, file or byte range of a large file, decoding only the
//!   columns a query uses where the source can skip them.
//! - [`VerdictUdaf`]: `vpcflow_verdict(srcaddr, dstaddr, …)`, the verdict state of the records
//!   of a group, in [`VerdictState::encode`]'s binary form; partial states cross stages in
//!   that form and merge exactly. As `vpcflow_judged`, its final value is the group's
//!   verdicts instead.
//! - [`ShardUdf`]: `vpcflow_shard(srcaddr, dstaddr)`, a group key equal for both directions of
//!   a conversation, so the verdict's final stage is split by key across partitions.
//! - [`session`], [`shard_states`] and [`verdict_state`]: a context with the table and both
//!   functions, and the query that gives a run's verdict state, per shard or whole.
//! - [`cluster`]: the same on Apache Ballista: a scheduler, executors, and a client session
//!   whose queries run on them; [`codec`] carries the table, scan and functions across.
//!
//! Nothing below this crate depends on DataFusion.
#![deny(missing_docs)]

pub mod cluster;
pub mod codec;
mod table;
mod verdict;

use std::sync::Arc;

use arrow_array::{Array, BinaryArray};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::{SessionConfig, SessionContext};
use vpcflow_aws::AwsOptions;
use vpcflow_verdict::{READ, VerdictState};

pub use table::{FlowFileSource, FlowSource, FlowTable, scan_exec, scan_parts, set_s3_access};
pub use verdict::{JUDGED, SHARD, SHARDS, ShardUdf, VERDICT, VerdictUdaf};

/// The table's name in SQL.
pub const TABLE: &str = "flows";

/// A local context with `table` as `flows`, `vpcflow_shard`, and `vpcflow_verdict` when a
/// verdict aggregate is given, planning for `partitions` target partitions; S3 sources are
/// read with `aws` (see [`set_s3_access`]).
pub fn session(
    table: FlowTable,
    verdict: Option<VerdictUdaf>,
    partitions: usize,
    aws: AwsOptions,
) -> Result<SessionContext> {
    set_s3_access(aws);
    let config = SessionConfig::new().with_target_partitions(partitions.max(1));
    with_flows(SessionContext::new_with_config(config), table, verdict)
}

/// `ctx` with `table` as `flows`, `vpcflow_shard`, and `vpcflow_verdict` when given: what a
/// local and a cluster session both have.
pub(crate) fn with_flows(
    ctx: SessionContext,
    table: FlowTable,
    verdict: Option<VerdictUdaf>,
) -> Result<SessionContext> {
    ctx.register_table(TABLE, Arc::new(table))?;
    ctx.register_udf(ScalarUDF::from(ShardUdf::default()));
    if let Some(v) = verdict {
        ctx.register_udaf(AggregateUDF::from(v));
    }
    Ok(ctx)
}

/// The SQL that gives the verdict state of every record of `flows` by shard: `function`
/// ([`VERDICT`] for each shard's state, [`JUDGED`] for its verdicts) of the columns of [`READ`]
/// the table has, grouped by `vpcflow_shard`.
pub fn verdict_sql(table: &FlowTable, function: &str) -> String {
    let columns: Vec<String> = READ
        .iter()
        .filter(|c| table.format().index_of(c).is_some())
        .map(|c| format!("\"{c}\""))
        .collect();
    format!(
        "SELECT {function}({}) AS state FROM {TABLE} GROUP BY {SHARD}(srcaddr, dstaddr)",
        columns.join(", ")
    )
}

/// Runs [`verdict_sql`] with `function` on `ctx`: the encoded state of each shard
/// ([`VerdictState::encode`]), or with [`JUDGED`] its verdicts
/// ([`VerdictState::encode_judged`]: judged where the shard's final state was made). No pair
/// is in two of them (the shard is a function of the pair's addresses), so a caller can read
/// them one at a time (`Aggregator::report_shards`).
pub async fn shard_states(
    ctx: &SessionContext,
    table: &FlowTable,
    function: &str,
) -> Result<Vec<BinaryArray>> {
    let batches = ctx
        .sql(&verdict_sql(table, function))
        .await?
        .collect()
        .await?;
    batches
        .iter()
        .map(
            |batch| match batch.column(0).as_any().downcast_ref::<BinaryArray>() {
                Some(states) => Ok(states.clone()),
                None => Err(DataFusionError::Internal(
                    "the verdict query returned no binary states".into(),
                )),
            },
        )
        .collect()
}

/// [`shard_states`] merged into the state of the whole run, for `verdict`'s plan.
pub async fn verdict_state(
    ctx: &SessionContext,
    table: &FlowTable,
    verdict: &VerdictUdaf,
) -> Result<VerdictState> {
    let mut state = VerdictState::new(verdict.plan().clone());
    for states in shard_states(ctx, table, VERDICT).await? {
        verdict::merge_states(&mut state, &states)?;
    }
    Ok(state)
}

#[cfg(test)]
mod tests;
