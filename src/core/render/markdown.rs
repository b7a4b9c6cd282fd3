//! Markdown (an answer as the model wrote it, from the program's transcript) → Telegram
//! HTML pieces, with pulldown-cmark as the parser.
//!
//! Telegram has no headings, lists or tables, so: headings are bold, list items keep their
//! bullet or number (nested ones indented), tables become aligned monospace `<pre>`
//! (widths by `unicode-width`, so CJK and emoji line up), a horizontal rule is a line.
//! Code blocks become `<pre><code class="language-…">`, which Telegram copies as a block;
//! they are pieces of their own so [`pack`](super::html::pack) keeps them whole where they
//! fit. Links become `<a href>` only for addresses Telegram opens safely (http, https,
//! tg, mailto); any other is shown as its text. Raw HTML in the markdown is text.

use pulldown_cmark::{Alignment, CodeBlockKind, Event, Options, Parser, Tag as Md, TagEnd};
use unicode_width::UnicodeWidthStr;

use super::html::{Piece, Tag, Token};

/// The rule drawn for `---`.
const RULE: &str = "──────────";

/// The pieces of a markdown text, in order.
pub fn pieces(markdown: &str) -> Vec<Piece> {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut b = Builder::default();
    for event in Parser::new_ext(markdown, options) {
        b.event(event);
    }
    b.flush();
    b.pieces
}

