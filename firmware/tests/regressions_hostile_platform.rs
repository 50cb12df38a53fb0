//! The box's eHealth client against a platform whose replies go wrong: a proxy transport
//! forwards every call to the in-process simulator and rewrites chosen replies, and a loopback
//! HTTP server sends replies larger than the box reads.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ehealth_sim::clock::{Clock as _, SimClock};
use ehealth_sim::pki::{self, Doctor, KeystoreOptions, TestPki};
use ehealth_sim::seed;
use ehealth_sim::server::{RunningSimulator, SimConfig, Simulator};
use ehealth_sim::soap::BinaryMode;
use jiff::Timestamp;
use practicebox::ehealth::clock::{Clock, ClockError};
use practicebox::ehealth::ehbox::{EhboxClient, RetryPolicy, Source};
use practicebox::ehealth::endpoints::Endpoints;
use practicebox::ehealth::fetch::FetchPass;
use practicebox::ehealth::keystore::EhealthKeystore;
use practicebox::ehealth::sts::TokenCache;
use practicebox::ehealth::transport::{
    HttpsTransport, MAX_REPLY_BYTES, SoapReply, SoapTransport, TransportError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

const SEED: u64 = 20_261_205;

fn test_pki() -> TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::generate_with(
            SEED,
            Timestamp::now(),
            &pki::practice(),
            &KeystoreOptions::fast(),
        )
        .expect("test PKI generation")
    })
    .clone()
}

#[derive(Debug)]
struct SimulatorClock(Arc<SimClock>);

impl Clock for SimulatorClock {
    fn now(&self) -> Timestamp {
        self.0.now()
    }

    fn check_synchronised(&self) -> Result<(), ClockError> {
        Ok(())
    }
}

type Rewrite = Box<dyn Fn(&str, SoapReply) -> SoapReply + Send + Sync>;

/// Forwards to the simulator and passes each reply through `rewrite` with the SOAPAction.
struct HostileProxy {
    inner: HttpsTransport,
    rewrite: Mutex<Option<Rewrite>>,
}

impl SoapTransport for HostileProxy {
    async fn post(
        &self,
        url: &str,
        action: &str,
        envelope: String,
    ) -> Result<SoapReply, TransportError> {
        let reply = self.inner.post(url, action, envelope).await?;
        let rewrite = self.rewrite.lock().expect("rewrite lock");
        Ok(match rewrite.as_ref() {
            Some(rewrite) => rewrite(action, reply),
            None => reply,
        })
    }
}

struct Harness {
    simulator: RunningSimulator,
    endpoints: Endpoints,
    proxy: HostileProxy,
    clock: SimulatorClock,
    tokens: TokenCache,
    keystore: EhealthKeystore,
    _ca_folder: tempfile::TempDir,
}

impl Harness {
    async fn start(messages: usize) -> Self {
        let clock = Arc::new(SimClock::real_time());
        let mut config = SimConfig::loopback(test_pki(), SEED);
        config.http = None;
        config.admin = None;
        config.clock = Arc::clone(&clock);
        let simulator = Simulator::start(config).await.expect("simulator start");
        simulator.knobs.set_binary_mode(BinaryMode::Inline);

        let ca_folder = tempfile::tempdir().expect("temp folder");
        let ca_file = ca_folder.path().join("ca.pem");
        std::fs::write(&ca_file, &simulator.ca_pem).expect("CA file");
        let base = format!("https://localhost:{}", simulator.addresses.https.port());
        let mut endpoints = Endpoints::simulator(&base, ca_file);
        endpoints
            .resolve
            .insert("localhost".to_owned(), simulator.addresses.https);
        let inner = HttpsTransport::new(&endpoints).expect("HTTPS transport");

        let doctor: Doctor = simulator.pki.doctors[0].clone();
        {
            let mut platform = simulator.platform.lock().expect("platform lock");
            seed::create_doctor_box(&mut platform, &doctor, None).expect("doctor box");
        }
        if messages > 0 {
            simulator
                .admin()
                .seed_messages(&doctor.spec.ssin, messages)
                .expect("seeded messages");
        }
        let password = Zeroizing::new(doctor.keystore.password.clone());
        let keystore = EhealthKeystore::open(
            &doctor.keystore.file_name,
            &doctor.keystore.bytes,
            &password,
        )
        .expect("doctor keystore");

        Self {
            simulator,
            endpoints,
            proxy: HostileProxy {
                inner,
                rewrite: Mutex::new(None),
            },
            clock: SimulatorClock(clock),
            tokens: TokenCache::new(),
            keystore,
            _ca_folder: ca_folder,
        }
    }

    fn rewrite(&self, rewrite: impl Fn(&str, SoapReply) -> SoapReply + Send + Sync + 'static) {
        *self.proxy.rewrite.lock().expect("rewrite lock") = Some(Box::new(rewrite));
    }

