//! Exclusive XML Canonicalization 1.0, with and without comments, with an optional
//! `InclusiveNamespaces PrefixList`.
//!
//! Documents are read with roxmltree, which is also the tree that the signature and WS-Security
//! code walks. The canonical bytes come from bergshamra-c14n, whose output is byte-identical to
//! `xmllint --exc-c14n` (libxml2) and Apache Santuario. It parses the text again with its own
//! parser (uppsala), and the two trees are paired element by element in document order, so a
//! caller can name the subtree to canonicalise with a roxmltree node.
//!
//! uppsala 0.12 does not apply XML 1.0 attribute-value normalisation (section 3.3.3): a literal
//! TAB, LF or CR inside an attribute value must reach the application as a space, while the
//! character references `&#9;`, `&#10;` and `&#13;` keep their character. Before uppsala parses
//! the text, a pre-pass applies end-of-line handling (section 2.11) and turns the
//! literal whitespace inside attribute values into spaces. The canonical form is then the one
//! that every conforming parser produces.
//!
//! Inclusive canonicalisation is not offered: WS-Security and SAML signatures on the eHealth
//! platform use the exclusive form only. Documents with a DTD are rejected.

use std::collections::HashMap;

use bergshamra_c14n::C14nMode;
use bergshamra_xml::NodeSet;
use roxmltree::{Document, Node};

use super::ids::{IdError, IdIndex};

/// Algorithm URI of Exclusive XML Canonicalization 1.0 without comments.
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// Algorithm URI of Exclusive XML Canonicalization 1.0 with comments.
pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

/// Errors raised by canonicalisation.
#[derive(Debug, thiserror::Error)]
pub enum C14nError {
    /// The text is not well-formed XML, or contains a DTD.
    #[error("invalid xml: {0}; pass a well-formed document without a DTD")]
    Parse(#[from] roxmltree::Error),

    /// The canonicaliser's own parser rejected text that roxmltree accepted.
    #[error("the canonicaliser could not parse the document: {0}")]
    Canonicaliser(String),

    /// The two parsers disagree on the element structure.
    #[error(
        "element {index} in document order is <{expected}> for roxmltree but <{found}> for the \
         canonicaliser; the document cannot be canonicalised reliably"
    )]
    TreeMismatch {
        /// Position of the element among all elements, in document order.
        index: usize,
        /// Local name that roxmltree reports.
        expected: String,
        /// Local name that the canonicaliser's parser reports.
        found: String,
    },

    /// The two parsers found a different number of elements.
    #[error(
        "roxmltree found {source_count} elements but the canonicaliser found \
         {canonicaliser_count}; the document cannot be canonicalised reliably"
    )]
    ElementCount {
        /// Number of elements roxmltree reports.
        source_count: usize,
        /// Number of elements the canonicaliser's parser reports.
        canonicaliser_count: usize,
    },

    /// A node passed in does not belong to the document of this canonicaliser, or is no element.
    #[error("node {0:?} is not an element of the canonicalised document")]
    ForeignNode(roxmltree::NodeId),

    /// The subtree to canonicalise was named by an ID that does not resolve.
    #[error(transparent)]
    Id(#[from] IdError),
}

/// Parameters of Exclusive XML Canonicalization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct C14nOptions {
    /// Whether comments are kept (the `#WithComments` variant).
    pub with_comments: bool,
    /// Prefixes of the `InclusiveNamespaces PrefixList`, treated as in inclusive
    /// canonicalisation; `#default` names the default namespace.
    pub inclusive_prefixes: Vec<String>,
}

impl C14nOptions {
    /// Exclusive canonicalisation without comments and with an empty prefix list.
    pub fn exclusive() -> Self {
        Self::default()
    }

    /// Keeps comments in the output.
    pub fn keep_comments(mut self) -> Self {
        self.with_comments = true;
        self
    }

    /// Sets the prefix list from its attribute form, a whitespace-separated list.
    pub fn prefix_list(mut self, prefix_list: &str) -> Self {
        self.inclusive_prefixes = prefix_list.split_whitespace().map(str::to_owned).collect();
        self
    }

    /// Algorithm URI of this variant.
    pub fn algorithm_uri(&self) -> &'static str {
        if self.with_comments {
            EXC_C14N_WITH_COMMENTS
        } else {
            EXC_C14N
        }
    }

    fn mode(&self) -> C14nMode {
        if self.with_comments {
            C14nMode::ExclusiveWithComments
        } else {
            C14nMode::Exclusive
        }
    }
}

