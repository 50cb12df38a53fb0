//! Sealed messages opened by OpenSSL: outer verify, decrypt, inner verify, exact content.

mod seal_support;

use std::path::Path;

use ehealth_sim::seal::{
    Corruption, OutputEncoding, SealArgs, SealError, SealOptions, SealVariant, SenderCredential,
    SigningPolicy, run_seal_command, seal,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use seal_support::{openssl, openssl_ok, pki};
use x509_cert::Certificate;

/// The step at which OpenSSL stopped opening a sealed message.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    OuterVerify(String),
    Decrypt(String),
    InnerVerify(String),
}

fn signing_time() -> jiff::Timestamp {
    "2025-03-14T09:26:53Z".parse().expect("valid timestamp")
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(7)
}

fn recipients(names: &[&str]) -> Vec<Certificate> {
    names
        .iter()
        .map(|name| pki().certificate(&format!("{name}-enc")))
        .collect()
}

/// Opens `sealed` with OpenSSL as `recipient` would, step by step, checking both signatures
/// against the test CA.
fn open_with_openssl(dir: &Path, sealed: &[u8], recipient: &str) -> Result<Vec<u8>, Failure> {
    let pki = pki();
    let ca = pki.file("ca.pem");
    let ca = ca.to_str().expect("utf-8 path");
    std::fs::write(dir.join("sealed.der"), sealed).expect("write sealed");

    let outer = openssl(
        dir,
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "sealed.der",
            "-CAfile",
            ca,
            "-binary",
            "-out",
            "enveloped.der",
        ],
    );
    if !outer.status.success() {
        return Err(Failure::OuterVerify(
            String::from_utf8_lossy(&outer.stderr).into_owned(),
        ));
    }

    let certificate = pki.file(&format!("{recipient}-enc.pem"));
    let key = pki.file(&format!("{recipient}-enc.key"));
    let decrypt = openssl(
        dir,
        &[
            "cms",
            "-decrypt",
            "-inform",
            "DER",
            "-in",
            "enveloped.der",
            "-recip",
            certificate.to_str().expect("utf-8 path"),
            "-inkey",
            key.to_str().expect("utf-8 path"),
            "-binary",
            "-out",
            "inner.der",
        ],
    );
    if !decrypt.status.success() {
        return Err(Failure::Decrypt(
            String::from_utf8_lossy(&decrypt.stderr).into_owned(),
        ));
    }

    let inner = openssl(
        dir,
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "inner.der",
            "-CAfile",
            ca,
            "-binary",
            "-out",
            "content.bin",
        ],
    );
    if !inner.status.success() {
        return Err(Failure::InnerVerify(
            String::from_utf8_lossy(&inner.stderr).into_owned(),
        ));
    }
    Ok(std::fs::read(dir.join("content.bin")).expect("read content"))
}

/// `openssl cms -cmsout -print` of a CMS file in `dir`.
fn print_cms(dir: &Path, file: &str) -> String {
    let output = openssl_ok(
        dir,
        &["cms", "-cmsout", "-print", "-inform", "DER", "-in", file],
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn seal_with(content: &[u8], to: &[&str], options: &SealOptions) -> Vec<u8> {
    seal(
        content,
        &pki().sender(),
        &recipients(to),
        options,
        &mut rng(),
    )
    .expect("seal")
}

#[test]
fn pss_default_opens_with_openssl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let content = "<kmehrmessage>Résultats de laboratoire</kmehrmessage>".as_bytes();
    let sealed = seal_with(content, &["alice"], &SealOptions::new(signing_time()));

    let opened = open_with_openssl(dir.path(), &sealed, "alice");

    assert_eq!(opened, Ok(content.to_vec()));
}

#[test]
fn pss_default_uses_ehealth_algorithms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sealed = seal_with(b"hello", &["alice"], &SealOptions::new(signing_time()));
    open_with_openssl(dir.path(), &sealed, "alice").expect("opens");

    let outer = print_cms(dir.path(), "sealed.der");
    let enveloped = print_cms(dir.path(), "enveloped.der");
    let inner = print_cms(dir.path(), "inner.der");

    for (layer, printed) in [("outer", &outer), ("inner", &inner)] {
        assert!(
            printed.contains("algorithm: sha256"),
            "{layer} digest: {printed}"
        );
        assert!(
            printed.contains("algorithm: rsassaPss"),
            "{layer} signature: {printed}"
        );
        assert!(printed.contains(":mgf1"), "{layer} MGF: {printed}");
        assert!(
            printed.contains("INTEGER           :20"),
            "{layer} 32-byte salt: {printed}"
        );
        assert!(
            printed.contains("signingTime"),
            "{layer} signing time: {printed}"
        );
        assert!(
            printed.contains("messageDigest"),
            "{layer} message digest: {printed}"
        );
        assert!(
            printed.contains("contentType"),
            "{layer} content type: {printed}"
        );
        assert!(
            printed.contains("UTCTIME:Mar 14 09:26:53 2025 GMT"),
            "{layer} UTCTime: {printed}"
        );
    }
    assert!(
        enveloped.contains("aes-128-cbc"),
        "content encryption: {enveloped}"
    );
    assert!(
        enveloped.contains("rsaEncryption"),
        "key transport: {enveloped}"
    );
    assert!(
        enveloped.contains("issuerAndSerialNumber"),
        "recipient id: {enveloped}"
    );
}