    fn client(&self) -> EhboxClient<'_, HostileProxy> {
        EhboxClient::new(
            &self.proxy,
            &self.endpoints,
            &self.clock,
            &self.tokens,
            &self.keystore,
        )
        .with_retry(RetryPolicy {
            attempts: 1,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
        })
    }

    fn pass(&self) -> FetchPass<'_, HostileProxy> {
        FetchPass {
            transport: &self.proxy,
            endpoints: &self.endpoints,
            clock: &self.clock,
            tokens: &self.tokens,
            keystore: &self.keystore,
            retry: RetryPolicy {
                attempts: 1,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(10),
            },
        }
    }
}

fn is_action(action: &str, operation: &str) -> bool {
    action.ends_with(operation)
}

/// Replaces the text of the first `<name>` element with `replace(old)`.
fn edit_first(envelope: &str, name: &str, replace: impl Fn(&str) -> String) -> String {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let Some(start) = envelope.find(&open) else {
        panic!("no <{name}> in {envelope}");
    };
    let start = start + open.len();
    let end = start + envelope[start..].find(&close).expect("closing tag");
    format!(
        "{}{}{}",
        &envelope[..start],
        replace(&envelope[start..end]),
        &envelope[end..]
    )
}

#[tokio::test]
async fn platform_ignoring_start_index() {
    let harness = Harness::start(100).await;
    // Every page contains the same 100 messages, as a platform that ignores StartIndex sends.
    let first_page: Mutex<Option<SoapReply>> = Mutex::new(None);
    harness.rewrite(move |action, reply| {
        if !is_action(action, "getMessagesList") {
            return reply;
        }
        let mut first_page = first_page.lock().expect("page lock");
        first_page.get_or_insert(reply).clone()
    });
    let client = harness.client();
    let listed = tokio::time::timeout(Duration::from_secs(20), client.list_all(Source::Inbox))
        .await
        .expect("list_all ends although every page repeats the first one");
    let listed = listed.expect("listing");
    assert_eq!(listed.len(), 100);
    harness.simulator.shutdown().await;
}

#[tokio::test]
async fn truncated_sealed_document() {
    let harness = Harness::start(2).await;
    harness.rewrite(|action, mut reply| {
        if is_action(action, "getFullMessage") {
            reply.envelope = edit_first(&reply.envelope, "EncryptableTextContent", |text| {
                let sealed = BASE64.decode(text.trim()).expect("base64 content");
                BASE64.encode(&sealed[..sealed.len() / 2])
            });
        }
        reply
    });
    let summary = harness.pass().run(false).await.expect("pass ends");
    let failed: Vec<&String> = summary
        .lines
        .iter()
        .filter(|line| line.contains("UNSEAL FAILED"))
        .collect();
    assert_eq!(failed.len(), 2, "{:#?}", summary.lines);
    harness.simulator.shutdown().await;
}

#[tokio::test]
async fn invalid_base64_content() {
    let harness = Harness::start(1).await;
    harness.rewrite(|action, mut reply| {
        if is_action(action, "getFullMessage") {
            reply.envelope = edit_first(&reply.envelope, "EncryptableTextContent", |_| {
                "!!not base64!!".to_owned()
            });
        }
        reply
    });
    let error = harness.pass().run(false).await.unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains("malformed"), "{text}");
    harness.simulator.shutdown().await;
}

/// Serves one reply: the `head` lines, then `size` spaces, stopping when the client hangs up.
async fn serve_once(listener: TcpListener, head: String, size: usize) {
    let (mut stream, _) = listener.accept().await.expect("connection");
    let mut request = vec![0; 64 * 1024];
    let _ = stream.read(&mut request).await;
    stream.write_all(head.as_bytes()).await.expect("head");
    let chunk = vec![b' '; 1024 * 1024];
    let mut sent = 0;
    while sent < size {
        if stream.write_all(&chunk).await.is_err() {
            return;
        }
        sent += chunk.len();
    }
}

async fn post_to_server(head: impl FnOnce(usize) -> String) -> TransportError {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
    let port = listener.local_addr().expect("address").port();
    let size = MAX_REPLY_BYTES + 8 * 1024 * 1024;
    tokio::spawn(serve_once(listener, head(size), size));

    let mut endpoints = Endpoints::acceptance();
    endpoints.consultation = format!("http://127.0.0.1:{port}/ehBoxConsultation/v3");
    let transport = HttpsTransport::new(&endpoints).expect("transport");
    transport
        .post(&endpoints.consultation, "getFullMessage", "<x/>".to_owned())
        .await
        .expect_err("an oversized reply is rejected")
}

#[tokio::test]
async fn announced_oversized_reply_rejected() {
    let error = post_to_server(|size| {
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {size}\r\n\r\n")
    })
    .await;
    assert!(
        matches!(error, TransportError::TooLarge { limit, .. } if limit == MAX_REPLY_BYTES),
        "{error:?}"
    );
}

#[tokio::test]
async fn streamed_oversized_reply_rejected() {
    // No Content-Length: the body runs until the server closes the connection.
    let error = post_to_server(|_| {
        "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n\r\n".to_owned()
    })
    .await;
    assert!(
        matches!(error, TransportError::TooLarge { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("larger than"), "{error}");
}
