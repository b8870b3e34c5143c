//! RFC 6587 framing of syslog over TCP: each message is either preceded by its
//! length in octets and a space (octet counting) or ended by a newline
//! (non-transparent framing). Senders pick one; a receiver tells them apart by
//! the first character of each frame, a digit only in octet counting.

/// A frame longer than this is cut there (the rest is the next frame's start):
/// a sender that never sends a newline must not make the receiver hold
/// everything it sends.
pub const MAX_FRAME: usize = 64 * 1024;

/// Bytes in, whole messages out.
#[derive(Debug, Default)]
pub struct Framer {
    buffer: Vec<u8>,
}

impl Framer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds what was read and returns the messages it completes.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.buffer.extend_from_slice(bytes);
        let mut frames = Vec::new();
        let mut start = 0;
        loop {
            let rest = &self.buffer[start..];
            let Some(first) = rest.first() else { break };
            if matches!(first, b'\n' | b'\r' | b' ') {
                start += 1;
                continue;
            }
            if first.is_ascii_digit() {
                if let Some(space) = rest.iter().take(8).position(|b| *b == b' ') {
                    if let Ok(len) = std::str::from_utf8(&rest[..space])
                        .unwrap_or_default()
                        .parse::<usize>()
                    {
                        let len = len.min(MAX_FRAME);
                        let end = space + 1 + len;
                        if rest.len() < end {
                            break;
                        }
                        frames.push(rest[space + 1..end].to_vec());
                        start += end;
                        continue;
                    }
                }
            }
            match rest.iter().position(|b| *b == b'\n') {
                Some(nl) => {
                    frames.push(rest[..nl].to_vec());
                    start += nl + 1;
                }
                None if rest.len() >= MAX_FRAME => {
                    frames.push(rest[..MAX_FRAME].to_vec());
                    start += MAX_FRAME;
                }
                None => break,
            }
        }
        self.buffer.drain(..start);
        frames
    }

    /// What is left when the connection closes: a last message without its newline.
    pub fn finish(self) -> Option<Vec<u8>> {
        let rest = self.buffer.trim_ascii();
        (!rest.is_empty()).then(|| rest.to_vec())
    }
}
