//! The virtual card at the APDU level and over the vpcd wire protocol, against a stand-in vpcd
//! server on 127.0.0.1.

// Test helpers panic on setup failures, like the tests themselves.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use virtual_eid::card::{ATR_OTHER_CARD, ATR_V1_7, ATR_V1_8, INTERNAL_AUTHENTICATE_LIMIT};
use virtual_eid::{Applet, CardProfile, Reply, VirtualCard, VpcdConnection};

const APPLET_AID: [u8; 15] = [
    0xA0, 0x00, 0x00, 0x00, 0x30, 0x29, 0x05, 0x70, 0x00, 0xAD, 0x13, 0x10, 0x01, 0x01, 0xFF,
];

fn card(applet: Applet) -> VirtualCard {
    VirtualCard::new(&CardProfile::new(applet)).unwrap()
}

fn send(card: &mut VirtualCard, command: &[u8]) -> (Vec<u8>, u16) {
    let Reply::Response(mut bytes) = card.process(command) else {
        panic!("card removed");
    };
    let sw = bytes.split_off(bytes.len() - 2);
    (bytes, u16::from_be_bytes([sw[0], sw[1]]))
}

fn select_applet(card: &mut VirtualCard) {
    let mut command = vec![0x00, 0xA4, 0x04, 0x0C, 0x0F];
    command.extend_from_slice(&APPLET_AID);
    assert_eq!(send(card, &command).1, 0x9000);
}

/// PIN 1234 as a format-2 block in a VERIFY command.
const VERIFY_1234: [u8; 13] = [
    0x00, 0x20, 0x00, 0x01, 0x08, 0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
];
const MSE_SET_NON_REPUDIATION_SHA256: [u8; 9] =
    [0x00, 0x22, 0x41, 0xB6, 0x04, 0x80, 0x08, 0x84, 0x83];

fn pso(hash_length: usize) -> Vec<u8> {
    let mut command = vec![0x00, 0x2A, 0x9E, 0x9A, hash_length as u8];
    command.extend(std::iter::repeat_n(0x5A, hash_length));
    command
}

#[test]
fn atrs_per_card_kind() {
    assert_eq!(card(Applet::V1_7).atr(), ATR_V1_7.to_vec());
    assert_eq!(card(Applet::V1_8).atr(), ATR_V1_8.to_vec());
    assert_eq!(VirtualCard::not_an_eid().atr(), ATR_OTHER_CARD.to_vec());
}

#[test]
fn select_accepts_three_path_styles() {
    let mut card = card(Applet::V1_8);
    select_applet(&mut card);
    let with_mf = [
        0x00, 0xA4, 0x08, 0x0C, 0x06, 0x3F, 0x00, 0xDF, 0x01, 0x40, 0x31,
    ];
    let without_mf = [0x00, 0xA4, 0x08, 0x0C, 0x04, 0xDF, 0x01, 0x40, 0x31];
    assert_eq!(send(&mut card, &with_mf).1, 0x9000);
    assert_eq!(send(&mut card, &without_mf).1, 0x9000);
    for fid in [[0x3F, 0x00], [0xDF, 0x01], [0x40, 0x31]] {
        let command = [0x00, 0xA4, 0x02, 0x0C, 0x02, fid[0], fid[1]];
        assert_eq!(send(&mut card, &command).1, 0x9000, "{fid:02X?}");
    }
    assert_eq!(
        send(&mut card, &[0x00, 0xB0, 0x00, 0x00, 0x02]).0,
        vec![0x00, 0x02]
    );
    let missing = [0x00, 0xA4, 0x08, 0x0C, 0x04, 0xDF, 0x01, 0x49, 0x99];
    assert_eq!(send(&mut card, &missing).1, 0x6A82);
}

#[test]
fn read_binary_corrects_le_and_ends_with_6b00() {
    let mut card = card(Applet::V1_7);
    select_applet(&mut card);
    let select_address = [
        0x00, 0xA4, 0x08, 0x0C, 0x06, 0x3F, 0x00, 0xDF, 0x01, 0x40, 0x33,
    ];
    assert_eq!(send(&mut card, &select_address).1, 0x9000);

    // The address file is 117 bytes.
    assert_eq!(send(&mut card, &[0x00, 0xB0, 0x00, 0x00, 0x00]).1, 0x6C75);
    let (data, sw) = send(&mut card, &[0x00, 0xB0, 0x00, 0x00, 0x75]);
    assert_eq!((data.len(), sw), (117, 0x9000));
    assert_eq!(send(&mut card, &[0x00, 0xB0, 0x00, 0x75, 0x01]).1, 0x6B00);
}

