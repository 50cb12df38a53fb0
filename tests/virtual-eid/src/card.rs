//! The APDU processor of the virtual card: the Belpic file system and commands the appliance
//! uses (SELECT by AID, file identifier or path; READ BINARY; GET CARD DATA; VERIFY; MSE SET;
//! PSO: COMPUTE DIGITAL SIGNATURE; INTERNAL AUTHENTICATE with the basic key of applet 1.8; GET
//! RESPONSE; LOG OFF), with the T=0 behaviour of a real card: `6Cxx` when Le does not match the
//! bytes left, and signatures fetched through `61xx` and GET RESPONSE.
//!
//! Security state (verified PIN, security environment, selection) is cleared on power-off and
//! reset, as on a real card. The PIN try counter survives them.

use sha2::Sha256;
use signature::hazmat::PrehashSigner;
use zeroize::Zeroizing;

use crate::EmulatorError;
use crate::pki::TestKey;
use crate::profile::{Applet, CardImage, CardProfile};

/// ATR of applet 1.7 (and late 1.1) cards.
pub const ATR_V1_7: [u8; 13] = [
    0x3B, 0x98, 0x13, 0x40, 0x0A, 0xA5, 0x03, 0x01, 0x01, 0x01, 0xAD, 0x13, 0x11,
];
/// ATR of applet 1.8 cards.
pub const ATR_V1_8: [u8; 20] = [
    0x3B, 0x7F, 0x96, 0x00, 0x00, 0x80, 0x31, 0x80, 0x65, 0xB0, 0x85, 0x04, 0x01, 0x20, 0x12, 0x0F,
    0xFF, 0x82, 0x90, 0x00,
];
/// ATR of the "not an eID" card: a minimal T=0 ATR without historical bytes that no Belgian eID
/// uses.
pub const ATR_OTHER_CARD: [u8; 4] = [0x3B, 0x02, 0x14, 0x50];

const BELPIC_APPLET_AID: [u8; 15] = [
    0xA0, 0x00, 0x00, 0x00, 0x30, 0x29, 0x05, 0x70, 0x00, 0xAD, 0x13, 0x10, 0x01, 0x01, 0xFF,
];
const BELPIC_DF_AID: [u8; 12] = [
    0xA0, 0x00, 0x00, 0x01, 0x77, 0x50, 0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35,
];
const ID_DF_AID: [u8; 12] = [
    0xA0, 0x00, 0x00, 0x01, 0x77, 0x49, 0x64, 0x46, 0x69, 0x6C, 0x65, 0x73,
];

const MF: u16 = 0x3F00;
const PIN_TRIES: u8 = 3;

/// INTERNAL AUTHENTICATE calls an applet 1.8 card allows between two successful VERIFY
/// commands. Once they are used, it rejects the command until a VERIFY succeeds.
pub const INTERNAL_AUTHENTICATE_LIMIT: u32 = 5000;

/// When the card "leaves the reader" in the middle of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Pulled out when a command with this instruction byte arrives, before replying
    /// (`0x2A` is PSO: COMPUTE DIGITAL SIGNATURE, `0xB0` READ BINARY).
    OnInstruction(u8),
}

/// What the card does with a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A response APDU: data and status word.
    Response(Vec<u8>),
    /// The card is gone, so it sends no reply.
    Removed,
}

#[derive(Debug, Default)]
struct Session {
    current_df: Option<u16>,
    current_ef: Option<[u16; 2]>,
    pin_verified: bool,
    /// Commands processed since the last successful VERIFY.
    commands_since_verify: u32,
    environment: Option<(u8, u8)>,
    pending: Vec<u8>,
}

enum Kind {
    Eid(Box<CardImage>),
    Other,
}

/// A virtual Belgian eID card (or a card that is not an eID).
pub struct VirtualCard {
    kind: Kind,
    pin: Zeroizing<String>,
    tries_left: u8,
    session: Session,
    removal: Option<Removal>,
    removed: bool,
    /// INTERNAL AUTHENTICATE calls since the last successful VERIFY. Like the PIN try counter,
    /// it survives power-off and reset.
    internal_authentications: u32,
    internal_authenticate_blocked_sw: u16,
}

impl std::fmt::Debug for VirtualCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualCard")
            .field("applet", &self.applet())
            .field("tries_left", &self.tries_left)
            .field("removed", &self.removed)
            .finish_non_exhaustive()
    }
}

type Outcome = (Vec<u8>, u16);

