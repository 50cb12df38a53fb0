//! Command APDUs of the Belpic applet and the status-word handling every command shares:
//! GET RESPONSE on `61xx`, Le correction on `6Cxx`, and a single applet re-selection when a
//! command that should work returns `6A82`, `6A86` or `6D00` (another application may have left
//! a different applet selected).

use zeroize::Zeroizing;

use super::EidError;
use super::transport::{CardChannel, Response};

/// AID of the Belpic Java Card applet, default-selected after every reset.
pub const BELPIC_APPLET_AID: [u8; 15] = [
    0xA0, 0x00, 0x00, 0x00, 0x30, 0x29, 0x05, 0x70, 0x00, 0xAD, 0x13, 0x10, 0x01, 0x01, 0xFF,
];

/// Status word for success.
pub const SW_OK: u16 = 0x9000;
/// Status word: security status not satisfied (PIN missing or consumed).
pub const SW_SECURITY_STATUS: u16 = 0x6982;
/// Status word: the PIN is blocked.
pub const SW_PIN_BLOCKED: u16 = 0x6983;
/// Status word: conditions of use not satisfied (no security environment, file not active).
pub const SW_CONDITIONS: u16 = 0x6985;
/// Status word: file or application not found.
pub const SW_NOT_FOUND: u16 = 0x6A82;
/// Status word: wrong P1 or P2.
pub const SW_WRONG_P1P2: u16 = 0x6A86;
/// Status word: offset beyond the end of the file.
pub const SW_WRONG_OFFSET: u16 = 0x6B00;
/// Status word: no current EF.
pub const SW_NO_CURRENT_EF: u16 = 0x6986;
/// Status word: instruction not supported in this state.
pub const SW_INS_NOT_SUPPORTED: u16 = 0x6D00;

/// Commands that GET RESPONSE may be chained for before we give up (a P-384 or RSA-2048
/// signature needs one; 16 allows 4 KiB).
const MAX_GET_RESPONSE: usize = 16;

/// Builds `SELECT` by AID, without FCI (`P2 = 0C`).
pub fn select_aid(aid: &[u8]) -> Vec<u8> {
    with_data([0x00, 0xA4, 0x04, 0x0C], aid, None)
}

/// Builds `SELECT` by absolute path from the MF, including the leading `3F00`.
pub fn select_path(path: &[u8]) -> Vec<u8> {
    with_data([0x00, 0xA4, 0x08, 0x0C], path, None)
}

/// Builds `READ BINARY` at `offset` for `length` bytes (256 is encoded as `Le = 00`).
pub fn read_binary(offset: u16, length: usize) -> Vec<u8> {
    let [high, low] = offset.to_be_bytes();
    vec![0x00, 0xB0, high, low, le_byte(length)]
}

/// Builds `GET CARD DATA`; `with_pin_counter` asks applet 1.8 for the 3 extra bytes.
pub fn get_card_data(with_pin_counter: bool) -> Vec<u8> {
    if with_pin_counter {
        vec![0x80, 0xE4, 0x00, 0x01, 0x1F]
    } else {
        vec![0x80, 0xE4, 0x00, 0x00, 0x1C]
    }
}

/// Builds `VERIFY` of the cardholder PIN (reference 01) with a format-2 PIN block. The result
/// contains the PIN and is wiped when dropped.
pub fn verify(pin_block: &[u8; 8]) -> Zeroizing<Vec<u8>> {
    let mut command = Zeroizing::new(Vec::with_capacity(13));
    command.extend_from_slice(&[0x00, 0x20, 0x00, 0x01, 0x08]);
    command.extend_from_slice(pin_block);
    command
}

/// Builds `MSE SET` for a digital signature with `algorithm` and private key `key_reference`.
pub fn mse_set_signature(algorithm: u8, key_reference: u8) -> Vec<u8> {
    vec![
        0x00,
        0x22,
        0x41,
        0xB6,
        0x04,
        0x80,
        algorithm,
        0x84,
        key_reference,
    ]
}

/// Builds `PSO: COMPUTE DIGITAL SIGNATURE` over a hash or DigestInfo, as a case 3 command: on
/// T=0 the signature comes back through `61xx` and GET RESPONSE.
pub fn compute_digital_signature(input: &[u8]) -> Vec<u8> {
    with_data([0x00, 0x2A, 0x9E, 0x9A], input, None)
}

/// Builds `INTERNAL AUTHENTICATE` with `algorithm` and private key `key_reference` over
/// `challenge`, sent in tag `94` as eid-mw does, with no Le: the card replies `61xx`.
pub fn internal_authenticate(algorithm: u8, key_reference: u8, challenge: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(2 + challenge.len());
    data.push(0x94);
    // Every challenge here is 48 bytes, so a one-byte length always fits.
    data.push(challenge.len() as u8);
    data.extend_from_slice(challenge);
    with_data([0x00, 0x88, algorithm, key_reference], &data, None)
}

/// Builds `GET RESPONSE` for `length` bytes.
pub fn get_response(length: usize) -> Vec<u8> {
    vec![0x00, 0xC0, 0x00, 0x00, le_byte(length)]
}

