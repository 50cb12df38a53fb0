//! Samba for the EMD: the smb.conf that serves each doctor's delivery folder as an SMB share.
//!
//! [`config`] turns the typed configuration into smb.conf text, for the box and for a standalone
//! test server; [`names`] validates share and account names. Both do no I/O. [`sync`] keeps the
//! service's share fragment in step with the store's principals and runs the reload command.
//! [`install`] is the root side on the box: it checks the fragment the service wrote and
//! installs a copy that smb.conf includes. Starting and stopping `smbd` is systemd's job on the
//! box, and the tests' job on a build machine.
//!
//! The configuration gives the EMD SMB 2.1 at least, and SMB3 with encryption when the client
//! supports it. Only the practice user logs in, never a guest or an anonymous session. Files that
//! are still being written stay invisible (`veto files` on the staging prefix), and so do dot
//! files (`hide dot files`).

pub mod command;
pub mod config;
pub mod install;
pub mod names;
pub mod sync;

pub use config::{
    AllDoctorsShare, ConfigError, DoctorShare, SambaConfig, ShareAccess, StandaloneConfig,
};
pub use names::{AccountName, ShareName};
pub use sync::{FragmentSync, ShareSettings, SyncError, SyncReport};
