//! What a run says: the verdicts on stdout (table, JSON lines or CSV) or in an HTML file, what went wrong per
//! source on stderr, and the exit code.

use std::io::Write;

use anyhow::{Context, Result};
use arrow_array::RecordBatch;
use vpcflow_input::SourceReport;
use vpcflow_sink::{BatchWriter, CsvWriter, Fit, JsonLinesWriter, TableWriter};
use vpcflow_verdict::Report;

use crate::flags::VerdictOutput;
use crate::flags::resolve::OutFile;
use crate::flags::values::FailOn;
use crate::output;

/// Success (and, for `verdict`, nothing blocked).
pub const EXIT_OK: u8 = 0;
/// `verdict` and `tail`: some attempt was blocked.
pub const EXIT_BLOCKED: u8 = 1;
/// An error: bad arguments, an input that could not be read to its end, a malformed line under
/// `--strict`.
pub const EXIT_ERROR: u8 = 2;

/// The exit code of a verdict run.
pub fn verdict_exit(failed: bool, report: &Report, fail_on: FailOn) -> u8 {
    if failed {
        EXIT_ERROR
    } else if (fail_on.blocked && report.any_blocked())
        || (fail_on.unexpected && report.verdicts.iter().any(|v| v.unexpected))
    {
        EXIT_BLOCKED
    } else {
        EXIT_OK
    }
}

/// What the sources of a run came to, for the HTML report's header.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    /// Malformed records skipped.
    pub malformed: u64,
    /// Sources not read to their end.
    pub unreadable: u64,
    /// Records filter-first skipped undecoded.
    pub filtered: u64,
}

impl Tally {
    /// The tally of these sources.
    pub fn of(reports: &[SourceReport]) -> Tally {
        Tally {
            malformed: reports.iter().map(|r| r.malformed).sum(),
            unreadable: reports.iter().filter(|r| r.error.is_some()).count() as u64,
            filtered: reports.iter().map(|r| r.filtered).sum(),
        }
    }
}

/// Writes the HTML report to `out`.
pub fn write_html(report: &Report, meta: &vpcflow_report::Meta, out: &OutFile) -> Result<()> {
    let page = vpcflow_report::render(report, meta);
    let mut file = output::create_out(&out.path, out.force)?;
    file.write_all(page.as_bytes())
        .and_then(|()| file.flush())
        .with_context(|| format!("cannot write {}", out.path.display()))?;
    eprintln!(
        "wrote {} ({} pairs, {:.0} KB)",
        out.path.display(),
        report.verdicts.len(),
        page.len() as f64 / 1e3
    );
    Ok(())
}

