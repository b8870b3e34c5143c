//! The query language of `q`, one grammar for every backend (Lucene's, as log
//! tools write it): words and `"phrases"` match the message; `field:value`,
//! `field:"a phrase"`, `field:pre*`, `field:>500`, `field:[a TO b]` match a
//! field; `_exists_:field`; `AND`, `OR`, `NOT` (or `-`) and parentheses; words
//! side by side must all match. Parsing is pure and backend-blind: backends
//! translate the tree, and a name they do not know is refused there.

pub mod fields;
pub mod matcher;

use std::ops::Bound;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Every document (an empty `q`).
    All,
    And(Vec<Query>),
    Or(Vec<Query>),
    Not(Box<Query>),
    /// A word of the message (free text).
    Word(String),
    /// Words of the message, side by side in this order.
    Phrase(String),
    /// A field's value.
    Field {
        field: String,
        value: Match,
    },
    /// Documents that have the field.
    Exists(String),
}

/// How a field's value is matched.
#[derive(Debug, Clone, PartialEq)]
pub enum Match {
    Term(String),
    Phrase(String),
    /// `pre*`: values that start with it.
    Prefix(String),
    /// `a?c*d`: `?` one character, `*` any run.
    Wildcard(String),
    Range {
        lower: Bound<String>,
        upper: Bound<String>,
    },
}

/// A query that does not parse: where (a byte offset into `q`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at {position}: {message}")]
pub struct ParseError {
    pub position: usize,
    pub message: String,
}

/// The longest `q` accepted, and the deepest nesting.
pub const MAX_QUERY: usize = 4096;
const MAX_DEPTH: usize = 32;

/// The query of a search request's text, `None` when it has none; a syntax
/// error is an invalid search naming the position.
pub fn of_request(
    request: &crate::query::SearchRequest,
) -> Result<Option<Query>, crate::SearchError> {
    match request.text.as_deref().filter(|t| !t.trim().is_empty()) {
        None => Ok(None),
        Some(text) => parse(text)
            .map(Some)
            .map_err(|e| crate::SearchError::invalid(format!("q: {e}"))),
    }
}

