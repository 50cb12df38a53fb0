//! Failures of eHealth calls, classified by the action they call for.
//!
//! Every platform fault, HTTP status and connection problem is mapped here, at the boundary, to
//! one [`EhealthError`] variant that names the action:
//! - [`EhealthError::RetryLater`]: SOA-00001, SOA-02001, SOA-02002, HTTP 5xx without a SOAP
//!   body, connection failures and timeouts. The call may work a little later.
//! - [`EhealthError::RenewToken`]: SOA-01001. The token (or the request signature) was not
//!   accepted: drop the token, request a new one and retry once.
//! - [`EhealthError::AlertDoctor`]: SOA-01002, the box-not-accessible code (810), an expired
//!   certificate, a token without the doctor quality. Retrying does not help; a person must act.
//! - [`EhealthError::BugInRequest`]: SOA-03xxx and other refusals of the request itself. Not
//!   retried; the request is logged for a bug report.
//! - [`EhealthError::MalformedReply`]: a reply that cannot be read or lacks a required
//!   element, named in the message.

use super::clock::ClockError;
use super::endpoints::BusinessCodes;
use super::transport::{FaultKind, PlatformFault, TransportError};

/// An eHealth call that failed, classified by what to do next.
#[derive(Debug, thiserror::Error)]
pub enum EhealthError {
    #[error("{operation} failed temporarily: {reason}; the box tries again later")]
    RetryLater { operation: String, reason: String },

    #[error(
        "{operation} was not authenticated ({fault}); drop the token and request a new one, and if it repeats check the box's clock and the doctor's certificate"
    )]
    RenewToken {
        operation: String,
        fault: Box<PlatformFault>,
    },

    #[error("{operation} refused: {reason}")]
    AlertDoctor {
        operation: String,
        /// The platform code, when the platform sent one.
        code: Option<String>,
        /// The problem and the doctor's next step.
        reason: String,
    },

    #[error(
        "{operation} was rejected as a bad request ({code} \"{message}\"); this is a PracticeBox bug, report it with the logged request"
    )]
    BugInRequest {
        operation: String,
        code: String,
        message: String,
    },

    #[error(
        "the reply to {operation} is malformed: {detail} (element <{element}>); report it with the logged reply"
    )]
    MalformedReply {
        operation: String,
        element: String,
        detail: String,
    },

    #[error(transparent)]
    Clock(#[from] ClockError),

    #[error("cannot prepare {operation}: {detail}")]
    Request { operation: String, detail: String },
}

