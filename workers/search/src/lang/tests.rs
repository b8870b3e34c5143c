use std::ops::Bound;

use super::*;

fn field(f: &str, value: Match) -> Query {
    Query::Field {
        field: f.into(),
        value,
    }
}

fn term(f: &str, v: &str) -> Query {
    field(f, Match::Term(v.into()))
}

#[test]
fn fields_words_and_phrases() {
    assert_eq!(parse("").unwrap(), Query::All);
    assert_eq!(
        parse("kind:error AND service:checkout").unwrap(),
        Query::And(vec![term("kind", "error"), term("service", "checkout")])
    );
    assert_eq!(
        parse("database timeout").unwrap(),
        Query::And(vec![
            Query::Word("database".into()),
            Query::Word("timeout".into())
        ])
    );
    assert_eq!(
        parse(r#""connection reset" endpoint:"/api/pay now""#).unwrap(),
        Query::And(vec![
            Query::Phrase("connection reset".into()),
            field("endpoint", Match::Phrase("/api/pay now".into()))
        ])
    );
    assert_eq!(
        parse("attributes.http.status:500").unwrap(),
        term("attributes.http.status", "500")
    );
    assert_eq!(parse(r"message:a\:b").unwrap(), term("message", "a:b"));
}

#[test]
fn boolean_operators_bind_as_lucene_does() {
    assert_eq!(
        parse("a OR b c").unwrap(),
        Query::Or(vec![
            Query::Word("a".into()),
            Query::And(vec![Query::Word("b".into()), Query::Word("c".into())])
        ])
    );
    assert_eq!(
        parse("NOT kind:log -service:auth (x OR y)").unwrap(),
        Query::And(vec![
            Query::Not(Box::new(term("kind", "log"))),
            Query::Not(Box::new(term("service", "auth"))),
            Query::Or(vec![Query::Word("x".into()), Query::Word("y".into())]),
        ])
    );
    assert_eq!(
        parse("_exists_:trace_id").unwrap(),
        Query::Exists("trace_id".into())
    );
    assert_eq!(
        parse("status_code:-1").unwrap(),
        term("status_code", "-1"),
        "a minus after `:` is a sign"
    );
}

#[test]
fn ranges_comparisons_and_patterns() {
    assert_eq!(
        parse("response_time_ms:>500").unwrap(),
        field(
            "response_time_ms",
            Match::Range {
                lower: Bound::Excluded("500".into()),
                upper: Bound::Unbounded
            }
        )
    );
    assert_eq!(
        parse("amount:<=10.5").unwrap(),
        field(
            "amount",
            Match::Range {
                lower: Bound::Unbounded,
                upper: Bound::Included("10.5".into())
            }
        )
    );
    assert_eq!(
        parse("occurred_at:[2026-12-07T10:00:00Z TO *}").unwrap(),
        field(
            "occurred_at",
            Match::Range {
                lower: Bound::Included("2026-12-07T10:00:00Z".into()),
                upper: Bound::Unbounded
            }
        )
    );
    assert_eq!(
        parse("occurred_at:>=2026-12-07T10:00:00Z kind:log").unwrap(),
        Query::And(vec![
            field(
                "occurred_at",
                Match::Range {
                    lower: Bound::Included("2026-12-07T10:00:00Z".into()),
                    upper: Bound::Unbounded
                }
            ),
            term("kind", "log"),
        ])
    );
    assert_eq!(
        parse("endpoint:/api/c*").unwrap(),
        field("endpoint", Match::Prefix("/api/c".into()))
    );
    assert_eq!(
        parse("host:web-?.eu*").unwrap(),
        field("host", Match::Wildcard("web-?.eu*".into()))
    );
}

#[test]
fn syntax_errors_name_their_position() {
    for (q, position, says) in [
        ("kind:error AND", 14, "a term is missing"),
        ("(a OR b", 0, "never closed"),
        ("a)", 1, "unexpected `)`"),
        ("service:", 8, "needs a value"),
        ("\"open", 0, "quote is never closed"),
        ("amount:[1 2]", 10, "needs `TO`"),
        ("OR x", 0, "needs a term before it"),
        ("time*", 0, "a wildcard needs a field"),
        (":x", 0, "needs a field name"),
    ] {
        let err = parse(q).unwrap_err();
        assert_eq!(err.position, position, "{q}: {err}");
        assert!(err.message.contains(says), "{q}: {err}");
    }
    let deep = "(".repeat(40) + "x" + &")".repeat(40);
    assert!(parse(&deep).unwrap_err().message.contains("too deep"));
    assert!(parse(&"x ".repeat(3000)).is_err(), "bounded length");
}
