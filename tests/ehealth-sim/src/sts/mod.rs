//! The simulator's I.AM STS: WS-Trust 1.3 Issue of SAML 1.1 holder-of-key assertions.
//!
//! [`Sts::handle`] takes a whole SOAP envelope and makes the platform's checks before it issues a
//! token:
//! - the X.509 WS-Security signature (exclusive c14n, RSA-SHA1 or RSA-SHA256) covers Body,
//!   Timestamp and BinarySecurityToken;
//! - the timestamp is within its window;
//! - the signature was not accepted before (see [`crate::replay`]);
//! - the certificate chains to a trusted CA and is valid now;
//! - the asserted SSIN claims equal the SSIN of the certificate.
//!
//! When the signing certificate is the requested holder-of-key (`wst:UseKey`), the reply carries
//! the assertion at once. Otherwise the STS replies with a sign challenge, and issues the token
//! once the holder-of-key credential has signed it back.
//!
//! Every failure becomes a platform [`Fault`]: SOA-01001 for authentication failures, SOA-03xxx
//! for malformed requests. Unlike the terse platform, the fault message names the reason, so tests
//! can tell the failures apart.
//!
//! The SAML-P AttributeQuery endpoint and WS-Trust Renew are not served here.

mod assertion;
mod request;
pub mod trust;
mod wss;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::{SignedDuration, Timestamp};
use quick_xml::escape::escape;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use x509_cert::Certificate;

pub use assertion::{
    CERTIFICATE_HOLDER_SSIN, CERTIFIED_NAMESPACE, DOCTOR_BOOLEAN, DOCTOR_NIHII11, HOLDER_OF_KEY,
    IDENTIFICATION_NAMESPACE, ISSUER, PERSON_SSIN, SAML_NS, SamlAttribute, format_instant,
};
pub use trust::{CertificateError, TrustAnchors};

use crate::replay::ReplayCache;
use crate::security::TimestampPolicy;
use crate::wire::{Fault, SoapReply};
use request::{ChallengeAnswer, IssueRequest, RequestedLifetime, StsRequest};

/// SOAPAction of a WS-Trust Issue request.
pub const ACTION_ISSUE: &str = "urn:be:fgov:ehealth:sts:protocol:v1:RequestSecurityToken";
/// SOAPAction of the response to a sign challenge.
pub const ACTION_CHALLENGE: &str = "urn:be:fgov:ehealth:sts:protocol:v1:Challenge";
/// The KeyType spelling eHealth clients send.
pub const KEY_TYPE_PUBLIC_KEY: &str = request::KEY_TYPE_PUBLIC_KEY_EHEALTH;

/// A person's entry in the [`Directory`], keyed by SSIN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// The person is a recognised doctor: the STS certifies `doctor:boolean = true`.
    pub doctor: bool,
    /// The doctor's 11-digit NIHII, certified as `doctor:nihii11` for doctors only.
    pub nihii11: Option<String>,
}

/// The people the STS can certify attributes for. An SSIN that is not listed still gets a token,
/// with only the SSIN attributes.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    people: BTreeMap<String, Person>,
}

impl Directory {
    /// Adds or replaces the entry of `ssin`.
    pub fn insert(&mut self, ssin: impl Into<String>, person: Person) {
        self.people.insert(ssin.into(), person);
    }

    /// Returns the entry of `ssin`, if listed.
    pub fn get(&self, ssin: &str) -> Option<&Person> {
        self.people.get(ssin)
    }
}

