//! The verdict engine: which connection attempts to known database endpoints were blocked,
//! where, and since when.
//!
//! # A tour
//! - [`Catalogue`]: the endpoints to judge, from TOML.
//! - [`Aggregator`]: shared, concurrent state; each decoding thread folds batches in through
//!   its own [`Worker`].
//! - [`Attempt`] and [`Outcome`]: one TCP connection attempt and what happened to it.
//! - [`Report`] and [`PairVerdict`]: per client–endpoint pair, [`Verdict`]s with counts, times,
//!   a reason and a confidence; [`Report::to_batch`] hands them to any output writer.
//!
//! The semantics are specified in `docs/verdicts.md`.
#![deny(missing_docs)]

mod catalogue;
mod engine;
mod outcome;
mod report;
mod state;

use std::net::IpAddr;

pub use catalogue::{Catalogue, CatalogueError, Endpoint};
pub use engine::{Aggregator, DEFAULT_OPEN_LIMIT, MissingFields, SEAL_AFTER_SECS, Worker};
pub use outcome::{Attempt, Counts, Outcome, Timeline, Verdict, flag, tcp};
pub use report::{Confidence, Explanation, PairVerdict, Report, RunStats, rfc3339};
pub use state::{PairRecord, SealedRecord, State};

/// An address as the 16 bytes the decoder stores.
pub(crate) fn ip16(a: IpAddr) -> [u8; 16] {
    vpcflow_core::value::ip_to_bytes(a)
}
