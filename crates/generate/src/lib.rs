//! Deterministic synthetic VPC flow logs: the same options and seed always give the same bytes.
//!
//! vpcflow ships no large data: benchmarks, examples and scale tests generate it. The traffic
//! looks like a VPC with databases in private subnets: clients open TCP connections to database
//! endpoints, which a deterministic per-(client, endpoint) policy either admits (an ACCEPTed
//! request and an ACCEPTed reply, both logged at the database's ENI) or blocks (REJECTed
//! requests at the database's ENI), mixed with unrelated noise (HTTPS out, SSH probes) and the
//! odd NODATA record.
//!
//! ```
//! use vpcflow_generate::{Generator, Options};
//! let mut out = Vec::new();
//! let stats = Generator::new(Options { records: 100, ..Options::default() }).write_to(&mut out).unwrap();
//! assert_eq!(stats.records, 100);
//! assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 100);
//! ```
#![deny(missing_docs)]

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};

use vpcflow_core::LogFormat;

/// A database endpoint in the generated VPC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Catalogue name.
    pub name: String,
    /// Private address.
    pub address: IpAddr,
    /// Listening port.
    pub port: u16,
    /// The ENI RDS created for it.
    pub eni: String,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct Options {
    /// How many records (lines, header excluded).
    pub records: u64,
    /// The record format.
    pub format: LogFormat,
    /// Write the format's header line first, as S3 objects have.
    pub header: bool,
    /// The share of client–endpoint pairs whose connections are REJECTed (0.0 to 1.0).
    pub reject_share: f64,
    /// How many database endpoints.
    pub endpoints: usize,
    /// How many client instances.
    pub clients: usize,
    /// The share of records that are unrelated noise (0.0 to 1.0).
    pub noise_share: f64,
    /// The seed.
    pub seed: u64,
    /// Unix time of the first record.
    pub start: u64,
    /// Seconds the records span; time advances through it as records are written.
    pub span: u64,
    /// A realistic mix: this share of the records touches a catalogued endpoint, and the rest is
    /// background traffic (web, DNS, NTP, other ports, SSH probes, and database ports on
    /// addresses the catalogue does not have) between random 10.x addresses and ports on
    /// [`Options::enis`] ENIs. `None`: the simple model (`noise_share` of HTTPS and SSH noise).
    pub db_share: Option<f64>,
    /// ENIs the background traffic of the realistic mix is logged on.
    pub enis: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            records: 1000,
            format: LogFormat::default_v2(),
            header: false,
            reject_share: 0.2,
            endpoints: 20,
            clients: 50,
            noise_share: 0.2,
            seed: 1,
            start: 1_700_000_000,
            span: 3600,
            db_share: None,
            enis: 500,
        }
    }
}

/// What was generated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records written.
    pub records: u64,
    /// Of which REJECT.
    pub reject: u64,
    /// Of which NODATA.
    pub nodata: u64,
    /// Of which touch a catalogued endpoint (request or reply).
    pub db: u64,
    /// Bytes written, header included.
    pub bytes: u64,
}

/// splitmix64: small, fast, and the same everywhere.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

fn mix(a: u64, b: u64, seed: u64) -> u64 {
    Rng(a.wrapping_mul(0x1000_0000_01b3) ^ b.rotate_left(32) ^ seed).next()
}

/// `r` as an SSH probe from `from` that the security group REJECTs: one SYN packet in.
fn ssh_probe(r: Record, from: IpAddr) -> Record {
    Record {
        src: Some(from),
        dport: 22,
        packets: 1,
        bytes: 40,
        action: Some("REJECT"),
        tcp_flags: Some(2),
        direction: Some("ingress"),
        ..r
    }
}

/// One record with every field vpcflow generates; a format picks the ones it shows.
#[derive(Clone, Debug, Default)]
struct Record {
    account: &'static str,
    eni: String,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    sport: u16,
    dport: u16,
    protocol: u8,
    packets: u64,
    bytes: u64,
    start: u64,
    end: u64,
    action: Option<&'static str>,
    status: &'static str,
    tcp_flags: Option<u16>,
    direction: Option<&'static str>,
    traffic_path: Option<u8>,
    subnet: &'static str,
    /// It touches a catalogued endpoint.
    db: bool,
}

