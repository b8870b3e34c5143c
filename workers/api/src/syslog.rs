//! The syslog listener: TCP (RFC 6587 framing) and UDP, where `[syslog]` says.
//! Every message becomes a `log` event (see `sightline_ingest::syslog`); a
//! batcher publishes them to LOGS through the Publisher. When the bus is down the
//! batch is retried, the channel fills and TCP senders are held back (their
//! kernel buffers, then their own queues, keep the messages); UDP has no way to
//! hold a sender back, so datagrams that find the channel full are dropped and
//! counted.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use prometheus::IntCounterVec;
use sightline_ingest::syslog::{self, Framer};
use sightline_runtime::config::SyslogSettings;
use sightline_runtime::publisher::Publisher;
use sightline_runtime::ErrorKind;
use sightline_schemas::{Event, OffsetDateTime};
use time::UtcOffset;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

/// Messages waiting for the batcher at most.
const QUEUE: usize = 10_000;
/// Largest UDP datagram read (RFC 5426 senders stay well under it).
const MAX_DATAGRAM: usize = 65_535;

fn messages() -> &'static IntCounterVec {
    static METRIC: OnceLock<IntCounterVec> = OnceLock::new();
    METRIC.get_or_init(|| {
        let c = IntCounterVec::new(
            prometheus::Opts::new(
                "sightline_syslog_messages_total",
                "Syslog messages by transport and outcome (published, refused, dropped)",
            ),
            &["transport", "outcome"],
        )
        .expect("valid metric");
        sightline_runtime::metrics::registry()
            .register(Box::new(c.clone()))
            .expect("metric registered once");
        c
    })
}

/// The running listeners; dropping it stops them.
pub struct Listeners {
    pub tcp: Option<SocketAddr>,
    pub udp: Option<SocketAddr>,
    tasks: JoinSet<()>,
}

impl Listeners {
    /// Waits (at most `patience`) for the listeners to hand over what they read
    /// and the batcher to publish it; call after `stop` turned true.
    pub async fn finish(mut self, patience: Duration) {
        let drained = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(patience, drained).await.is_err() {
            tracing::warn!("syslog: messages still unpublished at shutdown were dropped");
        }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

/// Binds what `settings` asks for and starts taking messages; nothing when
/// neither address is set. Stops taking new messages when `stop` turns true,
/// publishing what it holds.
pub async fn start(
    settings: &SyslogSettings,
    publisher: Publisher,
    stop: watch::Receiver<bool>,
) -> std::io::Result<Listeners> {
    let zone = sightline_ingest::parse_utc_offset(&settings.rfc3164_offset).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "syslog.rfc3164_offset `{}` is not an offset such as +01:00",
                settings.rfc3164_offset
            ),
        )
    })?;
    let mut listeners = Listeners {
        tcp: None,
        udp: None,
        tasks: JoinSet::new(),
    };
    if settings.tcp.is_none() && settings.udp.is_none() {
        return Ok(listeners);
    }
    let (tx, rx) = mpsc::channel::<(&'static str, Event)>(QUEUE);
    if let Some(addr) = settings.tcp {
        let listener = TcpListener::bind(addr).await?;
        listeners.tcp = Some(listener.local_addr()?);
        tracing::info!(addr = %listeners.tcp.unwrap_or(addr), "syslog listening over TCP");
        let limit = settings.max_connections.max(1);
        listeners
            .tasks
            .spawn(accept(listener, tx.clone(), zone, limit, stop.clone()));
    }
    if let Some(addr) = settings.udp {
        let socket = UdpSocket::bind(addr).await?;
        listeners.udp = Some(socket.local_addr()?);
        tracing::info!(addr = %listeners.udp.unwrap_or(addr), "syslog listening over UDP");
        listeners
            .tasks
            .spawn(datagrams(socket, tx.clone(), zone, stop.clone()));
    }
    drop(tx);
    let (size, linger) = (settings.batch_size.max(1), settings.batch_linger);
    listeners.tasks.spawn(batches(rx, publisher, size, linger));
    Ok(listeners)
}

