//! The aggregator: decoded batches in, per-pair state out, concurrently.
//!
//! An [`Aggregator`] is shared by every decoding thread. Each thread takes a [`Worker`], which
//! folds one batch into a small local map (no locks) and then merges it into the shared
//! [`DashMap`] pair by pair. Merging is commutative, so the result does not depend on record
//! order, on how input is split into batches, or on the number of threads.

use std::net::IpAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampSecondType, UInt8Type, UInt16Type};
use arrow_array::{Array, DictionaryArray, FixedSizeBinaryArray, PrimitiveArray, RecordBatch};
use arrow_schema::DataType;
use dashmap::DashMap;
use hashbrown::HashMap;

use crate::catalogue::Catalogue;
use crate::outcome::{Attempt, Counts, Timeline, flag};

/// A client–endpoint pair: endpoint index and client address (16 bytes).
pub(crate) type PairKey = (u32, [u8; 16]);

/// What the aggregator knows of one pair.
#[derive(Clone, Debug, Default)]
pub(crate) struct PairState {
    /// Open attempts by client port.
    pub attempts: HashMap<u16, Attempt>,
    /// Per ENI (global id): the flag bits of the records seen there.
    pub enis: Vec<(u32, u16)>,
    /// Attempts sealed out of `attempts` to bound memory (see [`Aggregator::seal`]).
    pub sealed: Option<Box<Sealed>>,
}

/// What the report needs of attempts that were sealed: sums, unions and the timeline.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sealed {
    pub counts: Counts,
    pub flags: u16,
    pub request_tcp: u8,
    pub reply_tcp: u8,
    pub records: u64,
    pub first: i64,
    pub last: i64,
    pub ports: (u16, u16),
    pub timeline: Timeline,
}

impl Sealed {
    /// Adds one attempt; attempts come in time order (by start) for the timeline to be exact.
    pub(crate) fn add(&mut self, port: u16, a: &Attempt) {
        if self.records == 0 {
            self.first = a.first;
            self.last = a.last;
            self.ports = (port, port);
        }
        self.counts.add(a);
        self.flags |= a.flags;
        self.request_tcp |= a.request_tcp;
        self.reply_tcp |= a.reply_tcp;
        self.records += u64::from(a.records);
        self.first = self.first.min(a.first);
        self.last = self.last.max(a.last);
        self.ports = (self.ports.0.min(port), self.ports.1.max(port));
        self.timeline.push(a.first, a.outcome());
    }

    /// Folds another pair state's sealed attempts in (restoring a checkpoint): sums are exact;
    /// the timeline is the later one's.
    fn merge(&mut self, o: &Sealed) {
        if o.records == 0 {
            return;
        }
        if self.records == 0 {
            *self = o.clone();
            return;
        }
        self.counts.merge(&o.counts);
        self.flags |= o.flags;
        self.request_tcp |= o.request_tcp;
        self.reply_tcp |= o.reply_tcp;
        self.records += o.records;
        if o.last > self.last {
            self.timeline = o.timeline;
        }
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        self.ports = (self.ports.0.min(o.ports.0), self.ports.1.max(o.ports.1));
    }
}

impl PairState {
    /// Folds another state of the same pair in; returns how many open attempts it added.
    pub(crate) fn merge_state(&mut self, o: PairState) -> usize {
        self.merge(o)
    }

    fn merge(&mut self, o: PairState) -> usize {
        let mut added = 0;
        for (port, a) in o.attempts {
            let entry = self.attempts.entry(port).or_insert_with(|| {
                added += 1;
                Attempt::default()
            });
            entry.merge(&a);
        }
        for (eni, bits) in o.enis {
            self.note_eni(eni, bits);
        }
        if let Some(sealed) = o.sealed {
            self.sealed.get_or_insert_with(Box::default).merge(&sealed);
        }
        added
    }

    fn note_eni(&mut self, eni: u32, bits: u16) {
        match self.enis.iter_mut().find(|(e, _)| *e == eni) {
            Some((_, b)) => *b |= bits,
            None => self.enis.push((eni, bits)),
        }
    }
}

