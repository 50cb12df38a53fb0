//! The messages between the service and the privileged mount helper: one JSON object per line
//! on the helper's Unix socket.
//!
//! ```text
//! service → helper   {"mount":{"device":"sda1"}}
//! helper → service   {"mounted":{"path":"/run/practicebox-stick/sda1","filesystem":"fat32"}}
//!                    or {"failed":{"kind":"no-filesystem","device":"sda1"}}
//! service → helper   (closes its end: the stick is no longer needed)
//! helper → service   "released", once the stick is unmounted
//! ```
//!
//! The stick stays mounted no longer than the connection is open, so a service that drops the
//! connection or dies leaves nothing mounted. The helper also unmounts a stick that is pulled,
//! and then sends `released` on its own.

use std::io;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::error::MountFailure;
use super::probe::Filesystem;

/// The maximum message length either side accepts, newline included. Real messages are under
/// 200 bytes.
pub const MAX_MESSAGE_LEN: usize = 4096;

/// A request from the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Request {
    /// Mount the USB disk or partition with this kernel name (`sda1`).
    Mount { device: String },
}

/// A reply from the helper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    Mounted {
        path: PathBuf,
        filesystem: Filesystem,
    },
    Failed(MountFailure),
    Released,
}

/// A message that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("message longer than {MAX_MESSAGE_LEN} bytes")]
    TooLong,
    #[error("connection closed in the middle of a message")]
    Truncated,
    #[error("invalid message: {0}")]
    Invalid(#[from] serde_json::Error),
}

/// Reads one message; `None` when the other side closed the connection before a message.
pub async fn read_message<T, R>(reader: &mut R) -> Result<Option<T>, ProtocolError>
where
    T: DeserializeOwned,
    R: AsyncBufRead + Unpin,
{
    let mut line = Vec::new();
    let limit = MAX_MESSAGE_LEN as u64;
    let length = (&mut *reader)
        .take(limit)
        .read_until(b'\n', &mut line)
        .await?;
    if length == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if length == MAX_MESSAGE_LEN {
            ProtocolError::TooLong
        } else {
            ProtocolError::Truncated
        });
    }
    Ok(Some(serde_json::from_slice(&line)?))
}

/// Writes one message and its newline.
pub async fn write_message<T, W>(writer: &mut W, message: &T) -> io::Result<()>
where
    T: Serialize,
    W: AsyncWrite + Unpin,
{
    let mut line = serde_json::to_vec(message).map_err(io::Error::other)?;
    line.push(b'\n');
    writer.write_all(&line).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use tokio::io::BufReader;

    use super::*;

    async fn read_from(bytes: &[u8]) -> Result<Option<Request>, ProtocolError> {
        read_message(&mut BufReader::new(bytes)).await
    }

    #[tokio::test]
    async fn request_wire_format() {
        let mut bytes = Vec::new();
        let request = Request::Mount {
            device: "sda1".to_owned(),
        };
        write_message(&mut bytes, &request).await.unwrap();
        assert_eq!(bytes, b"{\"mount\":{\"device\":\"sda1\"}}\n");
        assert_eq!(read_from(&bytes).await.unwrap(), Some(request));
    }

    #[tokio::test]
    async fn reply_wire_format() {
        let mut bytes = Vec::new();
        let mounted = Reply::Mounted {
            path: PathBuf::from("/run/practicebox-stick/sda1"),
            filesystem: Filesystem::Fat32,
        };
        write_message(&mut bytes, &mounted).await.unwrap();
        let failed = Reply::Failed(MountFailure::NoFilesystem {
            device: "sda1".to_owned(),
        });
        write_message(&mut bytes, &failed).await.unwrap();
        write_message(&mut bytes, &Reply::Released).await.unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "{\"mounted\":{\"path\":\"/run/practicebox-stick/sda1\",\"filesystem\":\"fat32\"}}\n\
             {\"failed\":{\"kind\":\"no-filesystem\",\"device\":\"sda1\"}}\n\
             \"released\"\n"
        );
    }

    #[tokio::test]
    async fn read_end_of_stream() {
        assert!(read_from(b"").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn read_truncated_message() {
        let error = read_from(b"{\"mount\":").await.unwrap_err();
        assert!(matches!(error, ProtocolError::Truncated), "{error}");
    }

    #[tokio::test]
    async fn read_too_long_message() {
        let bytes = vec![b' '; MAX_MESSAGE_LEN + 10];
        let error = read_from(&bytes).await.unwrap_err();
        assert!(matches!(error, ProtocolError::TooLong), "{error}");
    }

    #[tokio::test]
    async fn read_invalid_json() {
        let error = read_from(b"{\"unmount\":{}}\n").await.unwrap_err();
        assert!(matches!(error, ProtocolError::Invalid(_)), "{error}");
    }
}
