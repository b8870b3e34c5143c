use sightline_schemas::{
    decode, encode, Body, Decimal, Encoding, Event, EventErrorKind, Kind, Performance, Transaction,
    TxStatus, Validate,
};

fn transaction() -> Event {
    Event::new(
        "checkout",
        Body::Transaction(Transaction {
            transaction_id: "tx-1".into(),
            user_id: "u-1".into(),
            amount: Decimal::new(12999, 2),
            currency: "EUR".into(),
            payment_method: "card".into(),
            status: TxStatus::Completed,
            order_id: Some("o-1".into()),
            ip: Some("203.0.113.7".parse().unwrap()),
            country: Some("DE".into()),
            billing_country: Some("DE".into()),
            lat: Some(52.5),
            lon: Some(13.4),
            card_fingerprint: Some("fp_9a8b7c".into()),
            failure_reason: None,
        }),
    )
}

fn field_errors(json: &str) -> Vec<String> {
    let err = decode(json.as_bytes(), Encoding::Json).expect_err("must be refused");
    err.field_errors().iter().map(|e| e.field.clone()).collect()
}

fn tx_json(payload_patch: &str) -> String {
    let ev = transaction();
    let mut v: serde_json::Value = serde_json::to_value(&ev).unwrap();
    let patch: serde_json::Value = serde_json::from_str(payload_patch).unwrap();
    for (k, val) in patch.as_object().unwrap() {
        v["payload"][k] = val.clone();
    }
    v.to_string()
}

#[test]
fn round_trips_in_both_encodings() {
    let ev = transaction();
    for enc in [Encoding::MsgPack, Encoding::Json] {
        let bytes = encode(&ev, enc).unwrap();
        let back = decode(&bytes, enc).unwrap();
        assert_eq!(back, ev, "{enc:?}");
    }
    assert_eq!(ev.id.get_version_num(), 7);
}

#[test]
fn msgpack_uses_named_fields() {
    let bytes = encode(&transaction(), Encoding::MsgPack).unwrap();
    let needle = b"transaction_id";
    assert!(bytes.windows(needle.len()).any(|w| w == needle));
}

#[test]
fn content_type_picks_the_codec() {
    assert_eq!(
        Encoding::from_content_type(None).unwrap(),
        Encoding::MsgPack
    );
    assert_eq!(
        Encoding::from_content_type(Some("application/json; charset=utf-8")).unwrap(),
        Encoding::Json
    );
    let err = Encoding::from_content_type(Some("text/xml")).unwrap_err();
    assert_eq!(err.kind(), EventErrorKind::UnsupportedEncoding);
}

#[test]
fn payload_before_kind_still_decodes_and_names_fields() {
    let ev = transaction();
    let v = serde_json::to_value(&ev).unwrap();
    let text = format!(
        r#"{{"payload":{},"id":"{}","kind":"transaction","occurred_at":{},"service":"checkout"}}"#,
        v["payload"], ev.id, v["occurred_at"]
    );
    assert_eq!(decode(text.as_bytes(), Encoding::Json).unwrap(), ev);
    let bad = text.replace(r#""currency":"EUR""#, r#""currency":7"#);
    let err = decode(bad.as_bytes(), Encoding::Json).unwrap_err();
    assert_eq!(err.field_errors()[0].field, "payload.currency", "{err}");
}

#[test]
fn unknown_fields_are_ignored_for_forward_compatibility() {
    let mut v = serde_json::to_value(transaction()).unwrap();
    v["added_in_v2"] = serde_json::json!({"x": 1});
    v["payload"]["risk_hint"] = serde_json::json!("low");
    assert!(decode(v.to_string().as_bytes(), Encoding::Json).is_ok());
}

#[test]
fn decode_errors_name_the_field() {
    assert_eq!(
        field_errors(&tx_json(r#"{"amount":"abc"}"#)),
        ["payload.amount"]
    );
    assert_eq!(
        field_errors(&tx_json(r#"{"status":"lost"}"#)),
        ["payload.status"]
    );
    assert_eq!(
        field_errors(&tx_json(r#"{"ip":"999.1.1.1"}"#)),
        ["payload.ip"]
    );
    assert_eq!(field_errors(r#"{"kind":"transaction"}"#), ["id"]);
    assert_eq!(field_errors("not json"), ["event"]);
}

#[test]
fn validation_names_every_bad_field() {
    let fields = field_errors(&tx_json(
        r#"{"amount":-5,"currency":"EURO","country":"Germany","lat":95.0}"#,
    ));
    assert_eq!(
        fields,
        [
            "payload.amount",
            "payload.currency",
            "payload.country",
            "payload.lat"
        ]
    );
}

#[test]
fn durations_status_codes_and_timestamps_are_checked() {
    let mut ev = Event::new(
        "api",
        Body::Performance(Performance {
            endpoint: "/api/cart".into(),
            method: "GET".into(),
            response_time_ms: -1.0,
            db_query_time_ms: Some(f64::NAN),
            status_code: 700,
        }),
    );
    ev.occurred_at += time::Duration::hours(2);
    let err = ev.validate().unwrap_err();
    let fields: Vec<_> = err
        .field_errors()
        .iter()
        .map(|e| e.field.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "occurred_at",
            "payload.response_time_ms",
            "payload.db_query_time_ms",
            "payload.status_code"
        ]
    );
}

#[test]
fn service_must_be_a_subject_token_and_kind_must_match() {
    let mut ev = transaction();
    ev.service = "check out.*".into();
    ev.kind = Kind::Error;
    let fields: Vec<_> = ev
        .validate()
        .unwrap_err()
        .field_errors()
        .iter()
        .map(|e| e.field.clone())
        .collect();
    assert_eq!(fields, ["service", "kind"]);
}

#[test]
fn card_numbers_are_refused_and_never_echoed() {
    let pan = "4111111111111111";
    let text = tx_json(&format!(r#"{{"card_fingerprint":"{pan}"}}"#));
    let err = decode(text.as_bytes(), Encoding::Json).unwrap_err();
    assert_eq!(err.field_errors()[0].field, "payload.card_fingerprint");
    assert!(!err.to_string().contains(pan));
    // A number in the wrong field is not echoed by the decoder either.
    let err = decode(
        tx_json(&format!(r#"{{"amount":"{pan}x"}}"#)).as_bytes(),
        Encoding::Json,
    )
    .unwrap_err();
    assert!(!err.to_string().contains("411111"), "{err}");
    let err = decode(
        tx_json(&format!(r#"{{"status":{pan}}}"#)).as_bytes(),
        Encoding::Json,
    )
    .unwrap_err();
    assert!(!err.to_string().contains("411111"), "{err}");
}

#[test]
fn luhn_detection() {
    assert!(sightline_schemas::looks_like_card_number(
        "4111 1111 1111 1111"
    ));
    assert!(sightline_schemas::looks_like_card_number(
        "5500-0000-0000-0004"
    ));
    assert!(!sightline_schemas::looks_like_card_number(
        "4111111111111112"
    ));
    assert!(!sightline_schemas::looks_like_card_number(
        "fp_4111111111111111"
    ));
    assert!(!sightline_schemas::looks_like_card_number("12345"));
    // 12 to 19 digits: a Luhn-valid 12 passes, 20 do not.
    assert!(sightline_schemas::looks_like_card_number("0000 0000 0000"));
    assert!(!sightline_schemas::looks_like_card_number(
        "0000 0000 0000 0000 0000"
    ));
}

#[test]
fn subjects_follow_kind_and_service() {
    assert_eq!(
        sightline_schemas::subject::for_event(&transaction()),
        "logs.transaction.checkout"
    );
}
