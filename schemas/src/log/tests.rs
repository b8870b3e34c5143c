use super::*;

#[test]
fn severities_map_from_every_scale() {
    assert_eq!(Severity::from_otel(0), None);
    assert_eq!(Severity::from_otel(4), Some(Severity::Trace));
    assert_eq!(Severity::from_otel(9), Some(Severity::Info));
    assert_eq!(Severity::from_otel(16), Some(Severity::Warn));
    assert_eq!(Severity::from_otel(17), Some(Severity::Error));
    assert_eq!(Severity::from_otel(24), Some(Severity::Fatal));
    assert_eq!(Severity::from_otel(25), None);
    assert_eq!(Severity::from_syslog(0), Some((Severity::Fatal, 24)));
    assert_eq!(Severity::from_syslog(3), Some((Severity::Error, 17)));
    assert_eq!(Severity::from_syslog(5), Some((Severity::Info, 10)));
    assert_eq!(Severity::from_syslog(7), Some((Severity::Debug, 5)));
    assert_eq!(Severity::from_syslog(8), None);
    for (text, level) in [
        ("WARNING", Severity::Warn),
        ("Information", Severity::Info),
        ("err", Severity::Error),
        ("CRITICAL", Severity::Fatal),
        (" debug ", Severity::Debug),
    ] {
        assert_eq!(Severity::from_text(text), Some(level), "{text}");
    }
    assert_eq!(Severity::from_text("loud"), None);
    for level in Severity::ALL {
        assert_eq!(Severity::from_otel(level.number().into()), Some(level));
        assert_eq!(level.as_str().parse::<Severity>(), Ok(level));
    }
}

#[test]
fn attribute_names_have_one_spelling() {
    assert_eq!(
        normalize_attribute_name("Http.Status").as_deref(),
        Some("http.status")
    );
    assert_eq!(
        normalize_attribute_name("user id").as_deref(),
        Some("user_id")
    );
    assert_eq!(normalize_attribute_name(".a..b.").as_deref(), Some("a.b"));
    assert_eq!(normalize_attribute_name("café").as_deref(), Some("caf_"));
    assert_eq!(normalize_attribute_name(" .. "), None);
    let long = "x".repeat(500);
    assert_eq!(
        normalize_attribute_name(&long).unwrap().len(),
        MAX_ATTRIBUTE_NAME
    );
    assert!(is_normalized_attribute_name("http.request.method"));
    assert!(!is_normalized_attribute_name("HTTP"));
}

#[test]
fn service_names_become_subject_tokens() {
    assert_eq!(
        normalize_service("Checkout Service").as_deref(),
        Some("checkout-service")
    );
    assert_eq!(
        normalize_service("unknown_service:python").as_deref(),
        Some("unknown_service-python")
    );
    assert_eq!(normalize_service("a.b.c").as_deref(), Some("a-b-c"));
    assert_eq!(normalize_service(" :: "), None);
    assert!(normalize_service(&"s".repeat(100)).unwrap().len() <= 64);
}

#[test]
fn text_loses_escapes_and_controls_and_is_cut_on_a_char_boundary() {
    assert_eq!(
        clean_text("\u{1b}[31mERROR\u{1b}[0m disk\r\nfull\u{0}!  ", 100),
        "ERROR disk\nfull !"
    );
    assert_eq!(clean_text("\u{1b}]0;title\u{7}ok", 100), "ok");
    let cut = clean_text(&"é".repeat(100), 21);
    assert!(cut.ends_with(CUT_MARK) && cut.len() <= 21, "{cut}");
    assert_eq!(clean_text("plain", 5), "plain");
}

#[test]
fn attributes_are_bounded_and_the_excess_counted() {
    let mut r = LogRecord::new(Severity::Info, "x");
    r.add_attribute("Code", AttrValue::Int(500));
    r.add_attribute("code", AttrValue::Int(404));
    assert_eq!(
        r.attributes["code"],
        AttrValue::Int(500),
        "the first value stays"
    );
    r.add_attribute("ratio", AttrValue::Float(f64::NAN));
    assert_eq!(r.attributes["ratio"], AttrValue::Text("NaN".into()));
    r.add_attribute("long", AttrValue::Text("v".repeat(10_000)));
    let AttrValue::Text(long) = &r.attributes["long"] else {
        panic!("text stays text")
    };
    assert!(long.len() <= MAX_ATTRIBUTE_VALUE);
    for i in 0..200 {
        r.add_attribute(&format!("a{i}"), AttrValue::Bool(true));
    }
    assert_eq!(r.attributes.len(), MAX_ATTRIBUTES);
    assert_eq!(r.dropped_attributes as usize, 3 + 200 - MAX_ATTRIBUTES);
    r.add_attribute("...", AttrValue::Bool(true));
    assert_eq!(r.dropped_attributes as usize, 4 + 200 - MAX_ATTRIBUTES);
}

#[test]
fn attribute_values_keep_their_type_through_both_codecs() {
    let mut r = LogRecord::new(Severity::Warn, "slow");
    r.add_attribute("n", AttrValue::Int(-3));
    r.add_attribute("x", AttrValue::Float(1.5));
    r.add_attribute("b", AttrValue::Bool(false));
    r.add_attribute("s", AttrValue::Text("7".into()));
    let json: LogRecord = serde_json::from_slice(&serde_json::to_vec(&r).unwrap()).unwrap();
    assert_eq!(json, r);
    let mp: LogRecord = rmp_serde::from_slice(&rmp_serde::to_vec_named(&r).unwrap()).unwrap();
    assert_eq!(mp, r);
}

fn log_event(record: LogRecord) -> crate::Event {
    crate::Event::at(
        time::OffsetDateTime::now_utc(),
        "checkout",
        crate::Body::Log(record),
    )
}

#[test]
fn a_bad_record_is_refused_field_by_field() {
    use crate::Validate;
    let mut r = LogRecord::new(Severity::Error, "boom");
    r.severity_number = Some(9);
    r.span_id = Some("xyz".into());
    r.attributes.insert("Bad Name".into(), AttrValue::Int(1));
    r.attributes
        .insert("ok".into(), AttrValue::Float(f64::INFINITY));
    r.message = "a\u{0}b".into();
    let err = log_event(r).validate().unwrap_err();
    let fields: Vec<&str> = err
        .field_errors()
        .iter()
        .map(|e| e.field.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "payload.severity_number",
            "payload.message",
            "payload.span_id",
            "payload.attributes",
            "payload.attributes.ok"
        ]
    );
    let mut good = LogRecord::new(Severity::Error, "boom");
    good.severity_number = Some(18);
    good.span_id = Some("b7ad6b7169203331".into());
    good.add_attribute("HTTP Status", AttrValue::Int(500));
    log_event(good).validate().unwrap();
}

#[test]
fn card_numbers_in_a_record_are_masked_but_names_and_numbers_are_not() {
    let mut r = LogRecord::new(Severity::Info, "charged 4111 1111 1111 1111 ok");
    r.add_attribute("card", AttrValue::Text("5500-0000-0000-0004".into()));
    r.add_attribute("order", AttrValue::Int(4_012_888_888_881_881));
    let mut e = log_event(r);
    assert_eq!(e.mask_card_numbers(), 2);
    let crate::Body::Log(r) = &e.payload else {
        unreachable!()
    };
    assert_eq!(r.message, "charged **** **** **** **** ok");
    assert_eq!(
        r.attributes["card"],
        AttrValue::Text("****-****-****-****".into())
    );
    assert_eq!(r.attributes["order"], AttrValue::Int(4_012_888_888_881_881));
}
