//! The judged form of a state: its header, then the verdict of each pair instead of the
//! pair's attempts ([`crate::VerdictState::encode_judged`]).
//!
//! A distributed run's final stage holds every attempt of its pairs (the shard is a function
//! of the pair), so it can judge them there and send verdicts, a few bytes per attempt for the
//! timeline, instead of the attempts. One thing a shard cannot decide is a verdict's
//! confidence: it depends on NODATA and SKIPDATA on the pair's and the endpoint's ENIs, which
//! other shards' headers may hold. So the form carries each verdict's ENIs, and the reader
//! decides the confidence once it has merged every header
//! ([`crate::Aggregator::report_shards`]).
//!
//! ```text
//! judged   := magic "VFJV" · version u16le (1) · header · verdict* · 0x00
//! verdict  := 0x01 · endpoint:varint · client:16 bytes · verdict:u8 · side:u8 · counts:varint×8
//!             · records:varint · first:zigzag · last−first:zigzag · changed:varint
//!             · latest:u8 · client ports:varint×2 · enis:list<eni> · endpoint enis:list<str>
//!             · reasons:list<str count> · reason:str · timeline
//! changed  := 0 for none, else 1 + zigzag(changed_at − first)
//! latest   := 0 for none, else 1 + the outcome's index
//! timeline := count:varint · runs:list<outcome:u8 length:varint>
//!             · (start − the previous start, from first):varint × count
//! ```
//!
//! The header is the state's (`codec`), so endpoints and ENIs are named as there; a timeline
//! is in time order, so its steps are small, and its outcomes come in runs.

use std::io::Read;

use crate::catalogue::Endpoint;
use crate::codec::{
    Bytes, StateError, decode_eni, eni_code, put_str, put_varint, unzigzag, zigzag,
};
use crate::outcome::{Counts, Outcome, Verdict};
use crate::plan::Plan;
use crate::report::{Confidence, PairVerdict, Side, addr};
use crate::state::PairKey;

/// Encodes one verdict record (tag included), ENI ids mapped through `map`.
pub(crate) fn put_verdict(
    out: &mut Vec<u8>,
    (endpoint, client): PairKey,
    v: &PairVerdict,
    enis: &[(u32, u16)],
    map: &dyn Fn(u32) -> u32,
) {
    out.push(1);
    put_varint(out, u64::from(endpoint));
    out.extend_from_slice(&client);
    out.push(v.verdict as u8);
    out.push(v.side as u8);
    for n in v.counts.to_array() {
        put_varint(out, n);
    }
    put_varint(out, v.records);
    put_varint(out, zigzag(v.first_seen));
    put_varint(out, zigzag(v.last_seen.wrapping_sub(v.first_seen)));
    put_varint(
        out,
        v.changed_at
            .map_or(0, |t| 1 + zigzag(t.wrapping_sub(v.first_seen))),
    );
    out.push(v.latest.map_or(0, |o| 1 + o.index()));
    put_varint(out, u64::from(v.client_ports.0));
    put_varint(out, u64::from(v.client_ports.1));
    let mut codes: Vec<u64> = enis.iter().map(|&(id, _)| eni_code(id, map)).collect();
    codes.sort_unstable();
    codes.dedup();
    put_varint(out, codes.len() as u64);
    for code in codes {
        put_varint(out, code);
    }
    put_varint(out, v.endpoint_enis.len() as u64);
    for name in &v.endpoint_enis {
        put_str(out, name);
    }
    put_varint(out, v.reject_reasons.len() as u64);
    for (reason, n) in &v.reject_reasons {
        put_str(out, reason);
        put_varint(out, *n);
    }
    put_str(out, &v.reason);
    put_varint(out, v.timeline.len() as u64);
    let mut runs: Vec<(Outcome, u64)> = Vec::new();
    for &(_, o) in &v.timeline {
        match runs.last_mut() {
            Some((last, n)) if *last == o => *n += 1,
            _ => runs.push((o, 1)),
        }
    }
    put_varint(out, runs.len() as u64);
    for (o, n) in runs {
        out.push(o.index());
        put_varint(out, n);
    }
    let mut previous = v.first_seen;
    for &(t, _) in &v.timeline {
        put_varint(out, t.wrapping_sub(previous) as u64);
        previous = t;
    }
}

