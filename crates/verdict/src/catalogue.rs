//! The endpoint catalogue: which databases to judge traffic to, from a TOML file.
//!
//! ```toml
//! [[endpoint]]
//! name = "dbinstance1"                 # required, unique
//! address = "10.0.3.213"               # or: addresses = ["10.0.3.213", "2001:db8::5"]
//! port = 3306
//! interface_id = "eni-085da82d3ccb0f0ad"   # optional; or interface_ids = [...]
//! engine = "mysql"                     # optional, informational
//! cluster = "aurora-prod"              # optional, informational (Aurora)
//! security_group_ids = ["sg-0abc"]     # optional; `endpoints discover` writes them
//! ```
//!
//! An `address` that is not an IP address is a DNS name, resolved when the catalogue is loaded
//! by the [`Resolve`] the caller passes in (an RDS endpoint such as
//! `db.xxxx.ap-northeast-1.rds.amazonaws.com` resolves to its private address from inside the
//! VPC). This crate does no I/O itself: [`SystemResolver`] asks the system's resolver,
//! [`NoResolver`] refuses names.

use std::fmt;
use std::net::{IpAddr, ToSocketAddrs};
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

/// One database endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Its unique name.
    pub name: String,
    /// Its addresses (IPv4 and/or IPv6).
    pub addresses: Vec<IpAddr>,
    /// The port it listens on.
    pub port: u16,
    /// The ENIs its traffic is logged on, if known.
    pub interface_ids: Vec<String>,
    /// The engine (`mysql`, `postgres`, …), for information.
    pub engine: Option<String>,
    /// Its security groups, if known (written by `endpoints discover`).
    pub security_group_ids: Vec<String>,
    /// The Aurora cluster it belongs to, for information.
    pub cluster: Option<String>,
    /// The clients that should connect, as written: security-group ids (`sg-…`), CIDRs or
    /// addresses, and names of `kind = "client"` entries. Empty: any client may
    /// (`docs/verdicts.md`, "Expected clients").
    pub expected_clients: Vec<String>,
}

/// A named client (`kind = "client"`), for endpoints' `expected_clients`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// Its unique name.
    pub name: String,
    /// Its addresses.
    pub addresses: Vec<IpAddr>,
}

/// A catalogue of endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalogue {
    /// The endpoints, in file order.
    pub endpoints: Vec<Endpoint>,
    /// The named clients, in file order.
    pub clients: Vec<Client>,
}

/// Why a catalogue could not be loaded.
#[derive(Debug)]
pub struct CatalogueError {
    /// The file (or `<inline>`).
    pub origin: String,
    /// The 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for CatalogueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.origin, line, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

impl std::error::Error for CatalogueError {}

/// Resolves the DNS names a catalogue gives as addresses.
pub trait Resolve {
    /// The addresses `name` resolves to, or why it does not.
    fn resolve(&self, name: &str, port: u16) -> std::io::Result<Vec<IpAddr>>;
}

/// The system's resolver (`getaddrinfo`).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
        Ok((name, port)
            .to_socket_addrs()?
            .map(|a| a.ip().to_canonical())
            .collect())
    }
}

/// Resolves nothing: a catalogue read with it must give IP addresses.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoResolver;

impl Resolve for NoResolver {
    fn resolve(&self, _name: &str, _port: u16) -> std::io::Result<Vec<IpAddr>> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "this catalogue is read without resolving names",
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    endpoint: Vec<Spanned<RawEndpoint>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    name: Spanned<String>,
    kind: Option<Spanned<String>>,
    address: Option<Spanned<String>>,
    addresses: Option<Vec<Spanned<String>>>,
    port: Option<Spanned<i64>>,
    expected_clients: Option<Vec<Spanned<String>>>,
    interface_id: Option<String>,
    interface_ids: Option<Vec<String>>,
    engine: Option<String>,
    security_group_ids: Option<Vec<String>>,
    cluster: Option<String>,
}

