//! The render: what the chat should show, given what the view understands.
//!
//! Per turn the chat gets:
//! - a **live message**, edited silently while Claude works: the status, each tool call
//!   as a compact line, the task list, the text streamed so far;
//! - when the turn ends, the **answer** as audible message(s) — all of the turn's text,
//!   formatted, split at paragraph boundaries — while the live message becomes a compact
//!   record of the tool calls (or goes away if there were none), so the text is in the
//!   chat once;
//! - for a **blocking prompt**, an audible message with the question, its context and a
//!   button per option; once answered it shows the choice and loses its buttons;
//! - for a call **blocked by auto mode**, an audible notice with the command and reason.
//!
//! The render only says what each message should look like now; the pacer decides when
//! that reaches Telegram, and never sends content the chat already shows.

pub mod html;
pub mod markdown;
pub mod mirror;

use std::time::Duration;

use crate::core::buttons::{ButtonData, Stamp};
use crate::core::ops::{Attachment, AttachmentKind, Button, Content, MessageId};
use crate::core::pacer::Pacer;
use crate::core::profile::Kind;
use crate::core::transcript::{words, Transcript};
use crate::core::view::{Block, Prompt, State, ToolLine, Turn, View};

use html::{escape, pack, paragraphs, styled_paragraphs, Piece, MESSAGE_LIMIT};

/// The longest button label; longer options are cut with `…` (the message lists them
/// in full).
const LABEL_LIMIT: usize = 60;
/// A live message with nothing but the status waits this long: Claude Code usually shows
/// text or a tool call sooner, and the first message then carries it.
const STATUS_ONLY_DELAY: Duration = Duration::from_secs(3);
/// Detail lines (file content, diff) shown under one tool group.
const DETAIL_LINES: usize = 4;
/// Visible characters of streamed text kept in the live message (its tail).
const LIVE_TEXT_LIMIT: usize = 2500;
/// An answer that would take more messages than this goes out as its first message and
/// a document with all of it.
const LONG_ANSWER_MESSAGES: usize = 3;
/// Fetch buttons on a turn's record at most.
const FETCH_BUTTONS: usize = 5;

#[derive(Debug, Default)]
struct TurnMessages {
    live: Option<MessageId>,
    finished: bool,
    /// When the turn was first seen (a status-only live message waits a moment).
    started: Option<Duration>,
    /// Text blocks known to be complete (another block follows them) and shown.
    texts_done: usize,
    /// Blocked calls already announced, by their command line.
    blocked: Vec<String>,
    /// The files the turn wrote, as its record's fetch buttons name them (by index).
    files: Vec<String>,
    /// When the screen said the turn was over while its answer was not yet in the
    /// transcript: it waits for it until then plus the transcript's wait.
    waiting: Option<Duration>,
}

#[derive(Debug)]
struct PromptMessage {
    id: MessageId,
    /// Serial used in the buttons' data.
    serial: u64,
    prompt: Prompt,
    answer: Option<String>,
}

/// The chat side of one session.
#[derive(Debug, Default)]
pub struct Render {
    next_id: MessageId,
    turns: Vec<TurnMessages>,
    prompt: Option<PromptMessage>,
    prompt_serial: u64,
    /// The program drawing: every button carries it (see [`crate::core::buttons`]).
    stamp: Stamp,
    seen_generation: Option<u64>,
    /// The transcript's generation when last looked at.
    seen_transcript: u64,
    /// How long a finished turn waits for its answer to reach the transcript.
    transcript_wait: Duration,
    /// Every turn before this one is finished.
    first_open: usize,
}

impl Render {
    pub fn new() -> Render {
        Render {
            next_id: 1,
            ..Render::default()
        }
    }

    fn new_id(&mut self) -> MessageId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The prompt on screen and its serial, for a front end turning a button press into
    /// keys.
    pub fn active_prompt(&self) -> Option<(u64, &Prompt)> {
        self.prompt.as_ref().map(|p| (p.serial, &p.prompt))
    }

    /// Which choice a button's data stands for, if its prompt is still on screen.
    pub fn button(&self, data: &str) -> Option<usize> {
        let active = self.prompt.as_ref()?;
        crate::core::buttons::prompt_choice(data, self.stamp, active.serial)
    }

    /// The program whose buttons these are (default: a zero stamp, for replays).
    pub fn set_stamp(&mut self, stamp: Stamp) {
        self.stamp = stamp;
    }

