//! The running simulator: HTTPS and HTTP listeners for the SOAP services and a third listener for
//! the admin API, all bound to loopback addresses.
//!
//! [`Simulator::start`] builds every part (STS, eHealthBox platform, ETK depot, knobs, request
//! log) from one [`SimConfig`] and returns a [`RunningSimulator`] with the bound addresses and
//! handles to the shared state, so tests can run the simulator in-process.
//!
//! # Layout
//! - `listener`: loopback binding, TLS, the connection loop and graceful shutdown.
//! - `dispatch`: one SOAP call from HTTP request to HTTP response.
//! - [`state_dir`]: the PKI kept in the state folder of `ehealth-sim serve`.

mod dispatch;
mod listener;
pub mod state_dir;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use jiff::SignedDuration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admin::{self, AdminState};
use crate::clock::SimClock;
use crate::ehbox::{Platform, PlatformConfig};
use crate::etk_depot::EtkDepot;
use crate::knobs::Knobs;
use crate::pki::TestPki;
use crate::replay::ReplayCache;
use crate::request_log::{self, RequestLog};
use crate::security::{Authenticator, TimestampPolicy};
use crate::seed;
use crate::soap::Service;
use crate::sts::{Person, Sts, StsConfig};

pub use listener::{ConnectionTimeouts, DropConnection, stopped};

/// Errors of starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(
        "invalid {role} address {address}: the simulator listens on loopback only; \
         use 127.0.0.1:PORT or [::1]:PORT"
    )]
    NotLoopback { role: String, address: SocketAddr },

    #[error("binding the {role} listener on {address} failed: {source}")]
    Bind {
        role: String,
        address: SocketAddr,
        source: std::io::Error,
    },

    #[error(
        "invalid path prefix {0:?}; give an empty prefix or one starting with `/` and not ending with `/`"
    )]
    InvalidPrefix(String),

    #[error("building the TLS server configuration failed: {0}")]
    Tls(rustls::Error),

    #[error("encoding the TLS server key failed: {0}")]
    TlsKey(String),

    #[error("setting up the simulator from the test PKI failed: {0}")]
    Setup(String),
}

/// Everything the simulator needs to start.
#[derive(Debug)]
pub struct SimConfig {
    /// The HTTPS listener address (loopback only); port 0 picks a free port.
    pub https: SocketAddr,
    /// The plain HTTP listener address, if one is wanted.
    pub http: Option<SocketAddr>,
    /// The admin API listener address, if one is wanted.
    pub admin: Option<SocketAddr>,
    /// A path prefix put before every service path, empty or like `/sim`.
    pub path_prefix: String,
    /// The seed of every random choice (fault injection, STS identifiers, generated mail).
    pub seed: u64,
    /// The test PKI: TLS server credential, STS and ETK-RA keys, doctors.
    pub pki: TestPki,
    /// The clock every check and time stamp uses.
    pub clock: Arc<SimClock>,
    /// The number of requests the request log keeps.
    pub request_log_capacity: usize,
    /// The bytes of request and response text the request log keeps.
    pub request_log_bytes: usize,
    /// How long the SOAP listeners wait for slow or stalled clients.
    pub timeouts: ConnectionTimeouts,
    /// When set, every STS token lives exactly this long, to test token expiry.
    pub forced_token_lifetime: Option<SignedDuration>,
}

impl SimConfig {
    /// Creates a configuration that serves HTTPS, HTTP and the admin API on free loopback ports,
    /// with no prefix and a real-time clock.
    pub fn loopback(pki: TestPki, seed: u64) -> Self {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            https: any_port,
            http: Some(any_port),
            admin: Some(any_port),
            path_prefix: String::new(),
            seed,
            pki,
            clock: Arc::new(SimClock::real_time()),
            request_log_capacity: request_log::DEFAULT_CAPACITY,
            request_log_bytes: request_log::DEFAULT_BYTE_BUDGET,
            timeouts: ConnectionTimeouts::default(),
            forced_token_lifetime: None,
        }
    }
}

