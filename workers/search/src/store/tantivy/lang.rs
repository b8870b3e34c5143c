//! The query language's tree as Tantivy queries, meaning what the Elasticsearch
//! translation means (`store/elasticsearch/lang.rs`): free words and phrases
//! match the message through its analyser, keywords match exactly, numbers and
//! times compare as numbers and times, attributes match as text, number or flag.
//! The shared search suite holds both to the same answers.

use std::ops::Bound;

use tantivy::columnar::NumericalValue;
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, ExistsQuery, FuzzyTermQuery, Occur, PhraseQuery, Query,
    RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DateTime, Term};

use super::Inner;
use crate::lang::fields::{attribute_name, field_type, FieldType};
use crate::lang::{
    self, attribute_number, decimal, describe, integer, numeric_range, parse_time, Match,
};

type Boxed = Box<dyn Query>;

/// `q` as a query, or why a clause cannot be one. `fuzzy` lets free words match
/// with typos.
pub(super) fn to_query(inner: &Inner, q: &lang::Query, fuzzy: bool) -> Result<Boxed, String> {
    let all = |parts: &[lang::Query], occur: Occur| -> Result<Boxed, String> {
        let clauses = parts
            .iter()
            .map(|p| Ok((occur, to_query(inner, p, fuzzy)?)))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Box::new(BooleanQuery::new(clauses)))
    };
    match q {
        lang::Query::All => Ok(Box::new(AllQuery)),
        lang::Query::And(parts) => all(parts, Occur::Must),
        lang::Query::Or(parts) => all(parts, Occur::Should),
        // A clause that only excludes matches nothing in Tantivy: exclude from all.
        lang::Query::Not(q) => Ok(Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery) as Boxed),
            (Occur::MustNot, to_query(inner, q, fuzzy)?),
        ]))),
        lang::Query::Word(w) => words(inner, inner.fields.message, w, fuzzy),
        lang::Query::Phrase(p) => phrase(inner, inner.fields.message, p),
        lang::Query::Exists(f) => exists(inner, f),
        lang::Query::Field { field, value } => clause(inner, field, value),
    }
}

/// The analysed words of `text` in `field`, all of them.
fn words(inner: &Inner, field: Field, text: &str, fuzzy: bool) -> Result<Boxed, String> {
    let clauses = tokens(inner, field, text)?
        .into_iter()
        .map(|term| {
            let word_len = term.value().as_str().map_or(0, |w| w.chars().count());
            let q: Boxed = match edit_distance(word_len) {
                d if fuzzy && d > 0 => Box::new(FuzzyTermQuery::new(term, d, true)),
                _ => Box::new(TermQuery::new(
                    term,
                    IndexRecordOption::WithFreqsAndPositions,
                )),
            };
            (Occur::Must, q)
        })
        .collect::<Vec<_>>();
    Ok(if clauses.is_empty() {
        Box::new(EmptyQuery)
    } else {
        Box::new(BooleanQuery::new(clauses))
    })
}

/// Fuzziness as Elasticsearch's AUTO: exact below 3 characters, 1 edit below 6, else 2.
fn edit_distance(chars: usize) -> u8 {
    match chars {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    }
}

fn phrase(inner: &Inner, field: Field, text: &str) -> Result<Boxed, String> {
    let mut terms = tokens(inner, field, text)?;
    Ok(match terms.len() {
        0 => Box::new(EmptyQuery),
        1 => Box::new(TermQuery::new(
            terms.remove(0),
            IndexRecordOption::WithFreqs,
        )),
        _ => Box::new(PhraseQuery::new(terms)),
    })
}

fn tokens(inner: &Inner, field: Field, text: &str) -> Result<Vec<Term>, String> {
    let mut analyser = inner
        .index
        .tokenizer_for_field(field)
        .map_err(|e| e.to_string())?;
    let mut stream = analyser.token_stream(text);
    let mut terms = Vec::new();
    while stream.advance() {
        terms.push(Term::from_field_text(field, &stream.token().text));
    }
    Ok(terms)
}

