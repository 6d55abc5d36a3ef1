//! vpcflow's integration tests: the binary run as users run it, against real servers (moto)
//! started on loopback. One test binary with a module per area, as ripgrep's `tests/tests.rs`
//! does it: the four AWS SDK clients the tests set servers up with are linked once, not once per
//! file.

#![allow(clippy::unwrap_used)]

mod common;

mod archives;
mod bench;
#[cfg(feature = "distributed")]
mod cluster;
mod convert;
mod explain;
mod faults;
mod logs;
mod ocsf;
mod order;
mod parse;
#[cfg(feature = "distributed")]
mod query;
mod report;
mod s3;
mod split;
mod sqs;
mod verdict;