impl EhealthError {
    /// Returns the platform code behind the error (a SOA code or a business status code), if any.
    pub fn platform_code(&self) -> Option<&str> {
        match self {
            Self::RenewToken { fault, .. } => fault.code.as_deref(),
            Self::AlertDoctor { code, .. } => code.as_deref(),
            Self::BugInRequest { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Returns whether the same call may succeed if repeated after a pause.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RetryLater { .. })
    }

    /// Builds a [`EhealthError::MalformedReply`].
    pub fn malformed(operation: &str, element: &str, detail: impl Into<String>) -> Self {
        Self::MalformedReply {
            operation: operation.to_owned(),
            element: element.to_owned(),
            detail: detail.into(),
        }
    }
}

/// Maps a transport failure of `operation` to the action it calls for.
pub fn classify(operation: &str, error: TransportError, codes: &BusinessCodes) -> EhealthError {
    let operation_name = operation.to_owned();
    match error {
        TransportError::Fault { fault, status, .. } => {
            classify_fault(operation, *fault, status, codes)
        }
        TransportError::HttpStatus { status, url, .. } if status >= 500 => {
            EhealthError::RetryLater {
                operation: operation_name,
                reason: format!("{url} returned HTTP {status} without a SOAP body"),
            }
        }
        TransportError::HttpStatus { status, url, .. } => EhealthError::BugInRequest {
            operation: operation_name,
            code: format!("HTTP {status}"),
            message: format!("{url} rejected the request; check the endpoint URL"),
        },
        error @ (TransportError::Connection { .. } | TransportError::Timeout { .. }) => {
            EhealthError::RetryLater {
                operation: operation_name,
                reason: error.to_string(),
            }
        }
        TransportError::NotSoap { detail, .. } => {
            EhealthError::malformed(operation, "soap:Envelope", detail)
        }
        TransportError::Mime { source, .. } => {
            EhealthError::malformed(operation, "multipart/related", source.to_string())
        }
        error @ TransportError::TooLarge { .. } => {
            EhealthError::malformed(operation, "soap:Envelope", error.to_string())
        }
        TransportError::Setup(detail) => EhealthError::Request {
            operation: operation_name,
            detail,
        },
    }
}

/// Maps a SOAP fault to the action it calls for.
pub fn classify_fault(
    operation: &str,
    fault: PlatformFault,
    http_status: u16,
    codes: &BusinessCodes,
) -> EhealthError {
    let operation_name = operation.to_owned();
    let Some(code) = fault.code.clone() else {
        return classify_plain_fault(operation, fault, http_status);
    };

    match code.as_str() {
        "SOA-00001" | "SOA-02001" | "SOA-02002" => EhealthError::RetryLater {
            operation: operation_name,
            reason: format!("the platform answered {fault}"),
        },
        "SOA-01001" => EhealthError::RenewToken {
            operation: operation_name,
            fault: Box::new(fault),
        },
        "SOA-01002" => EhealthError::AlertDoctor {
            operation: operation_name,
            code: Some(code),
            reason: format!(
                "the platform answered {fault}: the token does not grant access; check that the doctor is recognised as a doctor by eHealth and that the designators are right"
            ),
        },
        _ if code.starts_with("SOA-03") => EhealthError::BugInRequest {
            operation: operation_name,
            code,
            message: fault.message,
        },
        _ => classify_code(
            operation,
            &code,
            &fault.message,
            fault.kind,
            fault.retry,
            codes,
        ),
    }
}

/// Maps a non-success `Status/Code` of a normal reply to the action it calls for.
pub fn classify_status(
    operation: &str,
    code: &str,
    message: &str,
    codes: &BusinessCodes,
) -> EhealthError {
    classify_code(operation, code, message, FaultKind::Business, None, codes)
}

fn classify_code(
    operation: &str,
    code: &str,
    message: &str,
    kind: FaultKind,
    retry: Option<bool>,
    codes: &BusinessCodes,
) -> EhealthError {
    if codes.box_not_accessible.iter().any(|known| known == code) {
        return EhealthError::AlertDoctor {
            operation: operation.to_owned(),
            code: Some(code.to_owned()),
            reason: format!(
                "code {code} \"{message}\": this eHealthBox is not accessible with the doctor's token; check the doctor's quality and mandate"
            ),
        };
    }
    if kind == FaultKind::System && retry == Some(true) {
        return EhealthError::RetryLater {
            operation: operation.to_owned(),
            reason: format!("the platform answered {code} \"{message}\" and advises a retry"),
        };
    }
    EhealthError::BugInRequest {
        operation: operation.to_owned(),
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

fn classify_plain_fault(operation: &str, fault: PlatformFault, http_status: u16) -> EhealthError {
    let server_side = fault.faultcode.ends_with("Server") || http_status >= 500;
    if server_side {
        return EhealthError::RetryLater {
            operation: operation.to_owned(),
            reason: format!("the platform answered {fault}"),
        };
    }
    EhealthError::BugInRequest {
        operation: operation.to_owned(),
        code: fault.faultcode.clone(),
        message: fault.message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(code: &str, kind: FaultKind, retry: Option<bool>) -> TransportError {
        TransportError::Fault {
            url: "https://x/ehBoxConsultation/v3".to_owned(),
            status: 500,
            fault: Box::new(PlatformFault {
                faultcode: "soap:Server".to_owned(),
                faultstring: "fault".to_owned(),
                kind,
                code: Some(code.to_owned()),
                message: "text".to_owned(),
                origin: None,
                retry,
                ticket: Some("T-1".to_owned()),
                environment: None,
            }),
        }
    }

    fn classify_code_of(code: &str, kind: FaultKind) -> EhealthError {
        classify(
            "getMessagesList",
            fault(code, kind, None),
            &BusinessCodes::default(),
        )
    }

    #[test]
    fn retry_codes_map_to_retry_later() {
        for code in ["SOA-00001", "SOA-02001", "SOA-02002"] {
            let error = classify_code_of(code, FaultKind::System);
            assert!(
                matches!(error, EhealthError::RetryLater { .. }),
                "{code}: {error:?}"
            );
            assert!(error.is_retryable());
            assert!(error.to_string().contains(code), "{error}");
        }
    }

    #[test]
    fn soa_01001_maps_to_renew_token() {
        let error = classify_code_of("SOA-01001", FaultKind::System);
        assert!(
            matches!(error, EhealthError::RenewToken { .. }),
            "{error:?}"
        );
        assert_eq!(error.platform_code(), Some("SOA-01001"));
        assert_eq!(
            error.to_string(),
            "getMessagesList was not authenticated (SOA-01001 \"text\" (ticket T-1)); drop the token \
             and request a new one, and if it repeats check the box's clock and the doctor's certificate"
        );
    }

    #[test]
    fn soa_01002_alerts_doctor() {
        let error = classify_code_of("SOA-01002", FaultKind::System);
        assert!(
            matches!(error, EhealthError::AlertDoctor { .. }),
            "{error:?}"
        );
        assert!(!error.is_retryable());
        assert!(
            error.to_string().contains("recognised as a doctor"),
            "{error}"
        );
    }

    #[test]
    fn code_810_alerts_doctor() {
        let error = classify_code_of("810", FaultKind::Business);
        assert!(
            matches!(error, EhealthError::AlertDoctor { .. }),
            "{error:?}"
        );
        assert_eq!(error.platform_code(), Some("810"));
    }

    #[test]
    fn soa_03xxx_is_bug_in_request() {
        for code in ["SOA-03001", "SOA-03006"] {
            let error = classify_code_of(code, FaultKind::System);
            assert!(
                matches!(error, EhealthError::BugInRequest { .. }),
                "{code}: {error:?}"
            );
            assert!(error.to_string().contains("PracticeBox bug"), "{error}");
        }
    }

    #[test]
    fn unknown_business_code_is_not_retried() {
        let error = classify_code_of("811", FaultKind::Business);
        assert!(
            matches!(error, EhealthError::BugInRequest { .. }),
            "{error:?}"
        );
        assert_eq!(error.platform_code(), Some("811"));
    }

    #[test]
    fn unknown_system_code_with_retry_flag_is_retried() {
        let error = classify(
            "getBoxInfo",
            fault("SOA-09999", FaultKind::System, Some(true)),
            &BusinessCodes::default(),
        );
        assert!(error.is_retryable(), "{error:?}");
    }

    #[test]
    fn http_and_connection_errors() {
        let codes = BusinessCodes::default();
        let http_503 = TransportError::HttpStatus {
            url: "https://x".to_owned(),
            status: 503,
            excerpt: String::new(),
        };
        assert!(classify("getBoxInfo", http_503, &codes).is_retryable());

        let http_404 = TransportError::HttpStatus {
            url: "https://x".to_owned(),
            status: 404,
            excerpt: String::new(),
        };
        let error = classify("getBoxInfo", http_404, &codes);
        assert!(
            matches!(error, EhealthError::BugInRequest { .. }),
            "{error:?}"
        );

        let dropped = TransportError::Connection {
            url: "https://x".to_owned(),
            detail: "connection closed before message completed".to_owned(),
        };
        assert!(classify("getBoxInfo", dropped, &codes).is_retryable());
        let timeout = TransportError::Timeout {
            url: "https://x".to_owned(),
        };
        assert!(classify("getBoxInfo", timeout, &codes).is_retryable());
    }

    #[test]
    fn not_soap_is_malformed_reply() {
        let error = classify(
            "getFullMessage",
            TransportError::NotSoap {
                url: "https://x".to_owned(),
                status: 200,
                detail: "unexpected end of stream".to_owned(),
            },
            &BusinessCodes::default(),
        );
        assert_eq!(
            error.to_string(),
            "the reply to getFullMessage is malformed: unexpected end of stream (element \
             <soap:Envelope>); report it with the logged reply"
        );
    }

    #[test]
    fn status_code_810_in_reply() {
        let error = classify_status("getBoxInfo", "810", "no access", &BusinessCodes::default());
        assert!(
            matches!(error, EhealthError::AlertDoctor { .. }),
            "{error:?}"
        );
    }
}