fn clause(inner: &Inner, name: &str, value: &Match) -> Result<Boxed, String> {
    let kind = field_type(name)?;
    if let (FieldType::Attribute, Some(attribute)) = (kind, attribute_name(name)) {
        return attribute_clause(inner, attribute, value);
    }
    let field = inner.fields.field(name);
    let text_term = |v: &str| Term::from_field_text(field, v);
    Ok(match (kind, value) {
        (FieldType::Text, Match::Term(t)) => words(inner, field, t, false)?,
        (FieldType::Text, Match::Phrase(p)) => phrase(inner, field, p)?,
        (FieldType::Text, Match::Prefix(p)) => regex(field, "", &escape(&p.to_lowercase()), ".*")?,
        (FieldType::Text, Match::Wildcard(w)) => {
            regex(field, "", &wildcard(&w.to_lowercase()), "")?
        }
        (FieldType::Identifier, Match::Term(t) | Match::Phrase(t)) => identifier(field, t),
        (FieldType::Keyword, Match::Term(t) | Match::Phrase(t)) => exact(text_term(t)),
        (FieldType::Keyword, Match::Prefix(p)) => regex(field, "", &escape(p), ".*")?,
        (FieldType::Keyword, Match::Wildcard(w)) => regex(field, "", &wildcard(w), "")?,
        (FieldType::Keyword, Match::Range { lower, upper }) => {
            range(lower, upper, |v| Ok(text_term(v)))?
        }
        (FieldType::Integer, Match::Term(t)) => match u64::try_from(integer(name, t)?) {
            Ok(n) => exact(Term::from_field_u64(field, n)),
            Err(_) => Box::new(EmptyQuery),
        },
        (FieldType::Integer, Match::Range { lower, upper }) => {
            integer_range(field, name, lower, upper)?
        }
        (FieldType::Decimal, Match::Term(t)) => {
            let x = decimal(name, t)?;
            ranged(
                Bound::Included(Term::from_field_f64(field, x)),
                Bound::Included(Term::from_field_f64(field, x)),
            )
        }
        (FieldType::Decimal, Match::Range { lower, upper }) => range(lower, upper, |v| {
            Ok(Term::from_field_f64(field, decimal(name, v)?))
        })?,
        (FieldType::Time, Match::Term(t)) => {
            let at = time_term(field, name, t)?;
            ranged(Bound::Included(at.clone()), Bound::Included(at))
        }
        (FieldType::Time, Match::Range { lower, upper }) => {
            range(lower, upper, |v| time_term(field, name, v))?
        }
        (_, other) => return Err(format!("`{name}` cannot be matched by {}", describe(other))),
    })
}

/// An attribute: its text, or its number or flag when the value is one.
fn attribute_clause(inner: &Inner, attribute: &str, value: &Match) -> Result<Boxed, String> {
    let path = |typed: &dyn Fn(&mut Term)| {
        let mut term = Term::from_field_json_path(inner.fields.attributes, attribute, true);
        typed(&mut term);
        term
    };
    let text = |v: &str| path(&|t: &mut Term| t.append_type_and_str(v));
    // Tantivy keeps a whole number as an integer whatever its JSON type was, so
    // the term is built the same way.
    let number = |x: f64| {
        path(&|t: &mut Term| match NumericalValue::F64(x).normalize() {
            NumericalValue::I64(i) => t.append_type_and_fast_value(i),
            NumericalValue::U64(u) => t.append_type_and_fast_value(u),
            NumericalValue::F64(f) => t.append_type_and_fast_value(f),
        })
    };
    Ok(match value {
        Match::Term(v) | Match::Phrase(v) => {
            let mut any: Vec<(Occur, Boxed)> = vec![(Occur::Should, exact(text(v)))];
            if let Some(x) = attribute_number(v) {
                any.push((Occur::Should, exact(number(x))));
            }
            if let Ok(flag) = v.parse::<bool>() {
                any.push((
                    Occur::Should,
                    exact(path(&|t: &mut Term| t.append_type_and_fast_value(flag))),
                ));
            }
            Box::new(BooleanQuery::new(any))
        }
        Match::Prefix(p) => attribute_regex(inner, &text(""), &escape(p), ".*")?,
        Match::Wildcard(w) => attribute_regex(inner, &text(""), &wildcard(w), "")?,
        Match::Range { lower, upper } => {
            if numeric_range(lower, upper) {
                range(lower, upper, |v| {
                    Ok(number(attribute_number(v).unwrap_or_default()))
                })?
            } else {
                range(lower, upper, |v| Ok(text(v)))?
            }
        }
    })
}

/// A pattern over an attribute's text values: the term dictionary of the JSON
/// field holds the path and type before each value, so the pattern starts with
/// them.
fn attribute_regex(
    inner: &Inner,
    empty: &Term,
    pattern: &str,
    tail: &str,
) -> Result<Boxed, String> {
    let head = std::str::from_utf8(empty.serialized_value_bytes())
        .map_err(|e| format!("attribute path: {e}"))?;
    regex(inner.fields.attributes, &escape(head), pattern, tail)
}

