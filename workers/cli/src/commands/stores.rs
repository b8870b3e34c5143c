//! Each projection's store at a version, opened for writing, and dropping a
//! version once it is replaced. Live workers and `sightline replay` share these,
//! so both always agree on where version N lives.

use sightline_counters::{Layout, RedisStore};
use sightline_fraud::settings::{mongodb_at, sqlite_path_at};
use sightline_fraud::store::mongo::MongoStore;
use sightline_fraud::store::sqlite::SqliteStore;
use sightline_runtime::config::{FraudBackend, SearchBackend};
use sightline_runtime::versions::{Target, Versions};
use sightline_runtime::{Error, Settings};
use sightline_search::settings::{elasticsearch_at, live_elasticsearch, tantivy_dir_at};
use sightline_search::store::elasticsearch::ElasticsearchStore;
use sightline_search::store::tantivy::TantivyStore;

/// The version of `target` readers should read now.
pub async fn live_version(settings: &Settings, target: Target) -> anyhow::Result<u64> {
    let bus = super::connect(settings).await?;
    Ok(Versions::open(&bus).await?.current(target).await?.0.version)
}

pub async fn tantivy(settings: Settings, version: u64) -> Result<TantivyStore, Error> {
    Ok(TantivyStore::open(&tantivy_dir_at(&settings, version))?)
}

/// `version` of the index as the live one, written by the indexer: it takes the
/// public alias (`search.elasticsearch.index_prefix`, what outside readers such as
/// Kibana use) to its indices, then and after every switch it follows.
pub async fn elasticsearch(settings: Settings, version: u64) -> Result<ElasticsearchStore, Error> {
    let store = live_elasticsearch(&settings, version).await?;
    if let Err(e) = store.take_public_alias().await {
        tracing::warn!(error = %e, version, "cannot point the public alias at the live version");
    }
    Ok(store)
}

/// `version` of the index outside the public alias: one being built, or dropped.
pub async fn elasticsearch_unlisted(
    settings: Settings,
    version: u64,
) -> Result<ElasticsearchStore, Error> {
    Ok(ElasticsearchStore::connect(&elasticsearch_at(&settings, version)).await?)
}

pub async fn sqlite(settings: Settings, version: u64) -> Result<SqliteStore, Error> {
    Ok(SqliteStore::open(&sqlite_path_at(&settings, version))?)
}

pub async fn mongo(settings: Settings, version: u64) -> Result<MongoStore, Error> {
    Ok(MongoStore::connect(&mongodb_at(&settings, version)).await?)
}

pub async fn counters(settings: Settings, version: u64) -> Result<RedisStore, Error> {
    let url = super::redis_url(&settings).map_err(|e| Error::Config(e.to_string()))?;
    let layout = Layout::at_version(&settings.counters, version)?;
    Ok(RedisStore::connect(url, layout).await?)
}

/// Deletes `version` of `target` for good: a replaced version once its readers
/// have moved, or what a failed rebuild left.
pub async fn drop_version(settings: &Settings, target: Target, version: u64) -> anyhow::Result<()> {
    let settings = settings.clone();
    match target {
        Target::Search => match settings.search.backend {
            SearchBackend::Tantivy => remove_dir(&tantivy_dir_at(&settings, version))?,
            SearchBackend::Elasticsearch => {
                elasticsearch_unlisted(settings, version)
                    .await?
                    .drop_indices()
                    .await?;
            }
        },
        Target::Fraud => match settings.fraud.backend {
            FraudBackend::Sqlite => {
                let path = sqlite_path_at(&settings, version);
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    remove_file(std::path::Path::new(&file))?;
                }
            }
            FraudBackend::Mongodb => mongo(settings, version).await?.drop_collection().await?,
        },
        Target::Counters => {
            counters(settings, version).await?.drop_keys().await?;
        }
    }
    Ok(())
}

fn remove_dir(path: &std::path::Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn remove_file(path: &std::path::Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