/// The STS configuration: its signing credential, trust anchors and token policy.
#[derive(Debug, Clone)]
pub struct StsConfig {
    /// Key that signs the issued assertions.
    pub signing_key: rsa::PrivateKey,
    /// DER certificate of `signing_key`, placed in each assertion's KeyInfo.
    pub certificate_der: Vec<u8>,
    /// DER certificates of the CAs whose direct issuance is trusted.
    pub trusted_ca_der: Vec<Vec<u8>>,
    /// Checks on the WS-Security timestamp of each request.
    pub timestamps: TimestampPolicy,
    /// Upper bound of a token's lifetime, whatever the request contains.
    pub max_token_lifetime: SignedDuration,
    /// When set, every token lives exactly this long (to test expiry), ignoring the request, the
    /// certificate end and `max_token_lifetime`.
    pub forced_token_lifetime: Option<SignedDuration>,
    /// How long a sign challenge stays open.
    pub challenge_lifetime: SignedDuration,
    /// Whether the issue reply wraps its `RequestSecurityTokenResponse` in a
    /// `RequestSecurityTokenResponseCollection`. Both shapes are seen from eHealth's STS.
    pub wrap_in_collection: bool,
    /// The people whose attributes the STS certifies.
    pub directory: Directory,
    /// Whether the request signature must also cover the BinarySecurityToken (the ProtectTokens
    /// policy of the STS WSDL).
    pub require_signed_token: bool,
    /// Seed of the generator of assertion IDs and challenges.
    pub seed: u64,
    /// The signatures already accepted; the simulator shares one cache with the eHealthBox
    /// services.
    pub replay: Arc<ReplayCache>,
}

impl StsConfig {
    /// Creates a configuration with the default policy: 5 minutes of clock skew, tokens of at most
    /// 24 hours, challenges open for 5 minutes.
    // NOTE: the platform's skew allowance and maximum lifetime are not published; 5 minutes and
    // 24 hours are assumptions, which is why both are fields.
    pub fn new(
        signing_key: rsa::PrivateKey,
        certificate_der: Vec<u8>,
        trusted_ca_der: Vec<Vec<u8>>,
    ) -> Self {
        Self {
            signing_key,
            certificate_der,
            trusted_ca_der,
            timestamps: TimestampPolicy::default(),
            max_token_lifetime: SignedDuration::from_hours(24),
            forced_token_lifetime: None,
            challenge_lifetime: SignedDuration::from_mins(5),
            wrap_in_collection: true,
            directory: Directory::default(),
            require_signed_token: true,
            seed: 0,
            replay: Arc::new(ReplayCache::default()),
        }
    }
}

/// A token the STS issued, as listed by the admin interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub assertion_id: String,
    pub ssin: String,
    pub issued_at: Timestamp,
    pub not_before: Timestamp,
    pub not_on_or_after: Timestamp,
    /// Subject DN of the holder-of-key certificate.
    pub holder_of_key_subject: String,
    pub attributes: Vec<SamlAttribute>,
    /// The signed assertion exactly as sent.
    pub assertion_xml: String,
}

/// Why the STS rejects a request. Each variant maps to one platform fault code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StsError {
    #[error("request is not well-formed XML: {0}")]
    Malformed(String),
    #[error("request is not a SOAP 1.1 envelope: {0}")]
    NotSoap(String),
    #[error("SOAP envelope has no Body element or the Body is empty")]
    NoBody,
    #[error("body element {element} is not an STS operation; send wst:RequestSecurityToken")]
    UnknownOperation { element: String },
    #[error("required element {element} is missing")]
    MissingElement { element: String },
    #[error("{field} has value {value:?}; expected {expected}")]
    InvalidValue {
        field: String,
        value: String,
        expected: String,
    },
    #[error("WS-Security check failed: {0}")]
    Security(String),
    #[error("certificate rejected: {0}")]
    Certificate(#[from] CertificateError),
    #[error("certificate {subject} carries no SSIN=<11 digits> in its CN or OU")]
    NoSsinInCertificate { subject: String },
    #[error(
        "claim {uri} asserts SSIN {claimed}, but the signing certificate belongs to SSIN {actual}"
    )]
    ClaimMismatch {
        uri: String,
        claimed: String,
        actual: String,
    },
    #[error(
        "holder-of-key certificate belongs to SSIN {holder}, but the request is authenticated as SSIN {authenticated}"
    )]
    HolderMismatch {
        holder: String,
        authenticated: String,
    },
    #[error(
        "no open sign challenge has Context {context:?}; it was never issued, already answered or has expired"
    )]
    UnknownChallenge { context: String },
    #[error("challenge answer for Context {context:?} does not repeat the challenge text")]
    ChallengeMismatch { context: String },
    #[error(
        "challenge answer is signed by {signer}, not by the holder-of-key certificate {holder}"
    )]
    ChallengeSigner { signer: String, holder: String },
    #[error("requested token lifetime ends at {expires}, which is not after now ({now})")]
    LifetimeInPast { expires: Timestamp, now: Timestamp },
    #[error("failed to sign the assertion: {0}")]
    Signing(String),
}

