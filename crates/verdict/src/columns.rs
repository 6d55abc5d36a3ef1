//! One batch's columns, found once, and what each row is to a verdict.
//!
//! [`Columns::find`] looks the columns up by name and maps every dictionary value (ENI, action,
//! log status, flow direction) once per batch; [`Flows::classify`] then reads one row and says
//! which attempt it observes, or why it is skipped ([`Skip`]).

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampSecondType, UInt8Type, UInt16Type};
use arrow_array::{Array, DictionaryArray, FixedSizeBinaryArray, PrimitiveArray, RecordBatch};
use arrow_schema::DataType;

use std::sync::Arc;

use hashbrown::HashMap;

use crate::engine::{MissingFields, REQUIRED};
use crate::outcome::{Attempt, flag};
use crate::plan::{EniTable, Plan};
use crate::report::RunStats;

/// Folds one batch: every row's [`Observation`] goes to `observe`, counters to `stats`, NODATA
/// and SKIPDATA records per ENI to `eni_status`; ENIs get ids in `enis`. A batch without the
/// fields verdicts need is an error naming them; its NODATA and SKIPDATA records are still
/// counted.
pub(crate) fn fold_batch(
    batch: &RecordBatch,
    plan: &Plan,
    enis: &mut EniTable,
    stats: &mut RunStats,
    eni_status: &mut HashMap<u32, (u64, u64)>,
    observe: &mut impl FnMut(Observation),
) -> Result<(), MissingFields> {
    let cols = Columns::find(batch, plan, enis);
    stats.records += batch.num_rows() as u64;
    // NODATA / SKIPDATA records carry no flow; count them per ENI whatever the format.
    for (eni, nodata) in cols.status_records() {
        let entry = eni_status.entry(eni).or_default();
        if nodata {
            entry.0 += 1;
            stats.nodata += 1;
        } else {
            entry.1 += 1;
            stats.skipdata += 1;
        }
    }
    let flows = cols.flows()?;
    for row in 0..batch.num_rows() {
        match flows.classify(row) {
            Ok(o) => {
                stats.matched += 1;
                observe(o);
            }
            Err(Skip::Status) => {}
            Err(Skip::Ignored) => stats.ignored += 1,
            Err(Skip::NotTcp) => stats.non_tcp += 1,
            Err(Skip::OutsideWindow) => stats.outside_window += 1,
        }
    }
    Ok(())
}

/// A row's log status.
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

/// Why a row makes no observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Skip {
    /// NODATA or SKIPDATA (counted per ENI elsewhere).
    Status,
    /// It touches no catalogued endpoint (or lacks an address, a port or an action).
    Ignored,
    /// It touches an endpoint's address and port, but is not TCP.
    NotTcp,
    /// Outside `--since`/`--until`.
    OutsideWindow,
}

/// What one record says about one attempt.
#[derive(Clone, Debug)]
pub(crate) struct Observation {
    pub endpoint: u32,
    pub client: [u8; 16],
    pub client_port: u16,
    /// The ENI (state table id) that logged it.
    pub eni: u32,
    /// The record's kind: one of the direction × action × side [`flag`] bits.
    pub bit: u16,
    pub attempt: Attempt,
    /// A REJECT's `reject-reason` (`BPA`, …), if it carried one.
    pub reject_reason: Option<Arc<str>>,
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
    let same = match (c.data_type(), &T::DATA_TYPE) {
        (DataType::Timestamp(u1, _), DataType::Timestamp(u2, _)) => u1 == u2,
        (a, b) => a == b,
    };
    same.then(|| c.as_primitive::<T>())
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

#[inline]
fn value_at<T: arrow_array::types::ArrowPrimitiveType>(
    a: &PrimitiveArray<T>,
    row: usize,
) -> Option<T::Native> {
    a.is_valid(row).then(|| a.value(row))
}

/// A batch's columns and per-batch value maps.
pub(crate) struct Columns<'b> {
    batch: &'b RecordBatch,
    plan: &'b Plan,
    status: Option<&'b DictionaryArray<Int32Type>>,
    statuses: Vec<Status>,
    eni: Option<&'b DictionaryArray<Int32Type>>,
    /// Per key of the ENI column: its id in the state's ENI table …
    eni_ids: Vec<u32>,
    /// … and the endpoint that owns it (`u32::MAX`: none).
    eni_endpoint: Vec<u32>,
}