/// Writes synthetic flow logs.
#[derive(Debug)]
pub struct Generator {
    opts: Options,
    endpoints: Vec<Endpoint>,
    rng: Rng,
    line: Vec<u8>,
}

impl Generator {
    /// A generator for these options.
    pub fn new(opts: Options) -> Generator {
        let endpoints = endpoints(opts.endpoints);
        let rng = Rng(opts.seed);
        Generator {
            opts,
            endpoints,
            rng,
            line: Vec::with_capacity(512),
        }
    }

    /// The database endpoints the traffic goes to.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The endpoint catalogue (`--endpoints` TOML) for these endpoints.
    pub fn catalogue_toml(&self) -> String {
        let mut out = String::new();
        for e in &self.endpoints {
            out.push_str(&format!(
                "[[endpoint]]\nname = \"{}\"\naddress = \"{}\"\nport = {}\ninterface_id = \"{}\"\nengine = \"mysql\"\n\n",
                e.name, e.address, e.port, e.eni
            ));
        }
        out
    }

    /// Whether the generated policy blocks `client` (an index) from endpoint `endpoint`.
    pub fn is_blocked(&self, client: usize, endpoint: usize) -> bool {
        let h = mix(client as u64, endpoint as u64, self.opts.seed);
        ((h >> 11) as f64 / (1u64 << 53) as f64) < self.opts.reject_share
    }

    /// The address of client `i`: 200 per /24 from 10.0.1.10 on (up to 50,000 clients).
    pub fn client_address(i: usize) -> IpAddr {
        let i = i % 50_000;
        IpAddr::V4(Ipv4Addr::new(
            10,
            0,
            1 + (i / 200) as u8,
            10 + (i % 200) as u8,
        ))
    }

    /// Writes the records (and header, if asked) to `out`.
    pub fn write_to(&mut self, out: &mut impl Write) -> io::Result<Stats> {
        let mut stats = Stats::default();
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        if self.opts.header {
            let names: Vec<&str> = self.opts.format.names().collect();
            buf.extend_from_slice(names.join(" ").as_bytes());
            buf.push(b'\n');
        }
        let mut pending: Vec<Record> = Vec::new();
        while stats.records < self.opts.records {
            if pending.is_empty() {
                self.next_event(stats.records, &mut pending);
                pending.reverse();
            }
            let Some(record) = pending.pop() else {
                continue;
            };
            stats.reject += u64::from(record.action == Some("REJECT"));
            stats.nodata += u64::from(record.status == "NODATA");
            stats.db += u64::from(record.db);
            self.render(&record);
            buf.extend_from_slice(&self.line);
            stats.records += 1;
            if buf.len() >= 1 << 20 {
                stats.bytes += buf.len() as u64;
                out.write_all(&buf)?;
                buf.clear();
            }
        }
        stats.bytes += buf.len() as u64;
        out.write_all(&buf)?;
        out.flush()?;
        Ok(stats)
    }

