//! A strict stand-in of the eHealth platform for tests and the demo.
//!
//! It speaks the same wire protocol as the real services (SOAP 1.1 over HTTP and HTTPS on loopback:
//! the I.AM STS, eHealthBox consultation and publication v3, the ETK depot) and checks what the real
//! platform checks: WS-Security signatures, timestamps, SAML holder-of-key tokens and certificates.
//!
//! # Layout
//! - [`clock`]: the simulator's controllable clock.
//! - [`wire`]: what an operation handler returns: a SOAP reply with attachments, or a platform fault.
//! - [`caller`]: the authenticated identity behind a request, taken from a verified token.
//! - [`soap`]: SOAP 1.1 envelope parsing, dispatch and rendering of replies and faults.
//! - [`knobs`]: deterministic fault injection, latency and wire-format settings.
//! - [`request_log`]: the bounded log of served requests.
//! - [`replay`]: the cache of accepted signatures that rejects replayed requests.
//! - [`pki`]: the test PKI (CAs, STS, ETK-RA, TLS, doctors' keystores), deterministic from a seed.
//! - [`ehbox`]: the eHealthBox platform state and the consultation and publication operations.
//! - [`mail`]: realistic Belgian practice mail (Medidoc, HealthOne, KMEHR, PDF) to fill the boxes.
//! - [`sts`]: the I.AM STS, issuing SAML 1.1 holder-of-key assertions over WS-Trust.
//! - [`security`]: the token and signature checks on every eHealthBox and publication call.
//! - [`etk`], [`seal`], [`ber`]: ETKs and sealed (end-to-end encrypted) messages.
//! - [`etk_depot`]: the ETK depot service.
//! - [`seed`]: filling doctors' boxes with realistic sealed mail.
//! - [`server`]: the running simulator (HTTPS, HTTP and admin listeners).
//! - [`admin`]: the admin JSON API.
//! - [`send`]: sending one sealed message through the publication service.
//! - [`peer`]: a signed-request client of the simulator, for its tests and its `send` command.
#![forbid(unsafe_code)]

pub mod admin;
pub mod ber;
pub mod caller;
pub mod clock;
pub mod ehbox;
pub mod etk;
pub mod etk_depot;
pub mod knobs;
pub mod mail;
pub mod peer;
pub mod pki;
pub mod replay;
pub mod request_log;
pub mod seal;
pub mod security;
pub mod seed;
pub mod send;
pub mod server;
pub mod soap;
pub mod sts;
pub mod wire;