    /// The path a fetch button of a turn's record names, if this program drew it.
    pub fn fetch(&self, data: &str) -> Option<String> {
        match ButtonData::decode(data)? {
            ButtonData::Fetch { stamp, turn, index } if stamp == self.stamp => {
                self.turns.get(turn)?.files.get(index).cloned()
            }
            _ => None,
        }
    }

    /// The user answered the prompt on screen (a button, or keys typed): remembered to
    /// show the choice once the prompt is gone.
    pub fn answered(&mut self, choice: String) {
        if let Some(p) = self.prompt.as_mut() {
            p.answer = Some(choice);
        }
    }

    /// Brings the chat in line with the view.
    /// When a status-only live message becomes due, if one waits.
    /// (Also when a finished turn stops waiting for its answer in the transcript.)
    pub fn next_deadline(&self) -> Option<Duration> {
        let open = &self.turns[self.first_open.min(self.turns.len())..];
        let status_only = open
            .iter()
            .filter(|t| !t.finished && t.live.is_none())
            .filter_map(|t| t.started)
            .map(|s| s + STATUS_ONLY_DELAY);
        let waiting = open
            .iter()
            .filter(|t| !t.finished)
            .filter_map(|t| t.waiting)
            .map(|w| w + self.transcript_wait);
        status_only.chain(waiting).min()
    }

    /// `transcript`: the program's own log, whose answers are taken in place of the
    /// screen's when they match.
    pub fn update(
        &mut self,
        view: &View,
        mut transcript: Option<&mut Transcript>,
        pacer: &mut Pacer,
        now: Duration,
    ) {
        let due = self.next_deadline().is_some_and(|d| now >= d);
        let read = transcript.as_ref().map_or(0, |t| t.generation());
        if self.seen_generation == Some(view.generation()) && self.seen_transcript == read && !due {
            return;
        }
        self.seen_generation = Some(view.generation());
        self.seen_transcript = read;
        if let Some(t) = transcript.as_ref() {
            self.transcript_wait = t.spec().wait();
        }
        let cols = view.cols();
        // Turns.
        // Turns before the first open one are finished for good.
        while self.turns.get(self.first_open).is_some_and(|t| t.finished) {
            self.first_open += 1;
        }
        for (k, turn) in view.turns().iter().enumerate().skip(self.first_open) {
            if self.turns.len() <= k {
                self.turns.push(TurnMessages {
                    finished: turn.history,
                    ..TurnMessages::default()
                });
            }
            if self.turns[k].finished {
                continue;
            }
            self.blocked_notices(k, turn, pacer);
            if turn.done {
                if let Some(t) = transcript.as_deref_mut() {
                    if awaits_transcript(turn, t) {
                        let since = *self.turns[k].waiting.get_or_insert(now);
                        if now < since + t.spec().wait() {
                            continue;
                        }
                        t.waited_in_vain();
                    }
                }
                self.finish_turn(k, turn, view, transcript.as_deref_mut(), pacer);
            } else {
                let started = *self.turns[k].started.get_or_insert(now);
                let status_only = turn.blocks.is_empty() && turn.tasks.is_empty();
                if status_only && now < started + STATUS_ONLY_DELAY {
                    continue;
                }
                // A text block followed by another is complete: the user should read it
                // now, not at the next paced edit.
                let complete = turn
                    .blocks
                    .iter()
                    .enumerate()
                    .filter(|(i, b)| matches!(b, Block::Text(_)) && i + 1 < turn.blocks.len())
                    .count();
                let urgent = complete > self.turns[k].texts_done;
                self.turns[k].texts_done = complete;
                let live = self.live_content(turn, view.state(), cols);
                if let Some(text) = live {
                    let id = match self.turns[k].live {
                        Some(id) => id,
                        None => {
                            let id = self.new_id();
                            self.turns[k].live = Some(id);
                            id
                        }
                    };
                    let content = Content {
                        live: true,
                        ..silent(text)
                    };
                    pacer.set(id, content, urgent);
                }
            }
        }
        // The prompt.
        let shown = view.prompt();
        let same = matches!((&self.prompt, shown), (Some(p), Some(s)) if p.prompt.same_as(s));
        if same {
            if let (Some(p), Some(s)) = (self.prompt.as_mut(), shown) {
                p.prompt.highlighted = s.highlighted;
                if p.prompt.context != s.context {
                    // A preview finished loading: the same message shows it.
                    p.prompt.context = s.context.clone();
                    let text = prompt_text(&p.prompt);
                    let buttons = prompt_buttons(self.stamp, p.serial, &p.prompt);
                    pacer.set(p.id, loud(text, buttons), true);
                }
            }
            return;
        }
        if let Some(old) = self.prompt.take() {
            let choice = old
                .answer
                .clone()
                .unwrap_or_else(|| "answered on the terminal".into());
            let text = format!(
                "{}\n\n→ <i>{}</i>",
                prompt_text(&old.prompt),
                escape(&choice)
            );
            pacer.set(old.id, loud(text, vec![]), true);
        }
        if let Some(prompt) = shown {
            self.prompt_serial += 1;
            let serial = self.prompt_serial;
            let id = self.new_id();
            let rows = prompt_buttons(self.stamp, serial, prompt);
            pacer.set(id, loud(prompt_text(prompt), rows), true);
            self.prompt = Some(PromptMessage {
                id,
                serial,
                prompt: prompt.clone(),
                answer: None,
            });
        }
    }

