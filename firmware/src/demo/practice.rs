//! A group practice set up against the platform simulator. It consists of the test PKI, the
//! simulator on 127.0.0.1, and a data folder laid out as the box's: the store lists one main
//! doctor and the colleagues who granted the main doctor a mandate, and the credential vault
//! contains every doctor's keystore and password, encrypted, as `practicebox setup` and
//! `practicebox mandate add` store them. The fetcher reads them from there as on the box.
//!
//! The demo, the end-to-end test and the throughput benchmark all start from a [`Practice`].

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use ehealth_sim::pki::{self, Doctor, DoctorSpec, KeystoreOptions, PkiError, TestPki};
use ehealth_sim::server::{RunningSimulator, ServerError, SimConfig, Simulator};
use jiff::Timestamp;
use jiff::civil::date;
use zeroize::Zeroizing;

use crate::credentials::{CredentialError, CredentialSummary, CredentialVault, VAULT_FOLDER};
use crate::delivery::names::doctor_folder_name;
use crate::ehealth::endpoints::{Endpoints, EndpointsError};
use crate::ehealth::keystore::{EhealthKeystore, KeystoreError};
use crate::store::{NewMandate, NewPrincipal, PrincipalId, Role, Store, StoreError, StoreHandle};

/// The actor written in the audit log for what the demo set up.
const ACTOR: &str = "demo";

/// The file name of the store inside the data folder, as the service names it.
pub const STORE_FILE: &str = "practicebox.sqlite";

/// The file holding the simulator's CA certificate inside the data folder.
pub const CA_FILE: &str = "simulator-ca.pem";