#[test]
fn pss_salt_is_32_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sealed = seal_with(b"hello", &["alice"], &SealOptions::new(signing_time()));
    std::fs::write(dir.path().join("sealed.der"), &sealed).expect("write");

    let parsed = openssl_ok(
        dir.path(),
        &["asn1parse", "-inform", "DER", "-in", "sealed.der"],
    );
    let parsed = String::from_utf8_lossy(&parsed.stdout);

    assert!(parsed.contains(":rsassaPss"), "{parsed}");
    assert!(parsed.contains(":mgf1"), "{parsed}");
    assert!(
        parsed.contains("INTEGER           :20"),
        "salt length 0x20: {parsed}"
    );
}

#[test]
fn legacy_sha1_opens_with_openssl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = SealOptions::new(signing_time());
    options.policy = SigningPolicy::LegacySha1;
    let sealed = seal_with(b"legacy message", &["alice"], &options);

    let opened = open_with_openssl(dir.path(), &sealed, "alice");

    assert_eq!(opened, Ok(b"legacy message".to_vec()));
    let outer = print_cms(dir.path(), "sealed.der");
    assert!(outer.contains("algorithm: sha1"), "{outer}");
    assert!(outer.contains("algorithm: rsaEncryption"), "{outer}");
    assert!(!outer.contains("rsassaPss"), "{outer}");
}

#[test]
fn eid_policy_with_inner_signer_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = SealOptions::new(signing_time());
    options.policy = SigningPolicy::Eid;
    options.inner_signer = Some(pki().credential("sender-sign"));
    let sealed = seal_with(b"signed with an eID", &["alice"], &options);

    let opened = open_with_openssl(dir.path(), &sealed, "alice");

    assert_eq!(opened, Ok(b"signed with an eID".to_vec()));
    let outer = print_cms(dir.path(), "sealed.der");
    let inner = print_cms(dir.path(), "inner.der");
    assert!(outer.contains("sha256WithRSAEncryption"), "{outer}");
    assert!(inner.contains("sha256WithRSAEncryption"), "{inner}");
    assert!(
        outer.contains("CN=SSIN=79021802145"),
        "outer signer: {outer}"
    );
    assert!(
        inner.contains("CN=Test Sender (Signature)"),
        "inner signer: {inner}"
    );
}

#[test]
fn no_signed_attributes_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = SealOptions::new(signing_time());
    options.signed_attributes = false;
    let sealed = seal_with(b"bare signature", &["alice"], &options);

    let opened = open_with_openssl(dir.path(), &sealed, "alice");

    assert_eq!(opened, Ok(b"bare signature".to_vec()));
    let outer = print_cms(dir.path(), "sealed.der");
    assert!(
        outer.contains("signedAttrs:\n          <ABSENT>"),
        "{outer}"
    );
    assert!(!outer.contains("signingTime"), "{outer}");
}

#[test]
fn der_output_opens_with_definite_lengths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = SealOptions::new(signing_time());
    options.encoding = OutputEncoding::Der;
    let content = vec![0x5a; 3000];
    let sealed = seal_with(&content, &["alice"], &options);

    let opened = open_with_openssl(dir.path(), &sealed, "alice");

    assert_eq!(opened, Ok(content));
    for file in ["sealed.der", "enveloped.der", "inner.der"] {
        let parsed = openssl_ok(dir.path(), &["asn1parse", "-inform", "DER", "-in", file]);
        let parsed = String::from_utf8_lossy(&parsed.stdout);
        assert!(
            !parsed.contains("l=inf"),
            "{file} has an indefinite length: {parsed}"
        );
    }
}

