//! One module per command. Each takes its resolved options ([`crate::flags::resolve`]) and
//! runs; none imports another, and what two commands share lives in a leaf module beside
//! `cmd/` (`aws`, `s3`, `logs`, `catalogue`, `report`, `output`).

mod bench;
#[cfg(feature = "distributed")]
mod cluster;
mod convert;
mod endpoints;
mod generate;
mod parse;
#[cfg(feature = "distributed")]
mod query;
mod tail;
mod verdict;

use anyhow::Result;

use crate::flags::resolve::Job;

/// Runs a resolved command; returns its exit code.
pub fn run(job: Job) -> Result<u8> {
    match job {
        Job::Parse(j) => parse::run(j),
        Job::Verdict(j) => verdict::run(*j),
        Job::Tail(j) => tail::run(*j),
        Job::Convert(j) => convert::run(j),
        Job::Bench(args, run) => bench::run(args, run),
        Job::Discover(j) => endpoints::run(j),
        Job::Generate(args) => generate::run(args),
        #[cfg(feature = "distributed")]
        Job::Query(job) => query::run(*job),
        #[cfg(feature = "distributed")]
        Job::Scheduler(args) => cluster::scheduler(args),
        #[cfg(feature = "distributed")]
        Job::Executor(args, aws) => cluster::executor(args, aws),
    }
}
