//! Small helpers for reading roxmltree trees and writing XML text.

use std::borrow::Cow;

use roxmltree::Node;

/// Escapes `text` for use in element content or in a double-quoted attribute value.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(text)
}

/// Child elements of `parent`, skipping text, comments and processing instructions.
pub(crate) fn child_elements<'a, 'input>(
    parent: Node<'a, 'input>,
) -> impl Iterator<Item = Node<'a, 'input>> {
    parent.children().filter(Node::is_element)
}

/// Child elements of `parent` with the given namespace and local name.
pub(crate) fn children_named<'a, 'input>(
    parent: Node<'a, 'input>,
    namespace: &'a str,
    local_name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> {
    child_elements(parent).filter(move |child| has_name(*child, namespace, local_name))
}

/// Checks whether `node` is an element with the given namespace and local name.
pub(crate) fn has_name(node: Node<'_, '_>, namespace: &str, local_name: &str) -> bool {
    node.is_element()
        && node.tag_name().namespace() == Some(namespace)
        && node.tag_name().name() == local_name
}

/// Concatenated text of the direct text children of `element`.
pub(crate) fn text(element: Node<'_, '_>) -> String {
    element
        .children()
        .filter(Node::is_text)
        .filter_map(|child| child.text())
        .collect()
}

/// Decodes base64 content that may contain XML whitespace (line breaks are common).
pub(crate) fn decode_base64(content: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine as _;

    let compact: String = content
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(compact)
}

/// Encodes bytes as base64 on one line.
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;

    base64::engine::general_purpose::STANDARD.encode(bytes)
}
