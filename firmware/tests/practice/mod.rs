//! A practice for fetcher tests: the platform simulator in-process on loopback, a credential
//! vault with one doctor's keystore, a store, a share, and the plaintext of every message
//! seeded, to compare with what reaches the share.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ehealth_sim::clock::{Clock as _, SimClock};
use ehealth_sim::ehbox::{BoxState, Destination, Folder, NewMessage};
use ehealth_sim::etk_depot::EtkDepot;
use ehealth_sim::mail::{self, GeneratedMessage, Recipient};
use ehealth_sim::pki::{self, Doctor, KeystoreOptions, TestPki};
use ehealth_sim::seed;
use ehealth_sim::server::{RunningSimulator, SimConfig, Simulator};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use practicebox::credentials::{CredentialSummary, CredentialVault, VAULT_FOLDER};
use practicebox::delivery::names::doctor_folder_name;
use practicebox::delivery::{RoutingProfile, Share};
use practicebox::ehealth::clock::{Clock, ClockError};
use practicebox::ehealth::ehbox::RetryPolicy;
use practicebox::ehealth::endpoints::Endpoints;
use practicebox::ehealth::keystore::EhealthKeystore;
use practicebox::ehealth::sts::TokenCache;
use practicebox::ehealth::transport::HttpsTransport;
use practicebox::fetcher::credentials::VaultCredentials;
use practicebox::fetcher::{FetchContext, FetchOptions};
use practicebox::store::{NewPrincipal, Principal, Role, Store, StoreHandle};
use zeroize::Zeroizing;

pub const SEED: u64 = 20_260_310;

/// Generates the test PKI with the first two practice doctors. A's box is fetched, and B signs
/// A's mail and is the wrong recipient in tests.
pub fn test_pki() -> TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::generate_with(
            SEED,
            Timestamp::now(),
            &pki::practice()[..2],
            &KeystoreOptions::fast(),
        )
        .expect("test PKI generation")
    })
    .clone()
}

/// The box's clock in tests: the simulator's clock, always synchronised.
#[derive(Debug)]
pub struct SharedClock(pub Arc<SimClock>);

impl Clock for SharedClock {
    fn now(&self) -> Timestamp {
        self.0.now()
    }

    fn check_synchronised(&self) -> Result<(), ClockError> {
        Ok(())
    }
}

/// A message seeded into a box, with the plaintext of its parts.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub message_id: String,
    pub generated: GeneratedMessage,
}

impl Seeded {
    pub fn is_document(&self) -> bool {
        self.generated.kind == mail::MessageKind::Document
    }

    /// The plaintext of the main document and every annex, in part order.
    pub fn parts(&self) -> Vec<Vec<u8>> {
        let mut parts = vec![self.generated.document.bytes.clone()];
        parts.extend(self.generated.annexes.iter().map(|part| part.bytes.clone()));
        parts
    }
}

/// The simulator and the files a box needs to reach it.
pub struct Practice {
    pub simulator: RunningSimulator,
    pub pki: TestPki,
    pub depot: EtkDepot,
    pub doctor: Doctor,
    pub dir: tempfile::TempDir,
    pub ca_file: PathBuf,
    /// The vault in `<dir>/data`, the data folder of a service configuration there.
    pub vault: CredentialVault,
    pub endpoints: Endpoints,
}

impl Practice {
    pub async fn start() -> Self {
        let pki = test_pki();
        let mut config = SimConfig::loopback(pki.clone(), SEED);
        config.http = None;
        config.admin = None;
        config.request_log_capacity = 200_000;
        // The checks read every request of the run from the log, so it must not drop any.
        config.request_log_bytes = 1024 * 1024 * 1024;
        let simulator = Simulator::start(config).await.expect("simulator start");

        let dir = tempfile::tempdir().expect("temp folder");
        let ca_file = dir.path().join("sim-ca.pem");
        std::fs::write(&ca_file, &simulator.ca_pem).expect("CA file");
        let doctor = pki.doctors[0].clone();
        let vault = CredentialVault::open(&dir.path().join("data").join(VAULT_FOLDER))
            .expect("credential vault");

        let base = format!("https://localhost:{}", simulator.addresses.https.port());
        let mut endpoints = Endpoints::simulator(&base, ca_file.clone());
        endpoints
            .resolve
            .insert("localhost".to_owned(), simulator.addresses.https);
        endpoints.validate().expect("valid endpoints");

        let depot = EtkDepot::from_pki(&pki).expect("ETK depot");
        {
            let mut platform = simulator.platform.lock().unwrap();
            seed::create_doctor_box(&mut platform, &doctor, None).expect("doctor box");
        }
        Self {
            simulator,
            pki,
            depot,
            doctor,
            dir,
            ca_file,
            vault,
            endpoints,
        }
    }