/// ENI names by global id, and ids by name.
pub(crate) type EniNames = (Vec<Arc<str>>, HashMap<Arc<str>, u32>);

/// Counters over every record the aggregator saw.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub records: AtomicU64,
    pub matched: AtomicU64,
    pub ignored: AtomicU64,
    pub non_tcp: AtomicU64,
    pub outside_window: AtomicU64,
    pub nodata: AtomicU64,
    pub skipdata: AtomicU64,
}

impl Counters {
    /// Every counter, in the order [`crate::State::counters`] keeps them.
    pub(crate) fn all(&self) -> [&AtomicU64; 7] {
        [
            &self.records,
            &self.matched,
            &self.ignored,
            &self.non_tcp,
            &self.outside_window,
            &self.nodata,
            &self.skipdata,
        ]
    }
}

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

const REQUIRED: [&str; 6] = [
    "srcaddr", "dstaddr", "srcport", "dstport", "protocol", "action",
];

/// Shared state of a verdict run.
#[derive(Debug)]
pub struct Aggregator {
    pub(crate) catalogue: Arc<Catalogue>,
    /// (address, port) → endpoint index.
    index: HashMap<([u8; 16], u16), u32>,
    /// Ports any endpoint listens on: a cheap first filter.
    ports: Vec<bool>,
    /// ENI name → the endpoint owning it.
    eni_owner: HashMap<String, u32>,
    pub(crate) window: (i64, i64),
    pub(crate) pairs: DashMap<PairKey, PairState>,
    /// ENI names by global id, and the reverse.
    pub(crate) eni_names: RwLock<EniNames>,
    /// NODATA and SKIPDATA records per ENI (global id).
    pub(crate) eni_status: DashMap<u32, (u64, u64)>,
    pub(crate) counters: Counters,
    /// Open attempts in `pairs`.
    open: AtomicUsize,
    /// The latest record end committed.
    watermark: AtomicI64,
    /// Above this many open attempts, old ones are sealed.
    open_limit: usize,
    /// The next sealing happens above this many open attempts.
    next_seal: AtomicUsize,
    sealing: Mutex<()>,
}

/// Attempts whose last record ended this long before the latest record seen are sealed when
/// there are too many open ones: a connection's records span a few aggregation intervals
/// (at most 10 minutes each), so nothing more is expected for them.
pub const SEAL_AFTER_SECS: i64 = 15 * 60;

/// The default bound on open attempts (about 60 MB of state) before old ones are sealed.
pub const DEFAULT_OPEN_LIMIT: usize = 1 << 20;

