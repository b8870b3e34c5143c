//! The query language evaluated on one document in memory, for what never
//! reaches an index (live tail). It means what the backends mean: words through
//! an analyser like theirs (split on anything not a letter or digit, lower
//! case), keywords exactly, numbers and times as numbers and times, attributes
//! as text, number or flag. Fuzziness is the one thing it does not do.

use std::ops::Bound;

use sightline_schemas::AttrValue;

use super::fields::{attribute_name, field_type, FieldType};
use super::{
    attribute_number, decimal, describe, integer, numeric_range, parse_time, Match, Query,
};
use crate::document::{SearchDoc, DECIMAL_FIELDS, INTEGER_FIELDS, KEYWORD_FIELDS};

/// A query checked and ready to test documents.
#[derive(Debug, Clone)]
pub struct Matcher(Node);

#[derive(Debug, Clone)]
enum Node {
    All,
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Words(Text, Vec<String>),
    Phrase(Text, Vec<String>),
    /// A word of the text matching a wildcard pattern (a prefix is `p*`).
    Pattern(Text, String),
    Keyword(usize, Test<String>),
    Integer(usize, Bounds<i64>),
    Decimal(usize, Bounds<f64>),
    Time(Bounds<i64>),
    Attribute(String, AttrTest),
    Exists(Presence),
}

#[derive(Debug, Clone, Copy)]
enum Text {
    Message,
    Stack,
}

#[derive(Debug, Clone)]
enum Test<T> {
    Equals(T),
    Pattern(String),
    Range(Bounds<T>),
}

type Bounds<T> = (Bound<T>, Bound<T>);

#[derive(Debug, Clone)]
enum AttrTest {
    Equals(String),
    Pattern(String),
    Numbers(Bounds<f64>),
    Texts(Bounds<String>),
}

#[derive(Debug, Clone)]
enum Presence {
    Always,
    Stack,
    Keyword(usize),
    Integer(usize),
    Decimal(usize),
    Attribute(String),
}

impl Matcher {
    /// Checks every field and value of `q` as the backends would.
    pub fn new(q: &Query) -> Result<Self, String> {
        compile(q).map(Matcher)
    }

    pub fn matches(&self, doc: &SearchDoc) -> bool {
        eval(&self.0, doc)
    }
}

fn compile(q: &Query) -> Result<Node, String> {
    let all = |parts: &[Query]| parts.iter().map(compile).collect::<Result<Vec<_>, _>>();
    Ok(match q {
        Query::All => Node::All,
        Query::And(parts) => Node::And(all(parts)?),
        Query::Or(parts) => Node::Or(all(parts)?),
        Query::Not(inner) => Node::Not(Box::new(compile(inner)?)),
        Query::Word(w) => Node::Words(Text::Message, words(w)),
        Query::Phrase(p) => Node::Phrase(Text::Message, words(p)),
        Query::Exists(f) => Node::Exists(presence(f)?),
        Query::Field { field, value } => clause(field, value)?,
    })
}

fn presence(field: &str) -> Result<Presence, String> {
    Ok(match field_type(field)? {
        FieldType::Attribute => Presence::Attribute(attribute_name(field).unwrap_or("").into()),
        FieldType::Text if field == "stack" => Presence::Stack,
        FieldType::Text | FieldType::Time => Presence::Always,
        FieldType::Keyword | FieldType::Identifier => {
            Presence::Keyword(position(KEYWORD_FIELDS, field))
        }
        FieldType::Integer => Presence::Integer(position(INTEGER_FIELDS, field)),
        FieldType::Decimal => Presence::Decimal(position(DECIMAL_FIELDS, field)),
    })
}

fn position(names: &[&str], name: &str) -> usize {
    names.iter().position(|n| *n == name).unwrap_or(0)
}