impl StsError {
    fn invalid(field: &str, value: &str, expected: &str) -> Self {
        Self::InvalidValue {
            field: field.to_owned(),
            value: value.to_owned(),
            expected: expected.to_owned(),
        }
    }

    /// Returns the platform code of this failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "SOA-03001",
            Self::NotSoap(_) => "SOA-03002",
            Self::NoBody => "SOA-03003",
            Self::UnknownOperation { .. } => "SOA-03005",
            Self::MissingElement { .. } => "SOA-03006",
            Self::InvalidValue { .. } | Self::LifetimeInPast { .. } => "SOA-03007",
            Self::Signing(_) => "SOA-00001",
            Self::Security(_)
            | Self::Certificate(_)
            | Self::NoSsinInCertificate { .. }
            | Self::ClaimMismatch { .. }
            | Self::HolderMismatch { .. }
            | Self::UnknownChallenge { .. }
            | Self::ChallengeMismatch { .. }
            | Self::ChallengeSigner { .. } => "SOA-01001",
        }
    }
}

impl From<StsError> for Fault {
    fn from(err: StsError) -> Self {
        let code = err.code();
        match code {
            "SOA-01001" => Fault::not_authenticated(err.to_string()),
            "SOA-00001" => Fault::system(code, err.to_string(), true),
            _ => Fault::system(code, err.to_string(), false),
        }
    }
}

/// An Issue request waiting for the holder-of-key to sign the challenge.
#[derive(Debug)]
struct PendingChallenge {
    challenge: String,
    expires: Timestamp,
    ssin: String,
    authenticated: Certificate,
    request: IssueRequest,
}

#[derive(Debug)]
struct State {
    rng: ChaCha20Rng,
    directory: Directory,
    pending: HashMap<String, PendingChallenge>,
    issued: Vec<IssuedToken>,
}

/// The simulator's STS. Cheap to share behind an `Arc`; all state sits behind one lock.
#[derive(Debug)]
pub struct Sts {
    config: StsConfig,
    anchors: TrustAnchors,
    state: Mutex<State>,
}

impl Sts {
    /// Creates the STS, checking that its own certificate and the CA certificates parse.
    pub fn new(config: StsConfig) -> Result<Self, CertificateError> {
        let anchors = TrustAnchors::from_der(&config.trusted_ca_der)?;
        trust::parse_certificate(&config.certificate_der)?;
        let state = State {
            rng: ChaCha20Rng::seed_from_u64(config.seed),
            directory: config.directory.clone(),
            pending: HashMap::new(),
            issued: Vec::new(),
        };
        Ok(Self {
            config,
            anchors,
            state: Mutex::new(state),
        })
    }

    /// Returns the DER certificate whose key signs the assertions.
    pub fn certificate_der(&self) -> &[u8] {
        &self.config.certificate_der
    }

    /// Adds or replaces a person in the directory.
    pub fn set_person(&self, ssin: impl Into<String>, person: Person) {
        self.lock().directory.insert(ssin, person);
    }

    /// Returns every token issued so far, oldest first.
    pub fn issued_tokens(&self) -> Vec<IssuedToken> {
        self.lock().issued.clone()
    }

    /// Serves one STS call: `envelope` is the whole SOAP request. The body element decides the
    /// operation; the SOAPAction is only logged here, since the transport checks it against that
    /// operation (see [`crate::soap::check_soap_action`]).
    pub fn handle(
        &self,
        envelope: &str,
        soap_action: Option<&str>,
        now: Timestamp,
    ) -> Result<SoapReply, Fault> {
        tracing::debug!(soap_action, "STS request");
        self.serve(envelope, now).map_err(|err| {
            tracing::info!(code = err.code(), error = %err, "STS request rejected");
            Fault::from(err)
        })
    }

    fn serve(&self, envelope: &str, now: Timestamp) -> Result<SoapReply, StsError> {
        let verified = wss::verify_x509_request(
            envelope,
            &self.config.timestamps,
            self.config.require_signed_token,
            now,
        )?;
        let signer = trust::parse_certificate(&verified.signer_der)?;
        self.anchors.verify(&signer, now)?;
        self.config
            .replay
            .check_and_record(&verified.signature_value, verified.replay_window_end, now)
            .map_err(|replayed| StsError::Security(replayed.to_string()))?;

        match verified.request {
            StsRequest::Issue(request) => self.handle_issue(request, signer, now),
            StsRequest::ChallengeAnswer(answer) => {
                self.handle_challenge_answer(answer, signer, now)
            }
        }
    }

