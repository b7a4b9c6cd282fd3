//! Telegram HTML: escaping, re-joining wrapped lines, and splitting long texts.
//!
//! Telegram accepts a small HTML subset and at most 4096 characters of text after
//! entities are parsed. Texts are built from *pieces* — a paragraph of plain text or a
//! `<pre>` block — and packed into messages; a piece too long for one message is cut at
//! line boundaries (words, as a last resort), and a `<pre>` cut in two is closed and
//! reopened, so no message ever ends inside a tag or an entity.

use crate::core::view::Span;

/// Characters of visible text per message: Telegram's 4096 with room to spare.
pub const MESSAGE_LIMIT: usize = 4000;

/// Escapes text for Telegram HTML (`&`, `<`, `>`).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an attribute value (a link's address) for Telegram HTML.
pub fn escape_attr(text: &str) -> String {
    escape(text).replace('"', "&quot;")
}

/// A unit of a message's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Plain text, lines kept; escaped when rendered.
    Text(String),
    /// Preformatted text (a table, code), escaped inside `<pre>`.
    Pre(String),
    /// A code block: `<pre><code class="language-…">`, which Telegram copies as a block.
    Code { text: String, lang: Option<String> },
    /// Formatted text (a paragraph, a heading, a list): balanced tokens, cut between
    /// any two characters with the open tags closed and reopened.
    Rich(Vec<Token>),
    /// Ready HTML, short (a heading, a status line); never cut.
    Html { html: String, visible: usize },
}

/// A Telegram entity of rich text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tag {
    Bold,
    Italic,
    Strike,
    Code,
    /// A link to this address (already known to be one Telegram opens).
    Link(String),
    Quote,
}

impl Tag {
    fn open(&self) -> String {
        match self {
            Tag::Bold => "<b>".into(),
            Tag::Italic => "<i>".into(),
            Tag::Strike => "<s>".into(),
            Tag::Code => "<code>".into(),
            Tag::Link(href) => format!("<a href=\"{}\">", escape_attr(href)),
            Tag::Quote => "<blockquote>".into(),
        }
    }

    fn close(&self) -> &'static str {
        match self {
            Tag::Bold => "</b>",
            Tag::Italic => "</i>",
            Tag::Strike => "</s>",
            Tag::Code => "</code>",
            Tag::Link(_) => "</a>",
            Tag::Quote => "</blockquote>",
        }
    }
}

/// Rich text as a stream: an entity opens, text, the innermost open entity closes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Open(Tag),
    Close,
    Text(String),
}

/// Rich tokens as HTML. Tokens are balanced by whoever built them; a stray close is
/// dropped and an unclosed tag closed, so the HTML is always balanced.
fn render_rich(tokens: &[Token]) -> String {
    let mut out = String::new();
    let mut stack: Vec<&Tag> = Vec::new();
    for token in tokens {
        match token {
            Token::Open(tag) => {
                out.push_str(&tag.open());
                stack.push(tag);
            }
            Token::Close => {
                if let Some(tag) = stack.pop() {
                    out.push_str(tag.close());
                }
            }
            Token::Text(text) => out.push_str(&escape(text)),
        }
    }
    while let Some(tag) = stack.pop() {
        out.push_str(tag.close());
    }
    out
}

/// Rich tokens cut into parts of at most `limit` visible characters, at a line break or
/// a space where one is near; each part closes what is open and the next reopens it.
fn cut_rich(tokens: Vec<Token>, limit: usize) -> Vec<Vec<Token>> {
    let limit = limit.max(1);
    let mut parts = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut visible = 0;
    let mut stack: Vec<Tag> = Vec::new();
    let finish = |current: &mut Vec<Token>,
                  stack: &[Tag],
                  visible: &mut usize,
                  parts: &mut Vec<Vec<Token>>| {
        current.extend(stack.iter().map(|_| Token::Close));
        parts.push(std::mem::replace(
            current,
            stack.iter().cloned().map(Token::Open).collect(),
        ));
        *visible = 0;
    };
    for token in tokens {
        match token {
            Token::Open(tag) => {
                stack.push(tag.clone());
                current.push(Token::Open(tag));
            }
            Token::Close => {
                if stack.pop().is_some() {
                    current.push(Token::Close);
                }
            }
            Token::Text(text) => {
                let mut rest = text.as_str();
                loop {
                    let n = rest.chars().count();
                    if visible + n <= limit {
                        if n > 0 {
                            current.push(Token::Text(rest.to_string()));
                            visible += n;
                        }
                        break;
                    }
                    let room = limit - visible;
                    let end = rest.char_indices().nth(room).map_or(rest.len(), |(i, _)| i);
                    let head = &rest[..end];
                    let brk = head
                        .rfind('\n')
                        .or_else(|| head.rfind(' '))
                        .filter(|i| *i > 0);
                    if let Some(i) = brk {
                        current.push(Token::Text(rest[..i].to_string()));
                        rest = &rest[i + 1..];
                    } else if visible == 0 {
                        current.push(Token::Text(head.to_string()));
                        rest = &rest[end..];
                    }
                    finish(&mut current, &stack, &mut visible, &mut parts);
                }
            }
        }
    }
    if visible > 0 {
        parts.push(current);
    }
    parts
}

