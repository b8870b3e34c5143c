//! Decoding a pulled batch: pure work, done for the next batch while the current
//! one is being applied.

use std::collections::HashSet;

use async_nats::jetstream::Message;

use super::projection::{Decode, Record};
use super::WorkerSpec;
use crate::error::Error;

pub(super) struct Decoded<T> {
    pub messages: Vec<Message>,
    /// Each message's (stream sequence, delivery count), parsed once.
    pub positions: Vec<(u64, u64)>,
    pub records: Vec<Record<T>>,
    /// The message index of each record.
    pub sources: Vec<usize>,
    /// Messages that did not decode, by index, with the reason.
    pub poison: Vec<(usize, String)>,
}

impl<T: Decode> Decoded<T> {
    /// Decodes what `consumer` must apply. A message replayed from the DLQ for
    /// another consumer is neither applied nor poison: it is acked with the batch.
    /// So is a second copy of a sequence: a consumer repositioned while a batch was
    /// being pulled (a replay's switch) delivers again what the batch already holds,
    /// and a projection must see each sequence once per batch.
    pub fn new(messages: Vec<Message>, spec: &WorkerSpec) -> Result<Self, Error> {
        let mut seen = Seen::default();
        let mut records = Vec::with_capacity(messages.len());
        let mut sources = Vec::with_capacity(messages.len());
        let mut poison = Vec::new();
        let positions = messages
            .iter()
            .map(position_of)
            .collect::<Result<Vec<_>, _>>()?;
        for (i, (msg, &(stream_seq, delivered))) in messages.iter().zip(&positions).enumerate() {
            let addressed = msg
                .headers
                .as_ref()
                .and_then(|h| h.get(super::dlq::REPLAY_FOR))
                .map(|v| v.to_string());
            if addressed.as_ref().is_some_and(|to| !spec.answers_to(to)) || !seen.first(stream_seq)
            {
                continue;
            }
            match T::decode(msg.subject.as_str(), msg.headers.as_ref(), &msg.payload) {
                Ok(item) => {
                    records.push(Record {
                        stream_seq,
                        delivered,
                        item,
                        replay_for: addressed,
                    });
                    sources.push(i);
                }
                Err(e) => poison.push((i, e.to_string())),
            }
        }
        Ok(Self {
            messages,
            positions,
            records,
            sources,
            poison,
        })
    }
}

/// The sequences a batch has held. A batch is in stream order unless its
/// consumer was repositioned, so sequences are hashed only once one does not climb.
#[derive(Default)]
struct Seen {
    climbing: Vec<u64>,
    any_order: Option<HashSet<u64>>,
}

impl Seen {
    /// Whether `seq` is new to the batch.
    fn first(&mut self, seq: u64) -> bool {
        if let Some(set) = &mut self.any_order {
            return set.insert(seq);
        }
        if self.climbing.last().is_none_or(|&last| seq > last) {
            self.climbing.push(seq);
            return true;
        }
        let mut set: HashSet<u64> = self.climbing.drain(..).collect();
        let new = set.insert(seq);
        self.any_order = Some(set);
        new
    }
}

/// A message's stream sequence and delivery count.
pub(super) fn position_of(msg: &Message) -> Result<(u64, u64), Error> {
    let info = msg.info().map_err(|e| Error::nats("message metadata", e))?;
    Ok((info.stream_sequence, info.delivered.max(1) as u64))
}

#[cfg(test)]
mod tests {
    use super::Seen;

    fn firsts(seqs: &[u64]) -> Vec<bool> {
        let mut seen = Seen::default();
        seqs.iter().map(|&s| seen.first(s)).collect()
    }

    #[test]
    fn climbing_sequences_are_all_new() {
        assert_eq!(firsts(&[3, 4, 9]), [true, true, true]);
    }

    #[test]
    fn a_repositioned_batch_drops_what_it_already_holds() {
        // Repositioned back to 5 while holding 3..=7: 5..=7 again, then on.
        let seqs = [3, 4, 5, 6, 7, 5, 6, 7, 8, 2];
        let expected = [
            true, true, true, true, true, false, false, false, true, true,
        ];
        assert_eq!(firsts(&seqs), expected);
    }
}
