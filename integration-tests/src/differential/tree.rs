//! Responses as comparable trees: kafka-protocol's derived `Debug` text parsed back into
//! structs, lists and atoms, normalised (fields Kafka leaves free dropped or blurred) and
//! compared field by field, pairing list elements by their key fields.

use std::fmt::{self, Write as _};

/// One value of a decoded response.
#[derive(Clone, Debug, PartialEq)]
pub enum Tree {
    /// A number, a bool, `None`, a uuid, an enum variant, or a quoted string as written.
    Atom(String),
    List(Vec<Tree>),
    Struct(String, Vec<(String, Tree)>),
}

/// Fields whose values are ids, clocks, addresses or sizes of free text that Kafka leaves to
/// the broker: they are dropped before comparing.
const IGNORED: &[&str] = &[
    "unknown_tagged_fields",
    "throttle_time_ms",
    "cluster_id",
    "topic_id",
    "member_id",
    "leader",
    "producer_id",
    "session_id",
    "log_append_time_ms",
    "transaction_start_time_ms",
    "host",
    "port",
    "client_host",
    "crc",
    "coordinator_epoch",
    "error_message",
    "batch_index_error_message",
];

/// Fields whose presence matters but not their text.
const BLURRED: &[&str] = &[];

/// Fields that identify a list element (in this order) when present.
const KEYS: &[&str] = &[
    "api_key",
    "resource_type",
    "resource_name",
    "pattern_type",
    "principal",
    "operation",
    "name",
    "topic",
    "topic_name",
    "group_id",
    "user",
    "transactional_id",
    "partition_index",
    "partition",
    "index",
    "node_id",
    "broker_id",
    "key",
];

impl Tree {
    /// Parses the single-line `{:?}` text of a derived `Debug`.
    ///
    /// # Errors
    /// The text is not in the shape derived `Debug` writes.
    pub fn parse(text: &str) -> Result<Tree, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let t = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing text at {}", p.i));
        }
        Ok(t)
    }

    /// Drops the [`IGNORED`] fields, blurs the [`BLURRED`] ones and unwraps newtypes
    /// (`BrokerId(1)` is `1`, `Some(x)` is `x`).
    #[must_use]
    pub fn normalise(self) -> Tree {
        match self {
            Tree::Atom(a) => Tree::Atom(a),
            Tree::List(items) => Tree::List(items.into_iter().map(Tree::normalise).collect()),
            Tree::Struct(name, fields) => {
                if fields.len() == 1 && fields.first().is_some_and(|(f, _)| f.is_empty()) {
                    // A newtype or `Some`.
                    return fields
                        .into_iter()
                        .next()
                        .map_or(Tree::Atom(String::new()), |(_, v)| v.normalise());
                }
                Tree::Struct(
                    name,
                    fields
                        .into_iter()
                        .filter(|(f, _)| !IGNORED.contains(&f.as_str()))
                        .map(|(f, v)| {
                            let v = if BLURRED.contains(&f.as_str()) && v != Tree::atom("None") {
                                Tree::atom("<text>")
                            } else if f == "records" {
                                split_batches(v.normalise())
                            } else {
                                v.normalise()
                            };
                            (f, v)
                        })
                        .collect(),
                )
            }
        }
    }

    #[must_use]
    pub fn atom(s: &str) -> Tree {
        Tree::Atom(s.to_owned())
    }

    /// The field `name` of a struct.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&Tree> {
        match self {
            Tree::Struct(_, fields) => fields.iter().find(|(f, _)| f == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// How a list element is told apart from its siblings: its key fields, if it has any.
    fn key(&self) -> Option<String> {
        let Tree::Struct(_, fields) = self else {
            return Some(self.to_string());
        };
        let mut key = String::new();
        for k in KEYS {
            if let Some((_, v)) = fields.iter().find(|(f, _)| f == k) {
                let _ = write!(key, "{}{k}={v}", if key.is_empty() { "" } else { "," });
            }
        }
        (!key.is_empty()).then_some(key)
    }
}

/// Fetched records summarised as `b"[batch …][batch …]"` become a list of batches.
fn split_batches(v: Tree) -> Tree {
    match v {
        Tree::Atom(a) if a.starts_with("b\"[") => Tree::List(
            a.trim_start_matches("b\"[")
                .trim_end_matches("]\"")
                .split("][")
                .map(Tree::atom)
                .collect(),
        ),
        v => v,
    }
}

impl fmt::Display for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tree::Atom(a) if a.len() > 400 => {
                let head: String = a.chars().take(380).collect();
                write!(f, "{head}…({} chars)", a.len())
            }
            Tree::Atom(a) => f.write_str(a),
            Tree::List(items) => {
                f.write_str("[")?;
                for (i, t) in items.iter().enumerate() {
                    write!(f, "{}{t}", if i == 0 { "" } else { ", " })?;
                }
                f.write_str("]")
            }
            Tree::Struct(name, fields) => {
                write!(f, "{name} {{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    write!(f, "{}{k}: {v}", if i == 0 { " " } else { ", " })?;
                }
                f.write_str(" }")
            }
        }
    }
}

