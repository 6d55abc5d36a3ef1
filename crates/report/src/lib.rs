//! The HTML report: one self-contained file (inline CSS and SVG, a little inline JavaScript, no
//! fetches) that answers "since when?" and "where on the path?" for every client–endpoint pair.
//!
//! - A header with what was read and how sure the verdicts are, and a summary per endpoint.
//! - Per pair, blocked and intermittent first: the reason, a **timeline** of its attempts on the
//!   run's time axis, binned ([`BINS`] bars, one SVG path per outcome, so a pair with thousands
//!   of attempts costs what a pair with ten does), with the `changed_at` moment marked; and for
//!   explained pairs the **path** (client security groups → client subnet ACL → database subnet
//!   ACL → database security groups, then the reply), the failing hop marked, its rule and fix
//!   beside it, a contradiction shown as one.
//! - Allowed pairs are collapsed in a `<details>`.
//!
//! Outcomes are told apart by label and pattern, not by colour alone. A print stylesheet opens
//! everything; the layout reflows to a phone's width. The script only adds filtering and sorting
//! and marks the page ready (`data-ready`); without it the page reads the same.
//!
//! No I/O: [`render`] returns the page as a string. [`ocsf::events`] gives the verdicts as OCSF
//! events instead.
#![deny(missing_docs)]

pub mod ocsf;

use std::collections::BTreeMap;
use std::fmt::Write;

use vpcflow_verdict::{Confidence, Hop, Outcome, PairVerdict, Report, Verdict, rfc3339};

/// Bars per timeline.
pub const BINS: usize = 60;
const WIDTH: usize = 600;
const HEIGHT: usize = 36;

/// What the report says about the run besides the verdicts.
#[derive(Clone, Debug, Default)]
pub struct Meta {
    /// The inputs as given (paths, `s3://` prefixes, `logs:GROUP`).
    pub inputs: Vec<String>,
    /// `--since` / `--until`, Unix seconds.
    pub window: (Option<i64>, Option<i64>),
    /// Malformed records skipped.
    pub malformed: u64,
    /// Sources that could not be read to their end.
    pub unreadable: u64,
}

/// The page.
pub fn render(report: &Report, meta: &Meta) -> String {
    let mut out = String::with_capacity(64 * 1024 + report.verdicts.len() * 2048);
    let axis = Axis::of(report);
    out.push_str(HEAD);
    header(&mut out, report, meta, &axis);
    summary(&mut out, report);
    out.push_str(LEGEND);
    out.push_str(
        "<div id=\"controls\" hidden><label>Filter <input id=\"filter\" type=\"search\" placeholder=\"endpoint, client or verdict\"></label> <label>Sort <select id=\"sort\"><option value=\"verdict\">verdict</option><option value=\"endpoint\">endpoint</option><option value=\"client\">client</option><option value=\"attempts\">attempts</option></select></label></div>\n",
    );
    out.push_str("<main id=\"pairs\">\n");
    let (allowed, first): (Vec<&PairVerdict>, Vec<&PairVerdict>) = report
        .verdicts
        .iter()
        .partition(|v| v.verdict == Verdict::Allowed);
    for v in first {
        pair(&mut out, v, &axis);
    }
    if !allowed.is_empty() {
        let _ = writeln!(
            out,
            "<details class=\"allowed\"><summary>{} allowed pair{}</summary>",
            allowed.len(),
            if allowed.len() == 1 { "" } else { "s" }
        );
        for v in allowed {
            pair(&mut out, v, &axis);
        }
        out.push_str("</details>\n");
    }
    out.push_str("</main>\n");
    out.push_str(SCRIPT);
    out.push_str("</body>\n</html>\n");
    out
}

/// The run's time axis: every timeline spans it.
struct Axis {
    from: i64,
    to: i64,
}

