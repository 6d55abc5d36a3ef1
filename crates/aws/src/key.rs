//! What an S3 key of a flow-log object says about its contents, so objects outside a time
//! window or another account, region or flow log are skipped before any GetObject.
//!
//! AWS delivers flow logs under `<prefix>/AWSLogs/<account>/vpcflowlogs/<region>/<yyyy>/<mm>/<dd>/`
//! (optionally `<HH>/`), or with Hive-compatible prefixes
//! `AWSLogs/aws-account-id=<id>/aws-service=vpcflowlogs/aws-region=<region>/year=<yyyy>/month=<mm>/day=<dd>/[hour=<HH>/]`,
//! in files named `<account>_vpcflowlogs_<region>_<flow-log-id>_<YYYYMMDDTHHmmZ>_<hash>.log.gz`.

/// What a key says. Every part is optional: keys that say nothing are never pruned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyInfo {
    /// The account id.
    pub account: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// The flow log id (`fl-…`).
    pub flow_log_id: Option<String>,
    /// The day directory, as Unix seconds at 00:00 UTC.
    pub day: Option<i64>,
    /// The hour directory, as Unix seconds at the full hour.
    pub hour: Option<i64>,
    /// The time stamp in the file name, Unix seconds.
    pub stamp: Option<i64>,
}

/// Records of an object end within a delivery interval after its stamp …
const AFTER: i64 = 10 * 60;
/// … and start up to an aggregation interval (10 minutes) plus one delivery interval before it.
const BEFORE: i64 = 20 * 60;

fn civil(y: i64, m: i64, d: i64) -> Option<i64> {
    let date = jiff::civil::Date::new(y as i16, m as i8, d as i8).ok()?;
    Some(
        date.to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_second(),
    )
}

fn num(s: &str) -> Option<i64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

impl KeyInfo {
    /// Reads a key.
    pub fn parse(key: &str) -> KeyInfo {
        let mut info = KeyInfo::default();
        let parts: Vec<&str> = key.split('/').collect();
        let Some(start) = parts.iter().position(|p| *p == "AWSLogs") else {
            info.read_file_name(parts.last().copied().unwrap_or(""));
            return info;
        };
        let dirs = &parts[start + 1..parts.len().saturating_sub(1)];
        let value = |p: &str, name: &str| p.strip_prefix(name).map(str::to_owned);
        let (mut y, mut m, mut d, mut h) = (None, None, None, None);
        if dirs
            .first()
            .is_some_and(|p| p.starts_with("aws-account-id="))
        {
            for p in dirs {
                if let Some(v) = value(p, "aws-account-id=") {
                    info.account = Some(v);
                } else if let Some(v) = value(p, "aws-region=") {
                    info.region = Some(v);
                } else if let Some(v) = value(p, "year=") {
                    y = num(&v);
                } else if let Some(v) = value(p, "month=") {
                    m = num(&v);
                } else if let Some(v) = value(p, "day=") {
                    d = num(&v);
                } else if let Some(v) = value(p, "hour=") {
                    h = num(&v);
                }
            }
        } else if dirs.len() >= 2 && dirs[1] == "vpcflowlogs" {
            info.account = Some(dirs[0].to_owned());
            info.region = dirs.get(2).map(|s| (*s).to_owned());
            y = dirs.get(3).and_then(|s| num(s));
            m = dirs.get(4).and_then(|s| num(s));
            d = dirs.get(5).and_then(|s| num(s));
            h = dirs.get(6).and_then(|s| num(s));
        }
        if let (Some(y), Some(m), Some(d)) = (y, m, d) {
            info.day = civil(y, m, d);
            if let (Some(day), Some(h)) = (info.day, h)
                && (0..24).contains(&h)
            {
                info.hour = Some(day + h * 3600);
            }
        }
        info.read_file_name(parts.last().copied().unwrap_or(""));
        info
    }

    fn read_file_name(&mut self, name: &str) {
        // <account>_vpcflowlogs_<region>_<flow-log-id>_<YYYYMMDDTHHmmZ>_<hash>.<ext>
        let fields: Vec<&str> = name.split('_').collect();
        if fields.len() < 6 || fields[1] != "vpcflowlogs" {
            return;
        }
        self.account.get_or_insert_with(|| fields[0].to_owned());
        self.region.get_or_insert_with(|| fields[2].to_owned());
        self.flow_log_id = Some(fields[3].to_owned());
        let s = fields[4];
        if s.len() == 14 && s.as_bytes()[8] == b'T' && s.ends_with('Z') {
            let (y, mo, d) = (num(&s[0..4]), num(&s[4..6]), num(&s[6..8]));
            let (h, mi) = (num(&s[9..11]), num(&s[11..13]));
            if let (Some(y), Some(mo), Some(d), Some(h), Some(mi)) = (y, mo, d, h, mi)
                && let Some(day) = civil(y, mo, d)
            {
                self.stamp = Some(day + h * 3600 + mi * 60);
            }
        }
    }

