//! Sightline's query API: a thin axum layer over the projections (search,
//! detections, counters, alerts), HTTP ingest into LOGS, an OpenAPI document and
//! the built-in live dashboard page.

mod assess;
pub mod auth;
mod backends;
mod cache;
pub mod error;
pub mod http;
pub mod ingest;
pub mod openapi;
mod page;
pub mod routes;
pub mod state;
pub mod syslog;
pub mod watermark;

use std::future::Future;
use std::net::SocketAddr;

pub use error::ApiError;
pub use state::AppState;

/// What the API listens on: its HTTP listener and the syslog listeners the
/// settings ask for, all bound before anything is announced.
pub struct Bound {
    listener: tokio::net::TcpListener,
    syslog: syslog::Listeners,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Bound {
    /// Where the API listens (the port chosen when 0 was asked for).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where syslog is taken over TCP, if it is.
    pub fn syslog_tcp(&self) -> Option<SocketAddr> {
        self.syslog.tcp
    }
}

/// Binds `addr` for the API (port 0 picks one) and the syslog listeners of the
/// state's settings, and says where they listen.
pub async fn bind(state: &AppState, addr: SocketAddr) -> std::io::Result<Bound> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "API listening");
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let syslog = syslog::start(&state.settings.syslog, state.publisher.clone(), stopping)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("the syslog listener: {e}")))?;
    Ok(Bound {
        listener,
        syslog,
        stop,
    })
}

/// Serves the API (and syslog) on what [`bind`] bound until `shutdown`
/// completes; in-flight requests finish, and received syslog is published, first.
pub async fn serve(
    state: AppState,
    bound: Bound,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if state.keys.is_open() {
        tracing::warn!("api.keys is empty: every route is open to whoever reaches the API");
    }
    let Bound {
        listener,
        syslog,
        stop,
    } = bound;
    state.refresh_marks().await;
    let refresh = state.spawn_refresh();
    let app = routes::router(state);
    let shutdown = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    let served = http::serve(listener, app, shutdown).await;
    refresh.abort();
    syslog.finish(std::time::Duration::from_secs(5)).await;
    served
}
