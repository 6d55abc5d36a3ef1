//! The binary form of a [`VerdictState`](crate::VerdictState), version 2 (version 1 is read too).
//!
//! Checkpoints, spill files and the distributed engine's accumulator state all use it, so it is
//! small, streams both ways, and never trusts its input: every length is checked against what
//! is left, and a bad byte is a [`StateError`], never a panic.
//!
//! ```text
//! state   := magic "VFST" · version u16le (2) · header · pair* · 0x00
//! header  := endpoints:list<str> · enis:list<str> · stats:varint×7 · status:list<eni nodata skipdata>
//! pair    := 0x01 · endpoint:varint · client:16 bytes · enis:list<eni bits> · ports:list<port attempts>
//!            · reasons:list<str count:varint>        (version 2; REJECTs by reject-reason)
//! attempts:= list<flags:varint req_tcp:u8 rep_tcp:u8 records:varint rejects:varint first:zigzag span:zigzag>
//! eni     := varint, 0 for none, else 1 + the index in `enis`
//! list<T> := count:varint · T*
//! ```
//!
//! Integers are LEB128 varints; `first` and `last − first` are zigzag-encoded. Endpoints are
//! named, not numbered, so a state decodes against the same catalogue in another process;
//! ENIs are named once in the header and numbered in the pairs. [`StateWriter`] writes ENI
//! names sorted and pairs in the order it is given them; [`crate::VerdictState::encode`]
//! sorts the pairs too, so equal states give equal bytes. Pairs may repeat: a reader merges
//! them (spill runs and checkpoints rely on that).
//!
//! A state's judged form (`VFJV`, [`crate::judged`]) has the same header followed by verdicts
//! instead of pairs: [`Form`] says which, and both share the writer and the reader.

use std::fmt;
use std::io::{self, Read, Write};

use hashbrown::HashMap;

use crate::attempts::PortAttempts;
use crate::catalogue::Endpoint;
use crate::outcome::Attempt;
use crate::plan::Plan;
use crate::report::{Confidence, PairVerdict, RunStats, Side};
use crate::state::{PairKey, PairState};

const MAGIC: &[u8; 4] = b"VFST";
/// The version of the binary state format this crate writes and reads.
pub const VERSION: u16 = 2;
/// The magic of a state's judged form ([`crate::judged`]): the header, then verdicts.
const JUDGED_MAGIC: &[u8; 4] = b"VFJV";
/// The version of the judged form.
const JUDGED_VERSION: u16 = 1;

/// Which binary form: a state (the header, then its pairs' attempts) or its judged form (the
/// header, then its pairs' verdicts: [`crate::judged`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    State,
    Judged,
}

impl Form {
    /// The form `bytes` say they are (a state unless they begin with the judged magic).
    pub(crate) fn of(bytes: &[u8]) -> Form {
        if bytes.starts_with(JUDGED_MAGIC) {
            Form::Judged
        } else {
            Form::State
        }
    }

    /// Its magic and the newest version this crate writes.
    fn magic(self) -> (&'static [u8; 4], u16) {
        match self {
            Form::State => (MAGIC, VERSION),
            Form::Judged => (JUDGED_MAGIC, JUDGED_VERSION),
        }
    }
}

/// Why a serialized state could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum StateError {
    /// It does not begin with the state magic.
    NotAState,
    /// It was written in another version of the format.
    Version {
        /// The version it says it is.
        found: u16,
    },
    /// It names an endpoint the catalogue does not have.
    UnknownEndpoint {
        /// The endpoint's name.
        name: String,
    },
    /// It is cut short or its bytes make no sense.
    Corrupt {
        /// What was being read.
        what: &'static str,
    },
    /// Reading it failed.
    Io(io::Error),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::NotAState => write!(f, "not a vpcflow verdict state"),
            StateError::Version { found } => write!(
                f,
                "a verdict state of format version {found}; this vpcflow reads versions 1 to {VERSION}"
            ),
            StateError::UnknownEndpoint { name } => write!(
                f,
                "the state names endpoint `{name}`, which the catalogue does not have; use the \
                 catalogue the state was made with"
            ),
            StateError::Corrupt { what } => {
                write!(f, "the verdict state is cut short or corrupt (at {what})")
            }
            StateError::Io(e) => write!(f, "reading the verdict state failed: {e}"),
        }
    }
}

impl std::error::Error for StateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StateError::Io(e) => Some(e),
            _ => None,
        }
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// An ENI id as written: 0 for none, else 1 + its index.
pub(crate) fn eni_code(id: u32, map: &dyn Fn(u32) -> u32) -> u64 {
    if id == u32::MAX {
        0
    } else {
        u64::from(map(id)) + 1
    }
}

