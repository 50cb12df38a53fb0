//! The admin API: a JSON-over-HTTP interface, on its own loopback listener, to drive and observe
//! the simulator (create boxes, seed and send messages, read box state, set knobs, move the clock,
//! list issued tokens, read the request log).
//!
//! Every route is under `/admin/v1`. Errors come back as `{"error": "..."}` with a 4xx status.
//! The same operations are methods of [`AdminState`], for tests that skip HTTP.
//!
//! | method and path | body or query | effect |
//! |---|---|---|
//! | `GET /status` | | addresses, seed, doctors |
//! | `GET /boxes` | | every box with its counts |
//! | `POST /boxes` | [`CreateBox`] | creates a doctor's personal box |
//! | `GET /boxes/{id_type}/{id}/{quality}` | | the box with its messages |
//! | `POST /boxes/{id_type}/{id}/{quality}/messages` | [`SeedMessages`] | delivers generated, sealed messages |
//! | `POST /messages` | [`NewMessage`] | delivers a message as given |
//! | `POST /send` | [`SendGenerated`] | delivers one generated message |
//! | `GET /knobs` | | [`KnobsView`] |
//! | `POST /knobs/faults` | [`FaultRule`] | adds a fault injection rule |
//! | `DELETE /knobs/faults` | | removes every rule |
//! | `PUT /knobs/latency` | [`SetLatency`] | latency per operation |
//! | `PUT /knobs/binary` | [`SetBinary`] | binary mode and double base64 |
//! | `PUT /knobs/checks` | [`SetChecks`] | turns the SOAPAction and replay checks on or off |
//! | `PUT /knobs/token-lifetime` | [`SetTokenLifetime`] | forces the STS token lifetime |
//! | `POST /knobs/index-shift` | [`IndexShift`] | a message arrives after the next list page |
//! | `GET /clock`, `POST /clock` | [`MoveClock`] | reads, advances or freezes the clock |
//! | `GET /tokens` | | tokens the STS issued |
//! | `GET /requests` | `?after=N&limit=M` | the request log |

pub mod client;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::{Clock, SimClock};
use crate::ehbox::{BoxKey, BoxState, NewMessage, Platform, PlatformError};
use crate::etk_depot::EtkDepot;
use crate::knobs::{FaultRule, KnobError, KnobSnapshot, Knobs};
use crate::pki::TestPki;
use crate::replay::ReplayCache;
use crate::request_log::{RequestLog, RequestRecord};
use crate::seed::{self, SeedError, SeedReport};
use crate::server::Addresses;
use crate::soap::BinaryMode;
use crate::sts::Sts;

/// The prefix of every admin route.
pub const ADMIN_PREFIX: &str = "/admin/v1";

/// The maximum number of records one `GET /requests` returns.
const MAX_LOG_PAGE: usize = 1_000;

/// Errors of admin operations; each maps to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("box {0} not found; list boxes with GET /admin/v1/boxes")]
    UnknownBox(BoxKey),
    #[error(transparent)]
    Knob(#[from] KnobError),
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("the admin operation failed: {0}")]
    Internal(String),
}

impl AdminError {
    fn status(&self) -> StatusCode {
        match self {
            AdminError::UnknownBox(_) | AdminError::Seed(SeedError::UnknownDoctor(_)) => {
                StatusCode::NOT_FOUND
            }
            AdminError::Platform(PlatformError::UnknownBox(_)) => StatusCode::NOT_FOUND,
            AdminError::Seed(_) | AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.to_string() }));
        (self.status(), body).into_response()
    }
}

/// Everything the admin API reaches.
#[derive(Debug)]
pub struct AdminState {
    pub addresses: Addresses,
    pub clock: Arc<SimClock>,
    pub knobs: Arc<Knobs>,
    pub log: Arc<RequestLog>,
    pub replay: Arc<ReplayCache>,
    pub platform: Arc<Mutex<Platform>>,
    pub sts: Arc<Sts>,
    pub pki: Arc<TestPki>,
    pub etk_depot: Arc<EtkDepot>,
    pub seed: u64,
    /// Counts generated-mail batches, so each batch draws different messages.
    pub batches: AtomicU64,
}

/// `POST /boxes`: create the personal box of a doctor of the test PKI.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateBox {
    pub ssin: String,
    /// `MaxSize` in bytes; the platform default when absent.
    #[serde(default)]
    pub max_size: Option<u64>,
}

