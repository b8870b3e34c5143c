//! Following blue/green versions: between two batches a worker moves its store to
//! the version a rebuild switched to, and resumes after that version's floor.

use super::{Projection, Worker};
use crate::error::{Error, ErrorKind};
use crate::shutdown::Shutdown;

impl<P: Projection> Worker<P> {
    pub(super) fn version_changed(&self) -> bool {
        self.versions
            .iter()
            .any(|(_, rx, _)| rx.has_changed().unwrap_or(false))
    }

    /// Moves the projection to the version a rebuild switched to.
    pub(super) async fn follow_version(&mut self, shutdown: &mut Shutdown) -> Result<(), Error> {
        for i in 0..self.versions.len() {
            let (part, rx, _) = &mut self.versions[i];
            if !rx.has_changed().unwrap_or(false) {
                continue;
            }
            let (part, version) = (*part, rx.borrow_and_update().version);
            loop {
                match self.projection.follow_part(part, version).await {
                    Err(e) if e.kind() == ErrorKind::Transient && !shutdown.is_tripped() => {
                        tracing::warn!(consumer = %self.spec.consumer, error = %e, "cannot open the new version; retrying");
                        self.pause(shutdown).await;
                    }
                    Err(e) => return Err(e),
                    Ok(()) => break,
                }
            }
            tracing::info!(consumer = %self.spec.consumer, part, version, "following the rebuilt version");
        }
        self.switched = true;
        Ok(())
    }

    /// The last sequence the live version covers from the rebuild (0 without one).
    /// 0 for a fan-out: its parts each take their own floor (see
    /// [`Worker::raise_floors`]), and it starts where the part behind stands.
    pub(super) fn floor(&self) -> u64 {
        if self.projection.parts() > 1 {
            return 0;
        }
        self.versions
            .first()
            .map_or(0, |(_, rx, source)| rx.borrow().floor(*source))
    }

    /// Moves each part of a fan-out that stands below its version's floor up to it,
    /// so it applies nothing the rebuild left out, though the shared consumer may
    /// start lower for the others.
    pub(super) async fn raise_floors(&mut self, shutdown: &mut Shutdown) -> Result<(), Error> {
        if self.projection.parts() <= 1 {
            return Ok(());
        }
        for i in 0..self.versions.len() {
            let (part, rx, source) = &self.versions[i];
            let (part, floor) = (*part, rx.borrow().floor(*source));
            if floor == 0 {
                continue;
            }
            loop {
                match self.projection.raise_part(part, floor).await {
                    Err(e) if e.kind() == ErrorKind::Transient && !shutdown.is_tripped() => {
                        tracing::warn!(consumer = %self.spec.consumer, error = %e, "cannot move a part to its floor; retrying");
                        self.pause(shutdown).await;
                    }
                    other => {
                        other?;
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}