/// Encodes one pair record (tag included), ENI ids mapped through `map`.
pub(crate) fn put_pair(
    out: &mut Vec<u8>,
    key: PairKey,
    pair: &PairState,
    map: &dyn Fn(u32) -> u32,
) {
    out.push(1);
    put_varint(out, u64::from(key.0));
    out.extend_from_slice(&key.1);
    let mut enis: Vec<(u64, u16)> = pair
        .enis
        .iter()
        .map(|&(id, bits)| (eni_code(id, map), bits))
        .collect();
    enis.sort_unstable();
    put_varint(out, enis.len() as u64);
    for (code, bits) in enis {
        put_varint(out, code);
        put_varint(out, u64::from(bits));
    }
    let mut ports: Vec<(&u16, &PortAttempts)> = pair.attempts.iter().collect();
    ports.sort_unstable_by_key(|(p, _)| **p);
    put_varint(out, ports.len() as u64);
    for (port, attempts) in ports {
        put_varint(out, u64::from(*port));
        let list = attempts.as_slice();
        put_varint(out, list.len() as u64);
        for a in list {
            put_varint(out, u64::from(a.flags));
            out.push(a.request_tcp);
            out.push(a.reply_tcp);
            put_varint(out, u64::from(a.records));
            put_varint(out, u64::from(a.rejects));
            put_varint(out, zigzag(a.first));
            put_varint(out, zigzag(a.last.wrapping_sub(a.first)));
        }
    }
    put_varint(out, pair.reject_reasons.len() as u64);
    for (reason, n) in &pair.reject_reasons {
        put_str(out, reason);
        put_varint(out, *n);
    }
}

/// ENI id `id`'s index in the header's sorted name list (`order`, from [`StateWriter::begin`]).
fn sorted_index(order: &[u32], id: u32) -> u32 {
    order.get(id as usize).copied().unwrap_or(0)
}

/// Writes a state: the header first, then pairs one by one.
pub(crate) struct StateWriter<'w> {
    w: &'w mut dyn Write,
    buf: Vec<u8>,
    /// ENI id → its index in the sorted name list.
    order: Vec<u32>,
}

impl<'w> StateWriter<'w> {
    /// Writes the header of `form`: the plan's endpoint names, the ENI names (`enis[id]`),
    /// counters and per-ENI NODATA/SKIPDATA counts; [`StateWriter::pair`]s follow for a state,
    /// [`StateWriter::verdict`]s for its judged form.
    pub(crate) fn begin(
        form: Form,
        w: &'w mut dyn Write,
        plan: &Plan,
        enis: &[std::sync::Arc<str>],
        stats: &RunStats,
        status: &HashMap<u32, (u64, u64)>,
    ) -> io::Result<StateWriter<'w>> {
        let (magic, version) = form.magic();
        let mut sorted: Vec<u32> = (0..enis.len() as u32).collect();
        sorted.sort_unstable_by(|&a, &b| enis[a as usize].cmp(&enis[b as usize]));
        let mut order = vec![0u32; enis.len()];
        for (pos, &id) in sorted.iter().enumerate() {
            order[id as usize] = pos as u32;
        }
        let mut buf = Vec::with_capacity(1 << 16);
        buf.extend_from_slice(magic);
        buf.extend_from_slice(&version.to_le_bytes());
        put_varint(&mut buf, plan.catalogue.endpoints.len() as u64);
        for e in &plan.catalogue.endpoints {
            put_str(&mut buf, &e.name);
        }
        put_varint(&mut buf, enis.len() as u64);
        for &id in &sorted {
            put_str(&mut buf, &enis[id as usize]);
        }
        for v in stats.to_array() {
            put_varint(&mut buf, v);
        }
        let map = |id: u32| sorted_index(&order, id);
        let mut status: Vec<(u64, u64, u64)> = status
            .iter()
            .map(|(&id, &(n, s))| (eni_code(id, &map), n, s))
            .collect();
        status.sort_unstable();
        put_varint(&mut buf, status.len() as u64);
        for (code, n, s) in status {
            put_varint(&mut buf, code);
            put_varint(&mut buf, n);
            put_varint(&mut buf, s);
        }
        Ok(StateWriter { w, buf, order })
    }

    /// Writes one pair, its ENI ids those of the table given to [`StateWriter::begin`].
    pub(crate) fn pair(&mut self, key: PairKey, pair: &PairState) -> io::Result<()> {
        let order = &self.order;
        put_pair(&mut self.buf, key, pair, &|id| sorted_index(order, id));
        self.flush_full()
    }

    /// Writes the verdict `v` of the pair `key` whose ENIs (ids of the table given to
    /// [`StateWriter::begin`]) are `enis`.
    pub(crate) fn verdict(
        &mut self,
        key: PairKey,
        v: &PairVerdict,
        enis: &[(u32, u16)],
    ) -> io::Result<()> {
        let order = &self.order;
        crate::judged::put_verdict(&mut self.buf, key, v, enis, &|id| sorted_index(order, id));
        self.flush_full()
    }

    /// Hands the buffer to the writer once it is large.
    fn flush_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= 1 << 16 {
            self.w.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Ends the state.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.buf.push(0);
        self.w.write_all(&self.buf)?;
        self.w.flush()
    }
}

