//! Masking card numbers wherever Sightline writes bytes it did not build itself: a
//! dead letter's payload, a reason quoting input, a terminal. A primary account
//! number is 12-19 digits (single spaces or dashes between groups allowed) passing
//! the Luhn check; each of its digits becomes `*`, in place, so the bytes keep their
//! length and a MessagePack or JSON payload keeps its structure.

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

/// [`mask_card_numbers`] on text: the masked copy, and how many it masked.
pub fn masked(text: &str) -> (String, usize) {
    let mut bytes = text.as_bytes().to_vec();
    let n = mask_card_numbers(&mut bytes);
    // Only ASCII digits were replaced by an ASCII byte: still UTF-8.
    (String::from_utf8_lossy(&bytes).into_owned(), n)
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
        ] {
            assert_eq!(masked(text), (text.to_owned(), 0), "{text}");
        }
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