impl Catalogue {
    /// Reads a catalogue file, resolving DNS names with `resolver`.
    pub fn from_file(path: &Path, resolver: &dyn Resolve) -> Result<Catalogue, CatalogueError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CatalogueError {
            origin: origin.clone(),
            line: None,
            message: format!("cannot read the endpoint catalogue: {e}"),
        })?;
        Self::parse(&text, &origin, resolver)
    }

    /// Parses catalogue TOML whose addresses are all IP addresses; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Catalogue, CatalogueError> {
        Self::parse(text, origin, &NoResolver)
    }

    /// Parses catalogue TOML, resolving DNS names with `resolver`; `origin` names it in errors.
    pub fn parse(
        text: &str,
        origin: &str,
        resolver: &dyn Resolve,
    ) -> Result<Catalogue, CatalogueError> {
        let err = |span: Option<Range<usize>>, message: String| CatalogueError {
            origin: origin.to_owned(),
            line: span.map(|s| line_of(text, s.start)),
            message,
        };
        let file: File = toml::from_str(text).map_err(|e| err(e.span(), e.message().to_owned()))?;
        let mut endpoints: Vec<Endpoint> = Vec::new();
        let mut clients: Vec<Client> = Vec::new();
        // Every entry's name and line, endpoints and clients alike: names are unique.
        let mut names: Vec<(String, usize)> = Vec::new();
        let mut expected: Vec<Spanned<String>> = Vec::new();
        for raw in file.endpoint {
            let span = raw.span();
            let raw = raw.into_inner();
            let name = raw.name.get_ref().trim().to_owned();
            if name.is_empty() {
                return Err(err(Some(raw.name.span()), "`name` is empty".into()));
            }
            if let Some((_, line)) = names.iter().find(|(n, _)| *n == name) {
                return Err(err(
                    Some(raw.name.span()),
                    format!(
                        "endpoint name `{name}` is used twice (first on line {line}); names must be unique"
                    ),
                ));
            }
            names.push((name.clone(), line_of(text, raw.name.span().start)));
            let client = match raw.kind.as_ref().map(|k| k.get_ref().as_str()) {
                None | Some("endpoint") => false,
                Some("client") => true,
                Some(other) => {
                    return Err(err(
                        raw.kind.as_ref().map(|k| k.span()),
                        format!("kind `{other}` is not `endpoint` or `client`"),
                    ));
                }
            };
            let port = match (&raw.port, client) {
                (Some(p), false) => {
                    let port = *p.get_ref();
                    u16::try_from(port)
                        .ok()
                        .filter(|&p| p != 0)
                        .ok_or_else(|| err(Some(p.span()), format!("port {port} is not 1–65535")))?
                }
                (None, false) => {
                    return Err(err(Some(span), format!("endpoint `{name}` has no `port`")));
                }
                (Some(p), true) => {
                    return Err(err(
                        Some(p.span()),
                        format!("client `{name}` has a `port`; clients connect from any port"),
                    ));
                }
                (None, true) => 0,
            };
            let mut spelled: Vec<Spanned<String>> = Vec::new();
            spelled.extend(raw.address);
            spelled.extend(raw.addresses.into_iter().flatten());
            if spelled.is_empty() {
                return Err(err(
                    Some(span),
                    format!("endpoint `{name}` has no `address` or `addresses`"),
                ));
            }
            let mut addresses = Vec::new();
            for a in &spelled {
                let resolved =
                    resolve(a.get_ref(), port, resolver).map_err(|m| err(Some(a.span()), m))?;
                for ip in resolved {
                    if !addresses.contains(&ip) {
                        addresses.push(ip);
                    }
                }
            }
            if client {
                if raw.expected_clients.is_some() {
                    return Err(err(
                        Some(span),
                        format!("client `{name}` cannot have `expected_clients`"),
                    ));
                }
                clients.push(Client { name, addresses });
                continue;
            }
            let mut interface_ids: Vec<String> = Vec::new();
            interface_ids.extend(raw.interface_id);
            interface_ids.extend(raw.interface_ids.into_iter().flatten());
            if let Some(bad) = interface_ids.iter().find(|e| !e.starts_with("eni-")) {
                return Err(err(
                    Some(span),
                    format!("`{bad}` is not an ENI id (they look like eni-0123456789abcdef0)"),
                ));
            }
            let expected_clients = raw.expected_clients.unwrap_or_default();
            endpoints.push(Endpoint {
                name,
                addresses,
                port,
                interface_ids,
                engine: raw.engine,
                security_group_ids: raw.security_group_ids.unwrap_or_default(),
                cluster: raw.cluster,
                expected_clients: expected_clients
                    .iter()
                    .map(|c| c.get_ref().trim().to_owned())
                    .collect(),
            });
            expected.extend(expected_clients);
        }
        if endpoints.is_empty() {
            return Err(err(
                None,
                "the catalogue has no [[endpoint]] entries".into(),
            ));
        }
        for e in &expected {
            let spelled = e.get_ref().trim();
            if crate::expect::Expected::parse(spelled).is_none()
                && !clients.iter().any(|c| c.name == spelled)
            {
                return Err(err(
                    Some(e.span()),
                    format!(
                        "`{spelled}` in expected_clients is not a security group id (sg-…), an address or CIDR, or the name of a kind = \"client\" entry"
                    ),
                ));
            }
        }
        Ok(Catalogue { endpoints, clients })
    }

    /// Renders the catalogue as TOML that [`Catalogue::from_toml`] reads back.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for e in &self.endpoints {
            out.push_str("[[endpoint]]\n");
            out.push_str(&format!("name = {}\n", quote(&e.name)));
            if let [one] = e.addresses.as_slice() {
                out.push_str(&format!("address = \"{one}\"\n"));
            } else {
                let list: Vec<String> = e.addresses.iter().map(|a| format!("\"{a}\"")).collect();
                out.push_str(&format!("addresses = [{}]\n", list.join(", ")));
            }
            out.push_str(&format!("port = {}\n", e.port));
            match e.interface_ids.as_slice() {
                [] => {}
                [one] => out.push_str(&format!("interface_id = {}\n", quote(one))),
                many => out.push_str(&format!("interface_ids = [{}]\n", list(many))),
            }
            if let Some(engine) = &e.engine {
                out.push_str(&format!("engine = {}\n", quote(engine)));
            }
            if !e.security_group_ids.is_empty() {
                out.push_str(&format!(
                    "security_group_ids = [{}]\n",
                    list(&e.security_group_ids)
                ));
            }
            if let Some(cluster) = &e.cluster {
                out.push_str(&format!("cluster = {}\n", quote(cluster)));
            }
            if !e.expected_clients.is_empty() {
                out.push_str(&format!(
                    "expected_clients = [{}]\n",
                    list(&e.expected_clients)
                ));
            }
            out.push('\n');
        }
        for c in &self.clients {
            out.push_str("[[endpoint]]\n");
            out.push_str(&format!("name = {}\nkind = \"client\"\n", quote(&c.name)));
            let list: Vec<String> = c.addresses.iter().map(|a| format!("\"{a}\"")).collect();
            out.push_str(&format!("addresses = [{}]\n\n", list.join(", ")));
        }
        out
    }
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| quote(s))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An IP address as written, or the addresses a DNS name resolves to.
fn resolve(spelled: &str, port: u16, resolver: &dyn Resolve) -> Result<Vec<IpAddr>, String> {
    let spelled = spelled.trim();
    if let Ok(ip) = spelled.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let looks_like_name = !spelled.is_empty()
        && spelled
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && spelled.chars().any(|c| c.is_ascii_alphabetic());
    if !looks_like_name {
        return Err(format!("`{spelled}` is not an IP address or a DNS name"));
    }
    let ips = resolver
        .resolve(spelled, port)
        .map_err(|e| format!("cannot resolve `{spelled}`: {e}; write its IP address instead"))?;
    if ips.is_empty() {
        return Err(format!("`{spelled}` resolves to no address"));
    }
    Ok(ips)
}

