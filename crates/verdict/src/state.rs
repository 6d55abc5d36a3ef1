//! The mergeable partial state of a verdict run.
//!
//! A [`VerdictState`] is what some set of flow-log records folds into: per client–endpoint pair,
//! the attempts on each client port and the ENIs that logged them; per ENI, its NODATA and
//! SKIPDATA records; and the run's counters. Folding is a set operation — sums, ORs, minima,
//! maxima and interval unions — so two states of two sets of records, merged in either order,
//! are exactly the state of both sets folded together. Threads, checkpoints, spill files and the
//! distributed engine all rest on that.

use std::io;
use std::sync::Arc;

use arrow_array::RecordBatch;
use hashbrown::HashMap;

use crate::attempts::PortAttempts;
use crate::catalogue::Catalogue;
use crate::codec::{self, Form, StateError};
use crate::columns::{Observation, fold_batch};
use crate::engine::MissingFields;
use crate::outcome::Attempt;
use crate::plan::{EniTable, Plan, mapped};
use crate::report::{Report, RunStats, judge};

/// A client–endpoint pair: endpoint index and client address (16 bytes).
pub(crate) type PairKey = (u32, [u8; 16]);

/// What a state knows of one pair.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PairState {
    /// Attempts by client port.
    pub attempts: HashMap<u16, PortAttempts>,
    /// Per ENI (an id of the state's ENI table): the flag bits of the records seen there.
    pub enis: Vec<(u32, u16)>,
    /// REJECT records by `reject-reason` value, sorted by value (nearly always empty).
    pub reject_reasons: Vec<(Arc<str>, u64)>,
}

impl PairState {
    /// Folds one observation of `port` in; returns the change in the number of attempts.
    #[inline]
    pub(crate) fn observe(&mut self, port: u16, a: Attempt) -> isize {
        match self.attempts.entry(port) {
            hashbrown::hash_map::Entry::Occupied(mut e) => e.get_mut().add(a),
            hashbrown::hash_map::Entry::Vacant(e) => {
                e.insert(PortAttempts::One(a));
                1
            }
        }
    }

    /// Folds another state of the same pair in, its ENI ids mapped through `eni`; returns the
    /// change in the number of attempts.
    pub(crate) fn merge(&mut self, o: &PairState, eni: &dyn Fn(u32) -> u32) -> isize {
        let mut delta = 0;
        for (&port, attempts) in &o.attempts {
            match self.attempts.entry(port) {
                hashbrown::hash_map::Entry::Occupied(mut e) => delta += e.get_mut().merge(attempts),
                hashbrown::hash_map::Entry::Vacant(e) => {
                    delta += attempts.len() as isize;
                    e.insert(attempts.clone());
                }
            }
        }
        for &(id, bits) in &o.enis {
            self.note_eni(eni(id), bits);
        }
        for (reason, n) in &o.reject_reasons {
            self.note_reject_reason(reason, *n);
        }
        delta
    }

    /// [`PairState::merge`], taking `o` over: its attempts move instead of being copied.
    pub(crate) fn merge_owned(&mut self, o: PairState, eni: &dyn Fn(u32) -> u32) -> isize {
        let mut delta = 0;
        for (port, attempts) in o.attempts {
            match self.attempts.entry(port) {
                hashbrown::hash_map::Entry::Occupied(mut e) => {
                    delta += e.get_mut().merge(&attempts)
                }
                hashbrown::hash_map::Entry::Vacant(e) => {
                    delta += attempts.len() as isize;
                    e.insert(attempts);
                }
            }
        }
        for (id, bits) in o.enis {
            self.note_eni(eni(id), bits);
        }
        for (reason, n) in &o.reject_reasons {
            self.note_reject_reason(reason, *n);
        }
        delta
    }

