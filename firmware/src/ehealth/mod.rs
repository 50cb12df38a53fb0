//! The eHealth platform client of the box: the doctor's keystore and the end-to-end
//! encryption of eHealthBox messages.

mod ber;
pub mod certificate;
pub mod keystore;
mod signature;
pub mod unseal;