/// The words of a markdown text as a reader sees them (no markup), for matching an
/// answer from the transcript with the one on screen.
pub fn plain(markdown: &str) -> String {
    pieces(markdown)
        .iter()
        .filter_map(Piece::plain_text)
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[derive(Default)]
struct Table {
    align: Vec<Alignment>,
    rows: Vec<Vec<String>>,
    head_rows: usize,
}

#[derive(Default)]
struct Builder {
    pieces: Vec<Piece>,
    /// The rich text being built (a paragraph, a heading, a whole list).
    rich: Vec<Token>,
    /// Inline entities open in `rich`.
    depth: usize,
    /// Block quotes around the current text (Telegram does not nest them: one wrapper).
    quote: usize,
    /// Open lists, innermost last: the next number of an ordered one.
    lists: Vec<Option<u64>>,
    /// A code block being read: its language and text.
    code: Option<(Option<String>, String)>,
    table: Option<Table>,
    /// Per open link or image: whether it opened an entity.
    links: Vec<bool>,
    /// A list item's marker was just written: its first paragraph goes on that line.
    after_marker: bool,
}

impl Builder {
    fn event(&mut self, event: Event) {
        if let Some((_, text)) = self.code.as_mut() {
            match event {
                Event::Text(t) => text.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    let (lang, mut text) = self.code.take().unwrap_or_default();
                    if text.ends_with('\n') {
                        text.pop();
                    }
                    if !text.trim().is_empty() {
                        self.pieces.push(Piece::Code { text, lang });
                    }
                }
                _ => {}
            }
            return;
        }
        if let Some(table) = self.table.as_mut() {
            match event {
                Event::Start(Md::TableRow) | Event::Start(Md::TableHead) => {
                    table.rows.push(Vec::new())
                }
                Event::End(TagEnd::TableHead) => table.head_rows = table.rows.len(),
                Event::Start(Md::TableCell) => {
                    if let Some(row) = table.rows.last_mut() {
                        row.push(String::new());
                    }
                }
                Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                    if let Some(cell) = table.rows.last_mut().and_then(|r| r.last_mut()) {
                        cell.push_str(&t);
                    }
                }
                Event::SoftBreak | Event::HardBreak => {
                    if let Some(cell) = table.rows.last_mut().and_then(|r| r.last_mut()) {
                        cell.push(' ');
                    }
                }
                Event::End(TagEnd::Table) => {
                    let table = self.table.take().unwrap_or_default();
                    self.pieces.push(Piece::Pre(table_text(&table)));
                }
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) => self.text(&t),
            Event::InlineMath(t) | Event::DisplayMath(t) => self.text(&t),
            Event::Code(t) => {
                self.after_marker = false;
                self.rich.push(Token::Open(Tag::Code));
                self.rich.push(Token::Text(t.to_string()));
                self.rich.push(Token::Close);
            }
            Event::SoftBreak | Event::HardBreak => self.text("\n"),
            Event::Rule => {
                self.flush();
                self.pieces.push(Piece::Text(RULE.into()));
            }
            Event::TaskListMarker(done) => self.text(if done { "☑ " } else { "☐ " }),
            Event::FootnoteReference(name) => self.text(&format!("[{name}]")),
        }
    }

    fn start(&mut self, tag: Md) {
        match tag {
            Md::Paragraph | Md::HtmlBlock => self.line_break_in_list(),
            Md::Heading { .. } => {
                self.line_break_in_list();
                self.open(Tag::Bold);
            }
            Md::BlockQuote(_) => {
                self.flush();
                self.quote += 1;
            }
            Md::CodeBlock(kind) => {
                self.flush();
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => language(&info),
                    CodeBlockKind::Indented => None,
                };
                self.code = Some((lang, String::new()));
            }
            Md::List(start) => {
                if self.lists.is_empty() {
                    self.flush();
                }
                self.lists.push(start);
            }
            Md::Item => {
                self.line_break_in_list();
                let indent = "  ".repeat(self.lists.len().saturating_sub(1));
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ => "• ".into(),
                };
                self.text(&format!("{indent}{marker}"));
                self.after_marker = true;
            }
            Md::Table(align) => {
                self.flush();
                self.table = Some(Table {
                    align,
                    ..Table::default()
                });
            }
            Md::Emphasis => self.open(Tag::Italic),
            Md::Strong => self.open(Tag::Bold),
            Md::Strikethrough => self.open(Tag::Strike),
            Md::Link { dest_url, .. } | Md::Image { dest_url, .. } => {
                let safe = opens_safely(&dest_url);
                if safe {
                    self.open(Tag::Link(dest_url.to_string()));
                }
                self.links.push(safe);
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::HtmlBlock => self.end_block(),
            TagEnd::Heading(_) => {
                self.close();
                self.end_block();
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.quote = self.quote.saturating_sub(1);
            }
            TagEnd::List(_) => {
                self.lists.pop();
                if self.lists.is_empty() {
                    self.flush();
                }
            }
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => self.close(),
            TagEnd::Link | TagEnd::Image => self.end_link(),
            _ => {}
        }
    }

    /// A link or image ends: its entity closes, if it opened one.
    fn end_link(&mut self) {
        if self.links.pop() == Some(true) {
            self.close();
        }
    }

    fn open(&mut self, tag: Tag) {
        self.rich.push(Token::Open(tag));
        self.depth += 1;
    }

    fn close(&mut self) {
        if self.depth > 0 {
            self.rich.push(Token::Close);
            self.depth -= 1;
        }
    }

    fn text(&mut self, text: &str) {
        self.after_marker = false;
        if let Some(Token::Text(last)) = self.rich.last_mut() {
            last.push_str(text);
        } else {
            self.rich.push(Token::Text(text.to_string()));
        }
    }

    /// A block ends: outside a list it is a piece of its own; in a list the list goes on.
    fn end_block(&mut self) {
        if self.lists.is_empty() {
            self.flush();
        }
    }

    /// A new line inside a list, unless the text is at a line's start already.
    fn line_break_in_list(&mut self) {
        if self.lists.is_empty() || self.after_marker {
            return;
        }
        let at_start = match self.rich.iter().rev().find_map(|t| match t {
            Token::Text(t) => Some(t),
            _ => None,
        }) {
            None => true,
            Some(t) => t.ends_with('\n'),
        };
        if !at_start {
            self.text("\n");
        }
    }

    /// The rich text so far becomes a piece (inside a quote if one is open).
    fn flush(&mut self) {
        while self.depth > 0 {
            self.close();
        }
        let mut tokens = std::mem::take(&mut self.rich);
        // Trailing line breaks (a list's last item) would show as blank lines.
        if let Some(Token::Text(t)) = tokens.last_mut() {
            let trimmed = t.trim_end_matches('\n').len();
            t.truncate(trimmed);
        }
        let visible = tokens
            .iter()
            .any(|t| matches!(t, Token::Text(t) if !t.trim().is_empty()));
        if !visible {
            return;
        }
        if self.quote > 0 {
            tokens.insert(0, Token::Open(Tag::Quote));
            tokens.push(Token::Close);
        }
        self.pieces.push(Piece::Rich(tokens));
    }
}

