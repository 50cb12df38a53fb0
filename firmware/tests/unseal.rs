//! Unsealing messages sealed by `openssl cms` (sign, encrypt, sign), in DER and streamed BER,
//! with every signature and recipient variant eHealth senders use, and the distinct errors
//! for damaged, tampered and misaddressed messages.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use practicebox::ehealth::{
    keystore::EhealthKeystore,
    unseal::{
        DigestAlgorithm, Layer, RecipientId, SignatureAlgorithm, SignerRelation, UnsealError,
        UnsealPolicy, Unsealed, unseal,
    },
};
use support::{
    ENCRYPTION_SERIAL, EncryptOptions, OLD_ENCRYPTION_SERIAL, PASSWORD, SENDER_SSIN, SignOptions,
    Workspace, sample_content,
};
use zeroize::Zeroizing;

const PSS_SHA256: SignatureAlgorithm = SignatureAlgorithm::RsaPss {
    digest: DigestAlgorithm::Sha256,
    salt_length: 32,
};

fn keystore(workspace: &Workspace) -> EhealthKeystore {
    let password = Zeroizing::new(PASSWORD.to_owned());
    EhealthKeystore::open("doctor.p12", &workspace.doctor_keystore(true), &password).unwrap()
}

fn open(workspace: &Workspace, blob: &[u8]) -> Result<Unsealed, UnsealError> {
    unseal(blob, &keystore(workspace), &UnsealPolicy::default())
}

fn assert_sender(unsealed: &Unsealed, workspace: &Workspace) {
    assert_eq!(unsealed.sender.der, workspace.der("sender.pem"));
    assert_eq!(unsealed.sender.ssin.as_deref(), Some(SENDER_SSIN));
    assert_eq!(unsealed.sender.serial, "1002");
    assert!(
        unsealed
            .sender
            .subject
            .starts_with(&format!("CN=SSIN={SENDER_SSIN},"))
    );
    assert_eq!(unsealed.outer_signature.signer, SignerRelation::Sender);
    assert_eq!(unsealed.inner_signature.signer, SignerRelation::Sender);
}

#[test]
fn pss_der_opens_byte_exact() {
    let workspace = Workspace::new();
    let content = sample_content(100_003);
    let blob = workspace.seal(
        &content,
        &SignOptions::default(),
        &EncryptOptions::default(),
    );

    let unsealed = open(&workspace, &blob).unwrap();

    assert_eq!(unsealed.content, content);
    assert_sender(&unsealed, &workspace);
    assert_eq!(unsealed.outer_signature.algorithm, PSS_SHA256);
    assert_eq!(unsealed.inner_signature.algorithm, PSS_SHA256);
    assert!(unsealed.outer_signature.signed_attributes);
    assert!(unsealed.signing_time.is_some());
    assert_eq!(unsealed.recipient_serial, ENCRYPTION_SERIAL);
}

/// Signing options for `openssl cms -sign -stream`. OpenSSL 3.0 cannot stream a signature
/// with RSASSA-PSS ("illegal zero content"), so streamed layers use PKCS#1 v1.5.
fn streamed_signature() -> SignOptions {
    SignOptions {
        stream: true,
        pss: false,
        ..SignOptions::default()
    }
}

fn streamed_encryption() -> EncryptOptions {
    EncryptOptions {
        stream: true,
        ..EncryptOptions::default()
    }
}

#[test]
fn streamed_ber_opens_byte_exact() {
    let workspace = Workspace::new();
    let content = sample_content(300_001);
    let blob = workspace.seal(&content, &streamed_signature(), &streamed_encryption());
    // `-stream` writes indefinite lengths: ContentInfo SEQUENCE with length octet 0x80.
    assert_eq!(&blob[..2], &[0x30, 0x80]);

    let unsealed = open(&workspace, &blob).unwrap();

    assert_eq!(unsealed.content, content);
    assert_sender(&unsealed, &workspace);
    assert!(unsealed.outer_signature.signed_attributes);
}

