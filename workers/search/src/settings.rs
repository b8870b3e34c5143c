//! Opening the configured store and its PII key.

use std::path::{Path, PathBuf};

use sightline_runtime::config::ElasticsearchSettings;
use sightline_runtime::versions::versioned_name;
use sightline_runtime::Settings;

use crate::document::PiiHasher;
use crate::error::SearchError;
use crate::store::elasticsearch::ElasticsearchStore;

/// Where the embedded index lives.
pub fn tantivy_dir(settings: &Settings) -> PathBuf {
    tantivy_dir_at(settings, 0)
}

/// Where `version` of the embedded index lives (see [`versioned_name`]).
pub fn tantivy_dir_at(settings: &Settings, version: u64) -> PathBuf {
    settings
        .data_dir
        .join("search")
        .join(versioned_name("tantivy", version, "."))
}

/// The Elasticsearch settings of `version` of the index: its own index prefix,
/// template and read alias (`<prefix>_v<N>`).
pub fn elasticsearch_at(settings: &Settings, version: u64) -> ElasticsearchSettings {
    let mut es = settings.search.elasticsearch.clone();
    es.index_prefix = versioned_name(&es.index_prefix, version, "_");
    es
}

/// Opens `version` of the Elasticsearch index as the live one: its daily indices
/// also join the configured `index_prefix` alias, the one outside readers use.
pub async fn live_elasticsearch(
    settings: &Settings,
    version: u64,
) -> Result<ElasticsearchStore, SearchError> {
    let public = &settings.search.elasticsearch.index_prefix;
    ElasticsearchStore::connect_live(&elasticsearch_at(settings, version), public).await
}

/// The configured key, or the one kept beside the index (created on first use).
pub fn pii_hasher(settings: &Settings) -> Result<PiiHasher, SearchError> {
    let key = match &settings.search.pii_key {
        Some(hex) => parse_key(&hex.0)
            .ok_or_else(|| SearchError::invalid("search.pii_key must be 64 hex characters"))?,
        None => key_file(&settings.data_dir.join("search").join("pii.key"))?,
    };
    Ok(PiiHasher::new(key))
}

/// The key the index's references were made with, for readers that look a card or
/// an IP up: the configured one, or the one beside the index; `None` when neither
/// exists (nothing was indexed with a reference yet). Never creates one.
pub fn existing_pii_hasher(settings: &Settings) -> Result<Option<PiiHasher>, SearchError> {
    let path = settings.data_dir.join("search").join("pii.key");
    if settings.search.pii_key.is_none() && !path.exists() {
        return Ok(None);
    }
    pii_hasher(settings).map(Some)
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

fn key_file(path: &Path) -> Result<[u8; 32], SearchError> {
    let io = |e: std::io::Error| SearchError::Unavailable(format!("{}: {e}", path.display()));
    if let Ok(text) = std::fs::read_to_string(path) {
        return parse_key(&text).ok_or_else(|| {
            SearchError::backend(format!("{} is not a 64-hex-character key", path.display()))
        });
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let key: [u8; 32] = rand_key();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    write_private(path, &hex).map_err(io)?;
    tracing::info!(path = %path.display(), "created a PII hashing key");
    Ok(key)
}

fn rand_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    for chunk in key.chunks_mut(16) {
        chunk.copy_from_slice(&uuid::Uuid::new_v4().into_bytes());
    }
    key
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
