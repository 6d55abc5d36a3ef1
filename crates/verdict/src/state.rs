//! The aggregator's state as plain data, for checkpoints: a resumed run restores it and goes
//! on, and ends with the same verdicts as a run that was never interrupted.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use crate::engine::{Aggregator, PairState, Sealed};
use crate::outcome::{Attempt, Counts, Outcome, Timeline};

/// Everything an [`Aggregator`] has committed, by name rather than by internal id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Run counters: records, matched, ignored, not TCP, outside the window, NODATA, SKIPDATA.
    pub counters: [u64; 7],
    /// Per pair.
    pub pairs: Vec<PairRecord>,
    /// NODATA and SKIPDATA records per ENI.
    pub eni_status: Vec<(String, u64, u64)>,
}

/// One attempt: client port, flags, request tcp-flags, reply tcp-flags, records, rejects,
/// first, last. A tuple keeps checkpoints compact.
pub type AttemptRecord = (u16, u16, u8, u8, u32, u32, i64, i64);

/// One pair's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairRecord {
    /// The endpoint's name.
    pub endpoint: String,
    /// The client's address.
    pub client: IpAddr,
    /// Attempts: client port, flags, request tcp-flags, reply tcp-flags, records, rejects,
    /// first, last.
    pub attempts: Vec<AttemptRecord>,
    /// ENIs and the record kinds seen there.
    pub enis: Vec<(String, u16)>,
    /// Attempts sealed to bound memory, summed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<SealedRecord>,
}

/// Sealed attempts of a pair, summed (see [`Aggregator::with_open_limit`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedRecord {
    /// Attempts, connected, blocked egress, blocked ingress, blocked return, unanswered, late
    /// rejects.
    pub counts: [u64; 7],
    /// Flags, request tcp-flags, reply tcp-flags ORed.
    pub flags: (u16, u8, u8),
    /// Records.
    pub records: u64,
    /// Earliest start and latest end.
    pub span: (i64, i64),
    /// Lowest and highest client port.
    pub ports: (u16, u16),
    /// The timeline: latest class, when it began, latest outcome (index into `Outcome::ALL`).
    pub timeline: (Option<u8>, Option<i64>, Option<u8>),
}

impl SealedRecord {
    fn from_sealed(s: &Sealed) -> SealedRecord {
        SealedRecord {
            counts: s.counts.to_array(),
            flags: (s.flags, s.request_tcp, s.reply_tcp),
            records: s.records,
            span: (s.first, s.last),
            ports: s.ports,
            timeline: (
                s.timeline.class,
                s.timeline.since,
                s.timeline.latest.map(Outcome::index),
            ),
        }
    }

    fn to_sealed(&self) -> Sealed {
        Sealed {
            counts: Counts::from_array(self.counts),
            flags: self.flags.0,
            request_tcp: self.flags.1,
            reply_tcp: self.flags.2,
            records: self.records,
            first: self.span.0,
            last: self.span.1,
            ports: self.ports,
            timeline: Timeline {
                class: self.timeline.0,
                since: self.timeline.1,
                latest: self
                    .timeline
                    .2
                    .and_then(|i| Outcome::ALL.get(usize::from(i)).copied()),
            },
        }
    }
}

impl Aggregator {
    /// The committed state, sorted so equal states serialize equally.
    pub fn snapshot(&self) -> State {
        let counters = self.counters.all().map(|a| a.load(Ordering::Relaxed));
        let mut pairs: Vec<PairRecord> = self
            .pairs
            .iter()
            .map(|entry| {
                let (endpoint, client) = *entry.key();
                let state = entry.value();
                let mut attempts: Vec<_> = state
                    .attempts
                    .iter()
                    .map(|(&port, a)| {
                        (
                            port,
                            a.flags,
                            a.request_tcp,
                            a.reply_tcp,
                            a.records,
                            a.rejects,
                            a.first,
                            a.last,
                        )
                    })
                    .collect();
                attempts.sort_unstable();
                let mut enis: Vec<(String, u16)> = state
                    .enis
                    .iter()
                    .map(|&(id, bits)| (self.eni_name(id).to_string(), bits))
                    .collect();
                enis.sort();
                PairRecord {
                    endpoint: self.catalogue.endpoints[endpoint as usize].name.clone(),
                    client: crate::engine::addr(client),
                    attempts,
                    enis,
                    sealed: state.sealed.as_deref().map(SealedRecord::from_sealed),
                }
            })
            .collect();
        pairs.sort_by(|a, b| (&a.endpoint, a.client).cmp(&(&b.endpoint, b.client)));
        let mut eni_status: Vec<(String, u64, u64)> = self
            .eni_status
            .iter()
            .map(|e| {
                (
                    self.eni_name(*e.key()).to_string(),
                    e.value().0,
                    e.value().1,
                )
            })
            .collect();
        eni_status.sort();
        State {
            counters,
            pairs,
            eni_status,
        }
    }

    /// Merges a snapshot in. Fails if it names an endpoint the catalogue does not have.
    pub fn restore(&self, state: &State) -> Result<(), String> {
        for (atomic, value) in self.counters.all().into_iter().zip(state.counters) {
            atomic.fetch_add(value, Ordering::Relaxed);
        }
        for p in &state.pairs {
            let Some(endpoint) = self
                .catalogue
                .endpoints
                .iter()
                .position(|e| e.name == p.endpoint)
            else {
                return Err(format!(
                    "the checkpoint names endpoint `{}`, which the catalogue does not have; \
                     resume with the catalogue the run started with, or delete the checkpoint",
                    p.endpoint
                ));
            };
            let mut incoming = PairState::default();
            for &(port, flags, request_tcp, reply_tcp, records, rejects, first, last) in &p.attempts
            {
                incoming.attempts.insert(
                    port,
                    Attempt {
                        flags,
                        request_tcp,
                        reply_tcp,
                        records,
                        rejects,
                        first,
                        last,
                    },
                );
            }
            for (name, bits) in &p.enis {
                incoming.enis.push((self.eni_id_of(name), *bits));
            }
            incoming.sealed = p.sealed.as_ref().map(|s| Box::new(s.to_sealed()));
            let added = self
                .pairs
                .entry((endpoint as u32, crate::ip16(p.client)))
                .or_default()
                .merge_state(incoming);
            self.note_restored(added);
        }
        for (name, nodata, skipdata) in &state.eni_status {
            let mut e = self.eni_status.entry(self.eni_id_of(name)).or_default();
            e.0 += nodata;
            e.1 += skipdata;
        }
        Ok(())
    }
}
