//! The state folder of `ehealth-sim serve`: the test PKI lives in `<state>/pki`, created on the
//! first start and loaded on the next ones, so doctors' keystores stay valid across restarts.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::pki::folder::{MANIFEST_FILE, Manifest, read_manifest};
use crate::pki::{self, PkiError, TestPki};

/// The sub-folder of the state folder holding the PKI.
pub const PKI_DIR: &str = "pki";

/// The PKI of a state folder and where its files are.
#[derive(Debug)]
pub struct StatePki {
    pub pki: TestPki,
    pub manifest: Manifest,
    /// The PKI folder.
    pub dir: PathBuf,
    /// Whether this start generated the PKI.
    pub created: bool,
}

/// Loads `<state>/pki`, or generates the practice PKI there with `seed` when it has no manifest.
pub fn load_or_create_pki(state: &Path, seed: u64, now: Timestamp) -> Result<StatePki, PkiError> {
    let dir = state.join(PKI_DIR);
    if dir.join(MANIFEST_FILE).exists() {
        let pki = TestPki::load_from(&dir)?;
        let manifest = read_manifest(&dir)?;
        tracing::info!(dir = %dir.display(), seed = pki.seed, "test PKI loaded");
        return Ok(StatePki {
            pki,
            manifest,
            dir,
            created: false,
        });
    }

    std::fs::create_dir_all(&dir).map_err(|source| PkiError::Io {
        path: dir.clone(),
        source,
    })?;
    let pki = TestPki::generate(seed, now, &pki::practice())?;
    let manifest = pki.write_to(&dir)?;
    tracing::info!(dir = %dir.display(), seed, "test PKI generated");
    Ok(StatePki {
        pki,
        manifest,
        dir,
        created: true,
    })
}