#[test]
fn pss_around_streamed_envelope() {
    let workspace = Workspace::new();
    let content = sample_content(70_000);
    workspace.write("content.bin", &content);
    workspace.sign(
        "content.bin",
        "inner.der",
        "sender",
        &SignOptions::default(),
    );
    workspace.encrypt(
        "inner.der",
        "envelope.der",
        &["enc.pem"],
        &streamed_encryption(),
    );
    workspace.sign(
        "envelope.der",
        "sealed.der",
        "sender",
        &SignOptions::default(),
    );

    let unsealed = open(&workspace, &workspace.read("sealed.der")).unwrap();

    assert_eq!(unsealed.content, content);
    assert_eq!(unsealed.outer_signature.algorithm, PSS_SHA256);
    assert_eq!(unsealed.inner_signature.algorithm, PSS_SHA256);
}

#[test]
fn pkcs1v15_sha256_opens() {
    let workspace = Workspace::new();
    let content = b"<kmehrmessage>PKCS#1 v1.5</kmehrmessage>".to_vec();
    let sign = SignOptions {
        pss: false,
        ..SignOptions::default()
    };
    let unsealed = open(
        &workspace,
        &workspace.seal(&content, &sign, &EncryptOptions::default()),
    )
    .unwrap();

    assert_eq!(unsealed.content, content);
    let expected = SignatureAlgorithm::RsaPkcs1v15 {
        digest: DigestAlgorithm::Sha256,
    };
    assert_eq!(unsealed.outer_signature.algorithm, expected);
    assert_eq!(unsealed.inner_signature.algorithm, expected);
}

#[test]
fn ecdsa_p256_and_p384_open() {
    let workspace = Workspace::new();
    let content = sample_content(9_999);
    let cases = [
        ("ec-sender", "sha256", DigestAlgorithm::Sha256),
        ("ec384-sender", "sha384", DigestAlgorithm::Sha384),
    ];
    for (signer, md, digest) in cases {
        let sign = SignOptions {
            digest: md,
            pss: false,
            ..SignOptions::default()
        };
        let blob = workspace.seal_as(signer, &content, &sign, &EncryptOptions::default());

        let unsealed = open(&workspace, &blob).unwrap();

        assert_eq!(unsealed.content, content, "{signer}");
        assert_eq!(unsealed.sender.der, workspace.der(&format!("{signer}.pem")));
        assert_eq!(
            unsealed.outer_signature.algorithm,
            SignatureAlgorithm::Ecdsa { digest }
        );
        assert_eq!(
            unsealed.inner_signature.algorithm,
            SignatureAlgorithm::Ecdsa { digest }
        );
    }
}

#[test]
fn ecdsa_tampered_outer_signature() {
    let workspace = Workspace::new();
    let sign = SignOptions {
        pss: false,
        ..SignOptions::default()
    };
    let mut blob = workspace.seal_as("ec-sender", b"payload", &sign, &EncryptOptions::default());
    // The DER blob ends with the outer Ecdsa-Sig-Value; its last byte is part of s.
    let last = blob.len() - 1;
    blob[last] ^= 0x01;

    let error = open(&workspace, &blob).unwrap_err();

    let UnsealError::BadSignature { layer, .. } = &error else {
        panic!("unexpected error: {error:?}");
    };
    assert_eq!(*layer, Layer::Outer);
}

#[test]
fn legacy_sha1_opens_and_policy_rejects() {
    let workspace = Workspace::new();
    let content = b"legacy message of 2014".to_vec();
    let sign = SignOptions {
        digest: "sha1",
        pss: false,
        ..SignOptions::default()
    };
    let blob = workspace.seal(&content, &sign, &EncryptOptions::default());

    let unsealed = open(&workspace, &blob).unwrap();
    assert_eq!(unsealed.content, content);
    assert_eq!(
        unsealed.outer_signature.algorithm,
        SignatureAlgorithm::RsaPkcs1v15 {
            digest: DigestAlgorithm::Sha1
        }
    );

    let strict = UnsealPolicy {
        allow_sha1: false,
        ..UnsealPolicy::default()
    };
    let error = unseal(&blob, &keystore(&workspace), &strict).unwrap_err();
    assert_eq!(
        error,
        UnsealError::Sha1Rejected {
            layer: Layer::Outer
        }
    );
    assert!(error.to_string().contains("allow SHA-1"), "{error}");
}

