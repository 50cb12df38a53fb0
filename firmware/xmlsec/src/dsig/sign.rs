//! Creation of a `ds:Signature` inside an existing document.

use roxmltree::{Document, Node};

use super::{Algorithms, DsigError, transform_uris};
use crate::c14n::{C14nOptions, Canonicalizer, EXC_C14N};
use crate::ids::IdIndex;
use crate::{ns, xml};

/// One element to sign, named by its ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceSpec {
    /// The ID of the element (without `#`).
    pub id: String,
    /// Whether the enveloped-signature transform precedes exclusive C14N. Required when the
    /// signature is placed inside the referenced element.
    pub enveloped: bool,
    /// PrefixList of the exclusive C14N transform.
    pub inclusive_prefixes: Vec<String>,
}

impl ReferenceSpec {
    /// Creates a reference with exclusive C14N only.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            enveloped: false,
            inclusive_prefixes: Vec::new(),
        }
    }

    /// Creates a reference with the enveloped-signature transform and exclusive C14N.
    pub fn enveloped(id: impl Into<String>) -> Self {
        Self {
            enveloped: true,
            ..Self::new(id)
        }
    }

    /// Sets the PrefixList of the exclusive C14N transform.
    pub fn with_prefix_list(mut self, prefixes: &[&str]) -> Self {
        self.inclusive_prefixes = prefixes.iter().map(|prefix| (*prefix).to_owned()).collect();
        self
    }
}

/// Content of the `ds:KeyInfo` element of a new signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyInfo {
    /// No `ds:KeyInfo`.
    None,
    /// `ds:X509Data/ds:X509Certificate` with this DER certificate.
    X509Certificate(Vec<u8>),
    /// Literal XML children of `ds:KeyInfo`, such as a `wsse:SecurityTokenReference`. Every
    /// prefix it uses must be declared in the fragment itself or on an ancestor of the signature.
    Fragment(String),
}

/// Element that receives the new `ds:Signature` as its last child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureParent {
    /// The element with this ID.
    Id(String),
    /// The only element with this namespace URI and local name.
    Element {
        /// Namespace URI.
        namespace: String,
        /// Local name.
        local_name: String,
    },
}

/// Signature parameters: signed elements, placement, algorithms and key info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRequest {
    /// Element that receives the signature.
    pub parent: SignatureParent,
    /// The signed elements, in SignedInfo order.
    pub references: Vec<ReferenceSpec>,
    /// Signature and digest algorithms.
    pub algorithms: Algorithms,
    /// PrefixList of the CanonicalizationMethod of SignedInfo.
    pub signed_info_prefixes: Vec<String>,
    /// Content of `ds:KeyInfo`.
    pub key_info: KeyInfo,
}

/// Signs the elements named in `request` with `key` and returns the document with the new
/// `ds:Signature` inserted as the last child of the requested parent. The rest of the text is
/// kept byte for byte.
pub fn sign(
    xml_text: &str,
    request: &SignatureRequest,
    key: &rsa::PrivateKey,
) -> Result<String, DsigError> {
    let doc = Document::parse(xml_text)?;
    let index = IdIndex::build(&doc)?;
    let parent = find_parent(&doc, &index, &request.parent)?;
    if request.references.is_empty() {
        return Err(DsigError::NoReferences);
    }

    // Digests are taken before the signature exists. That is what a verifier computes: an
    // enveloped reference drops the signature again, and a reference that does not contain the
    // signature is not changed by it.
    let canonicalizer = Canonicalizer::new(&doc)?;
    let mut references = String::new();
    for reference in &request.references {
        let element = index.get(&reference.id)?;
        if !reference.enveloped && contains(element, parent) {
            return Err(DsigError::ReferenceContainsSignature(reference.id.clone()));
        }
        let options = C14nOptions {
            with_comments: false,
            inclusive_prefixes: reference.inclusive_prefixes.clone(),
        };
        let canonical = canonicalizer.subtree(element, &options)?;
        let digest = request.algorithms.digest.digest(&canonical);
        references.push_str(&reference_xml(reference, request, &digest));
    }

    let signed_info = signed_info_xml(request, &references);
    let (before_value, after_value) = signature_xml(&signed_info, &request.key_info);
    let insertion = insert_as_last_child(xml_text, parent, &format!("{before_value}{after_value}"));

    let signature_value = sign_signed_info(&insertion, request, key)?;
    let value_at = insertion.offset + before_value.len();
    let mut signed = insertion.text;
    signed.insert_str(value_at, &xml::encode_base64(&signature_value));
    Ok(signed)
}

/// Canonicalises the SignedInfo of the inserted signature in its final context and signs it.
fn sign_signed_info(
    insertion: &Insertion,
    request: &SignatureRequest,
    key: &rsa::PrivateKey,
) -> Result<Vec<u8>, DsigError> {
    let doc = Document::parse(&insertion.text)?;
    let signature = doc
        .descendants()
        .find(|node| node.is_element() && node.range().start == insertion.offset)
        .ok_or(DsigError::MissingElement {
            parent: "Signature",
            child: "Signature",
        })?;
    let signed_info = xml::child_elements(signature)
        .next()
        .ok_or(DsigError::MissingElement {
            parent: "Signature",
            child: "SignedInfo",
        })?;

    let options = C14nOptions {
        with_comments: false,
        inclusive_prefixes: request.signed_info_prefixes.clone(),
    };
    let canonical = Canonicalizer::new(&doc)?.subtree(signed_info, &options)?;
    request.algorithms.signature.sign(key, &canonical)
}