fn clause(field: &str, value: &Match) -> Result<Node, String> {
    let kind = field_type(field)?;
    let refuse = || format!("`{field}` cannot be matched by {}", describe(value));
    Ok(match kind {
        FieldType::Attribute => Node::Attribute(
            attribute_name(field).unwrap_or("").into(),
            attribute_test(value),
        ),
        FieldType::Text => {
            let text = if field == "stack" {
                Text::Stack
            } else {
                Text::Message
            };
            match value {
                Match::Term(t) => Node::Words(text, words(t)),
                Match::Phrase(p) => Node::Phrase(text, words(p)),
                Match::Prefix(p) => Node::Pattern(text, format!("{}*", p.to_lowercase())),
                Match::Wildcard(w) => Node::Pattern(text, w.to_lowercase()),
                Match::Range { .. } => return Err(refuse()),
            }
        }
        FieldType::Identifier => match value {
            Match::Term(t) | Match::Phrase(t) => {
                Node::Keyword(position(KEYWORD_FIELDS, field), Test::Equals(t.clone()))
            }
            _ => return Err(refuse()),
        },
        FieldType::Keyword => {
            let test = match value {
                Match::Term(t) | Match::Phrase(t) => Test::Equals(t.clone()),
                Match::Prefix(p) => Test::Pattern(format!("{}*", escape_pattern(p))),
                Match::Wildcard(w) => Test::Pattern(w.clone()),
                Match::Range { lower, upper } => Test::Range((lower.clone(), upper.clone())),
            };
            Node::Keyword(position(KEYWORD_FIELDS, field), test)
        }
        FieldType::Integer => Node::Integer(
            position(INTEGER_FIELDS, field),
            bounds(value, |v| integer(field, v)).ok_or_else(refuse)??,
        ),
        FieldType::Decimal => Node::Decimal(
            position(DECIMAL_FIELDS, field),
            bounds(value, |v| decimal(field, v)).ok_or_else(refuse)??,
        ),
        FieldType::Time => Node::Time(
            bounds(value, |v| {
                parse_time(field, v)
                    .map(|t| i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX))
            })
            .ok_or_else(refuse)??,
        ),
    })
}

/// A value or a range as bounds, each parsed; `None` for a match that is
/// neither (a prefix, a wildcard, a phrase).
fn bounds<T: Clone>(
    value: &Match,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Option<Result<Bounds<T>, String>> {
    Some(match value {
        Match::Term(t) => parse(t).map(|x| (Bound::Included(x.clone()), Bound::Included(x))),
        Match::Range { lower, upper } => {
            map(lower, &parse).and_then(|l| Ok((l, map(upper, &parse)?)))
        }
        _ => return None,
    })
}

fn attribute_test(value: &Match) -> AttrTest {
    match value {
        Match::Term(t) | Match::Phrase(t) => AttrTest::Equals(t.clone()),
        Match::Prefix(p) => AttrTest::Pattern(format!("{}*", escape_pattern(p))),
        Match::Wildcard(w) => AttrTest::Pattern(w.clone()),
        Match::Range { lower, upper } => {
            if numeric_range(lower, upper) {
                let parse = |v: &str| attribute_number(v).ok_or_else(String::new);
                AttrTest::Numbers((
                    map(lower, parse).unwrap_or(Bound::Unbounded),
                    map(upper, parse).unwrap_or(Bound::Unbounded),
                ))
            } else {
                AttrTest::Texts((lower.clone(), upper.clone()))
            }
        }
    }
}

fn map<T>(b: &Bound<String>, f: impl Fn(&str) -> Result<T, String>) -> Result<Bound<T>, String> {
    Ok(match b {
        Bound::Included(v) => Bound::Included(f(v)?),
        Bound::Excluded(v) => Bound::Excluded(f(v)?),
        Bound::Unbounded => Bound::Unbounded,
    })
}

/// The words of `text` as the backends' analysers make them.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.len() <= 40)
        .map(str::to_lowercase)
        .collect()
}