impl Aggregator {
    /// An aggregator for `catalogue`, counting only records that overlap `[since, until]`
    /// (Unix seconds; `None` is open).
    pub fn new(catalogue: Catalogue, since: Option<i64>, until: Option<i64>) -> Aggregator {
        let mut index = HashMap::new();
        let mut ports = vec![false; 65536];
        let mut eni_owner = HashMap::new();
        for (i, e) in catalogue.endpoints.iter().enumerate() {
            ports[e.port as usize] = true;
            for a in &e.addresses {
                index.insert((crate::ip16(*a), e.port), i as u32);
            }
            for eni in &e.interface_ids {
                eni_owner.insert(eni.clone(), i as u32);
            }
        }
        Aggregator {
            catalogue: Arc::new(catalogue),
            index,
            ports,
            eni_owner,
            window: (since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX)),
            pairs: DashMap::new(),
            eni_names: RwLock::new((Vec::new(), HashMap::new())),
            eni_status: DashMap::new(),
            counters: Counters::default(),
            open: AtomicUsize::new(0),
            watermark: AtomicI64::new(i64::MIN),
            open_limit: DEFAULT_OPEN_LIMIT,
            next_seal: AtomicUsize::new(DEFAULT_OPEN_LIMIT),
            sealing: Mutex::new(()),
        }
    }

    /// Bounds the open attempts kept per run: above `limit`, attempts whose last record ended
    /// [`SEAL_AFTER_SECS`] before the latest record committed are sealed into per-pair sums,
    /// so memory stays bounded on input in time order (as flow logs are delivered). Verdicts
    /// are the same as without a bound as long as no record arrives for an attempt after it was
    /// sealed (that record would start a new attempt).
    pub fn with_open_limit(mut self, limit: usize) -> Aggregator {
        self.open_limit = limit.max(1);
        self.next_seal = AtomicUsize::new(self.open_limit);
        self
    }

    /// Counts open attempts a restored checkpoint added.
    pub(crate) fn note_restored(&self, added: usize) {
        self.open.fetch_add(added, Ordering::Relaxed);
    }

    /// Open attempts held now.
    pub fn open_attempts(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Seals old attempts if there are more open ones than the limit allows.
    fn seal(&self) {
        if self.open.load(Ordering::Relaxed) <= self.next_seal.load(Ordering::Relaxed) {
            return;
        }
        let Ok(_one_at_a_time) = self.sealing.try_lock() else {
            return;
        };
        let horizon = self
            .watermark
            .load(Ordering::Relaxed)
            .saturating_sub(SEAL_AFTER_SECS);
        let mut sealed = 0;
        let mut old: Vec<(u16, Attempt)> = Vec::new();
        for mut entry in self.pairs.iter_mut() {
            let state = entry.value_mut();
            old.clear();
            old.extend(state.attempts.extract_if(|_, a| a.last < horizon));
            if old.is_empty() {
                continue;
            }
            old.sort_unstable_by_key(|(_, a)| (a.first, a.outcome()));
            let s = state.sealed.get_or_insert_with(Box::default);
            for (port, a) in &old {
                s.add(*port, a);
            }
            sealed += old.len();
            if state.attempts.capacity() > 4 * state.attempts.len() + 16 {
                state.attempts.shrink_to(2 * state.attempts.len());
            }
        }
        let left = self
            .open
            .fetch_sub(sealed, Ordering::Relaxed)
            .saturating_sub(sealed);
        // Hysteresis: when recent attempts alone exceed the limit, do not sweep every commit.
        self.next_seal.store(
            self.open_limit.max(left.saturating_mul(2)),
            Ordering::Relaxed,
        );
    }

    /// The catalogue the verdicts are about.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// A per-thread worker.
    pub fn worker(&self) -> Worker<&Aggregator> {
        Worker::new(self)
    }
}

impl<A: Deref<Target = Aggregator>> Worker<A> {
    /// A worker for `agg` (a reference, or an `Arc` for a worker that must be `'static`).
    pub fn new(agg: A) -> Worker<A> {
        Worker {
            agg,
            local: HashMap::new(),
            counts: LocalCounts::default(),
            eni_status: HashMap::new(),
            eni_ids: Vec::new(),
            eni_endpoint: Vec::new(),
        }
    }
}

impl Aggregator {
    pub(crate) fn eni_id_of(&self, name: &str) -> u32 {
        self.eni_id(name)
    }

    fn eni_id(&self, name: &str) -> u32 {
        if let Ok(names) = self.eni_names.read()
            && let Some(&id) = names.1.get(name)
        {
            return id;
        }
        let Ok(mut names) = self.eni_names.write() else {
            return u32::MAX;
        };
        if let Some(&id) = names.1.get(name) {
            return id;
        }
        let id = names.0.len() as u32;
        let name: Arc<str> = Arc::from(name);
        names.0.push(name.clone());
        names.1.insert(name, id);
        id
    }

    /// The name of a global ENI id.
    pub(crate) fn eni_name(&self, id: u32) -> Arc<str> {
        self.eni_names
            .read()
            .ok()
            .and_then(|n| n.0.get(id as usize).cloned())
            .unwrap_or_else(|| Arc::from("?"))
    }
}

/// Counters a worker holds until it commits.
#[derive(Clone, Copy, Debug, Default)]
struct LocalCounts {
    /// The latest record end folded.
    latest: i64,
    records: u64,
    matched: u64,
    ignored: u64,
    non_tcp: u64,
    outside: u64,
    nodata: u64,
    skipdata: u64,
}