impl<'b> Columns<'b> {
    /// Finds the columns of `batch` and maps its ENIs into `enis`.
    pub(crate) fn find(batch: &'b RecordBatch, plan: &'b Plan, enis: &mut EniTable) -> Self {
        let status = dict(batch, "log-status");
        let eni = dict(batch, "interface-id");
        Columns {
            batch,
            plan,
            status,
            statuses: per_key(status, |v| match v {
                "NODATA" => Status::NoData,
                "SKIPDATA" => Status::SkipData,
                _ => Status::Ok,
            }),
            eni,
            eni_ids: per_key(eni, |v| enis.id(v)),
            eni_endpoint: per_key(eni, |v| plan.eni_owner.get(v).copied().unwrap_or(u32::MAX)),
        }
    }

    #[inline]
    fn status(&self, row: usize) -> Status {
        self.status
            .and_then(|c| key_at(c, row))
            .map_or(Status::Ok, |k| self.statuses[k])
    }

    #[inline]
    fn eni_key(&self, row: usize) -> Option<usize> {
        self.eni.and_then(|c| key_at(c, row))
    }

    /// The NODATA (`true`) and SKIPDATA (`false`) rows, by ENI id (`u32::MAX`: none logged).
    pub(crate) fn status_records(&self) -> impl Iterator<Item = (u32, bool)> + '_ {
        let rows = if self.status.is_some() {
            self.batch.num_rows()
        } else {
            0
        };
        (0..rows).filter_map(move |row| match self.status(row) {
            Status::Ok => None,
            s => Some((
                self.eni_key(row).map_or(u32::MAX, |k| self.eni_ids[k]),
                s == Status::NoData,
            )),
        })
    }

    /// The flow columns, or the fields the batch lacks.
    pub(crate) fn flows(&'b self) -> Result<Flows<'b>, MissingFields> {
        let b = self.batch;
        let missing: Vec<&'static str> = REQUIRED
            .iter()
            .copied()
            .filter(|n| b.column_by_name(n).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(MissingFields(missing));
        }
        let (Some(src), Some(dst), Some(sport), Some(dport), Some(proto), Some(action)) = (
            ip(b, "srcaddr"),
            ip(b, "dstaddr"),
            prim::<UInt16Type>(b, "srcport"),
            prim::<UInt16Type>(b, "dstport"),
            prim::<UInt8Type>(b, "protocol"),
            dict(b, "action"),
        ) else {
            return Err(MissingFields(REQUIRED.to_vec()));
        };
        let direction = dict(b, "flow-direction");
        let reject_reason = dict(b, "reject-reason");
        Ok(Flows {
            cols: self,
            src,
            dst,
            sport,
            dport,
            proto,
            action,
            actions: per_key(Some(action), |v| match v {
                "ACCEPT" => Action::Accept,
                "REJECT" => Action::Reject,
                _ => Action::Other,
            }),
            pkt_src: ip(b, "pkt-srcaddr"),
            pkt_dst: ip(b, "pkt-dstaddr"),
            start: prim::<TimestampSecondType>(b, "start"),
            end: prim::<TimestampSecondType>(b, "end"),
            tcp_flags: prim::<UInt16Type>(b, "tcp-flags"),
            direction,
            directions: per_key(direction, |v| match v {
                "ingress" => Some(true),
                "egress" => Some(false),
                _ => None,
            }),
            reject_reason,
            reject_reasons: per_key(reject_reason, |v| {
                (!v.is_empty() && v != "-").then(|| Arc::from(v))
            }),
        })
    }
}

/// The columns a flow record needs, with the per-batch maps.
pub(crate) struct Flows<'b> {
    cols: &'b Columns<'b>,
    src: &'b FixedSizeBinaryArray,
    dst: &'b FixedSizeBinaryArray,
    sport: &'b PrimitiveArray<UInt16Type>,
    dport: &'b PrimitiveArray<UInt16Type>,
    proto: &'b PrimitiveArray<UInt8Type>,
    action: &'b DictionaryArray<Int32Type>,
    actions: Vec<Action>,
    pkt_src: Option<&'b FixedSizeBinaryArray>,
    pkt_dst: Option<&'b FixedSizeBinaryArray>,
    start: Option<&'b PrimitiveArray<TimestampSecondType>>,
    end: Option<&'b PrimitiveArray<TimestampSecondType>>,
    tcp_flags: Option<&'b PrimitiveArray<UInt16Type>>,
    direction: Option<&'b DictionaryArray<Int32Type>>,
    directions: Vec<Option<bool>>,
    reject_reason: Option<&'b DictionaryArray<Int32Type>>,
    /// Per key of `reject-reason`: the value, `None` for `-`.
    reject_reasons: Vec<Option<Arc<str>>>,
}