impl VirtualCard {
    /// Builds a Belgian eID for `profile`.
    pub fn new(profile: &CardProfile) -> Result<Self, EmulatorError> {
        Ok(Self {
            kind: Kind::Eid(Box::new(CardImage::build(profile)?)),
            pin: profile.pin.clone(),
            tries_left: PIN_TRIES,
            session: Session::default(),
            removal: None,
            removed: false,
            internal_authentications: profile.internal_authentications,
            internal_authenticate_blocked_sw: profile.internal_authenticate_blocked_sw,
        })
    }

    /// Builds a card that is not a Belgian eID: another ATR, and the Belpic applet is absent.
    pub fn not_an_eid() -> Self {
        Self {
            kind: Kind::Other,
            pin: Zeroizing::new(String::new()),
            tries_left: 0,
            session: Session::default(),
            removal: None,
            removed: false,
            internal_authentications: 0,
            internal_authenticate_blocked_sw: 0x6982,
        }
    }

    /// Returns the applet generation, or `None` for the card that is not an eID.
    pub fn applet(&self) -> Option<Applet> {
        match &self.kind {
            Kind::Eid(image) => Some(image.applet),
            Kind::Other => None,
        }
    }

    /// Returns the file system and PKI, or `None` for the card that is not an eID.
    pub fn image(&self) -> Option<&CardImage> {
        match &self.kind {
            Kind::Eid(image) => Some(image),
            Kind::Other => None,
        }
    }

    /// Returns a file for tests that tamper with the card, by DF and EF identifier (for example
    /// `0xDF01, 0x4031` for the identity file).
    pub fn file_mut(&mut self, df: u16, ef: u16) -> Option<&mut Vec<u8>> {
        match &mut self.kind {
            Kind::Eid(image) => image.files.get_mut(&[df, ef]),
            Kind::Other => None,
        }
    }

    /// Returns the ATR.
    pub fn atr(&self) -> Vec<u8> {
        match self.applet() {
            Some(Applet::V1_7) => ATR_V1_7.to_vec(),
            Some(Applet::V1_8) => ATR_V1_8.to_vec(),
            None => ATR_OTHER_CARD.to_vec(),
        }
    }

    /// Returns the PIN tries left.
    pub fn tries_left(&self) -> u8 {
        self.tries_left
    }

    /// Returns the INTERNAL AUTHENTICATE calls since the last successful VERIFY.
    pub fn internal_authentications(&self) -> u32 {
        self.internal_authentications
    }

    /// Arms the removal knob: the card disappears when the trigger is met.
    pub fn remove_on(&mut self, removal: Removal) {
        self.removal = Some(removal);
    }

    /// Returns true once the card has been removed by the knob.
    pub fn is_removed(&self) -> bool {
        self.removed
    }

    /// Puts the card back after a removal, as a fresh insertion (security state cleared).
    pub fn reinsert(&mut self) {
        self.removed = false;
        self.removal = None;
        self.reset();
    }

    /// Powers the card off: security state is lost.
    pub fn power_off(&mut self) {
        self.session = Session::default();
    }

    /// Resets the card: security state is lost.
    pub fn reset(&mut self) {
        self.session = Session::default();
    }

    /// Processes one command APDU.
    pub fn process(&mut self, command: &[u8]) -> Reply {
        if self.removed {
            return Reply::Removed;
        }
        if let (Some(Removal::OnInstruction(ins)), Some(actual)) = (self.removal, command.get(1))
            && ins == *actual
        {
            self.removed = true;
            self.session = Session::default();
            return Reply::Removed;
        }

        let (mut data, sw) = self.dispatch(command);
        data.extend_from_slice(&sw.to_be_bytes());
        Reply::Response(data)
    }

    fn dispatch(&mut self, command: &[u8]) -> Outcome {
        let Some(apdu) = Apdu::parse(command) else {
            return status(0x6700);
        };
        let Kind::Eid(image) = &self.kind else {
            return match apdu.ins {
                0xA4 => status(0x6A82),
                _ => status(0x6D00),
            };
        };
        let applet = image.applet;
        if apdu.ins != 0x20 {
            self.session.commands_since_verify =
                self.session.commands_since_verify.saturating_add(1);
        }
        if apdu.ins != 0xC0 && apdu.ins != 0x2A {
            self.session.pending.clear();
        }

        match (apdu.cla, apdu.ins) {
            (0x00, 0xA4) => self.select(&apdu),
            (0x00, 0xB0) => self.read_binary(&apdu),
            (0x80, 0xE4) => self.get_card_data(&apdu, applet),
            (0x00, 0x20) => self.verify(&apdu),
            (0x00, 0x22) => self.mse_set(&apdu, applet),
            (0x00, 0x2A) => self.compute_signature(&apdu, applet),
            (0x00, 0x88) => self.internal_authenticate(&apdu),
            (0x00, 0xC0) => self.get_response(&apdu),
            (0x80, 0xE6) => {
                self.session.pin_verified = false;
                status(0x9000)
            }
            (0x00 | 0x80, _) => status(0x6D00),
            _ => status(0x6E00),
        }
    }