    /// One connection attempt (or a noise record), as the records AWS would log for it.
    fn next_event(&mut self, written: u64, out: &mut Vec<Record>) {
        let o = &self.opts;
        // Time advances through the span as records are written, as in a delivered log, with
        // up to two minutes of jitter (records of one aggregation window arrive together).
        let progress =
            (u128::from(written) * u128::from(o.span) / u128::from(o.records.max(1))) as u64;
        let t = o.start + progress + self.rng.below(120);
        let start = t - t % 60;
        let base = Record {
            account: "123456789012",
            start,
            end: start + 60,
            status: "OK",
            protocol: 6,
            subnet: "subnet-0db00000000000001",
            ..Record::default()
        };
        let roll = self.rng.below(1000);
        if roll < 2 {
            let eni = &self.endpoints[self.rng.below(self.endpoints.len() as u64) as usize].eni;
            out.push(Record {
                eni: eni.clone(),
                status: "NODATA",
                protocol: 0,
                ..base
            });
            return;
        }
        let client = self.rng.below(o.clients.max(1) as u64) as usize;
        let caddr = Self::client_address(client);
        let sport = 32768 + self.rng.below(28232) as u16;
        if let Some(share) = o.db_share {
            // A connection to an endpoint logs about 2 records (request and reply; a blocked
            // one logs 1), background traffic 1: pick database events so that records come out
            // at `share`.
            let per_db = 2.0 - o.reject_share.clamp(0.0, 1.0);
            let share = share.clamp(0.0, 1.0);
            let p = share / (share + per_db * (1.0 - share)).max(f64::MIN_POSITIVE);
            if !self.rng.chance(p) {
                out.push(self.background(base, sport));
                return;
            }
        } else if (roll as f64) < o.noise_share * 1000.0 {
            // Noise: the client talks HTTPS to the internet, or someone probes SSH.
            let ssh = self.rng.chance(0.3);
            let remote = IpAddr::V4(Ipv4Addr::new(203, 0, 113, self.rng.below(250) as u8 + 1));
            let eni = format!("eni-0c1{:014x}", client);
            out.push(if ssh {
                ssh_probe(
                    Record {
                        eni,
                        dst: Some(caddr),
                        sport,
                        subnet: "subnet-0a000000000000001",
                        ..base
                    },
                    remote,
                )
            } else {
                let packets = 5 + self.rng.below(50);
                Record {
                    eni,
                    src: Some(caddr),
                    dst: Some(remote),
                    sport,
                    dport: 443,
                    packets,
                    bytes: packets * (60 + self.rng.below(1400)),
                    action: Some("ACCEPT"),
                    tcp_flags: Some(19),
                    direction: Some("egress"),
                    traffic_path: Some(8),
                    subnet: "subnet-0a000000000000001",
                    ..base
                }
            });
            return;
        }
        let e = self.rng.below(self.endpoints.len() as u64) as usize;
        let endpoint = self.endpoints[e].clone();
        let base = Record { db: true, ..base };
        if self.is_blocked(client, e) {
            let tries = 1 + self.rng.below(3);
            out.push(Record {
                eni: endpoint.eni,
                src: Some(caddr),
                dst: Some(endpoint.address),
                sport,
                dport: endpoint.port,
                packets: tries,
                bytes: 60 * tries,
                action: Some("REJECT"),
                tcp_flags: Some(2),
                direction: Some("ingress"),
                ..base
            });
        } else {
            let packets = 3 + self.rng.below(40);
            let request = Record {
                eni: endpoint.eni.clone(),
                src: Some(caddr),
                dst: Some(endpoint.address),
                sport,
                dport: endpoint.port,
                packets,
                bytes: packets * (52 + self.rng.below(200)),
                action: Some("ACCEPT"),
                tcp_flags: Some(3),
                direction: Some("ingress"),
                traffic_path: None,
                ..base.clone()
            };
            let reply = Record {
                src: Some(endpoint.address),
                dst: Some(caddr),
                sport: endpoint.port,
                dport: sport,
                bytes: packets * (52 + self.rng.below(1400)),
                tcp_flags: Some(19),
                direction: Some("egress"),
                traffic_path: Some(1),
                ..request.clone()
            };
            out.push(request);
            out.push(reply);
        }
    }