impl Axis {
    fn of(report: &Report) -> Axis {
        let from = report
            .verdicts
            .iter()
            .map(|v| v.first_seen)
            .min()
            .unwrap_or(0);
        let to = report
            .verdicts
            .iter()
            .map(|v| v.last_seen)
            .max()
            .unwrap_or(from);
        Axis {
            from,
            to: to.max(from.saturating_add(1)),
        }
    }

    fn bin(&self, t: i64) -> usize {
        let span = (self.to as f64 - self.from as f64).max(1.0);
        (((t as f64 - self.from as f64) / span * BINS as f64).max(0.0) as usize).min(BINS - 1)
    }

    fn x(&self, t: i64) -> f64 {
        let span = (self.to as f64 - self.from as f64).max(1.0);
        ((t as f64 - self.from as f64) / span).clamp(0.0, 1.0) * WIDTH as f64
    }
}

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// `11-20 09:02Z`: an axis end.
fn short_time(t: i64) -> String {
    let full = rfc3339(t);
    full.get(5..16)
        .map_or(full.clone(), |s| format!("{}Z", s.replace('T', " ")))
}

fn time(t: Option<i64>) -> String {
    t.map_or_else(|| "open".to_owned(), rfc3339)
}

fn header(out: &mut String, report: &Report, meta: &Meta, axis: &Axis) {
    let s = &report.stats;
    let low = report
        .verdicts
        .iter()
        .filter(|v| v.confidence == Confidence::Low)
        .count();
    let medium = report
        .verdicts
        .iter()
        .filter(|v| v.confidence == Confidence::Medium)
        .count();
    let _ = write!(
        out,
        "<header><h1>Which connections to the databases were blocked, and where</h1>\n<dl class=\"meta\">\
         <dt>Inputs</dt><dd>{}</dd>\
         <dt>Window</dt><dd>{} to {} (records from {} to {})</dd>\
         <dt>Records</dt><dd>{} read, {} judged; {} touch no catalogued endpoint, {} not TCP, {} outside the window; {} NODATA, {} SKIPDATA</dd>\
         <dt>Skipped</dt><dd>{} malformed records, {} unreadable sources</dd>\
         <dt>Confidence</dt><dd>{}</dd></dl>",
        if meta.inputs.is_empty() {
            "standard input".to_owned()
        } else {
            meta.inputs
                .iter()
                .map(|i| esc(i))
                .collect::<Vec<_>>()
                .join(", ")
        },
        time(meta.window.0),
        time(meta.window.1),
        rfc3339(axis.from),
        rfc3339(axis.to),
        s.records,
        s.matched,
        s.ignored,
        s.non_tcp,
        s.outside_window,
        s.nodata,
        s.skipdata,
        meta.malformed,
        meta.unreadable,
        if low + medium == 0 {
            "high for every pair: no record was lost or had its side inferred".to_owned()
        } else {
            format!(
                "{low} pair{} low (records were lost: SKIPDATA, or a sampled live tail), {medium} medium (NODATA, or the side of records inferred)",
                if low == 1 { "" } else { "s" }
            )
        }
    );
    if !report.silent_endpoints.is_empty() {
        let _ = write!(
            out,
            "<p class=\"note\">No traffic seen for: {}.</p>",
            esc(&report.silent_endpoints.join(", "))
        );
    }
    out.push_str("</header>\n");
}

fn summary(out: &mut String, report: &Report) {
    // Clients by verdict, then the unexpected ones (which are also counted by their verdict).
    let mut by: BTreeMap<&str, [usize; 5]> = BTreeMap::new();
    for v in &report.verdicts {
        let i = match v.verdict {
            Verdict::Blocked => 0,
            Verdict::Intermittent => 1,
            Verdict::Unanswered => 2,
            Verdict::Allowed => 3,
        };
        let row = by.entry(&v.endpoint).or_default();
        row[i] += 1;
        row[4] += usize::from(v.unexpected);
    }
    out.push_str("<section id=\"summary\"><h2>Per endpoint</h2><table><thead><tr><th scope=\"col\">endpoint</th><th scope=\"col\">blocked</th><th scope=\"col\">intermittent</th><th scope=\"col\">unanswered</th><th scope=\"col\">allowed</th><th scope=\"col\">unexpected</th></tr></thead><tbody>");
    for (e, c) in &by {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(e),
            c[0],
            c[1],
            c[2],
            c[3],
            c[4]
        );
    }
    out.push_str("</tbody></table></section>\n");
}

