//! A turn: what Claude did and said after one user prompt.
//!
//! The lines of a turn are parsed into blocks — assistant text, and groups of tool lines
//! between two texts — and merged into what the view already knows of the turn. Text
//! blocks take their newest look (they grow while streaming). Tool groups keep every
//! line they ever showed: 2.1.331 shows a call for a moment (`● Creating marker file` /
//! `⎿  $ touch marker.txt`) and then folds it into `Ran 1 shell command`, and the chat
//! must still say which command ran.

use crate::core::profile::Kind;

use super::Line;

/// One line standing for (part of) a tool call, as the chat shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolLine {
    pub kind: Kind,
    /// The line as the chat shows it: what a call's banner says (its bullet removed),
    /// a result with the mark drawn before it (one space after the mark).
    pub text: String,
    /// What the line says without the program's marks (the profile's `text` group).
    pub content: String,
    /// The profile's row names it a call in progress (a group named `progress`).
    pub progress: bool,
}

impl ToolLine {
    /// Shown only while the call runs (`Running…`, `Searching for 1 pattern…`,
    /// `⎿ Waiting…`, or what the profile marks): the lasting record leaves it out.
    pub fn is_progress(&self) -> bool {
        self.progress || self.text.ends_with('…') || self.text.ends_with("...")
    }

    /// A line under a call's result (file content, diff): kept short in the chat.
    pub fn is_detail(&self) -> bool {
        self.kind == Kind::Text
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// Assistant text: lines as drawn; an empty string is a paragraph break.
    Text(Vec<String>),
    /// Tool lines between two texts, every line ever seen, in order of appearance.
    Tools(Vec<ToolLine>),
}

/// A task of the task list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// `◻` open, `◼` in progress, `✔` done (as drawn).
    pub state: String,
    pub text: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Turn {
    /// What the user sent (the first line of it).
    pub user: String,
    pub blocks: Vec<Block>,
    pub tasks: Vec<Task>,
    pub interrupted: bool,
    /// The last API error line seen while the turn ran (`API error · retrying in 1s …`).
    pub api_error: Option<String>,
    /// Claude finished the turn (idle again, or a later turn began).
    pub done: bool,
    /// The turn was already on screen before the user did anything (a resumed
    /// session's history): the chat does not get it again.
    pub history: bool,
}

impl Turn {
    /// Merges what the turn's lines show now into what is known; says whether that
    /// changed anything.
    pub fn merge(&mut self, lines: &[Line]) -> bool {
        let parsed = parse(lines);
        let mut changed = false;
        if !parsed.user.is_empty() && parsed.user != self.user {
            self.user = parsed.user;
            changed = true;
        }
        for (i, block) in parsed.blocks.into_iter().enumerate() {
            match (self.blocks.get_mut(i), block) {
                (Some(Block::Tools(known)), Block::Tools(new)) => {
                    let merged = merge_lines(known, new);
                    if merged != *known {
                        *known = merged;
                        changed = true;
                    }
                }
                (Some(slot), block) => {
                    if *slot != block {
                        *slot = block;
                        changed = true;
                    }
                }
                (None, block) => {
                    self.blocks.push(block);
                    changed = true;
                }
            }
        }
        for task in parsed.tasks {
            changed |= self.merge_task(task);
        }
        changed |= parsed.interrupted && !self.interrupted;
        self.interrupted |= parsed.interrupted;
        changed
    }

    /// Adds a task or updates its state; says whether that changed anything.
    pub fn merge_task(&mut self, task: Task) -> bool {
        match self.tasks.iter_mut().find(|t| t.text == task.text) {
            Some(t) if t.state == task.state => false,
            Some(t) => {
                t.state = task.state;
                true
            }
            None => {
                self.tasks.push(task);
                true
            }
        }
    }

    /// The assistant's text blocks, in order.
    pub fn texts(&self) -> impl Iterator<Item = &[String]> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Text(lines) => Some(lines.as_slice()),
            Block::Tools(_) => None,
        })
    }
}