/// Reads bytes with every length checked.
pub(crate) struct Bytes<R> {
    r: R,
    /// Pair records end with their REJECT counts by reject-reason (version 2 on).
    reasons: bool,
}

impl<R: Read> Bytes<R> {
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, StateError> {
        let mut b = [0u8; 1];
        self.exact(&mut b, what)?;
        Ok(b[0])
    }

    pub(crate) fn exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), StateError> {
        self.r.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => StateError::Corrupt { what },
            _ => StateError::Io(e),
        })
    }

    pub(crate) fn varint(&mut self, what: &'static str) -> Result<u64, StateError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8(what)?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(StateError::Corrupt { what })
    }

    pub(crate) fn small<T: TryFrom<u64>>(&mut self, what: &'static str) -> Result<T, StateError> {
        T::try_from(self.varint(what)?).map_err(|_| StateError::Corrupt { what })
    }

    pub(crate) fn string(&mut self, what: &'static str) -> Result<String, StateError> {
        let n: usize = self.small(what)?;
        if n > 1 << 16 {
            return Err(StateError::Corrupt { what });
        }
        let mut buf = vec![0u8; n];
        self.exact(&mut buf, what)?;
        String::from_utf8(buf).map_err(|_| StateError::Corrupt { what })
    }
}

/// The header of a state, as written.
#[derive(Debug)]
pub(crate) struct Header {
    /// ENI names; pairs refer to them by index.
    pub enis: Vec<String>,
    pub stats: RunStats,
    /// (ENI index or `u32::MAX`, NODATA, SKIPDATA).
    pub eni_status: Vec<(u32, u64, u64)>,
}

/// Reads a state: its header, then pairs one by one.
pub(crate) struct StateReader<R> {
    bytes: Bytes<R>,
    header: Header,
    /// The writer's endpoint index → the plan's.
    endpoints: Vec<u32>,
    done: bool,
}

pub(crate) fn decode_eni(code: u64, enis: usize) -> Result<u32, StateError> {
    match code {
        0 => Ok(u32::MAX),
        c if c as usize <= enis => Ok((c - 1) as u32),
        _ => Err(StateError::Corrupt {
            what: "an ENI index",
        }),
    }
}

impl<R: Read> StateReader<R> {
    /// Reads the header of `form`, matching its endpoints to `plan`'s by name.
    pub(crate) fn begin(form: Form, r: R, plan: &Plan) -> Result<StateReader<R>, StateError> {
        let (want, newest) = form.magic();
        let mut bytes = Bytes { r, reasons: true };
        let mut magic = [0u8; 4];
        bytes
            .exact(&mut magic, "the magic")
            .map_err(|_| StateError::NotAState)?;
        if &magic != want {
            return Err(StateError::NotAState);
        }
        let mut version = [0u8; 2];
        bytes.exact(&mut version, "the version")?;
        let found = u16::from_le_bytes(version);
        if !(1..=newest).contains(&found) {
            return Err(StateError::Version { found });
        }
        bytes.reasons = found >= 2;
        let n: usize = bytes.small("the endpoint count")?;
        let mut endpoints = Vec::with_capacity(n.min(1 << 12));
        for _ in 0..n {
            let name = bytes.string("an endpoint name")?;
            endpoints.push(
                plan.endpoint_index(&name)
                    .ok_or(StateError::UnknownEndpoint { name })?,
            );
        }
        let n: usize = bytes.small("the ENI count")?;
        let mut enis = Vec::with_capacity(n.min(1 << 12));
        for _ in 0..n {
            enis.push(bytes.string("an ENI name")?);
        }
        let mut counters = [0u64; 7];
        for c in &mut counters {
            *c = bytes.varint("the counters")?;
        }
        let n: usize = bytes.small("the ENI status count")?;
        let mut eni_status = Vec::with_capacity(n.min(1 << 12));
        for _ in 0..n {
            let eni = decode_eni(bytes.varint("an ENI status")?, enis.len())?;
            eni_status.push((eni, bytes.varint("NODATA")?, bytes.varint("SKIPDATA")?));
        }
        Ok(StateReader {
            bytes,
            header: Header {
                enis,
                stats: RunStats::from_array(counters),
                eni_status,
            },
            endpoints,
            done: false,
        })
    }