impl Flows<'_> {
    /// What row `row` observes, or why it observes nothing.
    #[inline]
    pub(crate) fn classify(&self, row: usize) -> Result<Observation, Skip> {
        let cols = self.cols;
        let plan = cols.plan;
        if cols.status(row) != Status::Ok {
            return Err(Skip::Status);
        }
        let (Some(dport), Some(sport)) = (value_at(self.dport, row), value_at(self.sport, row))
        else {
            return Err(Skip::Ignored);
        };
        let (dst_port_hit, src_port_hit) = (plan.ports.contains(dport), plan.ports.contains(sport));
        if !dst_port_hit && !src_port_hit {
            return Err(Skip::Ignored);
        }
        let (Some(s), Some(d)) = (ip_at(self.src, row), ip_at(self.dst, row)) else {
            return Err(Skip::Ignored);
        };
        // Through a NAT or transit gateway, pkt-*addr holds the address that matters.
        let s = self.pkt_src.and_then(|p| ip_at(p, row)).unwrap_or(s);
        let d = self.pkt_dst.and_then(|p| ip_at(p, row)).unwrap_or(d);
        let hit = |addr: [u8; 16], port: u16| plan.index.get(&(addr, port)).copied();
        let (endpoint, client, client_port, request) =
            if let Some(e) = dst_port_hit.then(|| hit(d, dport)).flatten() {
                (e, s, sport, true)
            } else if let Some(e) = src_port_hit.then(|| hit(s, sport)).flatten() {
                (e, d, dport, false)
            } else {
                return Err(Skip::Ignored);
            };
        if value_at(self.proto, row) != Some(6) {
            return Err(Skip::NotTcp);
        }
        let first = self.start.and_then(|c| value_at(c, row));
        let last = self.end.and_then(|c| value_at(c, row));
        let (since, until) = plan.window;
        if last.is_some_and(|l| l < since) || first.is_some_and(|f| f > until) {
            return Err(Skip::OutsideWindow);
        }
        let accept = match key_at(self.action, row).map_or(Action::Other, |k| self.actions[k]) {
            Action::Accept => true,
            Action::Reject => false,
            Action::Other => return Err(Skip::Ignored),
        };
        let eni_key = cols.eni_key(row);
        let (at_endpoint, inferred) = if !plan.catalogue.endpoints[endpoint as usize]
            .interface_ids
            .is_empty()
        {
            (
                eni_key.is_some_and(|k| cols.eni_endpoint[k] == endpoint),
                false,
            )
        } else if let Some(ingress) = self
            .direction
            .and_then(|c| key_at(c, row))
            .and_then(|k| self.directions[k])
        {
            // A request arrives at the endpoint; a reply leaves it.
            (ingress == request, false)
        } else {
            (true, true)
        };
        let bit = flag::record_kind(request, accept, at_endpoint);
        let tcp = self
            .tcp_flags
            .and_then(|c| value_at(c, row))
            .map(|t| t as u8);
        let reject_reason = if accept {
            None
        } else {
            self.reject_reason
                .and_then(|c| key_at(c, row))
                .and_then(|k| self.reject_reasons[k].clone())
        };
        let reject_kind = match (accept, &reject_reason) {
            (true, _) => 0,
            (false, Some(_)) => flag::REJECT_REASONED,
            (false, None) => flag::REJECT_PLAIN,
        };
        let mut attempt = Attempt {
            flags: bit
                | reject_kind
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
                attempt.request_tcp = t;
            } else {
                attempt.reply_tcp = t;
            }
        }
        Ok(Observation {
            endpoint,
            client,
            client_port,
            eni: eni_key.map_or(u32::MAX, |k| cols.eni_ids[k]),
            bit,
            attempt,
            reject_reason,
        })
    }
}