/// `POST /boxes/.../messages`: deliver generated, sealed messages to a doctor's box.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedMessages {
    pub count: usize,
}

/// `POST /send`: deliver one generated message to a doctor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendGenerated {
    pub to: String,
}

/// `PUT /knobs/latency`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetLatency {
    /// The operation name, or `*` for every operation.
    pub operation: String,
    pub millis: u64,
}

/// `PUT /knobs/binary`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetBinary {
    #[serde(default)]
    pub mode: Option<BinaryMode>,
    #[serde(default)]
    pub double_base64: Option<bool>,
}

/// `PUT /knobs/checks`: an absent field leaves its check as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetChecks {
    /// Whether the SOAPAction header must name the Body's operation.
    #[serde(default)]
    pub soap_action: Option<bool>,
    /// Whether a signature accepted before is rejected as a replay.
    #[serde(default)]
    pub replay: Option<bool>,
}

/// `PUT /knobs/token-lifetime`: `null` gives the STS its normal policy back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetTokenLifetime {
    pub seconds: Option<u64>,
}

/// `POST /knobs/index-shift`: a generated message for `ssin` arrives right after the next
/// getMessagesList page served for that box, shifting every later index by one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexShift {
    pub ssin: String,
}

/// `POST /clock`: advance by `advance_seconds` (may be negative), or freeze at `freeze_at`
/// (the current time when `freeze_at` is `"now"`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MoveClock {
    #[serde(default)]
    pub advance_seconds: Option<i64>,
    #[serde(default)]
    pub freeze_at: Option<String>,
}

/// `GET /knobs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KnobsView {
    #[serde(flatten)]
    pub knobs: KnobSnapshot,
    /// Whether a signature accepted before is rejected as a replay.
    pub replay_check: bool,
    pub now: Timestamp,
}

/// One line of `GET /boxes`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BoxSummary {
    pub key: BoxKey,
    pub owner: Option<String>,
    pub max_size: u64,
    pub current_size: u64,
    pub messages: usize,
    pub inbox: usize,
    pub standby: usize,
}

/// `GET /status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub addresses: Addresses,
    pub seed: u64,
    pub now: Timestamp,
    pub doctors: Vec<DoctorView>,
}

/// A doctor of the test PKI.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DoctorView {
    pub ssin: String,
    pub nihii11: String,
    pub first_name: String,
    pub last_name: String,
    pub recognised_as_doctor: bool,
    pub keystore: String,
}

/// A token the STS issued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenView {
    pub assertion_id: String,
    pub ssin: String,
    pub issued_at: Timestamp,
    pub not_before: Timestamp,
    pub not_on_or_after: Timestamp,
    pub holder_of_key_subject: String,
}

impl AdminState {
    fn platform(&self) -> MutexGuard<'_, Platform> {
        // A poisoned lock only means a request panicked while holding it; the state is still usable.
        self.platform
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn status(&self) -> Status {
        let doctors = self
            .pki
            .doctors
            .iter()
            .map(|doctor| DoctorView {
                ssin: doctor.spec.ssin.clone(),
                nihii11: doctor.spec.nihii11.clone(),
                first_name: doctor.spec.first_name.clone(),
                last_name: doctor.spec.last_name.clone(),
                recognised_as_doctor: doctor.spec.recognised_as_doctor,
                keystore: doctor.keystore.file_name.clone(),
            })
            .collect();
        Status {
            addresses: self.addresses.clone(),
            seed: self.seed,
            now: self.clock.now(),
            doctors,
        }
    }

    /// Lists every box with its counts.
    pub fn boxes(&self) -> Vec<BoxSummary> {
        let platform = self.platform();
        platform
            .box_keys()
            .into_iter()
            .filter_map(|key| platform.box_state(&key))
            .map(|state| summarise(&state))
            .collect()
    }

    /// Creates the personal box of a PKI doctor (nothing happens if it exists).
    pub fn create_box(&self, request: &CreateBox) -> Result<BoxSummary, AdminError> {
        let doctor = self
            .pki
            .doctor(&request.ssin)
            .ok_or_else(|| SeedError::UnknownDoctor(request.ssin.clone()))?;
        let key = seed::create_doctor_box(&mut self.platform(), doctor, request.max_size)?;
        self.box_summary(&key)
    }