fn find_parent<'a, 'input>(
    doc: &'a Document<'input>,
    index: &IdIndex<'a, 'input>,
    parent: &SignatureParent,
) -> Result<Node<'a, 'input>, DsigError> {
    match parent {
        SignatureParent::Id(id) => Ok(index.get(id)?),
        SignatureParent::Element {
            namespace,
            local_name,
        } => {
            let matches: Vec<Node> = doc
                .descendants()
                .filter(|node| xml::has_name(*node, namespace, local_name))
                .collect();
            match matches.as_slice() {
                [only] => Ok(*only),
                _ => Err(DsigError::SignatureParent {
                    parent: format!("{{{namespace}}}{local_name}"),
                    count: matches.len(),
                }),
            }
        }
    }
}

/// Checks whether `node` is `ancestor` or one of its descendants.
fn contains(ancestor: Node<'_, '_>, node: Node<'_, '_>) -> bool {
    node.ancestors().any(|candidate| candidate == ancestor)
}

fn signed_info_xml(request: &SignatureRequest, references: &str) -> String {
    format!(
        "<ds:SignedInfo>{}<ds:SignatureMethod Algorithm=\"{}\"/>{references}</ds:SignedInfo>",
        c14n_method_xml("ds:CanonicalizationMethod", &request.signed_info_prefixes),
        request.algorithms.signature.uri(),
    )
}

fn reference_xml(reference: &ReferenceSpec, request: &SignatureRequest, digest: &[u8]) -> String {
    let mut transforms = String::new();
    for uri in transform_uris(reference.enveloped) {
        if *uri == EXC_C14N {
            transforms.push_str(&c14n_method_xml(
                "ds:Transform",
                &reference.inclusive_prefixes,
            ));
        } else {
            transforms.push_str(&format!("<ds:Transform Algorithm=\"{uri}\"/>"));
        }
    }
    format!(
        "<ds:Reference URI=\"#{}\"><ds:Transforms>{transforms}</ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{}\"/><ds:DigestValue>{}</ds:DigestValue></ds:Reference>",
        xml::escape(&reference.id),
        request.algorithms.digest.uri(),
        xml::encode_base64(digest),
    )
}

/// Writes an exclusive C14N element (CanonicalizationMethod or Transform) with its PrefixList.
fn c14n_method_xml(name: &str, prefixes: &[String]) -> String {
    if prefixes.is_empty() {
        return format!("<{name} Algorithm=\"{EXC_C14N}\"/>");
    }
    format!(
        "<{name} Algorithm=\"{EXC_C14N}\"><ec:InclusiveNamespaces xmlns:ec=\"{}\" \
         PrefixList=\"{}\"/></{name}>",
        ns::EC,
        xml::escape(&prefixes.join(" "))
    )
}

/// Returns the signature split around the (empty) content of `ds:SignatureValue`.
fn signature_xml(signed_info: &str, key_info: &KeyInfo) -> (String, String) {
    let key_info = match key_info {
        KeyInfo::None => String::new(),
        KeyInfo::X509Certificate(der) => format!(
            "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data>\
             </ds:KeyInfo>",
            xml::encode_base64(der)
        ),
        KeyInfo::Fragment(fragment) => format!("<ds:KeyInfo>{fragment}</ds:KeyInfo>"),
    };
    let before = format!(
        "<ds:Signature xmlns:ds=\"{}\">{signed_info}<ds:SignatureValue>",
        ns::DS
    );
    let after = format!("</ds:SignatureValue>{key_info}</ds:Signature>");
    (before, after)
}

/// A document with a fragment inserted, and the byte offset where the fragment starts.
#[derive(Debug)]
struct Insertion {
    text: String,
    offset: usize,
}

/// Inserts `fragment` as the last child of `parent`, expanding `<a/>` to `<a>…</a>`.
fn insert_as_last_child(text: &str, parent: Node<'_, '_>, fragment: &str) -> Insertion {
    let range = parent.range();
    let element = &text[range.clone()];

    // Only an empty-element tag ends with `/>`: any other element ends with its end tag.
    if let Some(end_tag) = element.strip_suffix("/>") {
        let qname = qualified_name(element);
        let offset = range.start + end_tag.len() + 1;
        let text = format!(
            "{}>{fragment}</{qname}>{}",
            &text[..range.start + end_tag.len()],
            &text[range.end..]
        );
        return Insertion { text, offset };
    }

    // The end tag is the last `</` of the element's text.
    let offset = range.start + element.rfind("</").unwrap_or(element.len());
    let mut text = text.to_owned();
    text.insert_str(offset, fragment);
    Insertion { text, offset }
}

/// Returns the qualified name of the start tag at the beginning of `element`.
fn qualified_name(element: &str) -> &str {
    let name = &element[1..];
    let end = name
        .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .unwrap_or(name.len());
    &name[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(xml_text: &str, fragment: &str) -> String {
        let doc = Document::parse(xml_text).unwrap();
        let parent = doc.descendants().find(|n| n.has_tag_name("p")).unwrap();
        let insertion = insert_as_last_child(xml_text, parent, fragment);
        assert!(insertion.text[insertion.offset..].starts_with(fragment));
        insertion.text
    }

    #[test]
    fn insertion_goes_before_end_tag() {
        assert_eq!(
            insert("<r><p><a/>t</p></r>", "<s/>"),
            "<r><p><a/>t<s/></p></r>"
        );
    }

    #[test]
    fn insertion_expands_empty_element() {
        assert_eq!(
            insert("<r><x:p xmlns:x=\"u\" /></r>", "<s/>"),
            "<r><x:p xmlns:x=\"u\" ><s/></x:p></r>"
        );
        assert_eq!(insert("<p/>", "<s/>"), "<p><s/></p>");
    }

    #[test]
    fn insertion_handles_nested_same_name() {
        assert_eq!(
            insert("<r><p><p/></p></r>", "<s/>"),
            "<r><p><p/><s/></p></r>"
        );
    }
}
