//! Log formats: which fields a record holds, in which order.
//!
//! A [`LogFormat`] comes from one of three places, in this order of precedence:
//! 1. an explicit `${field} ${field} …` string ([`LogFormat::parse`]), the syntax AWS uses in
//!    `LogFormat`;
//! 2. the header line S3 text objects begin with ([`LogFormat::from_header`]);
//! 3. the default version 2 format ([`LogFormat::default_v2`]).
//!
//! The format-string grammar is parsed with nom.

use std::sync::Arc;

use arrow_schema::{Field, Schema, SchemaRef};
use nom::IResult;
use nom::Parser;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::space0;
use nom::sequence::delimited;

use crate::error::{Error, ErrorKind, Result};
use crate::field::{self, FieldDef, Kind};

/// Arrow field metadata key naming a column's flow-log kind (`ip` for address columns).
pub const KIND_METADATA_KEY: &str = "vpcflow.kind";

/// One column of a format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The canonical hyphenated name.
    pub name: Arc<str>,
    /// The field's definition, `None` for a name vpcflow does not know.
    pub def: Option<&'static FieldDef>,
    /// How it decodes ([`Kind::Text`] for unknown fields).
    pub kind: Kind,
}

impl Column {
    fn named(name: &str) -> Column {
        match field::lookup(name) {
            Some(def) => Column {
                name: Arc::from(def.name),
                def: Some(def),
                kind: def.kind,
            },
            None => Column {
                name: Arc::from(name.replace('_', "-").to_ascii_lowercase()),
                def: None,
                kind: Kind::Text,
            },
        }
    }
}

/// The ordered fields of a flow-log record, and the Arrow schema they decode to.
#[derive(Clone, Debug)]
pub struct LogFormat {
    columns: Vec<Column>,
    schema: SchemaRef,
}

impl PartialEq for LogFormat {
    fn eq(&self, other: &LogFormat) -> bool {
        self.columns == other.columns
    }
}

impl LogFormat {
    /// The default version 2 format.
    pub fn default_v2() -> LogFormat {
        Self::from_names(field::DEFAULT_V2.iter().copied()).expect("the default format is valid")
    }

    /// The default Transit Gateway format.
    pub fn default_transit_gateway() -> LogFormat {
        Self::from_names(field::DEFAULT_TGW.iter().copied()).expect("the default format is valid")
    }

    /// Parses a format string in AWS's syntax: `${field}` tokens separated by spaces.
    ///
    /// Unknown names are accepted as text columns; see [`LogFormat::unknown_fields`] to warn
    /// about them, or [`LogFormat::deny_unknown`] to refuse them.
    ///
    /// ```
    /// use vpcflow_core::LogFormat;
    /// let f = LogFormat::parse("${srcaddr} ${dstaddr} ${action}").unwrap();
    /// assert_eq!(f.names().collect::<Vec<_>>(), ["srcaddr", "dstaddr", "action"]);
    /// assert!(LogFormat::parse("${srcaddr} dstaddr").is_err());
    /// ```
    pub fn parse(format: &str) -> Result<LogFormat> {
        let mut names = Vec::new();
        let mut rest = format;
        loop {
            let trimmed = rest.trim_start_matches([' ', '\t', '\n', '\r']);
            if trimmed.is_empty() {
                break;
            }
            match field_token(trimmed) {
                Ok((next, name)) => {
                    names.push(name);
                    rest = next;
                }
                Err(_) => {
                    let offset = format.len() - trimmed.len();
                    let expected = if trimmed.starts_with("${") {
                        "a field name of letters, digits, `-` or `_` closed by `}`"
                    } else {
                        "`${`"
                    };
                    return Err(Error::new(ErrorKind::FormatSyntax {
                        format: format.to_owned(),
                        offset,
                        expected,
                    }));
                }
            }
        }
        Self::from_names(names)
    }

