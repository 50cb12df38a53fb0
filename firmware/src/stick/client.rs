//! The service's side of the stick mount: sends the helper a mount request and keeps the
//! connection open for as long as the stick is in use.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use zeroize::Zeroizing;

use super::error::StickError;
use super::folder::{Discovery, DiscoveryLimits, FolderStick, StickCertificate};
use super::helper::HELPER_SOCKET;
use super::probe::Filesystem;
use super::protocol::{Reply, Request, read_message, write_message};
use super::uevent::BlockDevice;

/// Mounts sticks through the privileged helper's socket.
#[derive(Debug, Clone)]
pub struct StickMounter {
    socket: PathBuf,
    reply_timeout: Duration,
    limits: DiscoveryLimits,
}

impl Default for StickMounter {
    fn default() -> Self {
        Self::new(HELPER_SOCKET)
    }
}

impl StickMounter {
    /// A mounter that talks to the helper at `socket`, with a 30 s reply timeout (a large
    /// exFAT stick can take seconds to mount) and the default search limits.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
            reply_timeout: Duration::from_secs(30),
            limits: DiscoveryLimits::default(),
        }
    }

    pub fn with_limits(mut self, limits: DiscoveryLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn with_reply_timeout(mut self, timeout: Duration) -> Self {
        self.reply_timeout = timeout;
        self
    }

    /// Asks the helper to mount `device` and returns the mounted stick. Every failure leaves
    /// the device unmounted.
    pub async fn mount(&self, device: &BlockDevice) -> Result<MountedStick, StickError> {
        let stream = UnixStream::connect(&self.socket).await.map_err(|source| {
            StickError::HelperUnavailable {
                socket: self.socket.clone(),
                source,
            }
        })?;
        let (read_half, mut writer) = stream.into_split();
        let mut reader = BufReader::new(read_half);

        let request = Request::Mount {
            device: device.name.clone(),
        };
        write_message(&mut writer, &request)
            .await
            .map_err(|source| StickError::HelperUnavailable {
                socket: self.socket.clone(),
                source,
            })?;

        let (path, filesystem) = match self.read_reply(&mut reader).await? {
            Reply::Mounted { path, filesystem } => (path, filesystem),
            Reply::Failed(failure) => return Err(StickError::Mount(failure)),
            Reply::Released => return Err(unexpected("released before mounted")),
        };
        // From here on, returning an error drops the connection, and the helper unmounts.
        let mount_device = mounted_file_system(&path)?;
        tracing::info!(
            device = device.name,
            %filesystem,
            path = %path.display(),
            "stick mounted by the helper"
        );
        Ok(MountedStick {
            device: device.clone(),
            filesystem,
            folder: FolderStick::mounted(path, mount_device, self.limits),
            reader,
            writer,
            reply_timeout: self.reply_timeout,
        })
    }

    async fn read_reply(&self, reader: &mut BufReader<OwnedReadHalf>) -> Result<Reply, StickError> {
        read_reply(reader, self.reply_timeout).await
    }
}

async fn read_reply(
    reader: &mut BufReader<OwnedReadHalf>,
    timeout: Duration,
) -> Result<Reply, StickError> {
    match tokio::time::timeout(timeout, read_message::<Reply, _>(reader)).await {
        Err(_) => Err(StickError::HelperTimedOut {
            seconds: timeout.as_secs(),
        }),
        Ok(Ok(Some(reply))) => Ok(reply),
        Ok(Ok(None)) => Err(unexpected("connection closed without a reply")),
        Ok(Err(error)) => Err(unexpected(&error.to_string())),
    }
}

fn unexpected(detail: &str) -> StickError {
    StickError::HelperReply {
        detail: detail.to_owned(),
    }
}

/// Checks that `path` is a mount point as seen from this process, and returns the device
/// number of the mounted file system. A mount point with the same device number as its parent
/// means the helper's mount did not reach this mount namespace.
fn mounted_file_system(path: &Path) -> Result<u64, StickError> {
    let parent = path
        .parent()
        .ok_or_else(|| unexpected(&format!("mount path {} has no parent", path.display())))?;
    let stat = |path: &Path| {
        std::fs::metadata(path)
            .map(|metadata| metadata.dev())
            .map_err(|error| unexpected(&format!("{}: {error}", path.display())))
    };
    let mount_device = stat(path)?;
    if mount_device == stat(parent)? {
        return Err(unexpected(&format!(
            "{} is not a mount point in the service's mount namespace; mounts made by the \
             helper must propagate into the service (no MountFlags=private on its unit)",
            path.display()
        )));
    }
    Ok(mount_device)
}

/// A stick mounted by the helper. It stays mounted until [`release`](Self::release) or until
/// the value is dropped, which closes the connection and makes the helper unmount.
#[derive(Debug)]
pub struct MountedStick {
    device: BlockDevice,
    filesystem: Filesystem,
    folder: FolderStick,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    reply_timeout: Duration,
}

impl MountedStick {
    pub fn device(&self) -> &BlockDevice {
        &self.device
    }

    pub fn filesystem(&self) -> Filesystem {
        self.filesystem
    }

    /// Returns the stick's top folder, to search from a blocking task.
    pub fn folder(&self) -> &FolderStick {
        &self.folder
    }

    /// Finds the certificates on the stick; see [`FolderStick::certificates`]. Blocks on I/O.
    pub fn certificates(&self) -> Result<Vec<StickCertificate>, StickError> {
        self.folder.certificates()
    }

    /// Searches the stick; see [`FolderStick::discover`]. Blocks on I/O.
    pub fn discover(&self) -> Result<Discovery, StickError> {
        self.folder.discover()
    }

    /// Reads one certificate; see [`FolderStick::read`]. Blocks on I/O.
    pub fn read(&self, certificate: &StickCertificate) -> Result<Zeroizing<Vec<u8>>, StickError> {
        self.folder.read(certificate)
    }

    /// Ends the use of the stick and waits until the helper has unmounted it, so the display
    /// can show that the stick may be taken out.
    pub async fn release(self) -> Result<(), StickError> {
        let Self {
            device,
            mut reader,
            mut writer,
            reply_timeout,
            ..
        } = self;
        // Closing the write half is the release request; the helper reads end-of-stream.
        writer
            .shutdown()
            .await
            .map_err(|error| unexpected(&format!("closing the connection failed: {error}")))?;
        match read_reply(&mut reader, reply_timeout).await? {
            Reply::Released => {
                tracing::info!(device = device.name, "stick released and unmounted");
                Ok(())
            }
            other => Err(unexpected(&format!("expected released, got {other:?}"))),
        }
    }
}
