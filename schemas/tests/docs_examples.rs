//! The JSON examples in docs/events.md must be valid events, one per kind.

use sightline_schemas::{decode, Encoding, Kind};

#[test]
fn every_example_in_the_events_doc_decodes_and_validates() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/events.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let mut kinds = Vec::new();
    for block in doc.split("```json\n").skip(1) {
        let json = block.split("```").next().unwrap().trim();
        let event =
            decode(json.as_bytes(), Encoding::Json).unwrap_or_else(|e| panic!("{e}\n{json}"));
        kinds.push(event.kind());
    }
    assert_eq!(kinds, Kind::ALL.to_vec());
}
