//! XML reading and writing for the eHealthBox v3 schemas.
//!
//! The schemas are `elementFormDefault="unqualified"`: only the global request and response
//! elements are in the service namespace, and every child is in no namespace. [`XmlWriter`] emits
//! exactly that (a prefixed root, unprefixed children, no default namespace). The readers match
//! children by local name only, so requests whose senders qualify children anyway still parse.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use quick_xml::escape::escape;
use roxmltree::Node;

/// The prefix of the response root element.
pub(crate) const RESPONSE_PREFIX: &str = "ns";

/// A small string builder for namespace-unqualified XML below one prefixed root.
#[derive(Debug, Default)]
pub(crate) struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// Writes a whole response document: `<ns:{local} xmlns:ns="{namespace}" attrs…>body</…>`.
    pub(crate) fn response(
        namespace: &str,
        local: &str,
        attributes: &[(&str, &str)],
        body: impl FnOnce(&mut XmlWriter),
    ) -> String {
        let mut writer = XmlWriter::default();
        let name = format!("{RESPONSE_PREFIX}:{local}");
        let mut all = vec![("xmlns:ns", namespace)];
        all.extend_from_slice(attributes);
        writer.element_with(&name, &all, body);
        writer.out
    }

    pub(crate) fn element(&mut self, name: &str, body: impl FnOnce(&mut XmlWriter)) {
        self.element_with(name, &[], body);
    }

    pub(crate) fn element_with(
        &mut self,
        name: &str,
        attributes: &[(&str, &str)],
        body: impl FnOnce(&mut XmlWriter),
    ) {
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attributes {
            self.out.push_str(&format!(" {key}=\"{}\"", escape(*value)));
        }
        self.out.push('>');
        body(self);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Writes `<name>text</name>`.
    pub(crate) fn text(&mut self, name: &str, text: &str) {
        self.text_with(name, &[], text);
    }

    pub(crate) fn text_with(&mut self, name: &str, attributes: &[(&str, &str)], text: &str) {
        self.element_with(name, attributes, |w| w.out.push_str(&escape(text)));
    }

    pub(crate) fn optional_text(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.text(name, text);
        }
    }

    /// Writes `<name>` with the base64 encoding of `bytes` (an `xs:base64Binary` field).
    pub(crate) fn base64(&mut self, name: &str, bytes: &[u8]) {
        self.text(name, &BASE64.encode(bytes));
    }

    /// Appends already serialised XML, such as an element in another namespace.
    pub(crate) fn raw(&mut self, xml: &str) {
        self.out.push_str(xml);
    }
}

/// Returns the first child element of `node` with local name `name`, in any namespace.
pub(crate) fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

/// Returns every child element of `node` with local name `name`, in any namespace.
pub(crate) fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// Returns the trimmed text of the first child element named `name`.
pub(crate) fn child_text<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    child(node, name).map(element_text)
}

/// Returns the trimmed text content of an element (empty when it has none).
pub(crate) fn element_text<'a>(node: Node<'a, '_>) -> &'a str {
    node.text().map(str::trim).unwrap_or("")
}

/// Decodes `xs:base64Binary` text, ignoring the whitespace that line-wrapping senders insert.
pub(crate) fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64.decode(compact)
}

pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}