    fn handle_issue(
        &self,
        request: IssueRequest,
        signer: Certificate,
        now: Timestamp,
    ) -> Result<SoapReply, StsError> {
        let ssin = certificate_ssin(&signer)?;
        check_claims(&request, &ssin)?;

        let holder = trust::parse_certificate(&request.use_key_certificate)?;
        self.anchors.verify(&holder, now)?;
        if let Some(holder_ssin) = trust::ssin_of(&holder)
            && holder_ssin != ssin
        {
            return Err(StsError::HolderMismatch {
                holder: holder_ssin,
                authenticated: ssin,
            });
        }

        if signer == holder {
            return self.issue(&request, &signer, &holder, &ssin, now);
        }
        Ok(self.open_challenge(request, signer, ssin, now))
    }

    fn open_challenge(
        &self,
        request: IssueRequest,
        signer: Certificate,
        ssin: String,
        now: Timestamp,
    ) -> SoapReply {
        let mut state = self.lock();
        state.pending.retain(|_, pending| pending.expires > now);

        let challenge = random_hex(&mut state.rng, 20);
        let context = match &request.context {
            Some(context) if !state.pending.contains_key(context) => context.clone(),
            _ => format!("urn:uuid:{}", random_uuid(&mut state.rng)),
        };
        let pending = PendingChallenge {
            challenge: challenge.clone(),
            expires: now
                .saturating_add(self.config.challenge_lifetime)
                .unwrap_or(Timestamp::MAX),
            ssin,
            authenticated: signer,
            request,
        };
        state.pending.insert(context.clone(), pending);

        let body = format!(
            r#"<wst:RequestSecurityTokenResponse xmlns:wst="{}" Context="{}"><wst:SignChallenge><wst:Challenge>{}</wst:Challenge></wst:SignChallenge></wst:RequestSecurityTokenResponse>"#,
            request::WST_NS,
            escape(&context),
            escape(&challenge),
        );
        SoapReply {
            body,
            attachments: Vec::new(),
        }
    }

    fn handle_challenge_answer(
        &self,
        answer: ChallengeAnswer,
        signer: Certificate,
        now: Timestamp,
    ) -> Result<SoapReply, StsError> {
        let pending = {
            let mut state = self.lock();
            state.pending.retain(|_, pending| pending.expires > now);
            state
                .pending
                .remove(&answer.context)
                .ok_or_else(|| StsError::UnknownChallenge {
                    context: answer.context.clone(),
                })?
        };
        if pending.challenge != answer.challenge {
            return Err(StsError::ChallengeMismatch {
                context: answer.context,
            });
        }

        let holder = trust::parse_certificate(&pending.request.use_key_certificate)?;
        if signer != holder {
            return Err(StsError::ChallengeSigner {
                signer: trust::subject_dn(&signer),
                holder: trust::subject_dn(&holder),
            });
        }
        self.issue(
            &pending.request,
            &pending.authenticated,
            &holder,
            &pending.ssin,
            now,
        )
    }

    fn issue(
        &self,
        request: &IssueRequest,
        authenticated: &Certificate,
        holder: &Certificate,
        ssin: &str,
        now: Timestamp,
    ) -> Result<SoapReply, StsError> {
        let not_on_or_after = self.token_end(request.lifetime, holder, now)?;
        let mut state = self.lock();
        let person = state.directory.get(ssin).cloned();
        let attributes = assertion::grant_attributes(
            request.claims.iter().map(|claim| claim.uri.as_str()),
            ssin,
            person.as_ref(),
        );
        let assertion_id = format!("_{}", random_hex(&mut state.rng, 16));

        let subject_dn = trust::subject_dn(authenticated);
        let subject_issuer_dn = trust::issuer_dn(authenticated);
        let content = assertion::AssertionContent {
            assertion_id: &assertion_id,
            issue_instant: now,
            not_before: now,
            not_on_or_after,
            subject_dn: &subject_dn,
            subject_issuer_dn: &subject_issuer_dn,
            holder_of_key_der: &request.use_key_certificate,
            attributes: &attributes,
        };
        let unsigned = assertion::unsigned_assertion(&content);
        let signed = wss::sign_assertion(
            &unsigned,
            &self.config.signing_key,
            &self.config.certificate_der,
        )?;

        state.issued.push(IssuedToken {
            assertion_id: assertion_id.clone(),
            ssin: ssin.to_owned(),
            issued_at: now,
            not_before: now,
            not_on_or_after,
            holder_of_key_subject: trust::subject_dn(holder),
            attributes,
            assertion_xml: signed.clone(),
        });
        drop(state);
        tracing::info!(ssin, assertion_id, %not_on_or_after, "STS issued a token");

        Ok(SoapReply {
            body: self.issue_response(request, &signed, now, not_on_or_after),
            attachments: Vec::new(),
        })
    }

