//! The [`CertificateSource`] on the box: the USB stick, noticed by the kernel uevent watcher and
//! mounted through the privileged mount helper (see [`crate::stick`]).
//!
//! A tokio task keeps the list of inserted sticks up to date from [`StickWatcher`]. When the
//! wizard lists the keystores, [`StickCertificates`] waits briefly for a stick, mounts the one
//! inserted last, and searches it. The mount lasts until the wizard releases the source, and
//! ends early on any error, so a failed step leaves nothing mounted and the doctor can swap
//! the stick. The wizard runs on the panel's own thread, so the asynchronous mount requests run
//! on the service's runtime through [`Handle::block_on`].

use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use super::certificates::{CertificateSource, CertificateSourceError, FoundCertificate};
use crate::stick::{
    BlockDevice, MountFailure, MountedStick, StickCertificate, StickError, StickEvent,
    StickMounter, StickWatcher,
};

/// The USB sticks inserted now, the last inserted at the end.
pub type InsertedSticks = watch::Receiver<Vec<BlockDevice>>;

/// The USB stick as the wizard's certificate source. Dropping it closes the helper's
/// connection without waiting, and the helper then unmounts the stick.
#[derive(Debug)]
pub struct StickCertificates {
    runtime: Handle,
    mounter: StickMounter,
    sticks: InsertedSticks,
    stick_wait: Duration,
    /// The error that kept the stick watcher from starting.
    watcher_error: Option<String>,
    mounted: Option<Mounted>,
}

/// The mounted stick and the keystores listed on it.
#[derive(Debug)]
struct Mounted {
    stick: MountedStick,
    listed: Vec<StickCertificate>,
}

impl StickCertificates {
    /// How long the listing waits for a stick, for a doctor who presses OK while still
    /// inserting it: the same wait as for the eID card.
    pub const STICK_WAIT: Duration = Duration::from_secs(3);
    /// How long the release waits for the helper to confirm the unmount.
    const RELEASE_TIMEOUT: Duration = Duration::from_secs(10);

    /// Creates the source over the sticks that `sticks` reports, mounted with `mounter`.
    /// `runtime` runs the mount requests; the source's methods must not be called from one of
    /// its worker threads.
    pub fn new(runtime: Handle, mounter: StickMounter, sticks: InsertedSticks) -> Self {
        Self {
            runtime,
            mounter,
            sticks,
            stick_wait: Self::STICK_WAIT,
            watcher_error: None,
            mounted: None,
        }
    }

    /// Returns the source with another wait for the stick.
    pub fn with_stick_wait(self, stick_wait: Duration) -> Self {
        Self { stick_wait, ..self }
    }

    /// Starts the kernel uevent watcher on the current tokio runtime and returns the source
    /// over the sticks it reports, with the task to abort when the panel stops. A watcher that
    /// cannot start is logged, and every listing then reports why.
    pub fn on_box(mounter: StickMounter) -> (Self, Option<JoinHandle<()>>) {
        let runtime = Handle::current();
        match StickWatcher::open() {
            Ok(watcher) => {
                let (sender, sticks) = watch::channel(Vec::new());
                let task = runtime.spawn(track_sticks(watcher, sender));
                (Self::new(runtime, mounter, sticks), Some(task))
            }
            Err(error) => {
                tracing::error!(%error, "the USB stick watcher cannot start");
                let (_, sticks) = watch::channel(Vec::new());
                let mut source = Self::new(runtime, mounter, sticks);
                source.watcher_error = Some(error.to_string());
                (source, None)
            }
        }
    }

    /// Returns whether a stick is mounted for the wizard.
    pub fn is_mounted(&self) -> bool {
        self.mounted.is_some()
    }