    /// The header.
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// The next pair, its endpoint the plan's index and its ENIs header indices.
    pub(crate) fn next_pair(&mut self) -> Result<Option<(PairKey, PairState)>, StateError> {
        if self.done {
            return Ok(None);
        }
        match read_pair(&mut self.bytes, self.header.enis.len())? {
            None => {
                self.done = true;
                Ok(None)
            }
            Some(((endpoint, client), pair)) => {
                let endpoint =
                    *self
                        .endpoints
                        .get(endpoint as usize)
                        .ok_or(StateError::Corrupt {
                            what: "an endpoint index",
                        })?;
                Ok(Some(((endpoint, client), pair)))
            }
        }
    }

    /// The next verdict of a judged form, its confidence decided by `confidence` from its
    /// side, endpoint and ENIs (header indices); `None` at the end.
    pub(crate) fn next_verdict(
        &mut self,
        plan: &Plan,
        confidence: &dyn Fn(Side, &Endpoint, &[u32]) -> Confidence,
    ) -> Result<Option<PairVerdict>, StateError> {
        if self.done {
            return Ok(None);
        }
        let v = crate::judged::read_verdict(
            &mut self.bytes,
            plan,
            &self.endpoints,
            self.header.enis.len(),
            confidence,
        )?;
        self.done = v.is_none();
        Ok(v)
    }
}

/// Reads one pair record, or `None` at the end tag.
fn read_pair<R: Read>(
    b: &mut Bytes<R>,
    enis: usize,
) -> Result<Option<(PairKey, PairState)>, StateError> {
    match b.u8("a pair tag")? {
        0 => return Ok(None),
        1 => {}
        _ => return Err(StateError::Corrupt { what: "a pair tag" }),
    }
    read_pair_body(b, enis).map(Some)
}

fn read_pair_body<R: Read>(
    b: &mut Bytes<R>,
    enis: usize,
) -> Result<(PairKey, PairState), StateError> {
    let key = read_key(b)?;
    let mut pair = PairState::default();
    read_pair_into(b, enis, &mut pair)?;
    Ok((key, pair))
}

fn read_key<R: Read>(b: &mut Bytes<R>) -> Result<PairKey, StateError> {
    let endpoint: u32 = b.small("an endpoint index")?;
    let mut client = [0u8; 16];
    b.exact(&mut client, "a client address")?;
    Ok((endpoint, client))
}

