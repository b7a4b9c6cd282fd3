//! Blocking prompts: any menu with a `❯` cursor, numbered or not.
//!
//! Claude Code draws its prompts (permission boxes, the trust and API-key menus,
//! AskUserQuestion, plan approval) in place of the input box: a rule, the question and
//! its context, then the options, one of them behind `❯`. The options of one menu start
//! at the same column; deeper lines continue the option above (a wrapped label or a
//! description). Only the profile's `option` row is used, so a new menu layout is a data
//! change.

use crate::core::profile::{Kind, Profile};
use crate::term::keys::Key;

use super::Line;

/// One choice of a prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// The option's text as shown (wrapped lines joined; a description after ` — `).
    pub label: String,
    /// Its number, for numbered menus (the digit selects it at once).
    pub number: Option<u32>,
}

/// A prompt waiting for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    /// The question and its context (command, file, diff), as shown, indentation removed.
    pub context: Vec<String>,
    pub choices: Vec<Choice>,
    /// Which choice the cursor is on.
    pub highlighted: usize,
    /// The screen's width (where Claude Code wrapped the context lines).
    pub width: usize,
}

impl Prompt {
    /// The question: the last context line that asks one, or the last line.
    pub fn question(&self) -> &str {
        self.context
            .iter()
            .rev()
            .find(|l| l.trim_end().ends_with('?'))
            .or(self.context.last())
            .map_or("", |q| q.trim())
    }

    /// Whether two looks show the same prompt: the same question and choices (the
    /// cursor may have moved, a preview may have loaded).
    pub fn same_as(&self, other: &Prompt) -> bool {
        self.question() == other.question() && self.choices == other.choices
    }

    /// The keys that pick choice `index`: its digit, or for an unnumbered menu the arrows
    /// from the highlighted option to it and Enter (a blind Enter could pick `No, exit`).
    pub fn keys_for(&self, index: usize) -> Vec<Key> {
        let Some(choice) = self.choices.get(index) else {
            return Vec::new();
        };
        if let Some(n) = choice.number.filter(|n| *n <= 9) {
            return vec![Key::Digit(n as u8)];
        }
        let mut keys = Vec::new();
        let (from, to) = (self.highlighted, index);
        let arrow = if to > from { Key::Down } else { Key::Up };
        keys.extend(std::iter::repeat_n(arrow, from.abs_diff(to)));
        keys.push(Key::Enter);
        keys
    }
}

/// Columns at a box's right edge that a wrapped line never reaches (padding, border).
const WRAP_MARGIN: usize = 2;

/// A menu row: where its option marker starts and what it says.
struct OptionRow {
    column: usize,
    cursor: bool,
    number: Option<u32>,
    text: String,
}

fn option_row(profile: &Profile, line: &Line) -> Option<OptionRow> {
    let fields = profile.match_kind(Kind::Option, &line.text)?;
    let text = fields.get("text")?.clone();
    let number = fields.get("number").and_then(|n| n.parse().ok());
    let cursor = fields.contains_key("cursor");
    // The column of the number, or of the text for an unnumbered menu.
    let marker = match number {
        Some(n) => format!("{n}."),
        None => text.clone(),
    };
    let byte = line.text.find(&marker)?;
    let column = line.text[..byte].chars().count();
    Some(OptionRow {
        column,
        cursor,
        number,
        text,
    })
}

fn indent(text: &str) -> usize {
    text.chars().take_while(|c| c.is_whitespace()).count()
}

/// Finds a prompt on screen. `rows` are the screen's rows; the answer is the row where
/// the prompt's box starts, and the prompt.
pub fn find(profile: &Profile, rows: &[Line], cols: usize) -> Option<(usize, Prompt)> {
    // The lowest cursor line that heads a real menu.
    let cursor_row = rows
        .iter()
        .rposition(|l| option_row(profile, l).is_some_and(|o| o.cursor))?;
    let cursor = option_row(profile, &rows[cursor_row])?;
    // An unnumbered menu is indented; an unindented cursor line is the user's prompt.
    if cursor.number.is_none() && !rows[cursor_row].text.starts_with(char::is_whitespace) {
        return None;
    }
    let column = cursor.column;
    let numbered = cursor.number.is_some();
    let is_option_at = |i: usize| option_at(profile, &rows[i], column, numbered);
    // Upwards: options and their deeper continuation lines.
    let mut first = cursor_row;
    let mut i = cursor_row;
    while i > 0 {
        i -= 1;
        let l = &rows[i];
        if l.text.trim().is_empty() {
            break;
        }
        if is_option_at(i).is_some() {
            first = i;
        } else if indent(&l.text) <= column {
            break;
        }
    }
    // Downwards, allowing a rule inside the menu (AskUserQuestion puts one before its
    // last option).
    let mut last = cursor_row;
    let mut i = cursor_row + 1;
    while i < rows.len() {
        let l = &rows[i];
        if l.text.trim().is_empty() {
            break;
        }
        if is_option_at(i).is_some() {
            last = i;
        } else if l.class.kind == Kind::Rule {
            if i + 1 < rows.len() && is_option_at(i + 1).is_some() {
                i += 1;
                continue;
            }
            break;
        } else if indent(&l.text) <= column {
            break;
        } else {
            last = i;
        }
        i += 1;
    }
    // Gather the choices.
    let mut choices: Vec<Choice> = Vec::new();
    let mut highlighted = 0;
    let mut prev_len = 0;
    for row in &rows[first..=last] {
        if row.class.kind == Kind::Rule {
            continue;
        }
        match option_at(profile, row, column, numbered) {
            Some(o) => {
                if o.cursor {
                    highlighted = choices.len();
                }
                choices.push(Choice {
                    label: o.text.trim().to_string(),
                    number: o.number,
                });
            }
            None => {
                if let Some(c) = choices.last_mut() {
                    // A wrapped label continues (its first word did not fit on the line
                    // above); otherwise the line is a description of the option.
                    let text = row.text.trim();
                    let word = text.split_whitespace().next().unwrap_or("").chars().count();
                    let wrapped = prev_len + 1 + word + WRAP_MARGIN > cols;
                    c.label.push_str(if wrapped { " " } else { " — " });
                    c.label.push_str(text);
                }
            }
        }
        prev_len = row.text.chars().count();
    }
    if choices.len() < 2 {
        return None;
    }
    // The box starts after the nearest rule above the menu, or at the nearest line the
    // profile names as a prompt's head (a prompt drawn without a rule).
    let (top, start) = rows[..first]
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, l)| {
            if l.class.kind == Kind::Rule {
                Some((i + 1, i))
            } else if profile.match_kind(Kind::PromptHead, &l.text).is_some() {
                Some((i, i))
            } else {
                None
            }
        })
        .unwrap_or((0, 0));
    let context_rows = &rows[top..first];
    let strip = context_rows
        .iter()
        .filter(|l| !l.text.trim().is_empty() && !is_dashed_rule(profile, &l.text))
        .map(|l| indent(&l.text))
        .min()
        .unwrap_or(0);
    let context: Vec<String> = context_rows
        .iter()
        .filter(|l| !l.text.trim().is_empty() && !is_dashed_rule(profile, &l.text))
        .map(|l| l.text.chars().skip(strip).collect::<String>())
        .collect();
    Some((
        start,
        Prompt {
            context,
            choices,
            highlighted,
            width: cols,
        },
    ))
}