/// Folds batches into an [`Aggregator`] from one thread.
///
/// [`Worker::fold`] accumulates locally; [`Worker::commit`] merges what was folded into the
/// shared state in one step. A caller that commits once per source (an S3 object) can record
/// "this source is done" atomically with its contribution, which is what checkpoints need.
#[derive(Debug)]
pub struct Worker<A: Deref<Target = Aggregator>> {
    agg: A,
    local: HashMap<PairKey, PairState>,
    counts: LocalCounts,
    eni_status: HashMap<u32, (u64, u64)>,
    /// Per dictionary key of the batch's interface-id column: the global ENI id …
    eni_ids: Vec<u32>,
    /// … and the endpoint that owns it (`u32::MAX`: none).
    eni_endpoint: Vec<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    NoData,
    SkipData,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Accept,
    Reject,
    Other,
}

/// Maps each dictionary value of a column through `f`, once per batch.
fn per_key<T>(dict: Option<&DictionaryArray<Int32Type>>, mut f: impl FnMut(&str) -> T) -> Vec<T> {
    match dict {
        Some(d) => d
            .values()
            .as_string::<i32>()
            .iter()
            .map(|v| f(v.unwrap_or("")))
            .collect(),
        None => Vec::new(),
    }
}

fn dict<'b>(batch: &'b RecordBatch, name: &str) -> Option<&'b DictionaryArray<Int32Type>> {
    let c = batch.column_by_name(name)?;
    matches!(c.data_type(), DataType::Dictionary(k, _) if **k == DataType::Int32)
        .then(|| c.as_dictionary::<Int32Type>())
}

fn ip<'b>(batch: &'b RecordBatch, name: &str) -> Option<&'b FixedSizeBinaryArray> {
    let c = batch.column_by_name(name)?;
    (c.data_type() == &DataType::FixedSizeBinary(16)).then(|| c.as_fixed_size_binary())
}

fn prim<'b, T: arrow_array::types::ArrowPrimitiveType>(
    batch: &'b RecordBatch,
    name: &str,
) -> Option<&'b PrimitiveArray<T>> {
    let c = batch.column_by_name(name)?;
    (c.data_type() == &T::DATA_TYPE || matches!((c.data_type(), &T::DATA_TYPE), (DataType::Timestamp(u1, _), DataType::Timestamp(u2, _)) if u1 == u2))
        .then(|| c.as_primitive::<T>())
}

#[inline]
fn key_at(d: &DictionaryArray<Int32Type>, row: usize) -> Option<usize> {
    d.keys().is_valid(row).then(|| d.keys().value(row) as usize)
}

#[inline]
fn ip_at(a: &FixedSizeBinaryArray, row: usize) -> Option<[u8; 16]> {
    if a.is_null(row) {
        return None;
    }
    a.value(row).try_into().ok()
}

impl<A: Deref<Target = Aggregator>> Worker<A> {
    /// Folds one batch in and commits it at once.
    pub fn add_batch(&mut self, batch: &RecordBatch) -> Result<(), MissingFields> {
        let result = self.fold(batch);
        self.commit();
        result
    }

    /// Merges everything folded since the last commit into the shared state.
    pub fn commit(&mut self) {
        let agg = &*self.agg;
        let c = &agg.counters;
        let l = std::mem::take(&mut self.counts);
        c.records.fetch_add(l.records, Ordering::Relaxed);
        c.matched.fetch_add(l.matched, Ordering::Relaxed);
        c.ignored.fetch_add(l.ignored, Ordering::Relaxed);
        c.non_tcp.fetch_add(l.non_tcp, Ordering::Relaxed);
        c.outside_window.fetch_add(l.outside, Ordering::Relaxed);
        c.nodata.fetch_add(l.nodata, Ordering::Relaxed);
        c.skipdata.fetch_add(l.skipdata, Ordering::Relaxed);
        for (eni, (n, s)) in self.eni_status.drain() {
            let mut e = agg.eni_status.entry(eni).or_default();
            e.0 += n;
            e.1 += s;
        }
        agg.watermark.fetch_max(l.latest, Ordering::Relaxed);
        let mut added = 0;
        for (key, state) in self.local.drain() {
            added += agg.pairs.entry(key).or_default().merge(state);
        }
        agg.open.fetch_add(added, Ordering::Relaxed);
        agg.seal();
    }

