//! The eID client against the virtual card through the in-process transport: every APDU path
//! the appliance uses, and every error it must tell apart.

// Test helpers panic on setup failures, like the tests themselves.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use der::Decode;
use jiff::Timestamp;
use p384::ecdsa::signature::hazmat::PrehashVerifier;
use practicebox::eid::{
    AppletVersion, CardChannel, CardTransport, EidCard, EidError, MessageDigest, PinEntry,
    PinpadLanguage, Response, SignatureAlgorithm, TransportError, TrustAnchors,
};
use spki::DecodePublicKey;
use virtual_eid::card::INTERNAL_AUTHENTICATE_LIMIT;
use virtual_eid::{
    Applet, CardProfile, InProcessTransport, PinpadInput, Removal, SharedCard, VirtualCard,
};
use x509_cert::Certificate;

mod in_process_eid;
use in_process_eid::{anchors, card, now, open, pin};

#[test]
fn open_reads_applet_version() {
    for (applet, expected) in [
        (Applet::V1_7, AppletVersion::V1_7),
        (Applet::V1_8, AppletVersion::V1_8),
    ] {
        let card = card(applet);
        let eid = open(&card);
        assert_eq!(eid.applet_version(), expected);
        assert!(!eid.has_pinpad());
    }
}

#[test]
fn read_citizen_v18_verifies_and_parses() {
    let card = card(Applet::V1_8);
    let anchors = anchors(&card);
    let citizen = open(&card).read_citizen(&anchors, now()).unwrap();

    assert_eq!(citizen.identity.insz.as_str(), virtual_eid::DEFAULT_SSIN);
    assert_eq!(citizen.identity.name, "Vandenberghe-Lemaître");
    assert_eq!(citizen.identity.first_names, "Jan-Willem Alexandre");
    assert_eq!(
        citizen.identity.birth_date,
        Some(jiff::civil::date(1985, 7, 30))
    );
    assert_eq!(citizen.identity.photo_hash.len(), 48);
    assert!(citizen.identity.basic_key_hash.is_some());
    assert_eq!(citizen.address.postal_code, "3000");
    assert_eq!(citizen.address.municipality, "Leuven");
    // Longer than one READ BINARY chunk, so the read loop and the 6Cxx retry both ran.
    assert!(
        citizen.identity_file.len() > 252,
        "{}",
        citizen.identity_file.len()
    );
}

#[test]
fn read_citizen_v17_verifies_rsa_signatures() {
    let card = card(Applet::V1_7);
    let anchors = anchors(&card);
    let citizen = open(&card).read_citizen(&anchors, now()).unwrap();
    assert_eq!(citizen.identity.insz.as_str(), virtual_eid::DEFAULT_SSIN);
    assert_eq!(citizen.identity.photo_hash.len(), 20);
    assert_eq!(citizen.identity_signature.len(), 256);
    assert_eq!(citizen.identity.sex, "M");
}

/// Returns the INTERNAL AUTHENTICATE commands that `transport` sent.
fn internal_authentications(transport: &InProcessTransport) -> Vec<Vec<u8>> {
    let log = transport.log.lock().unwrap();
    log.iter()
        .filter(|command| command.get(1) == Some(&0x88))
        .cloned()
        .collect()
}

#[test]
fn read_citizen_v18_challenges_basic_key() {
    let card = card(Applet::V1_8);
    let anchors = anchors(&card);
    let transport = InProcessTransport::new(Arc::clone(&card));
    let probe = transport.clone();
    let mut eid = EidCard::open(transport).unwrap();

    eid.read_citizen(&anchors, now()).unwrap();
    eid.read_citizen(&anchors, now()).unwrap();
    let commands = internal_authentications(&probe);
    assert_eq!(commands.len(), 2, "one challenge per reading");
    for command in &commands {
        assert_eq!(command[..7], [0x00, 0x88, 0x02, 0x81, 0x32, 0x94, 0x30]);
        assert_eq!(command.len(), 7 + 48, "no Le");
    }
    assert_ne!(
        commands[0], commands[1],
        "a fresh random challenge each time"
    );
}

#[test]
fn read_citizen_v17_sends_no_challenge() {
    let card = card(Applet::V1_7);
    let anchors = anchors(&card);
    let transport = InProcessTransport::new(Arc::clone(&card));
    let probe = transport.clone();
    EidCard::open(transport)
        .unwrap()
        .read_citizen(&anchors, now())
        .unwrap();
    assert!(internal_authentications(&probe).is_empty());
}

