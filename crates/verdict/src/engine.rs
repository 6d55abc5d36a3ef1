//! The aggregator: decoded batches in, per-pair state out, concurrently, in bounded memory.
//!
//! An [`Aggregator`] is shared by every decoding thread. Each thread takes a [`Worker`], which
//! folds batches into a [`VerdictState`] of its own (no locks) and then commits it into the
//! shared [`DashMap`] pair by pair. Merging is a set operation, so the result does not depend on
//! record order, on how input is split into batches or files, or on the number of threads.
//!
//! Memory is bounded by spilling, never by guessing: when the shared map holds more attempts
//! than the bound allows, every pair in it is written to a spill file chosen by a hash of the
//! pair, and the map is emptied. The report then merges one partition at a time
//! (`docs/architecture.md`, "Bounded memory").

use std::io;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use dashmap::DashMap;
use hashbrown::HashMap;

use crate::catalogue::{Catalogue, Endpoint};
use crate::codec::{Form, PairReader, StateError, StateReader, StateWriter, put_pair};
use crate::columns::{Observation, fold_batch};
use crate::plan::{EniTable, Plan, mapped};
use crate::report::{PairVerdict, Report, RunStats, Side, confidence, judge};
use crate::spill::{PARTITIONS, Spill, partition};
use crate::state::{PairKey, PairState, VerdictState};

/// Why a batch cannot be judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingFields(pub Vec<&'static str>);

impl std::fmt::Display for MissingFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "verdicts need the fields {}, which the log format lacks (pass --log-format if the \
             records have them)",
            self.0.join(", ")
        )
    }
}

impl std::error::Error for MissingFields {}

/// The fields a record must have to be judged.
pub const REQUIRED: [&str; 6] = [
    "srcaddr", "dstaddr", "srcport", "dstport", "protocol", "action",
];

/// Every field verdicts read: [`REQUIRED`], then those used where present. Sources that can
/// skip columns (Parquet) read only these for `verdict` and `tail`.
pub const READ: [&str; 15] = [
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "action",
    "log-status",
    "interface-id",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "start",
    "end",
    "tcp-flags",
    "flow-direction",
    "reject-reason",
];

/// What one attempt costs in memory, all overheads included (a measured estimate): the memory
/// bound is divided by it to give the attempts held before spilling.
pub const BYTES_PER_ATTEMPT: usize = 64;

/// Spilled bytes take about this many times as much memory once merged back.
const ENCODED_TO_MEMORY: u64 = 5;

/// How deep a partition that does not fit is split again.
const MAX_LEVELS: u32 = 4;

/// The default memory bound of an aggregator's shared state.
pub const DEFAULT_MEMORY_LIMIT: usize = 64 << 20;

