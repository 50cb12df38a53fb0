//! What an operation handler hands back to the SOAP transport: a reply or a platform fault.
//!
//! Handlers never write HTTP or the SOAP envelope themselves. They return the response element of
//! the SOAP Body ([`SoapReply::body`]) plus any binary parts, and the transport decides whether to
//! send them inline, as swaRef MIME parts or as MTOM/XOP.

/// A successful operation result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoapReply {
    /// The response element (for example `<ns:GetMessagesListResponse ...>`), serialised XML with
    /// its own namespace declarations, placed as the only child of `soap:Body`.
    pub body: String,
    /// Binary parts that `body` refers to by `cid:` URIs.
    pub attachments: Vec<Attachment>,
}

/// A MIME part referred to from the SOAP body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The `Content-ID` without angle brackets; the body refers to it as `cid:<content_id>`.
    pub content_id: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Whether a platform fault is the caller's fault or the platform's, as in the eHealth error schema
/// (`err:BusinessError` or `err:SystemError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    Business,
    System,
}

/// A SOAP fault in the shape the eHealth platform sends: `faultcode`, `faultstring`, and a detail
/// element carrying `Origin`, `Code`, `Message` and `Retry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    /// A platform code such as `SOA-01001`, or an eHealthBox business code such as `810`.
    pub code: String,
    /// English message for the `Message` element and `faultstring`.
    pub message: String,
    /// Whether the platform tells the client that retrying may help.
    pub retry: bool,
}

impl Fault {
    /// Creates a business fault (the request cannot succeed as sent).
    pub fn business(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: FaultKind::Business,
            code: code.into(),
            message: message.into(),
            retry: false,
        }
    }

    /// Creates a system fault (the platform could not serve the request).
    pub fn system(code: impl Into<String>, message: impl Into<String>, retry: bool) -> Self {
        Self {
            kind: FaultKind::System,
            code: code.into(),
            message: message.into(),
            retry,
        }
    }

    /// SOA-01001: the call is not authenticated (bad or expired token, bad signature or timestamp).
    pub fn not_authenticated(detail: impl Into<String>) -> Self {
        Self::system("SOA-01001", detail, false)
    }

    /// SOA-01002: the caller is authenticated but not authorised for this call.
    pub fn not_authorised(detail: impl Into<String>) -> Self {
        Self::system("SOA-01002", detail, false)
    }
}