/// A literal as a wildcard pattern (a prefix may hold `*` or `?`).
fn escape_pattern(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '*' | '?' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// Whether `text` matches `pattern`: `*` any run, `?` one character, `\`
/// escapes the next.
pub fn wildcard_matches(pattern: &str, text: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Any,
        One,
        Char(char),
    }
    let mut parts = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        parts.push(match c {
            '*' => P::Any,
            '?' => P::One,
            '\\' => P::Char(chars.next().unwrap_or('\\')),
            c => P::Char(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // Greedy with one backtrack point: linear enough for log values.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match parts.get(p) {
            Some(P::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(P::One) => {
                p += 1;
                t += 1;
            }
            Some(P::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    parts[p..].iter().all(|x| *x == P::Any)
}

fn within<T: PartialOrd>(v: &T, (lower, upper): &Bounds<T>) -> bool {
    let above = match lower {
        Bound::Included(l) => v >= l,
        Bound::Excluded(l) => v > l,
        Bound::Unbounded => true,
    };
    let below = match upper {
        Bound::Included(u) => v <= u,
        Bound::Excluded(u) => v < u,
        Bound::Unbounded => true,
    };
    above && below
}

fn text_of(doc: &SearchDoc, text: Text) -> &str {
    match text {
        Text::Message => &doc.message,
        Text::Stack => doc.stack.as_deref().unwrap_or(""),
    }
}

fn eval(node: &Node, doc: &SearchDoc) -> bool {
    match node {
        Node::All => true,
        Node::And(parts) => parts.iter().all(|p| eval(p, doc)),
        Node::Or(parts) => parts.iter().any(|p| eval(p, doc)),
        Node::Not(inner) => !eval(inner, doc),
        Node::Words(text, wanted) => {
            let have = words(text_of(doc, *text));
            !wanted.is_empty() && wanted.iter().all(|w| have.contains(w))
        }
        Node::Phrase(text, wanted) => {
            let have = words(text_of(doc, *text));
            !wanted.is_empty() && have.windows(wanted.len()).any(|w| w == wanted.as_slice())
        }
        Node::Pattern(text, pattern) => words(text_of(doc, *text))
            .iter()
            .any(|w| wildcard_matches(pattern, w)),
        Node::Keyword(i, test) => doc.keyword_values()[*i].is_some_and(|v| match test {
            Test::Equals(want) => v == want,
            Test::Pattern(p) => wildcard_matches(p, v),
            Test::Range(bounds) => within(v, bounds),
        }),
        Node::Integer(i, bounds) => doc.integer_values()[*i]
            .and_then(|v| i64::try_from(v).ok())
            .is_some_and(|v| within(&v, bounds)),
        Node::Decimal(i, bounds) => doc.decimal_values()[*i].is_some_and(|v| within(&v, bounds)),
        Node::Time(bounds) => within(&doc.occurred_at_ns, bounds),
        Node::Attribute(name, test) => attribute(doc, name).is_some_and(|v| attr_test(v, test)),
        Node::Exists(p) => match p {
            Presence::Always => true,
            Presence::Stack => doc.stack.is_some(),
            Presence::Keyword(i) => doc.keyword_values()[*i].is_some(),
            Presence::Integer(i) => doc.integer_values()[*i].is_some(),
            Presence::Decimal(i) => doc.decimal_values()[*i].is_some(),
            Presence::Attribute(name) => attribute(doc, name).is_some(),
        },
    }
}

fn attribute<'a>(doc: &'a SearchDoc, name: &str) -> Option<&'a AttrValue> {
    doc.attributes
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn number(v: &AttrValue) -> Option<f64> {
    match v {
        AttrValue::Int(i) => Some(*i as f64),
        AttrValue::Float(x) => Some(*x),
        _ => None,
    }
}

fn attr_test(v: &AttrValue, test: &AttrTest) -> bool {
    match (test, v) {
        (AttrTest::Equals(want), AttrValue::Text(t)) => t == want,
        (AttrTest::Equals(want), AttrValue::Bool(b)) => want.parse::<bool>().ok() == Some(*b),
        (AttrTest::Equals(want), _) => want.parse::<f64>().ok() == number(v),
        (AttrTest::Pattern(p), AttrValue::Text(t)) => wildcard_matches(p, t),
        (AttrTest::Numbers(bounds), _) => number(v).is_some_and(|x| within(&x, bounds)),
        (AttrTest::Texts(bounds), AttrValue::Text(t)) => within(t, bounds),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::PiiHasher;
    use sightline_schemas::{Body, ErrorEvent, Event, LogRecord, Severity};

    fn docs() -> Vec<SearchDoc> {
        let pii = PiiHasher::new([1; 32]);
        let mut log = LogRecord::new(Severity::Error, "connection to db-1 timed out after 30 ms");
        log.logger = Some("app.db".into());
        log.attributes
            .insert("http.status".into(), AttrValue::Int(503));
        log.attributes
            .insert("user".into(), AttrValue::Text("alice".into()));
        log.attributes.insert("retry".into(), AttrValue::Bool(true));
        let error = Body::Error(ErrorEvent {
            error_code: 500,
            error_type: "NullPointer".into(),
            error_message: "cart is empty".into(),
            endpoint: "/api/cart".into(),
            stack: Some("at Cart.total(Cart.java:42)".into()),
            user_id: Some("u1".into()),
        });
        let at = sightline_schemas::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        [Body::Log(log), error]
            .into_iter()
            .map(|b| SearchDoc::from_event(&Event::at(at, "shop", b), &pii))
            .collect()
    }

    fn hits(q: &str) -> Vec<usize> {
        let m = Matcher::new(&super::super::parse(q).unwrap()).unwrap();
        docs()
            .iter()
            .enumerate()
            .filter(|(_, d)| m.matches(d))
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn the_language_means_what_the_backends_mean() {
        for (q, expected) in [
            ("timed out", &[0][..]),
            ("\"timed out\"", &[0]),
            ("\"out timed\"", &[]),
            ("kind:log", &[0]),
            ("kind:log OR kind:error", &[0, 1]),
            ("NOT kind:log", &[1]),
            ("severity:error AND logger:app.*", &[0]),
            ("error_code:[500 TO 599]", &[1]),
            ("error_code:>500", &[]),
            ("endpoint:/api/?art", &[1]),
            ("stack:cart", &[1]),
            ("_exists_:stack", &[1]),
            ("_exists_:attributes.user", &[0]),
            ("attributes.http.status:503", &[0]),
            ("attributes.http.status:>=500", &[0]),
            ("attributes.user:al*", &[0]),
            ("attributes.retry:true", &[0]),
            ("message:tim*", &[0]),
            ("occurred_at:>2024-01-01T00:00:00Z", &[0, 1]),
            ("occurred_at:<2024-01-01T00:00:00Z", &[]),
            ("service:shop -cart", &[0]),
        ] {
            assert_eq!(hits(q), expected, "{q}");
        }
    }

    #[test]
    fn bad_fields_and_values_are_refused_up_front() {
        for q in [
            "colour:red",
            "error_code:abc",
            "amount:12*",
            "occurred_at:>yesterday",
        ] {
            assert!(
                Matcher::new(&super::super::parse(q).unwrap()).is_err(),
                "{q}"
            );
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_matches("a*c", "abbbc"));
        assert!(wildcard_matches("a?c", "abc"));
        assert!(!wildcard_matches("a?c", "abbc"));
        assert!(wildcard_matches("*", ""));
        assert!(wildcard_matches("a\\*", "a*"));
        assert!(!wildcard_matches("a\\*", "ab"));
        assert!(wildcard_matches("*b*b", "abab"));
    }
}