#[test]
fn read_binary_needs_a_file() {
    let mut card = card(Applet::V1_8);
    select_applet(&mut card);
    assert_eq!(send(&mut card, &[0x00, 0xB0, 0x00, 0x00, 0x10]).1, 0x6986);
}

#[test]
fn get_card_data_per_applet() {
    let mut v17 = card(Applet::V1_7);
    let (data, sw) = send(&mut v17, &[0x80, 0xE4, 0x00, 0x00, 0x1C]);
    assert_eq!((data.len(), sw, data[21]), (28, 0x9000, 0x17));
    assert_eq!(send(&mut v17, &[0x80, 0xE4, 0x00, 0x01, 0x1F]).1, 0x6A86);

    let mut v18 = card(Applet::V1_8);
    assert_eq!(send(&mut v18, &[0x80, 0xE4, 0x00, 0x00, 0x00]).1, 0x6C1C);
    let (data, sw) = send(&mut v18, &[0x80, 0xE4, 0x00, 0x01, 0x1F]);
    assert_eq!((data.len(), sw, data[21], data[28]), (31, 0x9000, 0x18, 3));
}

#[test]
fn empty_verify_uses_no_try() {
    let mut card = card(Applet::V1_7);
    assert_eq!(send(&mut card, &[0x00, 0x20, 0x00, 0x01]).1, 0x63C3);
    assert_eq!(card.tries_left(), 3);
    assert_eq!(send(&mut card, &VERIFY_1234).1, 0x9000);
    assert_eq!(send(&mut card, &[0x00, 0x20, 0x00, 0x01]).1, 0x9000);
}

#[test]
fn signature_comes_through_get_response() {
    let mut card = card(Applet::V1_7);
    assert_eq!(send(&mut card, &MSE_SET_NON_REPUDIATION_SHA256).1, 0x9000);
    assert_eq!(send(&mut card, &VERIFY_1234).1, 0x9000);
    // RSA-2048: 256 bytes pending, announced as 6100.
    assert_eq!(send(&mut card, &pso(32)).1, 0x6100);
    assert_eq!(
        send(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x10]).1,
        0x6100 | 0xF0
    );
    let (rest, sw) = send(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0xF0]);
    assert_eq!((rest.len(), sw), (240, 0x9000));
}

#[test]
fn get_response_corrects_le() {
    let mut card = card(Applet::V1_8);
    send(
        &mut card,
        &[0x00, 0x22, 0x41, 0xB6, 0x04, 0x80, 0x02, 0x84, 0x83],
    );
    send(&mut card, &VERIFY_1234);
    assert_eq!(send(&mut card, &pso(48)).1, 0x6160);
    assert_eq!(send(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x00]).1, 0x6C60);
    let (signature, sw) = send(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x60]);
    assert_eq!((signature.len(), sw), (96, 0x9000));
}

#[test]
fn non_repudiation_needs_verify_just_before() {
    // Applet 1.7: nothing may come between VERIFY and the signature.
    let mut v17 = card(Applet::V1_7);
    send(&mut v17, &VERIFY_1234);
    send(&mut v17, &MSE_SET_NON_REPUDIATION_SHA256);
    assert_eq!(send(&mut v17, &pso(32)).1, 0x6982);

    // Applet 1.8: one command may come between, two may not.
    let mse_sha384 = [0x00, 0x22, 0x41, 0xB6, 0x04, 0x80, 0x02, 0x84, 0x83];
    let mut v18 = card(Applet::V1_8);
    send(&mut v18, &VERIFY_1234);
    send(&mut v18, &mse_sha384);
    assert_eq!(send(&mut v18, &pso(48)).1, 0x6160);
    send(&mut v18, &VERIFY_1234);
    send(&mut v18, &mse_sha384);
    send(&mut v18, &[0x80, 0xE4, 0x00, 0x00, 0x1C]);
    assert_eq!(send(&mut v18, &pso(48)).1, 0x6982);
}

#[test]
fn one_verify_one_signature() {
    let mut card = card(Applet::V1_7);
    send(&mut card, &MSE_SET_NON_REPUDIATION_SHA256);
    send(&mut card, &VERIFY_1234);
    assert_eq!(send(&mut card, &pso(32)).1, 0x6100);
    assert_eq!(send(&mut card, &pso(32)).1, 0x6982);
}

