//! The committed JSON Schema files must match the Rust types.
//! Regenerate with `just schemas` (UPDATE_JSON_SCHEMAS=1).

use std::path::Path;

#[test]
fn committed_json_schemas_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("json");
    let update = std::env::var_os("UPDATE_JSON_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for (name, text) in sightline_schemas::json_schema::files() {
        let path = dir.join(&name);
        if update {
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale JSON Schema files {stale:?}: run `just schemas` and commit schemas/json/"
    );
}

#[test]
fn schemas_pin_the_kind_and_require_payload_fields() {
    let schema = sightline_schemas::json_schema::for_kind(sightline_schemas::Kind::Transaction);
    let v = serde_json::to_value(&schema).unwrap();
    assert_eq!(v["properties"]["kind"]["const"], "transaction");
    let defs = v["$defs"]["Transaction"]["required"].as_array().unwrap();
    for f in [
        "transaction_id",
        "user_id",
        "amount",
        "currency",
        "payment_method",
        "status",
    ] {
        assert!(defs.iter().any(|r| r == f), "{f} must be required");
    }
}