    /// The turn is over: the answer goes out, the live message becomes the record.
    fn finish_turn(
        &mut self,
        k: usize,
        turn: &Turn,
        view: &View,
        transcript: Option<&mut Transcript>,
        pacer: &mut Pacer,
    ) {
        let cols = view.cols();
        let written = view.profile().written_file.as_ref();
        self.turns[k].finished = true;
        let record = record_text(turn);
        // The files the turn wrote can be fetched from its record.
        let files = written.map_or_else(Vec::new, |w| written_files(turn, w));
        let buttons = fetch_buttons(self.stamp, k, &files);
        self.turns[k].files = files;
        let record_content = |text: String| Content {
            buttons: buttons.clone(),
            ..silent(text)
        };
        match (self.turns[k].live, record) {
            (Some(id), Some(text)) => pacer.set(id, record_content(text), false),
            (Some(id), None) => pacer.delete(id),
            (None, Some(text)) => {
                let id = self.new_id();
                self.turns[k].live = Some(id);
                pacer.set(id, record_content(text), true);
            }
            (None, None) => {}
        }
        let answer = answer_pieces(turn, cols, view, transcript);
        let mut pieces = answer.pieces;
        // An answer cut short says so where it stops.
        if turn.interrupted && !pieces.is_empty() && !record_shows_interrupt(turn) {
            pieces.push(Piece::html("⛔ <i>Interrupted</i>", 13));
        }
        let messages = pack(pieces, MESSAGE_LIMIT);
        if messages.len() > LONG_ANSWER_MESSAGES {
            // Too long to read as a stream of messages: its beginning, and the whole of it
            // as a document.
            let whole = answer.markdown.unwrap_or_else(|| {
                let whole: Vec<String> = messages.iter().map(|m| html::plain(m)).collect();
                whole.join("\n\n")
            });
            let id = self.new_id();
            pacer.set(id, loud(messages[0].clone(), vec![]), true);
            let caption = format!(
                "📄 The whole answer ({} characters) is in answer-{}.md.",
                whole.chars().count(),
                k + 1
            );
            let id = self.new_id();
            let document = Content {
                attachment: Some(Attachment {
                    kind: AttachmentKind::Document,
                    name: format!("answer-{}.md", k + 1),
                    bytes: std::sync::Arc::new(whole.into_bytes()),
                }),
                ..loud(caption, vec![])
            };
            pacer.set(id, document, true);
            return;
        }
        for message in messages {
            let id = self.new_id();
            pacer.set(id, loud(message, vec![]), true);
        }
    }