    /// One record of the realistic mix's background: web, DNS, NTP, other ports, SSH probes
    /// and database ports on addresses the catalogue does not have, on random ENIs between
    /// random 10.x addresses.
    fn background(&mut self, base: Record, sport: u16) -> Record {
        let rng = &mut self.rng;
        let mut ten = || {
            IpAddr::V4(Ipv4Addr::new(
                10,
                rng.below(250) as u8 + 1,
                rng.below(256) as u8,
                rng.below(254) as u8 + 1,
            ))
        };
        let (src, dst) = (ten(), ten());
        let eni = format!(
            "eni-0b9{:014x}",
            self.rng.below(self.opts.enis.max(1) as u64)
        );
        let packets = 1 + self.rng.below(40);
        let r = Record {
            eni,
            src: Some(src),
            dst: Some(dst),
            sport,
            packets,
            bytes: packets * (60 + self.rng.below(1200)),
            action: Some("ACCEPT"),
            tcp_flags: Some(19),
            direction: Some("egress"),
            traffic_path: Some(1),
            subnet: "subnet-0a000000000000002",
            ..base
        };
        match self.rng.below(100) {
            0..40 => Record {
                dst: Some(IpAddr::V4(Ipv4Addr::new(
                    203,
                    0,
                    113,
                    self.rng.below(250) as u8 + 1,
                ))),
                dport: if self.rng.chance(0.8) { 443 } else { 80 },
                traffic_path: Some(8),
                ..r
            },
            40..60 => Record {
                dst: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))),
                dport: 53,
                protocol: 17,
                tcp_flags: None,
                packets: 1,
                bytes: 70,
                ..r
            },
            60..65 => Record {
                dst: Some(IpAddr::V4(Ipv4Addr::new(169, 254, 169, 123))),
                dport: 123,
                protocol: 17,
                tcp_flags: None,
                packets: 1,
                bytes: 76,
                ..r
            },
            65..80 => Record {
                dport: 1024 + self.rng.below(64_000) as u16,
                ..r
            },
            80..90 => Record {
                // A database port on an address the catalogue does not have.
                dst: Some(IpAddr::V4(Ipv4Addr::new(
                    10,
                    200,
                    self.rng.below(256) as u8,
                    self.rng.below(254) as u8 + 1,
                ))),
                dport: if self.rng.chance(0.5) { 3306 } else { 5432 },
                action: Some(if self.rng.chance(0.2) {
                    "REJECT"
                } else {
                    "ACCEPT"
                }),
                ..r
            },
            _ => {
                let from = IpAddr::V4(Ipv4Addr::new(198, 51, 100, self.rng.below(250) as u8 + 1));
                ssh_probe(
                    Record {
                        traffic_path: None,
                        ..r
                    },
                    from,
                )
            }
        }
    }

    fn render(&mut self, r: &Record) {
        let line = &mut self.line;
        line.clear();
        for (i, column) in self.opts.format.columns().iter().enumerate() {
            if i > 0 {
                line.push(b' ');
            }
            let ok = r.status == "OK";
            let _ = match column.name.as_ref() {
                "version" => write!(
                    line,
                    "{}",
                    self.opts
                        .format
                        .columns()
                        .iter()
                        .filter_map(|c| c.def)
                        .map(|d| d.version)
                        .max()
                        .unwrap_or(2)
                        .max(2)
                ),
                "account-id" => write!(line, "{}", r.account),
                "interface-id" => write!(line, "{}", r.eni),
                "srcaddr" | "pkt-srcaddr" if ok => {
                    write!(line, "{}", r.src.map_or("-".into(), |a| a.to_string()))
                }
                "dstaddr" | "pkt-dstaddr" if ok => {
                    write!(line, "{}", r.dst.map_or("-".into(), |a| a.to_string()))
                }
                "srcport" if ok => write!(line, "{}", r.sport),
                "dstport" if ok => write!(line, "{}", r.dport),
                "protocol" if ok => write!(line, "{}", r.protocol),
                "packets" if ok => write!(line, "{}", r.packets),
                "bytes" if ok => write!(line, "{}", r.bytes),
                "start" => write!(line, "{}", r.start),
                "end" => write!(line, "{}", r.end),
                "action" => write!(line, "{}", r.action.unwrap_or("-")),
                "log-status" => write!(line, "{}", r.status),
                "vpc-id" => write!(line, "vpc-0a1b2c3d4e5f60718"),
                "subnet-id" => write!(line, "{}", r.subnet),
                "tcp-flags" if ok => write!(
                    line,
                    "{}",
                    r.tcp_flags.map_or("-".into(), |f| f.to_string())
                ),
                "type" if ok => write!(line, "IPv4"),
                "region" => write!(line, "ap-northeast-1"),
                "az-id" => write!(line, "apne1-az1"),
                "flow-direction" if ok => write!(line, "{}", r.direction.unwrap_or("-")),
                "traffic-path" if ok => write!(
                    line,
                    "{}",
                    r.traffic_path.map_or("-".into(), |p| p.to_string())
                ),
                _ => write!(line, "-"),
            };
        }
        line.push(b'\n');
    }
}