impl Piece {
    pub fn html(html: impl Into<String>, visible: usize) -> Piece {
        Piece::Html {
            html: html.into(),
            visible,
        }
    }

    fn visible(&self) -> usize {
        match self {
            Piece::Text(t) | Piece::Pre(t) | Piece::Code { text: t, .. } => t.chars().count(),
            Piece::Rich(tokens) => tokens
                .iter()
                .map(|t| match t {
                    Token::Text(t) => t.chars().count(),
                    _ => 0,
                })
                .sum(),
            Piece::Html { visible, .. } => *visible,
        }
    }

    /// The text a reader sees, for a live message that shows it unformatted.
    pub fn plain_text(&self) -> Option<String> {
        match self {
            Piece::Text(t) | Piece::Pre(t) | Piece::Code { text: t, .. } => Some(t.clone()),
            Piece::Rich(tokens) => Some(
                tokens
                    .iter()
                    .filter_map(|t| match t {
                        Token::Text(t) => Some(t.as_str()),
                        _ => None,
                    })
                    .collect(),
            ),
            Piece::Html { .. } => None,
        }
    }

    fn render(&self) -> String {
        match self {
            Piece::Text(t) => escape(t),
            Piece::Pre(t) => format!("<pre>{}</pre>", escape(t)),
            Piece::Code { text, lang: None } => format!("<pre>{}</pre>", escape(text)),
            Piece::Code {
                text,
                lang: Some(lang),
            } => format!(
                "<pre><code class=\"language-{}\">{}</code></pre>",
                escape_attr(lang),
                escape(text)
            ),
            Piece::Rich(tokens) => render_rich(tokens),
            Piece::Html { html, .. } => html.clone(),
        }
    }