fn regex(field: Field, head: &str, pattern: &str, tail: &str) -> Result<Boxed, String> {
    let q = RegexQuery::from_pattern(&format!("{head}{pattern}{tail}"), field)
        .map_err(|e| format!("pattern `{pattern}`: {e}"))?;
    Ok(Box::new(q))
}

/// `text` matched literally by a regular expression.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            c if c.is_alphanumeric() || c == '_' => c.to_string(),
            c => format!("\\x{{{:x}}}", c as u32),
        })
        .collect()
}

/// A wildcard (`*` any run, `?` one character) as a regular expression.
fn wildcard(pattern: &str) -> String {
    pattern
        .chars()
        .map(|c| match c {
            '*' => ".*".to_owned(),
            '?' => ".".to_owned(),
            c => escape(&c.to_string()),
        })
        .collect()
}

/// Documents whose identifier is `value`, by its hash column.
pub(super) fn identifier(field: Field, value: &str) -> Boxed {
    let hash = Term::from_field_u64(field, super::schema::identifier_hash(value));
    Box::new(RangeQuery::new(
        Bound::Included(hash.clone()),
        Bound::Included(hash),
    ))
}

fn exact(term: Term) -> Boxed {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

/// Documents that have the field.
fn exists(inner: &Inner, name: &str) -> Result<Boxed, String> {
    let kind = field_type(name)?;
    if kind == FieldType::Attribute {
        return Ok(Box::new(ExistsQuery::new(name.to_owned(), false)));
    }
    if name == "message" {
        return Ok(Box::new(AllQuery));
    }
    let field = inner.fields.field(name);
    Ok(if inner.fields.schema.get_field_entry(field).is_fast() {
        Box::new(ExistsQuery::new(name.to_owned(), false))
    } else {
        // Indexed only: any term of the field.
        regex(field, "", ".*", "")?
    })
}

/// A range from the language's bounds, each made a term by `term`.
fn range(
    lower: &Bound<String>,
    upper: &Bound<String>,
    term: impl Fn(&str) -> Result<Term, String>,
) -> Result<Boxed, String> {
    let bound = |b: &Bound<String>| -> Result<Bound<Term>, String> {
        Ok(match b {
            Bound::Included(v) => Bound::Included(term(v)?),
            Bound::Excluded(v) => Bound::Excluded(term(v)?),
            Bound::Unbounded => Bound::Unbounded,
        })
    };
    Ok(ranged(bound(lower)?, bound(upper)?))
}

/// A range over an unsigned field: a negative lower bound is no bound, a range
/// that ends below zero holds nothing.
fn integer_range(
    field: Field,
    name: &str,
    lower: &Bound<String>,
    upper: &Bound<String>,
) -> Result<Boxed, String> {
    let term = |n: i64| Term::from_field_u64(field, n as u64);
    let lower = match lower {
        Bound::Included(v) | Bound::Excluded(v) if integer(name, v)? < 0 => Bound::Unbounded,
        Bound::Included(v) => Bound::Included(term(integer(name, v)?)),
        Bound::Excluded(v) => Bound::Excluded(term(integer(name, v)?)),
        Bound::Unbounded => Bound::Unbounded,
    };
    let upper = match upper {
        Bound::Included(v) if integer(name, v)? < 0 => return Ok(Box::new(EmptyQuery)),
        Bound::Excluded(v) if integer(name, v)? <= 0 => return Ok(Box::new(EmptyQuery)),
        Bound::Included(v) => Bound::Included(term(integer(name, v)?)),
        Bound::Excluded(v) => Bound::Excluded(term(integer(name, v)?)),
        Bound::Unbounded => Bound::Unbounded,
    };
    Ok(ranged(lower, upper))
}

fn ranged(lower: Bound<Term>, upper: Bound<Term>) -> Boxed {
    if matches!((&lower, &upper), (Bound::Unbounded, Bound::Unbounded)) {
        return Box::new(AllQuery);
    }
    Box::new(RangeQuery::new(lower, upper))
}

fn time_term(field: Field, name: &str, text: &str) -> Result<Term, String> {
    let at = parse_time(name, text)?;
    let nanos = i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX);
    Ok(Term::from_field_date(
        field,
        DateTime::from_timestamp_nanos(nanos),
    ))
}