    /// Calls auto mode refused: the user may want to run them another way.
    fn blocked_notices(&mut self, k: usize, turn: &Turn, pacer: &mut Pacer) {
        for block in &turn.blocks {
            let Block::Tools(lines) = block else { continue };
            for (i, line) in lines.iter().enumerate() {
                if line.kind != Kind::Blocked {
                    continue;
                }
                // The call is the nearest line above that is not the summary.
                let call = lines[..i]
                    .iter()
                    .rev()
                    .find(|l| l.kind == Kind::ToolResult || l.kind == Kind::ToolBanner)
                    .map(|l| l.content.clone())
                    .unwrap_or_default();
                if self.turns[k].blocked.contains(&call) || call.is_empty() && !turn.done {
                    continue; // announced, or the call is drawn a moment later
                }
                let reason: Vec<&str> = lines[i + 1..]
                    .iter()
                    .take_while(|l| l.kind == Kind::BlockedReason)
                    .map(|l| l.content.as_str())
                    .collect();
                if reason.is_empty() && !turn.done {
                    continue; // the reason is drawn a moment later
                }
                self.turns[k].blocked.push(call.clone());
                let text = format!(
                    "🛡 <b>Blocked by auto mode</b>\n<code>{}</code>\n{}",
                    escape(&call),
                    escape(&reason.join(" "))
                );
                let id = self.new_id();
                pacer.set(id, loud(text, vec![]), true);
            }
        }
    }

    /// The live message of a running turn, if it has anything to show.
    fn live_content(&self, turn: &Turn, state: &State, cols: usize) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        match state {
            State::Busy(status) => parts.push(format!("⏳ <i>{}</i>", escape(status))),
            State::Waiting => parts.push("⏸ <i>waiting for your answer</i>".into()),
            _ => parts.push("⏳ <i>working…</i>".into()),
        }
        if let Some(e) = &turn.api_error {
            parts.push(format!("⚠️ {}", escape(e)));
        }
        let mut body = Vec::new();
        for block in &turn.blocks {
            match block {
                Block::Tools(lines) => body.push(tool_lines(lines, false)),
                Block::Text(lines) => {
                    let text: Vec<String> = paragraphs(lines, cols)
                        .into_iter()
                        .filter_map(|p| p.plain_text())
                        .collect();
                    body.push(escape(&tail(&text.join("\n\n"), LIVE_TEXT_LIMIT)));
                }
            }
        }
        if turn.blocks.is_empty() && turn.tasks.is_empty() && !matches!(state, State::Busy(_)) {
            return None;
        }
        parts.extend(body.into_iter().filter(|b| !b.is_empty()));
        if !turn.tasks.is_empty() {
            parts.push(task_lines(turn));
        }
        Some(limit_html_parts(parts))
    }
}

/// A finished turn's answer as the chat gets it.
struct AnswerPieces {
    pieces: Vec<Piece>,
    /// The whole answer as markdown, when every text of it came from the transcript
    /// (the document of a long answer is then the markdown itself).
    markdown: Option<String>,
}

/// The turn's texts as pieces: each from the transcript's markdown where the transcript
/// has it, from the screen otherwise (an interrupted text always: the transcript holds
/// what was streamed, the screen what the user saw).
fn answer_pieces(
    turn: &Turn,
    cols: usize,
    view: &View,
    mut transcript: Option<&mut Transcript>,
) -> AnswerPieces {
    let texts: Vec<&[String]> = turn.texts().collect();
    let mut pieces = Vec::new();
    let mut markdown: Vec<String> = Vec::new();
    let mut all_markdown = !texts.is_empty();
    let mut last: Option<crate::core::transcript::Claimed> = None;
    for (i, text) in texts.iter().enumerate() {
        let cut_short = turn.interrupted && i + 1 == texts.len();
        if let Some(t) = transcript.as_deref_mut().filter(|_| !cut_short) {
            let seen = words(&text.join("\n"));
            if let Some(claimed) = t.claim(&seen) {
                tracing::debug!(turn = %turn.user, "answer text from the transcript");
                pieces.extend(markdown::pieces(&claimed.markdown));
                markdown.push(claimed.markdown.clone());
                last = Some(claimed);
                continue;
            }
            if last.as_ref().is_some_and(|c| c.holds(&seen)) {
                continue; // the screen drew the answer just taken as two texts
            }
        }
        all_markdown = false;
        tracing::debug!(turn = %turn.user, "answer text from the screen");
        pieces.extend(styled_paragraphs(text, cols, |line| {
            view.styles_of(line).map(<[_]>::to_vec)
        }));
    }
    AnswerPieces {
        pieces,
        markdown: all_markdown.then(|| markdown.join("\n\n")),
    }
}

/// Whether a turn the screen says is over should wait for the transcript: it has been
/// delivering, and the turn's last text is not in it yet.
fn awaits_transcript(turn: &Turn, transcript: &Transcript) -> bool {
    if !transcript.is_active() || turn.interrupted {
        return false;
    }
    turn.texts()
        .last()
        .is_some_and(|text| !transcript.has(&words(&text.join("\n"))))
}