    /// Cuts the piece into parts of at most `limit` visible characters.
    fn cut(self, limit: usize) -> Vec<Piece> {
        if self.visible() <= limit {
            return vec![self];
        }
        let (text, lang, pre) = match self {
            Piece::Text(t) => (t, None, false),
            Piece::Pre(t) => (t, None, true),
            Piece::Code { text, lang } => (text, lang, true),
            Piece::Rich(tokens) => {
                return cut_rich(tokens, limit)
                    .into_iter()
                    .map(Piece::Rich)
                    .collect()
            }
            html @ Piece::Html { .. } => return vec![html],
        };
        let mut parts = Vec::new();
        let mut current = String::new();
        for line in split_long_lines(&text, limit) {
            let extra = line.chars().count() + usize::from(!current.is_empty());
            if !current.is_empty() && current.chars().count() + extra > limit {
                parts.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(&line);
        }
        if !current.is_empty() {
            parts.push(current);
        }
        parts
            .into_iter()
            .map(|p| match (&lang, pre) {
                (Some(lang), _) => Piece::Code {
                    text: p,
                    lang: Some(lang.clone()),
                },
                (None, true) => Piece::Pre(p),
                (None, false) => Piece::Text(p),
            })
            .collect()
    }
}

/// The lines of `text`, a line longer than `limit` cut at spaces (or anywhere).
fn split_long_lines(text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.split('\n') {
        let mut rest: Vec<char> = line.chars().collect();
        while rest.len() > limit {
            let cut = rest[..limit]
                .iter()
                .rposition(|c| *c == ' ')
                .filter(|i| *i > 0)
                .unwrap_or(limit);
            out.push(rest[..cut].iter().collect());
            rest = rest[cut..]
                .iter()
                .skip_while(|c| **c == ' ')
                .copied()
                .collect();
        }
        out.push(rest.into_iter().collect());
    }
    out
}

/// Packs pieces into message texts of at most `limit` visible characters each; pieces
/// are separated by a blank line.
pub fn pack(pieces: Vec<Piece>, limit: usize) -> Vec<String> {
    let mut messages = Vec::new();
    let mut html = String::new();
    let mut visible = 0;
    for piece in pieces.into_iter().flat_map(|p| p.cut(limit)) {
        let size = piece.visible();
        let sep = if html.is_empty() { 0 } else { 2 };
        if !html.is_empty() && visible + sep + size > limit {
            messages.push(std::mem::take(&mut html));
            visible = 0;
        }
        if !html.is_empty() {
            html.push_str("\n\n");
            visible += 2;
        }
        html.push_str(&piece.render());
        visible += size;
    }
    if !html.is_empty() {
        messages.push(html);
    }
    messages
}

/// Assistant text as Claude Code drew it → pieces: lines that Claude Code wrapped at the
/// terminal's width are joined back into paragraphs; lists keep their items; tables
/// (box-drawing characters) become `<pre>`.
pub fn paragraphs(lines: &[String], cols: usize) -> Vec<Piece> {
    styled_paragraphs(lines, cols, |_| None)
}

/// [`paragraphs`] keeping what the screen drew bold or as inline code: `styles` gives a
/// line's [`Span`]s.
pub fn styled_paragraphs(
    lines: &[String],
    cols: usize,
    styles: impl Fn(&str) -> Option<Vec<Span>>,
) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    // The (bold, code) marks of each character of `text`.
    let mut marks: Vec<(bool, bool)> = Vec::new();
    let mut table = String::new();
    let mut prev_len = 0usize;
    let flush_text = |text: &mut String, marks: &mut Vec<(bool, bool)>, pieces: &mut Vec<Piece>| {
        if !text.is_empty() {
            let text = std::mem::take(text);
            let marks = std::mem::take(marks);
            if marks.iter().any(|(b, c)| *b || *c) {
                pieces.push(Piece::Rich(marked_tokens(&text, &marks)));
            } else {
                pieces.push(Piece::Text(text));
            }
        }
        marks.clear();
    };
    for line in lines {
        if line.is_empty() {
            flush_text(&mut text, &mut marks, &mut pieces);
            if !table.is_empty() {
                pieces.push(Piece::Pre(table_rows(&std::mem::take(&mut table))));
            }
            prev_len = 0;
            continue;
        }
        if is_table_line(line) {
            flush_text(&mut text, &mut marks, &mut pieces);
            if !table.is_empty() {
                table.push('\n');
            }
            table.push_str(line);
            continue;
        }
        if !table.is_empty() {
            pieces.push(Piece::Pre(table_rows(&std::mem::take(&mut table))));
        }
        // Drawn lines are indented by two; a wrapped line reached the right edge.
        let wrapped = prev_len + 2 + 12 >= cols && !starts_item(line);
        let mut line_marks = vec![(false, false); line.chars().count()];
        for span in styles(line).unwrap_or_default() {
            for m in line_marks.iter_mut().take(span.end).skip(span.start) {
                *m = (span.bold, span.code);
            }
        }
        if text.is_empty() {
        } else if wrapped {
            // A bold phrase wrapped over two lines stays one phrase.
            let around = marks.last().copied();
            let same = around.filter(|m| line_marks.first() == Some(m));
            text.push(' ');
            marks.push(same.unwrap_or((false, false)));
        } else {
            text.push('\n');
            marks.push((false, false));
        }
        text.push_str(line);
        marks.extend(line_marks);
        prev_len = line.chars().count();
    }
    flush_text(&mut text, &mut marks, &mut pieces);
    if !table.is_empty() {
        pieces.push(Piece::Pre(table_rows(&table)));
    }
    pieces
}

/// Text with a (bold, code) mark per character as rich tokens.
fn marked_tokens(text: &str, marks: &[(bool, bool)]) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut start = 0;
    for k in 1..=chars.len() {
        let mark = |i: usize| marks.get(i).copied().unwrap_or((false, false));
        if k < chars.len() && mark(k) == mark(start) {
            continue;
        }
        let (bold, code) = mark(start);
        let run: String = chars[start..k].iter().collect();
        if bold {
            tokens.push(Token::Open(Tag::Bold));
        }
        if code {
            tokens.push(Token::Open(Tag::Code));
        }
        tokens.push(Token::Text(run));
        tokens.extend((0..usize::from(bold) + usize::from(code)).map(|_| Token::Close));
        start = k;
    }
    tokens
}

