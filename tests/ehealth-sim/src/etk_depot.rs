//! The ETK depot: `GetEtk` returns the encryption token (ETK) published for an identifier.
//!
//! The service is unauthenticated. Its schema is namespace-qualified throughout (every child is in
//! the `etk:` namespace), unlike eHealthBox, and its success status code is 200. The common
//! `core:Status` element is qualified, its `Code` and `Message` children are not.
//!
//! The depot holds one ETK per (identifier type, value, application id), built at start from the
//! test PKI: each doctor's newest encryption certificate, signed by the ETK-RA.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use quick_xml::escape::escape;

use crate::etk::{self, EtkError};
use crate::pki::TestPki;
use crate::soap::ETK_DEPOT_NS;
use crate::wire::{Fault, SoapReply};

/// Namespace of the commons 1.0 core types (`core:Status`).
pub const COMMONS_CORE_NS: &str = "urn:be:fgov:ehealth:commons:1_0:core";

/// The identifier type the ETK depot uses for a person's INSZ.
pub const SSIN_TYPE: &str = "SSIN";

/// Errors of building the depot.
#[derive(Debug, thiserror::Error)]
pub enum EtkDepotError {
    #[error("building the ETK of INSZ {ssin} failed: {source}")]
    Build { ssin: String, source: EtkError },
}

/// The key of one published ETK.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct EtkKey {
    identifier_type: String,
    value: String,
    /// Empty for the holder's default application.
    application_id: String,
}

/// The published ETKs.
#[derive(Debug, Default)]
pub struct EtkDepot {
    tokens: BTreeMap<EtkKey, Vec<u8>>,
}

/// One `etk:Identifier` of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identifier {
    identifier_type: String,
    value: String,
    application_id: Option<String>,
}

/// The answer to a search, before rendering.
#[derive(Debug, PartialEq, Eq)]
enum Lookup<'a> {
    Found(&'a [u8]),
    /// The holder has ETKs for several applications; the client must ask again with one of them.
    Matching(Vec<String>),
    NotFound,
}

impl EtkDepot {
    /// Publishes the current encryption certificate of every doctor of `pki`.
    pub fn from_pki(pki: &TestPki) -> Result<Self, EtkDepotError> {
        let mut depot = Self::default();
        let chain: Vec<_> = pki
            .ca_chain()
            .iter()
            .map(|ca| ca.certificate().clone())
            .collect();
        for doctor in &pki.doctors {
            let ssin = doctor.spec.ssin.clone();
            let token = etk::build_etk(
                doctor.current_encryption().certificate(),
                doctor.authentication.certificate(),
                &chain,
                pki.etk_ra.key(),
                pki.etk_ra.certificate(),
            )
            .map_err(|source| EtkDepotError::Build {
                ssin: ssin.clone(),
                source,
            })?;
            depot.publish(SSIN_TYPE, &ssin, "", token);
        }
        Ok(depot)
    }

    /// Publishes `token` for an identifier and application id (empty for the default one).
    pub fn publish(
        &mut self,
        identifier_type: &str,
        value: &str,
        application_id: &str,
        token: Vec<u8>,
    ) {
        let key = EtkKey {
            identifier_type: identifier_type.to_owned(),
            value: value.to_owned(),
            application_id: application_id.to_owned(),
        };
        self.tokens.insert(key, token);
    }

    /// Returns the ETK of an INSZ for its default application.
    pub fn etk_of_ssin(&self, ssin: &str) -> Option<&[u8]> {
        match self.lookup(SSIN_TYPE, ssin, None) {
            Lookup::Found(token) => Some(token),
            _ => None,
        }
    }

    /// Serves `GetEtk`: `request` is the `etk:GetEtkRequest` element.
    pub fn handle(&self, request: roxmltree::Node<'_, '_>) -> Result<SoapReply, Fault> {
        let identifier = parse_request(request)?;
        let lookup = self.lookup(
            &identifier.identifier_type,
            &identifier.value,
            identifier.application_id.as_deref(),
        );
        tracing::debug!(
            identifier_type = %identifier.identifier_type,
            value = %identifier.value,
            found = matches!(lookup, Lookup::Found(_)),
            "GetEtk"
        );
        Ok(SoapReply {
            body: render_response(&identifier, &lookup),
            attachments: Vec::new(),
        })
    }

