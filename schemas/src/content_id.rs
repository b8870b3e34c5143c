//! Ids derived from what an event says, for events built from what shippers send
//! (an OTLP record, a `_bulk` document, a syslog line). A shipper that did not hear
//! back sends the same batch again; the same records then get the same ids, and
//! LOGS stores them once (its duplicate window de-duplicates by id).

use uuid::Uuid;

use crate::codec::{encode, Encoding};
use crate::envelope::Event;

/// The namespace of content ids (a fixed random UUID: changing it changes every id).
const NAMESPACE: Uuid = Uuid::from_u128(0x5a1f_93c4_27de_4b0e_9c61_0d8e_7f42_b3a5);

impl Event {
    /// Gives the event a UUIDv7 of its `occurred_at` whose other bits hash its
    /// content and `occurrence`: the number of identical events before it in the
    /// same request (two identical lines in one batch are two events; the same
    /// batch sent again is the same events).
    pub fn set_content_id(&mut self, occurrence: u32) {
        self.id = Uuid::nil();
        // A valid event always encodes; were it not to, the hash of its debug
        // form still tells different events apart.
        let mut bytes =
            encode(self, Encoding::MsgPack).unwrap_or_else(|_| format!("{self:?}").into_bytes());
        bytes.extend_from_slice(&occurrence.to_be_bytes());
        let digest = Uuid::new_v5(&NAMESPACE, &bytes);
        let mut rand = [0u8; 10];
        rand.copy_from_slice(&digest.as_bytes()[6..]);
        let millis =
            u64::try_from(self.occurred_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        self.id = uuid::Builder::from_unix_timestamp_millis(millis, &rand).into_uuid();
    }
}

#[cfg(test)]
mod tests {
    use crate::{Body, Event, LogRecord, Severity};

    fn event(message: &str) -> Event {
        let at = time::macros::datetime!(2026-03-01 12:00:00.123 UTC);
        Event::at(
            at,
            "api",
            Body::Log(LogRecord::new(Severity::Info, message)),
        )
    }

    #[test]
    fn the_same_content_gets_the_same_time_ordered_id() {
        let (mut a, mut b, mut c) = (event("hello"), event("hello"), event("other"));
        a.set_content_id(0);
        b.set_content_id(0);
        c.set_content_id(0);
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(a.id.get_version_num(), 7);
        let (secs, nanos) = a.id.get_timestamp().unwrap().to_unix();
        assert_eq!((secs, nanos / 1_000_000), (1_772_366_400, 123));
        b.set_content_id(1);
        assert_ne!(a.id, b.id, "a second identical line is a second event");
    }
}
