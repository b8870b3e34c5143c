//! What a field name in a query means: which of the document's fields, and of
//! which type, so that each backend translates a clause the same way and a name
//! no document has is refused with the names that exist.

use crate::document::{DECIMAL_FIELDS, INTEGER_FIELDS, KEYWORD_FIELDS};

/// A field a query may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Analysed text: `message`, `stack`.
    Text,
    /// An exact value.
    Keyword,
    /// An exact value unique to one trace or span (`trace_id`, `span_id`):
    /// matched whole only, never by a prefix, pattern or range.
    Identifier,
    Integer,
    Decimal,
    /// `occurred_at`: a time, in RFC 3339.
    Time,
    /// `attributes.<name>`: a log record's attribute, text, number or flag.
    Attribute,
}

/// Keywords that name one trace or span: near-unique values, looked up whole.
pub const IDENTIFIERS: &[&str] = &["trace_id", "span_id"];

/// The attribute a field names (`attributes.http.status` is `http.status`).
pub fn attribute_name(field: &str) -> Option<&str> {
    field.strip_prefix("attributes.")
}

/// The type of `name`, or why no query can name it.
pub fn field_type(name: &str) -> Result<FieldType, String> {
    Ok(match name {
        "message" | "stack" => FieldType::Text,
        "occurred_at" => FieldType::Time,
        n if IDENTIFIERS.contains(&n) => FieldType::Identifier,
        n if KEYWORD_FIELDS.contains(&n) => FieldType::Keyword,
        n if INTEGER_FIELDS.contains(&n) => FieldType::Integer,
        n if DECIMAL_FIELDS.contains(&n) => FieldType::Decimal,
        n if n.starts_with("attributes.") => {
            let name = &n["attributes.".len()..];
            if !sightline_schemas::log::is_normalized_attribute_name(name) {
                return Err(format!(
                    "`{n}`: attribute names are lower case a-z, 0-9, `_`, `-` and `.` (did you mean `attributes.{}`?)",
                    sightline_schemas::log::normalize_attribute_name(name).unwrap_or_default()
                ));
            }
            FieldType::Attribute
        }
        other => {
            return Err(format!(
                "unknown field `{other}` (known: message, stack, occurred_at, {}, {}, {})",
                KEYWORD_FIELDS.join(", "),
                INTEGER_FIELDS.join(", "),
                DECIMAL_FIELDS.join(", ")
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_their_types_and_unknown_ones_are_listed() {
        assert_eq!(field_type("service"), Ok(FieldType::Keyword));
        assert_eq!(field_type("severity"), Ok(FieldType::Keyword));
        assert_eq!(field_type("trace_id"), Ok(FieldType::Identifier));
        assert_eq!(field_type("status_code"), Ok(FieldType::Integer));
        assert_eq!(field_type("amount"), Ok(FieldType::Decimal));
        assert_eq!(field_type("occurred_at"), Ok(FieldType::Time));
        assert_eq!(field_type("message"), Ok(FieldType::Text));
        assert_eq!(
            field_type("attributes.http.status"),
            Ok(FieldType::Attribute)
        );
        let err = field_type("attributes.HTTP Status").unwrap_err();
        assert!(err.contains("attributes.http_status"), "{err}");
        let err = field_type("colour").unwrap_err();
        assert!(
            err.contains("unknown field `colour`") && err.contains("endpoint"),
            "{err}"
        );
    }
}
