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

/// Serves the API on `listener` until `shutdown` completes; in-flight requests
/// finish first.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if state.keys.is_open() {
        tracing::warn!("api.keys is empty: every route is open to whoever reaches the API");
    }
    let (stop, stopping) = tokio::sync::watch::channel(false);
    // Bound before serving, so a port in use stops the API with a clear error.
    let syslog = syslog::start(&state.settings.syslog, state.publisher.clone(), stopping)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("the syslog listener: {e}")))?;
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

/// Binds the configured address (port 0 picks one) and says where it listens.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "API listening");
    Ok(listener)
}