/// A state that cannot be read, as an I/O error of invalid data.
fn unreadable(e: StateError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// NODATA and SKIPDATA records per ENI id.
type EniStatus = HashMap<u32, (u64, u64)>;

/// Shared state of a verdict run.
#[derive(Debug)]
pub struct Aggregator {
    plan: Arc<Plan>,
    pairs: DashMap<PairKey, PairState, hashbrown::DefaultHashBuilder>,
    /// Every ENI name the run has seen; pairs in `pairs` and in spill files use these ids.
    enis: RwLock<EniTable>,
    /// NODATA and SKIPDATA records per ENI id.
    eni_status: DashMap<u32, (u64, u64), hashbrown::DefaultHashBuilder>,
    stats: Mutex<RunStats>,
    /// Attempts in `pairs`.
    held: AtomicI64,
    /// Spill when more than this many attempts are held.
    limit: usize,
    temp_dir: Option<PathBuf>,
    spill: Mutex<SpillState>,
    /// Reports made from spilled state so far.
    reports: AtomicUsize,
}

#[derive(Debug, Default)]
struct SpillState {
    spill: Option<Spill>,
    /// The first spill failure: the run then holds everything in memory, and the report fails.
    error: Option<String>,
}

impl Aggregator {
    /// An aggregator for `catalogue`, counting only records that overlap `[since, until]`
    /// (Unix seconds; `None` is open).
    pub fn new(catalogue: Catalogue, since: Option<i64>, until: Option<i64>) -> Aggregator {
        Aggregator::for_plan(Plan::new(catalogue, since, until))
    }

    /// An aggregator for `plan`.
    pub fn for_plan(plan: Arc<Plan>) -> Aggregator {
        Aggregator {
            plan,
            pairs: DashMap::default(),
            enis: RwLock::default(),
            eni_status: DashMap::default(),
            stats: Mutex::default(),
            held: AtomicI64::new(0),
            limit: DEFAULT_MEMORY_LIMIT / BYTES_PER_ATTEMPT,
            temp_dir: None,
            spill: Mutex::default(),
            reports: AtomicUsize::new(0),
        }
    }

    /// Bounds the memory of the shared state to about `bytes`: beyond it, the state is spilled
    /// to temporary files. Verdicts do not depend on the bound.
    pub fn with_memory_limit(mut self, bytes: usize) -> Aggregator {
        self.limit = (bytes / BYTES_PER_ATTEMPT).max(1);
        self
    }

    /// Spill into `dir` (`None`: the system's temporary directory, `TMPDIR`). Spill files that
    /// runs killed with `-9` left there are removed now.
    pub fn with_temp_dir(mut self, dir: Option<PathBuf>) -> Aggregator {
        crate::spill::remove_stale(&dir.clone().unwrap_or_else(std::env::temp_dir));
        self.temp_dir = dir;
        self
    }

    /// The catalogue the verdicts are about.
    pub fn catalogue(&self) -> &Catalogue {
        &self.plan.catalogue
    }

    /// The plan (catalogue and window).
    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// Attempts held in memory now.
    pub fn attempts_in_memory(&self) -> usize {
        self.held.load(Ordering::Relaxed).max(0) as usize
    }

    /// Bytes spilled to disk so far, and how many times the state was spilled.
    pub fn spilled(&self) -> (u64, u64) {
        self.spill
            .lock()
            .ok()
            .and_then(|s| s.spill.as_ref().map(|s| (s.bytes(), s.runs)))
            .unwrap_or((0, 0))
    }

    /// A per-thread worker.
    pub fn worker(&self) -> Worker<&Aggregator> {
        Worker::new(self)
    }

    /// Merges `local` (a state of this aggregator's plan) in and empties it. `global` maps the
    /// state's ENI ids to the aggregator's, and is extended as the state's table grows.
    fn absorb(&self, local: &mut VerdictState, global: &mut Vec<u32>) {
        if global.len() < local.enis.len()
            && let Ok(mut table) = self.enis.write()
        {
            for name in &local.enis.names()[global.len()..] {
                global.push(table.id(name));
            }
        }
        let map = |id: u32| mapped(global, id);
        if let Ok(mut stats) = self.stats.lock() {
            stats.add(&local.stats);
        }
        local.stats = RunStats::default();
        for (id, (n, s)) in local.eni_status.drain() {
            let mut e = self.eni_status.entry(map(id)).or_default();
            e.0 += n;
            e.1 += s;
        }
        let mut delta = 0isize;
        for (key, mut pair) in local.drain_pairs() {
            match self.pairs.entry(key) {
                dashmap::Entry::Occupied(mut e) => delta += e.get_mut().merge_owned(pair, &map),
                dashmap::Entry::Vacant(e) => {
                    for eni in &mut pair.enis {
                        eni.0 = map(eni.0);
                    }
                    delta += pair.attempt_count() as isize;
                    e.insert(pair);
                }
            }
        }
        self.held.fetch_add(delta as i64, Ordering::Relaxed);
        self.maybe_spill();
    }

    /// Spills when more attempts are held than the bound allows.
    fn maybe_spill(&self) {
        if self.attempts_in_memory() <= self.limit {
            return;
        }
        // One thread spills; the others go on committing (into pairs it has already visited).
        let Ok(mut guard) = self.spill.try_lock() else {
            return;
        };
        if guard.error.is_some() {
            return;
        }
        if let Err(e) = self.spill_all(&mut guard) {
            guard.error = Some(e.to_string());
        }
    }

    /// Writes every pair in memory to its partition and empties the map.
    fn spill_all(&self, guard: &mut SpillState) -> io::Result<()> {
        if guard.spill.is_none() {
            guard.spill = Some(Spill::create(self.temp_dir.as_deref())?);
        }
        let Some(spill) = guard.spill.as_mut() else {
            return Ok(());
        };
        let mut written = 0usize;
        let mut failure = None;
        self.pairs.retain(|key, pair| {
            if failure.is_some() {
                return true;
            }
            put_pair(spill.buffer(partition(key, 0)), *key, pair, &|id| id);
            written += pair.attempt_count();
            if let Err(e) = spill.flush(false) {
                failure = Some(e);
            }
            false
        });
        if let Some(e) = failure {
            return Err(e);
        }
        spill.flush(true)?;
        spill.runs += 1;
        self.held.fetch_sub(written as i64, Ordering::Relaxed);
        tracing::debug!(written, bytes = spill.bytes(), "spilled the verdict state");
        Ok(())
    }

    /// The ENI names and each ENI's NODATA and SKIPDATA counts, as the report needs them.
    fn eni_tables(&self) -> io::Result<(std::sync::RwLockReadGuard<'_, EniTable>, EniStatus)> {
        let enis = self
            .enis
            .read()
            .map_err(|_| io::Error::other("the ENI table lock is poisoned"))?;
        let status = self
            .eni_status
            .iter()
            .map(|e| (*e.key(), *e.value()))
            .collect();
        Ok((enis, status))
    }

    /// The run counters so far.
    pub fn stats(&self) -> RunStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// Computes the verdicts. After a spill, the partitions are read one at a time (and
    /// compacted as they are read, so a tail that reports often does not re-merge old runs).
    pub fn report(&self) -> io::Result<Report> {
        Ok(Report::new(self.verdicts()?, self.stats(), &self.plan))
    }

    /// The verdicts of what this aggregator holds together with `shards`: the final outputs of
    /// a distributed run, one per shard key, each a state in [`VerdictState::encode`]'s form or
    /// the verdicts of one in [`VerdictState::encode_judged`]'s. No two of them may hold the
    /// same pair, nor this aggregator any of their pairs.
    ///
    /// Their headers (counters, ENIs, NODATA and SKIPDATA) are merged first, since a verdict's
    /// confidence depends on every ENI; then each shard is judged (or its verdicts read, and
    /// their confidence decided) on its own, `threads` at a time, never merged into the shared
    /// map pair by pair nor spilled. A state too large to hold within the memory bound that way
    /// is read in as any state is (and spills if it must). A pair in two shards is an error,
    /// not a second verdict.
    pub fn report_shards(&self, shards: &[&[u8]], threads: usize) -> io::Result<Report> {
        let threads = threads.max(1);
        let room = (self.limit * BYTES_PER_ATTEMPT) as u64 / threads as u64;
        let mut direct = Vec::with_capacity(shards.len());
        for &bytes in shards {
            let form = Form::of(bytes);
            if form == Form::Judged
                || (bytes.len() as u64).saturating_mul(ENCODED_TO_MEMORY) <= room
            {
                let reader = StateReader::begin(form, bytes, &self.plan).map_err(unreadable)?;
                let (mut header, _) = VerdictState::of_header(self.plan.clone(), reader.header());
                self.absorb(&mut header, &mut Vec::new());
                direct.push(bytes);
            } else {
                self.read_state(bytes).map_err(unreadable)?;
            }
        }
        let mut verdicts = self.verdicts()?;
        let (enis, status) = self.eni_tables()?;
        let judge_shard = |bytes: &[u8]| -> Result<Vec<PairVerdict>, StateError> {
            if Form::of(bytes) == Form::Judged {
                return self.read_judged(bytes, &enis, &status);
            }
            let mut state = VerdictState::decode(self.plan.clone(), bytes)?;
            // The shard's ENI ids → the aggregator's (every name is there: its header was read).
            let ids = global_ids(&enis, state.enis.names());
            Ok(state
                .drain_pairs()
                .map(|(key, mut pair)| {
                    for (id, _) in &mut pair.enis {
                        *id = mapped(&ids, *id);
                    }
                    judge(&self.plan, &enis, &status, key, &pair)
                })
                .collect())
        };
        let judge_shard = &judge_shard;
        let per_thread = direct.len().div_ceil(threads).max(1);
        let judged: Vec<Result<Vec<PairVerdict>, StateError>> = std::thread::scope(|scope| {
            let running: Vec<_> = direct
                .chunks(per_thread)
                .map(|chunk| {
                    scope.spawn(move || {
                        let mut out = Vec::new();
                        for bytes in chunk {
                            out.extend(judge_shard(bytes)?);
                        }
                        Ok(out)
                    })
                })
                .collect();
            running
                .into_iter()
                .map(|t| {
                    t.join().unwrap_or_else(|_| {
                        Err(StateError::Io(io::Error::other(
                            "a thread judging shards panicked",
                        )))
                    })
                })
                .collect()
        });
        for shard in judged {
            verdicts.extend(shard.map_err(unreadable)?);
        }
        let mut seen = std::collections::HashSet::with_capacity(verdicts.len());
        if !shards.is_empty()
            && let Some(v) = verdicts
                .iter()
                .find(|v| !seen.insert((&v.endpoint, v.client)))
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} and client {} are in two shard states; a run's shards must not share a \
                     pair (are these states of two runs?)",
                    v.endpoint, v.client
                ),
            ));
        }
        Ok(Report::new(verdicts, self.stats(), &self.plan))
    }

    /// The verdicts of a judged form, their confidence decided with the aggregator's ENI table
    /// `enis` and NODATA/SKIPDATA counts `status` (the header was merged into them).
    fn read_judged(
        &self,
        bytes: &[u8],
        enis: &EniTable,
        status: &EniStatus,
    ) -> Result<Vec<PairVerdict>, StateError> {
        let mut reader = StateReader::begin(Form::Judged, bytes, &self.plan)?;
        let ids = global_ids(enis, &reader.header().enis);
        let decide = |side: Side, e: &Endpoint, pair_enis: &[u32]| {
            confidence(
                side,
                e,
                enis,
                status,
                pair_enis.iter().map(|&id| mapped(&ids, id)),
            )
        };
        let mut verdicts = Vec::new();
        while let Some(v) = reader.next_verdict(&self.plan, &decide)? {
            verdicts.push(v);
        }
        Ok(verdicts)
    }

    /// The verdict of every pair held, in memory and spilled.
    fn verdicts(&self) -> io::Result<Vec<PairVerdict>> {
        let mut guard = self
            .spill
            .lock()
            .map_err(|_| io::Error::other("the spill lock is poisoned"))?;
        if let Some(e) = &guard.error {
            return Err(io::Error::other(format!(
                "cannot spill the verdict state to disk: {e}; pass --temp-dir with room, or \
                 raise --memory-limit"
            )));
        }
        let (enis, status) = self.eni_tables()?;
        let mut verdicts: Vec<PairVerdict> = Vec::new();
        if guard.spill.is_none() {
            verdicts.extend(
                self.pairs
                    .iter()
                    .map(|e| judge(&self.plan, &enis, &status, *e.key(), e.value())),
            );
        } else {
            // Spilling takes no ENI lock: the table only grows, and these ids stay valid.
            self.spill_all(&mut guard)?;
            // Compacting the partitions pays off only for the reports after this one (a tail's).
            let compact = self.reports.fetch_add(1, Ordering::Relaxed) > 0;
            let Some(spill) = guard.spill.as_mut() else {
                return Err(io::Error::other("the spill went away"));
            };
            for part in 0..PARTITIONS {
                spill.flush(true)?;
                let size = spill.size(part);
                if size == 0 {
                    continue;
                }
                let path = spill.path(part);
                let judge_all = &mut |pairs: &HashMap<PairKey, PairState>| {
                    verdicts.extend(
                        pairs
                            .iter()
                            .map(|(key, pair)| judge(&self.plan, &enis, &status, *key, pair)),
                    );
                };
                if let Some(compact) = self.judge_file(&path, size, 1, compact, judge_all)?
                    && (compact.len() as u64) < size
                {
                    spill.replace(part, &compact)?;
                }
            }
        }
        Ok(verdicts)
    }

    /// Merges the pair records of one spill file and hands them to `judge_all`; returns them
    /// compacted. A file too large to merge within the memory bound is split first into
    /// sub-partitions by a hash of another `level`, each merged on its own (a single pair is
    /// never split: it is the unit of a verdict).
    fn judge_file(
        &self,
        path: &std::path::Path,
        size: u64,
        level: u32,
        compact: bool,
        judge_all: &mut dyn FnMut(&HashMap<PairKey, PairState>),
    ) -> io::Result<Option<Vec<u8>>> {
        let open = || -> io::Result<PairReader<io::BufReader<std::fs::File>>> {
            Ok(PairReader::new(io::BufReader::with_capacity(
                1 << 16,
                std::fs::File::open(path)?,
            )))
        };
        let fits =
            size.saturating_mul(ENCODED_TO_MEMORY) <= (self.limit * BYTES_PER_ATTEMPT) as u64;
        if !fits && level < MAX_LEVELS {
            let dir = path.with_extension(format!("l{level}"));
            std::fs::create_dir_all(&dir)?;
            let sub = |i: usize| dir.join(format!("sub-{i:02}.bin"));
            let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); PARTITIONS];
            let mut sizes = vec![0u64; PARTITIONS];
            let flush = |i: usize, buf: &mut Vec<u8>, sizes: &mut Vec<u64>| -> io::Result<()> {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(sub(i))?;
                io::Write::write_all(&mut f, buf)?;
                sizes[i] += buf.len() as u64;
                buf.clear();
                Ok(())
            };
            let mut reader = open()?;
            while let Some((key, pair)) = reader.next().map_err(io::Error::other)? {
                let i = partition(&key, level);
                put_pair(&mut buffers[i], key, &pair, &|id| id);
                if buffers[i].len() >= 1 << 18 {
                    flush(i, &mut buffers[i], &mut sizes)?;
                }
            }
            for (i, buf) in buffers.iter_mut().enumerate() {
                if !buf.is_empty() {
                    flush(i, buf, &mut sizes)?;
                }
            }
            for (i, &n) in sizes.iter().enumerate() {
                if n > 0 {
                    self.judge_file(&sub(i), n, level + 1, false, judge_all)?;
                }
            }
            std::fs::remove_dir_all(&dir)?;
            return Ok(None);
        }
        let mut pairs: HashMap<PairKey, PairState> = HashMap::new();
        open()?.merge_into(&mut pairs).map_err(io::Error::other)?;
        judge_all(&pairs);
        if !compact {
            return Ok(None);
        }
        let mut out = Vec::new();
        for (key, pair) in &pairs {
            put_pair(&mut out, *key, pair, &|id| id);
        }
        Ok(Some(out))
    }

    /// Writes the whole state (in memory and spilled) in [`VerdictState`]'s binary form. Call it
    /// when no worker commits (the checkpoint lock guarantees that).
    pub fn write_state(&self, w: &mut dyn io::Write) -> io::Result<()> {
        let mut guard = self
            .spill
            .lock()
            .map_err(|_| io::Error::other("the spill lock is poisoned"))?;
        let (enis, status) = self.eni_tables()?;
        let stats = self.stats();
        let mut writer =
            StateWriter::begin(Form::State, w, &self.plan, enis.names(), &stats, &status)?;
        for entry in self.pairs.iter() {
            writer.pair(*entry.key(), entry.value())?;
        }
        if let Some(spill) = guard.spill.as_mut() {
            for part in 0..PARTITIONS {
                if let Some(file) = spill.open(part)? {
                    let mut reader = PairReader::new(file);
                    while let Some((key, pair)) = reader.next().map_err(io::Error::other)? {
                        writer.pair(key, &pair)?;
                    }
                }
            }
        }
        writer.finish()
    }

    /// Merges a state that [`Aggregator::write_state`] or [`VerdictState::encode`] wrote.
    pub fn read_state(&self, r: impl io::Read) -> Result<(), StateError> {
        let mut reader = StateReader::begin(Form::State, r, &self.plan)?;
        let (mut local, ids) = VerdictState::of_header(self.plan.clone(), reader.header());
        let mut global = Vec::new();
        let mut batch = 0usize;
        while let Some((key, pair)) = reader.next_pair()? {
            batch += pair.attempt_count();
            local.take_pair(key, pair, &|id| mapped(&ids, id));
            // Commit in slices, so a state larger than the bound spills as it is read.
            if batch >= 1 << 16 {
                self.absorb(&mut local, &mut global);
                batch = 0;
            }
        }
        self.absorb(&mut local, &mut global);
        Ok(())
    }
}