    /// Counts `n` REJECT records with `reject-reason` `reason`.
    pub(crate) fn note_reject_reason(&mut self, reason: &Arc<str>, n: u64) {
        match self
            .reject_reasons
            .binary_search_by(|(r, _)| (**r).cmp(&**reason))
        {
            Ok(i) => self.reject_reasons[i].1 = self.reject_reasons[i].1.saturating_add(n),
            Err(i) => self.reject_reasons.insert(i, (reason.clone(), n)),
        }
    }

    /// Records that a record of kind `bits` was logged at ENI `eni`.
    #[inline]
    pub(crate) fn note_eni(&mut self, eni: u32, bits: u16) {
        match self.enis.iter_mut().find(|(e, _)| *e == eni) {
            Some((_, b)) => *b |= bits,
            None => self.enis.push((eni, bits)),
        }
    }

    /// How many attempts.
    pub(crate) fn attempt_count(&self) -> usize {
        self.attempts.values().map(PortAttempts::len).sum()
    }
}

/// The partial state of a verdict run: what some set of flow-log records folds into.
///
/// Per client–endpoint pair it holds the attempts on each client port and the ENIs that logged
/// them; per ENI, its NODATA and SKIPDATA records; and the run's counters. Folding is a set
/// operation — sums, ORs, minima, maxima and interval unions — so two states of two sets of
/// records, merged in either order, are exactly the state of both sets folded together.
/// Threads, checkpoints, spill files and the distributed engine all rest on that.
///
/// [`VerdictState::encode`] writes it in a versioned binary form ([`crate::STATE_VERSION`]):
/// `VFST`, the version, the endpoint names, the ENI names, the counters, then one record per
/// pair, all integers as varints. Endpoints and ENIs are named, so a state decodes in another
/// process against the same catalogue; [`VerdictState::decode`] checks every length and never
/// panics on bad bytes.
///
/// ```
/// use vpcflow_core::{Decoder, DecoderOptions, Reader};
/// use vpcflow_verdict::{Catalogue, Plan, VerdictState};
///
/// let catalogue = Catalogue::from_toml(
///     "[[endpoint]]\nname = \"db\"\naddress = \"10.0.3.213\"\nport = 3306\n", "inline").unwrap();
/// let plan = Plan::new(catalogue, None, None);
/// let fold = |text: &str| {
///     let mut state = VerdictState::new(plan.clone());
///     for batch in Reader::new(text.as_bytes(), Decoder::new(DecoderOptions::default()), "t") {
///         state.fold(&batch.unwrap()).unwrap();
///     }
///     state
/// };
/// let request = "2 1 eni-db 10.0.1.10 10.0.3.213 50000 3306 6 1 60 100 159 ACCEPT OK\n";
/// let reply = "2 1 eni-db 10.0.3.213 10.0.1.10 3306 50000 6 1 60 100 159 ACCEPT OK\n";
/// // Two partial states, one per record, serialised and merged …
/// let mut merged = VerdictState::decode(plan.clone(), &fold(reply).encode()).unwrap();
/// merged.merge(&VerdictState::decode(plan.clone(), &fold(request).encode()).unwrap());
/// // … are the state of both records folded together.
/// assert_eq!(merged, fold(&format!("{request}{reply}")));
/// assert_eq!(merged.report().verdicts[0].verdict.as_str(), "allowed");
/// ```
#[derive(Clone, Debug)]
pub struct VerdictState {
    pub(crate) plan: Arc<Plan>,
    pub(crate) stats: RunStats,
    pub(crate) enis: EniTable,
    /// NODATA and SKIPDATA records per ENI id.
    pub(crate) eni_status: HashMap<u32, (u64, u64)>,
    pub(crate) pairs: HashMap<PairKey, PairState>,
    /// Attempts held, over every pair.
    pub(crate) attempts: usize,
}

impl PartialEq for VerdictState {
    /// Equal states hold the same facts, whatever ids their ENI tables gave out.
    fn eq(&self, other: &VerdictState) -> bool {
        self.encode() == other.encode()
    }
}

impl VerdictState {
    /// An empty state for `plan`.
    pub fn new(plan: Arc<Plan>) -> VerdictState {
        VerdictState {
            plan,
            stats: RunStats::default(),
            enis: EniTable::default(),
            eni_status: HashMap::new(),
            pairs: HashMap::new(),
            attempts: 0,
        }
    }

