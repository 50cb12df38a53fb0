//! The eHealth platform client of the box: the doctor's keystore and the end-to-end
//! encryption of eHealthBox messages, the STS token, the eHealthBox consultation client and
//! the HTTPS SOAP transport beneath them.

mod ber;
pub mod certificate;
pub mod clock;
pub mod ehbox;
pub mod endpoints;
pub mod errors;
pub mod fetch;
pub mod keystore;
mod signature;
pub mod sts;
pub mod transport;
pub mod unseal;
