//! A minimal PDF 1.4 writer: text letters in Helvetica, and image-only pages that look like scans.
//!
//! The output is a complete, valid file: a header with a binary comment line, numbered indirect
//! objects, a cross-reference table whose entries hold each object's exact byte offset, and a
//! trailer naming the catalog and the document information dictionary. Streams are uncompressed.
//! Text uses the standard Helvetica font with `WinAnsiEncoding`, so accented Latin letters print
//! correctly; characters outside Windows-1252 are written as `?`.

/// A4 page size in points.
const PAGE_WIDTH: u32 = 595;
const PAGE_HEIGHT: u32 = 842;
const MARGIN: u32 = 56;
const FONT_SIZE: u32 = 10;
const LEADING: u32 = 14;
/// Characters per text line before wrapping, estimated from Helvetica 10 pt being roughly 5 pt
/// wide per character in running text.
const WRAP_WIDTH: usize = 90;

/// A grayscale raster placed on a page of its own, as a scanner produces.
#[derive(Debug, Clone)]
pub(crate) struct GrayImage {
    pub width: u32,
    pub height: u32,
    /// One byte per pixel, rows top to bottom.
    pub pixels: Vec<u8>,
}

/// Writes a text document: the title line, a blank line, then `lines`, wrapped and paginated.
pub(crate) fn text_document(title: &str, lines: &[String]) -> Vec<u8> {
    let mut wrapped = vec![title.to_owned(), String::new()];
    for line in lines {
        wrap_into(&mut wrapped, line);
    }
    let per_page = ((PAGE_HEIGHT - 2 * MARGIN) / LEADING) as usize;
    let pages: Vec<Vec<u8>> = wrapped.chunks(per_page).map(text_content_stream).collect();

    let mut document = PdfDocument::new(title);
    let font = document.add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
    );
    let resources = format!("<< /Font << /F1 {font} 0 R >> >>");
    for content in pages {
        document.add_page(&resources, content);
    }
    document.finish()
}

/// Writes a document of image-only pages, one image per page, scaled to the page with a margin.
pub(crate) fn scanned_document(title: &str, images: &[GrayImage]) -> Vec<u8> {
    let mut document = PdfDocument::new(title);
    for image in images {
        let dictionary = format!(
            "<< /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace /DeviceGray \
             /BitsPerComponent 8 /Length {} >>",
            image.width,
            image.height,
            image.pixels.len()
        );
        let xobject = document.add(stream_object(&dictionary, &image.pixels));
        let resources = format!("<< /XObject << /Im1 {xobject} 0 R >> >>");
        let width = PAGE_WIDTH - 2 * MARGIN;
        let height = PAGE_HEIGHT - 2 * MARGIN;
        let content = format!("q\n{width} 0 0 {height} {MARGIN} {MARGIN} cm\n/Im1 Do\nQ\n");
        document.add_page(&resources, content.into_bytes());
    }
    document.finish()
}

/// Objects of a document under construction. Object 1 is the catalog, 2 the page tree and 3 the
/// information dictionary; their bodies are written by [`PdfDocument::finish`].
struct PdfDocument {
    objects: Vec<Vec<u8>>,
    pages: Vec<usize>,
    title: String,
}

impl PdfDocument {
    fn new(title: &str) -> Self {
        Self {
            objects: vec![Vec::new(), Vec::new(), Vec::new()],
            pages: Vec::new(),
            title: title.to_owned(),
        }
    }

    /// Adds an object body and returns its object number.
    fn add(&mut self, body: Vec<u8>) -> usize {
        self.objects.push(body);
        self.objects.len()
    }