/// One difference between Kafka's answer and Strom's, at `path` inside the response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub path: String,
    pub kafka: String,
    pub strom: String,
}

/// Compares two normalised trees; differences are appended to `out`.
pub fn diff(path: &str, kafka: &Tree, strom: &Tree, out: &mut Vec<Difference>) {
    match (kafka, strom) {
        (Tree::Struct(kn, kf), Tree::Struct(sn, sf)) if kn == sn => {
            for (name, kv) in kf {
                let p = format!("{path}.{name}");
                match sf.iter().find(|(f, _)| f == name) {
                    Some((_, sv)) => diff(&p, kv, sv, out),
                    None => out.push(missing(&p, kv, true)),
                }
            }
            for (name, sv) in sf {
                if !kf.iter().any(|(f, _)| f == name) {
                    out.push(missing(&format!("{path}.{name}"), sv, false));
                }
            }
        }
        (Tree::List(ki), Tree::List(si)) => diff_lists(path, ki, si, out),
        _ if kafka == strom => {}
        _ => out.push(Difference {
            path: path.to_owned(),
            kafka: kafka.to_string(),
            strom: strom.to_string(),
        }),
    }
}

fn missing(path: &str, v: &Tree, in_kafka: bool) -> Difference {
    let (kafka, strom) = if in_kafka {
        (v.to_string(), "(absent)".to_owned())
    } else {
        ("(absent)".to_owned(), v.to_string())
    };
    Difference {
        path: path.to_owned(),
        kafka,
        strom,
    }
}

