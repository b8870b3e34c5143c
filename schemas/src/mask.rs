//! Masking card numbers wherever Sightline writes what it did not build itself: the
//! free text of an event (published or projected), a dead letter's payload, a
//! reason quoting input, a terminal. A primary account number is 12-19 digits
//! passing the Luhn check, written whole or grouped as cards print it (a first
//! group of 4, then groups of 3-6, single spaces or dashes between); each of its
//! digits becomes `*`, in place, so the bytes keep their length and a MessagePack
//! or JSON payload keeps its structure.

use crate::envelope::{Body, Event};

/// The byte every digit of a card number becomes.
pub const MASK: u8 = b'*';

/// Masks every card number in `bytes` in place; returns how many it masked.
/// Digit runs longer than 19 digits (an id, a long counter) are left alone.
pub fn mask_card_numbers(bytes: &mut [u8]) -> usize {
    let runs: Vec<std::ops::Range<usize>> = card_numbers(bytes).collect();
    for run in &runs {
        for b in &mut bytes[run.clone()] {
            if b.is_ascii_digit() {
                *b = MASK;
            }
        }
    }
    runs.len()
}

/// Whether `bytes` hold a card number anywhere (a cheap test before masking).
pub fn holds_card_number(bytes: &[u8]) -> bool {
    card_numbers(bytes).next().is_some()
}

/// Where the card numbers in `bytes` are.
fn card_numbers(bytes: &[u8]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let (start, end) = (i, run_end(bytes, i));
            i = end;
            if is_card_number(&bytes[start..end]) {
                return Some(start..end);
            }
        }
        None
    })
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
    /// Masks card numbers in the free text of a validated event (an error's
    /// message and stack, a page, a user agent, a security reason, a log record's
    /// message and text attributes); returns how many. Identifiers are never touched: ids legitimately hold long digit runs
    /// (a session `s-u042617-981792`), and masking one would break every join on
    /// it. `card_fingerprint` is not masked but refused by validation, so the
    /// producer learns of it.
    pub fn mask_card_numbers(&mut self) -> usize {
        let texts: Vec<&mut String> = match &mut self.payload {
            Body::Error(e) => std::iter::once(&mut e.error_message)
                .chain(e.stack.as_mut())
                .collect(),
            Body::UserBehavior(u) => std::iter::once(&mut u.page)
                .chain(u.user_agent.as_mut())
                .collect(),
            Body::Security(s) => s.reason.iter_mut().chain(s.user_agent.as_mut()).collect(),
            Body::Log(l) => std::iter::once(&mut l.message)
                .chain(l.severity_text.as_mut())
                .chain(l.attributes.values_mut().filter_map(|v| match v {
                    crate::log::AttrValue::Text(s) => Some(s),
                    _ => None,
                }))
                .collect(),
            Body::Transaction(_) | Body::Performance(_) => Vec::new(),
        };
        texts.into_iter().map(mask_in_string).sum()
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
    // Grouped, a card number is printed 4-4-4-4, 4-6-5 or 4-6-4: a UUID's 8-4-4-4,
    // a date's 4-2-2 or an id's 6-6 is not one.
    let grouped = run.iter().any(|b| !b.is_ascii_digit());
    if grouped {
        let mut groups = run.split(|b| !b.is_ascii_digit());
        let first_is_four = groups.next().is_some_and(|g| g.len() == 4);
        if !first_is_four || groups.any(|g| !(3..=6).contains(&g.len())) {
            return false;
        }
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
            "s-u042617-981792",                     // a session id: 6-6
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
        e.tags.insert("order".into(), "4012888888881881".into());
        let encoded = crate::encode(&e, crate::Encoding::Json).unwrap();
        assert!(holds_card_number(&encoded));
        assert_eq!(e.mask_card_numbers(), 2);
        let Body::Error(err) = &e.payload else {
            unreachable!()
        };
        assert_eq!(err.error_message, "card ****-****-****-**** declined");
        assert_eq!(err.stack.as_deref(), Some("at charge(**** **** **** ****)"));
        assert_eq!(
            e.tags["order"], "4012888888881881",
            "identifiers are left alone"
        );
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