/// Entry point of the simulator.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Binds the listeners, builds the services and starts serving.
    pub async fn start(config: SimConfig) -> Result<RunningSimulator, ServerError> {
        validate_prefix(&config.path_prefix)?;
        let https_listener = listener::bind_loopback(config.https, "HTTPS").await?;
        let http_listener = match config.http {
            Some(address) => Some(listener::bind_loopback(address, "HTTP").await?),
            None => None,
        };
        let admin_listener = match config.admin {
            Some(address) => Some(listener::bind_loopback(address, "admin").await?),
            None => None,
        };

        let tls = tls_from_pki(&config.pki)?;
        let parts = build_parts(&config)?;
        let authenticator =
            Authenticator::new(parts.sts.certificate_der(), TimestampPolicy::default())
                .map_err(|error| ServerError::Setup(error.to_string()))?
                .with_replay_cache(Arc::clone(&parts.replay));
        let soap_state = Arc::new(dispatch::SoapState::new(&config, &parts, authenticator));

        let (shutdown_sender, shutdown) = watch::channel(false);
        let mut tasks = Vec::new();
        let https = local_address(&https_listener);
        tasks.push(spawn_soap(
            https_listener,
            Some(tls),
            &soap_state,
            config.timeouts,
            &shutdown,
        ));
        let http = http_listener.as_ref().map(local_address);
        if let Some(listener) = http_listener {
            tasks.push(spawn_soap(
                listener,
                None,
                &soap_state,
                config.timeouts,
                &shutdown,
            ));
        }

        let admin_address = admin_listener.as_ref().map(local_address);
        let addresses = Addresses {
            https,
            http,
            admin: admin_address,
            prefix: config.path_prefix.clone(),
        };
        let admin_state = Arc::new(AdminState {
            addresses: addresses.clone(),
            clock: Arc::clone(&config.clock),
            knobs: Arc::clone(&parts.knobs),
            log: Arc::clone(&parts.log),
            replay: Arc::clone(&parts.replay),
            platform: Arc::clone(&parts.platform),
            sts: Arc::clone(&parts.sts),
            pki: Arc::clone(&parts.pki),
            etk_depot: Arc::clone(&parts.etk_depot),
            seed: config.seed,
            batches: AtomicU64::new(0),
        });
        if let Some(listener) = admin_listener {
            tasks.push(admin::spawn(
                listener,
                Arc::clone(&admin_state),
                shutdown.clone(),
            ));
        }

        tracing::info!(%https, ?http, admin = ?admin_address, prefix = %config.path_prefix, "simulator started");
        Ok(RunningSimulator {
            addresses,
            ca_pem: parts.ca_pem,
            clock: config.clock,
            knobs: parts.knobs,
            log: parts.log,
            replay: parts.replay,
            platform: parts.platform,
            sts: parts.sts,
            pki: parts.pki,
            admin: admin_state,
            shutdown: shutdown_sender,
            tasks,
        })
    }
}

/// The addresses a running simulator listens on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Addresses {
    pub https: SocketAddr,
    pub http: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
    /// The path prefix before every service path.
    pub prefix: String,
}

impl Addresses {
    /// Returns the HTTPS URL of `service`, with `localhost` as host name (the name the TLS server
    /// certificate is issued to).
    pub fn https_url(&self, service: Service) -> String {
        format!(
            "https://localhost:{}{}{}",
            self.https.port(),
            self.prefix,
            service.path()
        )
    }

    /// Returns the plain HTTP URL of `service`, if the HTTP listener runs.
    pub fn http_url(&self, service: Service) -> Option<String> {
        self.http
            .map(|address| format!("http://{address}{}{}", self.prefix, service.path()))
    }

    /// Returns the base URL of the admin API, if it runs.
    pub fn admin_url(&self) -> Option<String> {
        self.admin.map(|address| format!("http://{address}"))
    }
}

/// The parts of the simulator shared by the listeners, the admin API and tests.
struct Parts {
    knobs: Arc<Knobs>,
    log: Arc<RequestLog>,
    replay: Arc<ReplayCache>,
    platform: Arc<Mutex<Platform>>,
    sts: Arc<Sts>,
    etk_depot: Arc<EtkDepot>,
    pki: Arc<TestPki>,
    ca_pem: String,
}

/// A started simulator. Dropping it without [`RunningSimulator::shutdown`] leaves the listener
/// tasks running until the tokio runtime ends.
#[derive(Debug)]
pub struct RunningSimulator {
    pub addresses: Addresses,
    /// The PEM of the test root CA, the only anchor clients need to trust the HTTPS listener.
    pub ca_pem: String,
    pub clock: Arc<SimClock>,
    pub knobs: Arc<Knobs>,
    pub log: Arc<RequestLog>,
    /// The signatures already accepted; `replay.set_enabled(false)` lets a test resend requests.
    pub replay: Arc<ReplayCache>,
    pub platform: Arc<Mutex<Platform>>,
    pub sts: Arc<Sts>,
    pub pki: Arc<TestPki>,
    admin: Arc<AdminState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningSimulator {
    /// Returns the admin operations, for tests that drive the simulator without HTTP.
    pub fn admin(&self) -> &AdminState {
        &self.admin
    }

    /// Returns a shared handle to the admin operations, for work moved to another task.
    pub fn admin_state(&self) -> Arc<AdminState> {
        Arc::clone(&self.admin)
    }

    /// Stops accepting connections, lets open requests finish, and waits for the listeners.
    pub async fn shutdown(self) {
        // Receivers live in the listener tasks; if they ended already there is nothing to stop.
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::warn!(%error, "a listener task ended abnormally");
            }
        }
        tracing::info!("simulator stopped");
    }
}