/// The ids in `enis` of the ENIs `names` (`u32::MAX` for one it lacks).
fn global_ids<S: AsRef<str>>(enis: &EniTable, names: &[S]) -> Vec<u32> {
    names
        .iter()
        .map(|n| enis.get(n.as_ref()).unwrap_or(u32::MAX))
        .collect()
}

/// Folds batches into an [`Aggregator`] from one thread.
///
/// [`Worker::fold`] accumulates locally — the rows' observations in a flat buffer, no maps and
/// no locks; [`Worker::commit`] sorts them by pair and merges them into the shared state in one
/// step. A caller that commits once per source (an S3 object) can record "this source is done"
/// atomically with its contribution, which is what checkpoints need.
#[derive(Debug)]
pub struct Worker<A: Deref<Target = Aggregator>> {
    agg: A,
    /// ENIs by local id …
    enis: EniTable,
    /// … and their ids in the aggregator.
    global: Vec<u32>,
    stats: RunStats,
    eni_status: HashMap<u32, (u64, u64)>,
    seen: Vec<Observation>,
    /// Scratch: (pair hash, index into `seen`), sorted at commit.
    order: Vec<(u64, u32)>,
}

impl<A: Deref<Target = Aggregator>> Worker<A> {
    /// A worker for `agg` (a reference, or an `Arc` for a worker that must be `'static`).
    pub fn new(agg: A) -> Worker<A> {
        Worker {
            agg,
            enis: EniTable::default(),
            global: Vec::new(),
            stats: RunStats::default(),
            eni_status: HashMap::new(),
            seen: Vec::new(),
            order: Vec::new(),
        }
    }

