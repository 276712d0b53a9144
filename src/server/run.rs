//! Process life cycle: open the store, bind, serve until SIGTERM/SIGINT, drain in-flight
//! requests, close the store.

use crate::config::{Config, LogFormat};
use crate::promql::Engine;
use crate::server::duration::format_prom_duration;
use crate::server::info::ServerInfo;
use crate::server::logfmt::Logfmt;
use crate::server::selfmon::SelfMetrics;
use crate::server::{AppState, router};
use crate::storage::{Storage, StorageError};
use std::future::{Future, IntoFuture};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::net::TcpListener;

/// How long in-flight requests may run on after a shutdown signal.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

/// Sets up structured logs on stderr: logfmt (Prometheus' and Loki's default) or JSON.
pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::new(config.log_level.as_str());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second initialisation (tests) keeps the first subscriber.
    let _ = match config.log_format {
        LogFormat::Logfmt => builder.event_format(Logfmt).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Resolves when the process is asked to stop (SIGINT, or SIGTERM on Unix).
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("received SIGINT, shutting down"),
        _ = terminate => tracing::info!("received SIGTERM, shutting down"),
    }
}

/// Serves on an already bound listener until `shutdown` resolves, then stops accepting,
/// lets in-flight requests finish and closes the store.
pub async fn serve(
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let storage = Storage::open(config.storage.clone()).await?;
    let state = AppState {
        storage: Arc::clone(&storage),
        engine: Arc::new(Engine::new(config.engine.clone())),
        limits: Arc::new(config.limits.clone()),
    };
    let info = Arc::new(ServerInfo {
        start_time: SystemTime::now(),
        config_loaded_at: SystemTime::now(),
        config_yaml: config.to_yaml(),
        flags: config.flags(),
        storage_retention: format_prom_duration(config.storage.retention_ms),
    });
    let app = router::build(state, info, Arc::new(SelfMetrics::default()));
    let address = listener.local_addr().map_err(RunError::Serve)?;
    // Tests and scripts read the bound port from this line; keep its wording.
    tracing::info!("listening on {address}");
    let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = stopping_tx.send(true);
    };
    let serving = axum::serve(listener, app).with_graceful_shutdown(signal).into_future();
    // Once stopping, in-flight requests get a bounded time to finish; a client that holds a
    // connection open must not keep the store from being closed.
    let drain_deadline = async move {
        if stopping_rx.wait_for(|stopping| *stopping).await.is_err() {
            // The server finished without a signal; nothing to time out.
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(DRAIN_TIMEOUT).await;
    };
    let served = tokio::select! {
        served = serving => served,
        _ = drain_deadline => {
            tracing::warn!("requests still running after {}s, closing anyway", DRAIN_TIMEOUT.as_secs());
            Ok(())
        }
    };
    tracing::info!("stopped accepting requests, closing storage");
    let closed = storage.close().await;
    served.map_err(RunError::Serve)?;
    closed?;
    tracing::info!("shutdown complete");
    Ok(())
}

/// Binds the configured address and serves until a signal arrives.
pub async fn run(config: Config) -> Result<(), RunError> {
    let listener = TcpListener::bind(&config.listen_address)
        .await
        .map_err(|source| RunError::Bind {
            address: config.listen_address.clone(),
            source,
        })?;
    serve(&config, listener, shutdown_signal()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_until_told_to_stop() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().display().to_string();
        let config =
            Config::load_from(["heimsight", "--storage.path", &data, "--web.listen-address=127.0.0.1:0"]).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            serve(&config, listener, async {
                let _ = stopped.await;
            })
            .await
        });
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.ends_with("ready\n"), "{reply}");
        stop.send(()).unwrap();
        let result = tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap();
        assert!(result.is_ok(), "{result:?}");
    }
}