/// Canonicalises the whole document `xml`.
pub fn canonicalize_document(xml: &str, options: &C14nOptions) -> Result<Vec<u8>, C14nError> {
    let doc = Document::parse(xml)?;
    Canonicalizer::new(&doc)?.document(options)
}

/// Canonicalises the subtree of `xml` rooted at the element whose `wsu:Id`, `Id`, `ID` or
/// `AssertionID` is `id`. A duplicated ID anywhere in the document is an error.
pub fn canonicalize_subtree_by_id(
    xml: &str,
    id: &str,
    options: &C14nOptions,
) -> Result<Vec<u8>, C14nError> {
    let doc = Document::parse(xml)?;
    let element = IdIndex::build(&doc)?.get(id)?;
    Canonicalizer::new(&doc)?.subtree(element, options)
}

/// Canonicaliser bound to one parsed document.
///
/// Build it once per document and canonicalise as many subtrees as needed, because building it
/// parses the text a second time.
#[derive(Debug)]
pub struct Canonicalizer<'a, 'input> {
    source: &'a Document<'input>,
    parsed: uppsala::Document<'static>,
    /// Canonicaliser node of each element, in document order.
    elements: Vec<uppsala::NodeId>,
    /// Document-order position of each roxmltree element.
    positions: HashMap<roxmltree::NodeId, usize>,
}

impl<'a, 'input> Canonicalizer<'a, 'input> {
    /// Parses the text of `source` for canonicalisation and pairs the elements of both trees.
    pub fn new(source: &'a Document<'input>) -> Result<Self, C14nError> {
        let text = normalise_for_parser(source.input_text());
        let parsed = uppsala::Parser::new()
            .with_forbid_dtd(true)
            .parse(&text)
            .map_err(|error| C14nError::Canonicaliser(error.to_string()))?
            .into_static();

        let elements = uppsala_elements(&parsed);
        let mut positions = HashMap::new();
        let source_elements = source.descendants().filter(Node::is_element);
        for (index, element) in source_elements.enumerate() {
            check_same_element(&parsed, elements.get(index).copied(), element, index)?;
            positions.insert(element.id(), index);
        }
        if positions.len() != elements.len() {
            return Err(C14nError::ElementCount {
                source_count: positions.len(),
                canonicaliser_count: elements.len(),
            });
        }

        Ok(Self {
            source,
            parsed,
            elements,
            positions,
        })
    }

    /// Canonicalises the whole document. With comments, the comments before and after the
    /// document element are kept, each separated from it by a line feed.
    pub fn document(&self, options: &C14nOptions) -> Result<Vec<u8>, C14nError> {
        self.run(None, options)
    }

    /// Canonicalises the subtree rooted at `element`.
    pub fn subtree(
        &self,
        element: Node<'_, '_>,
        options: &C14nOptions,
    ) -> Result<Vec<u8>, C14nError> {
        let root = self.counterpart(element)?;
        let nodes = self.tree(root, options);
        self.run(Some(&nodes), options)
    }

    /// Canonicalises the subtree rooted at `element` without the subtree rooted at `excluded`:
    /// the node set of the enveloped-signature transform, with `excluded` the `ds:Signature`.
    pub fn subtree_without(
        &self,
        element: Node<'_, '_>,
        excluded: Node<'_, '_>,
        options: &C14nOptions,
    ) -> Result<Vec<u8>, C14nError> {
        let root = self.counterpart(element)?;
        let removed = self.counterpart(excluded)?;
        let nodes = self
            .tree(root, options)
            .subtract(&NodeSet::tree_with_comments(removed, &self.parsed));
        self.run(Some(&nodes), options)
    }

    /// Returns the document this canonicaliser was built from.
    pub fn source(&self) -> &'a Document<'input> {
        self.source
    }

    fn tree(&self, root: uppsala::NodeId, options: &C14nOptions) -> NodeSet {
        if options.with_comments {
            NodeSet::tree_with_comments(root, &self.parsed)
        } else {
            NodeSet::tree_without_comments(root, &self.parsed)
        }
    }

    fn run(&self, nodes: Option<&NodeSet>, options: &C14nOptions) -> Result<Vec<u8>, C14nError> {
        bergshamra_c14n::canonicalize_doc(
            &self.parsed,
            options.mode(),
            nodes,
            &options.inclusive_prefixes,
        )
        .map_err(|error| C14nError::Canonicaliser(error.to_string()))
    }

