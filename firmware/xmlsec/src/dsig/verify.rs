//! Verification of a `ds:Signature` against an RSA public key.

use roxmltree::{Document, Node};

use super::{DigestMethod, DsigError, ENVELOPED_SIGNATURE, SignatureMethod, transform_uris};
use crate::c14n::{C14nOptions, Canonicalizer, EXC_C14N};
use crate::ids::IdIndex;
use crate::{ns, xml};

/// A signature whose every reference digest and whose SignatureValue verified.
#[derive(Debug, Clone)]
pub struct VerifiedSignature<'a, 'input> {
    /// The `ds:Signature` element.
    pub signature: Node<'a, 'input>,
    /// SignatureMethod of SignedInfo.
    pub signature_method: SignatureMethod,
    /// The verified references, in SignedInfo order.
    pub references: Vec<VerifiedReference<'a, 'input>>,
}

impl<'a, 'input> VerifiedSignature<'a, 'input> {
    /// Checks whether `element` itself is signed: the same node, not an element with the same ID.
    pub fn covers(&self, element: Node<'_, '_>) -> bool {
        self.references
            .iter()
            .any(|reference| reference.element == element)
    }

    /// Returns the signed elements, in SignedInfo order.
    pub fn signed_elements(&self) -> impl Iterator<Item = Node<'a, 'input>> + '_ {
        self.references.iter().map(|reference| reference.element)
    }
}

/// One verified `ds:Reference`.
#[derive(Debug, Clone)]
pub struct VerifiedReference<'a, 'input> {
    /// The reference URI, `#` followed by the ID.
    pub uri: String,
    /// The element the URI resolved to: the node whose content the digest covers.
    pub element: Node<'a, 'input>,
    /// DigestMethod of the reference.
    pub digest_method: DigestMethod,
    /// Whether the enveloped-signature transform was applied.
    pub enveloped: bool,
    /// PrefixList of the exclusive C14N transform.
    pub inclusive_prefixes: Vec<String>,
}

/// Verifies `signature`, a `ds:Signature` element of `doc`, with `key`: every reference digest
/// and then the SignatureValue over the canonical SignedInfo.
///
/// IDs are resolved over the whole document and any duplicate ID is an error, so the returned
/// nodes are the only elements the references can mean.
pub fn verify<'a, 'input>(
    doc: &'a Document<'input>,
    signature: Node<'a, 'input>,
    key: &rsa::PublicKey,
) -> Result<VerifiedSignature<'a, 'input>, DsigError> {
    if !xml::has_name(signature, ns::DS, "Signature") {
        return Err(DsigError::NotASignature(
            signature.tag_name().name().to_owned(),
        ));
    }
    let parsed = parse_signature(signature)?;
    let index = IdIndex::build(doc)?;
    let canonicalizer = Canonicalizer::new(doc)?;

    let mut references = Vec::with_capacity(parsed.references.len());
    for reference in parsed.references {
        let element = index.resolve_uri(&reference.uri)?;
        let options = C14nOptions {
            with_comments: false,
            inclusive_prefixes: reference.inclusive_prefixes.clone(),
        };
        let canonical = if reference.enveloped {
            canonicalizer.subtree_without(element, signature, &options)?
        } else {
            canonicalizer.subtree(element, &options)?
        };
        if reference.digest_method.digest(&canonical) != reference.digest_value {
            return Err(DsigError::DigestMismatch { uri: reference.uri });
        }
        references.push(VerifiedReference {
            uri: reference.uri,
            element,
            digest_method: reference.digest_method,
            enveloped: reference.enveloped,
            inclusive_prefixes: reference.inclusive_prefixes,
        });
    }

    let canonical = canonicalizer.subtree(parsed.signed_info, &parsed.c14n)?;
    if !parsed
        .method
        .verify(key, &canonical, &parsed.signature_value)
    {
        return Err(DsigError::BadSignatureValue);
    }

    Ok(VerifiedSignature {
        signature,
        signature_method: parsed.method,
        references,
    })
}

/// The parts of a `ds:Signature` that verification needs, checked against the supported syntax.
#[derive(Debug)]
struct ParsedSignature<'a, 'input> {
    signed_info: Node<'a, 'input>,
    c14n: C14nOptions,
    method: SignatureMethod,
    references: Vec<ParsedReference>,
    signature_value: Vec<u8>,
}

#[derive(Debug)]
struct ParsedReference {
    uri: String,
    enveloped: bool,
    inclusive_prefixes: Vec<String>,
    digest_method: DigestMethod,
    digest_value: Vec<u8>,
}