    /// Returns `NotOnOrAfter`: the forced lifetime when configured, else the earliest of the
    /// requested end, the holder-of-key certificate's end and the configured maximum.
    fn token_end(
        &self,
        requested: Option<RequestedLifetime>,
        holder: &Certificate,
        now: Timestamp,
    ) -> Result<Timestamp, StsError> {
        let after =
            |duration: SignedDuration| now.saturating_add(duration).unwrap_or(Timestamp::MAX);
        if let Some(forced) = self.config.forced_token_lifetime {
            return Ok(after(forced));
        }

        let mut end = after(self.config.max_token_lifetime).min(trust::not_after(holder));
        if let Some(expires) = requested.and_then(|lifetime| lifetime.expires) {
            if expires <= now {
                return Err(StsError::LifetimeInPast { expires, now });
            }
            end = end.min(expires);
        }
        Ok(end)
    }

    fn issue_response(
        &self,
        request: &IssueRequest,
        assertion: &str,
        now: Timestamp,
        end: Timestamp,
    ) -> String {
        let context = request
            .context
            .as_deref()
            .map(|context| format!(r#" Context="{}""#, escape(context)))
            .unwrap_or_default();
        let response = format!(
            r#"<wst:RequestSecurityTokenResponse{context}><wst:TokenType>{}</wst:TokenType><wst:RequestedSecurityToken>{assertion}</wst:RequestedSecurityToken><wst:Lifetime><wsu:Created>{}</wsu:Created><wsu:Expires>{}</wsu:Expires></wst:Lifetime></wst:RequestSecurityTokenResponse>"#,
            request::SAML11_TOKEN_TYPE,
            format_instant(now),
            format_instant(end),
        );
        let namespaces = format!(
            r#"xmlns:wst="{}" xmlns:wsu="{}""#,
            request::WST_NS,
            request::WSU_NS
        );
        if self.config.wrap_in_collection {
            format!(
                "<wst:RequestSecurityTokenResponseCollection {namespaces}>{response}</wst:RequestSecurityTokenResponseCollection>"
            )
        } else {
            response.replacen(
                "<wst:RequestSecurityTokenResponse",
                &format!("<wst:RequestSecurityTokenResponse {namespaces}"),
                1,
            )
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a test panicked while holding it; the state stays consistent
        // because every update is a single insert or push.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn certificate_ssin(certificate: &Certificate) -> Result<String, StsError> {
    trust::ssin_of(certificate).ok_or_else(|| StsError::NoSsinInCertificate {
        subject: trust::subject_dn(certificate),
    })
}

/// Checks that every asserted SSIN claim names the certificate's SSIN.
fn check_claims(request: &IssueRequest, ssin: &str) -> Result<(), StsError> {
    for claim in &request.claims {
        let asserts_ssin = claim.uri == CERTIFICATE_HOLDER_SSIN || claim.uri == PERSON_SSIN;
        match &claim.value {
            Some(value) if asserts_ssin && value != ssin => {
                return Err(StsError::ClaimMismatch {
                    uri: claim.uri.clone(),
                    claimed: value.clone(),
                    actual: ssin.to_owned(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

fn random_hex(rng: &mut ChaCha20Rng, bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

fn random_uuid(rng: &mut ChaCha20Rng) -> String {
    let hex = random_hex(rng, 16);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
pub(crate) mod tests;