#[test]
fn two_recipients_each_decrypt() {
    let content = b"for both doctors";
    let sealed = seal_with(
        content,
        &["alice", "bob"],
        &SealOptions::new(signing_time()),
    );

    for recipient in ["alice", "bob"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let opened = open_with_openssl(dir.path(), &sealed, recipient);
        assert_eq!(opened, Ok(content.to_vec()), "recipient {recipient}");
    }
}

#[test]
fn five_megabyte_content_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let content: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let sealed = seal_with(&content, &["alice"], &SealOptions::new(signing_time()));

    let opened = open_with_openssl(dir.path(), &sealed, "alice").expect("opens");

    assert_eq!(opened.len(), content.len());
    assert!(
        opened == content,
        "the opened content differs from the sealed content"
    );
}

#[test]
fn empty_content_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sealed = seal_with(b"", &["alice"], &SealOptions::new(signing_time()));

    let opened = open_with_openssl(dir.path(), &sealed, "alice");

    assert_eq!(opened, Ok(Vec::new()));
}

#[test]
fn asn1parse_shows_indefinite_lengths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let content = vec![0x42; 2500];
    let sealed = seal_with(&content, &["alice"], &SealOptions::new(signing_time()));
    open_with_openssl(dir.path(), &sealed, "alice").expect("opens");

    for (file, segmented) in [
        ("sealed.der", "OCTET STRING"),
        ("enveloped.der", "cont [ 0 ]"),
        ("inner.der", "OCTET STRING"),
    ] {
        let parsed = openssl_ok(
            dir.path(),
            &["asn1parse", "-inform", "DER", "-i", "-in", file],
        );
        let parsed = String::from_utf8_lossy(&parsed.stdout);
        let first = parsed.lines().next().unwrap_or_default();
        assert!(
            first.contains("l=inf") && first.contains("cons: SEQUENCE"),
            "{file}: {first}"
        );
        let constructed_string = parsed
            .lines()
            .any(|line| line.contains("l=inf") && line.contains(segmented));
        assert!(
            constructed_string,
            "{file} has no indefinite {segmented}: {parsed}"
        );
        assert!(
            parsed.contains("hl=4 l=1000 prim:"),
            "{file} has no 1000-byte segment: {parsed}"
        );
        assert!(
            parsed.contains("prim:") && parsed.contains("EOC"),
            "{file} has no end-of-contents"
        );
    }
    // The inner content splits into 1000, 1000 and 500 bytes.
    let parsed = openssl_ok(
        dir.path(),
        &["asn1parse", "-inform", "DER", "-i", "-in", "inner.der"],
    );
    let parsed = String::from_utf8_lossy(&parsed.stdout);
    assert!(parsed.contains("hl=4 l= 500 prim:"), "{parsed}");
}

#[test]
fn bad_outer_signature_fails_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = SealOptions::new(signing_time());
    options.corruption = Some(Corruption::BadOuterSignature);
    let sealed = seal_with(b"tampered", &["alice"], &options);

    let opened = open_with_openssl(dir.path(), &sealed, "alice");

    assert!(matches!(opened, Err(Failure::OuterVerify(_))), "{opened:?}");
}

#[test]
fn bad_inner_signature_fails_inner_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = SealOptions::new(signing_time());
    options.corruption = Some(Corruption::BadInnerSignature);
    let sealed = seal_with(b"tampered inside", &["alice"], &options);

    let opened = open_with_openssl(dir.path(), &sealed, "alice");

    assert!(matches!(opened, Err(Failure::InnerVerify(_))), "{opened:?}");
}

#[test]
fn not_addressed_fails_decrypt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = SealOptions::new(signing_time());
    options.corruption = Some(Corruption::NotAddressed(Box::new(
        pki().certificate("bob-enc"),
    )));
    let sealed = seal_with(b"for someone else", &["alice"], &options);

    let as_alice = open_with_openssl(dir.path(), &sealed, "alice");
    let as_bob = open_with_openssl(dir.path(), &sealed, "bob");

    assert!(matches!(as_alice, Err(Failure::Decrypt(_))), "{as_alice:?}");
    assert_eq!(as_bob, Ok(b"for someone else".to_vec()));
}

#[test]
fn truncated_fails_to_parse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = SealOptions::new(signing_time());
    options.corruption = Some(Corruption::Truncated);
    let whole = seal_with(b"cut short", &["alice"], &SealOptions::new(signing_time()));
    let sealed = seal_with(b"cut short", &["alice"], &options);

    let opened = open_with_openssl(dir.path(), &sealed, "alice");

    assert_eq!(sealed.len(), whole.len() / 2);
    assert!(matches!(opened, Err(Failure::OuterVerify(_))), "{opened:?}");
}

