//! Each event's pattern, found by the indexer's miner and kept with the
//! document (`pattern:<id>`). The miner and its registry are
//! [`sightline_patterns`]'; the index's registry is that of `Target::Search`.

pub use sightline_patterns::{PatternRecord, PatternStage, Registry, RegistryError};

use crate::document::SearchDoc;
use crate::query::DocKind;

/// Sets each document's pattern from its message's headline (fraud detections
/// have none), saving what the miner learned before the documents are written.
pub async fn assign(stage: &mut PatternStage, docs: &mut [SearchDoc]) -> Result<(), RegistryError> {
    let fraud = DocKind::FraudDetection.as_str();
    let ids = stage
        .assign(docs.iter().map(|d| {
            let line = sightline_schemas::headline(&d.message).filter(|_| d.kind != fraud)?;
            Some((line, d.occurred_at_ns))
        }))
        .await?;
    for (doc, id) in docs.iter_mut().zip(ids) {
        doc.keywords.pattern = id;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_schemas::{Body, Event, LogRecord, Severity};

    fn doc(message: &str) -> SearchDoc {
        let event = Event::new("api", Body::Log(LogRecord::new(Severity::Error, message)));
        SearchDoc::from_event(&event, &crate::document::PiiHasher::new([1; 32]))
    }

    #[tokio::test]
    async fn a_message_is_grouped_by_its_first_line_and_detections_get_none() {
        let mut docs = vec![
            doc("charge 17 failed\nTraceback (most recent call last):\n  File \"a.py\", line 3, in f"),
            doc("charge 18 failed\n  at Pay.charge(Pay.java:42)\n  at Main.main(Main.java:7)"),
            doc("\n\ncache flushed"),
        ];
        let mut fraud = doc("x");
        fraud.kind = DocKind::FraudDetection.as_str().into();
        docs.push(fraud);
        let mut stage = PatternStage::in_memory();
        assign(&mut stage, &mut docs).await.unwrap();
        assert_eq!(docs[0].keywords.pattern, docs[1].keywords.pattern);
        assert!(docs[2].keywords.pattern.is_some());
        assert_ne!(docs[2].keywords.pattern, docs[0].keywords.pattern);
        assert_eq!(docs[3].keywords.pattern, None);
    }
}
