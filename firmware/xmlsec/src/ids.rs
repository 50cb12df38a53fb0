//! Strict resolution of same-document ID references (`URI="#id"`).
//!
//! An element is addressable by the value of its `wsu:Id`, unqualified `Id`, unqualified `ID` or
//! SAML 1.1 `AssertionID` attribute. Every one of these values must be unique in the whole
//! document: a signature verifier that picks "the first" of two equal IDs is open to signature
//! wrapping, so a duplicate is an error here rather than a choice. No other attribute (such as
//! `xml:id` or a namespaced `Id` outside wsu) makes an element addressable.
//!
//! NOTE: eHealthBox payloads use unqualified `Id` attributes of their own, so a payload that
//! repeats such a value makes the whole envelope fail verification.

use std::collections::HashMap;

use roxmltree::{Document, Node};

use super::ns;

/// Errors raised while indexing or resolving IDs.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    /// The same ID value appears on two attributes of the document.
    #[error(
        "duplicate id {id:?} on <{first}> and <{second}>; every wsu:Id, Id, ID and AssertionID \
         value must be unique in the document"
    )]
    Duplicate {
        /// The repeated value.
        id: String,
        /// Local name of the element that carries it first.
        first: String,
        /// Local name of the element that carries it again.
        second: String,
    },

    /// No element carries the requested ID.
    #[error("no element has id {0:?}; the reference points at nothing in this document")]
    NotFound(String),

    /// The ID is empty or is not a same-document reference.
    #[error("invalid same-document reference {0:?}; expected \"#\" followed by an id")]
    InvalidReference(String),
}

/// Index from ID value to the element that carries it.
#[derive(Debug)]
pub struct IdIndex<'a, 'input> {
    elements: HashMap<&'a str, Node<'a, 'input>>,
}

impl<'a, 'input> IdIndex<'a, 'input> {
    /// Indexes every ID attribute of `doc`, rejecting duplicates.
    pub fn build(doc: &'a Document<'input>) -> Result<Self, IdError> {
        let mut elements: HashMap<&'a str, Node<'a, 'input>> = HashMap::new();

        for element in doc.descendants().filter(Node::is_element) {
            for id in id_values(element) {
                if let Some(first) = elements.insert(id, element) {
                    return Err(IdError::Duplicate {
                        id: id.to_owned(),
                        first: first.tag_name().name().to_owned(),
                        second: element.tag_name().name().to_owned(),
                    });
                }
            }
        }

        Ok(Self { elements })
    }

    /// Returns the element whose ID is `id` (without a leading `#`).
    pub fn get(&self, id: &str) -> Result<Node<'a, 'input>, IdError> {
        self.elements
            .get(id)
            .copied()
            .ok_or_else(|| IdError::NotFound(id.to_owned()))
    }

    /// Resolves a same-document reference such as `#Body-1`.
    pub fn resolve_uri(&self, uri: &str) -> Result<Node<'a, 'input>, IdError> {
        self.get(fragment_id(uri)?)
    }

    /// Number of indexed IDs.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Checks whether the document has no ID at all.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }
}

/// Returns the ID named by a same-document reference `#id`.
pub fn fragment_id(uri: &str) -> Result<&str, IdError> {
    match uri.strip_prefix('#') {
        Some(id) if !id.is_empty() => Ok(id),
        _ => Err(IdError::InvalidReference(uri.to_owned())),
    }
}

/// Returns the ID values that `element` carries, in attribute order.
pub fn id_values<'a>(element: Node<'a, '_>) -> impl Iterator<Item = &'a str> {
    element
        .attributes()
        .filter(|attribute| is_id_attribute(attribute.namespace(), attribute.name()))
        .map(|attribute| attribute.value())
}

/// Checks whether an attribute with this namespace and local name is an ID attribute.
fn is_id_attribute(namespace: Option<&str>, name: &str) -> bool {
    match namespace {
        Some(uri) => uri == ns::WSU && name == "Id",
        None => matches!(name, "Id" | "ID" | "AssertionID"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WSU_DECL: &str = "xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/\
                            oasis-200401-wss-wssecurity-utility-1.0.xsd\"";

    #[test]
    fn index_finds_every_id_kind() {
        let xml = format!(
            "<r {WSU_DECL}><a wsu:Id=\"w\"/><b Id=\"i\"/><c ID=\"u\"/><d AssertionID=\"s\"/></r>"
        );
        let doc = Document::parse(&xml).unwrap();
        let index = IdIndex::build(&doc).unwrap();

        assert_eq!(index.len(), 4);
        assert_eq!(index.get("w").unwrap().tag_name().name(), "a");
        assert_eq!(index.get("i").unwrap().tag_name().name(), "b");
        assert_eq!(index.get("u").unwrap().tag_name().name(), "c");
        assert_eq!(index.resolve_uri("#s").unwrap().tag_name().name(), "d");
    }

    #[test]
    fn index_ignores_other_attributes() {
        let xml = "<r xmlns:x=\"urn:x\"><a x:Id=\"1\" xml:id=\"2\" id=\"3\"/></r>";
        let doc = Document::parse(xml).unwrap();
        let index = IdIndex::build(&doc).unwrap();

        assert!(index.is_empty());
    }

    #[test]
    fn duplicate_id_is_rejected() {
        let xml = format!("<r {WSU_DECL}><a wsu:Id=\"x\"/><b><c Id=\"x\"/></b></r>");
        let doc = Document::parse(&xml).unwrap();
        let error = IdIndex::build(&doc).unwrap_err();

        assert_eq!(
            error,
            IdError::Duplicate {
                id: "x".to_owned(),
                first: "a".to_owned(),
                second: "c".to_owned()
            }
        );
        assert!(
            error
                .to_string()
                .starts_with("duplicate id \"x\" on <a> and <c>")
        );
    }

    #[test]
    fn duplicate_on_one_element_is_rejected() {
        let xml = format!("<r {WSU_DECL}><a wsu:Id=\"x\" Id=\"x\"/></r>");
        let doc = Document::parse(&xml).unwrap();

        assert!(matches!(
            IdIndex::build(&doc),
            Err(IdError::Duplicate { .. })
        ));
    }

    #[test]
    fn missing_id_is_an_error() {
        let doc = Document::parse("<r Id=\"a\"/>").unwrap();
        let index = IdIndex::build(&doc).unwrap();

        assert_eq!(
            index.resolve_uri("#b").unwrap_err(),
            IdError::NotFound("b".to_owned())
        );
        assert_eq!(
            index.get("b").unwrap_err().to_string(),
            "no element has id \"b\"; the reference points at nothing in this document"
        );
    }

    #[test]
    fn non_fragment_reference_is_rejected() {
        for uri in ["", "#", "a", "http://example.invalid/#a"] {
            assert_eq!(
                fragment_id(uri),
                Err(IdError::InvalidReference(uri.to_owned()))
            );
        }
    }
}