/// Builds `LOG OFF`, which discards the verified PIN state.
pub fn log_off() -> Vec<u8> {
    vec![0x80, 0xE6, 0x00, 0x00]
}

fn with_data(header: [u8; 4], data: &[u8], le: Option<usize>) -> Vec<u8> {
    let mut command = Vec::with_capacity(6 + data.len());
    command.extend_from_slice(&header);
    // Every data field here is at most 245 bytes, so a short Lc always fits.
    command.push(data.len() as u8);
    command.extend_from_slice(data);
    if let Some(le) = le {
        command.push(le_byte(le));
    }
    command
}

fn le_byte(length: usize) -> u8 {
    // Le = 00 means 256 bytes.
    (length % 256) as u8
}

/// Names a command for errors and logs by its instruction byte.
pub fn command_name(command: &[u8]) -> &'static str {
    match command.get(1) {
        Some(0xA4) => "SELECT",
        Some(0xB0) => "READ BINARY",
        Some(0xE4) => "GET CARD DATA",
        Some(0x20) => "VERIFY",
        Some(0x22) => "MSE SET",
        Some(0x2A) => "PSO: COMPUTE DIGITAL SIGNATURE",
        Some(0x88) => "INTERNAL AUTHENTICATE",
        Some(0xC0) => "GET RESPONSE",
        Some(0xE6) => "LOG OFF",
        _ => "command",
    }
}

/// Sends `command` and completes the exchange: re-sends with the corrected Le on `6Cxx` and
/// collects the data of `61xx` with GET RESPONSE. The returned status word is the final one.
pub fn exchange(channel: &mut dyn CardChannel, command: &[u8]) -> Result<Response, EidError> {
    let mut response = transmit_logged(channel, command)?;

    if response.sw1() == 0x6C {
        let mut corrected = command.to_vec();
        corrected = with_le(corrected, response.sw2());
        response = transmit_logged(channel, &corrected)?;
    }

    let mut data = std::mem::take(&mut response.data);
    let mut rounds = 0;
    while response.sw1() == 0x61 {
        rounds += 1;
        if rounds > MAX_GET_RESPONSE {
            return Err(EidError::CardStatus {
                command: command_name(command),
                sw: response.sw,
            });
        }
        response = get_response_once(channel, usize::from(response.sw2()))?;
        data.append(&mut response.data);
    }
    response.data = data;
    Ok(response)
}

fn get_response_once(channel: &mut dyn CardChannel, length: usize) -> Result<Response, EidError> {
    let length = if length == 0 { 256 } else { length };
    let response = transmit_logged(channel, &get_response(length))?;
    if response.sw1() == 0x6C {
        return transmit_logged(channel, &get_response(usize::from(response.sw2())));
    }
    Ok(response)
}

/// Replaces (case 2) or appends (case 4) the Le byte of a command. A 5-byte command is case 2,
/// so its last byte is Le; longer commands carry `Lc` and data.
fn with_le(mut command: Vec<u8>, le: u8) -> Vec<u8> {
    match command.len() {
        0..=4 => command.push(le),
        5 => command[4] = le,
        length => {
            let lc = usize::from(command[4]);
            if length == 5 + lc + 1 {
                command[length - 1] = le;
            } else {
                command.push(le);
            }
        }
    }
    command
}

/// Sends one command and logs its header and status word, never its data (which may be a PIN
/// block) and never the response data (personal data).
fn transmit_logged(channel: &mut dyn CardChannel, command: &[u8]) -> Result<Response, EidError> {
    let response = channel.transmit(command)?;
    tracing::trace!(
        command = command_name(command),
        header = %hex(&command[..command.len().min(4)]),
        sw = %format_args!("{:04X}", response.sw),
        response_length = response.data.len(),
        "card exchange"
    );
    Ok(response)
}

/// Formats bytes as upper-case hex without separators.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_binary_encodes_le_256_as_zero() {
        assert_eq!(read_binary(0x0102, 256), vec![0x00, 0xB0, 0x01, 0x02, 0x00]);
        assert_eq!(read_binary(0, 252), vec![0x00, 0xB0, 0x00, 0x00, 0xFC]);
    }

    #[test]
    fn mse_set_matches_belpic_layout() {
        assert_eq!(
            mse_set_signature(0x08, 0x83),
            vec![0x00, 0x22, 0x41, 0xB6, 0x04, 0x80, 0x08, 0x84, 0x83]
        );
    }

    #[test]
    fn with_le_replaces_case_2_le() {
        assert_eq!(with_le(read_binary(0, 252), 0x10)[4], 0x10);
    }

    #[test]
    fn with_le_appends_to_case_3() {
        let command = compute_digital_signature(&[1, 2, 3]);
        let corrected = with_le(command.clone(), 0x60);
        assert_eq!(corrected.len(), command.len() + 1);
        assert_eq!(corrected.last(), Some(&0x60));
    }

    #[test]
    fn response_splits_status_word() {
        let response = Response::from_bytes(&[0xAA, 0x90, 0x00]).unwrap();
        assert_eq!(response.data, vec![0xAA]);
        assert_eq!(response.sw, SW_OK);
        assert!(Response::from_bytes(&[0x90]).is_err());
    }
}