/// Parses `q`.
pub fn parse(q: &str) -> Result<Query, ParseError> {
    if q.len() > MAX_QUERY {
        return Err(ParseError {
            position: MAX_QUERY,
            message: format!("the query is longer than {MAX_QUERY} bytes"),
        });
    }
    let tokens = lex(q)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        end: q.len(),
        depth: 0,
    };
    if parser.tokens.is_empty() {
        return Ok(Query::All);
    }
    let query = parser.or()?;
    match parser.peek() {
        None => Ok(query),
        Some(t) => Err(parser.error_at(t.start, "unexpected `)`")),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Word(String),
    /// A word with an unescaped `*` or `?`.
    Pattern(String),
    Quoted(String),
    Colon,
    Open,
    Close,
    /// `[` or `{`
    RangeOpen(bool),
    /// `]` or `}`
    RangeClose(bool),
    /// `>`, `>=`, `<`, `<=`
    Compare(&'static str),
    Minus,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    start: usize,
}

fn lex(q: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens: Vec<Token> = Vec::new();
    let mut chars = q.char_indices().peekable();
    // Inside a range, and in the value after a comparison, `:` is part of the
    // value (a time: `occurred_at:[2026-12-07T10:00:00Z TO *]`).
    let mut in_range = false;
    while let Some(&(start, c)) = chars.peek() {
        let after_compare = matches!(
            tokens.last(),
            Some(Token {
                kind: Kind::Compare(_),
                ..
            })
        );
        let single = match c {
            c if c.is_whitespace() => {
                chars.next();
                continue;
            }
            ':' if !in_range && !after_compare => Some(Kind::Colon),
            '(' => Some(Kind::Open),
            ')' => Some(Kind::Close),
            '[' | '{' => {
                in_range = true;
                Some(Kind::RangeOpen(c == '['))
            }
            ']' | '}' => {
                in_range = false;
                Some(Kind::RangeClose(c == ']'))
            }
            '-' if tokens
                .last()
                .is_none_or(|t: &Token| !matches!(t.kind, Kind::Colon | Kind::Compare(_)))
                && q[start + 1..].starts_with(|n: char| !n.is_whitespace()) =>
            {
                Some(Kind::Minus)
            }
            _ => None,
        };
        if let Some(kind) = single {
            chars.next();
            tokens.push(Token { kind, start });
            continue;
        }
        if c == '>' || c == '<' {
            chars.next();
            let eq = chars.next_if(|&(_, n)| n == '=').is_some();
            let op = match (c, eq) {
                ('>', false) => ">",
                ('>', true) => ">=",
                ('<', false) => "<",
                _ => "<=",
            };
            tokens.push(Token {
                kind: Kind::Compare(op),
                start,
            });
            continue;
        }
        if c == '"' {
            chars.next();
            let mut text = String::new();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => text.extend(chars.next().map(|(_, e)| e)),
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => text.push(c),
                }
            }
            if !closed {
                return Err(ParseError {
                    position: start,
                    message: "this quote is never closed".into(),
                });
            }
            tokens.push(Token {
                kind: Kind::Quoted(text),
                start,
            });
            continue;
        }
        let mut word = String::new();
        let mut pattern = false;
        while let Some(&(_, c)) = chars.peek() {
            let ends = c.is_whitespace()
                || "()[]{}\"".contains(c)
                || (c == ':' && !in_range && !after_compare)
                || ((c == '>' || c == '<') && word.is_empty());
            if ends {
                break;
            }
            chars.next();
            match c {
                '\\' => word.extend(chars.next().map(|(_, e)| e)),
                '*' | '?' => {
                    pattern = true;
                    word.push(c);
                }
                c => word.push(c),
            }
        }
        let kind = if pattern {
            Kind::Pattern(word)
        } else {
            Kind::Word(word)
        };
        tokens.push(Token { kind, start });
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn error_at(&self, position: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            position,
            message: message.into(),
        }
    }

    fn here(&self) -> usize {
        self.peek().map_or(self.end, |t| t.start)
    }

    fn is_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: Kind::Word(w), .. }) if w == word)
    }

    fn or(&mut self) -> Result<Query, ParseError> {
        let mut parts = vec![self.and()?];
        while self.is_keyword("OR") {
            self.next();
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Query::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Query, ParseError> {
        let mut parts = vec![self.not()?];
        loop {
            match self.peek() {
                None => break,
                Some(Token {
                    kind: Kind::Close, ..
                }) => break,
                _ if self.is_keyword("OR") => break,
                _ if self.is_keyword("AND") => {
                    self.next();
                    parts.push(self.not()?);
                }
                _ => parts.push(self.not()?),
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Query::And(parts)
        })
    }

    fn not(&mut self) -> Result<Query, ParseError> {
        let negated = matches!(
            self.peek(),
            Some(Token {
                kind: Kind::Minus,
                ..
            })
        ) || self.is_keyword("NOT");
        if negated {
            self.next();
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(self.error_at(self.here(), "the query nests too deep"));
            }
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Query::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Query, ParseError> {
        let here = self.here();
        let Some(token) = self.next() else {
            return Err(self.error_at(here, "a term is missing at the end"));
        };
        match token.kind {
            Kind::Open => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(self.error_at(token.start, "the query nests too deep"));
                }
                let inner = self.or()?;
                self.depth -= 1;
                match self.next() {
                    Some(Token {
                        kind: Kind::Close, ..
                    }) => Ok(inner),
                    _ => Err(self.error_at(token.start, "this parenthesis is never closed")),
                }
            }
            Kind::Word(w) if matches!(w.as_str(), "AND" | "OR") => {
                Err(self.error_at(token.start, format!("`{w}` needs a term before it")))
            }
            Kind::Word(w)
                if matches!(
                    self.peek(),
                    Some(Token {
                        kind: Kind::Colon,
                        ..
                    })
                ) =>
            {
                self.next();
                self.field_value(w, token.start)
            }
            Kind::Word(w) => Ok(Query::Word(w)),
            Kind::Pattern(p) => Err(self.error_at(
                token.start,
                format!("`{p}`: a wildcard needs a field (message:{p})"),
            )),
            Kind::Quoted(text) => Ok(Query::Phrase(text)),
            Kind::Close => Err(self.error_at(token.start, "unexpected `)`")),
            Kind::Colon => Err(self.error_at(token.start, "`:` needs a field name before it")),
            _ => Err(self.error_at(token.start, "a range or comparison needs a field before it")),
        }
    }

    fn field_value(&mut self, field: String, start: usize) -> Result<Query, ParseError> {
        let here = self.here();
        let Some(token) = self.next() else {
            return Err(self.error_at(here, format!("`{field}:` needs a value")));
        };
        if field == "_exists_" {
            return match token.kind {
                Kind::Word(name) => Ok(Query::Exists(name)),
                _ => Err(self.error_at(token.start, "`_exists_:` needs a field name")),
            };
        }
        let value = match token.kind {
            Kind::Word(w) => Match::Term(w),
            Kind::Quoted(q) => Match::Phrase(q),
            Kind::Pattern(p) => match p.strip_suffix('*') {
                Some(prefix) if !prefix.contains(['*', '?']) && !prefix.is_empty() => {
                    Match::Prefix(prefix.to_owned())
                }
                _ => Match::Wildcard(p),
            },
            Kind::Compare(op) => {
                let bound = self.bound_value(token.start)?;
                let (lower, upper) = match op {
                    ">" => (Bound::Excluded(bound), Bound::Unbounded),
                    ">=" => (Bound::Included(bound), Bound::Unbounded),
                    "<" => (Bound::Unbounded, Bound::Excluded(bound)),
                    _ => (Bound::Unbounded, Bound::Included(bound)),
                };
                Match::Range { lower, upper }
            }
            Kind::RangeOpen(inclusive_low) => {
                let low = self.bound_value(token.start)?;
                if !self.is_keyword("TO") {
                    return Err(self.error_at(self.here(), "a range needs `TO` between its bounds"));
                }
                self.next();
                let high = self.bound_value(token.start)?;
                let inclusive_high = match self.next() {
                    Some(Token {
                        kind: Kind::RangeClose(inclusive),
                        ..
                    }) => inclusive,
                    _ => {
                        return Err(
                            self.error_at(token.start, "this range is never closed (`]` or `}`)")
                        )
                    }
                };
                let bound = |v: String, inclusive: bool| match (v.as_str(), inclusive) {
                    ("*", _) => Bound::Unbounded,
                    (_, true) => Bound::Included(v),
                    (_, false) => Bound::Excluded(v),
                };
                Match::Range {
                    lower: bound(low, inclusive_low),
                    upper: bound(high, inclusive_high),
                }
            }
            _ => return Err(self.error_at(token.start, format!("`{field}:` needs a value"))),
        };
        let _ = start;
        Ok(Query::Field { field, value })
    }

    /// A range bound or compared value: a word, a quoted text or `*`.
    fn bound_value(&mut self, start: usize) -> Result<String, ParseError> {
        match self.next() {
            Some(Token {
                kind: Kind::Word(w) | Kind::Quoted(w),
                ..
            }) => Ok(w),
            Some(Token {
                kind: Kind::Pattern(p),
                ..
            }) if p == "*" => Ok(p),
            _ => Err(self.error_at(start, "a range or comparison needs a value")),
        }
    }
}