#[test]
fn signature_checks_length_and_environment() {
    let mut card = card(Applet::V1_7);
    send(&mut card, &VERIFY_1234);
    assert_eq!(send(&mut card, &pso(32)).1, 0x6985);
    send(&mut card, &MSE_SET_NON_REPUDIATION_SHA256);
    send(&mut card, &VERIFY_1234);
    assert_eq!(send(&mut card, &pso(20)).1, 0x6700);
}

/// INTERNAL AUTHENTICATE with the basic key (81), ECDSA SHA-384 (02), over a 48-byte challenge.
fn internal_authenticate(challenge: &[u8; 48]) -> Vec<u8> {
    let mut command = vec![0x00, 0x88, 0x02, 0x81, 0x32, 0x94, 0x30];
    command.extend_from_slice(challenge);
    command
}

#[test]
fn internal_authenticate_signs_with_basic_key() {
    use p384::ecdsa::signature::hazmat::PrehashVerifier as _;
    use spki::DecodePublicKey as _;

    let mut card = card(Applet::V1_8);
    select_applet(&mut card);
    let challenge = [0x3C; 48];
    assert_eq!(
        send(&mut card, &internal_authenticate(&challenge)),
        (Vec::new(), 0x6160)
    );
    let (raw, sw) = send(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x60]);
    assert_eq!(sw, 0x9000);

    let key_file = card.image().unwrap().files[&[0xDF01, 0x4040]].clone();
    let key = p384::ecdsa::VerifyingKey::from_public_key_der(&key_file).unwrap();
    let signature = p384::ecdsa::Signature::from_slice(&raw).unwrap();
    key.verify_prehash(&challenge, &signature).unwrap();
    assert_eq!(card.tries_left(), 3, "no PIN involved");
}

#[test]
fn internal_authenticate_clears_environment() {
    let mut card = card(Applet::V1_8);
    send(
        &mut card,
        &[0x00, 0x22, 0x41, 0xB6, 0x04, 0x80, 0x02, 0x84, 0x83],
    );
    send(&mut card, &internal_authenticate(&[1; 48]));
    send(&mut card, &VERIFY_1234);
    assert_eq!(send(&mut card, &pso(48)).1, 0x6985, "MSE SET is gone");
}

#[test]
fn internal_authenticate_rejections() {
    let mut v17 = card(Applet::V1_7);
    assert_eq!(
        send(&mut v17, &internal_authenticate(&[1; 48])).1,
        0x6A88,
        "no basic key"
    );

    let mut card = card(Applet::V1_8);
    let mut other_key = internal_authenticate(&[1; 48]);
    other_key[3] = 0x82;
    assert_eq!(send(&mut card, &other_key).1, 0x6A88);
    let mut short = internal_authenticate(&[1; 48]);
    short[6] = 0x20;
    assert_eq!(
        send(&mut card, &short).1,
        0x6A80,
        "length byte differs from the data"
    );
    let no_tag = [0x00, 0x88, 0x02, 0x81, 0x02, 0x01, 0x02];
    assert_eq!(send(&mut card, &no_tag).1, 0x6A80);
}

#[test]
fn internal_authenticate_limit_until_verify() {
    let mut profile = CardProfile::new(Applet::V1_8);
    profile.internal_authentications = INTERNAL_AUTHENTICATE_LIMIT - 1;
    let mut card = VirtualCard::new(&profile).unwrap();

    assert_eq!(
        send(&mut card, &internal_authenticate(&[1; 48])).1,
        0x6160,
        "the last call before the limit"
    );
    assert_eq!(card.internal_authentications(), INTERNAL_AUTHENTICATE_LIMIT);
    assert_eq!(
        send(&mut card, &internal_authenticate(&[2; 48])).1,
        0x6982,
        "blocked at the limit"
    );

    card.power_off();
    card.reset();
    assert_eq!(
        send(&mut card, &internal_authenticate(&[3; 48])).1,
        0x6982,
        "power-off and reset keep the count"
    );

    assert_eq!(
        send(
            &mut card,
            &[
                0x00, 0x20, 0x00, 0x01, 0x08, 0x24, 0x99, 0x99, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF
            ]
        )
        .1,
        0x63C2
    );
    assert_eq!(
        send(&mut card, &internal_authenticate(&[4; 48])).1,
        0x6982,
        "a wrong PIN does not unblock"
    );

    assert_eq!(send(&mut card, &VERIFY_1234).1, 0x9000);
    assert_eq!(card.internal_authentications(), 0);
    assert_eq!(
        send(&mut card, &internal_authenticate(&[5; 48])).1,
        0x6160,
        "a successful VERIFY unblocks"
    );
}

