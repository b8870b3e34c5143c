//! Following blue/green versions: between two batches a worker moves its store to
//! the version a rebuild switched to, and resumes after that version's floor.

use super::{Projection, Worker};
use crate::error::{Error, ErrorKind};
use crate::shutdown::Shutdown;

impl<P: Projection> Worker<P> {
    pub(super) fn version_changed(&self) -> bool {
        self.version
            .as_ref()
            .is_some_and(|(rx, _)| rx.has_changed().unwrap_or(false))
    }

    /// Moves the projection to the version a rebuild switched to.
    pub(super) async fn follow_version(&mut self, shutdown: &mut Shutdown) -> Result<(), Error> {
        let Some((rx, _)) = self.version.as_mut() else {
            return Ok(());
        };
        let version = rx.borrow_and_update().version;
        loop {
            match self.projection.follow(version).await {
                Err(e) if e.kind() == ErrorKind::Transient && !shutdown.is_tripped() => {
                    tracing::warn!(consumer = %self.spec.consumer, error = %e, "cannot open the new version; retrying");
                    self.pause(shutdown).await;
                }
                Err(e) => return Err(e),
                Ok(()) => break,
            }
        }
        tracing::info!(consumer = %self.spec.consumer, version, "following the rebuilt version");
        self.switched = true;
        Ok(())
    }

    /// The last sequence the live version covers from the rebuild (0 without one).
    pub(super) fn floor(&self) -> u64 {
        self.version
            .as_ref()
            .map_or(0, |(rx, source)| rx.borrow().floor(*source))
    }
}
