//! `--since`/`--until`: RFC 3339 or a duration before now.

use anyhow::{Result, bail};

/// Parses an RFC 3339 time, or a duration before `now` (`90s`, `30m`, `2h`, `7d`), into Unix
/// seconds.
pub fn parse_time(text: &str, now: i64) -> Result<i64> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(ts.as_second());
    }
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = match digits.parse() {
        Ok(n) => n,
        Err(_) => bail!(
            "cannot read time `{text}`: use RFC 3339 (2026-11-20T08:00:00Z) or a duration before now (90s, 30m, 2h, 7d)"
        ),
    };
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        "w" => 7 * 86400,
        _ => bail!("unknown unit in `{text}`: use s, m, h, d or w"),
    };
    Ok(now - n.saturating_mul(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_and_relative() {
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", 0).unwrap(),
            1_700_000_000
        );
        assert_eq!(
            parse_time("2023-11-15T07:13:20+09:00", 0).unwrap(),
            1_700_000_000
        );
        assert_eq!(parse_time("2h", 10_000).unwrap(), 10_000 - 7200);
        assert_eq!(parse_time("90s", 100).unwrap(), 10);
        assert!(parse_time("2 hours", 0).is_err());
        assert!(parse_time("yesterday", 0).is_err());
        assert!(parse_time("5y", 0).is_err());
    }
}