/// Writes one OCSF event per verdict, as JSON lines.
fn write_ocsf(report: &Report, mut out: Box<dyn Write + Send>) -> Result<()> {
    for event in vpcflow_report::ocsf::events(report) {
        serde_json::to_writer(&mut out, &event)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Writes the verdicts to stdout in the chosen form (HTML goes through [`write_html`]).
pub fn write_verdicts(report: &Report, format: VerdictOutput) -> Result<()> {
    let out = output::stdout();
    let (batch, mut writer): (RecordBatch, Box<dyn BatchWriter>) = match format {
        VerdictOutput::Table => (
            report.to_table_batch(),
            Box::new(TableWriter::with_fit(out, verdict_fit())),
        ),
        VerdictOutput::Json => (report.to_batch(), Box::new(JsonLinesWriter::new(out))),
        VerdictOutput::Csv => (report.to_batch(), Box::new(CsvWriter::new(out))),
        VerdictOutput::Html => anyhow::bail!("the HTML report goes to a file: pass --out FILE"),
        VerdictOutput::Ocsf => return write_ocsf(report, out),
    };
    if batch.num_rows() > 0 || format == VerdictOutput::Table {
        writer.write(&batch)?;
    }
    writer.finish()?;
    if format == VerdictOutput::Table {
        write_explanations(report)?;
    }
    Ok(())
}

/// The verdict table on this screen: as wide as [`output::screen`] says, hiding the columns
/// that matter least first and shortening the reason; the verdict coloured on a terminal.
/// JSON and CSV are never shortened.
fn verdict_fit() -> Fit {
    let screen = output::screen();
    Fit {
        width: Some(screen.width),
        droppable: vec![
            "first_seen",
            "confidence",
            "connected",
            "blocked",
            "attempts",
            "last_seen",
            "port",
        ],
        colour: screen.colour.then_some(("verdict", paint_verdict)),
    }
}

/// The colour of a verdict (ANSI SGR).
fn paint_verdict(verdict: &str) -> Option<&'static str> {
    match verdict {
        "blocked" => Some("1;31"),
        "intermittent" => Some("33"),
        "unanswered" => Some("35"),
        "allowed" => Some("32"),
        _ => None,
    }
}

/// Under the table: one line per explained pair, and the fix.
fn write_explanations(report: &Report) -> Result<()> {
    let explained: Vec<_> = report
        .verdicts
        .iter()
        .filter_map(|v| v.explanation.as_ref().map(|e| (v, e)))
        .collect();
    if explained.is_empty() {
        return Ok(());
    }
    let mut out = output::stdout();
    writeln!(out, "\nWhy, from the security groups and network ACLs:")?;
    for (v, e) in explained {
        writeln!(
            out,
            "  {} {} ← {} tcp/{}: {}",
            v.verdict, v.endpoint, v.client, v.port, e.detail
        )?;
        if let Some(fix) = &e.fix {
            writeln!(out, "      fix: {fix}")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// One line on stderr: what was read and what was left out.
/// Prints the run's counters; `filtered` of the records that touch no endpoint were skipped by
/// filter-first, undecoded.
pub fn summarize(report: &Report, filtered: u64) {
    let s = &report.stats;
    let undecoded = if filtered > 0 {
        format!(" ({filtered} of them skipped undecoded by their ports)")
    } else {
        String::new()
    };
    eprintln!(
        "{} records: {} judged, {} touch no catalogued endpoint{undecoded}, {} not TCP, {} outside the time window; {} NODATA, {} SKIPDATA",
        s.records, s.matched, s.ignored, s.non_tcp, s.outside_window, s.nodata, s.skipdata
    );
    if !report.silent_endpoints.is_empty() {
        eprintln!(
            "no traffic seen for: {}",
            report.silent_endpoints.join(", ")
        );
    }
    let unexpected = report.verdicts.iter().filter(|v| v.unexpected).count();
    if unexpected > 0 {
        let public = report
            .verdicts
            .iter()
            .filter(|v| v.unexpected && v.public)
            .count();
        eprintln!(
            "{unexpected} unexpected connection{} ({public} from outside the VPC)",
            if unexpected == 1 { "" } else { "s" }
        );
    }
}

/// Prints what went wrong per source on stderr and returns whether any source failed.
pub fn sources(reports: &[SourceReport]) -> bool {
    let mut failed = false;
    for report in reports.iter().filter(|r| r.parts > 1) {
        tracing::info!(
            "{} was split into {} parts that threads decoded at once",
            report.name,
            report.parts
        );
    }
    let malformed: u64 = reports.iter().map(|r| r.malformed).sum();
    if malformed > 0 {
        eprintln!(
            "warning: skipped {malformed} malformed line{} (pass --strict to stop at the first):",
            if malformed == 1 { "" } else { "s" }
        );
        let mut shown = 0;
        for report in reports {
            for line in &report.malformed_lines {
                if shown < 20 {
                    eprintln!("  {line}");
                }
                shown += 1;
            }
        }
        if malformed > shown as u64 || shown > 20 {
            eprintln!("  … and {} more", malformed - shown.min(20) as u64);
        }
    }
    for report in reports {
        if let Some(error) = &report.error {
            failed = true;
            eprintln!(
                "error: {error} ({} records from {} were kept)",
                report.records, report.name
            );
        }
    }
    failed
}

/// Warns once per field name that no source's format should have named.
pub fn unknown_fields(reports: &[SourceReport]) {
    let mut seen: Vec<&str> = Vec::new();
    for name in reports.iter().flat_map(|r| &r.unknown_fields) {
        if !seen.contains(&name.as_str()) {
            seen.push(name);
            tracing::warn!(
                "field `{name}` is not one vpcflow knows; it is read as a nullable text column"
            );
        }
    }
}