#[test]
fn without_signed_attributes_opens() {
    let workspace = Workspace::new();
    let content = sample_content(5_000);
    for stream in [false, true] {
        let sign = SignOptions {
            no_attributes: true,
            stream,
            pss: !stream,
            ..SignOptions::default()
        };
        let encrypt = EncryptOptions {
            stream,
            ..EncryptOptions::default()
        };
        let unsealed = open(&workspace, &workspace.seal(&content, &sign, &encrypt)).unwrap();

        assert_eq!(unsealed.content, content);
        assert!(!unsealed.outer_signature.signed_attributes);
        assert!(!unsealed.inner_signature.signed_attributes);
        assert_eq!(unsealed.signing_time, None);
    }
}

#[test]
fn aes256_and_oaep_open() {
    let workspace = Workspace::new();
    let content = sample_content(777);
    for (cipher, oaep) in [("-aes256", false), ("-aes192", true), ("-aes128", true)] {
        let encrypt = EncryptOptions {
            cipher,
            oaep,
            ..EncryptOptions::default()
        };
        let blob = workspace.seal(&content, &SignOptions::default(), &encrypt);
        let unsealed = open(&workspace, &blob).unwrap();
        assert_eq!(unsealed.content, content, "{cipher} oaep={oaep}");
    }
}

#[test]
fn empty_content_opens() {
    let workspace = Workspace::new();
    let blob = workspace.seal(b"", &SignOptions::default(), &EncryptOptions::default());
    assert_eq!(open(&workspace, &blob).unwrap().content, b"");
}

#[test]
fn recipient_by_subject_key_identifier() {
    let workspace = Workspace::new();
    let content = sample_content(4_096);
    let encrypt = EncryptOptions {
        key_id: true,
        ..EncryptOptions::default()
    };
    let sign = SignOptions {
        key_id: true,
        ..SignOptions::default()
    };
    let unsealed = open(&workspace, &workspace.seal(&content, &sign, &encrypt)).unwrap();
    assert_eq!(unsealed.content, content);
    assert_eq!(unsealed.recipient_serial, ENCRYPTION_SERIAL);
    assert_sender(&unsealed, &workspace);
}

#[test]
fn two_recipients_second_is_ours() {
    let workspace = Workspace::new();
    let content = sample_content(1_000);
    let sign = SignOptions::default();
    workspace.write("content.bin", &content);
    workspace.sign("content.bin", "inner.der", "sender", &sign);
    workspace.encrypt(
        "inner.der",
        "envelope.der",
        &["stranger.pem", "enc-old.pem"],
        &EncryptOptions::default(),
    );
    workspace.sign("envelope.der", "sealed.der", "sender", &sign);

    let unsealed = open(&workspace, &workspace.read("sealed.der")).unwrap();

    assert_eq!(unsealed.content, content);
    assert_eq!(unsealed.recipient_serial, OLD_ENCRYPTION_SERIAL);
}

#[test]
fn wrong_recipient_lists_serials() {
    let workspace = Workspace::new();
    let sign = SignOptions::default();
    workspace.write("content.bin", b"not for you");
    workspace.sign("content.bin", "inner.der", "sender", &sign);
    workspace.encrypt(
        "inner.der",
        "envelope.der",
        &["stranger.pem"],
        &EncryptOptions::default(),
    );
    workspace.sign("envelope.der", "sealed.der", "sender", &sign);

    let error = open(&workspace, &workspace.read("sealed.der")).unwrap_err();

    let UnsealError::NotAddressedToKeystore {
        recipients,
        keystore_serials,
        ..
    } = &error
    else {
        panic!("unexpected error: {error:?}");
    };
    assert_eq!(
        recipients,
        &[RecipientId::IssuerAndSerial {
            issuer: "CN=Test eHealth CA,O=Test eHealth,C=BE".to_owned(),
            serial: "1004".to_owned(),
        }]
    );
    assert_eq!(keystore_serials.len(), 2);
    assert_eq!(error.layer(), Layer::Envelope);
    let message = error.to_string();
    assert!(
        message.contains("not addressed to any encryption key"),
        "{message}"
    );
    assert!(message.contains("serial 1004"), "{message}");
    assert!(message.contains(ENCRYPTION_SERIAL), "{message}");
    assert!(message.contains("doctor.p12"), "{message}");
}