    fn eid_image(&self) -> &CardImage {
        match &self.kind {
            Kind::Eid(image) => image,
            // `dispatch` only calls command handlers for an eID.
            Kind::Other => unreachable!("command handler called on a card that is not an eID"),
        }
    }

    fn select(&mut self, apdu: &Apdu) -> Outcome {
        if !matches!(apdu.p2, 0x0C | 0x00) {
            return status(0x6A86);
        }
        let target = match apdu.p1 {
            0x04 => self.select_aid(&apdu.data),
            0x00 | 0x02 => self.select_fid(&apdu.data),
            0x08 => self.select_path(&apdu.data),
            _ => return status(0x6A86),
        };
        match target {
            Some((df, ef)) => {
                self.session.current_df = df;
                self.session.current_ef = ef;
                status(0x9000)
            }
            None => status(0x6A82),
        }
    }

    fn select_aid(&self, aid: &[u8]) -> Option<(Option<u16>, Option<[u16; 2]>)> {
        if aid == BELPIC_APPLET_AID {
            Some((Some(MF), None))
        } else if aid == BELPIC_DF_AID {
            Some((Some(0xDF00), None))
        } else if aid == ID_DF_AID {
            Some((Some(0xDF01), None))
        } else {
            None
        }
    }

    fn select_fid(&self, data: &[u8]) -> Option<(Option<u16>, Option<[u16; 2]>)> {
        let [high, low] = *data else { return None };
        let fid = u16::from_be_bytes([high, low]);
        match fid {
            MF => Some((Some(MF), None)),
            0xDF00 | 0xDF01 => Some((Some(fid), None)),
            _ => {
                let df = self.session.current_df?;
                self.eid_image()
                    .files
                    .contains_key(&[df, fid])
                    .then_some((Some(df), Some([df, fid])))
            }
        }
    }