/// Errors of setting up a practice.
#[derive(Debug, thiserror::Error)]
pub enum PracticeError {
    #[error("invalid doctor count {0}; a practice has 1 to {max} doctors", max = MAX_DOCTORS)]
    DoctorCount(usize),
    #[error("generating the test PKI failed: {0}")]
    Pki(#[from] PkiError),
    #[error("starting the platform simulator failed: {0}")]
    Simulator(#[from] ServerError),
    #[error("writing {path} failed: {source}; check that the folder is writable")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid simulator endpoints: {0}")]
    Endpoints(#[from] EndpointsError),
    #[error("setting up the store failed: {0}")]
    Store(#[from] StoreError),
    #[error("opening the keystore of a test doctor failed: {0}")]
    Keystore(#[from] KeystoreError),
    #[error("storing a doctor's credentials in the vault failed: {0}")]
    Vault(#[from] CredentialError),
    #[error("the PKI generation task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The largest practice [`doctor_specs`] can invent.
pub const MAX_DOCTORS: usize = 60;

/// The settings of a practice.
#[derive(Debug, Clone)]
pub struct PracticeConfig {
    /// The seed of the PKI, the simulator and the mail.
    pub seed: u64,
    /// How many doctors are fetched: one main doctor, the others grant a mandate.
    pub doctors: usize,
    /// The box's data folder: store, credential vault, simulator CA.
    pub data_dir: PathBuf,
    /// PKCS#12 iteration counts; [`KeystoreOptions::default`] is what real keystores use.
    pub keystore_options: KeystoreOptions,
}

/// One doctor of the practice, as the simulator and the box both know them.
#[derive(Debug, Clone)]
pub struct PracticeDoctor {
    pub principal: PrincipalId,
    pub role: Role,
    /// The doctor's test certificates and keystore in the simulator's PKI.
    pub doctor: Doctor,
    /// The doctor's folder on the share, relative to the share root.
    pub share_folder: String,
}

impl PracticeDoctor {
    pub fn ssin(&self) -> &str {
        &self.doctor.spec.ssin
    }

    /// Returns the name as the display shows it, such as `Dr Lotte Vermeiren`.
    pub fn display_name(&self) -> String {
        let spec = &self.doctor.spec;
        format!("Dr {} {}", spec.first_name, spec.last_name)
    }
}

/// A running simulator and a store set up for its doctors.
#[derive(Debug)]
pub struct Practice {
    pub simulator: RunningSimulator,
    /// The endpoints of the simulator, trusting its test CA.
    pub endpoints: Endpoints,
    pub store: StoreHandle,
    /// The fetched doctors; the main doctor first.
    pub doctors: Vec<PracticeDoctor>,
    /// A doctor of the PKI outside the practice, to whom no message of the practice is sealed.
    pub outsider: Doctor,
    pub data_dir: PathBuf,
    /// The credential vault in the data folder, with every doctor's keystore.
    pub vault: CredentialVault,
}

impl Practice {
    /// Generates the PKI, starts the simulator on 127.0.0.1 and sets up the store.
    ///
    /// `data_dir` must exist and hold no store yet.
    pub async fn start(config: &PracticeConfig) -> Result<Practice, PracticeError> {
        if config.doctors == 0 || config.doctors > MAX_DOCTORS {
            return Err(PracticeError::DoctorCount(config.doctors));
        }
        let specs = doctor_specs(config.doctors);
        let (seed, options) = (config.seed, config.keystore_options);
        let pki = tokio::task::spawn_blocking(move || {
            TestPki::generate_with(seed, Timestamp::now(), &specs, &options)
        })
        .await??;

        let mut sim_config = SimConfig::loopback(pki, config.seed);
        sim_config.http = None;
        sim_config.admin = None;
        let simulator = Simulator::start(sim_config).await?;

        let endpoints = simulator_endpoints(&simulator, &config.data_dir)?;
        let doctors: Vec<(Doctor, Role)> = simulator.pki.doctors[..config.doctors]
            .iter()
            .enumerate()
            .map(|(index, doctor)| {
                let role = if index == 0 {
                    Role::Main
                } else {
                    Role::Mandator
                };
                (doctor.clone(), role)
            })
            .collect();
        let outsider = simulator.pki.doctors[config.doctors].clone();

        let data_dir = config.data_dir.clone();
        let (store, vault, doctors) =
            tokio::task::spawn_blocking(move || register_doctors(&data_dir, doctors)).await??;
        Ok(Practice {
            simulator,
            endpoints,
            store,
            doctors,
            outsider,
            data_dir: config.data_dir.clone(),
            vault,
        })
    }

    /// Returns the doctor with this INSZ.
    pub fn doctor(&self, ssin: &str) -> Option<&PracticeDoctor> {
        self.doctors.iter().find(|doctor| doctor.ssin() == ssin)
    }

    /// Returns the doctor with this principal id.
    pub fn doctor_of(&self, principal: PrincipalId) -> Option<&PracticeDoctor> {
        self.doctors
            .iter()
            .find(|doctor| doctor.principal == principal)
    }

    /// Stops the simulator after its open requests finish.
    pub async fn shutdown(self) {
        self.simulator.shutdown().await;
    }
}

/// Returns `count` practice doctors and one doctor outside the practice, all with normal
/// certificates and valid INSZ and RIZIV numbers.
///
/// The first three are the group practice of the simulator's own demo preset; the others are
/// invented from a list of common Belgian names.
pub fn doctor_specs(count: usize) -> Vec<DoctorSpec> {
    let preset: Vec<DoctorSpec> = pki::practice()
        .into_iter()
        .filter(|spec| spec.recognised_as_doctor && spec.variant == pki::Variant::Normal)
        .collect();
    let mut specs: Vec<DoctorSpec> = preset.into_iter().take(count).collect();
    let mut next = 0;
    while specs.len() <= count {
        specs.push(invented_doctor(next));
        next += 1;
    }
    specs
}

/// Invents doctor number `index`, with an INSZ and a RIZIV number no preset doctor has.
fn invented_doctor(index: usize) -> DoctorSpec {
    const FIRST: [&str; 10] = [
        "Sofie", "Thomas", "Emma", "Wouter", "Marie", "Nicolas", "Elke", "Julien", "Hanne", "Arne",
    ];
    const LAST: [&str; 7] = [
        "Claes", "Maes", "Jacobs", "Mertens", "Dubois", "Lambert", "Willems",
    ];
    let year = 1960 + (index % 35) as i16;
    let month = 1 + (index % 12) as i8;
    let day = 1 + (index % 28) as i8;
    let serial = 500 + index as u16;
    let ssin = pki::ids::insz_from_birth_date(date(year, month, day), serial).unwrap_or_default();
    let riziv = pki::ids::nihii11(120_000 + 37 * index as u32, 4).unwrap_or_default();
    DoctorSpec::new(
        FIRST[index % FIRST.len()],
        LAST[(index / FIRST.len() + index) % LAST.len()],
        &ssin,
        &riziv,
    )
}

/// Writes the simulator's CA certificate and returns endpoints that trust it and reach the
/// simulator's `localhost` certificate on its loopback address.
fn simulator_endpoints(
    simulator: &RunningSimulator,
    data_dir: &Path,
) -> Result<Endpoints, PracticeError> {
    let ca_file = data_dir.join(CA_FILE);
    fs::write(&ca_file, &simulator.ca_pem).map_err(|source| PracticeError::Write {
        path: ca_file.clone(),
        source,
    })?;
    let base = format!("https://localhost:{}", simulator.addresses.https.port());
    let mut endpoints = Endpoints::simulator(&base, ca_file);
    endpoints
        .resolve
        .insert("localhost".to_owned(), simulator.addresses.https);
    endpoints.validate()?;
    Ok(endpoints)
}

/// Creates the store and the credential vault in `data_dir`, adds the doctors as principals with
/// their credentials, and a mandate from every colleague to the main doctor.
fn register_doctors(
    data_dir: &Path,
    doctors: Vec<(Doctor, Role)>,
) -> Result<(StoreHandle, CredentialVault, Vec<PracticeDoctor>), PracticeError> {
    let mut store = Store::open(&data_dir.join(STORE_FILE))?;
    let vault = CredentialVault::open(&data_dir.join(VAULT_FOLDER))?;
    let now = Timestamp::now();
    let mut registered: Vec<PracticeDoctor> = Vec::new();
    for (doctor, role) in doctors {
        let spec = &doctor.spec;
        let share_folder = doctor_folder_name(&spec.last_name, &spec.first_name, &spec.nihii11);
        let new = NewPrincipal {
            insz: spec.ssin.clone(),
            family_name: spec.last_name.clone(),
            given_names: spec.first_name.clone(),
            riziv: spec.nihii11.clone(),
            role,
            share_folder: share_folder.clone(),
            move_to_bin: true,
        };
        let principal = store.add_principal(&new, ACTOR, now)?;
        store_credentials(&vault, principal, &doctor)?;

        if let Some(main) = registered.first() {
            // NOTE: the demo has no eID, so its mandates carry no evidence: no signed text, no
            // eID signature, no identity file. They allow fetching in the demo store only; a
            // real mandate is signed on the box with the mandator's eID.
            let mandate = NewMandate {
                mandator: principal,
                grantee: main.principal,
                starts_at: now,
                ends_at: doctor.authentication.not_after(),
                evidence: None,
            };
            store.add_mandate(&mandate, ACTOR, now)?;
        }
        registered.push(PracticeDoctor {
            principal,
            role,
            doctor,
            share_folder,
        });
    }
    Ok((store.into_handle(), vault, registered))
}

/// Stores a doctor's keystore and password in the vault, as the box does after a setup or a
/// mandate: encrypted, with the certificate's fingerprint and end in the record's header.
fn store_credentials(
    vault: &CredentialVault,
    principal: PrincipalId,
    doctor: &Doctor,
) -> Result<(), PracticeError> {
    let keystore = &doctor.keystore;
    let password = Zeroizing::new(keystore.password.clone());
    let opened = EhealthKeystore::open(&keystore.file_name, &keystore.bytes, &password)?;
    let summary = CredentialSummary::of(principal, &opened);
    vault.store(&summary, &keystore.bytes, &password, &mut rand::rng())?;
    Ok(())
}

/// Makes `path` an empty folder owned by the demo.
///
/// A folder that exists must be empty or contain the demo's marker file, which an earlier demo
/// wrote. The contents of such a folder are removed. Any other folder is left alone.
pub fn prepare_demo_folder(path: &Path) -> Result<(), DemoFolderError> {
    let marker = path.join(DEMO_MARKER);
    let io_error = |source| DemoFolderError::Io {
        path: path.to_owned(),
        source,
    };
    match fs::read_dir(path) {
        Ok(mut entries) => {
            let empty = entries.next().is_none();
            if !empty && !marker.exists() {
                return Err(DemoFolderError::NotEmpty {
                    path: path.to_owned(),
                });
            }
            fs::remove_dir_all(path).map_err(io_error)?;
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(io_error(error)),
    }
    fs::create_dir_all(path).map_err(io_error)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).map_err(io_error)?;
    fs::write(&marker, MARKER_TEXT).map_err(io_error)?;
    Ok(())
}

/// The hidden file that marks a folder as made by `practicebox demo`.
pub const DEMO_MARKER: &str = ".practicebox-demo";

const MARKER_TEXT: &str = "Made by `practicebox demo`; the next demo run empties this folder.\n";

/// Errors of preparing the demo's folders.
#[derive(Debug, thiserror::Error)]
pub enum DemoFolderError {
    #[error(
        "folder {path} is not empty and was not made by `practicebox demo`; pass an empty or new \
         folder, the demo removes what it finds in its own folders"
    )]
    NotEmpty { path: PathBuf },
    #[error("preparing folder {path} failed: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}
