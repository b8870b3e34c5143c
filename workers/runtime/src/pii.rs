//! Keyed references for identifiers Sightline must not store in clear (card
//! fingerprints, IP addresses): a stable keyed hash stands in for the value, so a
//! store can still answer "everything of this card" without holding the card's
//! token. One key per deployment (`search.pii_key`, or one created beside the
//! index): every writer of references (the indexer, the scorer) and every reader
//! that looks one up must share it.

use std::path::{Path, PathBuf};

use crate::config::Secret;
use crate::error::Error;

/// Keyed hashing of identifiers that must not be stored in clear.
#[derive(Clone)]
pub struct PiiHasher {
    key: [u8; 32],
}

impl PiiHasher {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// A stable, non-reversible reference: 64 bits of keyed BLAKE3, in hex (enough
    /// to look a card up; a rare collision only adds a false hit).
    pub fn reference(&self, kind: &str, value: &str) -> String {
        let mut hasher = blake3::Hasher::new_keyed(&self.key);
        hasher.update(kind.as_bytes());
        hasher.update(&[0]);
        hasher.update(value.as_bytes());
        hasher.finalize().to_hex()[..16].to_owned()
    }
}

/// What a reader looks a card or an IP up by: the reference `pii` gives `value`,
/// or without a key (nothing was indexed with a reference yet) a term no
/// reference equals.
pub fn lookup_reference(pii: Option<&PiiHasher>, kind: &str, value: &str) -> String {
    pii.map_or_else(|| "-".to_owned(), |p| p.reference(kind, value))
}

impl std::fmt::Debug for PiiHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PiiHasher(***)")
    }
}

/// The configured key (`search.pii_key`), or the one kept beside the index under
/// `data_dir` (created on first use).
pub fn hasher(configured: Option<&Secret>, data_dir: &Path) -> Result<PiiHasher, Error> {
    let key = match configured {
        Some(hex) => parse_key(&hex.0)
            .ok_or_else(|| Error::Config("search.pii_key must be 64 hex characters".into()))?,
        None => key_file(&key_path(data_dir))?,
    };
    Ok(PiiHasher::new(key))
}

/// The key the index's references were made with, for readers that look a card or
/// an IP up: the configured one, or the one beside the index; `None` when neither
/// exists (nothing was indexed with a reference yet). Never creates one.
pub fn existing_hasher(
    configured: Option<&Secret>,
    data_dir: &Path,
) -> Result<Option<PiiHasher>, Error> {
    if configured.is_none() && !key_path(data_dir).exists() {
        return Ok(None);
    }
    hasher(configured, data_dir).map(Some)
}

/// Where the key is kept when none is configured.
fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("search").join("pii.key")
}

fn parse_key(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(key)
}

fn key_file(path: &Path) -> Result<[u8; 32], Error> {
    let io = |source: std::io::Error| Error::Io {
        context: path.display().to_string(),
        source,
    };
    let read = || {
        let text = std::fs::read_to_string(path).map_err(io)?;
        parse_key(&text).ok_or_else(|| {
            Error::Config(format!("{} is not a 64-hex-character key", path.display()))
        })
    };
    if path.exists() {
        return read();
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let key: [u8; 32] = rand_key();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    // Several roles may start at once on a fresh data dir (the indexer and the
    // scorer both need the key): the key is written whole under a name of its
    // own, then linked into place, which fails if another got there first; the
    // loser reads the winner's key, always complete.
    let tmp = path.with_extension(format!("{:016x}.tmp", rand::random::<u64>()));
    write_private(&tmp, &hex).map_err(io)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "created a PII hashing key");
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(),
        Err(e) => Err(io(e)),
    }
}

/// 32 bytes from the thread's CSPRNG (ChaCha, seeded from the OS).
fn rand_key() -> [u8; 32] {
    rand::random()
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_creating_the_key_at_once_all_get_the_same_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("search").join("pii.key");
        let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| key_file(&path).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]), "one key for all");
    }

    #[test]
    fn keys_parse_and_a_missing_key_file_is_created_once() {
        assert_eq!(parse_key(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(parse_key("abc"), None);
        assert_eq!(parse_key(&"zz".repeat(32)), None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k").join("pii.key");
        let first = key_file(&path).unwrap();
        assert_eq!(
            key_file(&path).unwrap(),
            first,
            "the key is stable across restarts"
        );
    }
}