    /// Returns the simulator's time, which the box's clock follows.
    pub fn now(&self) -> Timestamp {
        self.simulator.clock.now()
    }

    pub fn insz(&self) -> &str {
        &self.doctor.spec.ssin
    }

    pub fn share_folder(&self) -> String {
        doctor_folder_name(
            &self.doctor.spec.last_name,
            &self.doctor.spec.first_name,
            &self.doctor.spec.nihii11,
        )
    }

    /// Generates `count` realistic sealed messages for the doctor and delivers them to INBOX.
    pub fn seed(&self, count: usize, seed_value: u64) -> Vec<Seeded> {
        let recipient = Recipient {
            ssin: self.doctor.spec.ssin.clone(),
            nihii11: self.doctor.spec.nihii11.clone(),
            first_name: self.doctor.spec.first_name.clone(),
            last_name: self.doctor.spec.last_name.clone(),
        };
        let now = self.simulator.clock.now();
        let mut generated =
            mail::generate_practice_mail(seed_value, &[recipient], count).expect("mail");
        generated.sort_by_key(|message| message.published);
        let sealed = seed::generate_messages(
            &self.pki,
            &self.depot,
            std::slice::from_ref(&self.doctor.spec.ssin),
            count,
            seed_value,
            now,
        )
        .expect("sealed mail");
        self.deliver(sealed, generated)
    }

    /// Delivers sealed messages and pairs each MessageId with its plaintext by PublicationId.
    fn deliver(&self, sealed: Vec<NewMessage>, generated: Vec<GeneratedMessage>) -> Vec<Seeded> {
        let mut by_publication: HashMap<String, GeneratedMessage> = generated
            .into_iter()
            .map(|message| (message.publication_id.clone(), message))
            .collect();
        let now = self.simulator.clock.now();
        let mut platform = self.simulator.platform.lock().unwrap();
        let report = seed::deliver(&mut platform, sealed, now).expect("delivered");
        let key = seed::doctor_box(self.insz());
        report
            .message_ids
            .into_iter()
            .map(|message_id| {
                let message = platform.find_message(&key, &message_id).expect("stored");
                let publication = message
                    .content
                    .publication_id
                    .clone()
                    .expect("publication id");
                let generated = by_publication.remove(&publication).expect("plaintext");
                Seeded {
                    message_id,
                    generated,
                }
            })
            .collect()
    }

    /// Delivers to the doctor's INBOX a document sealed for the other doctor.
    pub fn seed_for_someone_else(&self) -> String {
        let other = self.pki.doctors[1].spec.ssin.clone();
        let now = self.simulator.clock.now();
        let sealed = seed::generate_messages(&self.pki, &self.depot, &[other], 10, SEED + 99, now)
            .expect("sealed mail");
        let mut message = sealed
            .into_iter()
            .find(|message| message.is_encrypted)
            .expect("a sealed document");
        message.destinations = vec![Destination::to_box(seed::doctor_box(self.insz()))];
        let mut platform = self.simulator.platform.lock().unwrap();
        let report = seed::deliver(&mut platform, vec![message], now).expect("delivered");
        report.message_ids[0].clone()
    }

    pub fn box_state(&self) -> BoxState {
        let platform = self.simulator.platform.lock().unwrap();
        platform
            .box_state(&seed::doctor_box(self.insz()))
            .expect("doctor box")
    }

    /// MessageIds in `folder` of the doctor's box.
    pub fn folder(&self, folder: Folder) -> Vec<String> {
        self.box_state()
            .messages
            .into_iter()
            .filter(|message| message.folder == folder)
            .map(|message| message.message_id)
            .collect()
    }

