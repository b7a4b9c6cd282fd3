//! The view: what the program's screen means, read through a profile.
//!
//! The view looks at the screen after every chunk of output and keeps a model of the
//! conversation: the turns (what the user sent, Claude's text, the tool calls, the task
//! list), the prompt waiting for an answer, and the program's state. It is pure: it is
//! given the screen and the time, and never does I/O, so the same code runs live, in
//! `telepty replay`, and in tests.
//!
//! The screen is cut in two: the conversation (followed from frame to frame by
//! [`follow::Follower`], so rows that leave the screen are kept) and the bottom (input
//! box or prompt, status line, footer), read afresh on every look.

pub(crate) mod follow;
pub mod prompt;
pub mod styles;
pub mod turn;

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use crate::core::profile::{Classified, Kind, Profile};
use crate::term::screen::{Row, Screen};

pub use prompt::{Choice, Prompt};
pub use styles::Span;
pub use turn::{Block, Task, ToolLine, Turn};

/// A screen line with what the profile says it is.
#[derive(Clone, Debug)]
pub struct Line {
    pub text: String,
    pub class: Arc<Classified>,
    /// A hash of the text: following rows from frame to frame compares many lines.
    pub hash: u64,
}

impl Line {
    pub fn new(text: String, class: Arc<Classified>) -> Line {
        Line {
            hash: crate::term::screen::text_hash(&text),
            text,
            class,
        }
    }

    /// A line of plain text (the `plain` profile, tests).
    pub fn plain(text: String) -> Line {
        Line::new(
            text,
            Arc::new(Classified {
                kind: Kind::Text,
                fields: Default::default(),
            }),
        )
    }
}

/// Finished turns kept whole behind the newest (older ones keep only their prompt).
const TURNS_KEPT_WHOLE: usize = 8;

/// Conversation lines kept behind the running turn (older ones are dropped).
const FOLLOW_KEEP: usize = 20_000;

/// How many distinct rows the classification cache keeps before it starts over.
const CLASSIFIED_CACHE: usize = 8192;

/// A digest of rows' text and lead colours.
fn digest(rows: &[Row]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    for row in rows {
        row.hash.hash(&mut h);
        colour_key(row.lead_fg).hash(&mut h);
    }
    h.finish()
}

/// A colour as a cache key.
fn colour_key(c: vt100::Color) -> u32 {
    match c {
        vt100::Color::Default => u32::MAX,
        vt100::Color::Idx(i) => u32::from(i),
        vt100::Color::Rgb(r, g, b) => {
            0x100_0000 | u32::from(r) << 16 | u32::from(g) << 8 | u32::from(b)
        }
    }
}

/// What the program is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Nothing readable on screen yet.
    Starting,
    /// Ready for input.
    Idle,
    /// Working; the status line's text (spinner glyph and counters removed).
    Busy(String),
    /// A prompt waits for the user.
    Waiting,
    /// The program is gone.
    Exited(String),
}

/// How long the input box must be back, with no status line, before a turn counts as
/// finished when Claude Code draws no `✻ Worked for …` line.
const IDLE_SETTLE: Duration = Duration::from_millis(1000);

/// How many scrolled-off rows one look reads back at most (primary screen).
const SCROLLBACK_LOOK: usize = 4;

pub struct View {
    profile: Arc<Profile>,
    follower: follow::Follower,
    /// Where each user line is in the follower's lines, and the turn it starts.
    user_rows: Vec<(usize, usize)>,
    /// What the user is typing (outside prompts), to know the prompt when it is sent.
    typed: String,
    /// Prompts the user sent (Enter outside a prompt) that no turn has started with yet.
    submitted: std::collections::VecDeque<String>,
    turns: Vec<Turn>,
    state: State,
    prompt: Option<Prompt>,
    /// Permission mode from the footer (`⏵⏵ auto mode on`).
    mode: Option<String>,
    /// The program's version, from its welcome line.
    version: Option<String>,
    seen_input: bool,
    idle_since: Option<Duration>,
    /// The status line says the turn is over (`✻ Worked for 3s`).
    turn_done_shown: bool,
    /// What the program's own busy signal last said (`None`: the profile has none).
    signalled: Option<bool>,
    scrollback_len: usize,
    alternate_exits: u64,
    /// A digest of the visible rows at the last look.
    last_digest: Option<u64>,
    /// Rows already classified: (text, lead colour) → what they are.
    classified: rustc_hash::FxHashMap<(u64, u32, usize), Arc<Classified>>,
    /// Bumped whenever the model changes, so a renderer can skip unchanged looks.
    generation: u64,
    /// The screen's width at the last look (Claude Code wraps text there).
    cols: usize,
    /// A view the chat ignores was shown: the next look reads only the visible rows.
    resync: bool,
    /// How the screen marked up answer lines (bold, inline code).
    styles: styles::Styles,
}