    fn lookup(
        &self,
        identifier_type: &str,
        value: &str,
        application_id: Option<&str>,
    ) -> Lookup<'_> {
        let identifier_type = identifier_type.to_ascii_uppercase();
        if let Some(application_id) = application_id {
            let key = EtkKey {
                identifier_type,
                value: value.to_owned(),
                application_id: application_id.to_owned(),
            };
            return self
                .tokens
                .get(&key)
                .map_or(Lookup::NotFound, |token| Lookup::Found(token));
        }

        let mut matches: Vec<(&EtkKey, &Vec<u8>)> = self
            .tokens
            .iter()
            .filter(|(key, _)| key.identifier_type == identifier_type && key.value == value)
            .collect();
        match matches.len() {
            0 => Lookup::NotFound,
            1 => Lookup::Found(matches.remove(0).1),
            _ => Lookup::Matching(
                matches
                    .iter()
                    .map(|(key, _)| key.application_id.clone())
                    .collect(),
            ),
        }
    }
}

fn parse_request(request: roxmltree::Node<'_, '_>) -> Result<Identifier, Fault> {
    let criteria = etk_child(request, "SearchCriteria")
        .ok_or_else(|| invalid_request("GetEtkRequest has no etk:SearchCriteria"))?;
    let identifiers: Vec<_> = criteria
        .children()
        .filter(|node| node.has_tag_name((ETK_DEPOT_NS, "Identifier")))
        .collect();
    let identifier = match identifiers.as_slice() {
        [identifier] => *identifier,
        [] => return Err(invalid_request("etk:SearchCriteria has no etk:Identifier")),
        // TODO: the schema allows several identifiers per search, but the response carries one
        // ETK; how the depot answers such a search is not documented, so it is rejected.
        _ => {
            return Err(invalid_request(
                "the simulator accepts one etk:Identifier per GetEtk",
            ));
        }
    };

    let text_of = |name: &str| {
        etk_child(identifier, name).map(|node| node.text().unwrap_or("").trim().to_owned())
    };
    let identifier_type =
        text_of("Type").ok_or_else(|| invalid_request("etk:Identifier has no etk:Type"))?;
    let value =
        text_of("Value").ok_or_else(|| invalid_request("etk:Identifier has no etk:Value"))?;
    let application_id = text_of("ApplicationID").filter(|id| !id.is_empty());
    if identifier_type.is_empty() || value.is_empty() {
        return Err(invalid_request("etk:Type and etk:Value must not be empty"));
    }
    Ok(Identifier {
        identifier_type,
        value,
        application_id,
    })
}

fn etk_child<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'input>> {
    node.children()
        .find(|child| child.has_tag_name((ETK_DEPOT_NS, name)))
}

/// SOA-03006: the request does not follow the schema.
fn invalid_request(detail: &str) -> Fault {
    Fault::system(
        "SOA-03006",
        format!("invalid GetEtk request: {detail}"),
        false,
    )
}

fn render_response(identifier: &Identifier, lookup: &Lookup<'_>) -> String {
    let mut body = format!(
        "<etk:GetEtkResponse xmlns:etk=\"{ETK_DEPOT_NS}\" xmlns:core=\"{COMMONS_CORE_NS}\">\
         <core:Status><Code>200</Code><Message Lang=\"EN\">Request processed successfully</Message>\
         </core:Status><etk:GivenSearchCriteria>{}</etk:GivenSearchCriteria>",
        render_identifier(identifier, identifier.application_id.as_deref())
    );
    match lookup {
        Lookup::Found(token) => {
            body.push_str(&format!("<etk:ETK>{}</etk:ETK>", BASE64.encode(token)));
        }
        Lookup::Matching(application_ids) => {
            body.push_str("<etk:MatchingEtk>");
            for application_id in application_ids {
                body.push_str(&render_identifier(identifier, Some(application_id)));
            }
            body.push_str("</etk:MatchingEtk>");
        }
        // TODO: the depot's error codes are not public; the schema only gives Error{Code,Message}
        // under a normal status. Adjust the code once a real "not found" answer is captured.
        Lookup::NotFound => body.push_str(&format!(
            "<etk:Error><etk:Code>NOT_FOUND</etk:Code><etk:Message>no ETK is published for {} {}\
             </etk:Message></etk:Error>",
            escape(identifier.identifier_type.as_str()),
            escape(identifier.value.as_str())
        )),
    }
    body.push_str("</etk:GetEtkResponse>");
    body
}