/// What kind of match `m` is, for errors.
pub fn describe(m: &Match) -> &'static str {
    match m {
        Match::Term(_) => "a value",
        Match::Phrase(_) => "a phrase",
        Match::Prefix(_) => "a prefix",
        Match::Wildcard(_) => "a wildcard",
        Match::Range { .. } => "a range",
    }
}

/// A whole-number value of `field`.
pub fn integer(field: &str, text: &str) -> Result<i64, String> {
    text.parse()
        .map_err(|_| format!("`{field}` holds whole numbers; `{text}` is not one"))
}

/// A number value of `field`.
pub fn decimal(field: &str, text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("`{field}` holds numbers; `{text}` is not one"))
}

/// An attribute's value read as a number, when it is one.
pub fn attribute_number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Whether a range over an attribute compares numbers: when every bound given
/// is a number (otherwise it compares text). Every backend decides so.
pub fn numeric_range(lower: &Bound<String>, upper: &Bound<String>) -> bool {
    [lower, upper].into_iter().all(|b| match b {
        Bound::Included(v) | Bound::Excluded(v) => attribute_number(v).is_some(),
        Bound::Unbounded => true,
    })
}

/// A time value of `field`, in RFC 3339.
pub fn parse_time(field: &str, text: &str) -> Result<time::OffsetDateTime, String> {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        format!("`{field}` is a time; `{text}` is not RFC 3339 (2026-12-07T10:00:00Z)")
    })
}

#[cfg(test)]
mod tests;
