//! The Tantivy schema, mirroring the Elasticsearch mapping: `message` and `stack`
//! are analysed text (the message with positions, for phrases), every keyword is
//! indexed (the query language may name any field), attributes are one JSON
//! field, and the whole event is stored for hits to show.
//!
//! Tantivy refuses to open an index written with another schema; changing this
//! one means a replay rebuilds the index (docs/operations.md says how).

use std::collections::BTreeMap;

use sightline_schemas::AttrValue;
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, JsonObjectOptions, NumericOptions,
    OwnedValue, Schema, TextFieldIndexing, TextOptions, FAST, STORED, STRING,
};
use tantivy::{DateTime, TantivyDocument};

use crate::document::{SearchDoc, DECIMAL_FIELDS, INTEGER_FIELDS, KEYWORD_FIELDS};
use crate::lang::fields::IDENTIFIERS;

/// Keywords looked up exactly but never grouped: high cardinality, so no fast
/// column (its dictionary would cost more to build than the posting list).
const LOOKUP_ONLY: &[&str] = &["session_id", "card_ref", "ip_ref"];

/// The column an identifier (`trace_id`, `span_id`) is found by: a stable 64-bit
/// hash of it (FNV-1a). One value per event would add a term per event to the
/// dictionary, whose building was the indexer's largest cost; a column of
/// numbers costs next to nothing, and a lookup scans it (the stored event holds
/// the identifier itself).
pub fn identifier_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[derive(Clone)]
pub struct Fields {
    pub schema: Schema,
    pub id: Field,
    pub tiebreak: Field,
    pub occurred_at: Field,
    pub message: Field,
    pub stack: Field,
    /// A log record's attributes, by name (dots make paths: `http.status`).
    pub attributes: Field,
    /// The whole event as JSON text, stored only.
    pub event: Field,
    /// The id again, indexed, on revisable documents only (fraud detections), so a
    /// new revision can delete the old; events skip it (a term per event would
    /// cost more than it serves).
    pub revised_id: Field,
    /// The fields of [`KEYWORD_FIELDS`], [`INTEGER_FIELDS`] and [`DECIMAL_FIELDS`]
    /// in their order, so building a document looks no name up.
    keywords: Vec<Field>,
    /// Which of `keywords` are identifiers, kept as [`identifier_hash`].
    identifiers: Vec<bool>,
    integers: Vec<Field>,
    decimals: Vec<Field>,
}

impl Fields {
    pub fn new() -> Self {
        let mut b = Schema::builder();
        // Indexed for upserts by id; time then `tiebreak` order hits (see SearchDoc).
        let id = b.add_text_field("id", STORED);
        // Fast-only: time filters and cursors run on the columns. Indexing these
        // near-unique values would build a term dictionary entry per document.
        let tiebreak = b.add_u64_field("tiebreak", NumericOptions::default().set_fast());
        let occurred_at = b.add_date_field(
            "occurred_at",
            DateOptions::default()
                .set_fast()
                .set_stored()
                .set_precision(DateTimePrecision::Nanoseconds),
        );
        let text = |record| {
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("default")
                    .set_index_option(record),
            )
        };
        // Positions make `"timed out"` a phrase rather than two words.
        let positions = IndexRecordOption::WithFreqsAndPositions;
        let message = b.add_text_field("message", text(positions) | STORED);
        let stack = b.add_text_field("stack", text(positions));
        // No longer written (autocomplete reads the message terms); kept in the
        // schema so indexes built with it still open.
        b.add_text_field("words", FAST);
        let revised_id = b.add_text_field("revised_id", STRING);
        for name in KEYWORD_FIELDS {
            if IDENTIFIERS.contains(name) {
                b.add_u64_field(name, NumericOptions::default().set_fast());
                continue;
            }
            let options = if LOOKUP_ONLY.contains(name) {
                STRING
            } else if ["kind", "service", "pattern", "issue"].contains(name) {
                STRING | FAST | STORED
            } else {
                STRING | FAST
            };
            b.add_text_field(name, options);
        }
        // Values exact as keywords (the raw tokenizer), numbers typed; fast, so
        // `_exists_`, ranges and facets read columns.
        let attributes = b.add_json_field(
            "attributes",
            JsonObjectOptions::default()
                .set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer("raw")
                        .set_index_option(IndexRecordOption::Basic),
                )
                .set_fast("raw")
                .set_expand_dots_enabled(),
        );
        let event = b.add_text_field("event", STORED);
        for name in INTEGER_FIELDS {
            b.add_u64_field(name, NumericOptions::default().set_indexed().set_fast());
        }
        // Measures are aggregated, never looked up: columns only.
        for name in DECIMAL_FIELDS {
            b.add_f64_field(name, NumericOptions::default().set_fast());
        }
        let schema = b.build();
        let fields = |names: &[&str]| {
            names
                .iter()
                .map(|n| schema.get_field(n).expect("declared above"))
                .collect()
        };
        Fields {
            keywords: fields(KEYWORD_FIELDS),
            identifiers: KEYWORD_FIELDS
                .iter()
                .map(|n| IDENTIFIERS.contains(n))
                .collect(),
            integers: fields(INTEGER_FIELDS),
            decimals: fields(DECIMAL_FIELDS),
            schema,
            id,
            tiebreak,
            occurred_at,
            message,
            stack,
            attributes,
            event,
            revised_id,
        }
    }

    pub fn field(&self, name: &str) -> Field {
        self.schema
            .get_field(name)
            .expect("field declared in Fields::new")
    }

    pub fn document(&self, doc: &SearchDoc) -> TantivyDocument {
        let mut d = TantivyDocument::new();
        d.add_text(self.id, &doc.id);
        if doc.revision.is_some() {
            d.add_text(self.revised_id, &doc.id);
        }
        d.add_u64(self.tiebreak, doc.tiebreak);
        d.add_date(
            self.occurred_at,
            DateTime::from_timestamp_nanos(doc.occurred_at_ns),
        );
        d.add_text(self.message, &doc.message);
        if let Some(stack) = &doc.stack {
            d.add_text(self.stack, stack);
        }
        for ((&field, &identifier), value) in self
            .keywords
            .iter()
            .zip(&self.identifiers)
            .zip(doc.keyword_values())
        {
            match value {
                Some(v) if identifier => d.add_u64(field, identifier_hash(v)),
                Some(v) => d.add_text(field, v),
                None => {}
            }
        }
        for (&field, value) in self.integers.iter().zip(doc.integer_values()) {
            if let Some(v) = value {
                d.add_u64(field, v);
            }
        }
        for (&field, value) in self.decimals.iter().zip(doc.decimal_values()) {
            if let Some(v) = value {
                d.add_f64(field, v);
            }
        }
        if !doc.attributes.is_empty() {
            d.add_object(self.attributes, attribute_object(&doc.attributes));
        }
        if !doc.event.is_null() {
            d.add_text(self.event, doc.event.to_string());
        }
        d
    }
}

/// Attributes as a JSON object. Every number is a float, so one attribute is one
/// numeric column whatever its records sent (`3` and `2.5`) and a query compares
/// numbers one way.
fn attribute_object(attrs: &[(String, AttrValue)]) -> BTreeMap<String, OwnedValue> {
    attrs
        .iter()
        .map(|(name, value)| {
            let v = match value {
                AttrValue::Bool(b) => OwnedValue::Bool(*b),
                AttrValue::Int(i) => OwnedValue::F64(*i as f64),
                AttrValue::Float(x) => OwnedValue::F64(*x),
                AttrValue::Text(t) => OwnedValue::Str(t.clone()),
            };
            (name.clone(), v)
        })
        .collect()
}