/// The CSS class and label of an outcome.
fn outcome_style(o: Outcome) -> (&'static str, &'static str) {
    match o {
        Outcome::Connected => ("o-connected", "connected"),
        Outcome::BlockedIngress => ("o-ingress", "blocked at ingress"),
        Outcome::BlockedReturn => ("o-return", "blocked on the return path"),
        Outcome::BlockedEgress => ("o-egress", "blocked at egress"),
        Outcome::Unanswered => ("o-unanswered", "unanswered"),
    }
}

fn pair(out: &mut String, v: &PairVerdict, axis: &Axis) {
    let verdict = v.verdict.as_str();
    let _ = write!(
        out,
        "<article class=\"pair v-{verdict}\" data-verdict=\"{verdict}\" data-endpoint=\"{e}\" data-client=\"{c}\" data-attempts=\"{n}\" data-blocked=\"{blocked}\" data-connected=\"{conn}\" data-unanswered=\"{unans}\" data-records=\"{records}\" data-unexpected=\"{unexpected}\">\
         <h3><span class=\"badge\">{upper}</span>{tag} {e} ← {c} <span class=\"port\">tcp/{port}</span></h3>\
         <p class=\"reason\">{reason}</p>\
         <p class=\"counts\">{n} attempts: {blocked} blocked ({ing} at ingress, {ret} on the return path, {egr} at egress), {conn} connected, {unans} unanswered; first seen {first}, last seen {last}; confidence {conf}{sampled}</p>",
        e = esc(&v.endpoint),
        c = v.client,
        n = v.counts.attempts,
        upper = verdict.to_uppercase(),
        port = v.port,
        reason = esc(&v.reason),
        blocked = v.counts.blocked(),
        ing = v.counts.blocked_ingress,
        ret = v.counts.blocked_return,
        egr = v.counts.blocked_egress,
        conn = v.counts.connected,
        unans = v.counts.unanswered,
        records = v.records,
        unexpected = v.unexpected,
        tag = if v.unexpected {
            " <span class=\"badge unexpected\">UNEXPECTED</span>"
        } else {
            ""
        },
        first = rfc3339(v.first_seen),
        last = rfc3339(v.last_seen),
        conf = v.confidence.as_str(),
        sampled = if v.sampled {
            " (sampled live tail)"
        } else {
            ""
        },
    );
    timeline(out, v, axis);
    if let Some(x) = &v.explanation {
        path(out, v, x);
    }
    out.push_str("</article>\n");
}