    /// Drops everything folded since the last commit (a source that is to be read again).
    pub fn discard(&mut self) {
        self.counts = LocalCounts::default();
        self.eni_status.clear();
        self.local.clear();
    }

    /// Folds one batch of decoded records into the worker's local state.
    pub fn fold(&mut self, batch: &RecordBatch) -> Result<(), MissingFields> {
        let missing: Vec<&'static str> = REQUIRED
            .iter()
            .copied()
            .filter(|n| batch.column_by_name(n).is_none())
            .collect();
        let agg = &*self.agg;
        let rows = batch.num_rows();
        self.counts.records += rows as u64;
        let status_col = dict(batch, "log-status");
        let status = per_key(status_col, |v| match v {
            "NODATA" => Status::NoData,
            "SKIPDATA" => Status::SkipData,
            _ => Status::Ok,
        });
        let eni_col = dict(batch, "interface-id");
        self.eni_ids = per_key(eni_col, |v| agg.eni_id(v));
        self.eni_endpoint = per_key(eni_col, |v| {
            agg.eni_owner.get(v).copied().unwrap_or(u32::MAX)
        });

        // NODATA / SKIPDATA records carry no flow; count them per ENI whatever the format.
        let mut nodata = 0;
        let mut skipdata = 0;
        if let Some(sc) = status_col {
            for row in 0..rows {
                let s = key_at(sc, row).map_or(Status::Ok, |k| status[k]);
                if s != Status::Ok {
                    let eni = eni_col
                        .and_then(|e| key_at(e, row))
                        .map_or(u32::MAX, |k| self.eni_ids[k]);
                    let entry = self.eni_status.entry(eni).or_default();
                    if s == Status::NoData {
                        entry.0 += 1;
                        nodata += 1;
                    } else {
                        entry.1 += 1;
                        skipdata += 1;
                    }
                }
            }
        }
        self.counts.nodata += nodata;
        self.counts.skipdata += skipdata;
        if !missing.is_empty() {
            return Err(MissingFields(missing));
        }

        let (Some(src), Some(dst), Some(sport), Some(dport), Some(proto), Some(action_col)) = (
            ip(batch, "srcaddr"),
            ip(batch, "dstaddr"),
            prim::<UInt16Type>(batch, "srcport"),
            prim::<UInt16Type>(batch, "dstport"),
            prim::<UInt8Type>(batch, "protocol"),
            dict(batch, "action"),
        ) else {
            return Err(MissingFields(REQUIRED.to_vec()));
        };
        let pkt_src = ip(batch, "pkt-srcaddr");
        let pkt_dst = ip(batch, "pkt-dstaddr");
        let start = prim::<TimestampSecondType>(batch, "start");
        let end = prim::<TimestampSecondType>(batch, "end");
        let tcp_flags = prim::<UInt16Type>(batch, "tcp-flags");
        let actions = per_key(Some(action_col), |v| match v {
            "ACCEPT" => Action::Accept,
            "REJECT" => Action::Reject,
            _ => Action::Other,
        });
        let direction_col = dict(batch, "flow-direction");
        let directions = per_key(direction_col, |v| match v {
            "ingress" => Some(true),
            "egress" => Some(false),
            _ => None,
        });
        let (since, until) = agg.window;
        let mut matched = 0u64;
        let mut ignored = 0u64;
        let mut non_tcp = 0u64;
        let mut outside = 0u64;
        let mut latest = i64::MIN;

        for row in 0..rows {
            if let Some(sc) = status_col
                && key_at(sc, row).is_some_and(|k| status[k] != Status::Ok)
            {
                continue;
            }
            let (Some(dport_v), Some(sport_v)) = (
                dport.is_valid(row).then(|| dport.value(row)),
                sport.is_valid(row).then(|| sport.value(row)),
            ) else {
                ignored += 1;
                continue;
            };
            let dst_port_hit = agg.ports[dport_v as usize];
            let src_port_hit = agg.ports[sport_v as usize];
            if !dst_port_hit && !src_port_hit {
                ignored += 1;
                continue;
            }
            let (Some(s), Some(d)) = (ip_at(src, row), ip_at(dst, row)) else {
                ignored += 1;
                continue;
            };
            // Through a NAT or transit gateway, pkt-*addr holds the address that matters.
            let s = pkt_src.and_then(|p| ip_at(p, row)).unwrap_or(s);
            let d = pkt_dst.and_then(|p| ip_at(p, row)).unwrap_or(d);
            let (endpoint, client, client_port, request) = if let Some(&e) =
                dst_port_hit.then(|| agg.index.get(&(d, dport_v))).flatten()
            {
                (e, s, sport_v, true)
            } else if let Some(&e) = src_port_hit.then(|| agg.index.get(&(s, sport_v))).flatten() {
                (e, d, dport_v, false)
            } else {
                ignored += 1;
                continue;
            };
            if !proto.is_valid(row) || proto.value(row) != 6 {
                non_tcp += 1;
                continue;
            }
            let first = start.and_then(|c| c.is_valid(row).then(|| c.value(row)));
            let last = end.and_then(|c| c.is_valid(row).then(|| c.value(row)));
            if last.is_some_and(|l| l < since) || first.is_some_and(|f| f > until) {
                outside += 1;
                continue;
            }
            let action = key_at(action_col, row).map_or(Action::Other, |k| actions[k]);
            if action == Action::Other {
                ignored += 1;
                continue;
            }
            matched += 1;
            latest = latest.max(last.or(first).unwrap_or(i64::MIN));
            let eni_key = eni_col.and_then(|c| key_at(c, row));
            let eni = eni_key.map_or(u32::MAX, |k| self.eni_ids[k]);
            let endpoint_has_enis = !agg.catalogue.endpoints[endpoint as usize]
                .interface_ids
                .is_empty();
            let direction = direction_col
                .and_then(|c| key_at(c, row))
                .and_then(|k| directions[k]);
            let (at_endpoint, inferred) = if endpoint_has_enis {
                (
                    eni_key.is_some_and(|k| self.eni_endpoint[k] == endpoint),
                    false,
                )
            } else if let Some(ingress) = direction {
                // A request arrives at the endpoint; a reply leaves it.
                (ingress == request, false)
            } else {
                (true, true)
            };
            let accept = action == Action::Accept;
            let bit = match (request, accept, at_endpoint) {
                (true, true, true) => flag::REQ_ACCEPT_ENDPOINT,
                (true, false, true) => flag::REQ_REJECT_ENDPOINT,
                (true, true, false) => flag::REQ_ACCEPT_CLIENT,
                (true, false, false) => flag::REQ_REJECT_CLIENT,
                (false, true, true) => flag::REP_ACCEPT_ENDPOINT,
                (false, false, true) => flag::REP_REJECT_ENDPOINT,
                (false, true, false) => flag::REP_ACCEPT_CLIENT,
                (false, false, false) => flag::REP_REJECT_CLIENT,
            };
            let tcp = tcp_flags.and_then(|c| c.is_valid(row).then(|| c.value(row) as u8));
            let mut observed = Attempt {
                flags: bit
                    | if inferred { flag::SIDE_INFERRED } else { 0 }
                    | if tcp.is_some() { flag::TCP_FLAGS } else { 0 },
                records: 1,
                rejects: u32::from(!accept),
                first: first.or(last).unwrap_or(0),
                last: last.or(first).unwrap_or(0),
                ..Attempt::default()
            };
            if accept && let Some(t) = tcp {
                if request {
                    observed.request_tcp = t;
                } else {
                    observed.reply_tcp = t;
                }
            }
            let pair = self.local.entry((endpoint, client)).or_default();
            pair.attempts
                .entry(client_port)
                .or_default()
                .merge(&observed);
            pair.note_eni(eni, bit);
        }
        self.counts.matched += matched;
        self.counts.ignored += ignored;
        self.counts.non_tcp += non_tcp;
        self.counts.outside += outside;
        self.counts.latest = self.counts.latest.max(latest);
        Ok(())
    }
}

/// The address of a 16-byte key.
pub(crate) fn addr(bytes: [u8; 16]) -> IpAddr {
    vpcflow_core::value::ip_from_bytes(bytes)
}