/// One of `all` by its position.
fn nth<T: Copy>(all: &[T], i: u64, what: &'static str) -> Result<T, StateError> {
    usize::try_from(i)
        .ok()
        .and_then(|i| all.get(i).copied())
        .ok_or(StateError::Corrupt { what })
}

/// Reads one verdict record, or `None` at the end tag. `endpoints` maps the header's endpoint
/// indices to `plan`'s; the header names `enis` ENIs; `confidence` decides the verdict's
/// confidence from its side, endpoint and ENIs (header indices).
pub(crate) fn read_verdict<R: Read>(
    b: &mut Bytes<R>,
    plan: &Plan,
    endpoints: &[u32],
    enis: usize,
    confidence: &dyn Fn(Side, &Endpoint, &[u32]) -> Confidence,
) -> Result<Option<PairVerdict>, StateError> {
    match b.u8("a verdict tag")? {
        0 => return Ok(None),
        1 => {}
        _ => {
            return Err(StateError::Corrupt {
                what: "a verdict tag",
            });
        }
    }
    let endpoint = nth(
        endpoints,
        b.varint("an endpoint index")?,
        "an endpoint index",
    )?;
    let e = plan
        .catalogue
        .endpoints
        .get(endpoint as usize)
        .ok_or(StateError::Corrupt {
            what: "an endpoint index",
        })?;
    let mut client = [0u8; 16];
    b.exact(&mut client, "a client address")?;
    let verdict = nth(&Verdict::ALL, u64::from(b.u8("a verdict")?), "a verdict")?;
    let side = nth(&Side::ALL, u64::from(b.u8("a side")?), "a side")?;
    let mut counts = [0u64; 8];
    for c in &mut counts {
        *c = b.varint("a verdict's counts")?;
    }
    let counts = Counts::from_array(counts);
    let records = b.varint("a verdict's records")?;
    let first_seen = unzigzag(b.varint("first seen")?);
    let last_seen = first_seen.wrapping_add(unzigzag(b.varint("last seen")?));
    let changed_at = match b.varint("changed at")? {
        0 => None,
        n => Some(first_seen.wrapping_add(unzigzag(n - 1))),
    };
    let latest = match b.u8("the latest outcome")? {
        0 => None,
        n => Some(nth(&Outcome::ALL, u64::from(n - 1), "the latest outcome")?),
    };
    let client_ports = (b.small("a client port")?, b.small("a client port")?);
    let n: usize = b.small("a verdict's ENI count")?;
    let mut pair_enis = Vec::with_capacity(n.min(1 << 10));
    for _ in 0..n {
        pair_enis.push(decode_eni(b.varint("a verdict's ENI")?, enis)?);
    }
    let n: usize = b.small("an endpoint ENI count")?;
    let mut endpoint_enis = Vec::with_capacity(n.min(1 << 10));
    for _ in 0..n {
        endpoint_enis.push(b.string("an endpoint ENI")?);
    }
    let n: usize = b.small("a reject-reason count")?;
    let mut reject_reasons = Vec::with_capacity(n.min(1 << 10));
    for _ in 0..n {
        reject_reasons.push((
            b.string("a reject-reason")?,
            b.varint("a reject-reason's records")?,
        ));
    }
    let reason = b.string("a reason")?;
    let n: u64 = b.varint("a timeline's length")?;
    if n != counts.attempts {
        return Err(StateError::Corrupt {
            what: "a timeline of another length than the attempts",
        });
    }
    // The outcomes' runs first, so each start is read straight into its entry.
    let count: usize = b.small("a timeline's run count")?;
    let mut runs = Vec::with_capacity(count.min(1 << 10));
    let mut total = 0u64;
    for _ in 0..count {
        let o = nth(&Outcome::ALL, u64::from(b.u8("an outcome")?), "an outcome")?;
        let len = b.varint("an outcome run")?;
        total = total.saturating_add(len);
        runs.push((o, len));
    }
    if total != n {
        return Err(StateError::Corrupt {
            what: "a timeline's outcomes",
        });
    }
    let mut timeline = Vec::with_capacity((n as usize).min(1 << 20));
    let mut t = first_seen;
    for (o, len) in runs {
        for _ in 0..len {
            t = t.wrapping_add(b.varint("a timeline step")? as i64);
            timeline.push((t, o));
        }
    }
    Ok(Some(PairVerdict {
        endpoint: e.name.clone(),
        client: addr(client),
        port: e.port,
        verdict,
        counts,
        records,
        first_seen,
        last_seen,
        changed_at,
        latest,
        side,
        confidence: confidence(side, e, &pair_enis),
        reason,
        client_ports,
        endpoint_enis,
        reject_reasons,
        sampled: false,
        timeline,
        unexpected: false,
        public: false,
        explanation: None,
    }))
}