/// `n` database endpoints in 10.0.3.0/24 and beyond, MySQL and PostgreSQL alternating.
fn endpoints(n: usize) -> Vec<Endpoint> {
    (0..n.max(1))
        .map(|i| Endpoint {
            name: format!("db{:02}", i + 1),
            address: IpAddr::V4(Ipv4Addr::new(
                10,
                0,
                3 + (i / 200) as u8,
                20 + (i % 200) as u8,
            )),
            port: if i % 2 == 0 { 3306 } else { 5432 },
            eni: format!("eni-0db{:014x}", i + 1),
        })
        .collect()
}

/// The formats the generator names: `v2` (the default format) and `v5` ([`v5_format`]).
pub fn named_format(name: &str) -> Option<LogFormat> {
    match name {
        "v2" => Some(LogFormat::default_v2()),
        "v5" => Some(v5_format()),
        _ => None,
    }
}

/// The version 5 format with every v2–v5 field, as AWS's "all fields" custom formats list them.
pub fn v5_format() -> LogFormat {
    LogFormat::parse(
        "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} \
         ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${vpc-id} \
         ${subnet-id} ${instance-id} ${tcp-flags} ${type} ${pkt-srcaddr} ${pkt-dstaddr} ${region} \
         ${az-id} ${sublocation-type} ${sublocation-id} ${pkt-src-aws-service} \
         ${pkt-dst-aws-service} ${flow-direction} ${traffic-path}",
    )
    .expect("a valid format")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let gen_with = |seed| {
            let mut out = Vec::new();
            Generator::new(Options {
                records: 500,
                seed,
                ..Options::default()
            })
            .write_to(&mut out)
            .unwrap();
            out
        };
        assert_eq!(gen_with(7), gen_with(7));
        assert_ne!(gen_with(7), gen_with(8));
    }

    #[test]
    fn v5_has_29_fields_per_line_and_a_header() {
        let mut out = Vec::new();
        let stats = Generator::new(Options {
            records: 50,
            format: v5_format(),
            header: true,
            ..Options::default()
        })
        .write_to(&mut out)
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("version account-id"));
        for line in lines {
            assert_eq!(line.split(' ').count(), 29, "{line}");
            assert!(line.starts_with("5 "));
        }
        assert_eq!(stats.records, 50);
    }

    /// The records and stats `opts` give.
    fn generated(opts: Options) -> (Stats, Vec<u8>) {
        let mut out = Vec::new();
        let stats = Generator::new(opts).write_to(&mut out).unwrap();
        (stats, out)
    }

    #[test]
    fn the_realistic_mix_honours_the_database_share_and_spreads_addresses() {
        let (stats, out) = generated(Options {
            records: 40_000,
            db_share: Some(0.05),
            enis: 500,
            clients: 5_000,
            ..Options::default()
        });
        let share = stats.db as f64 / stats.records as f64;
        assert!((0.04..0.06).contains(&share), "database share {share}");
        let text = String::from_utf8(out).unwrap();
        let mut enis = std::collections::HashSet::new();
        let mut sources = std::collections::HashSet::new();
        let mut udp = 0;
        for line in text.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            enis.insert(f[2]);
            sources.insert(f[3]);
            udp += usize::from(f[7] == "17");
        }
        assert!(enis.len() > 400, "{} ENIs", enis.len());
        assert!(sources.len() > 20_000, "{} source addresses", sources.len());
        assert!(udp > 5_000, "{udp} UDP records (DNS, NTP)");
    }

    #[test]
    fn reject_share_is_roughly_honoured() {
        let (stats, _) = generated(Options {
            records: 20_000,
            ..Options::default()
        });
        let share = stats.reject as f64 / stats.records as f64;
        assert!((0.05..0.35).contains(&share), "REJECT share {share}");
    }
}
