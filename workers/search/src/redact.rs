//! What a hit shows of its event: everything the event holds, except that card
//! fingerprints and IP addresses appear only as the keyed references the index
//! holds (see [`PiiHasher`]). An attribute whose value is an IP address is an IP
//! address wherever it came from (`client.address`, `net.peer.ip`, a shipper's
//! own name), so it is kept as a reference too.

use serde_json::{Map, Value};
use sightline_schemas::{AttrValue, Attributes};

use crate::document::PiiHasher;

/// `value` (an event or a detection as JSON) with `ip` and `card_fingerprint`
/// fields of its payload replaced by `ip_ref` and `card_ref`, and IP-valued
/// attributes by their references.
pub fn redact(mut value: Value, pii: &PiiHasher) -> Value {
    if let Some(obj) = value.as_object_mut() {
        redact_fields(obj, pii);
        if let Some(payload) = obj.get_mut("payload").and_then(Value::as_object_mut) {
            redact_fields(payload, pii);
            if let Some(attrs) = payload.get_mut("attributes").and_then(Value::as_object_mut) {
                for v in attrs.values_mut() {
                    if let Some(reference) = v.as_str().and_then(|s| ip_reference(s, pii)) {
                        *v = Value::String(reference);
                    }
                }
            }
        }
    }
    value
}

fn redact_fields(obj: &mut Map<String, Value>, pii: &PiiHasher) {
    if let Some(ip) = obj.remove("ip") {
        if let Some(ip) = ip.as_str() {
            obj.insert("ip_ref".into(), pii.reference("ip", ip).into());
        }
    }
    if let Some(card) = obj.remove("card_fingerprint") {
        if let Some(card) = card.as_str() {
            obj.insert("card_ref".into(), pii.reference("card", card).into());
        }
    }
}

/// The reference standing for `text` when it is an IP address, in the same
/// spelling `ip_ref` uses (`::ffff:1.2.3.4` and `1.2.3.4` are one address).
pub fn ip_reference(text: &str, pii: &PiiHasher) -> Option<String> {
    let ip: std::net::IpAddr = text.trim().parse().ok()?;
    let ip = match ip {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
        v4 => v4,
    };
    Some(pii.reference("ip", &ip.to_string()))
}

/// A log record's attributes as the index keeps them: IP addresses as references.
pub fn attributes(attrs: &Attributes, pii: &PiiHasher) -> Vec<(String, AttrValue)> {
    attrs
        .iter()
        .map(|(name, value)| {
            let value = match value {
                AttrValue::Text(t) => match ip_reference(t, pii) {
                    Some(reference) => AttrValue::Text(reference),
                    None => value.clone(),
                },
                other => other.clone(),
            };
            (name.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pii() -> PiiHasher {
        PiiHasher::new([7; 32])
    }

    #[test]
    fn cards_and_ips_become_references_and_the_rest_stays() {
        let event = json!({
            "id": "x",
            "payload": {
                "ip": "10.0.0.1",
                "card_fingerprint": "fp-1",
                "amount": "12.50",
                "attributes": { "client.address": "::ffff:10.0.0.1", "path": "/pay", "n": 3 }
            }
        });
        let out = redact(event, &pii());
        let p = &out["payload"];
        let ip = pii().reference("ip", "10.0.0.1");
        assert_eq!(p["ip_ref"], json!(ip));
        assert_eq!(p["card_ref"], json!(pii().reference("card", "fp-1")));
        assert!(p.get("ip").is_none() && p.get("card_fingerprint").is_none());
        // The mapped IPv6 spelling is the same address, so the same reference.
        assert_eq!(p["attributes"]["client.address"], json!(ip));
        assert_eq!(p["attributes"]["path"], "/pay");
        assert_eq!(p["attributes"]["n"], 3);
        assert_eq!(p["amount"], "12.50");
        assert!(!out.to_string().contains("10.0.0.1"));
    }

    #[test]
    fn only_whole_addresses_are_references() {
        assert!(ip_reference("10.0.0.1:8080", &pii()).is_none());
        assert!(ip_reference("version 1.2.3.4", &pii()).is_none());
        assert!(ip_reference("2001:db8::1", &pii()).is_some());
    }
}
