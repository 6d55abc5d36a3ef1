//! The HTML report (`verdict --output html`), rendered in a real browser: Debian's Chromium,
//! headless, which scripts/install-test-deps.sh installs. A missing browser fails, never skips.

use std::path::Path;
use std::process::Command;

use crate::common::{path_str as path, stderr, testdata, vpcflow};

/// The bundled scenario's report, explained from the bundled snapshot.
fn bundled_report(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("report.html");
    let run = vpcflow(&[
        "verdict",
        "--endpoints",
        path(&testdata("rds-sg-patterns/endpoints.toml")),
        "--explain",
        "--config-snapshot",
        path(&testdata("rds-sg-patterns/config")),
        "--output",
        "html",
        "--out",
        path(&out),
        path(&testdata("rds-sg-patterns/cloudwatch")),
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    out
}

/// Chromium, headless, on `page` at `width`×900 with `args` (`--dump-dom`, `--screenshot=…`,
/// `--print-to-pdf=…`); its stdout. The page may write nothing to the console: Chromium logs
/// every console message and uncaught error to stderr (`INFO:CONSOLE`), and any fails the test.
fn chromium(dir: &Path, page: &Path, width: u32, args: &[&str]) -> String {
    let profile = dir.join(format!("profile-{width}-{}", args.len()));
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--window-size={width},900"),
        ])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run chromium ({e}); scripts/install-test-deps.sh installs it")
        });
    let err = stderr(&out);
    assert!(out.status.success(), "chromium: {err}");
    let console: Vec<&str> = err.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console output: {console:#?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_report_renders_in_a_real_browser_blocked_first_with_the_failing_hop() {
    let dir = tempfile::tempdir().unwrap();
    let page = bundled_report(dir.path());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.len() < 100_000, "{} bytes", html.len());
    // Self-contained: nothing to fetch.
    assert!(
        !html.contains(" src=") && !html.contains(" href="),
        "external reference"
    );

    let dom = chromium(dir.path(), &page, 1280, &["--dump-dom"]);
    assert!(
        dom.contains("data-ready=\"1\""),
        "the script did not run: {dom}"
    );
    assert!(dom.contains("data-fits=\"true\""), "wider than 1280 px");
    assert!(
        !dom.contains("<div id=\"controls\" hidden"),
        "the controls stay hidden"
    );
    // Blocked pairs first, the allowed one collapsed after them.
    let order: Vec<&str> = dom
        .match_indices("data-endpoint=\"")
        .map(|(i, m)| {
            let rest = &dom[i + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert_eq!(
        order,
        ["dbinstance1", "dbinstance2", "dbinstance3", "dbinstance3"]
    );
    for (db, verdict) in [
        ("dbinstance1", "blocked"),
        ("dbinstance2", "blocked"),
        ("dbinstance3", "allowed"),
    ] {
        assert!(
            dom.contains(&format!(
                "data-verdict=\"{verdict}\" data-endpoint=\"{db}\""
            )),
            "{db} is not {verdict}"
        );
    }
    let allowed = dom.find("<details class=\"allowed\"").unwrap();
    assert!(dom.find("data-endpoint=\"dbinstance3\"").unwrap() > allowed);
    // Each blocked pair marks the database's security groups, with the group and the fix.
    for (db, sg) in [
        ("dbinstance1", "sg:sg-0a1b2c3d4e5f60001"),
        ("dbinstance2", "sg:sg-0b2c3d4e5f6a70002"),
    ] {
        let at = dom.find(&format!("data-endpoint=\"{db}\"")).unwrap();
        let article = &dom[at..at + dom[at..].find("</article>").unwrap()];
        let fail = article
            .find("class=\"fail\"")
            .unwrap_or_else(|| panic!("{article}"));
        let hop = &article[fail..fail + article[fail..].find("</li>").unwrap()];
        assert!(hop.contains("database security groups (in)"), "{hop}");
        assert!(hop.contains(sg), "{hop}");
        assert!(article.contains("class=\"fix\""), "{article}");
        assert!(article.contains("<svg class=\"timeline\""), "{article}");
    }

    // A phone's width: the page reflows instead of scrolling sideways.
    let dom = chromium(dir.path(), &page, 390, &["--dump-dom"]);
    assert!(
        dom.contains("data-fits=\"true\""),
        "wider than a 390 px screen"
    );

    // Screenshots at both widths, next to one of an empty page (what blank compresses to), and
    // the print stylesheet through print-to-PDF.
    let empty = dir.path().join("empty.html");
    std::fs::write(&empty, "<!doctype html><title>empty</title>").unwrap();
    let shot = |page: &Path, width: u32, name: &str| {
        let png = dir.path().join(name);
        chromium(
            dir.path(),
            page,
            width,
            &[&format!("--screenshot={}", png.display())],
        );
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "no screenshot {name}");
        (png, bytes.len())
    };
    for width in [1280u32, 390] {
        let (_, blank) = shot(&empty, width, &format!("empty-{width}.png"));
        let (png, size) = shot(&page, width, &format!("report-{width}.png"));
        assert!(
            size > 10 * blank,
            "a {width} px screenshot of {size} bytes looks blank (an empty page: {blank})"
        );
        if let Ok(keep) = std::env::var("VPCFLOW_KEEP_SCREENSHOTS") {
            std::fs::copy(&png, Path::new(&keep).join(format!("report-{width}.png"))).unwrap();
        }
    }
    let pdf = dir.path().join("report.pdf");
    chromium(
        dir.path(),
        &page,
        1280,
        &[
            "--no-pdf-header-footer",
            &format!("--print-to-pdf={}", pdf.display()),
        ],
    );
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"), "no PDF");
}

/// `verdict` on the bundled scenario with `extra` arguments: exit code and stderr.
fn verdict_with(extra: &[&str]) -> (Option<i32>, String) {
    let (endpoints, input) = (
        testdata("rds-sg-patterns/endpoints.toml"),
        testdata("rds-sg-patterns/cloudwatch"),
    );
    let mut args = vec!["verdict", "--endpoints", path(&endpoints)];
    args.extend(extra);
    args.push(path(&input));
    let out = vpcflow(&args);
    (out.status.code(), stderr(&out))
}

#[test]
fn html_needs_a_file_and_is_only_for_html() {
    let (code, err) = verdict_with(&["--output", "html"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--output html needs --out FILE"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("x.json");
    let (code, err) = verdict_with(&["--output", "json", "--out", path(&json)]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--out is for --output html"), "{err}");
    // An existing file is not overwritten without --force.
    let html = dir.path().join("r.html");
    std::fs::write(&html, "keep").unwrap();
    let (code, err) = verdict_with(&["--output", "html", "--out", path(&html)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("pass --force"), "{err}");
    assert_eq!(std::fs::read_to_string(&html).unwrap(), "keep");
    let (code, err) = verdict_with(&["--output", "html", "--out", path(&html), "--force"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .starts_with("<!doctype html>")
    );
}

/// Without a browser: the page parsed (Python's html.parser), every pair's counts equal the JSON
/// output's, and each timeline has one bar series per outcome its attempts had.
#[test]
fn the_page_holds_the_json_counts_and_one_bar_series_per_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let page = bundled_report(dir.path());
    let parsed = crate::common::python(&format!(
        r#"
import json
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.pairs = []; self.svg = False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "article":
            self.pairs.append({{k[5:]: v for k, v in a.items() if k.startswith("data-")}} | {{"series": []}})
        elif tag == "svg" and "timeline" in a.get("class", ""):
            self.svg = True
        elif tag == "path" and self.svg:
            self.pairs[-1]["series"].append(a["class"])
    def handle_endtag(self, tag):
        if tag == "svg": self.svg = False
p = P(); p.feed(open({page:?}).read())
print(json.dumps(p.pairs))
"#,
        page = path(&page),
    ));
    let pairs: Vec<serde_json::Value> = serde_json::from_str(parsed.trim()).unwrap();
    let json = vpcflow(&[
        "verdict",
        "--endpoints",
        path(&testdata("rds-sg-patterns/endpoints.toml")),
        "--output",
        "json",
        path(&testdata("rds-sg-patterns/cloudwatch")),
    ]);
    let rows: Vec<serde_json::Value> = crate::common::stdout(&json)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(pairs.len(), rows.len());
    // The per-endpoint table counts dbinstance3's two allowed clients, one of them unexpected
    // (the app client: only the bastion is expected there).
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains(
            "<tr><th scope=\"row\">dbinstance3</th><td>0</td><td>0</td><td>0</td><td>2</td><td>1</td></tr>"
        ),
        "{html}"
    );
    for row in &rows {
        let p = pairs
            .iter()
            .find(|p| p["endpoint"] == row["endpoint"] && p["client"] == row["client"])
            .unwrap_or_else(|| panic!("{row} is not in the page"));
        assert_eq!(p["verdict"], row["verdict"]);
        for key in [
            "attempts",
            "blocked",
            "connected",
            "unanswered",
            "records",
            "unexpected",
        ] {
            assert_eq!(
                p[key].as_str().unwrap(),
                row[key].to_string(),
                "{key} of {row}"
            );
        }
        let mut expected: Vec<&str> = [
            ("o-egress", "blocked_egress"),
            ("o-ingress", "blocked_ingress"),
            ("o-return", "blocked_return"),
            ("o-connected", "connected"),
            ("o-unanswered", "unanswered"),
        ]
        .iter()
        .filter(|(_, k)| row[*k].as_u64().unwrap() > 0)
        .map(|(c, _)| *c)
        .collect();
        let mut series: Vec<&str> = p["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        expected.sort_unstable();
        series.sort_unstable();
        assert_eq!(series, expected, "the bar series of {row}");
    }
}