fn line_of(text: &str, byte: usize) -> usize {
    text.as_bytes()[..byte.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[endpoint]]
name = "dbinstance1"
address = "10.0.3.213"
port = 3306
interface_id = "eni-085da82d3ccb0f0ad"
engine = "mysql"

[[endpoint]]
name = "pg"
addresses = ["10.0.4.5", "2001:db8::5"]
port = 5432
"#;

    #[test]
    fn reads_both_spellings_and_round_trips() {
        let c = Catalogue::from_toml(GOOD, "c.toml").unwrap();
        assert_eq!(c.endpoints.len(), 2);
        assert_eq!(c.endpoints[0].interface_ids, ["eni-085da82d3ccb0f0ad"]);
        assert_eq!(c.endpoints[1].addresses.len(), 2);
        assert_eq!(Catalogue::from_toml(&c.to_toml(), "again").unwrap(), c);
    }

    #[test]
    fn errors_name_the_line() {
        let unknown = GOOD.replace("engine = \"mysql\"", "engnie = \"mysql\"");
        let e = Catalogue::from_toml(&unknown, "c.toml").unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");
        assert!(e.to_string().contains("engnie"), "{e}");

        let dup = GOOD.replace("name = \"pg\"", "name = \"dbinstance1\"");
        let e = Catalogue::from_toml(&dup, "c.toml").unwrap_err();
        assert_eq!(e.line, Some(10), "{e}");
        assert!(
            e.to_string().contains("used twice (first on line 3)"),
            "{e}"
        );

        let bad = GOOD.replace("10.0.4.5", "10.0.4.500");
        let e = Catalogue::from_toml(&bad, "c.toml").unwrap_err();
        assert_eq!(e.line, Some(11), "{e}");
        assert!(e.to_string().contains("10.0.4.500"), "{e}");

        let port = GOOD.replace("5432", "70000");
        let e = Catalogue::from_toml(&port, "c.toml").unwrap_err();
        assert_eq!(e.line, Some(12), "{e}");

        let eni = GOOD.replace("eni-085da82d3ccb0f0ad", "sg-123");
        assert!(
            Catalogue::from_toml(&eni, "c.toml")
                .unwrap_err()
                .to_string()
                .contains("sg-123")
        );
        assert!(Catalogue::from_toml("", "c.toml").is_err());
    }

    #[test]
    fn dns_names_resolve_through_the_resolver_given() {
        struct Fixed;
        impl Resolve for Fixed {
            fn resolve(&self, name: &str, _: u16) -> std::io::Result<Vec<IpAddr>> {
                assert_eq!(name, "db.example.internal");
                Ok(vec!["10.0.3.7".parse().unwrap()])
            }
        }
        let text = "[[endpoint]]\nname = \"db\"\naddress = \"db.example.internal\"\nport = 5432\n";
        let c = Catalogue::parse(text, "c.toml", &Fixed).unwrap();
        assert_eq!(
            c.endpoints[0].addresses,
            ["10.0.3.7".parse::<IpAddr>().unwrap()]
        );
        let e = Catalogue::from_toml(text, "c.toml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.toml:3: cannot resolve `db.example.internal`: this catalogue is read without \
             resolving names; write its IP address instead"
        );
        let local = "[[endpoint]]\nname = \"local\"\naddress = \"localhost\"\nport = 5432\n";
        let c = Catalogue::parse(local, "c.toml", &SystemResolver).unwrap();
        assert!(c.endpoints[0].addresses.iter().any(|a| a.is_loopback()));
    }

    #[test]
    fn expected_clients_name_groups_ranges_and_client_entries() {
        let text = "[[endpoint]]\nname = \"db\"\naddress = \"10.0.3.5\"\nport = 5432\nexpected_clients = [\"bastion\", \"sg-0abc\", \"10.0.8.0/24\"]\n\n[[endpoint]]\nname = \"bastion\"\nkind = \"client\"\naddress = \"10.0.1.20\"\n";
        let c = Catalogue::from_toml(text, "t.toml").unwrap();
        assert_eq!(c.endpoints.len(), 1, "a client is not an endpoint");
        assert_eq!(c.clients[0].name, "bastion");
        assert_eq!(
            c.endpoints[0].expected_clients,
            ["bastion", "sg-0abc", "10.0.8.0/24"]
        );
        assert_eq!(Catalogue::from_toml(&c.to_toml(), "again").unwrap(), c);
        let unknown = text.replace("\"bastion\", \"sg", "\"jumphost\", \"sg");
        let e = Catalogue::from_toml(&unknown, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.toml:5: `jumphost` in expected_clients is not"),
            "{e}"
        );
        let ported = text.replace("kind = \"client\"\n", "kind = \"client\"\nport = 22\n");
        let e = Catalogue::from_toml(&ported, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("client `bastion` has a `port`"), "{e}");
    }
}