    pub fn box_state(&self, key: &BoxKey) -> Result<BoxState, AdminError> {
        self.platform()
            .box_state(key)
            .ok_or_else(|| AdminError::UnknownBox(key.clone()))
    }

    fn box_summary(&self, key: &BoxKey) -> Result<BoxSummary, AdminError> {
        self.box_state(key).map(|state| summarise(&state))
    }

    /// Creates a box for every recognised doctor and fills the practice doctors' boxes with
    /// generated, sealed mail.
    pub fn seed_practice(&self) -> Result<SeedReport, AdminError> {
        let now = self.clock.now();
        let report = seed::seed_practice(
            &self.pki,
            &self.etk_depot,
            &mut self.platform(),
            self.seed,
            now,
        )?;
        Ok(report)
    }

    /// Delivers `count` generated, sealed messages to the personal box of doctor `ssin`.
    pub fn seed_messages(&self, ssin: &str, count: usize) -> Result<SeedReport, AdminError> {
        if count == 0 || count > 10_000 {
            return Err(AdminError::Invalid(format!(
                "count {count} must be from 1 to 10000"
            )));
        }
        let messages = self.generate(ssin, count)?;
        let now = self.clock.now();
        Ok(seed::deliver(&mut self.platform(), messages, now)?)
    }

    /// Delivers a message exactly as given.
    pub fn deliver(&self, message: NewMessage) -> Result<SeedReport, AdminError> {
        let now = self.clock.now();
        Ok(seed::deliver(&mut self.platform(), vec![message], now)?)
    }

    /// Makes a generated message for `ssin` arrive right after the next list page of their box.
    pub fn inject_index_shift(&self, ssin: &str) -> Result<(), AdminError> {
        let message = self.generate(ssin, 1)?.remove(0);
        self.platform()
            .inject_after_next_list_page(seed::doctor_box(ssin), message)?;
        Ok(())
    }