    /// An empty state for `catalogue` and the window `[since, until]`.
    pub fn for_catalogue(catalogue: Catalogue, since: Option<i64>, until: Option<i64>) -> Self {
        VerdictState::new(Plan::new(catalogue, since, until))
    }

    /// The plan: catalogue and window.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// Attempts held.
    pub fn attempts(&self) -> usize {
        self.attempts
    }

    /// Pairs held.
    pub fn pairs(&self) -> usize {
        self.pairs.len()
    }

    /// The run counters so far.
    pub fn stats(&self) -> RunStats {
        self.stats
    }

    /// Whether nothing has been folded in.
    pub fn is_empty(&self) -> bool {
        self.stats == RunStats::default() && self.pairs.is_empty() && self.eni_status.is_empty()
    }

    /// Folds one batch of decoded records in. A batch without the fields verdicts need is an
    /// error naming them; its NODATA and SKIPDATA records are still counted.
    pub fn fold(&mut self, batch: &RecordBatch) -> Result<(), MissingFields> {
        let (pairs, attempts) = (&mut self.pairs, &mut self.attempts);
        fold_batch(
            batch,
            &self.plan,
            &mut self.enis,
            &mut self.stats,
            &mut self.eni_status,
            &mut |o: Observation| {
                let pair = pairs.entry((o.endpoint, o.client)).or_default();
                let delta = pair.observe(o.client_port, o.attempt);
                pair.note_eni(o.eni, o.bit);
                if let Some(r) = &o.reject_reason {
                    pair.note_reject_reason(r, 1);
                }
                *attempts = attempts.saturating_add_signed(delta);
            },
        )
    }

    /// Folds another state of the same plan in. Afterwards `self` is the state of both states'
    /// records.
    pub fn merge(&mut self, other: &VerdictState) {
        let remap = self.merge_counts(other);
        let eni = |id: u32| mapped(&remap, id);
        for (key, pair) in &other.pairs {
            let delta = self.pairs.entry(*key).or_default().merge(pair, &eni);
            self.attempts = self.attempts.saturating_add_signed(delta);
        }
    }

    /// [`VerdictState::merge`], taking `other` over: its pairs move instead of being copied,
    /// which is most of the cost when the two states share few pairs (shards of one run).
    pub fn merge_owned(&mut self, mut other: VerdictState) {
        let remap = self.merge_counts(&other);
        let eni = |id: u32| mapped(&remap, id);
        for (key, pair) in other.drain_pairs() {
            self.take_pair(key, pair, &eni);
        }
    }

    /// Adds `other`'s counters and ENI statuses to this state's; returns `other`'s ENI ids
    /// mapped to this state's.
    fn merge_counts(&mut self, other: &VerdictState) -> Vec<u32> {
        let remap: Vec<u32> = other.enis.names().iter().map(|n| self.enis.id(n)).collect();
        self.stats.add(&other.stats);
        for (&id, &(n, s)) in &other.eni_status {
            let id = mapped(&remap, id);
            let e = self.eni_status.entry(id).or_default();
            e.0 += n;
            e.1 += s;
        }
        remap
    }

    /// Folds `pair`, a state of pair `key` whose ENI ids `eni` maps into this state's, in,
    /// moving it where this state has no such pair yet.
    pub(crate) fn take_pair(
        &mut self,
        key: PairKey,
        mut pair: PairState,
        eni: &dyn Fn(u32) -> u32,
    ) {
        let delta = match self.pairs.entry(key) {
            hashbrown::hash_map::Entry::Occupied(mut e) => e.get_mut().merge_owned(pair, eni),
            hashbrown::hash_map::Entry::Vacant(e) => {
                // As merge_owned into an empty pair: each ENI mapped and equal ids joined,
                // reasons sorted and joined.
                for (id, bits) in std::mem::take(&mut pair.enis) {
                    pair.note_eni(eni(id), bits);
                }
                for (reason, n) in std::mem::take(&mut pair.reject_reasons) {
                    pair.note_reject_reason(&reason, n);
                }
                let n = pair.attempt_count() as isize;
                e.insert(pair);
                n
            }
        };
        self.attempts = self.attempts.saturating_add_signed(delta);
    }