    /// Folds one batch in and commits it at once.
    pub fn add_batch(&mut self, batch: &arrow_array::RecordBatch) -> Result<(), MissingFields> {
        let result = self.fold(batch);
        self.commit();
        result
    }

    /// Folds one batch of decoded records into the worker's local state.
    pub fn fold(&mut self, batch: &arrow_array::RecordBatch) -> Result<(), MissingFields> {
        let seen = &mut self.seen;
        fold_batch(
            batch,
            &self.agg.plan,
            &mut self.enis,
            &mut self.stats,
            &mut self.eni_status,
            &mut |o| seen.push(o),
        )
    }

    /// Counts `n` records that filter-first skipped before decoding (their ports are no
    /// endpoint's): records that touch no catalogued endpoint, as if they had been folded.
    pub fn skipped(&mut self, n: u64) {
        self.stats.records += n;
        self.stats.ignored += n;
    }

    /// Merges everything folded since the last commit into the shared state.
    pub fn commit(&mut self) {
        let agg = &*self.agg;
        if self.global.len() < self.enis.len()
            && let Ok(mut table) = agg.enis.write()
        {
            for name in &self.enis.names()[self.global.len()..] {
                self.global.push(table.id(name));
            }
        }
        let global = &self.global;
        let map = |id: u32| mapped(global, id);
        if let Ok(mut stats) = agg.stats.lock() {
            stats.add(&self.stats);
        }
        self.stats = RunStats::default();
        for (id, (n, s)) in self.eni_status.drain() {
            let mut e = agg.eni_status.entry(map(id)).or_default();
            e.0 += n;
            e.1 += s;
        }
        // One lookup (and one shard lock) per pair, not per record: the observations in order of
        // a hash of their pair (sorting small (hash, index) entries, not the observations).
        self.order.clear();
        self.order.extend(
            self.seen
                .iter()
                .enumerate()
                .map(|(i, o)| (crate::spill::pair_hash(&(o.endpoint, o.client)), i as u32)),
        );
        self.order.sort_unstable();
        let seen = &self.seen;
        let mut delta = 0isize;
        for run in self.order.chunk_by(|a, b| {
            let (x, y) = (&seen[a.1 as usize], &seen[b.1 as usize]);
            (x.endpoint, x.client) == (y.endpoint, y.client)
        }) {
            let first = &seen[run[0].1 as usize];
            let mut pair = agg.pairs.entry((first.endpoint, first.client)).or_default();
            for &(_, i) in run {
                let o = &seen[i as usize];
                delta += pair.observe(o.client_port, o.attempt);
                pair.note_eni(map(o.eni), o.bit);
                if let Some(r) = &o.reject_reason {
                    pair.note_reject_reason(r, 1);
                }
            }
        }
        self.seen.clear();
        agg.held.fetch_add(delta as i64, Ordering::Relaxed);
        agg.maybe_spill();
    }
}
