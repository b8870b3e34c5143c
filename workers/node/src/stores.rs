//! Each projection's store at a version, opened for writing, and dropping a
//! version once it is replaced. Live workers and rebuilds share these, so both
//! always agree on where version N lives; the backend of each family is chosen by
//! its factory (`ConfiguredIndex`, `ConfiguredDetections`).

use sightline_counters::{Layout, RedisStore};
use sightline_fraud::store::configured::{self as detections, ConfiguredDetections};
use sightline_runtime::versions::{Target, Versions};
use sightline_runtime::Settings;
use sightline_search::store::configured::{self as index, ConfiguredIndex};

use crate::Error;

/// The version of `target` readers should read now.
pub async fn live_version(settings: &Settings, target: Target) -> Result<u64, Error> {
    let bus = crate::connect(settings).await?;
    Ok(Versions::open(&bus).await?.current(target).await?.0.version)
}

/// `version` of the index, written by the indexer as the live one, or by a rebuild
/// as one not yet live (`access`).
pub async fn index(
    settings: &Settings,
    version: u64,
    access: index::Access,
) -> Result<ConfiguredIndex, Error> {
    let (search, dir) = (&settings.search, settings.data_dir.as_path());
    Ok(ConfiguredIndex::open(search, dir, version, access).await?)
}

/// `version` of the detections store, for writing (created when missing).
pub async fn detections(settings: &Settings, version: u64) -> Result<ConfiguredDetections, Error> {
    let (fraud, dir) = (&settings.fraud, settings.data_dir.as_path());
    Ok(ConfiguredDetections::open(fraud, dir, version, detections::Access::Write).await?)
}

/// `version` of the counters.
pub async fn counters(settings: &Settings, version: u64) -> Result<RedisStore, Error> {
    let url = crate::redis_url(settings)?;
    let layout = Layout::at_version(&settings.counters, version)?;
    Ok(RedisStore::connect(url, layout).await?)
}

/// Deletes `version` of `target` for good: a replaced version once its readers
/// have moved, or what a failed rebuild left.
pub async fn drop_version(settings: &Settings, target: Target, version: u64) -> Result<(), Error> {
    let dir = settings.data_dir.as_path();
    match target {
        Target::Search => ConfiguredIndex::drop_version(&settings.search, dir, version).await?,
        Target::Fraud => ConfiguredDetections::drop_version(&settings.fraud, dir, version).await?,
        Target::Counters => {
            counters(settings, version).await?.drop_keys().await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sightline_runtime::config::Secret;
    use sightline_runtime::ErrorKind;

    use super::*;

    #[tokio::test]
    async fn a_bad_redis_url_is_a_configuration_error_that_keeps_the_password_out() {
        let mut settings = Settings::default();
        settings.redis.url = Some(Secret("redis//user:hunter2@nowhere".into()));
        let e = counters(&settings, 0).await.err().expect("refused");
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        assert!(e.to_string().contains("redis.url"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