#[test]
fn no_recipients_rejected() {
    let result = seal(
        b"x",
        &pki().sender(),
        &[],
        &SealOptions::new(signing_time()),
        &mut rng(),
    );

    let error = result.expect_err("sealing to nobody must fail");

    assert!(matches!(error, SealError::NoRecipients), "{error}");
    assert!(
        error
            .to_string()
            .contains("pass at least one encryption certificate"),
        "{error}"
    );
}

#[test]
fn zero_chunk_size_rejected() {
    let mut options = SealOptions::new(signing_time());
    options.encoding = OutputEncoding::Ber { chunk_size: 0 };

    let result = seal(
        b"x",
        &pki().sender(),
        &recipients(&["alice"]),
        &options,
        &mut rng(),
    );

    let error = result.expect_err("zero-byte segments");
    assert!(matches!(error, SealError::ZeroChunkSize), "{error}");
}

#[test]
fn small_chunks_open_with_openssl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = SealOptions::new(signing_time());
    options.encoding = OutputEncoding::Ber { chunk_size: 7 };
    let content = vec![0x33; 100];
    let sealed = seal_with(&content, &["alice"], &options);

    let opened = open_with_openssl(dir.path(), &sealed, "alice");

    assert_eq!(opened, Ok(content));
}

#[test]
fn mismatched_sender_key_rejected() {
    let pki = pki();

    let result = SenderCredential::new(pki.key("bob-enc"), pki.certificate("sender"), Vec::new());

    let error = result.expect_err("a foreign key must be rejected");
    assert!(
        matches!(error, SealError::SenderKeyMismatch { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("SSIN=79021802145"), "{error}");
}

#[test]
fn sender_loads_from_pkcs12() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    let sender_pem = pki.file("sender.pem");
    let sender_key = pki.file("sender.key");
    let ca = pki.file("ca.pem");
    openssl_ok(
        dir.path(),
        &[
            "pkcs12",
            "-export",
            "-in",
            sender_pem.to_str().expect("utf-8"),
            "-inkey",
            sender_key.to_str().expect("utf-8"),
            "-certfile",
            ca.to_str().expect("utf-8"),
            "-name",
            "authentication",
            "-out",
            "sender.p12",
            "-passout",
            "pass:Secr3t!",
        ],
    );
    let p12 = std::fs::read(dir.path().join("sender.p12")).expect("read p12");

    let sender = SenderCredential::from_pkcs12(&p12, "Secr3t!", "authentication").expect("load");
    let wrong_alias = SenderCredential::from_pkcs12(&p12, "Secr3t!", "signature");
    let wrong_password = SenderCredential::from_pkcs12(&p12, "wrong", "authentication");

    assert_eq!(sender.certificate(), &pki.certificate("sender"));
    assert_eq!(sender.chain(), &[pki.certificate("ca")]);
    let wrong_alias = wrong_alias.expect_err("unknown alias");
    assert!(
        matches!(wrong_alias, SealError::MissingAlias { .. }),
        "{wrong_alias}"
    );
    let wrong_password = wrong_password.expect_err("wrong password");
    assert!(
        matches!(wrong_password, SealError::Keystore { .. }),
        "{wrong_password}"
    );
    assert!(
        !wrong_password.to_string().contains("wrong"),
        "{wrong_password}"
    );
}

fn seal_args(dir: &Path, variant: SealVariant) -> SealArgs {
    let pki = pki();
    SealArgs {
        etks: vec![dir.join("alice.etk")],
        etk_ra_cert: Some(pki.file("etk-ra.pem")),
        sender_keystore: dir.join("sender.p12"),
        password_file: dir.join("password.txt"),
        alias: "authentication".to_owned(),
        input: dir.join("content.txt"),
        output: dir.join("out.der"),
        variant,
        stand_in_cert: None,
    }
}

/// Writes the keystore, password file, Alice's ETK and a content file into `dir`.
fn prepare_command_files(dir: &Path) {
    let pki = pki();
    let etk = ehealth_sim::etk::build_etk(
        &pki.certificate("alice-enc"),
        &pki.certificate("alice-auth"),
        &[pki.certificate("ca")],
        &pki.key("etk-ra"),
        &pki.certificate("etk-ra"),
    )
    .expect("build ETK");
    std::fs::write(dir.join("alice.etk"), etk).expect("write ETK");
    openssl_ok(
        dir,
        &[
            "pkcs12",
            "-export",
            "-in",
            pki.file("sender.pem").to_str().expect("utf-8"),
            "-inkey",
            pki.file("sender.key").to_str().expect("utf-8"),
            "-name",
            "authentication",
            "-out",
            "sender.p12",
            "-passout",
            "pass:Secr3t!",
        ],
    );
    std::fs::write(dir.join("password.txt"), "Secr3t!\n").expect("write password");
    std::fs::write(dir.join("content.txt"), "sealed from the command line").expect("write content");
}

#[test]
fn seal_command_writes_openable_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    prepare_command_files(dir.path());

    run_seal_command(&seal_args(dir.path(), SealVariant::EhealthCert)).expect("seal command");

    let sealed = std::fs::read(dir.path().join("out.der")).expect("read output");
    let opened = open_with_openssl(dir.path(), &sealed, "alice");
    assert_eq!(opened, Ok(b"sealed from the command line".to_vec()));
}