    fn generate(&self, ssin: &str, count: usize) -> Result<Vec<NewMessage>, AdminError> {
        if self.pki.doctor(ssin).is_none() {
            return Err(SeedError::UnknownDoctor(ssin.to_owned()).into());
        }
        let batch = self.batches.fetch_add(1, Ordering::Relaxed) + 1;
        let seed = self
            .seed
            .wrapping_add(batch.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let now = self.clock.now();
        let messages = seed::generate_messages(
            &self.pki,
            &self.etk_depot,
            &[ssin.to_owned()],
            count,
            seed,
            now,
        )?;
        if messages.is_empty() {
            return Err(AdminError::Invalid(format!(
                "the mail generator produced no message for {ssin}"
            )));
        }
        Ok(messages)
    }

    pub fn knobs(&self) -> KnobsView {
        KnobsView {
            knobs: self.knobs.snapshot(),
            replay_check: self.replay.is_enabled(),
            now: self.clock.now(),
        }
    }

    /// Turns the SOAPAction and replay checks on or off.
    pub fn set_checks(&self, request: &SetChecks) {
        if let Some(enabled) = request.soap_action {
            self.knobs.set_soap_action_check(enabled);
        }
        if let Some(enabled) = request.replay {
            self.replay.set_enabled(enabled);
        }
    }

    pub fn set_binary(&self, request: &SetBinary) {
        if let Some(mode) = request.mode {
            self.knobs.set_binary_mode(mode);
        }
        if let Some(enabled) = request.double_base64 {
            self.knobs.set_double_base64(enabled);
        }
    }

    pub fn set_token_lifetime(&self, request: &SetTokenLifetime) -> Result<(), AdminError> {
        let lifetime = match request.seconds {
            Some(0) => {
                return Err(AdminError::Invalid(
                    "a forced token lifetime must be at least 1 second".to_owned(),
                ));
            }
            Some(seconds) => Some(SignedDuration::from_secs(
                seconds.min(i64::MAX as u64) as i64
            )),
            None => None,
        };
        // TODO: `Sts` takes its forced token lifetime from its configuration only, so this knob
        // needs a runtime setter there; until then set it at start (`SimConfig`, `serve
        // --token-lifetime`).
        let _ = lifetime;
        Err(AdminError::Invalid(
            "the forced token lifetime cannot change while the simulator runs; restart it with \
             `serve --token-lifetime SECONDS`"
                .to_owned(),
        ))
    }

    /// Advances or freezes the clock and returns the new time.
    pub fn move_clock(&self, request: &MoveClock) -> Result<Timestamp, AdminError> {
        if let Some(freeze_at) = &request.freeze_at {
            let instant = if freeze_at == "now" {
                self.clock.now()
            } else {
                freeze_at.parse::<Timestamp>().map_err(|error| {
                    AdminError::Invalid(format!(
                        "invalid freeze_at {freeze_at:?}: {error}; give an RFC 3339 time such as 2026-01-31T08:00:00Z or \"now\""
                    ))
                })?
            };
            self.clock.freeze(instant);
        }
        if let Some(seconds) = request.advance_seconds {
            self.clock.advance(SignedDuration::from_secs(seconds));
        }
        let now = self.clock.now();
        tracing::info!(%now, "simulator clock moved");
        Ok(now)
    }

    pub fn tokens(&self) -> Vec<TokenView> {
        self.sts
            .issued_tokens()
            .into_iter()
            .map(|token| TokenView {
                assertion_id: token.assertion_id,
                ssin: token.ssin,
                issued_at: token.issued_at,
                not_before: token.not_before,
                not_on_or_after: token.not_on_or_after,
                holder_of_key_subject: token.holder_of_key_subject,
            })
            .collect()
    }

    pub fn requests(&self, after: u64, limit: usize) -> Vec<RequestRecord> {
        self.log.since(after, limit.min(MAX_LOG_PAGE))
    }
}

fn summarise(state: &BoxState) -> BoxSummary {
    let inbox = state
        .messages
        .iter()
        .filter(|entry| entry.folder == crate::ehbox::Folder::Inbox)
        .count();
    BoxSummary {
        key: state.key.clone(),
        owner: state
            .owner
            .as_ref()
            .map(|user| format!("{} {}", user.first_name, user.last_name)),
        max_size: state.max_size,
        current_size: state.current_size,
        messages: state.messages.len(),
        inbox,
        standby: state.standby.len(),
    }
}

/// Builds the admin router.
pub fn router(state: Arc<AdminState>) -> Router {
    let routes = Router::new()
        .route(
            "/status",
            get(|State(state): State<Arc<AdminState>>| async move { Json(state.status()) }),
        )
        .route("/boxes", get(list_boxes).post(create_box))
        .route("/boxes/{id_type}/{id}/{quality}", get(show_box))
        .route("/boxes/{id_type}/{id}/{quality}/messages", post(seed_box))
        .route("/messages", post(deliver_message))
        .route("/send", post(send_generated))
        .route(
            "/knobs",
            get(|State(state): State<Arc<AdminState>>| async move { Json(state.knobs()) }),
        )
        .route("/knobs/faults", post(add_fault).delete(clear_faults))
        .route("/knobs/latency", put(set_latency))
        .route("/knobs/binary", put(set_binary))
        .route("/knobs/checks", put(set_checks))
        .route("/knobs/token-lifetime", put(set_token_lifetime))
        .route("/knobs/index-shift", post(index_shift))
        .route("/clock", get(read_clock).post(move_clock))
        .route(
            "/tokens",
            get(|State(state): State<Arc<AdminState>>| async move { Json(state.tokens()) }),
        )
        .route("/requests", get(list_requests));
    Router::new().nest(ADMIN_PREFIX, routes).with_state(state)
}

/// Serves the admin API on `listener` until `shutdown` turns true.
pub fn spawn(
    listener: TcpListener,
    state: Arc<AdminState>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let app = router(state);
    // NOTE: unlike the SOAP listeners, this one has no TLS, header or body timeouts: axum::serve
    // sets none, so a stalled client keeps its connection until shutdown.
    tokio::spawn(async move {
        let stop = crate::server::stopped(shutdown);
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(%error, "the admin API stopped with an error");
        }
    })
}

async fn list_boxes(State(state): State<Arc<AdminState>>) -> Json<Vec<BoxSummary>> {
    Json(state.boxes())
}

async fn create_box(
    State(state): State<Arc<AdminState>>,
    Json(request): Json<CreateBox>,
) -> Result<(StatusCode, Json<BoxSummary>), AdminError> {
    let summary = blocking(move || state.create_box(&request)).await?;
    Ok((StatusCode::CREATED, Json(summary)))
}