/// Reads a pair record's ENIs and attempts into `pair` (merging with what it holds).
fn read_pair_into<R: Read>(
    b: &mut Bytes<R>,
    enis: usize,
    pair: &mut PairState,
) -> Result<(), StateError> {
    let n: usize = b.small("a pair's ENI count")?;
    for _ in 0..n {
        let eni = decode_eni(b.varint("a pair's ENI")?, enis)?;
        let bits: u16 = b.small("a pair's ENI bits")?;
        pair.note_eni(eni, bits);
    }
    let ports: usize = b.small("a port count")?;
    for _ in 0..ports {
        let port: u16 = b.small("a client port")?;
        let n: usize = b.small("an attempt count")?;
        for _ in 0..n {
            let flags: u16 = b.small("attempt flags")?;
            let request_tcp = b.u8("request tcp-flags")?;
            let reply_tcp = b.u8("reply tcp-flags")?;
            let records: u32 = b.small("attempt records")?;
            let rejects: u32 = b.small("attempt rejects")?;
            let first = unzigzag(b.varint("attempt start")?);
            let last = first.wrapping_add(unzigzag(b.varint("attempt end")?));
            if records == 0 {
                return Err(StateError::Corrupt {
                    what: "an attempt with no record",
                });
            }
            pair.observe(
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
    }
    if b.reasons {
        let n: usize = b.small("a reject-reason count")?;
        for _ in 0..n {
            let reason: std::sync::Arc<str> = b.string("a reject-reason")?.into();
            let count = b.varint("a reject-reason's records")?;
            pair.note_reject_reason(&reason, count);
        }
    }
    Ok(())
}

/// Reads pair records [`put_pair`] wrote, back to back with no header or end tag: a spill
/// file. ENI ids and endpoint indices are taken as they are.
pub(crate) struct PairReader<R> {
    bytes: Bytes<R>,
}

impl<R: Read> PairReader<R> {
    pub(crate) fn new(r: R) -> PairReader<R> {
        PairReader {
            bytes: Bytes { r, reasons: true },
        }
    }

    /// The next record, or `None` at the end of the input.
    pub(crate) fn next(&mut self) -> Result<Option<(PairKey, PairState)>, StateError> {
        let mut tag = [0u8; 1];
        match self.bytes.r.read(&mut tag) {
            Ok(0) => return Ok(None),
            Ok(_) if tag[0] == 1 => {}
            Ok(_) => return Err(StateError::Corrupt { what: "a pair tag" }),
            Err(e) => return Err(StateError::Io(e)),
        }
        read_pair_body(&mut self.bytes, u32::MAX as usize).map(Some)
    }

    /// Merges every remaining record into `pairs`, decoding each straight into its pair.
    pub(crate) fn merge_into(
        &mut self,
        pairs: &mut HashMap<PairKey, PairState>,
    ) -> Result<(), StateError> {
        loop {
            let mut tag = [0u8; 1];
            match self.bytes.r.read(&mut tag) {
                Ok(0) => return Ok(()),
                Ok(_) if tag[0] == 1 => {}
                Ok(_) => return Err(StateError::Corrupt { what: "a pair tag" }),
                Err(e) => return Err(StateError::Io(e)),
            }
            let key = read_key(&mut self.bytes)?;
            read_pair_into(
                &mut self.bytes,
                u32::MAX as usize,
                pairs.entry(key).or_default(),
            )?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_round_trip() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut b = Bytes {
                r: &out[..],
                reasons: true,
            };
            assert_eq!(b.varint("v").unwrap(), v);
        }
        for v in [0i64, 1, -1, 1_700_000_000, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let plan = Plan::new(crate::Catalogue::default(), None, None);
        assert!(matches!(
            StateReader::begin(Form::State, &b"nope"[..], &plan),
            Err(StateError::NotAState)
        ));
        assert!(matches!(
            StateReader::begin(Form::State, &b"VFST\x03\x00"[..], &plan),
            Err(StateError::Version { found: 3 })
        ));
        for n in 0..80 {
            let mut bytes = if n % 2 == 0 {
                b"VFST\x01\x00".to_vec()
            } else {
                b"VFST\x02\x00".to_vec()
            };
            bytes.extend((0..n).map(|i| (i * 37 + 11) as u8));
            // Any outcome but a panic.
            if let Ok(mut r) = StateReader::begin(Form::State, &bytes[..], &plan) {
                while let Ok(Some(_)) = r.next_pair() {}
            }
        }
    }

    #[test]
    fn a_version_1_state_still_reads() {
        let catalogue = crate::Catalogue::from_toml(
            "[[endpoint]]\nname = \"db\"\naddress = \"10.0.2.15\"\nport = 3306\n",
            "test",
        )
        .unwrap();
        let plan = Plan::new(catalogue, None, None);
        // Written by hand the way version 1 wrote it: no reject-reason list after the ports.
        let mut v1 = b"VFST\x01\x00".to_vec();
        put_varint(&mut v1, 1);
        put_str(&mut v1, "db");
        v1.extend([0, 0, 0, 0, 0, 0, 0, 0, 0]); // no ENIs, 7 zero counters, no ENI status
        v1.push(1); // a pair
        v1.push(0); // endpoint 0
        v1.extend([0u8; 10].iter().chain(&[0xff, 0xff, 10, 0, 1, 10]));
        v1.push(0); // no ENIs
        v1.push(1); // one port
        put_varint(&mut v1, 40_000);
        v1.push(1); // one attempt
        v1.extend([1, 0, 0, 1, 0]); // REQ_ACCEPT_ENDPOINT, no tcp-flags, 1 record, 0 REJECTs
        put_varint(&mut v1, zigzag(1_700_000_000));
        put_varint(&mut v1, zigzag(60));
        v1.push(0); // the end
        let state = crate::VerdictState::decode(plan.clone(), &v1).unwrap();
        let report = state.report();
        assert_eq!(report.verdicts.len(), 1);
        assert_eq!(report.verdicts[0].client.to_string(), "10.0.1.10");
        assert_eq!(report.verdicts[0].counts.attempts, 1);
        // Written again, it is version 2, and reads back equal.
        let v2 = state.encode();
        assert_eq!(&v2[4..6], &VERSION.to_le_bytes());
        assert_eq!(crate::VerdictState::decode(plan, &v2).unwrap(), state);
    }
}
