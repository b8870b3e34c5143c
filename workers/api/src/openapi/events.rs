//! The event schemas (the same documents as `schemas/json/`, generated from the
//! Rust types) in the OpenAPI document, and the request bodies that take events
//! pointing at them: a client generated from the document sends events, not "an
//! object". What a schema cannot say (a UUIDv7, a timestamp not in the future, a
//! card number refused) is checked on arrival and answered with 422.

use serde_json::{json, Map, Value};
use sightline_schemas::json_schema;
use sightline_schemas::Kind;

/// Component names of event schemas start with this.
const PREFIX: &str = "event.";

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{PREFIX}{name}") })
}

/// Adds the event schemas to `doc` (a serialized OpenAPI 3.1 document) and
/// describes the bodies of the routes that take events.
pub fn add(doc: &mut Value) {
    let mut schemas = Map::new();
    for kind in Kind::ALL {
        let mut schema = json_schema::for_kind(kind).to_value();
        if let Some(Value::Object(defs)) = schema.as_object_mut().and_then(|s| s.remove("$defs")) {
            for (name, def) in defs {
                schemas.insert(format!("{PREFIX}{name}"), def);
            }
        }
        if let Some(s) = schema.as_object_mut() {
            s.remove("$schema");
        }
        schemas.insert(format!("{PREFIX}{}", kind.as_str()), schema);
    }
    let any: Vec<Value> = Kind::ALL.iter().map(|k| reference(k.as_str())).collect();
    schemas.insert(
        format!("{PREFIX}Event"),
        json!({ "description": "An event of any kind; `kind` says which.", "oneOf": any }),
    );
    let mut schemas = Value::Object(schemas);
    rewrite_refs(&mut schemas);
    if let (Some(target), Value::Object(schemas)) = (
        doc.pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut),
        schemas,
    ) {
        target.extend(schemas);
    }
    set_body(
        doc,
        "/api/fraud/detect",
        json!({ "application/json": { "schema": reference(Kind::Transaction.as_str()) } }),
        "a transaction event, as it would be published",
        true,
    );
    set_body(
        doc,
        "/api/logs/ingest",
        json!({
            "application/json": { "schema": { "oneOf": [
                reference("Event"),
                { "type": "array", "items": reference("Event") }
            ] } },
            "application/x-ndjson": { "schema": { "type": "array", "items": reference("Event"),
                "description": "the events, one JSON object per line" } }
        }),
        "an event, a JSON array of events, or NDJSON (one event per line); none is an empty batch",
        // An empty batch is answered like any other (shippers flush empty ones).
        false,
    );
    set_body(
        doc,
        "/api/logs/upload",
        json!({ "multipart/form-data": { "schema": {
            "type": "object",
            "required": ["file"],
            "additionalProperties": false,
            "properties": { "file": { "type": "string", "format": "binary",
                "description": "NDJSON or a JSON array of events" } }
        } } }),
        "a file of events in a `file` part",
        true,
    );
}

/// `#/$defs/X` (local to one schema document) becomes the component it moved to.
fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(s) if key == "$ref" => {
                        if let Some(name) = s.strip_prefix("#/$defs/") {
                            *s = format!("#/components/schemas/{PREFIX}{name}");
                        }
                    }
                    _ => rewrite_refs(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

fn set_body(doc: &mut Value, path: &str, content: Value, description: &str, required: bool) {
    let pointer = format!("/paths/{}/post", path.replace('~', "~0").replace('/', "~1"));
    if let Some(op) = doc.pointer_mut(&pointer).and_then(Value::as_object_mut) {
        op.insert(
            "requestBody".into(),
            json!({ "description": description, "content": content, "required": required }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        Value::String(s) if k == "$ref" => out.push(s.clone()),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_and_event_bodies_name_their_schema() {
        use utoipa::OpenApi;
        let mut doc = serde_json::to_value(crate::openapi::ApiDoc::openapi()).unwrap();
        add(&mut doc);
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.iter().any(|r| r.ends_with("event.Transaction")));
        for r in found {
            let pointer = r.strip_prefix('#').expect("a local reference");
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
        let detect = &doc["paths"]["/api/fraud/detect"]["post"]["requestBody"]["content"];
        assert_eq!(
            detect["application/json"]["schema"]["$ref"],
            "#/components/schemas/event.transaction"
        );
        let transaction = &doc["components"]["schemas"]["event.transaction"];
        assert_eq!(transaction["properties"]["kind"]["const"], "transaction");
        assert!(transaction["required"]
            .as_array()
            .unwrap()
            .contains(&json!("payload")));
        let upload = &doc["paths"]["/api/logs/upload"]["post"]["requestBody"];
        assert_eq!(
            upload["content"]["multipart/form-data"]["schema"]["required"],
            json!(["file"])
        );
    }
}
