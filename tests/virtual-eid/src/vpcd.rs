//! The card side of the vpcd protocol (vsmartcard's virtual reader driver for pcscd). vpcd is
//! the TCP server and speaks first; every message in both directions is a 2-byte big-endian
//! length and that many bytes. A 1-byte message is a control code (`00` power off, `01` power
//! on, `02` reset, `04` send the ATR); anything longer is a command APDU, and the card replies with the
//! full response APDU. Closing the connection is "card removed".

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::card::{Reply, VirtualCard};

/// A shared virtual card, so that a test can arm knobs while vpcd talks to it.
pub type SharedCard = Arc<Mutex<VirtualCard>>;

/// How long [`VpcdConnection::remove`] waits for vpcd's next presence check. pcscd checks a
/// vpcd reader about every 400 ms; the rest is a margin for a loaded machine.
const REMOVAL_WAIT: Duration = Duration::from_secs(5);

/// A running vpcd connection.
#[derive(Debug)]
pub struct VpcdConnection {
    stream: TcpStream,
    thread: Option<JoinHandle<io::Result<()>>>,
    /// Set by [`remove`](Self::remove): the next presence check finds no card.
    removing: Arc<AtomicBool>,
}

impl VpcdConnection {
    /// Serves `card` on an already connected stream (see [`crate::pcscd`] for a stream inside
    /// the test pcscd's network namespace).
    pub fn serve(stream: TcpStream, card: SharedCard) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        let reader = stream.try_clone()?;
        let removing = Arc::new(AtomicBool::new(false));
        let thread_removing = Arc::clone(&removing);
        let thread = std::thread::Builder::new()
            .name("virtual-eid-vpcd".into())
            .spawn(move || serve_loop(reader, &card, &thread_removing))?;
        Ok(Self {
            stream,
            thread: Some(thread),
            removing,
        })
    }

    /// Connects to vpcd on 127.0.0.1:`port` and serves `card`.
    pub fn connect(port: u16, card: SharedCard) -> io::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        Self::serve(stream, card)
    }

    /// Pulls the card out of the virtual reader, and returns once pcscd has seen it go.
    ///
    /// Closing the connection at once would leave pcscd reporting the card as present until its
    /// next presence check. A PC/SC client that connects in between, such as a quick test that
    /// inserts the next card, would then talk to a card that is gone. Instead the connection
    /// closes when vpcd's next presence check (its ATR request) arrives, and pcscd records that
    /// as a removal. Without a presence check within a few seconds (no pcscd), the connection
    /// closes anyway.
    pub fn remove(mut self) -> io::Result<()> {
        self.removing.store(true, Ordering::SeqCst);
        let started = Instant::now();
        while let Some(thread) = &self.thread {
            if thread.is_finished() || started.elapsed() > REMOVAL_WAIT {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.close()
    }

    /// Waits until vpcd closes the connection or the card is removed.
    pub fn wait(mut self) -> io::Result<()> {
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("vpcd thread panicked"))),
            None => Ok(()),
        }
    }

    fn close(&mut self) -> io::Result<()> {
        // Ignore "not connected": vpcd may have closed first.
        let _ = self.stream.shutdown(Shutdown::Both);
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("vpcd thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for VpcdConnection {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

fn serve_loop(mut stream: TcpStream, card: &SharedCard, removing: &AtomicBool) -> io::Result<()> {
    loop {
        let Some(message) = read_message(&mut stream)? else {
            return Ok(());
        };
        let mut card = card.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match message.as_slice() {
            [0x00] => card.power_off(),
            [0x01] => {}
            [0x02] => card.reset(),
            [0x04] => {
                if card.is_removed() || removing.load(Ordering::SeqCst) {
                    return close(&stream);
                }
                write_message(&mut stream, &card.atr())?;
            }
            [code] => tracing::warn!(code, "unknown vpcd control code"),
            apdu => match card.process(apdu) {
                Reply::Response(response) => write_message(&mut stream, &response)?,
                Reply::Removed => {
                    tracing::info!("virtual card removed from the reader");
                    return close(&stream);
                }
            },
        }
    }
}

fn close(stream: &TcpStream) -> io::Result<()> {
    let _ = stream.shutdown(Shutdown::Both);
    Ok(())
}

/// Reads one framed message; `None` when vpcd closed the connection.
fn read_message(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    // vpcd sends the length and the body in two writes; without quick ACKs every APDU waits for
    // the delayed-ACK timer (about 40 ms). The flag is not sticky, so set it before each read.
    quick_ack(stream);
    let mut header = [0u8; 2];
    match stream.read_exact(&mut header) {
        Ok(()) => {}
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::NotConnected
            ) =>
        {
            return Ok(None);
        }
        Err(error) => return Err(error),
    }
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(header))];
    quick_ack(stream);
    match stream.read_exact(&mut body) {
        Ok(()) => Ok(Some(body)),
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(error) => Err(error),
    }
}

fn write_message(stream: &mut TcpStream, body: &[u8]) -> io::Result<()> {
    let length = u16::try_from(body.len()).map_err(|_| {
        io::Error::other(format!(
            "a {}-byte message does not fit vpcd framing",
            body.len()
        ))
    })?;
    // One write for header and body, so vpcd never waits for half a message.
    let mut message = Vec::with_capacity(2 + body.len());
    message.extend_from_slice(&length.to_be_bytes());
    message.extend_from_slice(body);
    stream.write_all(&message)
}

#[cfg(target_os = "linux")]
fn quick_ack(stream: &TcpStream) {
    if let Err(error) = rustix::net::sockopt::set_tcp_quickack(stream, true) {
        tracing::debug!(%error, "TCP_QUICKACK not set");
    }
}

#[cfg(not(target_os = "linux"))]
fn quick_ack(_stream: &TcpStream) {}