    /// Waits up to the stick wait for an inserted stick and returns the last one inserted.
    fn wait_for_stick(&mut self) -> Result<BlockDevice, CertificateSourceError> {
        if let Some(detail) = &self.watcher_error {
            return Err(CertificateSourceError::MountUnavailable {
                detail: detail.clone(),
            });
        }
        let wait = self.stick_wait;
        let sticks = &mut self.sticks;
        let waited = self.runtime.block_on(async {
            tokio::time::timeout(wait, sticks.wait_for(|sticks| !sticks.is_empty())).await
        });
        match waited {
            Err(_) => Err(CertificateSourceError::NoStick),
            Ok(Err(_)) => Err(CertificateSourceError::MountUnavailable {
                detail: "the USB stick watcher stopped".to_owned(),
            }),
            Ok(Ok(sticks)) => sticks
                .last()
                .cloned()
                .ok_or(CertificateSourceError::NoStick),
        }
    }

    fn mount(&mut self, device: &BlockDevice) -> Result<MountedStick, CertificateSourceError> {
        self.runtime
            .block_on(self.mounter.mount(device))
            .map_err(|error| {
                tracing::warn!(device = device.name, %error, "mounting the USB stick failed");
                source_error(error)
            })
    }

    /// Ends the mount after `error`. The helper has already unmounted a pulled stick, so the
    /// connection is just dropped. Any other error waits for the unmount.
    fn unmount_after(&mut self, error: &CertificateSourceError) {
        if matches!(error, CertificateSourceError::Removed) {
            self.mounted = None;
        } else {
            self.unmount();
        }
    }

    /// Asks the helper to unmount the stick and waits for it. A failure is logged, because
    /// the helper also unmounts when the connection closes.
    fn unmount(&mut self) {
        let Some(mounted) = self.mounted.take() else {
            return;
        };
        let device = mounted.stick.device().name.clone();
        let released = self.runtime.block_on(async {
            tokio::time::timeout(Self::RELEASE_TIMEOUT, mounted.stick.release()).await
        });
        match released {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(device, %error, "releasing the USB stick failed");
            }
            Err(_) => tracing::warn!(
                device,
                seconds = Self::RELEASE_TIMEOUT.as_secs(),
                "the mount helper did not confirm the unmount in time; closing the connection"
            ),
        }
    }
}

impl CertificateSource for StickCertificates {
    fn certificates(&mut self) -> Result<Vec<FoundCertificate>, CertificateSourceError> {
        // A new listing may follow a swapped stick, so the search always starts from a fresh
        // mount.
        self.unmount();
        let device = self.wait_for_stick()?;
        let stick = self.mount(&device)?;

        let listed = match stick.certificates() {
            Ok(listed) => listed,
            Err(error) => {
                tracing::warn!(device = device.name, %error, "searching the USB stick failed");
                let error = source_error(error);
                self.mounted = Some(Mounted {
                    stick,
                    listed: Vec::new(),
                });
                self.unmount_after(&error);
                return Err(error);
            }
        };
        let found = listed.iter().map(found_certificate).collect();
        self.mounted = Some(Mounted { stick, listed });
        Ok(found)
    }

    fn read(
        &mut self,
        certificate: &FoundCertificate,
    ) -> Result<Zeroizing<Vec<u8>>, CertificateSourceError> {
        let Some(mounted) = &self.mounted else {
            return Err(CertificateSourceError::Removed);
        };
        let Some(listed) = mounted
            .listed
            .iter()
            .find(|listed| listed.relative_path == certificate.path)
        else {
            return Err(CertificateSourceError::Unreadable {
                detail: format!("{} was not listed on this stick", certificate.name),
            });
        };
        match mounted.stick.read(listed) {
            Ok(bytes) => Ok(bytes),
            Err(error) => {
                tracing::warn!(file = listed.display_name, %error, "reading the keystore failed");
                let error = source_error(error);
                self.unmount_after(&error);
                Err(error)
            }
        }
    }

    fn release(&mut self) {
        self.unmount();
    }
}

