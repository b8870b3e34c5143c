//! Masking card numbers wherever Sightline writes what it did not build itself: the
//! free text of an event (published or projected), a dead letter's payload, a
//! reason quoting input, a terminal. A primary account number is 12-19 digits
//! passing the Luhn check, written whole or in groups of 3-6 digits with single
//! spaces or dashes between them; each of its digits becomes `*`, in place, so the
//! bytes keep their length and a MessagePack or JSON payload keeps its structure.

use crate::envelope::{Body, Event};

/// The byte every digit of a card number becomes.
pub const MASK: u8 = b'*';

/// Masks every card number in `bytes` in place; returns how many it masked.
/// Digit runs longer than 19 digits (an id, a long counter) are left alone.
pub fn mask_card_numbers(bytes: &mut [u8]) -> usize {
    let mut masked = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let end = run_end(bytes, i);
        if is_card_number(&bytes[i..end]) {
            for b in &mut bytes[i..end] {
                if b.is_ascii_digit() {
                    *b = MASK;
                }
            }
            masked += 1;
        }
        i = end;
    }
    masked
}

/// Whether `bytes` hold a card number anywhere (a cheap test before masking).
pub fn holds_card_number(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let end = run_end(bytes, i);
        if is_card_number(&bytes[i..end]) {
            return true;
        }
        i = end;
    }
    false
}

/// [`mask_card_numbers`] on text: the masked copy, and how many it masked.
pub fn masked(text: &str) -> (String, usize) {
    let mut bytes = text.as_bytes().to_vec();
    let n = mask_card_numbers(&mut bytes);
    // Only ASCII digits were replaced by an ASCII byte: still UTF-8.
    (String::from_utf8_lossy(&bytes).into_owned(), n)
}

/// Masks card numbers in `text` in place; returns how many.
pub fn mask_in_string(text: &mut String) -> usize {
    // Most text holds fewer digits than the shortest card number.
    if text.bytes().filter(u8::is_ascii_digit).count() < 12 {
        return 0;
    }
    let mut bytes = std::mem::take(text).into_bytes();
    let n = mask_card_numbers(&mut bytes);
    // Only ASCII digits became an ASCII byte: the bytes are still UTF-8.
    *text = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    n
}

impl Event {
    /// Masks card numbers in every free-text field of a validated event (a
    /// message, a stack, a page, tags); returns how many. `card_fingerprint` is not
    /// masked but refused by validation, so the producer learns of it.
    pub fn mask_card_numbers(&mut self) -> usize {
        fn all<'a>(fields: impl IntoIterator<Item = &'a mut String>) -> usize {
            fields.into_iter().map(mask_in_string).sum()
        }
        let envelope = all(self
            .tenant
            .iter_mut()
            .chain(self.env.iter_mut())
            .chain(self.host.iter_mut())
            .chain(self.trace_id.iter_mut())
            .chain(self.tags.values_mut()));
        envelope
            + match &mut self.payload {
                Body::Transaction(t) => all(std::iter::once(&mut t.transaction_id)
                    .chain(Some(&mut t.user_id))
                    .chain(t.order_id.iter_mut())),
                Body::Error(e) => all([&mut e.error_type, &mut e.error_message, &mut e.endpoint]
                    .into_iter()
                    .chain(e.stack.iter_mut())
                    .chain(e.user_id.iter_mut())),
                Body::UserBehavior(u) => all([&mut u.user_id, &mut u.session_id, &mut u.page]
                    .into_iter()
                    .chain(u.user_agent.iter_mut())
                    .chain(u.product_id.iter_mut())),
                Body::Performance(p) => all([&mut p.endpoint, &mut p.method]),
                Body::Security(s) => all(s
                    .user_id
                    .iter_mut()
                    .chain(s.reason.iter_mut())
                    .chain(s.session_id.iter_mut())
                    .chain(s.user_agent.iter_mut())),
            }
    }
}

/// Where the digit run starting at `start` ends: digits, with single spaces or
/// dashes between digits.
fn run_end(bytes: &[u8], start: usize) -> usize {
    let mut end = start;
    while end < bytes.len() {
        if bytes[end].is_ascii_digit() {
            end += 1;
        } else if matches!(bytes[end], b' ' | b'-')
            && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
        {
            end += 2;
        } else {
            break;
        }
    }
    end
}

fn is_card_number(run: &[u8]) -> bool {
    // Grouped, a card number is written in groups of 3-6 (4-4-4-4, 4-6-5): a UUID's
    // 8-4-4-4 or a date's 4-2-2 is not one.
    let grouped = run.iter().any(|b| !b.is_ascii_digit());
    if grouped
        && run
            .split(|b| !b.is_ascii_digit())
            .any(|group| !(3..=6).contains(&group.len()))
    {
        return false;
    }
    let (mut digits, mut sum) = (0u32, 0u32);
    for d in run.iter().rev().filter(|b| b.is_ascii_digit()) {
        let d = u32::from(d - b'0');
        sum += match (digits % 2 == 1, d * 2) {
            (true, doubled) if doubled > 9 => doubled - 9,
            (true, doubled) => doubled,
            (false, _) => d,
        };
        digits += 1;
    }
    (12..=19).contains(&digits) && sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_masked_in_any_layout() {
        let (text, n) =
            masked("paid with 4111 1111 1111 1111, then 5500-0000-0000-0004 and 4012888888881881.");
        assert_eq!(n, 3);
        assert_eq!(
            text,
            "paid with **** **** **** ****, then ****-****-****-**** and ****************."
        );
    }

    #[test]
    fn other_numbers_are_left_alone() {
        for text in [
            "order 12345 at 12:30",
            "4111111111111112",           // fails Luhn
            "41111111111111111111111111", // too long to be a card
            "ts 1790000000123",           // 13 digits failing Luhn
            "2026-12-06",
            "41111111-1111-1111-a111-111111111111", // a UUID's groups
        ] {
            assert_eq!(masked(text), (text.to_owned(), 0), "{text}");
        }
    }

    #[test]
    fn free_text_fields_of_an_event_are_masked() {
        let mut e = Event::at(
            time::OffsetDateTime::now_utc(),
            "checkout",
            Body::Error(crate::ErrorEvent {
                error_code: 402,
                error_type: "CardDeclined".into(),
                error_message: "card 4111-1111-1111-1111 declined".into(),
                endpoint: "/api/pay".into(),
                stack: Some("at charge(5500 0000 0000 0004)".into()),
                user_id: None,
            }),
        );
        e.tags.insert("pan".into(), "4012888888881881".into());
        let encoded = crate::encode(&e, crate::Encoding::Json).unwrap();
        assert!(holds_card_number(&encoded));
        assert_eq!(e.mask_card_numbers(), 3);
        let Body::Error(err) = &e.payload else {
            unreachable!()
        };
        assert_eq!(err.error_message, "card ****-****-****-**** declined");
        assert_eq!(err.stack.as_deref(), Some("at charge(**** **** **** ****)"));
        assert_eq!(e.tags["pan"], "****************");
        let encoded = crate::encode(&e, crate::Encoding::Json).unwrap();
        assert!(!holds_card_number(&encoded));
    }

    #[test]
    fn a_messagepack_payload_keeps_its_structure() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Payload {
            card_fingerprint: String,
            amount: f64,
        }
        let mut bytes = rmp_serde::to_vec_named(&Payload {
            card_fingerprint: "4111111111111111".into(),
            amount: 12.5,
        })
        .unwrap();
        assert_eq!(mask_card_numbers(&mut bytes), 1);
        let back: Payload = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back.card_fingerprint, "****************");
        assert_eq!(back.amount, 12.5);
    }
}