fn parse_signature<'a, 'input>(
    signature: Node<'a, 'input>,
) -> Result<ParsedSignature<'a, 'input>, DsigError> {
    let mut children = xml::child_elements(signature);
    let signed_info = expect_child(children.next(), "Signature", "SignedInfo")?;
    let value = expect_child(children.next(), "Signature", "SignatureValue")?;

    let mut parts = xml::child_elements(signed_info);
    let c14n_method = expect_child(parts.next(), "SignedInfo", "CanonicalizationMethod")?;
    let signature_method = expect_child(parts.next(), "SignedInfo", "SignatureMethod")?;
    let references = parts
        .map(|reference| {
            expect_child(Some(reference), "SignedInfo", "Reference")?;
            parse_reference(reference)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if references.is_empty() {
        return Err(DsigError::NoReferences);
    }

    Ok(ParsedSignature {
        signed_info,
        c14n: parse_c14n_method(c14n_method, "canonicalization method")?,
        method: parse_signature_method(signature_method)?,
        references,
        signature_value: decode(value, "ds:SignatureValue")?,
    })
}

fn parse_signature_method(method: Node<'_, '_>) -> Result<SignatureMethod, DsigError> {
    let parsed = SignatureMethod::from_uri(algorithm(method, "SignatureMethod")?)?;
    if let Some(child) = xml::child_elements(method).next() {
        return Err(unexpected("SignatureMethod", child, "no child element"));
    }
    Ok(parsed)
}

/// Reads an exclusive C14N method (CanonicalizationMethod or Transform) and its PrefixList.
fn parse_c14n_method(method: Node<'_, '_>, role: &'static str) -> Result<C14nOptions, DsigError> {
    let uri = algorithm(method, method_name(method))?;
    if uri != EXC_C14N {
        return Err(DsigError::UnsupportedAlgorithm {
            role,
            uri: uri.to_owned(),
            supported: EXC_C14N,
        });
    }

    let mut options = C14nOptions::exclusive();
    for child in xml::child_elements(method) {
        if !xml::has_name(child, ns::EC, "InclusiveNamespaces") {
            return Err(unexpected(
                method_name(method),
                child,
                "ec:InclusiveNamespaces",
            ));
        }
        let prefix_list = child
            .attribute("PrefixList")
            .ok_or(DsigError::MissingAttribute {
                element: "InclusiveNamespaces",
                attribute: "PrefixList",
            })?;
        options = options.prefix_list(prefix_list);
    }
    Ok(options)
}

fn parse_reference(reference: Node<'_, '_>) -> Result<ParsedReference, DsigError> {
    let uri = reference
        .attribute("URI")
        .ok_or(DsigError::MissingAttribute {
            element: "Reference",
            attribute: "URI",
        })?;
    if !uri.starts_with('#') || uri.len() < 2 {
        return Err(DsigError::UnsupportedReferenceUri(uri.to_owned()));
    }

    let mut children = xml::child_elements(reference).peekable();
    let mut transforms = Vec::new();
    if let Some(node) = children.next_if(|node| xml::has_name(*node, ns::DS, "Transforms")) {
        transforms = xml::child_elements(node).collect();
    }
    let digest_method = expect_child(children.next(), "Reference", "DigestMethod")?;
    let digest_value = expect_child(children.next(), "Reference", "DigestValue")?;
    if let Some(extra) = children.next() {
        return Err(unexpected(
            "Reference",
            extra,
            "nothing after ds:DigestValue",
        ));
    }

    let (enveloped, c14n) = parse_transforms(uri, &transforms)?;
    Ok(ParsedReference {
        uri: uri.to_owned(),
        enveloped,
        inclusive_prefixes: c14n.inclusive_prefixes,
        digest_method: DigestMethod::from_uri(algorithm(digest_method, "DigestMethod")?)?,
        digest_value: decode(digest_value, "ds:DigestValue")?,
    })
}

/// Checks the transform chain and returns whether it is enveloped and its C14N options.
fn parse_transforms(uri: &str, transforms: &[Node]) -> Result<(bool, C14nOptions), DsigError> {
    let mut algorithms = Vec::with_capacity(transforms.len());
    for transform in transforms {
        expect_child(Some(*transform), "Transforms", "Transform")?;
        algorithms.push(algorithm(*transform, "Transform")?.to_owned());
    }

    let enveloped = algorithms.first().map(String::as_str) == Some(ENVELOPED_SIGNATURE);
    if algorithms != transform_uris(enveloped) {
        return Err(DsigError::UnsupportedTransforms {
            uri: uri.to_owned(),
            found: algorithms,
        });
    }
    if let Some(child) = transforms
        .first()
        .filter(|_| enveloped)
        .and_then(|t| t.first_element_child())
    {
        return Err(unexpected("Transform", child, "no child element"));
    }
    let c14n_transform = transforms[transforms.len() - 1];
    Ok((enveloped, parse_c14n_method(c14n_transform, "transform")?))
}

fn expect_child<'a, 'input>(
    node: Option<Node<'a, 'input>>,
    parent: &'static str,
    child: &'static str,
) -> Result<Node<'a, 'input>, DsigError> {
    match node {
        Some(node) if xml::has_name(node, ns::DS, child) => Ok(node),
        Some(node) => Err(unexpected(parent, node, child)),
        None => Err(DsigError::MissingElement { parent, child }),
    }
}

fn unexpected(parent: &'static str, found: Node<'_, '_>, expected: &'static str) -> DsigError {
    DsigError::UnexpectedElement {
        parent,
        found: found.tag_name().name().to_owned(),
        expected,
    }
}

fn algorithm<'a>(node: Node<'a, '_>, element: &'static str) -> Result<&'a str, DsigError> {
    node.attribute("Algorithm")
        .ok_or(DsigError::MissingAttribute {
            element,
            attribute: "Algorithm",
        })
}

fn method_name(node: Node<'_, '_>) -> &'static str {
    if node.tag_name().name() == "Transform" {
        "Transform"
    } else {
        "CanonicalizationMethod"
    }
}

fn decode(node: Node<'_, '_>, element: &'static str) -> Result<Vec<u8>, DsigError> {
    xml::decode_base64(&xml::text(node)).map_err(|error| DsigError::InvalidBase64 {
        element,
        reason: error.to_string(),
    })
}
