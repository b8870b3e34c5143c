//! Analysts' verdicts: made from a detection, checked, and published to FRAUD as
//! events of their own (the API and the CLI both go through here).

use bytes::Bytes;
use sightline_runtime::publisher::{Prepared, Publisher};
use sightline_schemas::mask::masked;
use sightline_schemas::{Detection, Encoding, OffsetDateTime, Verdict, VerdictKind, MAX_NOTE};

use crate::error::FraudError;

/// The longest analyst name kept.
pub const MAX_ANALYST: usize = 200;

/// `confirmed` or `false_positive` (a dash for the underscore is accepted).
pub fn kind(text: &str) -> Result<VerdictKind, FraudError> {
    match text.trim() {
        "confirmed" => Ok(VerdictKind::Confirmed),
        "false_positive" | "false-positive" => Ok(VerdictKind::FalsePositive),
        other => Err(FraudError::Invalid(format!(
            "verdict must be confirmed or false_positive, not {other:?}"
        ))),
    }
}

/// The verdict of `analyst` on `detection`, decided `at`. Card numbers in the
/// analyst's words are masked: nothing Sightline writes holds one.
pub fn decide(
    detection: &Detection,
    verdict: VerdictKind,
    analyst: &str,
    note: Option<&str>,
    at: OffsetDateTime,
) -> Result<Verdict, FraudError> {
    let analyst = analyst.trim();
    if analyst.is_empty() || analyst.chars().count() > MAX_ANALYST {
        return Err(FraudError::Invalid(format!(
            "analyst must name who decides (1-{MAX_ANALYST} characters)"
        )));
    }
    if note.is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(FraudError::Invalid(format!(
            "note is over {MAX_NOTE} characters"
        )));
    }
    Ok(Verdict {
        transaction_id: detection.transaction_id.clone(),
        detection_id: detection.id,
        service: detection.service.clone(),
        verdict,
        analyst: Some(masked(analyst).0),
        note: note.map(|n| masked(n).0),
        decided_at: at,
    })
}

/// Publishes `verdict` to FRAUD and waits for the stream to store it; returns its
/// sequence there.
pub async fn publish(
    publisher: &Publisher,
    verdict: &Verdict,
) -> Result<u64, sightline_runtime::Error> {
    let payload = verdict.encode(Encoding::MsgPack)?;
    let prepared = Prepared {
        subject: verdict.subject(),
        message_id: verdict.message_id(),
        encoding: Encoding::MsgPack,
        payload: Bytes::from(payload),
    };
    let mut pipeline = publisher.pipeline();
    pipeline.send_prepared(prepared).await?;
    Ok(pipeline.finish().await?.last_sequence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_names_its_analyst_and_never_holds_a_card_number() {
        use crate::score::tests::{payment, tx_of};
        let scorer = crate::Scorer::new(crate::Rules::default());
        let (event, at) = (payment(9, "u9", 10_00, 0), OffsetDateTime::now_utc());
        let tx = tx_of(&event);
        let d = scorer.assess(&event, &tx);
        let v = decide(
            &d,
            kind("false-positive").unwrap(),
            " ana ",
            Some("card 4111 1111 1111 1111 was theirs"),
            at,
        )
        .unwrap();
        assert_eq!(
            (v.verdict, v.analyst.as_deref()),
            (VerdictKind::FalsePositive, Some("ana"))
        );
        assert!(!v.note.as_deref().unwrap().contains("4111 1111"), "{v:?}");
        assert_eq!(v.transaction_id, "tx-u9-9");
        assert!(decide(&d, VerdictKind::Confirmed, "  ", None, at).is_err());
        assert!(kind("maybe")
            .unwrap_err()
            .to_string()
            .contains("confirmed or false_positive"));
    }
}
