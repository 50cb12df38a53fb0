//! SOAP 1.1 faults of the eHealth platform and their `err:BusinessError` / `err:SystemError`
//! detail (Origin, Code, Message, Retry, Environment).

use roxmltree::{Document, Node};

/// The namespace of the platform's fault details.
pub const ERRORS_NS: &str = "urn:be:fgov:ehealth:errors:soa:v1";

/// Kind of detail element the platform sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `err:BusinessError`: the request was understood and refused (8xx codes).
    Business,
    /// `err:SystemError`: the platform failed or rejected the call technically (SOA-xxxxx).
    System,
    /// A fault without an eHealth detail (for example from a proxy or an older service).
    Plain,
}

/// A SOAP fault as the platform sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformFault {
    pub faultcode: String,
    pub faultstring: String,
    pub kind: FaultKind,
    /// The platform code, e.g. `SOA-02001` or `810`; absent in a plain fault.
    pub code: Option<String>,
    /// The first `Message` of the detail, else the faultstring.
    pub message: String,
    /// `Client` or `Server`.
    pub origin: Option<String>,
    /// The platform's own advice on retrying.
    pub retry: Option<bool>,
    /// The detail's `Id`: the ticket to quote to eHealth support.
    pub ticket: Option<String>,
    /// `Production`, `Acceptation`, `Simulation`, ...
    pub environment: Option<String>,
}

impl PlatformFault {
    /// Returns the code, or `faultcode` when the fault has no eHealth detail.
    pub fn code_or_faultcode(&self) -> &str {
        self.code.as_deref().unwrap_or(&self.faultcode)
    }
}

impl std::fmt::Display for PlatformFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} \"{}\"", self.code_or_faultcode(), self.message)?;
        if let Some(ticket) = &self.ticket {
            write!(f, " (ticket {ticket})")?;
        }
        Ok(())
    }
}

/// Returns the fault of a SOAP 1.1 envelope, or `None` when its Body contains no `Fault`.
pub fn parse_fault(document: &Document<'_>) -> Option<PlatformFault> {
    let fault = document.descendants().find(|node| {
        node.is_element()
            && node.tag_name().name() == "Fault"
            && node
                .parent_element()
                .is_some_and(|parent| parent.tag_name().name() == "Body")
    })?;

    let faultcode = child_text(fault, "faultcode").unwrap_or_default();
    let faultstring = child_text(fault, "faultstring").unwrap_or_default();
    let detail = child(fault, "detail").and_then(|detail| {
        detail.children().find(|node| {
            node.is_element()
                && node.tag_name().namespace() == Some(ERRORS_NS)
                && matches!(node.tag_name().name(), "BusinessError" | "SystemError")
        })
    });

    let Some(detail) = detail else {
        return Some(PlatformFault {
            message: faultstring.clone(),
            faultcode,
            faultstring,
            kind: FaultKind::Plain,
            code: None,
            origin: None,
            retry: None,
            ticket: None,
            environment: None,
        });
    };
    let kind = if detail.tag_name().name() == "BusinessError" {
        FaultKind::Business
    } else {
        FaultKind::System
    };
    Some(PlatformFault {
        message: child_text(detail, "Message").unwrap_or_else(|| faultstring.clone()),
        faultcode,
        faultstring,
        kind,
        code: child_text(detail, "Code"),
        origin: child_text(detail, "Origin"),
        retry: child_text(detail, "Retry").map(|value| value == "true" || value == "1"),
        ticket: detail.attribute("Id").map(str::to_owned),
        environment: child_text(detail, "Environment"),
    })
}

fn child<'a, 'input>(parent: Node<'a, 'input>, local_name: &str) -> Option<Node<'a, 'input>> {
    parent
        .children()
        .find(|node| node.is_element() && node.tag_name().name() == local_name)
}

fn child_text(parent: Node<'_, '_>, local_name: &str) -> Option<String> {
    let node = child(parent, local_name)?;
    let text: String = node
        .children()
        .filter(|child| child.is_text())
        .filter_map(|child| child.text())
        .collect();
    Some(text.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSTEM_FAULT: &str = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>Service not available</faultstring><detail><err:SystemError xmlns:err="urn:be:fgov:ehealth:errors:soa:v1" Id="SIM-00000007"><Origin>Server</Origin><Code>SOA-02001</Code><Message xml:lang="en">Service not available. Please contact your system administrator</Message><Retry>true</Retry><err:Environment>Production</err:Environment></err:SystemError></detail></soap:Fault></soap:Body></soap:Envelope>"#;

    #[test]
    fn system_fault_detail_is_read() {
        let document = Document::parse(SYSTEM_FAULT).unwrap();
        let fault = parse_fault(&document).unwrap();
        assert_eq!(fault.kind, FaultKind::System);
        assert_eq!(fault.code.as_deref(), Some("SOA-02001"));
        assert_eq!(fault.faultcode, "soap:Server");
        assert_eq!(fault.origin.as_deref(), Some("Server"));
        assert_eq!(fault.retry, Some(true));
        assert_eq!(fault.ticket.as_deref(), Some("SIM-00000007"));
        assert_eq!(fault.environment.as_deref(), Some("Production"));
        assert_eq!(
            fault.message,
            "Service not available. Please contact your system administrator"
        );
        assert_eq!(
            fault.to_string(),
            "SOA-02001 \"Service not available. Please contact your system administrator\" \
             (ticket SIM-00000007)"
        );
    }

    #[test]
    fn business_fault_detail_is_read() {
        let xml = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>no access</faultstring><detail><e:BusinessError xmlns:e="urn:be:fgov:ehealth:errors:soa:v1"><Origin>Client</Origin><Code>810</Code><Message>BoxId invalid</Message></e:BusinessError></detail></s:Fault></s:Body></s:Envelope>"#;
        let fault = parse_fault(&Document::parse(xml).unwrap()).unwrap();
        assert_eq!(fault.kind, FaultKind::Business);
        assert_eq!(fault.code.as_deref(), Some("810"));
        assert_eq!(fault.retry, None);
        assert_eq!(fault.ticket, None);
    }

    #[test]
    fn plain_fault_keeps_faultstring() {
        let xml = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>Internal Error</faultstring></s:Fault></s:Body></s:Envelope>"#;
        let fault = parse_fault(&Document::parse(xml).unwrap()).unwrap();
        assert_eq!(fault.kind, FaultKind::Plain);
        assert_eq!(fault.code, None);
        assert_eq!(fault.code_or_faultcode(), "s:Server");
        assert_eq!(fault.message, "Internal Error");
    }

    #[test]
    fn body_without_fault_is_none() {
        let xml = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x:R xmlns:x="urn:x"/></s:Body></s:Envelope>"#;
        assert_eq!(parse_fault(&Document::parse(xml).unwrap()), None);
    }
}
