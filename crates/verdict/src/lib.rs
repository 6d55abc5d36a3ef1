//! The verdict engine: which connection attempts to known database endpoints were blocked,
//! where, and since when.
//!
//! # A tour
//! - [`Catalogue`]: the endpoints to judge, from TOML; [`Plan`]: a catalogue with its lookup
//!   tables and the time window, shared by every state of a run.
//! - [`VerdictState`]: the mergeable partial state of a run. Records fold into it; two states
//!   merge into the state of both sets of records, whatever the order; it serialises in a
//!   versioned binary form ([`StateError`] when that cannot be read).
//! - [`Aggregator`]: the shared, concurrent state of a run, bounded in memory by spilling to
//!   temporary files; each decoding thread folds batches in through its own [`Worker`].
//! - [`Attempt`] and [`Outcome`]: one TCP connection attempt and what happened to it; records of
//!   one client port more than [`PORT_REUSE_GAP_SECS`] apart are different attempts.
//! - [`Report`] and [`PairVerdict`]: per client–endpoint pair, [`Verdict`]s with counts, times,
//!   a reason and a confidence; [`Report::to_batch`] hands them to any output writer.
//!
//! The semantics are specified in `docs/verdicts.md`.
#![deny(missing_docs)]

mod attempts;
mod catalogue;
mod codec;
mod columns;
mod engine;
pub mod expect;
mod judged;
mod outcome;
mod plan;
mod reason;
mod report;
mod spill;
mod state;

use std::net::IpAddr;

pub use attempts::PORT_REUSE_GAP_SECS;
pub use catalogue::{
    Catalogue, CatalogueError, Client, Endpoint, NoResolver, Resolve, SystemResolver,
};
pub use codec::{StateError, VERSION as STATE_VERSION};
pub use engine::{
    Aggregator, BYTES_PER_ATTEMPT, DEFAULT_MEMORY_LIMIT, MissingFields, READ, REQUIRED, Worker,
};
pub use outcome::{Attempt, Counts, Outcome, Timeline, Verdict, flag, tcp};
pub use plan::Plan;
pub use report::{Confidence, Explanation, Hop, PairVerdict, Report, RunStats, Side, rfc3339};
pub use spill::remove_spill_dirs;
pub use state::VerdictState;

/// An address as the 16 bytes the decoder stores.
pub(crate) fn ip16(a: IpAddr) -> [u8; 16] {
    vpcflow_core::value::ip_to_bytes(a)
}