#[cfg(test)]
mod tests {
    use vpcflow_core::{Decoder, DecoderOptions, Reader};

    use crate::{Aggregator, Catalogue, Confidence, Plan, VerdictState};

    fn catalogue() -> Catalogue {
        Catalogue::from_toml(
            "[[endpoint]]\nname = \"db\"\naddress = \"10.0.3.213\"\nport = 3306\n\
             interface_ids = [\"eni-db\"]\n",
            "test",
        )
        .unwrap()
    }

    /// The state of `text`'s records.
    fn state(text: &str) -> VerdictState {
        let mut state = VerdictState::new(Plan::new(catalogue(), None, None));
        for batch in Reader::new(
            text.as_bytes(),
            Decoder::new(DecoderOptions::default()),
            "t",
        ) {
            state.fold(&batch.unwrap()).unwrap();
        }
        state
    }

    const RECORDS: &str = "\
2 1 eni-db 10.0.1.10 10.0.3.213 50000 3306 6 1 60 100 159 ACCEPT OK
2 1 eni-db 10.0.3.213 10.0.1.10 3306 50000 6 1 60 100 159 ACCEPT OK
2 1 eni-db 10.0.1.10 10.0.3.213 50001 3306 6 1 60 3000 3059 REJECT OK
2 1 eni-db 10.0.1.11 10.0.3.213 50002 3306 6 1 60 100 159 REJECT OK
";

    #[test]
    fn judged_verdicts_read_back_as_the_states_own_and_their_confidence_is_decided_by_the_reader() {
        let s = state(RECORDS);
        let agg = Aggregator::new(catalogue(), None, None);
        let report = agg.report_shards(&[&s.encode_judged()], 1).unwrap();
        assert_eq!(report.verdicts, s.report().verdicts);
        assert_eq!(report.stats, s.stats());
        let mixed = report
            .verdicts
            .iter()
            .find(|v| v.client.to_string() == "10.0.1.10")
            .unwrap();
        assert_eq!(mixed.verdict, crate::Verdict::Intermittent);
        assert_eq!(mixed.timeline.len(), 2);
        assert_eq!(mixed.changed_at, Some(3000));
        // NODATA on the endpoint's ENI, in another shard, lowers every verdict's confidence.
        let nodata = state("2 1 eni-db - - - - - - - 0 59 - NODATA\n");
        let agg = Aggregator::new(catalogue(), None, None);
        let report = agg
            .report_shards(&[&s.encode_judged(), &nodata.encode()], 1)
            .unwrap();
        assert!(
            report
                .verdicts
                .iter()
                .all(|v| v.confidence == Confidence::Medium),
            "{:?}",
            report.verdicts
        );
    }

    #[test]
    fn a_cut_or_corrupt_judged_form_is_an_error_not_a_panic() {
        let bytes = state(RECORDS).encode_judged();
        for n in 0..bytes.len() {
            let agg = Aggregator::new(catalogue(), None, None);
            assert!(agg.report_shards(&[&bytes[..n]], 1).is_err(), "cut at {n}");
        }
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                // Any outcome but a panic.
                let _ = Aggregator::new(catalogue(), None, None).report_shards(&[&b], 1);
            }
        }
    }
}
