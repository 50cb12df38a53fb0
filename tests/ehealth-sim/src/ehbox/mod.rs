//! The eHealthBox platform: box state and the consultation and publication v3 operations, as pure
//! Rust over parsed XML.
//!
//! This module owns what happens inside the platform once a request is authenticated. It does not
//! own HTTP, the SOAP envelope, WS-Security or MIME packaging: the transport hands over a verified
//! [`Caller`](crate::caller::Caller) and the request element of the SOAP Body, and gets back a
//! [`SoapReply`](crate::wire::SoapReply) (response element plus binary parts) or a
//! [`Fault`](crate::wire::Fault).
//!
//! # XML
//! The eHealthBox v3 schemas are `elementFormDefault="unqualified"`: only the request and response
//! elements are in the service namespace, every child is in no namespace. Responses are emitted
//! exactly so, as `<ns:XxxResponse xmlns:ns="…">` with unprefixed children. Requests are read
//! leniently: children are matched by local name, whatever their namespace.
//!
//! # Layout
//! - [`model`]: box keys, folders, messages.
//! - [`platform`]: [`Platform`], the state, its admin methods and the lifecycle job.
//! - [`consultation`]: [`handle_consultation`], its options, box access, getBoxInfo; the
//!   operations are in `listing` (message lists), `full_message` and `folders` (move, delete,
//!   history).
//! - [`publication`]: [`handle_publication`] for sendMessage, with request reading and validation
//!   in `publication_request`.

pub mod consultation;
mod folders;
mod full_message;
mod listing;
pub mod model;
pub mod platform;
pub mod publication;
mod publication_request;
mod render;
mod xml;

#[cfg(test)]
mod tests;

pub use consultation::{
    BinaryMode, BusinessErrorStyle, CONSULTATION_NS, ConsultationCodes, ConsultationOptions,
    PartialFailureStyle, handle_consultation,
};
pub use full_message::XOP_NS;
pub use model::{
    AckType, Acknowledgment, Annex, BoxKey, ContentType, Destination, Document, ErrorContent,
    Folder, FreeInformation, Mandate, Message, MetaEntry, NewMessage, Receipts, Sender, User,
};
pub use platform::{
    BoxSettings, BoxState, DeliveryReport, EntryState, Placement, Platform, PlatformConfig,
    PlatformError, RemovedMessage,
};
pub use publication::{PUBLICATION_NS, PublicationCodes, PublicationOptions, handle_publication};
pub use publication_request::{KNOWN_QUALITIES, KNOWN_SUB_TYPES};