    fn select_path(&self, data: &[u8]) -> Option<(Option<u16>, Option<[u16; 2]>)> {
        if data.is_empty() || !data.len().is_multiple_of(2) {
            return None;
        }
        let mut fids: Vec<u16> = data
            .chunks(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .collect();
        // The manual says "without the MF", but cards also accept a leading 3F00.
        if fids.first() == Some(&MF) {
            fids.remove(0);
        }
        match fids.as_slice() {
            [] => Some((Some(MF), None)),
            [df @ (0xDF00 | 0xDF01)] => Some((Some(*df), None)),
            [df, ef] => self
                .eid_image()
                .files
                .contains_key(&[*df, *ef])
                .then_some((Some(*df), Some([*df, *ef]))),
            _ => None,
        }
    }

    fn read_binary(&mut self, apdu: &Apdu) -> Outcome {
        let Some(ef) = self.session.current_ef else {
            return status(0x6986);
        };
        let Some(file) = self.eid_image().files.get(&ef) else {
            return status(0x6986);
        };
        let offset = usize::from(u16::from_be_bytes([apdu.p1 & 0x7F, apdu.p2]));
        let requested = apdu.le.unwrap_or(256);
        if offset >= file.len() {
            return status(0x6B00);
        }
        let remaining = file.len() - offset;
        if requested > remaining {
            return status(0x6C00 | remaining.min(255) as u16);
        }
        (file[offset..offset + requested].to_vec(), 0x9000)
    }

    fn get_card_data(&mut self, apdu: &Apdu, applet: Applet) -> Outcome {
        let expected = match (apdu.p1, apdu.p2, applet) {
            (0x00, 0x00, _) => 28,
            (0x00, 0x01, Applet::V1_8) => 31,
            _ => return status(0x6A86),
        };
        if apdu.le != Some(expected) {
            return status(0x6C00 | expected as u16);
        }
        let image = self.eid_image();
        let mut data = image.chip_serial.to_vec();
        data.extend_from_slice(&[0x01, 0x11, 0x01, 0x25, 0x01]);
        data.push(applet.version_byte());
        data.extend_from_slice(&[0x00, 0x03, 0x00, 0x21, 0x01, 0x0F]);
        if expected == 31 {
            data.extend_from_slice(&[self.tries_left, 0x00, 0x00]);
        }
        (data, 0x9000)
    }

    fn verify(&mut self, apdu: &Apdu) -> Outcome {
        if apdu.p1 != 0x00 {
            return status(0x6A86);
        }
        if apdu.p2 != 0x01 {
            return status(0x6A88);
        }
        if self.tries_left == 0 {
            return status(0x6983);
        }
        if apdu.data.is_empty() {
            // An empty VERIFY only reports the state; it uses no try.
            return if self.session.pin_verified {
                status(0x9000)
            } else {
                status(0x63C0 | u16::from(self.tries_left))
            };
        }
        if apdu.data.len() != 8 {
            return status(0x6700);
        }

        let matches = decode_pin_block(&apdu.data)
            .is_some_and(|digits| digits.as_bytes() == self.pin.as_bytes());
        if matches {
            self.tries_left = PIN_TRIES;
            self.session.pin_verified = true;
            self.session.commands_since_verify = 0;
            self.internal_authentications = 0;
            return status(0x9000);
        }
        // A failed VERIFY clears every PIN-based access condition.
        self.tries_left -= 1;
        self.session.pin_verified = false;
        status(0x63C0 | u16::from(self.tries_left))
    }

    fn mse_set(&mut self, apdu: &Apdu, applet: Applet) -> Outcome {
        if apdu.p1 != 0x41 || apdu.p2 != 0xB6 {
            return status(0x6A86);
        }
        let [0x80, algorithm, 0x84, key] = *apdu.data.as_slice() else {
            return status(0x6A80);
        };
        if !matches!(key, 0x82 | 0x83) {
            return status(0x6A88);
        }
        let supported = match applet {
            Applet::V1_7 => [0x01, 0x02, 0x08].contains(&algorithm),
            Applet::V1_8 => [0x01, 0x02, 0x04, 0x40].contains(&algorithm),
        };
        if !supported {
            return status(0x6A80);
        }
        self.session.environment = Some((algorithm, key));
        status(0x9000)
    }

    fn compute_signature(&mut self, apdu: &Apdu, applet: Applet) -> Outcome {
        if apdu.p1 != 0x9E || apdu.p2 != 0x9A {
            return status(0x6A86);
        }
        let Some((algorithm, key_reference)) = self.session.environment else {
            return status(0x6985);
        };
        if !self.session.pin_verified {
            return status(0x6982);
        }
        if key_reference == 0x83 {
            // The non-repudiation key needs a VERIFY right before: directly before on 1.7, with
            // at most one other command in between on 1.8. Each VERIFY allows one signature.
            let allowed_between = match applet {
                Applet::V1_7 => 0,
                Applet::V1_8 => 1,
            };
            // The counter already includes this PSO command.
            let between = self.session.commands_since_verify.saturating_sub(1);
            self.session.pin_verified = false;
            if between > allowed_between {
                return status(0x6982);
            }
        }

        let key = match key_reference {
            0x82 => &self.eid_image().pki.authentication.key,
            _ => &self.eid_image().pki.non_repudiation.key,
        };
        let signature = match sign(key, algorithm, &apdu.data) {
            Ok(signature) => signature,
            Err(sw) => return status(sw),
        };
        let announced = (signature.len() % 256) as u16;
        self.session.pending = signature;
        status(0x6100 | announced)
    }

    /// Signs the challenge in tag `94` with the basic key (reference 81), as a SHA-384 digest
    /// (algorithm 02). Needs no PIN, and clears the security environment as a real card does.
    /// After [`INTERNAL_AUTHENTICATE_LIMIT`] calls it is rejected until a VERIFY succeeds.
    /// Applet 1.7 cards have no basic key here, because the card stores no public key of their
    /// RSA basic key to check its signatures with.
    fn internal_authenticate(&mut self, apdu: &Apdu) -> Outcome {
        if apdu.p2 != 0x81 {
            return status(0x6A88);
        }
        let Some(key) = &self.eid_image().pki.basic_key else {
            return status(0x6A88);
        };
        if apdu.p1 != 0x02 {
            return status(0x6A86);
        }
        let [0x94, length, challenge @ ..] = apdu.data.as_slice() else {
            return status(0x6A80);
        };
        if usize::from(*length) != challenge.len() {
            return status(0x6A80);
        }
        if self.internal_authentications >= INTERNAL_AUTHENTICATE_LIMIT {
            return status(self.internal_authenticate_blocked_sw);
        }
        let signature = match sign(key, 0x02, challenge) {
            Ok(signature) => signature,
            Err(sw) => return status(sw),
        };
        self.internal_authentications += 1;
        self.session.environment = None;
        let announced = (signature.len() % 256) as u16;
        self.session.pending = signature;
        status(0x6100 | announced)
    }

    fn get_response(&mut self, apdu: &Apdu) -> Outcome {
        if self.session.pending.is_empty() {
            return status(0x6985);
        }
        let requested = apdu.le.unwrap_or(256);
        let available = self.session.pending.len();
        if requested > available {
            return status(0x6C00 | (available.min(255)) as u16);
        }
        let data: Vec<u8> = self.session.pending.drain(..requested).collect();
        let left = self.session.pending.len();
        if left == 0 {
            (data, 0x9000)
        } else {
            (data, 0x6100 | (left.min(256) % 256) as u16)
        }
    }
}

/// Signs the PSO input with the algorithm reference of the security environment, or returns
/// the status word for an input of the wrong length.
fn sign(key: &TestKey, algorithm: u8, input: &[u8]) -> Result<Vec<u8>, u16> {
    match key {
        TestKey::Rsa(key) => {
            let scheme = match (algorithm, input.len()) {
                // The card builds the SHA-256 DigestInfo itself.
                (0x08, 32) => rsa::Pkcs1v15Sign::new::<Sha256>(),
                (0x02, 20) => rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
                // The caller sent a complete DigestInfo; the card only pads.
                (0x01, 1..=245) => rsa::Pkcs1v15Sign::new_unprefixed(),
                _ => return Err(0x6700),
            };
            key.sign(scheme, input).map_err(|_| 0x6A80)
        }
        TestKey::P384(key) => {
            let length_ok = match algorithm {
                0x01 => input.len() == 32,
                0x02 => input.len() == 48,
                0x04 => input.len() == 64,
                _ => [20, 28, 32, 48, 64].contains(&input.len()),
            };
            if !length_ok {
                return Err(0x6700);
            }
            let signature: p384::ecdsa::Signature =
                key.sign_prehash(input).map_err(|_| 0x6A80u16)?;
            Ok(signature.to_bytes().to_vec())
        }
    }
}

/// Decodes a format-2 PIN block (`2L`, BCD digits, `F` padding) into its digits.
fn decode_pin_block(block: &[u8]) -> Option<Zeroizing<String>> {
    let (&control, rest) = block.split_first()?;
    if control >> 4 != 0x2 {
        return None;
    }
    let length = usize::from(control & 0x0F);
    if !(4..=12).contains(&length) {
        return None;
    }
    let mut digits = Zeroizing::new(String::with_capacity(length));
    for index in 0..14 {
        let byte = rest[index / 2];
        let nibble = if index % 2 == 0 {
            byte >> 4
        } else {
            byte & 0x0F
        };
        match (index < length, nibble) {
            (true, 0..=9) => digits.push(char::from(b'0' + nibble)),
            (false, 0x0F) => {}
            _ => return None,
        }
    }
    Some(digits)
}

fn status(sw: u16) -> Outcome {
    (Vec::new(), sw)
}

/// A parsed short command APDU (ISO 7816-4 cases 1 to 4).
struct Apdu {
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: Zeroizing<Vec<u8>>,
    le: Option<usize>,
}

impl Apdu {
    fn parse(command: &[u8]) -> Option<Self> {
        let [cla, ins, p1, p2, ref body @ ..] = *command else {
            return None;
        };
        let (data, le) = match body {
            [] => (Vec::new(), None),
            [le] => (
                Vec::new(),
                Some(if *le == 0 { 256 } else { usize::from(*le) }),
            ),
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                match rest.len() {
                    n if n == lc => (rest.to_vec(), None),
                    n if n == lc + 1 => {
                        let le = rest[lc];
                        (
                            rest[..lc].to_vec(),
                            Some(if le == 0 { 256 } else { usize::from(le) }),
                        )
                    }
                    _ => return None,
                }
            }
        };
        Some(Self {
            cla,
            ins,
            p1,
            p2,
            data: Zeroizing::new(data),
            le,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_block_decodes_odd_length() {
        let block = [0x25, 0x12, 0x34, 0x5F, 0xFF, 0xFF, 0xFF, 0xFF];
        assert_eq!(decode_pin_block(&block).unwrap().as_str(), "12345");
    }

    #[test]
    fn pin_block_rejects_bad_padding() {
        let block = [0x24, 0x12, 0x34, 0x00, 0xFF, 0xFF, 0xFF, 0xFF];
        assert!(decode_pin_block(&block).is_none());
    }

    #[test]
    fn other_card_rejects_applet_select() {
        let mut card = VirtualCard::not_an_eid();
        let mut select = vec![0x00, 0xA4, 0x04, 0x0C, 0x0F];
        select.extend_from_slice(&BELPIC_APPLET_AID);
        assert_eq!(card.process(&select), Reply::Response(vec![0x6A, 0x82]));
    }
}