async fn show_box(
    State(state): State<Arc<AdminState>>,
    Path((id_type, id, quality)): Path<(String, String, String)>,
) -> Result<Json<BoxState>, AdminError> {
    let key = BoxKey {
        id,
        id_type,
        sub_type: None,
        quality,
    };
    state.box_state(&key).map(Json)
}

async fn seed_box(
    State(state): State<Arc<AdminState>>,
    Path((id_type, id, quality)): Path<(String, String, String)>,
    Json(request): Json<SeedMessages>,
) -> Result<Json<SeedReport>, AdminError> {
    let key = BoxKey {
        id: id.clone(),
        id_type,
        sub_type: None,
        quality,
    };
    if key != seed::doctor_box(&id) {
        return Err(AdminError::Invalid(format!(
            "generated mail goes to doctors' personal boxes only (INSS/{id}/DOCTOR), not {key}"
        )));
    }
    state.box_state(&key)?;
    blocking(move || state.seed_messages(&id, request.count))
        .await
        .map(Json)
}

async fn deliver_message(
    State(state): State<Arc<AdminState>>,
    Json(message): Json<NewMessage>,
) -> Result<Json<SeedReport>, AdminError> {
    blocking(move || state.deliver(message)).await.map(Json)
}

async fn send_generated(
    State(state): State<Arc<AdminState>>,
    Json(request): Json<SendGenerated>,
) -> Result<Json<SeedReport>, AdminError> {
    blocking(move || state.seed_messages(&request.to, 1))
        .await
        .map(Json)
}

async fn add_fault(
    State(state): State<Arc<AdminState>>,
    Json(rule): Json<FaultRule>,
) -> Result<Json<KnobsView>, AdminError> {
    tracing::info!(operation = %rule.operation, injection = ?rule.injection, trigger = ?rule.trigger, "fault rule added");
    state.knobs.add_rule(rule)?;
    Ok(Json(state.knobs()))
}

async fn clear_faults(State(state): State<Arc<AdminState>>) -> Json<KnobsView> {
    state.knobs.clear_rules();
    tracing::info!("fault rules cleared");
    Json(state.knobs())
}

async fn set_latency(
    State(state): State<Arc<AdminState>>,
    Json(request): Json<SetLatency>,
) -> Json<KnobsView> {
    state.knobs.set_latency(
        &request.operation,
        std::time::Duration::from_millis(request.millis),
    );
    Json(state.knobs())
}

async fn set_binary(
    State(state): State<Arc<AdminState>>,
    Json(request): Json<SetBinary>,
) -> Json<KnobsView> {
    state.set_binary(&request);
    Json(state.knobs())
}

async fn set_checks(
    State(state): State<Arc<AdminState>>,
    Json(request): Json<SetChecks>,
) -> Json<KnobsView> {
    state.set_checks(&request);
    Json(state.knobs())
}

async fn set_token_lifetime(
    State(state): State<Arc<AdminState>>,
    Json(request): Json<SetTokenLifetime>,
) -> Result<StatusCode, AdminError> {
    state.set_token_lifetime(&request)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn index_shift(
    State(state): State<Arc<AdminState>>,
    Json(request): Json<IndexShift>,
) -> Result<StatusCode, AdminError> {
    blocking(move || state.inject_index_shift(&request.ssin)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn read_clock(State(state): State<Arc<AdminState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "now": state.clock.now() }))
}

async fn move_clock(
    State(state): State<Arc<AdminState>>,
    Json(request): Json<MoveClock>,
) -> Result<Json<serde_json::Value>, AdminError> {
    let now = state.move_clock(&request)?;
    Ok(Json(serde_json::json!({ "now": now })))
}

/// Query of `GET /requests`.
#[derive(Debug, Deserialize)]
struct LogQuery {
    #[serde(default)]
    after: u64,
    #[serde(default = "default_log_limit")]
    limit: usize,
}

fn default_log_limit() -> usize {
    100
}

async fn list_requests(
    State(state): State<Arc<AdminState>>,
    Query(query): Query<LogQuery>,
) -> Json<Vec<RequestRecord>> {
    Json(state.requests(query.after, query.limit))
}

/// Runs seeding (RSA sealing) off the async reactor.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AdminError> + Send + 'static,
) -> Result<T, AdminError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| AdminError::Internal(error.to_string()))?
}