#[test]
fn tampered_outer_signature() {
    let workspace = Workspace::new();
    let mut blob = workspace.seal(
        b"payload",
        &SignOptions::default(),
        &EncryptOptions::default(),
    );
    // The DER blob ends with the outer signature value.
    let last = blob.len() - 1;
    blob[last] ^= 0x01;

    let error = open(&workspace, &blob).unwrap_err();

    let UnsealError::BadSignature { layer, signer, .. } = &error else {
        panic!("unexpected error: {error:?}");
    };
    assert_eq!(*layer, Layer::Outer);
    assert!(signer.contains(SENDER_SSIN), "{signer}");
    assert!(
        error.to_string().contains("outer SignedData signature"),
        "{error}"
    );
}

#[test]
fn tampered_encrypted_content() {
    let workspace = Workspace::new();
    let content = sample_content(50_000);
    let mut blob = workspace.seal(
        &content,
        &SignOptions::default(),
        &EncryptOptions::default(),
    );
    // The middle of the blob is encrypted content, covered by the outer messageDigest.
    let middle = blob.len() / 2;
    blob[middle] ^= 0x80;

    let error = open(&workspace, &blob).unwrap_err();

    let UnsealError::BadSignature { layer, reason, .. } = &error else {
        panic!("unexpected error: {error:?}");
    };
    assert_eq!(*layer, Layer::Outer);
    assert!(reason.contains("messageDigest"), "{reason}");
}

#[test]
fn tampered_inner_signature() {
    let workspace = Workspace::new();
    let sign = SignOptions::default();
    workspace.write("content.bin", b"inner payload");
    workspace.sign("content.bin", "inner.der", "sender", &sign);
    let mut inner = workspace.read("inner.der");
    let last = inner.len() - 1;
    inner[last] ^= 0x01;
    workspace.write("inner.der", &inner);
    workspace.encrypt(
        "inner.der",
        "envelope.der",
        &["enc.pem"],
        &EncryptOptions::default(),
    );
    workspace.sign("envelope.der", "sealed.der", "sender", &sign);

    let error = open(&workspace, &workspace.read("sealed.der")).unwrap_err();

    let UnsealError::BadSignature { layer, .. } = &error else {
        panic!("unexpected error: {error:?}");
    };
    assert_eq!(*layer, Layer::Inner);
    assert!(
        error.to_string().contains("inner SignedData signature"),
        "{error}"
    );
}

#[test]
fn truncated_blob() {
    let workspace = Workspace::new();
    for sign in [SignOptions::default(), streamed_signature()] {
        let blob = workspace.seal(&sample_content(20_000), &sign, &EncryptOptions::default());

        let error = open(&workspace, &blob[..blob.len() / 2]).unwrap_err();

        let UnsealError::Truncated { layer, .. } = &error else {
            panic!("unexpected error: {error:?}");
        };
        assert_eq!(*layer, Layer::Outer);
        assert!(
            error.to_string().contains("fetch the message again"),
            "{error}"
        );
    }
}

#[test]
fn not_cms_is_malformed() {
    let workspace = Workspace::new();
    for blob in [&b"<xml/>"[..], &[0x30, 0x03, 0x02, 0x01, 0x05][..], &[][..]] {
        let error = open(&workspace, blob).unwrap_err();
        assert_eq!(error.layer(), Layer::Outer, "{error:?}");
        assert!(
            matches!(
                error,
                UnsealError::Malformed { .. } | UnsealError::Truncated { .. }
            ),
            "{error:?}"
        );
    }
}

#[test]
fn envelope_not_enveloped_data() {
    let workspace = Workspace::new();
    // An outer signature directly over the payload, without the encryption layer.
    workspace.write("content.bin", b"plain");
    workspace.sign(
        "content.bin",
        "sealed.der",
        "sender",
        &SignOptions::default(),
    );

    let error = open(&workspace, &workspace.read("sealed.der")).unwrap_err();

    let UnsealError::Malformed { layer, detail } = &error else {
        panic!("unexpected error: {error:?}");
    };
    assert_eq!(*layer, Layer::Envelope);
    assert!(detail.contains("holding EnvelopedData"), "{detail}");
}