/// The tool lines of a group as shown now, with every line shown before and gone since
/// (a call folded away) kept where it was: after the line it used to follow.
fn merge_lines(old: &[ToolLine], new: Vec<ToolLine>) -> Vec<ToolLine> {
    let mut out = new;
    let mut after: Option<usize> = None;
    for line in old {
        match out.iter().position(|l| l.text == line.text) {
            Some(pos) => after = Some(pos),
            None => {
                let at = after.map_or(0, |a| a + 1);
                out.insert(at, line.clone());
                after = Some(at);
            }
        }
    }
    out
}

/// What one look at a turn's lines shows.
#[derive(Debug, Default)]
struct Parsed {
    user: String,
    blocks: Vec<Block>,
    tasks: Vec<Task>,
    interrupted: bool,
}

/// Lines under a call's result (file content, diff, output) sit deeper than its `⎿`.
const DETAIL_INDENT: usize = 4;

fn indent(text: &str) -> usize {
    text.chars().take_while(|c| c.is_whitespace()).count()
}

fn is_result(kind: Kind) -> bool {
    matches!(kind, Kind::ToolResult)
}

/// Results and notes under a call are shown with the mark drawn before them; a call's
/// own line (banner, activity, summary) is shown by what it says.
fn keeps_mark(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::ToolResult | Kind::Blocked | Kind::BlockedReason | Kind::Interrupted
    )
}

/// A screen line as a tool line of `kind`: what it says is the profile's `text` group
/// (the whole line for a row without one), what is drawn before it is the mark.
fn tool_line(kind: Kind, line: &Line) -> ToolLine {
    let drawn = clean(&line.text);
    let content = line
        .class
        .fields
        .get("text")
        .map(|t| clean(t))
        .unwrap_or_else(|| drawn.clone());
    let mark = drawn.strip_suffix(content.as_str()).map(str::trim);
    let text = match mark {
        Some(mark) if keeps_mark(kind) && !mark.is_empty() => format!("{mark} {content}"),
        _ => content.clone(),
    };
    ToolLine {
        kind,
        text,
        content,
        progress: line.class.fields.contains_key("progress"),
    }
}

/// Parses the lines of one turn, the user's line first.
fn parse(lines: &[Line]) -> Parsed {
    let mut out = Parsed::default();
    let mut i = 0;
    if let Some(first) = lines.first() {
        if first.class.kind == Kind::User {
            out.user = first.class.fields.get("text").cloned().unwrap_or_default();
            // The rest of a long prompt, up to the first blank line.
            i = 1;
            while i < lines.len()
                && !lines[i].text.trim().is_empty()
                && lines[i].class.kind == Kind::Text
            {
                i += 1;
            }
        }
    }
    let mut blank_before = false;
    while i < lines.len() {
        let line = &lines[i];
        let next_kind = lines.get(i + 1).map(|l| l.class.kind);
        let kind = line.class.kind;
        if line.text.trim().is_empty() {
            blank_before = true;
            if let Some(Block::Text(t)) = out.blocks.last_mut() {
                if t.last().is_some_and(|l| !l.is_empty()) {
                    t.push(String::new());
                }
            }
            i += 1;
            continue;
        }
        match kind {
            Kind::Assistant => {
                let text = line.class.fields.get("text").cloned().unwrap_or_default();
                out.blocks.push(Block::Text(vec![clean(&text)]));
            }
            Kind::Text => {
                let in_text = matches!(out.blocks.last(), Some(Block::Text(_)));
                let heads_a_call = next_kind.is_some_and(is_result) && (blank_before || !in_text);
                if heads_a_call {
                    push_tool(&mut out.blocks, tool_line(Kind::ToolActivity, line));
                } else if in_text {
                    if let Some(Block::Text(t)) = out.blocks.last_mut() {
                        t.push(clean(&line.text));
                    }
                } else if matches!(out.blocks.last(), Some(Block::Tools(_)))
                    && indent(&line.text) >= DETAIL_INDENT
                {
                    push_tool(&mut out.blocks, tool_line(Kind::Text, line));
                }
            }
            Kind::ToolBanner | Kind::ToolActivity | Kind::ToolSummary | Kind::Blocked => {
                let mut tool = tool_line(kind, line);
                if kind == Kind::ToolBanner && !tool.text.ends_with(')') {
                    // A long argument wrapped: the rest is on the following lines.
                    while i + 1 < lines.len()
                        && lines[i + 1].class.kind == Kind::Text
                        && !lines[i + 1].text.trim().is_empty()
                    {
                        i += 1;
                        let more = clean(&lines[i].text);
                        for said in [&mut tool.text, &mut tool.content] {
                            said.push(' ');
                            said.push_str(&more);
                        }
                        if tool.text.ends_with(')') {
                            break;
                        }
                    }
                }
                push_tool(&mut out.blocks, tool);
            }
            Kind::BlockedReason if !follows_blocked(&out.blocks) => {
                if let Some(Block::Text(t)) = out.blocks.last_mut() {
                    t.push(line.text.trim().to_string());
                }
            }
            Kind::ToolResult | Kind::BlockedReason => {
                push_tool(&mut out.blocks, tool_line(kind, line));
            }
            Kind::Interrupted => {
                out.interrupted = true;
                push_tool(&mut out.blocks, tool_line(kind, line));
            }
            Kind::Task => out.tasks.push(task_of(line)),
            _ => {}
        }
        blank_before = false;
        i += 1;
    }
    // A paragraph break at the end of a text is not part of it.
    for block in &mut out.blocks {
        if let Block::Text(t) = block {
            while t.last().is_some_and(|l| l.is_empty()) {
                t.pop();
            }
        }
    }
    out
}