/// `row` as an option of the menu whose options start at `column`.
fn option_at(profile: &Profile, row: &Line, column: usize, numbered: bool) -> Option<OptionRow> {
    option_row(profile, row).filter(|o| o.column == column && o.number.is_some() == numbered)
}

/// The dashed rules around a command or a preview (the profile's `preview_rule` rows).
fn is_dashed_rule(profile: &Profile, text: &str) -> bool {
    profile.match_kind(Kind::PreviewRule, text).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::Profile;
    use crate::core::view::Line;
    use std::sync::Arc;

    fn lines(profile: &Profile, rows: &[&str]) -> Vec<Line> {
        rows.iter()
            .map(|r| Line::new(r.to_string(), Arc::new(profile.classify(r, false))))
            .collect()
    }

    #[test]
    fn a_numbered_permission_prompt_with_a_wrapped_option() {
        let p = Profile::claude();
        let rows = lines(
            &p,
            &[
                "● I'll create the file.",
                "────────────────────────────────────────",
                " Bash command",
                "   touch marker.txt",
                " Do you want to proceed?",
                " ❯ 1. Yes",
                "   2. Yes, and always allow access to",
                "      /home/dev/notes-app from this project",
                "   3. No",
                "",
                " Esc to cancel · Tab to amend",
            ],
        );
        let (top, prompt) = find(&p, &rows, 40).expect("a prompt");
        assert_eq!(top, 1, "the box starts at its rule");
        assert_eq!(prompt.question(), "Do you want to proceed?");
        let labels: Vec<&str> = prompt.choices.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Yes",
                "Yes, and always allow access to /home/dev/notes-app from this project",
                "No"
            ]
        );
        assert_eq!(prompt.highlighted, 0);
        assert_eq!(prompt.keys_for(2), [Key::Digit(3)]);
    }

    #[test]
    fn an_unnumbered_menu_is_answered_with_arrows_from_the_cursor_and_enter() {
        let p = Profile::claude();
        let rows = lines(
            &p,
            &[
                "────────────────────────────────────────",
                " Quick safety check: Is this a project you created or one you trust?",
                "",
                " ❯ No, exit",
                "   Yes, I trust this folder",
                "",
                " Enter to confirm · Esc to cancel",
            ],
        );
        let (_, prompt) = find(&p, &rows, 80).expect("a prompt");
        assert_eq!(prompt.choices.len(), 2);
        assert_eq!(prompt.keys_for(1), [Key::Down, Key::Enter]);
        assert_eq!(prompt.keys_for(0), [Key::Enter]);
    }

    #[test]
    fn a_user_prompt_and_its_wrapped_line_are_no_menu() {
        let p = Profile::claude();
        let rows = lines(
            &p,
            &[
                "❯ Find all TODO comments in the Python sources and",
                "  count the lines",
                "",
            ],
        );
        assert!(find(&p, &rows, 60).is_none());
    }

    #[test]
    fn descriptions_under_options_stay_with_their_option() {
        let p = Profile::claude();
        let rows = lines(
            &p,
            &[
                "────────────────────────────────────────",
                "Which database should the project use?",
                "",
                "❯ 1. SQLite",
                "     A single file, no server",
                "  2. PostgreSQL",
                "     A full server",
                "────────────────────────────────────────",
                "  3. Chat about this",
            ],
        );
        let (_, prompt) = find(&p, &rows, 100).expect("a prompt");
        let labels: Vec<&str> = prompt.choices.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "SQLite — A single file, no server",
                "PostgreSQL — A full server",
                "Chat about this"
            ]
        );
    }
}