    fn add_page(&mut self, resources: &str, content: Vec<u8>) {
        let dictionary = format!("<< /Length {} >>", content.len());
        let contents = self.add(stream_object(&dictionary, &content));
        let page = format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
             /Resources {resources} /Contents {contents} 0 R >>"
        );
        let number = self.add(page.into_bytes());
        self.pages.push(number);
    }

    fn finish(mut self) -> Vec<u8> {
        let kids: Vec<String> = self
            .pages
            .iter()
            .map(|number| format!("{number} 0 R"))
            .collect();
        self.objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>".to_vec();
        self.objects[1] = format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            self.pages.len()
        )
        .into_bytes();
        let mut info = b"<< /Title ".to_vec();
        info.extend(literal_string(&self.title));
        info.extend(b" /Producer (PracticeBox eHealth simulator) >>");
        self.objects[2] = info;

        // The second line's bytes above 0x7F tell transfer tools that the file is binary.
        let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::with_capacity(self.objects.len());
        for (index, body) in self.objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend(format!("{} 0 obj\n", index + 1).as_bytes());
            out.extend(body);
            out.extend(b"\nendobj\n");
        }

        // Each cross-reference entry is exactly 20 bytes, ending in space + newline.
        let xref_offset = out.len();
        out.extend(format!("xref\n0 {}\n", self.objects.len() + 1).as_bytes());
        out.extend(b"0000000000 65535 f \n");
        for offset in offsets {
            out.extend(format!("{offset:010} 00000 n \n").as_bytes());
        }
        let trailer = format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info 3 0 R >>\nstartxref\n{xref_offset}\n%%EOF\n",
            self.objects.len() + 1
        );
        out.extend(trailer.as_bytes());
        out
    }
}

fn stream_object(dictionary: &str, data: &[u8]) -> Vec<u8> {
    let mut body = dictionary.as_bytes().to_vec();
    body.extend(b"\nstream\n");
    body.extend(data);
    body.extend(b"\nendstream");
    body
}

fn text_content_stream(lines: &[String]) -> Vec<u8> {
    let top = PAGE_HEIGHT - MARGIN;
    let mut content =
        format!("BT\n/F1 {FONT_SIZE} Tf\n{LEADING} TL\n{MARGIN} {top} Td\n").into_bytes();
    for line in lines {
        content.extend(literal_string(line));
        content.extend(b" Tj T*\n");
    }
    content.extend(b"ET\n");
    content
}

/// Encodes `text` as a PDF literal string in Windows-1252, escaping delimiters and writing
/// non-ASCII bytes as octal escapes so the content stream stays ASCII.
fn literal_string(text: &str) -> Vec<u8> {
    let mut out = vec![b'('];
    for character in text.chars() {
        let mut buffer = [0; 4];
        let (bytes, _, unmappable) =
            encoding_rs::WINDOWS_1252.encode(character.encode_utf8(&mut buffer));
        let byte = if unmappable || bytes.len() != 1 {
            b'?'
        } else {
            bytes[0]
        };
        match byte {
            b'(' | b')' | b'\\' => out.extend([b'\\', byte]),
            0x20..=0x7E => out.push(byte),
            _ => out.extend(format!("\\{byte:03o}").as_bytes()),
        }
    }
    out.push(b')');
    out
}

fn wrap_into(out: &mut Vec<String>, line: &str) {
    if line.chars().count() <= WRAP_WIDTH {
        out.push(line.to_owned());
        return;
    }
    let mut current = String::new();
    for word in line.split(' ') {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > WRAP_WIDTH {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    out.push(current);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_string_escapes() {
        assert_eq!(
            literal_string("a(b)\\é€"),
            b"(a\\(b\\)\\\\\\351\\200)".to_vec()
        );
    }

    #[test]
    fn literal_string_replaces_unmappable() {
        assert_eq!(literal_string("漢"), b"(?)".to_vec());
    }

    #[test]
    fn wrap_long_line() {
        let mut out = Vec::new();
        wrap_into(&mut out, &"woord ".repeat(40));
        assert!(out.len() > 1);
        assert!(out.iter().all(|line| line.chars().count() <= WRAP_WIDTH));
    }

    #[test]
    fn text_document_starts_and_ends() {
        let pdf = text_document("Brief", &["Geachte collega,".to_owned()]);
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));
    }
}