impl View {
    pub fn new(profile: Arc<Profile>) -> View {
        View {
            profile,
            follower: follow::Follower::default(),
            user_rows: Vec::new(),
            typed: String::new(),
            submitted: Default::default(),
            turns: Vec::new(),
            state: State::Starting,
            prompt: None,
            mode: None,
            version: None,
            seen_input: false,
            idle_since: None,
            turn_done_shown: false,
            signalled: None,
            scrollback_len: 0,
            alternate_exits: 0,
            last_digest: None,
            classified: Default::default(),
            generation: 0,
            cols: 80,
            resync: false,
            styles: styles::Styles::default(),
        }
    }

    pub fn turns(&self) -> &[Turn] {
        &self.turns
    }

    /// The profile the screen is read with.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn prompt(&self) -> Option<&Prompt> {
        self.prompt.as_ref()
    }

    pub fn mode(&self) -> Option<&str> {
        self.mode.as_deref()
    }

    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The screen's width at the last look.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The user typed `bytes`: turns drawn from now on are new ones. Text typed outside
    /// a prompt and sent with Enter is a prompt the user sent: the next prompt line that
    /// shows it starts a turn (a prompt line drawn again is no new turn).
    pub fn input(&mut self, _now: Duration, bytes: &[u8]) {
        self.seen_input = true;
        self.idle_since = None;
        if self.prompt.is_some() {
            return; // an answer to a prompt
        }
        let text = String::from_utf8_lossy(bytes);
        let text = text.replace("\x1b[200~", "").replace("\x1b[201~", "");
        if text.starts_with('\x1b') {
            return; // a key (arrows, Esc)
        }
        // In a bracketed paste a line feed is part of the text; Enter sends.
        let pasted = bytes.starts_with(b"\x1b[200~");
        for c in text.chars() {
            match c {
                '\n' if pasted => self.typed.push(' '),
                '\r' | '\n' => {
                    let sent = std::mem::take(&mut self.typed);
                    let sent = sent.trim();
                    if !sent.is_empty() {
                        self.submitted.push_back(sent.to_string());
                    }
                }
                '\x7f' | '\x08' => {
                    self.typed.pop();
                }
                c if !c.is_control() => self.typed.push(c),
                _ => {}
            }
        }
    }

    /// The program exited: whatever turn was running is over.
    pub fn exited(&mut self, now: Duration, how: String) {
        self.tick(now);
        self.prompt = None;
        self.state = State::Exited(how);
        if let Some(t) = self.turns.last_mut() {
            t.done = true;
        }
        self.generation += 1;
    }

    /// Time passes without output: a turn may be settled.
    pub fn tick(&mut self, now: Duration) {
        if let Some(since) = self.idle_since {
            if now >= since + IDLE_SETTLE {
                self.finish_turn();
            }
        }
    }

    /// When [`View::tick`] may have something to do.
    pub fn next_deadline(&self) -> Option<Duration> {
        let since = self.idle_since?;
        let open = self.turns.last().is_some_and(|t| !t.done);
        open.then_some(since + IDLE_SETTLE)
    }

    fn finish_turn(&mut self) {
        if let Some(t) = self.turns.last_mut() {
            if !t.done {
                t.done = true;
                self.generation += 1;
            }
        }
    }

    /// Looks at the screen after some output.
    pub fn observe(&mut self, now: Duration, screen: &mut Screen) {
        // A fullscreen program that left the alternate screen within this chunk: its
        // last frame comes first, or its final words would be missed.
        if screen.alternate_exits() != self.alternate_exits {
            self.alternate_exits = screen.alternate_exits();
            let rows = screen.last_alternate_rows().to_vec();
            self.last_digest = None;
            if !rows.is_empty() {
                self.look(now, rows, screen.size().cols as usize);
            }
        }
        // The program's own report of working: a change is looked at even when the rows
        // stay the same (the last frame of a turn, then the report that it ended).
        let signalled = self
            .profile
            .busy_signal
            .as_ref()
            .map(|s| s.says_busy(screen.osc_report(&s.osc)));
        if signalled != self.signalled {
            self.signalled = signalled;
            self.last_digest = None;
        }
        let size = screen.size();
        // Rows that scrolled off since the last look belong to the conversation too
        // (unless a transcript view scrolled them: the repaint after it is on screen).
        let max = size.rows as usize * SCROLLBACK_LOOK;
        let mut rows = screen.rows_scrolled_off(&mut self.scrollback_len, self.resync, max);
        let visible = screen.rows();
        // Output that changed nothing visible (a cursor parked, the same text drawn
        // again) and scrolled nothing: the same rows mean the same model.
        let digest = digest(&visible);
        if rows.is_empty() && Some(digest) == self.last_digest {
            if self.state == State::Idle && self.idle_since.is_none() {
                self.idle_since = Some(now);
            }
            self.tick(now);
            return;
        }
        self.last_digest = Some(digest);
        self.resync = false;
        // Rows not looked at for their markup yet (the profile says what it looks like).
        let wanted = &self.profile.text_styles;
        let unstyled: Vec<(u16, Row)> = if wanted.bold || !wanted.code_fg.is_empty() {
            visible
                .iter()
                .enumerate()
                .filter(|(_, r)| !r.text.trim().is_empty() && !self.styles.seen(r))
                .map(|(i, r)| (i as u16, r.clone()))
                .collect()
        } else {
            Vec::new()
        };
        rows.extend(visible);
        self.look(now, rows, size.cols as usize);
        for (i, row) in unstyled {
            let key = (row.hash, colour_key(row.lead_fg), row.text.len());
            let Some(class) = self.classified.get(&key).cloned() else {
                continue;
            };
            let cells = match class.kind {
                Kind::Assistant | Kind::Text => screen.row_styles(i),
                _ => Vec::new(),
            };
            self.styles
                .learn(&self.profile.text_styles, &row, &class, &cells);
        }
    }

    /// How the screen marked up a line of answer text (as a turn's text holds it).
    pub fn styles_of(&self, line: &str) -> Option<&[Span]> {
        self.styles.of(line)
    }

    /// Classifies rows, each distinct row once: Claude Code redraws the same rows
    /// over and over, shifted as the conversation scrolls. Rows are known by their hash,
    /// colour and length (a 64-bit hash that collides on equal lengths is taken as the
    /// same row: a misread line at worst, never a crash).
    fn classify(&mut self, rows: Vec<Row>) -> Vec<Line> {
        if self.classified.len() > CLASSIFIED_CACHE {
            self.classified.clear();
        }
        rows.into_iter()
            .map(|row| {
                let key = (row.hash, colour_key(row.lead_fg), row.text.len());
                let class = match self.classified.get(&key) {
                    Some(class) => class.clone(),
                    None => {
                        let fg = row.lead_fg_name();
                        let class = Arc::new(self.profile.classify_styled(
                            &row.text,
                            false,
                            || Some(fg.clone()),
                        ));
                        self.classified.insert(key, class.clone());
                        class
                    }
                };
                Line {
                    text: row.text,
                    class,
                    hash: row.hash,
                }
            })
            .collect()
    }

    fn look(&mut self, now: Duration, rows: Vec<Row>, cols: usize) {
        self.cols = cols;
        let lines = self.classify(rows);
        if self.version.is_none() {
            self.version = self.profile.version(lines.iter().map(|l| l.text.as_str()));
        }
        // The footer: permission mode, and whether this is a view the chat ignores.
        let mut transcript_view = false;
        let mut footer_busy = false;
        for l in lines.iter().rev().take(4) {
            if l.class.kind == Kind::Footer {
                if let Some(mode) = l.class.fields.get("mode") {
                    self.mode = Some(mode.clone());
                } else if l.class.fields.contains_key("default_mode") {
                    self.mode = None;
                }
                transcript_view |= l.class.fields.contains_key("transcript");
                footer_busy |= l.class.fields.contains_key("busy");
            }
        }
        if transcript_view {
            // What scrolls by meanwhile is the transcript, not the conversation.
            self.resync = true;
            return;
        }
        let input_row = input_box_top(&lines, self.profile.input_rule);
        let found = if input_row.is_none() {
            prompt::find(&self.profile, &lines, cols)
        } else {
            None
        };
        let end = match (&found, input_row) {
            (Some((top, _)), _) => *top,
            (None, Some(top)) => top,
            // A box being drawn (a prompt not complete yet) starts at a rule; the
            // conversation never draws full-width rules.
            (None, None) => lines
                .iter()
                .rposition(|l| l.class.kind == Kind::Rule)
                .unwrap_or(lines.len()),
        };
        let mut region: Vec<Line> = lines;
        region.truncate(end);
        // A program that pins the running turn's message on the top row while the
        // conversation scrolls under it (Codex): a message on the very first row is that
        // copy (unscrolled, the first rows are blank or the header), not conversation.
        if self.profile.pinned_user_row
            && region.first().is_some_and(|l| l.class.kind == Kind::User)
        {
            region.remove(0);
        }
        // The status line and what hangs under it (the task list) are not conversation.
        let status = region
            .iter()
            .rposition(|l| matches!(l.class.kind, Kind::Spinner | Kind::TurnDone));
        let mut widgets = Vec::new();
        let mut busy = None;
        self.turn_done_shown = false;
        if let Some(s) = status {
            // A `✻ Worked for …` above the newest prompt belongs to the turn before.
            let newest_user = region.iter().rposition(|l| l.class.kind == Kind::User);
            let live = newest_user.is_none_or(|u| u < s);
            match region[s].class.kind {
                Kind::Spinner => busy = Some(status_text(&region[s].text)),
                _ => self.turn_done_shown = live,
            }
            // What hangs under the live status line (task list, tips) is not conversation.
            if live {
                widgets = region.split_off(s + 1);
            }
        }
        if busy.is_none() && (footer_busy || self.signalled == Some(true)) {
            // A long answer pushes the status line off (the footer still says it), or the
            // program draws none while it streams (its own report says it).
            busy = Some("working…".to_string());
        }
        while region.last().is_some_and(|l| l.text.trim().is_empty()) {
            region.pop();
        }
        // Blank rows at the top say nothing, and must not overwrite what scrolled away.
        let lead = region
            .iter()
            .take_while(|l| l.text.trim().is_empty())
            .count();
        region.drain(..lead);
        // Only a complete screen (input box or prompt drawn) is conversation: a screen
        // being drawn, a transcript on its way, the shell after exit are not.
        let complete = input_row.is_some() || found.is_some();
        if complete && !region.is_empty() {
            let mut changed = self.follower.update(region);
            // A session that runs for months must not keep every line: what lies well
            // before the running turn is dropped (its turns are in the model already).
            if self.follower.lines().len() > FOLLOW_KEEP * 2 {
                let keep_from = self.user_rows.last().map_or(usize::MAX, |(r, _)| *r);
                let drop = (self.follower.lines().len() - FOLLOW_KEEP).min(keep_from);
                if drop > 0 {
                    self.follower.drop_front(drop);
                    self.user_rows.retain(|(r, _)| *r >= drop);
                    for (r, _) in &mut self.user_rows {
                        *r -= drop;
                    }
                    changed = changed.saturating_sub(drop);
                }
            }
            tracing::trace!(
                ?now,
                changed,
                lines = self.follower.lines().len(),
                "followed"
            );
            self.update_turns(changed);
        }
        if let Some(t) = self.turns.last_mut().filter(|t| !t.done) {
            for w in widgets.iter().filter(|l| l.class.kind == Kind::Task) {
                if t.merge_task(turn::task_of(w)) {
                    self.generation += 1;
                }
            }
            if let Some(b) = busy.as_ref().filter(|b| b.contains("API error")) {
                if t.api_error.as_ref() != Some(b) {
                    t.api_error = Some(b.clone());
                    self.generation += 1;
                }
            }
        }
        // The state.
        let prompt = found.map(|(_, p)| p);
        if prompt != self.prompt {
            self.prompt = prompt;
            self.generation += 1;
        }
        let state = if self.prompt.is_some() {
            State::Waiting
        } else if let Some(b) = busy {
            State::Busy(b)
        } else if input_row.is_some() {
            State::Idle
        } else {
            self.state.clone()
        };
        if state == State::Idle {
            if self.idle_since.is_none() {
                self.idle_since = Some(now);
            }
            if self.turn_done_shown {
                self.finish_turn();
            }
        } else {
            self.idle_since = None;
        }
        if state != self.state {
            self.state = state;
            self.generation += 1;
        }
        self.tick(now);
    }

    /// Re-reads the turns whose lines changed from `changed` on.
    fn update_turns(&mut self, changed: usize) {
        let lines = self.follower.lines();
        let keep = self.user_rows.partition_point(|(r, _)| *r < changed);
        self.user_rows.truncate(keep);
        for (i, l) in lines.iter().enumerate().skip(changed) {
            if l.class.kind != Kind::User {
                continue;
            }
            let text = l.class.fields.get("text").map(String::as_str).unwrap_or("");
            // A prompt line is a new turn when it shows a prompt the user sent (or,
            // before any input, an old turn of a resumed session); a prompt line that
            // shows an earlier turn's prompt again is a repaint (after a dialog, Ctrl-O,
            // a redraw while working).
            let repaint = self.turns.iter().rposition(|t| t.user == text);
            let sent = self.submitted.iter().position(|s| same_prompt(s, text));
            let new_turn = if !self.seen_input || self.turns.is_empty() {
                if let Some(i) = sent {
                    self.submitted.drain(..=i);
                }
                true
            } else if let Some(i) = sent {
                self.submitted.drain(..=i);
                true
            } else if repaint.is_some() {
                false
            } else {
                // Drawn differently from how it was typed: still the next one sent.
                self.submitted.pop_front().is_some()
            };
            let turn = if new_turn {
                if let Some(t) = self.turns.last_mut() {
                    t.done = true; // earlier turns are over once a new one starts
                }
                self.turns.push(Turn {
                    history: !self.seen_input,
                    done: !self.seen_input,
                    ..Turn::default()
                });
                // A session runs for months: the text of turns long finished (and long
                // in the chat) is let go; their prompt stays, to recognise repaints.
                if let Some(old) = self.turns.iter_mut().rev().nth(TURNS_KEPT_WHOLE) {
                    if old.done {
                        old.blocks = Vec::new();
                        old.tasks = Vec::new();
                    }
                }
                self.idle_since = None;
                self.generation += 1;
                self.turns.len() - 1
            } else {
                repaint.unwrap_or(self.turns.len() - 1)
            };
            self.user_rows.push((i, turn));
        }
        // Only turns whose lines reach past `changed` can have changed.
        let from = self
            .user_rows
            .partition_point(|(r, _)| *r <= changed)
            .saturating_sub(1);
        for (k, &(start, turn)) in self.user_rows.iter().enumerate().skip(from) {
            let end = self.user_rows.get(k + 1).map_or(lines.len(), |(r, _)| *r);
            if end <= changed {
                continue;
            }
            let turn = &mut self.turns[turn];
            if turn.done {
                continue;
            }
            if turn.merge(&lines[start..end]) {
                self.generation += 1;
            }
        }
    }
}