/// Seals with the inner layer signed by `other-signer`, as eID senders do (the outer layer
/// with the authentication key, the inner one with the signature key).
fn seal_with_other_inner_signer(workspace: &Workspace, inner: &SignOptions) -> Vec<u8> {
    workspace.write("content.bin", b"signed with another key");
    workspace.sign("content.bin", "inner.der", "other-signer", inner);
    workspace.encrypt(
        "inner.der",
        "envelope.der",
        &["enc.pem"],
        &EncryptOptions::default(),
    );
    workspace.sign(
        "envelope.der",
        "sealed.der",
        "sender",
        &SignOptions::default(),
    );
    workspace.read("sealed.der")
}

#[test]
fn other_inner_signer_reported() {
    let workspace = Workspace::new();
    let blob = seal_with_other_inner_signer(&workspace, &SignOptions::default());

    let unsealed = open(&workspace, &blob).unwrap();

    let SignerRelation::Other(other) = &unsealed.inner_signature.signer else {
        panic!("inner signer not reported: {:?}", unsealed.inner_signature);
    };
    assert_eq!(other.der, workspace.der("other-signer.pem"));
    assert!(
        unsealed
            .inner_signature
            .to_string()
            .contains("by another certificate than the sender's"),
        "{}",
        unsealed.inner_signature
    );
}

#[test]
fn other_inner_signer_rejected_by_policy() {
    let workspace = Workspace::new();
    let blob = seal_with_other_inner_signer(&workspace, &SignOptions::default());
    let strict = UnsealPolicy {
        allow_different_inner_signer: false,
        ..UnsealPolicy::default()
    };

    let error = unseal(&blob, &keystore(&workspace), &strict).unwrap_err();

    let UnsealError::InnerSignerMismatch {
        sender,
        inner_signer,
    } = &error
    else {
        panic!("unexpected error: {error:?}");
    };
    assert!(inner_signer.contains("(Signature)"), "{inner_signer}");
    assert!(!sender.contains("(Signature)"), "{sender}");
}

#[test]
fn inner_signer_without_certificate() {
    let workspace = Workspace::new();
    let inner = SignOptions {
        no_certificates: true,
        ..SignOptions::default()
    };
    let blob = seal_with_other_inner_signer(&workspace, &inner);

    let error = open(&workspace, &blob).unwrap_err();

    let UnsealError::SignerCertificateMissing { layer, signer } = &error else {
        panic!("unexpected error: {error:?}");
    };
    assert_eq!(*layer, Layer::Inner);
    assert!(signer.contains("serial 1003"), "{signer}");
}

#[test]
fn inner_without_certificate_uses_sender() {
    let workspace = Workspace::new();
    let content = b"the inner layer needs no certificate of its own".to_vec();
    let inner = SignOptions {
        no_certificates: true,
        ..SignOptions::default()
    };
    workspace.write("content.bin", &content);
    workspace.sign("content.bin", "inner.der", "sender", &inner);
    workspace.encrypt(
        "inner.der",
        "envelope.der",
        &["enc.pem"],
        &EncryptOptions::default(),
    );
    workspace.sign(
        "envelope.der",
        "sealed.der",
        "sender",
        &SignOptions::default(),
    );

    let unsealed = open(&workspace, &workspace.read("sealed.der")).unwrap();

    assert_eq!(unsealed.content, content);
    assert_eq!(unsealed.inner_signature.signer, SignerRelation::Sender);
}

#[test]
fn openssl_decrypts_what_we_open() {
    // Cross-check: OpenSSL itself opens the fixture, so the two agree on the same bytes.
    let workspace = Workspace::new();
    let content = sample_content(10_000);
    let blob = workspace.seal(
        &content,
        &SignOptions::default(),
        &EncryptOptions::default(),
    );
    workspace.write("check.der", &blob);
    workspace.openssl(&[
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        "check.der",
        "-noverify",
        "-out",
        "check-envelope.der",
    ]);
    workspace.openssl(&[
        "cms",
        "-decrypt",
        "-binary",
        "-inform",
        "DER",
        "-in",
        "check-envelope.der",
        "-recip",
        "enc.pem",
        "-inkey",
        "enc.key",
        "-out",
        "check-inner.der",
    ]);
    workspace.openssl(&[
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        "check-inner.der",
        "-noverify",
        "-out",
        "check-content.bin",
    ]);

    assert_eq!(workspace.read("check-content.bin"), content);
    assert_eq!(open(&workspace, &blob).unwrap().content, content);
}