    fn counterpart(&self, element: Node<'_, '_>) -> Result<uppsala::NodeId, C14nError> {
        let same_document = std::ptr::eq(element.document(), self.source);
        let position = self.positions.get(&element.id()).filter(|_| same_document);
        position
            .map(|&index| self.elements[index])
            .ok_or(C14nError::ForeignNode(element.id()))
    }
}

/// Lists the elements of `doc` in document order.
fn uppsala_elements(doc: &uppsala::Document<'_>) -> Vec<uppsala::NodeId> {
    let mut elements = Vec::new();
    let mut pending = vec![doc.root()];
    while let Some(node) = pending.pop() {
        if doc.element(node).is_some() {
            elements.push(node);
        }
        let children: Vec<_> = doc.children_iter(node).collect();
        pending.extend(children.into_iter().rev());
    }
    elements
}

fn check_same_element(
    parsed: &uppsala::Document<'_>,
    counterpart: Option<uppsala::NodeId>,
    element: Node<'_, '_>,
    index: usize,
) -> Result<(), C14nError> {
    let expected = element.tag_name();
    let found = counterpart
        .and_then(|id| parsed.element(id))
        .map(|e| &e.name);
    let same = found.is_some_and(|name| {
        // Under `xmlns=""` a parser may report the namespace as empty instead of absent.
        let namespace = name.namespace_uri.as_deref().filter(|uri| !uri.is_empty());
        let expected_namespace = expected.namespace().filter(|uri| !uri.is_empty());
        name.local_name == expected.name() && namespace == expected_namespace
    });
    if same {
        return Ok(());
    }
    Err(C14nError::TreeMismatch {
        index,
        expected: expected.name().to_owned(),
        found: found.map_or_else(
            || "(end of document)".to_owned(),
            |n| n.local_name.to_string(),
        ),
    })
}