/// The lasting record of a finished turn: its tool calls, tasks and how it ended.
fn record_text(turn: &Turn) -> Option<String> {
    let mut parts: Vec<String> = turn
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Tools(lines) if lines.iter().all(|l| l.kind == Kind::Interrupted) => None,
            Block::Tools(lines) => Some(tool_lines(lines, true)),
            Block::Text(_) => None,
        })
        .filter(|t| !t.is_empty())
        .collect();
    if !turn.tasks.is_empty() {
        parts.push(task_lines(turn));
    }
    if let Some(e) = &turn.api_error {
        parts.push(format!("⚠️ {}", escape(e)));
    }
    if turn.interrupted && turn.texts().next().is_none() && !record_shows_interrupt(turn) {
        parts.push("⛔ <i>Interrupted</i>".into());
    }
    (!parts.is_empty()).then(|| limit_html_parts(parts))
}

/// The files a turn wrote (its tool banners the profile's `written` pattern matches),
/// each once, at most [`FETCH_BUTTONS`].
fn written_files(turn: &Turn, written: &regex::Regex) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for block in &turn.blocks {
        let Block::Tools(lines) = block else { continue };
        for line in lines.iter().filter(|l| l.kind == Kind::ToolBanner) {
            let Some(path) = written
                .captures(line.text.trim())
                .and_then(|c| c.name("path"))
            else {
                continue;
            };
            let path = path.as_str().trim().to_string();
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
    }
    paths.truncate(FETCH_BUTTONS);
    paths
}

/// A button per file of turn `turn` (its data: the turn and the file's index, never
/// the path, which need not fit Telegram's 64 bytes).
fn fetch_buttons(stamp: Stamp, turn: usize, files: &[String]) -> Vec<Vec<Button>> {
    files
        .iter()
        .enumerate()
        .map(|(index, path)| {
            let name = path.rsplit('/').next().unwrap_or(path).to_string();
            vec![Button {
                text: format!("📄 {}", label(&name)),
                data: ButtonData::Fetch { stamp, turn, index }.encode(),
            }]
        })
        .collect()
}

/// Whether the record shows the interrupt under a call (a rejected prompt); an
/// interrupted answer says it at its end instead.
fn record_shows_interrupt(turn: &Turn) -> bool {
    turn.blocks.iter().any(|b| {
        matches!(b, Block::Tools(lines)
            if lines.iter().any(|l| l.kind == Kind::Interrupted)
                && lines.iter().any(|l| l.kind != Kind::Interrupted))
    })
}

/// A tool group as compact lines; `lasting` leaves out what only shows progress.
fn tool_lines(lines: &[ToolLine], lasting: bool) -> String {
    let settled = lines.iter().any(|l| !l.is_progress() && !l.is_detail());
    let mut out = Vec::new();
    let mut details = 0;
    for line in lines {
        if lasting && settled && line.is_progress() {
            continue;
        }
        let text = escape(&line.text);
        match line.kind {
            Kind::Text => {
                details += 1;
                if details <= DETAIL_LINES {
                    out.push(format!("      <code>{text}</code>"));
                } else if details == DETAIL_LINES + 1 {
                    out.push("      …".into());
                }
            }
            Kind::ToolResult | Kind::Blocked | Kind::BlockedReason | Kind::Interrupted => {
                details = 0;
                out.push(format!("   {text}"));
            }
            _ => {
                details = 0;
                out.push(format!("▸ {text}"));
            }
        }
    }
    out.join("\n")
}

