//! Loopback listeners: binding, TLS, the HTTP/1.1 connection loop and graceful shutdown.
//!
//! The SOAP endpoints run on hyper directly, not through a router, because a fault injection must
//! be able to close a connection without sending any response. A hyper service that returns an
//! error does exactly that.
//!
//! # Slow and stalled clients
//!
//! A client that opens connections and then sends nothing, or sends its request a few bytes at a
//! time, must not hold the simulator's connections forever. [`ConnectionTimeouts`] bounds the TLS
//! handshake and the request headers here (hyper closes the connection when the headers are late,
//! and it also waits no longer than that for the next request on an idle kept-alive connection),
//! and the request body in `dispatch` (which responds with 408 and closes the connection).
//!
//! NOTE: a client that stops reading a response keeps its connection until the simulator shuts
//! down; hyper has no write timeout.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use super::ServerError;

/// How long shutdown waits for open connections to finish their current request.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the SOAP listeners wait for a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    /// The TLS handshake of an accepted HTTPS connection. Default 10 seconds.
    pub tls_handshake: Duration,
    /// The request line and headers of each request, from when the connection waits for it.
    /// Default 30 seconds.
    pub request_header: Duration,
    /// The whole request body, from when its headers arrived. Default 60 seconds, time for a
    /// 16 MB body at about 2 Mbit/s.
    pub request_body: Duration,
}

impl Default for ConnectionTimeouts {
    fn default() -> Self {
        Self {
            tls_handshake: Duration::from_secs(10),
            request_header: Duration::from_secs(30),
            request_body: Duration::from_secs(60),
        }
    }
}

/// The error a SOAP service returns to make hyper close the connection without a response.
#[derive(Debug, thiserror::Error)]
#[error("connection closed without a response by a fault injection")]
pub struct DropConnection;

/// Binds a TCP listener on `address`, which must be a loopback address.
pub async fn bind_loopback(address: SocketAddr, role: &str) -> Result<TcpListener, ServerError> {
    if !address.ip().is_loopback() {
        return Err(ServerError::NotLoopback {
            role: role.to_owned(),
            address,
        });
    }
    TcpListener::bind(address)
        .await
        .map_err(|source| ServerError::Bind {
            role: role.to_owned(),
            address,
            source,
        })
}

/// Builds the TLS acceptor (TLS 1.2 and 1.3, no client certificate) for the HTTPS listener.
pub fn tls_acceptor(
    chain_der: &[Vec<u8>],
    key_pkcs8_der: &[u8],
) -> Result<TlsAcceptor, ServerError> {
    let chain = chain_der
        .iter()
        .map(|der| CertificateDer::from(der.clone()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8_der.to_vec()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());

    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(ServerError::Tls)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(ServerError::Tls)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves HTTP/1.1 connections from `listener` (through TLS when `tls` is given) until `shutdown`
/// turns true, then lets open connections finish their current request.
pub fn spawn_accept_loop<H, F>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    handler: H,
    timeouts: ConnectionTimeouts,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()>
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<Body>, DropConnection>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let connection = serve_connection(
                            stream,
                            peer,
                            tls.clone(),
                            handler.clone(),
                            timeouts,
                            shutdown.clone(),
                        );
                        connections.spawn(connection);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                _ = stopped(shutdown.clone()) => break,
            }
        }

        drop(listener);
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while connections.join_next().await.is_some() {}
        });
        if drained.await.is_err() {
            tracing::warn!(
                open = connections.len(),
                "closing connections still open after the drain timeout"
            );
            connections.abort_all();
        }
    })
}

async fn serve_connection<H, F>(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    handler: H,
    timeouts: ConnectionTimeouts,
    shutdown: watch::Receiver<bool>,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<Body>, DropConnection>> + Send + 'static,
{
    let Some(acceptor) = tls else {
        return run_http1(TokioIo::new(stream), handler, timeouts, shutdown).await;
    };
    match tokio::time::timeout(timeouts.tls_handshake, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => run_http1(TokioIo::new(stream), handler, timeouts, shutdown).await,
        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
        Err(_) => tracing::info!(
            %peer,
            timeout = ?timeouts.tls_handshake,
            "TLS handshake timed out; connection closed"
        ),
    }
}

async fn run_http1<I, H, F>(
    io: I,
    handler: H,
    timeouts: ConnectionTimeouts,
    shutdown: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<Body>, DropConnection>> + Send + 'static,
{
    let service = hyper::service::service_fn(handler);
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.request_header)
        .serve_connection(io, service);
    tokio::pin!(connection);

    tokio::select! {
        result = connection.as_mut() => log_connection_end(result),
        _ = stopped(shutdown) => {
            connection.as_mut().graceful_shutdown();
            log_connection_end(connection.await);
        }
    }
}

/// Resolves once the shutdown flag is true, or when its sender is gone.
pub async fn stopped(mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

fn log_connection_end(result: Result<(), hyper::Error>) {
    match result {
        Ok(()) => {}
        Err(error) if error.is_timeout() => {
            tracing::info!(%error, "request headers timed out; connection closed")
        }
        Err(error) => tracing::debug!(%error, "connection ended with an error"),
    }
}