async fn accept(
    listener: TcpListener,
    tx: mpsc::Sender<(&'static str, Event)>,
    zone: UtcOffset,
    limit: usize,
    mut stop: watch::Receiver<bool>,
) {
    let slots = std::sync::Arc::new(Semaphore::new(limit));
    let mut connections = JoinSet::new();
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let tx = tx.clone();
                connections.spawn(async move {
                    read_stream(stream, peer, tx, zone).await;
                    drop(permit);
                });
            }
            Err(e) => tracing::warn!(error = %e, "syslog: accepting a TCP connection failed"),
        }
    }
    // Connections still open finish what they have sent; new data is not awaited.
    connections.abort_all();
}

async fn read_stream(
    mut stream: tokio::net::TcpStream,
    peer: SocketAddr,
    tx: mpsc::Sender<(&'static str, Event)>,
    zone: UtcOffset,
) {
    let mut framer = Framer::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "syslog: a TCP connection failed");
                break;
            }
        };
        for frame in framer.push(&buf[..read]) {
            let event = syslog::event(&frame, OffsetDateTime::now_utc(), zone);
            // Waiting here is the back pressure: the sender's writes block.
            if tx.send(("tcp", event)).await.is_err() {
                return;
            }
        }
    }
    if let Some(frame) = framer.finish() {
        let _ = tx
            .send((
                "tcp",
                syslog::event(&frame, OffsetDateTime::now_utc(), zone),
            ))
            .await;
    }
}

async fn datagrams(
    socket: UdpSocket,
    tx: mpsc::Sender<(&'static str, Event)>,
    zone: UtcOffset,
    mut stop: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let received = tokio::select! {
            received = socket.recv_from(&mut buf) => received,
            _ = stop.wait_for(|s| *s) => return,
        };
        let Ok((n, _)) = received else { continue };
        let event = syslog::event(&buf[..n], OffsetDateTime::now_utc(), zone);
        if tx.try_send(("udp", event)).is_err() {
            messages().with_label_values(&["udp", "dropped"]).inc();
        }
    }
}

/// Publishes what the listeners hand over, in batches; a batch the bus refuses
/// as a whole is retried until it is taken.
async fn batches(
    mut rx: mpsc::Receiver<(&'static str, Event)>,
    publisher: Publisher,
    size: usize,
    linger: Duration,
) {
    let mut batch = Vec::with_capacity(size);
    loop {
        let Some(first) = rx.recv().await else { break };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + linger;
        while batch.len() < size {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(item)) => batch.push(item),
                Ok(None) | Err(_) => break,
            }
        }
        publish(&publisher, &mut batch).await;
    }
    if !batch.is_empty() {
        publish(&publisher, &mut batch).await;
    }
}

async fn publish(publisher: &Publisher, batch: &mut Vec<(&'static str, Event)>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match try_publish(publisher, batch).await {
            Ok(()) => {
                batch.clear();
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "syslog: publishing a batch failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Events already stored when a batch is retried are de-duplicated by LOGS (the
/// same ids are sent again).
async fn try_publish(
    publisher: &Publisher,
    batch: &[(&'static str, Event)],
) -> Result<(), sightline_runtime::Error> {
    let mut pipeline = publisher.pipeline();
    let mut outcomes = Vec::with_capacity(batch.len());
    for (transport, event) in batch {
        match pipeline.send(event).await {
            Ok(()) => outcomes.push((*transport, "published")),
            Err(e) if e.kind() == ErrorKind::Poison => {
                tracing::warn!(transport, error = %e, "syslog: a message was refused");
                outcomes.push((*transport, "refused"));
            }
            Err(e) => return Err(e),
        }
    }
    pipeline.finish().await?;
    for (transport, outcome) in outcomes {
        messages().with_label_values(&[transport, outcome]).inc();
    }
    Ok(())
}