fn task_lines(turn: &Turn) -> String {
    turn.tasks
        .iter()
        .map(|t| format!("{} {}", t.state, escape(&t.text)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The end of a text, cut at a line start when it is too long.
fn tail(text: &str, limit: usize) -> String {
    let count = text.chars().count();
    if count <= limit {
        return text.to_string();
    }
    let skip = count - limit;
    let rest: String = text.chars().skip(skip).collect();
    let rest = match rest.find('\n') {
        Some(i) if i < rest.len() / 2 => rest[i + 1..].to_string(),
        _ => rest,
    };
    format!("…\n{rest}")
}

/// Joins message parts, dropping the oldest middle parts if the message would be too
/// long for Telegram.
fn limit_html_parts(mut parts: Vec<String>) -> String {
    let visible = |parts: &[String]| -> usize { parts.iter().map(|p| visible_len(p) + 2).sum() };
    while visible(&parts) > MESSAGE_LIMIT && parts.len() > 2 {
        parts.remove(1);
    }
    let text = parts.join("\n\n");
    if visible_len(&text) > MESSAGE_LIMIT {
        // One enormous part: keep its end (whole lines, so no tag is cut).
        let lines: Vec<&str> = text.lines().collect();
        let mut kept = Vec::new();
        let mut size = 0;
        for line in lines.iter().rev() {
            size += visible_len(line) + 1;
            if size > MESSAGE_LIMIT - 2 {
                break;
            }
            kept.push(*line);
        }
        kept.reverse();
        return format!("…\n{}", kept.join("\n"));
    }
    text
}

/// Visible characters of Telegram HTML (tags left out, entities counted once).
pub fn visible_len(html: &str) -> usize {
    let mut n = 0;
    let mut in_tag = false;
    let mut in_entity = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            '&' => {
                in_entity = true;
                n += 1;
            }
            ';' if in_entity => in_entity = false,
            _ if in_entity => {}
            _ => n += 1,
        }
    }
    n
}

/// The prompt's question and context: lines Claude Code wrapped are joined again, the
/// question (the last line that asks one) in bold; a huge preview is shortened.
fn prompt_text(prompt: &Prompt) -> String {
    let question = prompt
        .context
        .iter()
        .rposition(|l| l.trim_end().ends_with('?'));
    let mut lines: Vec<String> = Vec::new();
    let mut prev_len = 0;
    for (i, line) in prompt.context.iter().enumerate() {
        let text = line.trim_end();
        let wrapped =
            prev_len + 12 >= prompt.width && !text.trim_start().starts_with(['-', '+', '•']);
        let html = if Some(i) == question {
            format!("<b>{}</b>", escape(text.trim()))
        } else {
            escape(text)
        };
        match lines.last_mut() {
            Some(last) if wrapped && Some(i) != question && i.checked_sub(1) != question => {
                last.push(' ');
                last.push_str(html.trim_start());
            }
            _ => lines.push(html),
        }
        prev_len = text.chars().count();
    }
    let mut text = lines.join("\n");
    // Options longer than a button can show are listed in full.
    if prompt
        .choices
        .iter()
        .any(|c| c.label.chars().count() > LABEL_LIMIT)
    {
        for (i, c) in prompt.choices.iter().enumerate() {
            text.push_str(&format!("\n{}. {}", i + 1, escape(&c.label)));
        }
    }
    if visible_len(&text) > MESSAGE_LIMIT {
        // A huge diff: keep its head and the question.
        let head: Vec<String> = lines.iter().take(40).cloned().collect();
        let q = question
            .map(|q| format!("<b>{}</b>", escape(prompt.context[q].trim())))
            .unwrap_or_default();
        text = format!(
            "{}\n… (shortened; /screen shows it all)\n{q}",
            head.join("\n")
        );
        while visible_len(&text) > MESSAGE_LIMIT {
            text = format!("… (shortened; /screen shows it all)\n{q}");
        }
    }
    text
}

/// One button per choice, one per row (labels are long).
fn prompt_buttons(stamp: Stamp, serial: u64, prompt: &Prompt) -> Vec<Vec<Button>> {
    prompt
        .choices
        .iter()
        .enumerate()
        .map(|(i, choice)| {
            vec![Button {
                text: label(&choice.label),
                data: ButtonData::Prompt {
                    stamp,
                    serial,
                    index: i,
                }
                .encode(),
            }]
        })
        .collect()
}

fn label(text: &str) -> String {
    if text.chars().count() <= LABEL_LIMIT {
        return text.to_string();
    }
    let cut: String = text.chars().take(LABEL_LIMIT - 1).collect();
    format!("{}…", cut.trim_end())
}

fn silent(text: String) -> Content {
    Content {
        live: false,
        text,
        buttons: Vec::new(),
        silent: true,
        attachment: None,
    }
}

fn loud(text: String, buttons: Vec<Vec<Button>>) -> Content {
    Content {
        live: false,
        text,
        buttons,
        silent: false,
        attachment: None,
    }
}

#[cfg(test)]
mod tests;