#[test]
fn seal_command_not_addressed_variant() {
    let dir = tempfile::tempdir().expect("tempdir");
    prepare_command_files(dir.path());

    run_seal_command(&seal_args(dir.path(), SealVariant::NotAddressed)).expect("seal command");

    let sealed = std::fs::read(dir.path().join("out.der")).expect("read output");
    let opened = open_with_openssl(dir.path(), &sealed, "alice");
    assert!(matches!(opened, Err(Failure::Decrypt(_))), "{opened:?}");
}

#[test]
fn seal_command_rejects_etk_from_other_ra() {
    let dir = tempfile::tempdir().expect("tempdir");
    prepare_command_files(dir.path());
    let mut args = seal_args(dir.path(), SealVariant::EhealthCert);
    args.etk_ra_cert = Some(pki().file("other-ra.pem"));

    let error = run_seal_command(&args).expect_err("the ETK is not signed by that RA");

    assert!(
        format!("{error:#}").contains("not by the expected ETK-RA"),
        "{error:#}"
    );
    assert!(!dir.path().join("out.der").exists());
}

#[test]
fn seal_command_reads_base64_etk() {
    use base64::Engine;
    let dir = tempfile::tempdir().expect("tempdir");
    prepare_command_files(dir.path());
    let etk = std::fs::read(dir.path().join("alice.etk")).expect("read ETK");
    let encoded = base64::engine::general_purpose::STANDARD.encode(etk);
    let wrapped: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|line| std::str::from_utf8(line).expect("ascii"))
        .collect();
    std::fs::write(dir.path().join("alice.etk"), wrapped.join("\n")).expect("write ETK");

    run_seal_command(&seal_args(dir.path(), SealVariant::LegacySha1)).expect("seal command");

    let sealed = std::fs::read(dir.path().join("out.der")).expect("read output");
    let opened = open_with_openssl(dir.path(), &sealed, "alice");
    assert_eq!(opened, Ok(b"sealed from the command line".to_vec()));
}

#[test]
fn seal_arguments_parse() {
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        seal: SealArgs,
    }

    let cli = Cli::try_parse_from([
        "ehealth-sim",
        "--etk",
        "a.etk",
        "--etk",
        "b.etk",
        "--sender-keystore",
        "s.p12",
        "--password-file",
        "pw",
        "--in",
        "doc.pdf",
        "--out",
        "doc.sealed",
        "--variant",
        "bad-outer-signature",
    ])
    .expect("valid arguments");

    assert_eq!(cli.seal.etks.len(), 2);
    assert_eq!(cli.seal.alias, "authentication");
    assert_eq!(cli.seal.variant, SealVariant::BadOuterSignature);
    assert_eq!(cli.seal.input, Path::new("doc.pdf"));
    assert_eq!(cli.seal.output, Path::new("doc.sealed"));
    let missing_etk = Cli::try_parse_from([
        "ehealth-sim",
        "--sender-keystore",
        "s.p12",
        "--password-file",
        "pw",
        "--in",
        "x",
        "--out",
        "y",
    ]);
    assert!(missing_etk.is_err(), "--etk is required");
}

#[test]
fn stand_in_needs_not_addressed_variant() {
    let dir = tempfile::tempdir().expect("tempdir");
    prepare_command_files(dir.path());
    let mut args = seal_args(dir.path(), SealVariant::EhealthCert);
    args.stand_in_cert = Some(pki().file("bob-enc.pem"));

    let error = run_seal_command(&args).expect_err("stand-in without its variant");

    assert!(
        format!("{error:#}").contains("--variant not-addressed"),
        "{error:#}"
    );
}