#[test]
fn internal_authenticate_blocked_status_is_a_setting() {
    let mut profile = CardProfile::new(Applet::V1_8);
    profile.internal_authentications = INTERNAL_AUTHENTICATE_LIMIT;
    profile.internal_authenticate_blocked_sw = 0x6983;
    let mut card = VirtualCard::new(&profile).unwrap();

    assert_eq!(send(&mut card, &internal_authenticate(&[1; 48])).1, 0x6983);
}

#[test]
fn power_off_clears_security_state() {
    let mut card = card(Applet::V1_7);
    send(&mut card, &MSE_SET_NON_REPUDIATION_SHA256);
    send(&mut card, &VERIFY_1234);
    card.power_off();
    assert_eq!(send(&mut card, &pso(32)).1, 0x6985);
    assert_eq!(send(&mut card, &[0x00, 0x20, 0x00, 0x01]).1, 0x63C3);
}

#[test]
fn removal_knob_stops_answers() {
    let mut card = card(Applet::V1_8);
    card.remove_on(virtual_eid::Removal::OnInstruction(0xB0));
    select_applet(&mut card);
    assert_eq!(
        card.process(&[0x00, 0xB0, 0x00, 0x00, 0x10]),
        Reply::Removed
    );
    assert_eq!(
        card.process(&[0x80, 0xE4, 0x00, 0x00, 0x1C]),
        Reply::Removed
    );
    card.reinsert();
    select_applet(&mut card);
}

#[test]
fn unknown_instruction_and_class() {
    let mut card = card(Applet::V1_8);
    assert_eq!(send(&mut card, &[0x00, 0x84, 0x00, 0x00, 0x08]).1, 0x6D00);
    assert_eq!(send(&mut card, &[0xA0, 0xA4, 0x00, 0x00]).1, 0x6E00);
}

fn write_frame(stream: &mut TcpStream, body: &[u8]) {
    let mut frame = (body.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    stream.write_all(&frame).unwrap();
}

fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).unwrap();
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(header))];
    stream.read_exact(&mut body).unwrap();
    body
}

#[test]
fn vpcd_protocol_round_trip() {
    // The test plays vpcd: the server that speaks first.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let card = virtual_eid::shared(card(Applet::V1_8));
    let connection = VpcdConnection::connect(port, std::sync::Arc::clone(&card)).unwrap();
    let (mut vpcd, _) = listener.accept().unwrap();

    write_frame(&mut vpcd, &[0x04]);
    assert_eq!(read_frame(&mut vpcd), ATR_V1_8.to_vec());
    write_frame(&mut vpcd, &[0x01]);

    let mut select = vec![0x00, 0xA4, 0x04, 0x0C, 0x0F];
    select.extend_from_slice(&APPLET_AID);
    write_frame(&mut vpcd, &select);
    assert_eq!(read_frame(&mut vpcd), vec![0x90, 0x00]);

    write_frame(&mut vpcd, &VERIFY_1234);
    assert_eq!(read_frame(&mut vpcd), vec![0x90, 0x00]);
    write_frame(&mut vpcd, &[0x00, 0x20, 0x00, 0x01]);
    assert_eq!(read_frame(&mut vpcd), vec![0x90, 0x00]);

    // A reset clears the PIN state, as on a real card. The card sends no reply to it.
    write_frame(&mut vpcd, &[0x02]);
    write_frame(&mut vpcd, &[0x00, 0x20, 0x00, 0x01]);
    assert_eq!(read_frame(&mut vpcd), vec![0x63, 0xC3]);

    // The removal knob closes the connection instead of replying.
    card.lock()
        .unwrap()
        .remove_on(virtual_eid::Removal::OnInstruction(0xB0));
    write_frame(&mut vpcd, &[0x00, 0xB0, 0x00, 0x00, 0x10]);
    let mut byte = [0u8; 1];
    assert_eq!(vpcd.read(&mut byte).unwrap(), 0);
    connection.wait().unwrap();
}

#[test]
fn vpcd_connect_refused_without_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let card = virtual_eid::shared(card(Applet::V1_7));
    let error = VpcdConnection::connect(port, card).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
}