    /// Adds the doctor as the main principal of a store at `path`, with the keystore in the
    /// vault under the new principal's id.
    pub fn add_principal(&self, path: &Path) -> Principal {
        let mut store = Store::open(path).expect("store");
        let new = NewPrincipal {
            insz: self.insz().to_owned(),
            family_name: self.doctor.spec.last_name.clone(),
            given_names: self.doctor.spec.first_name.clone(),
            riziv: self.doctor.spec.nihii11.clone(),
            role: Role::Main,
            share_folder: self.share_folder(),
            move_to_bin: true,
        };
        let id = store
            .add_principal(&new, "test", self.simulator.clock.now())
            .expect("principal");
        let keystore = &self.doctor.keystore;
        let password = Zeroizing::new(keystore.password.clone());
        let opened = EhealthKeystore::open(&keystore.file_name, &keystore.bytes, &password)
            .expect("test keystore");
        self.vault
            .store(
                &CredentialSummary::of(id, &opened),
                &keystore.bytes,
                &password,
                &mut rand::rng(),
            )
            .expect("credentials stored");
        store.principal(id).expect("principal")
    }

    /// Builds a fetch context with `store` and the share at `share_root`.
    pub fn context(&self, store: StoreHandle, share_root: &Path) -> FetchContext<HttpsTransport> {
        let brussels = TimeZone::get("Europe/Brussels").expect("time zone");
        FetchContext {
            transport: HttpsTransport::new(&self.endpoints).expect("HTTPS transport"),
            endpoints: self.endpoints.clone(),
            clock: Arc::new(SharedClock(Arc::clone(&self.simulator.clock))),
            tokens: TokenCache::new(),
            store,
            share: Arc::new(Share::new(
                share_root.to_owned(),
                RoutingProfile::builtin(),
                brussels.clone(),
            )),
            credentials: Arc::new(VaultCredentials::new(self.vault.clone())),
            held_dir: self.dir.path().join("held"),
            options: FetchOptions {
                retry: RetryPolicy {
                    attempts: 2,
                    initial_backoff: Duration::from_millis(10),
                    max_backoff: Duration::from_millis(50),
                },
                share_retry_after: Duration::ZERO,
                time_zone: brussels,
                ..FetchOptions::default()
            },
        }
    }
}

/// Lists every file under `root`, hidden ones included, relative and sorted.
pub fn all_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path.strip_prefix(root).expect("under root").to_owned());
            }
        }
    }
    files.sort();
    files
}

/// Lists the documents on the share that the medical record software imports: no dot files,
/// no sidecars.
pub fn visible_documents(root: &Path) -> Vec<PathBuf> {
    all_files(root)
        .into_iter()
        .filter(|path| {
            !path
                .components()
                .any(|part| part.as_os_str().to_string_lossy().starts_with('.'))
        })
        .filter(|path| !is_sidecar(root, path))
        .collect()
}

/// Tells whether `path` is a sidecar, `<document>.json` beside its document.
fn is_sidecar(root: &Path, path: &Path) -> bool {
    let name = path.to_string_lossy();
    name.strip_suffix(".json")
        .is_some_and(|document| root.join(document).is_file())
}

/// Reads the sidecar of a document and returns its MessageId and part index.
pub fn sidecar_identity(root: &Path, document: &Path) -> (String, u32) {
    let mut sidecar = root.join(document).into_os_string();
    sidecar.push(".json");
    let text = std::fs::read_to_string(&sidecar).expect("sidecar");
    let json: serde_json::Value = serde_json::from_str(&text).expect("sidecar JSON");
    (
        json["message_id"].as_str().expect("message_id").to_owned(),
        u32::try_from(json["part_index"].as_u64().expect("part_index")).expect("index"),
    )
}

/// Maps each document on the share to (MessageId, part index) through its sidecar; panics on a
/// part found twice.
pub fn share_index(root: &Path) -> HashMap<(String, u32), PathBuf> {
    let mut index = HashMap::new();
    for document in visible_documents(root) {
        let key = sidecar_identity(root, &document);
        assert!(
            index.insert(key.clone(), document).is_none(),
            "{key:?} twice on the share"
        );
    }
    index
}