/// Keeps `sticks` equal to the sticks the watcher reports, until the receivers are gone.
async fn track_sticks(mut watcher: StickWatcher, sticks: watch::Sender<Vec<BlockDevice>>) {
    loop {
        let event = tokio::select! {
            event = watcher.next_event() => event,
            () = sticks.closed() => return,
        };
        match event {
            StickEvent::Inserted(device) => sticks.send_modify(|sticks| {
                sticks.retain(|present| present.name != device.name);
                sticks.push(device);
            }),
            StickEvent::Removed(device) => {
                sticks.send_modify(|sticks| sticks.retain(|present| present.name != device.name));
            }
            StickEvent::Error(error) => {
                tracing::warn!(%error, "watching for USB sticks failed; retrying in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn found_certificate(listed: &StickCertificate) -> FoundCertificate {
    FoundCertificate {
        name: listed.display_name.clone(),
        path: listed.relative_path.clone(),
        size: listed.size,
    }
}

/// Maps a stick error to what the wizard shows: the doctor's fix, with the detail for the log.
fn source_error(error: StickError) -> CertificateSourceError {
    match error {
        StickError::NoCertificate { .. } => CertificateSourceError::NoCertificate,
        StickError::TooManyCertificates { limit } | StickError::TooManyEntries { limit, .. } => {
            CertificateSourceError::TooManyFiles { limit }
        }
        StickError::FileTooLarge { path, size, limit } => CertificateSourceError::TooLarge {
            name: path,
            size,
            limit,
        },
        StickError::Removed | StickError::Mount(MountFailure::DeviceMissing { .. }) => {
            CertificateSourceError::Removed
        }
        StickError::Mount(
            MountFailure::InvalidRequest { .. }
            | MountFailure::Busy { .. }
            | MountFailure::MountFolder { .. },
        )
        | StickError::HelperUnavailable { .. }
        | StickError::HelperReply { .. }
        | StickError::HelperTimedOut { .. }
        | StickError::Uevents { .. } => CertificateSourceError::MountUnavailable {
            detail: error.to_string(),
        },
        StickError::NotRegularFile { .. }
        | StickError::ReadFailed { .. }
        | StickError::Mount(_) => CertificateSourceError::Unreadable {
            detail: error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn unreadable_file_system_maps_to_unreadable() {
        let error = source_error(StickError::Mount(MountFailure::NoFilesystem {
            device: "sda1".to_owned(),
        }));

        assert!(
            matches!(&error, CertificateSourceError::Unreadable { detail } if detail.contains("sda1")),
            "{error}"
        );
    }

    #[test]
    fn missing_device_maps_to_removed() {
        let error = source_error(StickError::Mount(MountFailure::DeviceMissing {
            device: "sda1".to_owned(),
        }));

        assert!(matches!(error, CertificateSourceError::Removed), "{error}");
    }

    #[test]
    fn missing_helper_maps_to_mount_unavailable() {
        let error = source_error(StickError::HelperUnavailable {
            socket: PathBuf::from("/run/practicebox-stick/helper.sock"),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });

        assert!(
            matches!(&error, CertificateSourceError::MountUnavailable { detail }
                if detail.contains("practicebox-stick.socket")),
            "{error}"
        );
    }

    #[test]
    fn crowded_stick_maps_to_too_many_files() {
        let error = source_error(StickError::TooManyEntries {
            limit: 10_000,
            max_depth: 3,
        });

        assert!(
            matches!(
                error,
                CertificateSourceError::TooManyFiles { limit: 10_000 }
            ),
            "{error}"
        );
    }

    #[test]
    fn no_stick_after_wait() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (_sender, sticks) = watch::channel(Vec::new());
        let mut source = StickCertificates::new(
            runtime.handle().clone(),
            StickMounter::new("/nonexistent/helper.sock"),
            sticks,
        )
        .with_stick_wait(Duration::from_millis(50));

        let error = source.certificates().unwrap_err();

        assert!(matches!(error, CertificateSourceError::NoStick), "{error}");
        assert!(!source.is_mounted());
    }

    #[test]
    fn stopped_watcher_is_mount_unavailable() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (sender, sticks) = watch::channel(Vec::new());
        drop(sender);
        let mut source = StickCertificates::new(
            runtime.handle().clone(),
            StickMounter::new("/nonexistent/helper.sock"),
            sticks,
        );

        let error = source.certificates().unwrap_err();

        assert!(
            matches!(error, CertificateSourceError::MountUnavailable { .. }),
            "{error}"
        );
    }
}