/// Whether the last tool line is a blocked call or its reason.
fn follows_blocked(blocks: &[Block]) -> bool {
    matches!(blocks.last(), Some(Block::Tools(lines))
        if lines.last().is_some_and(|l| matches!(l.kind, Kind::Blocked | Kind::BlockedReason)))
}

pub(super) fn task_of(line: &Line) -> Task {
    let f = &line.class.fields;
    Task {
        state: f.get("state").cloned().unwrap_or_default(),
        text: f
            .get("text")
            .cloned()
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// A line as the chat shows it: non-breaking spaces as spaces, no indentation.
fn clean(text: &str) -> String {
    text.replace('\u{a0}', " ").trim().to_string()
}

fn push_tool(blocks: &mut Vec<Block>, line: ToolLine) {
    if !matches!(blocks.last(), Some(Block::Tools(_))) {
        blocks.push(Block::Tools(Vec::new()));
    }
    if let Some(Block::Tools(lines)) = blocks.last_mut() {
        if !lines.iter().any(|l| l.text == line.text) {
            lines.push(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tl(text: &str) -> ToolLine {
        ToolLine {
            kind: Kind::ToolResult,
            text: text.into(),
            content: text.into(),
            progress: false,
        }
    }

    #[test]
    fn a_folded_call_keeps_its_place_among_what_is_shown_now() {
        let before = [tl("Creating marker file"), tl("⎿ $ touch marker.txt")];
        let now = vec![
            tl("Ran 1 shell command"),
            tl("Did not run 1 call"),
            tl("⎿ $ curl x"),
        ];
        let merged: Vec<String> = merge_lines(&before, now)
            .into_iter()
            .map(|l| l.text)
            .collect();
        assert_eq!(
            merged,
            [
                "Creating marker file",
                "⎿ $ touch marker.txt",
                "Ran 1 shell command",
                "Did not run 1 call",
                "⎿ $ curl x"
            ]
        );
        let again = vec![tl("Ran 1 shell command"), tl("Did not run 1 call")];
        let merged: Vec<String> = merge_lines(
            &[
                tl("Ran 1 shell command"),
                tl("⎿ $ curl x"),
                tl("Did not run 1 call"),
            ],
            again,
        )
        .into_iter()
        .map(|l| l.text)
        .collect();
        assert_eq!(
            merged,
            ["Ran 1 shell command", "⎿ $ curl x", "Did not run 1 call"]
        );
    }
}
