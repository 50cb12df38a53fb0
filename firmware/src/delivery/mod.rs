//! Delivery to the SMB share folder.