/// A fenced block's language: the info string's first word, if it looks like one.
fn language(info: &str) -> Option<String> {
    let word = info.split_whitespace().next()?;
    let ok = word.len() <= 32
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-#._".contains(c));
    ok.then(|| word.to_ascii_lowercase())
}

/// Whether Telegram may open this address as a link: web, Telegram and mail only.
fn opens_safely(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once(':') else {
        return false;
    };
    let scheme = scheme.to_ascii_lowercase();
    !rest.is_empty()
        && matches!(scheme.as_str(), "http" | "https" | "tg" | "mailto")
        && !url.chars().any(char::is_whitespace)
}

/// A table as aligned monospace lines: cells padded to their column's display width,
/// ` │ ` between columns, a rule under the header.
fn table_text(table: &Table) -> String {
    let columns = table.rows.iter().map(Vec::len).max().unwrap_or(0);
    let cell = |row: &Vec<String>, i: usize| row.get(i).map_or("", |c| c.trim()).to_string();
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            table
                .rows
                .iter()
                .map(|r| cell(r, i).width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut lines = Vec::new();
    for (n, row) in table.rows.iter().enumerate() {
        let cells: Vec<String> = (0..columns)
            .map(|i| {
                let text = cell(row, i);
                let pad = widths[i].saturating_sub(text.width());
                match table.align.get(i) {
                    Some(Alignment::Right) => format!("{}{text}", " ".repeat(pad)),
                    Some(Alignment::Center) => {
                        format!("{}{text}{}", " ".repeat(pad / 2), " ".repeat(pad - pad / 2))
                    }
                    _ => format!("{text}{}", " ".repeat(pad)),
                }
            })
            .collect();
        lines.push(cells.join(" │ ").trim_end().to_string());
        if n + 1 == table.head_rows {
            let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
            lines.push(rule.join("─┼─"));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::super::html::{pack, MESSAGE_LIMIT};
    use super::*;

    fn html(md: &str) -> String {
        pack(pieces(md), MESSAGE_LIMIT).join("\n\n")
    }

    #[test]
    fn headings_are_bold_with_their_inline_code_inside() {
        assert_eq!(
            html("# Python virtual environments\n\n## The `venv` module"),
            "<b>Python virtual environments</b>\n\n<b>The <code>venv</code> module</b>"
        );
    }

    #[test]
    fn emphasis_bold_strikethrough_and_inline_code() {
        assert_eq!(
            html("Use **pip** or *uv*, not ~~easy_install~~; run `pip freeze > a.txt`."),
            "Use <b>pip</b> or <i>uv</i>, not <s>easy_install</s>; run <code>pip freeze &gt; a.txt</code>."
        );
    }

    #[test]
    fn a_fenced_block_is_copyable_code_with_its_language() {
        assert_eq!(
            html("Run:\n\n```Python\nif a < b:\n    print(\"x & y\")\n```\n"),
            "Run:\n\n<pre><code class=\"language-python\">if a &lt; b:\n    print(\"x &amp; y\")</code></pre>"
        );
        assert_eq!(html("    indented\n    code"), "<pre>indented\ncode</pre>");
    }

    #[test]
    fn only_safe_links_become_links() {
        assert_eq!(
            html("[docs](https://docs.python.org/3/library/venv.html?a=1&b=\"2\") and [x](javascript:alert(1))"),
            "<a href=\"https://docs.python.org/3/library/venv.html?a=1&amp;b=&quot;2&quot;\">docs</a> and x"
        );
        assert_eq!(
            html("<https://example.com>"),
            "<a href=\"https://example.com\">https://example.com</a>"
        );
    }

    #[test]
    fn lists_keep_their_numbers_bullets_and_nesting() {
        assert_eq!(
            html("3. three\n4. four\n   - sub **bold**\n   - [x] done\n\nAfter."),
            "3. three\n4. four\n  • sub <b>bold</b>\n  • ☑ done\n\nAfter."
        );
        assert_eq!(html("- `a`\n  - b"), "• <code>a</code>\n  • b");
        // A loose list reads the same.
        assert_eq!(html("- a\n\n- b\n"), "• a\n• b");
    }

    #[test]
    fn a_code_block_inside_a_list_stays_a_block() {
        let out =
            html("1. Create it:\n\n   ```bash\n   python3 -m venv .venv\n   ```\n2. Activate it.");
        assert_eq!(
            out,
            "1. Create it:\n\n<pre><code class=\"language-bash\">python3 -m venv .venv</code></pre>\n\n2. Activate it."
        );
    }

    #[test]
    fn tables_are_aligned_monospace_with_wide_characters_counted_twice() {
        let out = html("| Tool | 速度 | n |\n|:-----|:----:|--:|\n| uv | 很快 | 1 |\n| venv + pip | ok | 22 |\n");
        assert_eq!(
            out,
            "<pre>Tool       │ 速度 │  n\n───────────┼──────┼───\nuv         │ 很快 │  1\nvenv + pip │  ok  │ 22</pre>"
        );
    }

    #[test]
    fn quotes_rules_and_raw_html() {
        assert_eq!(
            html("> quoted *text*\n> > nested\n\n---\n\n<div>raw</div>"),
            "<blockquote>quoted <i>text</i></blockquote>\n\n<blockquote>nested</blockquote>\n\n──────────\n\n&lt;div&gt;raw&lt;/div&gt;"
        );
    }

    #[test]
    fn a_long_code_block_is_closed_and_reopened_with_its_language() {
        let code: Vec<String> = (0..400).map(|i| format!("print({i})  # <{i}>")).collect();
        let md = format!("Intro.\n\n```python\n{}\n```\n", code.join("\n"));
        let messages = pack(pieces(&md), MESSAGE_LIMIT);
        assert!(messages.len() >= 3, "{}", messages.len());
        for m in &messages[1..] {
            assert!(
                m.starts_with("<pre><code class=\"language-python\">"),
                "{m}"
            );
            assert!(m.ends_with("</code></pre>"), "{m}");
        }
        let joined: String = messages
            .iter()
            .map(|m| super::super::html::plain(m))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(joined.matches("print(").count(), 400);
    }

    #[test]
    fn a_long_formatted_paragraph_is_cut_with_its_tags_balanced() {
        let md = format!("**{}**", "bold words ".repeat(900).trim_end());
        let messages = pack(pieces(&md), MESSAGE_LIMIT);
        assert_eq!(messages.len(), 3);
        for m in &messages {
            assert!(m.starts_with("<b>") && m.ends_with("</b>"), "{m}");
            assert!(super::super::html::plain(m).chars().count() <= MESSAGE_LIMIT);
        }
    }

    #[test]
    fn plain_text_of_markdown_has_no_markup() {
        assert_eq!(
            plain("# Title\n\nSome **bold** and `code`."),
            "Title\n\nSome bold and code."
        );
    }
}