fn validate_prefix(prefix: &str) -> Result<(), ServerError> {
    let valid = prefix.is_empty()
        || (prefix.starts_with('/') && !prefix.ends_with('/') && !prefix.contains(['?', '#', ' ']));
    if valid {
        Ok(())
    } else {
        Err(ServerError::InvalidPrefix(prefix.to_owned()))
    }
}

fn local_address(listener: &tokio::net::TcpListener) -> SocketAddr {
    // A bound TCP listener always has a local address; the fallback is never used.
    listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

fn spawn_soap(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: &Arc<dispatch::SoapState>,
    timeouts: ConnectionTimeouts,
    shutdown: &watch::Receiver<bool>,
) -> JoinHandle<()> {
    let state = Arc::clone(state);
    let handler = move |request| dispatch::handle(Arc::clone(&state), request);
    listener::spawn_accept_loop(listener, tls, handler, timeouts, shutdown.clone())
}

fn tls_from_pki(pki: &TestPki) -> Result<tokio_rustls::TlsAcceptor, ServerError> {
    let chain = vec![
        pki.tls_server.certificate_der().to_vec(),
        pki.issuing.certificate_der().to_vec(),
    ];
    let key = pki
        .tls_server
        .key_pkcs8_der()
        .map_err(|error| ServerError::TlsKey(error.to_string()))?;
    listener::tls_acceptor(&chain, key.as_bytes())
}

fn build_parts(config: &SimConfig) -> Result<Parts, ServerError> {
    let pki = Arc::new(config.pki.clone());
    let setup = |error: &dyn std::fmt::Display| ServerError::Setup(error.to_string());
    let ca_pem = pki.root.certificate_pem().map_err(|error| setup(&error))?;
    let replay = Arc::new(ReplayCache::default());
    let sts = Arc::new(build_sts(&pki, config, &replay).map_err(|error| setup(&error))?);
    let platform_config = PlatformConfig {
        seed: config.seed,
        ..PlatformConfig::default()
    };
    let mut platform = Platform::new(platform_config);
    // The real platform gives every recognised doctor a personal box.
    for doctor in pki
        .doctors
        .iter()
        .filter(|doctor| doctor.spec.recognised_as_doctor)
    {
        seed::create_doctor_box(&mut platform, doctor, None).map_err(|error| setup(&error))?;
    }
    let platform = Arc::new(Mutex::new(platform));
    let etk_depot = Arc::new(EtkDepot::from_pki(&pki).map_err(|error| setup(&error))?);
    Ok(Parts {
        knobs: Arc::new(Knobs::new(config.seed)),
        log: Arc::new(RequestLog::with_byte_budget(
            config.request_log_capacity,
            config.request_log_bytes,
        )),
        replay,
        platform,
        sts,
        etk_depot,
        pki,
        ca_pem,
    })
}

/// Builds the STS: signed by the PKI's STS credential, trusting the PKI's CAs, and certifying the
/// doctor attributes of every PKI doctor recognised as one.
fn build_sts(pki: &TestPki, sim: &SimConfig, replay: &Arc<ReplayCache>) -> Result<Sts, String> {
    let trusted = pki
        .ca_chain()
        .iter()
        .map(|ca| ca.certificate_der().to_vec())
        .collect();
    let mut config = StsConfig::new(
        pki.sts.key().clone(),
        pki.sts.certificate_der().to_vec(),
        trusted,
    );
    config.seed = sim.seed;
    config.forced_token_lifetime = sim.forced_token_lifetime;
    config.replay = Arc::clone(replay);
    for doctor in &pki.doctors {
        let person = Person {
            doctor: doctor.spec.recognised_as_doctor,
            nihii11: doctor
                .spec
                .recognised_as_doctor
                .then(|| doctor.spec.nihii11.clone()),
        };
        config.directory.insert(doctor.spec.ssin.clone(), person);
    }
    Sts::new(config).map_err(|error| error.to_string())
}
