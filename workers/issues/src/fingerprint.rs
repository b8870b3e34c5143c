//! Which issue an error belongs to: its fingerprint, a function of the event
//! alone, so that every worker, every redelivery and every replay agree.
//!
//! Service + error type + the in-app frames of its stack (file and function,
//! normalized by [`crate::stack`]); without a stack, the masked wording of its
//! message's first line. A `fingerprint` attribute from the producer replaces
//! the type and frames.

use sightline_schemas::{AttrValue, Body, Event, LogRecord, Severity};

use crate::stack::{self, Frame};

/// Frames that decide a fingerprint, at most (the innermost).
const MAX_FRAMES: usize = 30;

/// What an error event says about its issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub fingerprint: String,
    pub error_type: String,
    /// The message's first line, as the title.
    pub title: String,
    /// Where it happened: the innermost in-app frame (`file in function`).
    pub culprit: Option<String>,
    pub user_id: Option<String>,
}

/// The issue an event belongs to: error events, and log records at error
/// severity or worse; `None` for anything else.
pub fn occurrence(event: &Event) -> Option<Occurrence> {
    let (message, stack, error_type, explicit, user_id) = match &event.payload {
        Body::Error(e) => (
            e.error_message.as_str(),
            e.stack.clone(),
            Some(e.error_type.clone()),
            None,
            e.user_id.clone(),
        ),
        Body::Log(l) if l.severity >= Severity::Error => {
            let (first, rest) = l.message.split_once('\n').unwrap_or((&l.message, ""));
            let stack = text(l, "exception.stacktrace")
                .or_else(|| (!rest.trim().is_empty()).then(|| l.message.clone()));
            let error_type =
                text(l, "exception.type").or_else(|| stack.as_deref().and_then(stack::error_type));
            let user = text(l, "user.id").or_else(|| text(l, "enduser.id"));
            (first, stack, error_type, text(l, "fingerprint"), user)
        }
        _ => return None,
    };
    let title = message.lines().next().unwrap_or("").trim().to_owned();
    let frames = stack.as_deref().map(stack::frames).unwrap_or_default();
    let in_app: Vec<&Frame> = frames.iter().filter(|f| f.in_app).collect();
    let decisive: Vec<&Frame> = if in_app.is_empty() {
        frames.iter().collect()
    } else {
        in_app
    };
    let culprit = decisive
        .first()
        .map(|f| format!("{} in {}", f.file, f.function));
    let error_type = error_type.unwrap_or_default();
    let basis = match explicit {
        Some(fingerprint) => format!("explicit\0{fingerprint}"),
        None if !decisive.is_empty() => {
            let mut basis = format!("frames\0{error_type}");
            for f in decisive.iter().take(MAX_FRAMES) {
                basis.push('\0');
                basis.push_str(&f.file);
                basis.push('|');
                basis.push_str(&f.function);
            }
            basis
        }
        None => format!(
            "message\0{error_type}\0{}",
            sightline_patterns::mask(&title).join(" ")
        ),
    };
    Some(Occurrence {
        fingerprint: hash(&format!("{}\0{basis}", event.service)),
        error_type,
        title,
        culprit,
        user_id,
    })
}

fn text(record: &LogRecord, name: &str) -> Option<String> {
    match record.attributes.get(name)? {
        AttrValue::Text(t) if !t.trim().is_empty() => Some(t.clone()),
        AttrValue::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

/// FNV-1a, 64 bits, as 16 hex digits.
fn hash(text: &str) -> String {
    let h = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{h:016x}")
}
