//! Graceful shutdown: SIGINT or SIGTERM (or a test) trips a [`Shutdown`] that
//! every long-running loop watches.

use tokio::sync::watch;

#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// Trips the [`Shutdown`]s made from it.
pub struct Trigger(watch::Sender<bool>);

impl Trigger {
    pub fn trip(&self) {
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    pub fn new() -> (Trigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (Trigger(tx), Shutdown(rx))
    }

    /// A shutdown tripped by SIGINT or SIGTERM.
    pub fn on_signals() -> Shutdown {
        let (trigger, shutdown) = Shutdown::new();
        tokio::spawn(async move {
            signalled().await;
            tracing::info!("shutdown requested; finishing the batch in flight");
            trigger.trip();
        });
        shutdown
    }

    pub fn is_tripped(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once tripped (or once the trigger is gone).
    pub async fn tripped(&mut self) {
        let _ = self.0.wait_for(|v| *v).await;
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn signalled() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
