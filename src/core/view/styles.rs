//! How the screen marked up an answer: runs of bold characters (headings, `**bold**`) and
//! of the profile's inline-code colour, learned from the cells of the rows the view reads
//! as answer text, so that an answer sent from the screen (no transcript) keeps them.

use std::sync::Arc;

use crate::core::profile::{Classified, Kind, TextStyles};
use crate::term::screen::{colour_name, text_hash, Row};

/// Distinct rows remembered before the tables start afresh.
const KEPT: usize = 8192;

/// Characters `start..end` (of a text line as the view holds it) drawn so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub bold: bool,
    pub code: bool,
}

/// The markup of answer lines, by their text.
#[derive(Debug, Default)]
pub struct Styles {
    /// Rows already looked at (by their hash): each distinct row once.
    rows: rustc_hash::FxHashSet<u64>,
    /// A line's spans, by the hash of its text as the view holds it.
    spans: rustc_hash::FxHashMap<u64, Arc<[Span]>>,
}

impl Styles {
    /// Whether a row has been looked at already.
    pub fn seen(&self, row: &Row) -> bool {
        self.rows.contains(&row.hash)
    }

    /// Learns the markup of a row the profile read as answer text, from the style of
    /// each of its characters (`cells`, see `Screen::row_styles`).
    pub fn learn(
        &mut self,
        wanted: &TextStyles,
        row: &Row,
        class: &Classified,
        cells: &[(bool, vt100::Color)],
    ) {
        if self.rows.len() > KEPT || self.spans.len() > KEPT {
            self.rows.clear();
            self.spans.clear();
        }
        self.rows.insert(row.hash);
        let content = match class.kind {
            Kind::Assistant => class.fields.get("text").cloned().unwrap_or_default(),
            Kind::Text => row.text.clone(),
            _ => return,
        };
        let content = clean(&content);
        let line = clean_keep(&row.text);
        let Some(at) = line.find(&content) else {
            return;
        };
        let offset = line[..at].chars().count();
        // A colour is named once per change of colour along the row, not per character.
        let mut last: Option<(vt100::Color, bool)> = None;
        let mut is_code = |fg: vt100::Color| match last {
            Some((c, code)) if c == fg => code,
            _ => {
                let code = wanted.code_fg.contains(&colour_name(fg));
                last = Some((fg, code));
                code
            }
        };
        let styles: Vec<(bool, bool)> = (0..content.chars().count())
            .map(|k| match cells.get(offset + k) {
                Some((bold, fg)) => (wanted.bold && *bold, is_code(*fg)),
                None => (false, false),
            })
            .collect();
        let spans = spans_of(&content, &styles);
        if !spans.is_empty() {
            self.spans.insert(text_hash(&content), spans.into());
        }
    }

    /// The spans of a line of answer text (as the view holds it), if it has any.
    pub fn of(&self, line: &str) -> Option<&[Span]> {
        self.spans.get(&text_hash(line)).map(|s| &s[..])
    }
}

/// Runs of styled characters; blanks between two runs of the same style belong to them
/// (Claude Code moves the cursor over the spaces between words instead of drawing them).
fn spans_of(content: &str, styles: &[(bool, bool)]) -> Vec<Span> {
    let chars: Vec<char> = content.chars().collect();
    let mut styles = styles.to_vec();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ' ' {
            let start = i;
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            if start > 0 && i < chars.len() && styles[start - 1] == styles[i] {
                let fill = styles[i];
                styles[start..i].iter_mut().for_each(|s| *s = fill);
            }
        } else {
            i += 1;
        }
    }
    let mut spans = Vec::new();
    let mut start = 0;
    for k in 1..=chars.len() {
        if k == chars.len() || styles[k] != styles[start] {
            let (bold, code) = styles[start];
            if bold || code {
                spans.push(Span {
                    start,
                    end: k,
                    bold,
                    code,
                });
            }
            start = k;
        }
    }
    spans
}

/// A line's text as the view holds it (see `turn::clean`).
fn clean(text: &str) -> String {
    text.replace('\u{a0}', " ").trim().to_string()
}

/// The row's text with the same characters as [`clean`], not trimmed.
fn clean_keep(text: &str) -> String {
    text.replace('\u{a0}', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_take_the_blanks_between_their_words() {
        let styles: Vec<(bool, bool)> = "Why bother: use venv"
            .chars()
            .enumerate()
            .map(|(i, c)| (i < 10 && c != ' ', (16..20).contains(&i)))
            .collect();
        assert_eq!(
            spans_of("Why bother: use venv", &styles),
            [
                Span {
                    start: 0,
                    end: 10,
                    bold: true,
                    code: false
                },
                Span {
                    start: 16,
                    end: 20,
                    bold: false,
                    code: true
                },
            ]
        );
    }
}