fn render_identifier(identifier: &Identifier, application_id: Option<&str>) -> String {
    format!(
        "<etk:Identifier><etk:Type>{}</etk:Type><etk:Value>{}</etk:Value>\
         <etk:ApplicationID>{}</etk:ApplicationID></etk:Identifier>",
        escape(identifier.identifier_type.as_str()),
        escape(identifier.value.as_str()),
        escape(application_id.unwrap_or(""))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(type_value: &str, value: &str, application: Option<&str>) -> String {
        let application = application
            .map(|id| format!("<etk:ApplicationID>{id}</etk:ApplicationID>"))
            .unwrap_or_default();
        format!(
            "<etk:GetEtkRequest xmlns:etk=\"{ETK_DEPOT_NS}\"><etk:SearchCriteria><etk:Identifier>\
             <etk:Type>{type_value}</etk:Type><etk:Value>{value}</etk:Value>{application}\
             </etk:Identifier></etk:SearchCriteria></etk:GetEtkRequest>"
        )
    }

    fn serve(depot: &EtkDepot, xml: &str) -> Result<String, Fault> {
        let document = roxmltree::Document::parse(xml).expect("well-formed request");
        depot
            .handle(document.root_element())
            .map(|reply| reply.body)
    }

    fn depot() -> EtkDepot {
        let mut depot = EtkDepot::default();
        depot.publish("SSIN", "78031414210", "", b"token-1".to_vec());
        depot.publish("CBE", "0123456789", "", b"cbe-default".to_vec());
        depot.publish("CBE", "0123456789", "MYAPP", b"cbe-myapp".to_vec());
        depot
    }

    #[test]
    fn known_ssin_returns_etk() {
        let body = serve(&depot(), &request("SSIN", "78031414210", Some(""))).expect("reply");
        let document = roxmltree::Document::parse(&body).expect("well-formed reply");
        let etk = document
            .descendants()
            .find(|node| node.has_tag_name((ETK_DEPOT_NS, "ETK")))
            .and_then(|node| node.text());
        assert_eq!(etk, Some(BASE64.encode(b"token-1").as_str()));
        let code = document
            .descendants()
            .find(|node| node.has_tag_name((COMMONS_CORE_NS, "Status")))
            .and_then(|status| status.children().find(|node| node.has_tag_name("Code")))
            .and_then(|node| node.text());
        assert_eq!(code, Some("200"));
    }

    #[test]
    fn unknown_ssin_returns_error() {
        let body = serve(&depot(), &request("SSIN", "00000000097", None)).expect("reply");
        assert!(
            body.contains("<etk:Error><etk:Code>NOT_FOUND</etk:Code>"),
            "{body}"
        );
        assert!(!body.contains("<etk:ETK>"), "{body}");
    }

    #[test]
    fn several_applications_return_matching() {
        let body = serve(&depot(), &request("CBE", "0123456789", None)).expect("reply");
        assert!(body.contains("<etk:MatchingEtk>"), "{body}");
        assert!(
            body.contains("<etk:ApplicationID>MYAPP</etk:ApplicationID>"),
            "{body}"
        );

        let body = serve(&depot(), &request("CBE", "0123456789", Some("MYAPP"))).expect("reply");
        assert!(body.contains(&BASE64.encode(b"cbe-myapp")), "{body}");
    }

    #[test]
    fn missing_criteria_is_schema_fault() {
        let xml = format!("<etk:GetEtkRequest xmlns:etk=\"{ETK_DEPOT_NS}\"/>");
        let fault = serve(&depot(), &xml).expect_err("no SearchCriteria");
        assert_eq!(fault.code, "SOA-03006");
        assert!(
            fault.message.contains("SearchCriteria"),
            "{}",
            fault.message
        );
    }
}