/// Copies the signed citizen files, the basic public key and the RRN certificate of `original`
/// onto `chip`, as a cloned card would carry them.
fn copy_citizen_files(original: &SharedCard, chip: &SharedCard) {
    let original = original.lock().unwrap();
    let mut chip = chip.lock().unwrap();
    let files = [
        (0xDF01, 0x4031),
        (0xDF01, 0x4032),
        (0xDF01, 0x4033),
        (0xDF01, 0x4034),
        (0xDF01, 0x4035),
        (0xDF01, 0x4040),
        (0xDF00, 0x503C),
    ];
    for (df, ef) in files {
        let content = original.image().unwrap().files[&[df, ef]].clone();
        *chip.file_mut(df, ef).unwrap() = content;
    }
}

#[test]
fn cloned_chip_is_rejected() {
    let original = card(Applet::V1_8);
    let anchors = anchors(&original);
    let mut other_chip = CardProfile::new(Applet::V1_8);
    other_chip.seed = 2;
    let clone = virtual_eid::shared(VirtualCard::new(&other_chip).unwrap());
    copy_citizen_files(&original, &clone);

    let error = open(&clone).read_citizen(&anchors, now()).unwrap_err();
    assert!(
        matches!(error, EidError::CardNotGenuine { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the eID is not proven genuine (its signature over a random challenge does not verify \
         with the basic key in file 3F00/DF01/4040); it may be a copy of another card, so it is \
         not used: ask the holder for the card the municipality issued"
    );
    open(&original).read_citizen(&anchors, now()).unwrap();
}

#[test]
fn chip_check_blocked_until_pin_verified() {
    let mut profile = CardProfile::new(Applet::V1_8);
    profile.internal_authentications = INTERNAL_AUTHENTICATE_LIMIT - 1;
    let card = virtual_eid::shared(VirtualCard::new(&profile).unwrap());
    let anchors = anchors(&card);
    let mut eid = open(&card);
    eid.read_citizen(&anchors, now()).unwrap();

    let error = eid.read_citizen(&anchors, now()).unwrap_err();
    assert!(
        matches!(error, EidError::ChipCheckBlocked { sw: 0x6982 }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the eID blocked its chip check (status 6982) because it was used 5000 times since the \
         PIN was last entered; the holder must enter the PIN once, for example by signing in \
         with the eID on a computer with the eID software, then insert the card again"
    );

    eid.verify_pin(&pin(virtual_eid::DEFAULT_PIN)).unwrap();
    eid.read_citizen(&anchors, now()).unwrap();
    assert_eq!(card.lock().unwrap().internal_authentications(), 1);
}

#[test]
fn chip_check_rejection_per_status_word() {
    let cases = [
        (0x6982, true),
        (0x6983, true),
        (0x6985, true),
        (0x6A88, false),
        (0x6D00, false),
    ];
    for (sw, blocked) in cases {
        let mut profile = CardProfile::new(Applet::V1_8);
        profile.internal_authentications = INTERNAL_AUTHENTICATE_LIMIT;
        profile.internal_authenticate_blocked_sw = sw;
        let card = virtual_eid::shared(VirtualCard::new(&profile).unwrap());

        let error = open(&card)
            .read_citizen(&anchors(&card), now())
            .unwrap_err();
        if blocked {
            assert!(
                matches!(error, EidError::ChipCheckBlocked { sw: found } if found == sw),
                "{sw:04X}: {error:?}"
            );
        } else {
            assert!(
                matches!(error, EidError::CardNotGenuine { .. }),
                "{sw:04X}: {error:?}"
            );
        }
    }
}

#[test]
fn replaced_basic_key_is_rejected() {
    let card = card(Applet::V1_8);
    let anchors = anchors(&card);
    let mut other_chip = CardProfile::new(Applet::V1_8);
    other_chip.seed = 2;
    let other = VirtualCard::new(&other_chip).unwrap();
    let other_key = other.image().unwrap().files[&[0xDF01, 0x4040]].clone();
    *card.lock().unwrap().file_mut(0xDF01, 0x4040).unwrap() = other_key;

    let error = open(&card).read_citizen(&anchors, now()).unwrap_err();
    assert!(
        matches!(error, EidError::CardNotGenuine { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(
            "the basic key in file 3F00/DF01/4040 differs from the one the National Register signed"
        ),
        "{error}"
    );
}

#[test]
fn tampered_identity_is_rejected() {
    let card = card(Applet::V1_8);
    let anchors = anchors(&card);
    {
        let mut card = card.lock().unwrap();
        let identity = card.file_mut(0xDF01, 0x4031).unwrap();
        let position = identity
            .windows(11)
            .position(|w| w == b"85073003328")
            .unwrap();
        identity[position + 10] = b'9';
    }
    let error = open(&card).read_citizen(&anchors, now()).unwrap_err();
    assert!(
        matches!(error, EidError::IdentitySignatureInvalid(_)),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("the identity data on the card is not signed by the National Register")
    );
}

#[test]
fn tampered_address_is_rejected() {
    let card = card(Applet::V1_7);
    let anchors = anchors(&card);
    {
        let mut card = card.lock().unwrap();
        let address = card.file_mut(0xDF01, 0x4033).unwrap();
        let position = address.windows(4).position(|w| w == b"3000").unwrap();
        address[position] = b'9';
    }
    let error = open(&card).read_citizen(&anchors, now()).unwrap_err();
    assert!(
        matches!(error, EidError::AddressSignatureInvalid(_)),
        "{error:?}"
    );
}

#[test]
fn tampered_photo_is_rejected() {
    let card = card(Applet::V1_8);
    let anchors = anchors(&card);
    card.lock().unwrap().file_mut(0xDF01, 0x4035).unwrap()[100] ^= 0xFF;
    let error = open(&card).read_citizen(&anchors, now()).unwrap_err();
    assert!(matches!(error, EidError::PhotoHashMismatch), "{error:?}");
}

#[test]
fn impostor_root_is_not_trusted() {
    // Same root name as the card's, other key (another seed).
    let card = card(Applet::V1_8);
    let mut other_profile = CardProfile::new(Applet::V1_8);
    other_profile.seed = 2;
    let other = virtual_eid::shared(VirtualCard::new(&other_profile).unwrap());
    let error = open(&card)
        .read_citizen(&anchors(&other), now())
        .unwrap_err();
    assert!(
        matches!(error, EidError::RrnCertificateUntrusted(_)),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("does not verify with the key of CN=TEST Belgium Root CA 1.8"),
        "{error}"
    );
}

#[test]
fn unknown_root_is_not_trusted() {
    let card = card(Applet::V1_8);
    let v17 = self::card(Applet::V1_7);
    let error = open(&card).read_citizen(&anchors(&v17), now()).unwrap_err();
    assert!(
        matches!(error, EidError::RrnCertificateUntrusted(_)),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("which is not a configured trusted root"),
        "{error}"
    );
}

#[test]
fn expired_card_is_rejected() {
    let card = card(Applet::V1_8);
    let anchors = anchors(&card);
    let later: Timestamp = "2034-06-01T00:00:00Z".parse().unwrap();
    let error = open(&card).read_citizen(&anchors, later).unwrap_err();
    // The test RRN certificate ends in 2040, so the card's own end date (2034) is what fails.
    assert!(matches!(error, EidError::CardExpired { .. }), "{error:?}");
}

#[test]
fn citizen_certificates_chain_to_root() {
    for applet in [Applet::V1_7, Applet::V1_8] {
        let card = card(applet);
        let anchors = anchors(&card);
        let certificates = open(&card).read_certificates().unwrap();
        assert!(certificates.authentication.is_some());
        assert!(certificates.non_repudiation.is_some());
        certificates.verify(&anchors, now()).unwrap();

        let other = TrustAnchors::from_der([certificates.citizen_ca.as_slice()]).unwrap();
        let error = certificates.verify(&other, now()).unwrap_err();
        assert!(
            matches!(error, EidError::CertificateUntrusted { .. }),
            "{error:?}"
        );
    }
}

#[test]
fn wrong_pin_reports_tries_then_blocks() {
    let card = card(Applet::V1_8);
    let mut eid = open(&card);
    assert_eq!(eid.pin_tries_left().unwrap(), Some(3));

    let error = eid.verify_pin(&pin("9999")).unwrap_err();
    assert!(
        matches!(error, EidError::WrongPin { tries_left: 2 }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "wrong PIN; 2 tries left before the card blocks the PIN"
    );
    assert_eq!(eid.pin_tries_left().unwrap(), Some(2));

    let error = eid.verify_pin(&pin("9999")).unwrap_err();
    assert!(
        matches!(error, EidError::WrongPin { tries_left: 1 }),
        "{error:?}"
    );

    let error = eid.verify_pin(&pin("9999")).unwrap_err();
    assert!(matches!(error, EidError::PinBlocked), "{error:?}");

    let error = eid.verify_pin(&pin(virtual_eid::DEFAULT_PIN)).unwrap_err();
    assert!(matches!(error, EidError::PinBlocked), "{error:?}");
    assert_eq!(card.lock().unwrap().tries_left(), 0);
}

#[test]
fn right_pin_resets_counter() {
    let card = card(Applet::V1_7);
    let mut eid = open(&card);
    assert!(eid.verify_pin(&pin("0000")).is_err());
    assert_eq!(eid.pin_tries_left().unwrap(), Some(2));
    eid.verify_pin(&pin(virtual_eid::DEFAULT_PIN)).unwrap();
    assert_eq!(card.lock().unwrap().tries_left(), 3);
}

#[test]
fn invalid_pin_is_not_sent() {
    let card = card(Applet::V1_8);
    let transport = InProcessTransport::new(Arc::clone(&card));
    let log = Arc::clone(&transport.log);
    let mut eid = EidCard::open(transport).unwrap();
    let sent_before = log.lock().unwrap().len();

    for bad in ["123", "1234567890123", "12a4"] {
        let error = eid.verify_pin(&pin(bad)).unwrap_err();
        assert!(matches!(error, EidError::PinFormat(_)), "{error:?}");
        let error = eid
            .sign_non_repudiation(&MessageDigest::sha384(b"x"), PinEntry::Typed(&pin(bad)))
            .unwrap_err();
        assert!(matches!(error, EidError::PinFormat(_)), "{error:?}");
    }
    assert_eq!(log.lock().unwrap().len(), sent_before);
    assert_eq!(card.lock().unwrap().tries_left(), 3);
}

fn verify_with_certificate(
    signature: &practicebox::eid::NonRepudiationSignature,
    digest: &MessageDigest,
) {
    let certificate = Certificate::from_der(&signature.certificate).unwrap();
    let spki =
        der::Encode::to_der(certificate.tbs_certificate().subject_public_key_info()).unwrap();
    match (signature.algorithm, digest) {
        (SignatureAlgorithm::RsaPkcs1Sha256, MessageDigest::Sha256(hash)) => {
            let key = rsa::PublicKey::from_public_key_der(&spki).unwrap();
            key.verify(
                rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                hash,
                &signature.value,
            )
            .unwrap();
        }
        (SignatureAlgorithm::RsaPkcs1Sha384, MessageDigest::Sha384(hash)) => {
            let key = rsa::PublicKey::from_public_key_der(&spki).unwrap();
            key.verify(
                rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                hash,
                &signature.value,
            )
            .unwrap();
        }
        (SignatureAlgorithm::EcdsaP384Sha384 | SignatureAlgorithm::EcdsaP384Sha256, _) => {
            let key = p384::ecdsa::VerifyingKey::from_public_key_der(&spki).unwrap();
            let der = p384::ecdsa::Signature::from_der(&signature.value).unwrap();
            let raw = p384::ecdsa::Signature::from_slice(&signature.raw).unwrap();
            assert_eq!(der, raw);
            let prehash: &[u8] = match digest {
                MessageDigest::Sha256(hash) => hash,
                MessageDigest::Sha384(hash) => hash,
            };
            key.verify_prehash(prehash, &der).unwrap();
        }
        other => panic!("unexpected algorithm and digest {other:?}"),
    }
}

#[test]
fn sign_v17_rsa_sha256_and_sha384() {
    let card = card(Applet::V1_7);
    let mut eid = open(&card);
    for digest in [
        MessageDigest::sha256(b"mandate"),
        MessageDigest::sha384(b"mandate"),
    ] {
        let signature = eid
            .sign_non_repudiation(&digest, PinEntry::Typed(&pin(virtual_eid::DEFAULT_PIN)))
            .unwrap();
        assert_eq!(signature.value.len(), 256);
        verify_with_certificate(&signature, &digest);
    }
}

#[test]
fn sign_v18_ecdsa_raw_and_der() {
    let card = card(Applet::V1_8);
    let mut eid = open(&card);
    for digest in [
        MessageDigest::sha384(b"mandate"),
        MessageDigest::sha256(b"mandate"),
    ] {
        let signature = eid
            .sign_non_repudiation(&digest, PinEntry::Typed(&pin(virtual_eid::DEFAULT_PIN)))
            .unwrap();
        assert_eq!(signature.raw.len(), 96);
        assert_eq!(signature.value[0], 0x30);
        verify_with_certificate(&signature, &digest);
    }
}

#[test]
fn sign_sends_verify_directly_before_pso() {
    let card = card(Applet::V1_7);
    let transport = InProcessTransport::new(Arc::clone(&card));
    let probe = transport.clone();
    let mut eid = EidCard::open(transport).unwrap();
    probe.log.lock().unwrap().clear();

    eid.sign_non_repudiation(
        &MessageDigest::sha256(b"mandate"),
        PinEntry::Typed(&pin(virtual_eid::DEFAULT_PIN)),
    )
    .unwrap();
    let instructions = probe.instructions();
    let tail: Vec<u8> = instructions
        .iter()
        .copied()
        .skip_while(|ins| *ins != 0x22)
        .collect();
    // MSE SET, VERIFY, PSO: COMPUTE DIGITAL SIGNATURE, GET RESPONSE, LOG OFF.
    assert_eq!(tail, vec![0x22, 0x20, 0x2A, 0xC0, 0xE6]);
}

#[test]
fn sign_with_wrong_pin_fails_without_signature() {
    let card = card(Applet::V1_8);
    let mut eid = open(&card);
    let error = eid
        .sign_non_repudiation(
            &MessageDigest::sha384(b"mandate"),
            PinEntry::Typed(&pin("4321")),
        )
        .unwrap_err();
    assert!(
        matches!(error, EidError::WrongPin { tries_left: 2 }),
        "{error:?}"
    );
}

#[test]
fn card_removed_during_signing() {
    let card = card(Applet::V1_8);
    let mut eid = open(&card);
    card.lock().unwrap().remove_on(Removal::OnInstruction(0x2A));
    let error = eid
        .sign_non_repudiation(
            &MessageDigest::sha384(b"mandate"),
            PinEntry::Typed(&pin(virtual_eid::DEFAULT_PIN)),
        )
        .unwrap_err();
    assert!(error.is_card_removed(), "{error:?}");
    assert_eq!(
        error.to_string(),
        "the card was removed or reset during the operation; insert it again and restart"
    );
}

#[test]
fn card_removed_while_reading() {
    let card = card(Applet::V1_7);
    let anchors = anchors(&card);
    let mut eid = open(&card);
    card.lock().unwrap().remove_on(Removal::OnInstruction(0xB0));
    let error = eid.read_citizen(&anchors, now()).unwrap_err();
    assert!(error.is_card_removed(), "{error:?}");
}

#[test]
fn other_card_is_not_an_eid() {
    let card = virtual_eid::shared(VirtualCard::not_an_eid());
    let error = EidCard::open(InProcessTransport::new(card)).unwrap_err();
    assert!(matches!(error, EidError::NotBelgianEid { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "the card in the reader is not a Belgian eID (unknown ATR and the Belpic applet cannot be \
         selected, status 6A82; ATR 3B021450); insert a Belgian eID card"
    );
}

#[test]
fn pinpad_signs_without_typed_pin() {
    let card = card(Applet::V1_8);
    let transport = InProcessTransport::with_pinpad(
        Arc::clone(&card),
        PinpadInput::Digits(pin(virtual_eid::DEFAULT_PIN)),
    );
    let mut eid = EidCard::open(transport).unwrap();
    assert!(eid.has_pinpad());
    let digest = MessageDigest::sha384(b"mandate");
    let signature = eid
        .sign_non_repudiation(&digest, PinEntry::Pinpad(PinpadLanguage::Dutch))
        .unwrap();
    verify_with_certificate(&signature, &digest);
}

#[test]
fn pinpad_errors_are_distinct() {
    let cases = [
        (PinpadInput::Cancel, "cancel"),
        (PinpadInput::Timeout, "timeout"),
        (PinpadInput::Digits(pin("1111")), "wrong"),
    ];
    for (input, case) in cases {
        let card = card(Applet::V1_7);
        let mut eid = EidCard::open(InProcessTransport::with_pinpad(card, input)).unwrap();
        let error = eid
            .verify_pin_on_pinpad(PinpadLanguage::French)
            .unwrap_err();
        let expected = match case {
            "cancel" => matches!(error, EidError::PinpadCancelled),
            "timeout" => matches!(error, EidError::PinpadTimeout),
            _ => matches!(error, EidError::WrongPin { tries_left: 2 }),
        };
        assert!(expected, "{case}: {error:?}");
    }
}

#[test]
fn pinpad_entry_needs_pinpad() {
    let card = card(Applet::V1_8);
    let mut eid = open(&card);
    let error = eid
        .sign_non_repudiation(
            &MessageDigest::sha384(b"x"),
            PinEntry::Pinpad(PinpadLanguage::Dutch),
        )
        .unwrap_err();
    assert!(matches!(error, EidError::PinpadUnavailable), "{error:?}");
}

/// A reader working at APDU level: it fetches `61xx` data itself and returns `data 9000`.
#[derive(Debug)]
struct AutoGetResponse(InProcessTransport);

impl CardChannel for AutoGetResponse {
    fn transmit(&mut self, command: &[u8]) -> Result<Response, TransportError> {
        let mut response = self.0.transmit(command)?;
        let mut data = std::mem::take(&mut response.data);
        while response.sw1() == 0x61 {
            response = self.0.transmit(&[0x00, 0xC0, 0x00, 0x00, response.sw2()])?;
            data.append(&mut response.data);
        }
        response.data = data;
        Ok(response)
    }

    fn control(&mut self, code: u32, input: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.0.control(code, input)
    }
}

impl CardTransport for AutoGetResponse {
    fn atr(&mut self) -> Result<Vec<u8>, TransportError> {
        self.0.atr()
    }

    fn exclusive(
        &mut self,
        body: &mut dyn FnMut(&mut dyn CardChannel) -> Result<(), EidError>,
    ) -> Result<(), EidError> {
        body(self)
    }
}

#[test]
fn reader_doing_get_response_still_signs() {
    let card = card(Applet::V1_7);
    let mut eid = EidCard::open(AutoGetResponse(InProcessTransport::new(card))).unwrap();
    let digest = MessageDigest::sha256(b"mandate");
    let signature = eid
        .sign_non_repudiation(&digest, PinEntry::Typed(&pin(virtual_eid::DEFAULT_PIN)))
        .unwrap();
    verify_with_certificate(&signature, &digest);
}

/// A reader that once returns `6B00` in the middle of a file, like some keypad-less readers.
#[derive(Debug)]
struct MidFileGlitch {
    inner: InProcessTransport,
    glitched: Arc<Mutex<bool>>,
}

impl CardChannel for MidFileGlitch {
    fn transmit(&mut self, command: &[u8]) -> Result<Response, TransportError> {
        let mut glitched = self.glitched.lock().unwrap();
        if command[1] == 0xB0 && command[2..4] != [0, 0] && !*glitched {
            *glitched = true;
            return Ok(Response {
                data: Vec::new(),
                sw: 0x6B00,
            });
        }
        drop(glitched);
        self.inner.transmit(command)
    }

    fn control(&mut self, code: u32, input: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.inner.control(code, input)
    }
}

impl CardTransport for MidFileGlitch {
    fn atr(&mut self) -> Result<Vec<u8>, TransportError> {
        self.inner.atr()
    }

    fn exclusive(
        &mut self,
        body: &mut dyn FnMut(&mut dyn CardChannel) -> Result<(), EidError>,
    ) -> Result<(), EidError> {
        body(self)
    }
}

#[test]
fn mid_file_glitch_is_retried() {
    let card = card(Applet::V1_8);
    let anchors = anchors(&card);
    let glitched = Arc::new(Mutex::new(false));
    let transport = MidFileGlitch {
        inner: InProcessTransport::new(card),
        glitched: Arc::clone(&glitched),
    };
    let citizen = EidCard::open(transport)
        .unwrap()
        .read_citizen(&anchors, now())
        .unwrap();
    assert!(*glitched.lock().unwrap());
    assert_eq!(citizen.identity.insz.as_str(), virtual_eid::DEFAULT_SSIN);
}
