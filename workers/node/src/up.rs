//! The whole system in one process on the embedded defaults (`sightline up`): the
//! servers with no URL configured as children, the streams, every role and the
//! API. The servers run in their own process group, so a Ctrl-C stops the workers
//! and the API first (each finishing its batch) and the servers last.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sightline_api::AppState;
use sightline_runtime::servers::{self, ChildServer};
use sightline_runtime::shutdown::Trigger;
use sightline_runtime::{topology, Settings, Shutdown};
use tokio::task::JoinSet;

use crate::{roles, Error, ResultExt, Role, UP_METRICS_PORT};

/// How long a child server gets to stop cleanly before it is killed.
const SERVER_GRACE: Duration = Duration::from_secs(10);

/// Where `up` starts what is not configured.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// The API and the page, instead of `api.listen` (port 0 picks one).
    pub listen: Option<SocketAddr>,
    /// The nats-server started when `nats.url` is unset (0 picks one).
    pub nats: u16,
    /// The redis-server started when `redis.url` is unset (0 picks one).
    pub redis: u16,
}

/// Everything running; [`Up::run_until`] runs it until asked to stop or until a
/// part fails.
pub struct Up {
    /// The page (and the API under it).
    pub dashboard: String,
    pub nats: String,
    /// The Redis URL when `up` started the server (a configured one may carry a
    /// password, so it is not given back).
    pub started_redis: Option<String>,
    pub data_dir: PathBuf,
    children: Vec<ChildServer>,
    tasks: JoinSet<Result<&'static str, Error>>,
    trigger: Trigger,
    shutdown: Shutdown,
}

impl Up {
    /// Starts the servers, the streams, every role and the API.
    pub async fn start(mut settings: Settings, ports: Ports) -> Result<Self, Error> {
        if let Some(addr) = ports.listen {
            settings.api.listen = addr;
        }
        std::fs::create_dir_all(&settings.data_dir)
            .map_err(|e| Error::io(format!("creating {}", settings.data_dir.display()), e))?;
        let configured_redis = settings.redis.url.is_some();
        let mut children = start_servers(&mut settings, ports)?;
        let started_redis = (!configured_redis)
            .then(|| settings.redis.url.as_ref().map(|u| u.0.clone()))
            .flatten();
        match Self::start_parts(settings, started_redis, &mut children).await {
            Ok(up) => Ok(up),
            Err(e) => {
                stop_servers(&mut children);
                Err(e)
            }
        }
    }

    async fn start_parts(
        settings: Settings,
        started_redis: Option<String>,
        children: &mut Vec<ChildServer>,
    ) -> Result<Self, Error> {
        let bus = crate::connect(&settings).await?;
        topology::apply(&bus, &settings.streams, false)
            .await
            .context("applying the streams")?;
        let health = roles::serve_metrics(&settings, UP_METRICS_PORT).await?;
        let (trigger, shutdown) = Shutdown::new();
        let mut tasks = JoinSet::new();
        {
            let (settings, health, shutdown) = (settings.clone(), health.clone(), shutdown.clone());
            tasks.spawn(async move {
                roles::run(&Role::ALL, settings, health, shutdown)
                    .await
                    .context("the workers")?;
                Ok("workers")
            });
        }
        let state = AppState::connect(settings.clone())
            .await
            .map_err(|e| Error::Api(e.message))?;
        let bound = sightline_api::bind(&state, settings.api.listen)
            .await
            .map_err(|e| Error::io(format!("listening on {}", settings.api.listen), e))?;
        let local = bound
            .local_addr()
            .map_err(|e| Error::io("the API's address", e))?;
        let mut api_shutdown = shutdown.clone();
        tasks.spawn(async move {
            sightline_api::serve(state, bound, async move { api_shutdown.tripped().await })
                .await
                .map_err(|e| Error::io("the API", e))?;
            Ok("api")
        });
        Ok(Self {
            dashboard: format!("http://{local}/"),
            nats: settings.nats.url.clone().unwrap_or_default(),
            started_redis,
            data_dir: settings.data_dir.clone(),
            children: std::mem::take(children),
            tasks,
            trigger,
            shutdown,
        })
    }

    /// Runs until `stop` completes (`sightline up`: a signal), or until a part
    /// stops or fails, which stops the rest; the workers finish their batch, then
    /// the servers stop. The first failure is the answer.
    pub async fn run_until(mut self, stop: impl Future<Output = ()>) -> Result<(), Error> {
        tokio::pin!(stop);
        let mut first_error = None;
        loop {
            let joined = tokio::select! {
                _ = &mut stop, if !self.shutdown.is_tripped() => {
                    tracing::info!("stopping: workers finish their batch, then the servers stop");
                    self.trigger.trip();
                    continue;
                }
                joined = self.tasks.join_next() => joined,
            };
            let Some(joined) = joined else { break };
            let outcome = joined
                .map_err(|e| Error::config(format!("a part panicked: {e}")))
                .and_then(|r| r);
            if !self.shutdown.is_tripped() {
                match &outcome {
                    Err(e) => tracing::error!(error = %e, "a part stopped; stopping the rest"),
                    Ok(part) => {
                        tracing::error!(part, "a part stopped on its own; stopping the rest")
                    }
                }
                self.trigger.trip();
            }
            if let Err(e) = outcome {
                first_error.get_or_insert(e);
            }
        }
        stop_servers(&mut self.children);
        first_error.map_or(Ok(()), Err)
    }
}

/// The servers, in reverse order of starting.
fn stop_servers(children: &mut Vec<ChildServer>) {
    while let Some(mut server) = children.pop() {
        server.stop(SERVER_GRACE);
    }
}

/// Starts nats-server and redis-server for what has no URL configured.
fn start_servers(settings: &mut Settings, ports: Ports) -> Result<Vec<ChildServer>, Error> {
    let mut children = Vec::new();
    let hint = "install it with ops/install.sh, or configure a server URL";
    if settings.nats.url.is_none() {
        let bin = servers::find_binary("nats-server", settings.servers.nats_server.as_deref())
            .context(hint)?;
        let nats = servers::start_nats(&bin, &settings.data_dir, ports.nats)
            .with_context(|| format!("starting nats-server on port {}", ports.nats))?;
        settings.nats.url = Some(format!("nats://{}", nats.addr()));
        children.push(nats);
    }
    if settings.redis.url.is_none() {
        let bin = servers::find_binary("redis-server", settings.servers.redis_server.as_deref())
            .context(hint);
        let redis = bin.and_then(|bin| {
            servers::start_redis(&bin, &settings.data_dir, ports.redis, true)
                .with_context(|| format!("starting redis-server on port {}", ports.redis))
        });
        let redis = match redis {
            Ok(redis) => redis,
            Err(e) => {
                stop_servers(&mut children);
                return Err(e);
            }
        };
        settings.redis.url = Some(sightline_runtime::config::Secret(format!(
            "redis://{}",
            redis.addr()
        )));
        children.push(redis);
    }
    Ok(children)
}
