//! Value parsers: each flag's text becomes a typed, range-checked value when the command line
//! is parsed, so a bad value is a usage error (exit 2) before any work starts.

use std::time::Duration;

/// What makes `verdict` exit 1 (`--fail-on`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailOn {
    /// Some attempt was blocked.
    pub blocked: bool,
    /// Some client connected that should not have.
    pub unexpected: bool,
}

impl Default for FailOn {
    fn default() -> FailOn {
        FailOn {
            blocked: true,
            unexpected: false,
        }
    }
}

/// Parses `blocked`, `unexpected` or `blocked,unexpected`.
pub fn fail_on(text: &str) -> Result<FailOn, String> {
    let mut f = FailOn {
        blocked: false,
        unexpected: false,
    };
    for part in text.split(',').map(str::trim) {
        match part {
            "blocked" => f.blocked = true,
            "unexpected" => f.unexpected = true,
            other => {
                return Err(format!(
                    "`{other}` is not blocked or unexpected (give one or both, comma-separated)"
                ));
            }
        }
    }
    Ok(f)
}

/// A size in bytes, from `--memory-limit 256MiB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub usize);

/// Parses `123`, `64KiB`, `256MiB`, `1GiB` (also `K`, `M`, `G`, `KB`, `MB`, `GB`: powers of
/// 1024), at least 1 KiB.
pub fn size(text: &str) -> Result<ByteSize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: usize = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as 512MiB or 2GiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("unknown unit in `{text}`: use KiB, MiB or GiB")),
    };
    n.checked_mul(1usize << shift)
        .filter(|&b| b >= 1 << 10)
        .map(ByteSize)
        .ok_or_else(|| format!("`{text}` is out of range: give 1KiB or more"))
}

/// A duration written `90s`, `30m`, `2h`, `7d` or `1w` (or plain seconds, `45`).
pub fn duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 90s, 30m, 2h or 7d"))?;
    let secs: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("unknown unit in `{text}`: use s, m, h, d or w")),
    };
    n.checked_mul(secs)
        .filter(|&s| s > 0 && s <= 366 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is out of range: give 1s up to a year"))
}

/// Seconds as a decimal number, finite, within `[min, max]`.
fn seconds_in(text: &str, min: f64, max: f64) -> Result<Duration, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !v.is_finite() || v < min || v > max {
        return Err(format!(
            "`{text}` is out of range: give {min} to {max} seconds"
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

/// `--poll-interval`: 0.05 s to a day.
pub fn poll_interval(text: &str) -> Result<Duration, String> {
    seconds_in(text, 0.05, 86_400.0)
}

/// `--connect-timeout`, `--timeout`, `--operation-timeout`: 0.1 s to a day.
pub fn timeout(text: &str) -> Result<Duration, String> {
    seconds_in(text, 0.1, 86_400.0)
}

/// `--max-attempts`: 1 to 20.
pub fn max_attempts(text: &str) -> Result<u32, String> {
    count_in(text, 1, 20).map(|n| n as u32)
}

/// `--checkpoint-every`: 0 s to a day.
pub fn checkpoint_every(text: &str) -> Result<Duration, String> {
    seconds_in(text, 0.0, 86_400.0)
}

/// A finite number within `[min, max]`; `unit` follows the range in the message.
fn number_in(text: &str, min: f64, max: f64, unit: &str) -> Result<f64, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if !v.is_finite() || !(min..=max).contains(&v) {
        return Err(format!(
            "`{text}` is out of range: give {min} to {max}{unit}"
        ));
    }
    Ok(v)
}

/// A rate per second, finite, within `[0.01, 10000]`.
pub fn rate(text: &str) -> Result<f64, String> {
    number_in(text, 0.01, 10_000.0, " per second")
}

/// A share, `0` to `1`.
pub fn share(text: &str) -> Result<f64, String> {
    number_in(text, 0.0, 1.0, "")
}

/// An integer within `[min, max]`.
fn count_in(text: &str, min: usize, max: usize) -> Result<usize, String> {
    let v: usize = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number"))?;
    if !(min..=max).contains(&v) {
        return Err(format!("`{text}` is out of range: give {min} to {max}"));
    }
    Ok(v)
}

/// `--threads`: 1 to 1024.
pub fn threads(text: &str) -> Result<usize, String> {
    count_in(text, 1, 1024)
}

/// `--concurrency`: 1 to 1024 requests at once.
pub fn concurrency(text: &str) -> Result<usize, String> {
    count_in(text, 1, 1024)
}

/// `--batch-size`: 1 to 1,048,576 rows.
pub fn batch_size(text: &str) -> Result<usize, String> {
    count_in(text, 1, 1 << 20)
}

/// FilterLogEvents `--page-size`: 1 to 10,000 events (the service's limits).
pub fn logs_page_size(text: &str) -> Result<i32, String> {
    count_in(text, 1, 10_000).map(|v| v as i32)
}

/// RDS Describe page sizes: up to 100 records (AWS refuses fewer than 20; emulators do not).
pub fn rds_page_size(text: &str) -> Result<i32, String> {
    count_in(text, 1, 100).map(|v| v as i32)
}

/// A time as written on the command line: RFC 3339, or a duration before now. Checked when
/// parsed; turned into Unix seconds when the command is resolved (against one `now`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeArg(pub String);

/// Checks a `--since`/`--until` value.
pub fn time(text: &str) -> Result<TimeArg, String> {
    crate::time::parse_time(text, 0).map_err(|e| e.to_string())?;
    Ok(TimeArg(text.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_numbers_are_usage_errors_not_panics() {
        for bad in ["nan", "inf", "-inf", "1e300", "-1", "0.01", ""] {
            assert!(poll_interval(bad).is_err(), "{bad}");
        }
        assert_eq!(poll_interval("2.5").unwrap(), Duration::from_millis(2500));
        for bad in ["18446744073709551615", "0", "1025", "x"] {
            assert!(concurrency(bad).is_err(), "{bad}");
            assert!(threads(bad).is_err(), "{bad}");
        }
        for bad in ["18446744073709551615", "0", "1048577"] {
            assert!(batch_size(bad).is_err(), "{bad}");
        }
        assert!(rate("nan").is_err() && rate("0").is_err());
        assert!(share("1.5").is_err() && share("nan").is_err());
        assert_eq!(
            rate("0").unwrap_err(),
            "`0` is out of range: give 0.01 to 10000 per second"
        );
        assert_eq!(share("2").unwrap_err(), "`2` is out of range: give 0 to 1");
        assert_eq!(
            max_attempts("21").unwrap_err(),
            "`21` is out of range: give 1 to 20"
        );
        assert_eq!(max_attempts("x").unwrap_err(), "`x` is not a whole number");
        assert_eq!(max_attempts("8"), Ok(8));
        assert_eq!(
            size("18446744073709551615GiB").unwrap_err(),
            "`18446744073709551615GiB` is out of range: give 1KiB or more"
        );
        assert_eq!(size("256MiB").unwrap(), ByteSize(256 << 20));
        assert_eq!(duration("15m").unwrap(), Duration::from_secs(900));
        assert!(duration("0s").is_err() && duration("99999999999999999999d").is_err());
        assert!(time("yesterday").is_err());
        assert_eq!(time("2h").unwrap(), TimeArg("2h".into()));
    }
}