/// The attempts on the run's axis: per bin, a bar per outcome, stacked, its height the share
/// of the pair's busiest bin; one path per outcome.
fn timeline(out: &mut String, v: &PairVerdict, axis: &Axis) {
    let mut bins = vec![[0u32; 5]; BINS];
    for &(t, o) in &v.timeline {
        bins[axis.bin(t)][o.index() as usize] += 1;
    }
    let peak = bins
        .iter()
        .map(|b| b.iter().sum::<u32>())
        .max()
        .unwrap_or(0)
        .max(1);
    let w = WIDTH / BINS;
    let mut paths: [String; 5] = Default::default();
    for (i, b) in bins.iter().enumerate() {
        let mut y = HEIGHT as f64;
        for o in Outcome::ALL {
            let n = b[o.index() as usize];
            if n == 0 {
                continue;
            }
            let h = (n as f64 / peak as f64 * (HEIGHT - 2) as f64).max(2.0);
            y -= h;
            let _ = write!(
                paths[o.index() as usize],
                "M{} {:.0}h{}v{:.0}h-{}z",
                i * w,
                y,
                w - 1,
                h,
                w - 1
            );
        }
    }
    let label = {
        let mut parts: Vec<String> = Outcome::ALL
            .iter()
            .filter_map(|&o| {
                let n = v.timeline.iter().filter(|(_, x)| *x == o).count();
                (n > 0).then(|| format!("{n} {}", outcome_style(o).1))
            })
            .collect();
        if parts.is_empty() {
            parts.push("no attempts".into());
        }
        format!(
            "Timeline of {} ← {}: {}",
            v.endpoint,
            v.client,
            parts.join(", ")
        )
    };
    let _ = write!(
        out,
        "<svg class=\"timeline\" viewBox=\"0 0 {WIDTH} {}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        HEIGHT + 12,
        esc(&label),
        esc(&label)
    );
    for o in Outcome::ALL {
        let d = &paths[o.index() as usize];
        if !d.is_empty() {
            let (class, name) = outcome_style(o);
            let _ = write!(
                out,
                "<path class=\"{class}\" d=\"{d}\"><title>{name}</title></path>"
            );
        }
    }
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"0\" y1=\"{HEIGHT}\" x2=\"{WIDTH}\" y2=\"{HEIGHT}\"/><text class=\"tick\" x=\"0\" y=\"{y}\">{from}</text><text class=\"tick\" x=\"{WIDTH}\" y=\"{y}\" text-anchor=\"end\">{to}</text>",
        y = HEIGHT + 11,
        from = short_time(axis.from),
        to = short_time(axis.to),
    );
    if let Some(at) = v.changed_at {
        let x = axis.x(at);
        let _ = write!(
            out,
            "<line class=\"changed\" x1=\"{x:.0}\" y1=\"0\" x2=\"{x:.0}\" y2=\"{HEIGHT}\"><title>changed at {t}</title></line><text class=\"changed\" x=\"{tx:.0}\" y=\"{ty}\">changed {t}</text>",
            t = rfc3339(at),
            tx = x.clamp(110.0, (WIDTH - 300) as f64),
            ty = HEIGHT + 11,
        );
    }
    out.push_str("</svg>");
}

/// The path of an explained pair, the failing hop marked.
fn path(out: &mut String, v: &PairVerdict, x: &vpcflow_verdict::Explanation) {
    out.push_str("<section class=\"path\" aria-label=\"path\">");
    if x.contradiction {
        out.push_str("<p class=\"contradiction\"><strong>Contradiction:</strong> the configuration and the logs disagree.</p>");
    }
    let hop = |h: Hop| {
        let fail = x.hop == Some(h);
        let shown = h != Hop::VpcControl || fail;
        (shown, fail)
    };
    let mut request = format!(
        "<ol class=\"hops\" aria-label=\"request\"><li class=\"end\">client {}</li>",
        v.client
    );
    let mut reply =
        String::from("<ol class=\"hops\" aria-label=\"reply\"><li class=\"end\">database</li>");
    for h in Hop::PATH {
        let (shown, fail) = hop(h);
        if !shown {
            continue;
        }
        let item = if fail {
            format!(
                "<li class=\"fail\"><span class=\"mark\">✗ blocked here</span> {}{}</li>",
                esc(h.label()),
                x.blocked_by
                    .as_deref()
                    .map(|b| format!(" <code>{}</code>", esc(b)))
                    .unwrap_or_default()
            )
        } else {
            format!("<li>{}</li>", esc(h.label()))
        };
        if h.is_reply() {
            reply.push_str(&item);
        } else {
            request.push_str(&item);
        }
    }
    let _ = write!(
        request,
        "<li class=\"end\">{} tcp/{}</li></ol>",
        esc(&v.endpoint),
        v.port
    );
    let _ = write!(reply, "<li class=\"end\">client {}</li></ol>", v.client);
    out.push_str(&request);
    out.push_str(&reply);
    let _ = write!(out, "<p class=\"detail\">{}</p>", esc(&x.detail));
    if let Some(fix) = &x.fix {
        let _ = write!(
            out,
            "<p class=\"fix\"><strong>Fix:</strong> {}</p>",
            esc(fix)
        );
    }
    out.push_str("</section>");
}