    /// Reads the header line of an S3 text object (`version account-id …`), if `line` is one.
    ///
    /// A line is a header when its first token names a known field and every token is a plain
    /// name (letters, digits, `-`, `_`). Data lines never qualify: their first token is a number,
    /// an id such as `eni-…`, or `-`.
    /// The line may end in its `\n` or `\r\n`.
    pub fn from_header(line: &[u8]) -> Option<LogFormat> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut tokens = line.split(|&b| b == b' ').filter(|t| !t.is_empty());
        let first = tokens.next()?;
        field::lookup_bytes(first)?;
        let mut names = vec![std::str::from_utf8(first).ok()?];
        for token in tokens {
            if !token.iter().all(|&b| is_name_byte(b)) {
                return None;
            }
            names.push(std::str::from_utf8(token).ok()?);
        }
        Self::from_names(names).ok()
    }

    /// Builds a format from field names (hyphens or underscores).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<LogFormat> {
        let mut columns: Vec<Column> = Vec::new();
        for name in names {
            let column = Column::named(name);
            if columns.iter().any(|c| c.name == column.name) {
                return Err(Error::new(ErrorKind::DuplicateField {
                    name: column.name.to_string(),
                }));
            }
            columns.push(column);
        }
        if columns.is_empty() {
            return Err(Error::new(ErrorKind::EmptyFormat));
        }
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|c| {
                    let field = Field::new(c.name.as_ref(), c.kind.data_type(), true);
                    if c.kind == Kind::Ip {
                        field.with_metadata(
                            [(KIND_METADATA_KEY.to_string(), "ip".to_string())].into(),
                        )
                    } else {
                        field
                    }
                })
                .collect::<Vec<_>>(),
        ));
        Ok(LogFormat { columns, schema })
    }

    /// Fails with [`ErrorKind::UnknownField`] if any field is unknown (`--strict`).
    pub fn deny_unknown(&self) -> Result<()> {
        match self.unknown_fields().next() {
            Some(name) => Err(Error::new(ErrorKind::UnknownField {
                name: name.to_owned(),
            })),
            None => Ok(()),
        }
    }

    /// The names vpcflow does not know; they decode as nullable text columns.
    pub fn unknown_fields(&self) -> impl Iterator<Item = &str> {
        self.columns
            .iter()
            .filter(|c| c.def.is_none())
            .map(|c| c.name.as_ref())
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The canonical names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_ref())
    }

    /// The index of a field, by name (hyphens or underscores).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        let canonical = field::lookup(name).map_or(name, |d| d.name);
        self.columns
            .iter()
            .position(|c| c.name.as_ref() == canonical)
    }

    /// The Arrow schema records of this format decode to.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Whether this is a Transit Gateway format (it names a Transit Gateway-only field).
    pub fn is_transit_gateway(&self) -> bool {
        self.columns.iter().any(|c| {
            c.def
                .is_some_and(|d| d.family == field::Family::TransitGateway)
        })
    }

    /// Renders the format in AWS's `${field}` syntax.
    pub fn to_aws_string(&self) -> String {
        let names: Vec<String> = self.names().map(|n| format!("${{{n}}}")).collect();
        names.join(" ")
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// `${name}` followed by optional spaces.
fn field_token(input: &str) -> IResult<&str, &str> {
    let (rest, name) = delimited(
        tag("${"),
        take_while1(|c: char| c.is_ascii() && is_name_byte(c as u8)),
        tag("}"),
    )
    .parse(input)?;
    let (rest, _) = space0(rest)?;
    Ok((rest, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_aws_syntax_in_any_order() {
        let f = LogFormat::parse("${dstport}  ${srcaddr} ${flow-direction}\n").unwrap();
        assert_eq!(
            f.names().collect::<Vec<_>>(),
            ["dstport", "srcaddr", "flow-direction"]
        );
        assert_eq!(f.index_of("flow_direction"), Some(2));
        assert_eq!(
            f.schema().field(0).data_type(),
            &arrow_schema::DataType::UInt16
        );
    }

    #[test]
    fn syntax_errors_give_the_offset() {
        let err = LogFormat::parse("${srcaddr} ${dst addr}").unwrap_err();
        match err.kind() {
            ErrorKind::FormatSyntax { offset, .. } => assert_eq!(*offset, 11),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            LogFormat::parse("").unwrap_err().kind(),
            ErrorKind::EmptyFormat
        ));
        assert!(matches!(
            LogFormat::parse("${srcaddr} ${srcaddr}")
                .unwrap_err()
                .kind(),
            ErrorKind::DuplicateField { .. }
        ));
    }

    #[test]
    fn unknown_fields_become_text_or_errors() {
        let f = LogFormat::parse("${srcaddr} ${quantum-flux}").unwrap();
        assert_eq!(f.unknown_fields().collect::<Vec<_>>(), ["quantum-flux"]);
        assert_eq!(f.columns()[1].kind, Kind::Text);
        let err = f.deny_unknown().unwrap_err();
        assert!(err.to_string().contains("quantum-flux"), "{err}");
    }

    #[test]
    fn header_lines_are_recognised_and_data_lines_are_not() {
        let h = LogFormat::from_header(b"version account_id interface-id\r").unwrap();
        assert_eq!(
            h.names().collect::<Vec<_>>(),
            ["version", "account-id", "interface-id"]
        );
        assert!(LogFormat::from_header(b"2 123456789012 eni-1 - -").is_none());
        assert!(LogFormat::from_header(b"eni-0abc 10.0.0.1").is_none());
        assert!(LogFormat::from_header(b"- - -").is_none());
        assert!(LogFormat::from_header(b"").is_none());
        // With the line end still on it, as a reader hands the first line over.
        for line in [
            &b"version srcaddr action\n"[..],
            b"version srcaddr action\r\n",
        ] {
            let h = LogFormat::from_header(line).unwrap();
            assert_eq!(
                h.names().collect::<Vec<_>>(),
                ["version", "srcaddr", "action"]
            );
        }
    }

    #[test]
    fn default_formats_round_trip_through_the_syntax() {
        for f in [
            LogFormat::default_v2(),
            LogFormat::default_transit_gateway(),
        ] {
            assert_eq!(LogFormat::parse(&f.to_aws_string()).unwrap(), f);
        }
        assert!(LogFormat::default_transit_gateway().is_transit_gateway());
        assert!(!LogFormat::default_v2().is_transit_gateway());
    }
}