/// Whether a prompt line drawn on screen (its first line, maybe cut at the screen's
/// edge) shows the prompt the user typed.
fn same_prompt(typed: &str, drawn: &str) -> bool {
    let typed: String = typed.split_whitespace().collect::<Vec<_>>().join(" ");
    let drawn: String = drawn.split_whitespace().collect::<Vec<_>>().join(" ");
    !drawn.is_empty() && (typed.starts_with(&drawn) || drawn.starts_with(&typed))
}

/// The row where the input box starts: a rule, the `❯` input line, then a rule.
fn input_box_top(lines: &[Line], under_rule: bool) -> Option<usize> {
    let input = lines.iter().rposition(|l| l.class.kind == Kind::Input)?;
    if !under_rule {
        // The input stands on its own: the conversation ends where it starts.
        return Some(input);
    }
    let top = lines[..input]
        .iter()
        .rposition(|l| l.class.kind == Kind::Rule)?;
    // Only the input's own lines may sit between the rule and the input line.
    (input - top <= 1).then_some(top)
}

/// The status line without its spinner glyph and live counters.
fn status_text(line: &str) -> String {
    let t = line.trim();
    let t = t.split_once(' ').map(|(_, rest)| rest).unwrap_or(t);
    match t.find(" (") {
        Some(i) if t.ends_with(')') => t[..i].to_string(),
        _ => t.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests;