/// Applies XML 1.0 end-of-line handling and turns every literal TAB and LF inside an attribute
/// value into a space, leaving comments, CDATA sections and processing instructions unchanged.
///
/// Only valid for well-formed text without a DTD: the caller parses it with roxmltree first.
fn normalise_for_parser(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let bytes = text.as_bytes();
    let mut output = Vec::with_capacity(bytes.len());
    let mut position = 0;

    while position < bytes.len() {
        if bytes[position] != b'<' {
            output.push(bytes[position]);
            position += 1;
            continue;
        }
        let end = markup_end(bytes, position);
        let markup = &bytes[position..end];
        if markup.starts_with(b"<!") || markup.starts_with(b"<?") {
            output.extend_from_slice(markup);
        } else {
            push_tag_normalised(&mut output, markup);
        }
        position = end;
    }

    // Only ASCII bytes were replaced by ASCII bytes, so the text stays valid UTF-8.
    String::from_utf8(output)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// Returns the index just past the markup that starts with `<` at `start`.
fn markup_end(bytes: &[u8], start: usize) -> usize {
    let rest = &bytes[start..];
    let terminator: &[u8] = if rest.starts_with(b"<!--") {
        b"-->"
    } else if rest.starts_with(b"<![CDATA[") {
        b"]]>"
    } else if rest.starts_with(b"<?") {
        b"?>"
    } else {
        return tag_end(bytes, start);
    };
    find(rest, terminator).map_or(bytes.len(), |offset| start + offset + terminator.len())
}

/// Returns the index just past the `>` that closes the tag at `start`, skipping quoted values.
fn tag_end(bytes: &[u8], start: usize) -> usize {
    let mut quote = None;
    for (offset, &byte) in bytes[start..].iter().enumerate() {
        match (quote, byte) {
            (None, b'"' | b'\'') => quote = Some(byte),
            (Some(open), _) if open == byte => quote = None,
            (None, b'>') => return start + offset + 1,
            _ => {}
        }
    }
    bytes.len()
}

fn push_tag_normalised(output: &mut Vec<u8>, tag: &[u8]) {
    let mut quote = None;
    for &byte in tag {
        match (quote, byte) {
            (None, b'"' | b'\'') => quote = Some(byte),
            (Some(open), _) if open == byte => quote = None,
            (Some(_), b'\t' | b'\n') => {
                output.push(b' ');
                continue;
            }
            _ => {}
        }
        output.push(byte);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exc(xml: &str) -> String {
        String::from_utf8(canonicalize_document(xml, &C14nOptions::exclusive()).unwrap()).unwrap()
    }

    #[test]
    fn attribute_whitespace_becomes_space() {
        assert_eq!(exc("<a b=\"x\ty\nz\"/>"), "<a b=\"x y z\"></a>");
        assert_eq!(exc("<a b='x\r\ny'/>"), "<a b=\"x y\"></a>");
    }

    #[test]
    fn attribute_character_references_stay() {
        assert_eq!(
            exc("<a b=\"x&#9;y&#10;z&#13;\"/>"),
            "<a b=\"x&#x9;y&#xA;z&#xD;\"></a>"
        );
    }

    #[test]
    fn whitespace_outside_attributes_is_kept() {
        let xml = "<a>\t<!-- c\t\n --><![CDATA[\t>]]><?pi x\t?>t\r\nu<b c=\"1\"\n d='2'>\t</b></a>";

        assert_eq!(
            exc(xml),
            "<a>\t\t&gt;<?pi x\t?>t\nu<b c=\"1\" d=\"2\">\t</b></a>"
        );
    }

    #[test]
    fn quote_inside_other_quote_is_plain() {
        assert_eq!(
            exc("<a b=\"it's\tx\" c='say \"\thi\"'/>"),
            "<a b=\"it's x\" c=\"say &quot; hi&quot;\"></a>"
        );
    }

    #[test]
    fn comments_kept_on_request() {
        let xml = "<!--x--><a><!--y--></a>";
        let options = C14nOptions::exclusive().keep_comments();
        let output = canonicalize_document(xml, &options).unwrap();

        assert_eq!(output, b"<!--x-->\n<a><!--y--></a>");
        assert_eq!(options.algorithm_uri(), EXC_C14N_WITH_COMMENTS);
    }

    #[test]
    fn subtree_by_id_renders_used_namespaces() {
        let xml = "<p:a xmlns:p=\"urn:p\" xmlns:q=\"urn:q\"><p:b Id=\"x\" q:c=\"1\"/></p:a>";
        let output = canonicalize_subtree_by_id(xml, "x", &C14nOptions::exclusive()).unwrap();

        assert_eq!(
            output,
            b"<p:b xmlns:p=\"urn:p\" xmlns:q=\"urn:q\" Id=\"x\" q:c=\"1\"></p:b>"
        );
    }

    #[test]
    fn prefix_list_renders_unused_namespace() {
        let xml = "<p:a xmlns:p=\"urn:p\" xmlns:q=\"urn:q\"><p:b Id=\"x\"/></p:a>";
        let options = C14nOptions::exclusive().prefix_list(" q\t");
        let output = canonicalize_subtree_by_id(xml, "x", &options).unwrap();

        assert_eq!(options.inclusive_prefixes, ["q"]);
        assert_eq!(
            output,
            b"<p:b xmlns:p=\"urn:p\" xmlns:q=\"urn:q\" Id=\"x\"></p:b>"
        );
    }

    #[test]
    fn subtree_without_drops_excluded_element() {
        let xml = "<a Id=\"r\"><b/><s><t/></s><c/></a>";
        let doc = Document::parse(xml).unwrap();
        let canonicalizer = Canonicalizer::new(&doc).unwrap();
        let root = doc.root_element();
        let excluded = root.children().find(|n| n.has_tag_name("s")).unwrap();
        let output = canonicalizer
            .subtree_without(root, excluded, &C14nOptions::exclusive())
            .unwrap();

        assert_eq!(output, b"<a Id=\"r\"><b></b><c></c></a>");
    }

    #[test]
    fn node_of_other_document_is_rejected() {
        let first = Document::parse("<a/>").unwrap();
        let second = Document::parse("<a/>").unwrap();
        let canonicalizer = Canonicalizer::new(&first).unwrap();
        let error = canonicalizer
            .subtree(second.root_element(), &C14nOptions::exclusive())
            .unwrap_err();

        assert!(matches!(error, C14nError::ForeignNode(_)));
    }

    #[test]
    fn dtd_is_rejected() {
        let error = canonicalize_document("<!DOCTYPE a []><a/>", &C14nOptions::exclusive());

        assert!(matches!(error, Err(C14nError::Parse(_))));
    }

    #[test]
    fn missing_id_is_reported() {
        let error = canonicalize_subtree_by_id("<a/>", "x", &C14nOptions::exclusive()).unwrap_err();

        assert_eq!(
            error.to_string(),
            "no element has id \"x\"; the reference points at nothing in this document"
        );
    }
}