const HEAD: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>vpcflow verdicts</title>
<style>
:root { --ok: #1b7f3b; --ing: #b3261e; --ret: #c25e00; --egr: #6a1b9a; --un: #666; --ink: #1a1a1a; --muted: #555; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 0 auto; max-width: 1200px; padding: 1rem; }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
h2 { font-size: 1.1rem; }
h3 { font-size: 1rem; margin: 0 0 .3rem; overflow-wrap: anywhere; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 0; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid #ddd; padding: .2rem .6rem; text-align: right; }
th[scope=row], thead th:first-child { text-align: left; }
.pair { border: 1px solid #ccc; border-left: 6px solid var(--un); border-radius: 4px; padding: .6rem .8rem; margin: .8rem 0; }
.v-blocked { border-left-color: var(--ing); }
.v-intermittent { border-left-color: var(--ret); }
.v-allowed { border-left-color: var(--ok); }
.badge { display: inline-block; font-size: .75rem; font-weight: 700; letter-spacing: .04em; border: 1px solid currentColor; border-radius: 3px; padding: 0 .3rem; }
.v-blocked .badge { color: var(--ing); } .v-intermittent .badge { color: var(--ret); } .v-allowed .badge { color: var(--ok); } .v-unanswered .badge { color: var(--un); }
.badge.unexpected { color: var(--ing); margin-left: .3rem; }
.port { color: var(--muted); font-weight: 400; }
.reason, .counts, .detail, .fix { margin: .25rem 0; overflow-wrap: anywhere; }
.counts { color: var(--muted); font-size: .9rem; }
svg.timeline { width: 100%; max-width: 600px; height: auto; display: block; margin: .3rem 0; }
.o-connected { fill: var(--ok); } .o-ingress { fill: url(#p-ingress); } .o-return { fill: url(#p-return); } .o-egress { fill: url(#p-egress); }
.o-unanswered { fill: #fff; stroke: var(--un); stroke-width: 1; }
line.axis { stroke: #999; } text.tick { font-size: 10px; fill: var(--muted); } line.changed { stroke: var(--ink); stroke-width: 2; stroke-dasharray: 3 2; } text.changed { font-size: 10px; fill: var(--ink); }
ol.hops { list-style: none; display: flex; flex-wrap: wrap; gap: .3rem; padding: 0; margin: .3rem 0; }
ol.hops li { border: 1px solid #bbb; border-radius: 3px; padding: .1rem .4rem; font-size: .85rem; }
ol.hops li + li::before { content: "→ "; color: var(--muted); }
ol.hops li.end { background: #f3f3f3; }
ol.hops li.fail { border: 2px solid var(--ing); background: #fdecea; font-weight: 600; }
.mark { color: var(--ing); }
.contradiction { border: 2px dashed var(--ret); padding: .2rem .4rem; }
.legend { display: flex; flex-wrap: wrap; gap: .8rem; list-style: none; padding: 0; }
.legend svg { width: 18px; height: 12px; vertical-align: middle; }
details.allowed > summary { cursor: pointer; font-weight: 600; margin: .8rem 0; }
code { font-size: .85em; }
.note { color: var(--muted); }
@media (max-width: 700px) { body { padding: .5rem; font-size: 14px; } dl.meta { grid-template-columns: 1fr; } #summary table { width: 100%; table-layout: fixed; } th, td { padding: .2rem .2rem; font-size: .8rem; overflow-wrap: anywhere; hyphens: auto; } #summary th[scope=row] { width: 34%; } }
@media print { #controls { display: none !important; } details.allowed { display: block; } details.allowed > summary { display: none; } .pair { break-inside: avoid; } body { max-width: none; } }
</style>
</head>
<body>
<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>
<pattern id="p-ingress" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#b3261e"/><rect width="2" height="6" fill="#fff" opacity=".55"/></pattern>
<pattern id="p-return" width="5" height="5" patternUnits="userSpaceOnUse"><rect width="5" height="5" fill="#c25e00"/><circle cx="2.5" cy="2.5" r="1.2" fill="#fff" opacity=".7"/></pattern>
<pattern id="p-egress" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#6a1b9a"/><path d="M0 0L6 6M6 0L0 6" stroke="#fff" stroke-width="1" opacity=".6"/></pattern>
</defs></svg>
"##;

const LEGEND: &str = r##"<ul class="legend" aria-label="legend">
<li><svg viewBox="0 0 18 12"><rect width="18" height="12" class="o-connected"/></svg> connected</li>
<li><svg viewBox="0 0 18 12"><rect width="18" height="12" class="o-ingress"/></svg> blocked at ingress</li>
<li><svg viewBox="0 0 18 12"><rect width="18" height="12" class="o-return"/></svg> blocked on the return path</li>
<li><svg viewBox="0 0 18 12"><rect width="18" height="12" class="o-egress"/></svg> blocked at egress</li>
<li><svg viewBox="0 0 18 12"><rect x=".5" y=".5" width="17" height="11" class="o-unanswered"/></svg> unanswered</li>
<li><svg viewBox="0 0 18 12"><line x1="9" y1="0" x2="9" y2="12" class="changed"/></svg> when the outcome last changed</li>
</ul>
"##;

const SCRIPT: &str = r##"<script>
(function () {
  var main = document.getElementById("pairs");
  var controls = document.getElementById("controls");
  var filter = document.getElementById("filter");
  var sort = document.getElementById("sort");
  var rank = { blocked: 0, intermittent: 1, unanswered: 2, allowed: 3 };
  function pairs() { return Array.prototype.slice.call(main.querySelectorAll(":scope > article.pair")); }
  function apply() {
    var q = filter.value.trim().toLowerCase();
    main.querySelectorAll("article.pair").forEach(function (a) {
      var text = (a.dataset.endpoint + " " + a.dataset.client + " " + a.dataset.verdict).toLowerCase();
      a.hidden = q !== "" && text.indexOf(q) < 0;
    });
    var key = sort.value;
    var list = pairs();
    list.sort(function (x, y) {
      if (key === "attempts") return y.dataset.attempts - x.dataset.attempts;
      if (key === "verdict") return rank[x.dataset.verdict] - rank[y.dataset.verdict];
      return x.dataset[key] < y.dataset[key] ? -1 : x.dataset[key] > y.dataset[key] ? 1 : 0;
    });
    var allowed = main.querySelector("details.allowed");
    list.forEach(function (a) { main.insertBefore(a, allowed); });
  }
  controls.hidden = false;
  filter.addEventListener("input", apply);
  sort.addEventListener("change", apply);
  var root = document.documentElement;
  root.dataset.ready = "1";
  // Nothing reaches past the screen's right edge (the phone check of the tests).
  var edge = root.clientWidth + 1;
  var wide = Array.prototype.filter.call(document.querySelectorAll("body *"), function (e) {
    var r = e.getBoundingClientRect();
    return r.width > 0 && r.right > edge;
  });
  root.dataset.fits = String(wide.length === 0 && root.scrollWidth <= edge);
  if (wide.length) root.dataset.overflow = wide[0].tagName + (wide[0].id ? "#" + wide[0].id : "");
})();
</script>
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use vpcflow_verdict::Counts;

    fn pair(i: usize, attempts: usize) -> PairVerdict {
        let mut counts = Counts::default();
        let timeline: Vec<(i64, Outcome)> = (0..attempts)
            .map(|k| {
                let o = if k % 3 == 0 {
                    Outcome::BlockedIngress
                } else {
                    Outcome::Connected
                };
                (1_795_000_000 + (k as i64 * 86_400 / attempts as i64), o)
            })
            .collect();
        counts.attempts = attempts as u64;
        counts.blocked_ingress = timeline.iter().filter(|(_, o)| o.is_blocked()).count() as u64;
        counts.connected = counts.attempts - counts.blocked_ingress;
        PairVerdict {
            endpoint: format!("db{}", i % 10),
            client: std::net::IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]),
            port: 3306,
            verdict: Verdict::from_counts(&counts),
            counts,
            records: attempts as u64 * 5,
            first_seen: 1_795_000_000,
            last_seen: 1_795_086_400,
            changed_at: Some(1_795_040_000),
            latest: Some(Outcome::Connected),
            side: vpcflow_verdict::Side::Eni,
            confidence: Confidence::High,
            reason: "3 of 5 attempts blocked <script>".into(),
            client_ports: (40000, 40010),
            endpoint_enis: vec![],
            reject_reasons: vec![],
            sampled: false,
            timeline,
            unexpected: false,
            public: false,
            explanation: None,
        }
    }

    #[test]
    fn a_thousand_dense_pairs_stay_under_five_megabytes() {
        // 1,000 pairs × 5,000 attempts: 5 M attempts, more than 5 M records make.
        let report = Report {
            verdicts: (0..1000).map(|i| pair(i, 5000)).collect(),
            ..Report::default()
        };
        let page = render(&report, &Meta::default());
        eprintln!("1,000 pairs of 5,000 attempts: {} bytes", page.len());
        assert!(page.len() < 5_000_000, "{} bytes", page.len());
        assert_eq!(page.matches("<article").count(), 1000);
        // Binned: at most one path per outcome per pair.
        assert!(page.matches("<path class=\"o-").count() <= 1000 * 5);
    }

    #[test]
    fn text_is_escaped_and_nothing_is_fetched() {
        let report = Report {
            verdicts: vec![pair(1, 10)],
            ..Report::default()
        };
        let page = render(&report, &Meta::default());
        assert!(page.contains("blocked &lt;script&gt;"));
        assert!(!page.contains("src=") && !page.contains("href="));
        assert!(page.contains("default-src 'none'"));
    }

    #[test]
    fn the_path_marks_the_failing_hop_and_a_contradiction_says_so() {
        use vpcflow_verdict::Explanation;
        let mut p = pair(1, 10);
        p.explanation = Some(Explanation {
            blocked_by: Some("bpa:block-bidirectional".into()),
            detail: "VPC Block Public Access is in block-bidirectional mode".into(),
            fix: Some("exclude the subnet".into()),
            hop: Some(Hop::VpcControl),
            ..Explanation::default()
        });
        let mut q = pair(2, 10);
        q.explanation = Some(Explanation {
            detail: "contradiction: the configuration admits it".into(),
            contradiction: true,
            ..Explanation::default()
        });
        let page = render(
            &Report {
                verdicts: vec![p, q],
                ..Report::default()
            },
            &Meta::default(),
        );
        let (first, second) = page.split_at(page.find("data-client=\"10.0.0.2\"").unwrap());
        assert!(first.contains("class=\"fail\"><span class=\"mark\">✗ blocked here</span> VPC Block Public Access <code>bpa:block-bidirectional</code>"));
        assert!(first.contains("<strong>Fix:</strong> exclude the subnet"));
        assert!(!first.contains("Contradiction"));
        // No hop fails in a contradiction, and the VPC control is not drawn where it is not
        // involved.
        assert!(second.contains("<strong>Contradiction:</strong>"));
        assert!(!second.contains("class=\"fail\""));
        assert!(!second.contains("VPC Block Public Access"));
        // The moment the outcome changed is marked on the timeline.
        assert!(first.contains("<line class=\"changed\""));
    }
}