    /// Whether the object may hold records overlapping `[since, until]` (Unix seconds),
    /// allowing one delivery interval of slack.
    pub fn may_overlap(&self, since: Option<i64>, until: Option<i64>) -> bool {
        let (lo, hi) = if let Some(t) = self.stamp {
            (t - BEFORE, t + AFTER)
        } else if let Some(h) = self.hour {
            (h - BEFORE, h + 3600 + AFTER)
        } else if let Some(d) = self.day {
            (d - BEFORE, d + 86400 + AFTER)
        } else {
            return true;
        };
        since.is_none_or(|s| hi >= s) && until.is_none_or(|u| lo <= u)
    }
}

/// Which objects to read.
#[derive(Clone, Debug, Default)]
pub struct KeyFilter {
    /// Window start, Unix seconds.
    pub since: Option<i64>,
    /// Window end, Unix seconds.
    pub until: Option<i64>,
    /// Only this account.
    pub account: Option<String>,
    /// Only this region.
    pub region: Option<String>,
    /// Only this flow log.
    pub flow_log_id: Option<String>,
}

impl KeyFilter {
    /// Why the key is skipped, or `None` to read it.
    pub fn skip_reason(&self, key: &str) -> Option<&'static str> {
        if key.ends_with('/') {
            return Some("a folder marker");
        }
        // The object a CloudWatch Logs export task writes to check its permissions.
        if key.rsplit('/').next() == Some("aws-logs-write-test") {
            return Some("an export's permission check");
        }
        let info = KeyInfo::parse(key);
        let differs = |want: &Option<String>, have: &Option<String>| matches!((want, have), (Some(w), Some(h)) if w != h);
        if differs(&self.account, &info.account) {
            Some("another account")
        } else if differs(&self.region, &info.region) {
            Some("another region")
        } else if differs(&self.flow_log_id, &info.flow_log_id) {
            Some("another flow log")
        } else if !info.may_overlap(self.since, self.until) {
            Some("outside the time window")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = "logs/AWSLogs/123456789012/vpcflowlogs/ap-northeast-1/2026/11/20/123456789012_vpcflowlogs_ap-northeast-1_fl-0f1e2d3c4b5a69788_20261120T0905Z_3f2a1b4c.log.gz";
    const HOURLY: &str = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/20/09/x.log.gz";
    const HIVE: &str = "p/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=11/day=20/hour=09/123456789012_vpcflowlogs_eu-west-1_fl-1_20261120T0910Z_ab.log.parquet";

    #[test]
    fn reads_every_layout() {
        let t0905 = 1_795_165_200 + 5 * 60;
        let p = KeyInfo::parse(PLAIN);
        assert_eq!(p.account.as_deref(), Some("123456789012"));
        assert_eq!(p.region.as_deref(), Some("ap-northeast-1"));
        assert_eq!(p.flow_log_id.as_deref(), Some("fl-0f1e2d3c4b5a69788"));
        assert_eq!(p.day, Some(1_795_132_800));
        assert_eq!(p.stamp, Some(t0905));
        let h = KeyInfo::parse(HOURLY);
        assert_eq!(h.hour, Some(1_795_165_200));
        assert_eq!(h.stamp, None);
        let hive = KeyInfo::parse(HIVE);
        assert_eq!(hive.region.as_deref(), Some("eu-west-1"));
        assert_eq!(hive.hour, Some(1_795_165_200));
        assert_eq!(hive.stamp, Some(t0905 + 300));
        assert_eq!(KeyInfo::parse("random/file.log"), KeyInfo::default());
    }

    #[test]
    fn prunes_by_time_with_slack_and_by_identity() {
        let t = 1_795_165_500; // 09:05
        let f = |since, until| KeyFilter {
            since,
            until,
            ..KeyFilter::default()
        };
        assert_eq!(f(Some(t), None).skip_reason(PLAIN), None);
        assert_eq!(
            f(Some(t + 9 * 60), None).skip_reason(PLAIN),
            None,
            "one interval of slack"
        );
        assert_eq!(
            f(Some(t + 11 * 60), None).skip_reason(PLAIN),
            Some("outside the time window")
        );
        assert_eq!(f(None, Some(t - 19 * 60)).skip_reason(PLAIN), None);
        assert_eq!(
            f(None, Some(t - 21 * 60)).skip_reason(PLAIN),
            Some("outside the time window")
        );
        assert_eq!(
            f(Some(t + 86400), None).skip_reason(HOURLY),
            Some("outside the time window")
        );
        assert_eq!(
            f(Some(t + 86400), None).skip_reason("no/structure.log"),
            None
        );
        let acct = KeyFilter {
            account: Some("999".into()),
            ..KeyFilter::default()
        };
        assert_eq!(acct.skip_reason(HIVE), Some("another account"));
        let region = KeyFilter {
            region: Some("eu-west-1".into()),
            ..KeyFilter::default()
        };
        assert_eq!(region.skip_reason(HIVE), None);
        assert_eq!(region.skip_reason(PLAIN), Some("another region"));
        let fl = KeyFilter {
            flow_log_id: Some("fl-1".into()),
            ..KeyFilter::default()
        };
        assert_eq!(fl.skip_reason(HIVE), None);
        assert_eq!(fl.skip_reason(PLAIN), Some("another flow log"));
        let any = f(None, None);
        for key in ["aws-logs-write-test", "exportedlogs/aws-logs-write-test"] {
            assert_eq!(any.skip_reason(key), Some("an export's permission check"));
        }
        assert_eq!(any.skip_reason("exportedlogs/t/eni-1-all/000000.gz"), None);
    }
}