/// Lists whose elements all carry keys are paired by key (their order is free); others by
/// position.
fn diff_lists(path: &str, kafka: &[Tree], strom: &[Tree], out: &mut Vec<Difference>) {
    let kk: Option<Vec<String>> = kafka.iter().map(Tree::key).collect();
    let sk: Option<Vec<String>> = strom.iter().map(Tree::key).collect();
    if let (Some(kk), Some(sk)) = (kk, sk) {
        for (k, kv) in kk.iter().zip(kafka) {
            let p = format!("{path}[{k}]");
            match sk.iter().position(|s| s == k).and_then(|i| strom.get(i)) {
                Some(sv) => diff(&p, kv, sv, out),
                None => out.push(missing(&p, kv, true)),
            }
        }
        for (k, sv) in sk.iter().zip(strom) {
            if !kk.contains(k) {
                out.push(missing(&format!("{path}[{k}]"), sv, false));
            }
        }
        return;
    }
    for (i, kv) in kafka.iter().enumerate() {
        let p = format!("{path}[{i}]");
        match strom.get(i) {
            Some(sv) => diff(&p, kv, sv, out),
            None => out.push(missing(&p, kv, true)),
        }
    }
    for (i, sv) in strom.iter().enumerate().skip(kafka.len()) {
        out.push(missing(&format!("{path}[{i}]"), sv, false));
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", c as char, self.i))
        }
    }

    fn value(&mut self) -> Result<Tree, String> {
        match self.peek() {
            Some(b'"') => self.string(self.i),
            Some(b'b') if self.s.get(self.i + 1) == Some(&b'"') => {
                let start = self.i;
                self.i += 1;
                self.string(start)
            }
            Some(b'[') => {
                self.i += 1;
                let items = self.items(b']', Self::value)?;
                Ok(Tree::List(items))
            }
            Some(b'{') => {
                // A map (only tagged fields, which are ignored): keep it as pairs.
                self.i += 1;
                let pairs = self.items(b'}', |p| {
                    let k = p.value()?;
                    p.expect(b':')?;
                    let v = p.value()?;
                    Ok(Tree::List(vec![k, v]))
                })?;
                Ok(Tree::List(pairs))
            }
            Some(_) => {
                let word = self.word();
                match self.peek() {
                    Some(b'{') => {
                        self.i += 1;
                        let fields = self.items(b'}', |p| {
                            let name = p.word();
                            p.expect(b':')?;
                            Ok(Tree::Struct(name, vec![(String::new(), p.value()?)]))
                        })?;
                        let fields = fields
                            .into_iter()
                            .filter_map(|f| match f {
                                Tree::Struct(n, mut v) => v.pop().map(|(_, v)| (n, v)),
                                _ => None,
                            })
                            .collect();
                        Ok(Tree::Struct(word, fields))
                    }
                    Some(b'(') if !word.is_empty() => {
                        self.i += 1;
                        let mut items = self.items(b')', Self::value)?;
                        if items.len() == 1 {
                            let inner = items.pop().unwrap_or(Tree::atom(""));
                            Ok(Tree::Struct(word, vec![(String::new(), inner)]))
                        } else {
                            Ok(Tree::Struct(
                                word,
                                items
                                    .into_iter()
                                    .enumerate()
                                    .map(|(i, t)| (i.to_string(), t))
                                    .collect(),
                            ))
                        }
                    }
                    _ if word.is_empty() => Err(format!("unexpected text at {}", self.i)),
                    _ => Ok(Tree::Atom(word)),
                }
            }
            None => Err("unexpected end".into()),
        }
    }

    /// Comma-separated items up to `close` (a trailing comma allowed).
    fn items(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Result<Tree, String>,
    ) -> Result<Vec<Tree>, String> {
        let mut out = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok(out);
            }
            out.push(item(self)?);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {}
                _ => return Err(format!("expected ',' at {}", self.i)),
            }
        }
    }

    /// An identifier, number, uuid or other bare token.
    fn word(&mut self) -> String {
        self.ws();
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| !c.is_ascii_whitespace() && !b",:(){}[]\"".contains(c))
        {
            self.i += 1;
        }
        String::from_utf8_lossy(self.s.get(start..self.i).unwrap_or_default()).into_owned()
    }

    /// A quoted string starting at `self.i` (escapes kept as written); `start` includes any
    /// `b` prefix.
    fn string(&mut self, start: usize) -> Result<Tree, String> {
        self.i += 1;
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            match c {
                b'\\' => self.i += 1,
                b'"' => {
                    let text = self.s.get(start..self.i).unwrap_or_default();
                    return Ok(Tree::Atom(String::from_utf8_lossy(text).into_owned()));
                }
                _ => {}
            }
        }
        Err("unterminated string".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Tree {
        Tree::parse(s).unwrap().normalise()
    }

    #[test]
    fn parses_derived_debug() {
        let tree = t(
            r#"R { a: BrokerId(1), b: Some("x, \"y\""), c: [P { name: TopicName("t"), v: -1 }], d: None, e: b"\x00", f: {}, g: 1.5, h: U }"#,
        );
        assert_eq!(tree.field("a"), Some(&Tree::atom("1")));
        assert_eq!(tree.field("b"), Some(&Tree::atom(r#""x, \"y\"""#)));
        assert_eq!(tree.field("d"), Some(&Tree::atom("None")));
        assert_eq!(tree.field("e"), Some(&Tree::atom(r#"b"\x00""#)));
        assert_eq!(tree.field("h"), Some(&Tree::atom("U")));
        assert!(Tree::parse("R { a: ").is_err());
        assert!(Tree::parse("R { a: 1 } x").is_err());
    }

    #[test]
    fn lists_with_keys_pair_by_key_and_ignored_fields_do_not_count() {
        let kafka =
            t(r#"R { throttle_time_ms: 5, l: [P { name: "a", v: 1 }, P { name: "b", v: 2 }] }"#);
        let strom = t(
            r#"R { throttle_time_ms: 0, l: [P { name: "b", v: 3 }, P { name: "a", v: 1 }, P { name: "c", v: 0 }] }"#,
        );
        let mut out = Vec::new();
        diff("", &kafka, &strom, &mut out);
        assert_eq!(
            out,
            vec![
                Difference {
                    path: r#".l[name="b"].v"#.into(),
                    kafka: "2".into(),
                    strom: "3".into()
                },
                Difference {
                    path: r#".l[name="c"]"#.into(),
                    kafka: "(absent)".into(),
                    strom: r#"P { name: "c", v: 0 }"#.into()
                },
            ]
        );
    }

    #[test]
    fn error_messages_are_ignored_and_batches_split() {
        let mut out = Vec::new();
        diff(
            "",
            &t(r#"R { error_message: Some("x") }"#),
            &t(r#"R { error_message: None }"#),
            &mut out,
        );
        assert!(out.is_empty());
        let kafka = t(r#"R { records: Some(b"[batch 1][batch 2]") }"#);
        diff(
            "",
            &kafka,
            &t(r#"R { records: Some(b"[batch 1]") }"#),
            &mut out,
        );
        assert_eq!(
            out,
            vec![Difference {
                path: ".records[batch 2]".into(),
                kafka: "batch 2".into(),
                strom: "(absent)".into()
            }]
        );
    }
}
