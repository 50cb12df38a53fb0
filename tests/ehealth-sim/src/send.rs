//! Sending one message through the publication service, as an eHealth sender does: a token from
//! the STS, the recipient's ETK from the ETK depot, the content sealed to it, then a signed
//! `sendMessage`. It backs `ehealth-sim send` and the publication tests.
//!
//! TODO: the sender is a doctor of the test PKI. Sending as a hospital needs organisation
//! certificates (NIHII-HOSPITAL) in the test PKI and organisation tokens in the STS.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use jiff::Timestamp;
use quick_xml::escape::escape;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng as _;
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;

use crate::etk::{self, EtkError};
use crate::peer::{Peer, PeerError, TokenRequest};
use crate::pki::{Doctor, TestPki};
use crate::seal::{self, SealError, SealOptions};
use crate::seed;
use crate::soap::{ETK_DEPOT_NS, PUBLICATION_NS, Service};

/// The SOAPAction of sendMessage.
pub const SEND_MESSAGE_ACTION: &str =
    "urn:be:fgov:ehealth:ehbox:publication:protocol:v3:sendMessage";

/// Errors of sending a message.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("INSZ {0} is not a doctor of the test PKI; use one listed in the PKI manifest")]
    UnknownDoctor(String),
    #[error(transparent)]
    Peer(#[from] PeerError),
    #[error("the ETK depot returned no ETK for INSZ {0}")]
    NoEtk(String),
    #[error("the ETK of INSZ {ssin} is invalid: {source}")]
    InvalidEtk { ssin: String, source: EtkError },
    #[error("sealing the message failed: {0}")]
    Seal(#[from] SealError),
}

/// One message to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The sending doctor's INSZ.
    pub from: String,
    /// The recipient doctor's INSZ.
    pub to: String,
    pub title: String,
    pub file_name: String,
    pub mime_type: String,
    pub content: Vec<u8>,
    /// Seal the content to the recipient and the sender (true), or send it in clear.
    pub encrypt: bool,
    /// 1 to 13 characters, unique per sender for a DOCUMENT.
    pub publication_id: String,
}

/// Sends `outgoing` through the simulator that `peer` talks to, and returns the reply envelope.
pub async fn send_message(
    peer: &Peer,
    pki: &TestPki,
    outgoing: &Outgoing,
    now: Timestamp,
) -> Result<String, SendError> {
    let sender = doctor(pki, &outgoing.from)?;
    doctor(pki, &outgoing.to)?;
    let credential = &sender.authentication;
    let assertion = peer
        .request_token(
            credential,
            credential,
            &TokenRequest::doctor(&outgoing.from),
            now,
        )
        .await?;

    let content = if outgoing.encrypt {
        // Sealed to the recipient and to the sender, so the sender can read its SENTBOX copy.
        let recipients = [
            fetch_encryption_certificate(peer, pki, &outgoing.to).await?,
            fetch_encryption_certificate(peer, pki, &outgoing.from).await?,
        ];
        let signer = seed::sender_credential(pki, sender)?;
        let mut rng = ChaCha20Rng::seed_from_u64(now.as_millisecond() as u64);
        seal::seal(
            &outgoing.content,
            &signer,
            &recipients,
            &SealOptions::new(now),
            &mut rng,
        )?
    } else {
        outgoing.content.clone()
    };

    let body = send_message_body(outgoing, &content);
    let path = Service::Publication.path();
    Ok(peer
        .send(
            path,
            SEND_MESSAGE_ACTION,
            &body,
            &assertion,
            credential,
            now,
        )
        .await?)
}

fn doctor<'a>(pki: &'a TestPki, ssin: &str) -> Result<&'a Doctor, SendError> {
    pki.doctor(ssin)
        .ok_or_else(|| SendError::UnknownDoctor(ssin.to_owned()))
}