/// A table as Claude Code draws it (box-drawing borders, cells wrapped over several
/// lines) → one line per row, cells in reading order: a phone has no room for the
/// terminal's layout, and a wrapped cell read line by line mixes up the words.
fn table_rows(table: &str) -> String {
    let mut rows: Vec<String> = Vec::new();
    let mut cells: Vec<String> = Vec::new();
    let flush = |cells: &mut Vec<String>, rows: &mut Vec<String>| {
        if cells.iter().any(|c| !c.is_empty()) {
            rows.push(cells.join(" │ "));
        }
        cells.clear();
    };
    // Claude Code rules rows apart when some row wraps; then only rules end rows.
    let ruled = table.lines().filter(|l| l.starts_with(['├', '╠'])).count() > 1;
    for line in table.lines() {
        if !line.starts_with(['│', '║']) {
            flush(&mut cells, &mut rows);
            continue;
        }
        let parts: Vec<&str> = line
            .trim_matches(|c| c == '│' || c == '║')
            .split(['│', '║'])
            .map(str::trim)
            .collect();
        // Rows are not always ruled apart: a line with every cell filled starts a row, a
        // line with empty cells continues the cells that wrapped.
        if !ruled && !cells.is_empty() && parts.iter().all(|p| !p.is_empty()) {
            flush(&mut cells, &mut rows);
        }
        if cells.len() < parts.len() {
            cells.resize(parts.len(), String::new());
        }
        for (cell, part) in cells.iter_mut().zip(parts) {
            if !part.is_empty() {
                if !cell.is_empty() {
                    cell.push(' ');
                }
                cell.push_str(part);
            }
        }
    }
    flush(&mut cells, &mut rows);
    rows.join("\n")
}

fn is_table_line(line: &str) -> bool {
    line.starts_with(['┌', '│', '├', '└', '╭', '╰', '║', '╔', '╚', '╠'])
}

/// A list item or a numbered step starts a line of its own.
fn starts_item(line: &str) -> bool {
    let t = line.trim_start();
    if t.starts_with("- ") || t.starts_with("• ") || t.starts_with("* ") {
        return true;
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && t[digits..].starts_with(". ")
}

/// Telegram HTML as the reader sees it.
pub fn plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            c => out.push(c),
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_three_characters_telegram_needs() {
        assert_eq!(escape("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
    }

    #[test]
    fn wrapped_lines_become_one_paragraph_but_lists_and_short_lines_stay() {
        let lines: Vec<String> = [
            "A virtual environment is a private copy of the interpreter's package",
            "area, one per project.",
            "",
            "- Isolation: every project pins its own versions and never breaks",
            "- Safety",
            "python3 -m venv .venv",
            "source .venv/bin/activate",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let pieces = paragraphs(&lines, 80);
        assert_eq!(
            pieces,
            [
                Piece::Text(
                    "A virtual environment is a private copy of the interpreter's package area, one per project.".into()
                ),
                Piece::Text(
                    "- Isolation: every project pins its own versions and never breaks\n- Safety\npython3 -m venv .venv\nsource .venv/bin/activate".into()
                ),
            ]
        );
    }

    #[test]
    fn a_table_with_wrapped_cells_reads_row_by_row() {
        let table = "┌──────┬─────────┐\n│ Tool │ Lock    │\n├──────┼─────────┤\n│ venv │ no (use │\n│ pip  │         │\n│      │ freeze) │\n│ uv   │ uv.lock │\n└──────┴─────────┘";
        assert_eq!(
            table_rows(table),
            "Tool │ Lock\nvenv pip │ no (use freeze)\nuv │ uv.lock"
        );
    }

    #[test]
    fn ruled_rows_keep_their_vertically_centred_cells_together() {
        let table = "┌────────┬───────┐\n│ Cmd    │ Does  │\n├────────┼───────┤\n│ git    │ Show  │\n│ log    │ it    │\n├────────┼───────┤\n│        │ Find  │\n│ bisect │ a bad │\n│        │ one   │\n└────────┴───────┘";
        assert_eq!(
            table_rows(table),
            "Cmd │ Does\ngit log │ Show it\nbisect │ Find a bad one"
        );
    }

    #[test]
    fn long_texts_are_cut_at_lines_and_pre_blocks_are_closed_and_reopened() {
        let code = (0..300)
            .map(|i| format!("line {i} <x>"))
            .collect::<Vec<_>>()
            .join("\n");
        let messages = pack(vec![Piece::Text("intro".into()), Piece::Pre(code)], 1000);
        assert!(messages.len() > 3);
        for m in &messages {
            let visible = m
                .replace("<pre>", "")
                .replace("</pre>", "")
                .replace("&lt;", "<")
                .replace("&gt;", ">");
            assert!(visible.chars().count() <= 1000, "{}", visible.len());
            assert_eq!(
                m.matches("<pre>").count(),
                m.matches("</pre>").count(),
                "{m}"
            );
            assert!(!m.contains("&lt\n") && !m.ends_with('&'));
        }
        assert!(messages[1].starts_with("<pre>line"));
    }

    #[test]
    fn a_single_endless_line_is_cut_at_spaces() {
        let text = "word ".repeat(2000);
        let messages = pack(vec![Piece::Text(text)], 500);
        assert!(messages.iter().all(|m| m.chars().count() <= 500));
        assert_eq!(messages.concat().matches("word").count(), 2000);
    }
}
