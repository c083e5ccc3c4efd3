//! A self-contained HTML report page: title, headings, paragraphs,
//! preformatted text, tables and images (inline base64 PNG data URIs, so the
//! page is a single file, or relative paths), with a little embedded CSS.
//!
//! All text is HTML-escaped; only [`HtmlReport::raw_html`] inserts markup
//! verbatim.
use std::path::Path;

pub use super::escape::escape_html;
use super::table::Table;
use super::{write_atomic, ReportError};

/// Escapes `s` and renders the two inline Markdown marks the reports use: `` `code` `` as
/// `<code>` and `**bold**` as `<strong>` (an unpaired mark is kept as text).
pub fn inline_markdown(s: &str) -> String {
    fn paired(s: &str, mark: &str, tag: &str, inner: &dyn Fn(&str) -> String) -> String {
        let parts: Vec<&str> = s.split(mark).collect();
        let mut out = String::with_capacity(s.len() + 16);
        let n = parts.len();
        for (i, part) in parts.iter().enumerate() {
            // Odd parts sit between a pair of marks; the last odd part has no closing mark
            // when the count is even.
            if i % 2 == 1 && (i + 1 < n || n % 2 == 1) {
                out.push_str(&format!("<{tag}>{}</{tag}>", inner(part)));
            } else {
                if i % 2 == 1 {
                    out.push_str(&escape_html(mark));
                }
                out.push_str(&inner(part));
            }
        }
        out
    }
    // Code spans first (nothing inside them is bold), then bold in the text between them.
    let bold = |t: &str| paired(t, "**", "strong", &|x: &str| escape_html(x));
    let parts: Vec<&str> = s.split('`').collect();
    let n = parts.len();
    let mut out = String::with_capacity(s.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 && (i + 1 < n || n % 2 == 1) {
            out.push_str(&format!("<code>{}</code>", escape_html(part)));
        } else {
            if i % 2 == 1 {
                out.push('`');
            }
            out.push_str(&bold(part));
        }
    }
    out
}

/// Standard base64 (RFC 4648, with `=` padding).
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[derive(Clone, Debug)]
enum Block {
    Heading(u8, String),
    Paragraph(String),
    Pre(String),
    Table(Table),
    Image {
        src: String,
        alt: String,
        caption: String,
    },
    Raw(String),
}

/// An HTML page built block by block, then rendered or saved.
#[derive(Clone, Debug)]
pub struct HtmlReport {
    title: String,
    blocks: Vec<Block>,
}

const CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;\
max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1,h2,h3{line-height:1.2}h1{border-bottom:2px solid #ddd;padding-bottom:.3em}\
table{border-collapse:collapse;margin:1em 0;font-size:.92em}\
caption{font-weight:600;text-align:left;padding:.3em 0}\
th,td{border:1px solid #ccc;padding:.3em .7em;text-align:left}\
th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}\
.r{text-align:right;font-variant-numeric:tabular-nums}.c{text-align:center}\
figure{margin:1em 0}figure img{max-width:100%;image-rendering:pixelated;border:1px solid #eee}\
figcaption{color:#555;font-size:.9em}\
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.88em}";

impl HtmlReport {
    /// A page with `title` (shown as `<title>` and the top `<h1>`).
    pub fn new(title: impl Into<String>) -> Self {
        HtmlReport {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    /// Adds a section heading; `level` is clamped to 2..=6 (1 is the title).
    pub fn heading(&mut self, level: u8, text: impl Into<String>) -> &mut Self {
        self.blocks
            .push(Block::Heading(level.clamp(2, 6), text.into()));
        self
    }

    /// Adds a paragraph of plain text (escaped; blank lines split paragraphs).
    pub fn paragraph(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    /// Adds preformatted text (e.g. a Markdown table or a command line).
    pub fn pre(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Pre(text.into()));
        self
    }

    /// Adds a table.
    pub fn table(&mut self, table: &Table) -> &mut Self {
        self.blocks.push(Block::Table(table.clone()));
        self
    }

    /// Adds a PNG image embedded as a base64 data URI.
    pub fn image_png(
        &mut self,
        png: &[u8],
        alt: impl Into<String>,
        caption: impl Into<String>,
    ) -> &mut Self {
        self.blocks.push(Block::Image {
            src: format!("data:image/png;base64,{}", base64_encode(png)),
            alt: alt.into(),
            caption: caption.into(),
        });
        self
    }

    /// Adds an image referenced by a (relative) path or URL. Backslashes are
    /// turned into `/` so Windows paths work in browsers.
    pub fn image_link(
        &mut self,
        src: impl AsRef<str>,
        alt: impl Into<String>,
        caption: impl Into<String>,
    ) -> &mut Self {
        self.blocks.push(Block::Image {
            src: src.as_ref().replace('\\', "/"),
            alt: alt.into(),
            caption: caption.into(),
        });
        self
    }

    /// Inserts HTML verbatim (not escaped).
    pub fn raw_html(&mut self, html: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Raw(html.into()));
        self
    }

    /// The complete HTML document.
    pub fn render(&self) -> String {
        let title = escape_html(&self.title);
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
        );
        for b in &self.blocks {
            match b {
                Block::Heading(l, t) => out.push_str(&format!("<h{l}>{}</h{l}>\n", escape_html(t))),
                Block::Paragraph(t) => {
                    for p in t.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
                        out.push_str(&format!("<p>{}</p>\n", inline_markdown(p)));
                    }
                }
                Block::Pre(t) => out.push_str(&format!("<pre>{}</pre>\n", escape_html(t))),
                Block::Table(t) => out.push_str(&t.to_html()),
                Block::Image { src, alt, caption } => {
                    out.push_str(&format!(
                        "<figure><img src=\"{}\" alt=\"{}\">",
                        escape_html(src),
                        escape_html(alt)
                    ));
                    if !caption.is_empty() {
                        out.push_str(&format!(
                            "<figcaption>{}</figcaption>",
                            escape_html(caption)
                        ));
                    }
                    out.push_str("</figure>\n");
                }
                Block::Raw(h) => {
                    out.push_str(h);
                    out.push('\n');
                }
            }
        }
        out.push_str("</body>\n</html>\n");
        out
    }

    /// Writes the page to `path` atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ReportError> {
        write_atomic(path, self.render().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_markdown_code_and_bold() {
        assert_eq!(
            inline_markdown("a `x<y` and **b & c**"),
            "a <code>x&lt;y</code> and <strong>b &amp; c</strong>"
        );
        // Bold marks inside code stay literal; unpaired marks are kept.
        assert_eq!(inline_markdown("`**`"), "<code>**</code>");
        assert_eq!(inline_markdown("a ` b"), "a ` b");
        assert_eq!(inline_markdown("**a** **b"), "<strong>a</strong> **b");
        assert_eq!(inline_markdown("plain"), "plain");
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, enc) in cases {
            assert_eq!(base64_encode(plain.as_bytes()), enc);
        }
        assert_eq!(base64_encode(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_html("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
    }

    #[test]
    fn page_has_blocks_in_order() {
        let mut t = Table::new("T", ["a"]);
        t.push_row(["<1>"]);
        let mut r = HtmlReport::new("Report <1>");
        r.heading(2, "Grid")
            .paragraph("first & one\n\nsecond")
            .image_png(&[1, 2, 3], "alt \"x\"", "cap")
            .image_link("imgs\\g.png", "", "")
            .table(&t)
            .pre("| a |");
        let html = r.render();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>Report &lt;1&gt;</title>"));
        assert!(html.contains("<p>first &amp; one</p>\n<p>second</p>"));
        assert!(html.contains("src=\"data:image/png;base64,AQID\" alt=\"alt &quot;x&quot;\""));
        assert!(html.contains("<figcaption>cap</figcaption>"));
        assert!(html.contains("src=\"imgs/g.png\""));
        assert!(html.contains("<td>&lt;1&gt;</td>"));
        let (h, p, tab) = (
            html.find("<h2>").unwrap(),
            html.find("<p>").unwrap(),
            html.find("<table>").unwrap(),
        );
        assert!(h < p && p < tab);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.html");
        r.save(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), html);
    }
}