/// Asks the ETK depot for the ETK of `ssin` and returns the encryption certificate in it.
async fn fetch_encryption_certificate(
    peer: &Peer,
    pki: &TestPki,
    ssin: &str,
) -> Result<Certificate, SendError> {
    let request = format!(
        "<etk:GetEtkRequest xmlns:etk=\"{ETK_DEPOT_NS}\"><etk:SearchCriteria><etk:Identifier>\
         <etk:Type>SSIN</etk:Type><etk:Value>{}</etk:Value></etk:Identifier></etk:SearchCriteria>\
         </etk:GetEtkRequest>",
        escape(ssin)
    );
    let reply = peer
        .post(
            Service::EtkDepot.path(),
            "",
            crate::soap::envelope(&request),
        )
        .await?;
    let token = etk_from_reply(&reply).ok_or_else(|| SendError::NoEtk(ssin.to_owned()))?;
    let parsed = etk::parse_etk(&token, pki.etk_ra.certificate()).map_err(|source| {
        SendError::InvalidEtk {
            ssin: ssin.to_owned(),
            source,
        }
    })?;
    Ok(parsed.encryption_certificate)
}

fn etk_from_reply(reply: &str) -> Option<Vec<u8>> {
    let document = roxmltree::Document::parse(reply).ok()?;
    let node = document
        .descendants()
        .find(|node| node.has_tag_name((ETK_DEPOT_NS, "ETK")))?;
    BASE64.decode(node.text()?.trim()).ok()
}

/// Writes the `pub:SendMessageRequest` element carrying `content` (sealed or not) inline.
pub fn send_message_body(outgoing: &Outgoing, content: &[u8]) -> String {
    let digest = BASE64.encode(Sha256::digest(content));
    format!(
        "<pub:SendMessageRequest xmlns:pub=\"{PUBLICATION_NS}\" PublicationId=\"{publication_id}\">\
         <DestinationContext><Id>{to}</Id><Type>INSS</Type><Quality>DOCTOR</Quality>\
         </DestinationContext><ContentContext><Content><Document><Title>{title}</Title>\
         <EncryptableTextContent>{content}</EncryptableTextContent>\
         <DownloadFileName>{file_name}</DownloadFileName><MimeType>{mime_type}</MimeType>\
         <Digest>{digest}</Digest></Document></Content><ContentSpecification>\
         <ApplicationName>ehealth-sim</ApplicationName><ContentType>DOCUMENT</ContentType>\
         <IsImportant>false</IsImportant><IsEncrypted>{encrypted}</IsEncrypted>\
         <PublicationReceipt>false</PublicationReceipt><ReceivedReceipt>false</ReceivedReceipt>\
         <ReadReceipt>false</ReadReceipt></ContentSpecification></ContentContext>\
         </pub:SendMessageRequest>",
        publication_id = escape(outgoing.publication_id.as_str()),
        to = escape(outgoing.to.as_str()),
        title = escape(outgoing.title.as_str()),
        content = BASE64.encode(content),
        file_name = escape(outgoing.file_name.as_str()),
        mime_type = escape(outgoing.mime_type.as_str()),
        encrypted = outgoing.encrypt,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_carries_digest_of_sent_bytes() {
        let outgoing = Outgoing {
            from: "78031414230".to_owned(),
            to: "83110208724".to_owned(),
            title: "Lab <results>".to_owned(),
            file_name: "lab.txt".to_owned(),
            mime_type: "text/plain".to_owned(),
            content: b"ignored".to_vec(),
            encrypt: false,
            publication_id: "P1".to_owned(),
        };
        let body = send_message_body(&outgoing, b"abc");
        let document = roxmltree::Document::parse(&body).expect("well-formed body");
        let text = |name: &str| {
            document
                .descendants()
                .find(|node| node.has_tag_name(name))
                .and_then(|node| node.text())
        };
        assert_eq!(
            text("Digest"),
            Some("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
        );
        assert_eq!(text("EncryptableTextContent"), Some("YWJj"));
        assert_eq!(text("Title"), Some("Lab <results>"));
        assert_eq!(text("IsEncrypted"), Some("false"));
    }
}
