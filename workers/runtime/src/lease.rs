//! One active instance per cursor consumer. A cursor projection's watermark says
//! where it stands only if its batches land in stream order; two instances
//! splitting one consumer would apply batches out of order, and a watermark moved
//! past a batch still in flight makes that batch look applied already. So an
//! instance holds a lease (a key in a key-value bucket, renewed while it runs and
//! expiring [`LEASE_TTL`] after its holder stops renewing it), and the others stand
//! by and take over when it expires or is released.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv::{self, CreateErrorKind, UpdateErrorKind};
use futures::StreamExt;

use crate::error::Error;
use crate::nats::bucket;
use crate::nats::Bus;
use crate::shutdown::Shutdown;

/// The bucket of consumer leases, one key per `<stream>.<consumer>`.
pub const LEASES: &str = "sightline_leases";
/// How long a lease outlives its holder's last renewal: the longest a standby
/// waits after the active instance dies.
pub const LEASE_TTL: Duration = Duration::from_secs(15);

pub struct Lease {
    leases: kv::Store,
    key: String,
    lost: Arc<AtomicBool>,
    renew: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Waits until this process holds the lease of `stream`'s `consumer` (or of
    /// another role that must run once, named the same way), standing by while
    /// another instance does; `None` if `shutdown` trips first.
    pub async fn acquire(
        bus: &Bus,
        stream: &str,
        consumer: &str,
        shutdown: &mut Shutdown,
    ) -> Result<Option<Lease>, Error> {
        let leases = bucket(bus, LEASES, "Sightline consumer leases", LEASE_TTL, 1).await?;
        let key = format!("{stream}.{consumer}");
        let holder = holder();
        let mut standing_by = false;
        loop {
            match Self::take(&leases, &key, &holder, LEASE_TTL).await {
                Ok(Ok(lease)) => {
                    tracing::info!(consumer, holder, "holding the consumer's lease");
                    return Ok(Some(lease));
                }
                Ok(Err(by)) => {
                    if !std::mem::replace(&mut standing_by, true) {
                        tracing::info!(consumer, held_by = %by, "standing by: another instance consumes; taking over when its lease is released or expires");
                    }
                }
                Err(e) => {
                    tracing::warn!(consumer, error = %e, "cannot take the consumer's lease; retrying")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(LEASE_TTL / 5) => {}
                _ = shutdown.tripped() => return Ok(None),
            }
        }
    }

    /// Takes `key` in `leases` (a bucket whose entries expire after `ttl`) for
    /// `holder`, renewed until released or dropped; `Err` names who holds it.
    pub(crate) async fn take(
        leases: &kv::Store,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Result<Lease, String>, Error> {
        let revision = match leases.create(key, holder.to_owned().into()).await {
            Ok(revision) => revision,
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {
                let (by, revision) = held_by(leases, key).await;
                // A holder that was a process of this host, gone now: a restart
                // need not wait for its lease to expire.
                let stale = revision.filter(|_| gone_from_this_host(&by, holder));
                let taken = match stale {
                    Some(revision) => leases.update(key, holder.to_owned().into(), revision).await,
                    None => return Ok(Err(by)),
                };
                match taken {
                    Ok(revision) => {
                        tracing::info!(key, holder, previous = %by, "took over the lease of a process gone from this host");
                        revision
                    }
                    Err(_) => return Ok(Err(by)),
                }
            }
            Err(e) => return Err(Error::nats("take a lease", e)),
        };
        Ok(Ok(Self::renewed(
            leases.clone(),
            key.to_owned(),
            holder.to_owned(),
            revision,
            ttl,
        )))
    }

    fn renewed(
        leases: kv::Store,
        key: String,
        holder: String,
        revision: u64,
        ttl: Duration,
    ) -> Lease {
        let lost = Arc::new(AtomicBool::new(false));
        let renew = tokio::spawn({
            let (leases, key, lost) = (leases.clone(), key.clone(), lost.clone());
            async move {
                let mut revision = revision;
                loop {
                    tokio::time::sleep(ttl / 3).await;
                    match leases.update(&key, holder.clone().into(), revision).await {
                        Ok(r) => revision = r,
                        // It expired and another instance took it.
                        Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => {
                            tracing::warn!(key, "the lease was lost; standing down");
                            lost.store(true, Ordering::Release);
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(key, error = %e, "cannot renew the lease")
                        }
                    }
                }
            }
        });
        Lease {
            leases,
            key,
            lost,
            renew,
        }
    }

    /// Whether another instance holds the lease now: apply nothing more.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }

    /// Resolves once the lease is lost, for a role that runs as one task.
    pub fn until_lost(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let lost = self.lost.clone();
        async move {
            while !lost.load(Ordering::Acquire) {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    /// Gives the lease up, so a standing-by instance takes over at once.
    pub async fn release(self) {
        self.renew.abort();
        if !self.lost() {
            let _ = self.leases.purge(&self.key).await;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renew.abort();
    }
}

/// Who holds each consumer's lease now (`<host>/<pid>/<run>`), by
/// `<stream>.<consumer>`; empty before any cursor worker ran.
pub async fn holders(bus: &Bus) -> Result<BTreeMap<String, String>, Error> {
    let Ok(leases) = bus.js.get_key_value(LEASES).await else {
        return Ok(BTreeMap::new());
    };
    let mut keys = leases
        .keys()
        .await
        .map_err(|e| Error::nats("list leases", e))?;
    let mut held = BTreeMap::new();
    while let Some(key) = keys.next().await {
        let key = key.map_err(|e| Error::nats("list leases", e))?;
        if let Ok(Some(holder)) = leases.get(&key).await {
            held.insert(key, String::from_utf8_lossy(&holder).into_owned());
        }
    }
    Ok(held)
}

/// Who holds a lease: `<host>/<pid>/<random>`, unique to this run of this process.
fn holder() -> String {
    format!(
        "{}/{}/{:08x}",
        host(),
        std::process::id(),
        rand::random::<u32>()
    )
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown-host".into())
}

/// The lease's holder and revision, if it is held.
async fn held_by(leases: &kv::Store, key: &str) -> (String, Option<u64>) {
    match leases.entry(key).await {
        Ok(Some(e)) if e.operation == kv::Operation::Put => (
            String::from_utf8_lossy(&e.value).into_owned(),
            Some(e.revision),
        ),
        _ => ("unknown".into(), None),
    }
}

/// Whether `by` was a process on this host that no longer runs: its pid is gone,
/// or is this process under another holder name (a restart that got the same pid,
/// as in a container). A pid reused by another program only makes us wait.
fn gone_from_this_host(by: &str, me: &str) -> bool {
    let mut parts = by.splitn(3, '/');
    let (Some(host), Some(pid), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if host != self::host() || by == me {
        return false;
    }
    pid == std::process::id() || !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_process_gone_from_this_host_is_taken_over() {
        let me = holder();
        let here = host();
        // This process under an earlier holder name: a restart that got our pid.
        let earlier = format!("{here}/{}/0badcafe", std::process::id());
        assert!(gone_from_this_host(&earlier, &me));
        // A pid that cannot run (above the kernel's maximum).
        assert!(gone_from_this_host(&format!("{here}/4294967295/1"), &me));
        // Alive: pid 1 always runs.
        assert!(!gone_from_this_host(&format!("{here}/1/1"), &me));
        // Another host, ourselves, or a name we do not understand: wait.
        assert!(!gone_from_this_host("elsewhere/4294967295/1", &me));
        assert!(!gone_from_this_host(&me, &me));
        assert!(!gone_from_this_host("unknown", &me));
    }
}