    /// Drains the pairs (for a consumer that takes them over, such as the aggregator). The map
    /// keeps its capacity: a worker fills it again with the next batch.
    pub(crate) fn drain_pairs(&mut self) -> hashbrown::hash_map::Drain<'_, PairKey, PairState> {
        self.attempts = 0;
        self.pairs.drain()
    }

    /// The verdicts of the records folded so far.
    pub fn report(&self) -> Report {
        let judged = self
            .pairs
            .iter()
            .map(|(key, pair)| judge(&self.plan, &self.enis, &self.eni_status, *key, pair))
            .collect();
        Report::new(judged, self.stats, &self.plan)
    }

    /// The state in its versioned binary form: equal states give equal bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out)
            .expect("writing to a Vec cannot fail");
        out
    }

    /// Writes [`VerdictState::encode`]'s bytes to `w`.
    pub fn write_to(&self, w: &mut dyn io::Write) -> io::Result<()> {
        self.write_form(Form::State, w)
    }

    /// The verdicts of this state's pairs, with its header: what a distributed run's final
    /// stage sends when it holds every record of its pairs, a few bytes per attempt instead of
    /// the attempts. [`crate::Aggregator::report_shards`] reads it; each verdict's confidence is
    /// decided there, since it depends on NODATA/SKIPDATA in other shards' headers.
    /// Equal states give equal bytes.
    pub fn encode_judged(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_form(Form::Judged, &mut out)
            .expect("writing to a Vec cannot fail");
        out
    }

    /// Writes the header, then each pair in key order, as attempts or as its verdict.
    fn write_form(&self, form: Form, w: &mut dyn io::Write) -> io::Result<()> {
        let mut writer = codec::StateWriter::begin(
            form,
            w,
            &self.plan,
            self.enis.names(),
            &self.stats,
            &self.eni_status,
        )?;
        let mut keys: Vec<&PairKey> = self.pairs.keys().collect();
        keys.sort_unstable();
        for &key in keys {
            let pair = &self.pairs[&key];
            match form {
                Form::State => writer.pair(key, pair)?,
                Form::Judged => {
                    let v = judge(&self.plan, &self.enis, &self.eni_status, key, pair);
                    writer.verdict(key, &v, &pair.enis)?;
                }
            }
        }
        writer.finish()
    }

    /// Reads a state [`VerdictState::encode`] wrote, for `plan`. Endpoints are matched by name:
    /// a state naming an endpoint the plan's catalogue lacks is an error.
    pub fn decode(plan: Arc<Plan>, bytes: &[u8]) -> Result<VerdictState, StateError> {
        let mut reader = codec::StateReader::begin(Form::State, bytes, &plan)?;
        let (mut state, remap) = VerdictState::of_header(plan, reader.header());
        let eni = |id: u32| mapped(&remap, id);
        while let Some((key, pair)) = reader.next_pair()? {
            state.take_pair(key, pair, &eni);
        }
        Ok(state)
    }

    /// The state of a header alone: its counters, ENIs and NODATA/SKIPDATA counts, no pair;
    /// and the map from the header's ENI indices to the state's ids, for its pairs.
    pub(crate) fn of_header(plan: Arc<Plan>, header: &codec::Header) -> (VerdictState, Vec<u32>) {
        let mut state = VerdictState::new(plan);
        let remap: Vec<u32> = header.enis.iter().map(|n| state.enis.id(n)).collect();
        state.stats = header.stats;
        for &(id, n, s) in &header.eni_status {
            let id = mapped(&remap, id);
            let e = state.eni_status.entry(id).or_default();
            e.0 += n;
            e.1 += s;
        }
        (state, remap)
    }
}
