//! The pipeline of one session, from program output to chat operations:
//! screen → view → render → pacer. Pure and clocked: every call says what time it is,
//! so `telepty replay` drives it with a recording's timestamps and the bot with the
//! wall clock, and both get the same operations.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use memchr::memmem::Finder;

use crate::core::ops::TimedOp;
use crate::core::pacer::{Limits, Pacer};
use crate::core::profile::{Profile, ViewKind};
use crate::core::render::mirror::Mirror;
use crate::core::render::Render;
use crate::core::transcript::Transcript;
use crate::core::view::View;
use crate::term::screen::{Screen, Size, DEFAULT_SCROLLBACK};

/// What a program left on the screen when it ended ([`Pipeline::last_words`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastWords {
    /// The screen's last non-blank lines.
    pub lines: Vec<String>,
    /// The conversation id the program printed (to resume that conversation).
    pub session_id: Option<String>,
}

/// Screen, view, render and pacer of one session.
pub struct Pipeline {
    profile: Arc<Profile>,
    screen: Screen,
    view: View,
    render: Render,
    /// For a `mirror` profile (`plain`), in place of the view and render.
    mirror: Option<Mirror>,
    /// The permission mode of the transcript's newest entry that names one.
    transcript_mode: Option<String>,
    /// Since when the program has been inside a synchronized update (`CSI ? 2026 h`),
    /// if it is.
    synchronized: Option<Duration>,
    pacer: Pacer,
    /// The program's own log of the conversation, for a profile that names one.
    transcript: Option<Transcript>,
    now: Duration,
    /// Answers to the program's terminal queries, for the caller to write back.
    replies: Vec<u8>,
}

/// How many deadline steps one `advance` may take (a guard against a clock that does
/// not move).
const MAX_STEPS: usize = 100_000;

impl Pipeline {
    pub fn new(profile: Arc<Profile>, size: Size, limits: Limits) -> Pipeline {
        let mirror = (profile.view == ViewKind::Mirror).then(Mirror::new);
        let transcript = profile.transcript.clone().map(Transcript::new);
        let mut screen = Screen::new(size, DEFAULT_SCROLLBACK);
        screen.set_colour_marks(profile.colour_marks.clone());
        Pipeline {
            screen,
            mirror,
            view: View::new(profile.clone()),
            profile,
            render: Render::new(),
            pacer: Pacer::new(limits),
            transcript,
            transcript_mode: None,
            synchronized: None,
            now: Duration::ZERO,
            replies: Vec::new(),
        }
    }

    /// The program these buttons are for: prompt and file buttons carry it, and a press
    /// of another program's button is refused.
    pub fn with_stamp(mut self, stamp: crate::core::buttons::Stamp) -> Pipeline {
        self.render.set_stamp(stamp);
        self
    }

    /// The path a fetch button of a turn's record names (`None`: not this program's).
    pub fn fetch(&self, data: &str) -> Option<String> {
        self.render.fetch(data)
    }

    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    pub fn view(&self) -> &View {
        &self.view
    }

    /// The profile the pipeline reads the screen with.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Whether the screen is read as a conversation or mirrored.
    pub fn view_kind(&self) -> ViewKind {
        self.profile.view
    }

    pub fn render(&self) -> &Render {
        &self.render
    }

    /// Program output at `now`.
    pub fn output(&mut self, now: Duration, bytes: &[u8]) -> Vec<TimedOp> {
        let mut ops = self.advance(now);
        // A chunk may hold several frames (a program that redraws from the top faster
        // than the reads): every frame is looked at, or a turn shown only in the middle
        // one would be missed.
        for frame in frames(bytes) {
            let fed = self.screen.feed(frame);
            self.replies.extend(fed.replies);
            self.synchronized = synchronized_after(frame, self.synchronized, now);
            // Inside a synchronized update (Codex wraps every frame in one) the screen is
            // half drawn: looked at once the update ends, or after SYNC_LIMIT at worst.
            if self
                .synchronized
                .is_none_or(|since| now.saturating_sub(since) >= SYNC_LIMIT)
            {
                self.observe(now);
            }
        }
        ops.extend(self.step(now));
        ops
    }

    /// A line of the program's transcript at `now` (ignored for a profile without one).
    pub fn transcript_line(&mut self, now: Duration, line: &str) -> Vec<TimedOp> {
        let mut ops = self.advance(now);
        if let Some(t) = self.transcript.as_mut() {
            t.line(line);
        }
        if let (Some(spec), Ok(entry)) = (
            self.profile.vitals.as_ref(),
            serde_json::from_str::<serde_json::Value>(line),
        ) {
            self.transcript_mode = spec.transcript_mode(&entry).or(self.transcript_mode.take());
        }
        ops.extend(self.step(now));
        ops
    }

    /// The permission mode, as the chat names it: the footer's (live), else the one
    /// the transcript's newest entry was sent in.
    pub fn mode(&self) -> Option<String> {
        self.view
            .mode()
            .or(self.transcript_mode.as_deref())
            .map(crate::core::vitals::mode_name)
    }

    /// An entry of the program's transcript at `now`, already parsed (a recording's).
    pub fn transcript_entry(&mut self, now: Duration, entry: &serde_json::Value) -> Vec<TimedOp> {
        let mut ops = self.advance(now);
        if let Some(t) = self.transcript.as_mut() {
            t.entry(entry);
        }
        if let Some(spec) = self.profile.vitals.as_ref() {
            self.transcript_mode = spec.transcript_mode(entry).or(self.transcript_mode.take());
        }
        ops.extend(self.step(now));
        ops
    }

    /// The caller follows the program's transcript (a live session with a follower, a
    /// recording that has one): a finished turn waits for its answer from the start.
    pub fn expect_transcript(&mut self) {
        if let Some(t) = self.transcript.as_mut() {
            t.expect();
        }
    }

    /// The transcript as read so far, for a profile that has one.
    pub fn transcript(&self) -> Option<&Transcript> {
        self.transcript.as_ref()
    }

    /// Answers to terminal queries the program asked since the last call (DA1, CPR):
    /// a live session writes them back to the program.
    pub fn take_replies(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.replies)
    }

    /// The user pressed the button with `data` at `now`: the keys that pick its option
    /// on the terminal (to be written to the program), or `None` if the prompt is gone.
    pub fn press(&mut self, now: Duration, data: &str) -> Option<Vec<crate::term::keys::Key>> {
        let index = self.render.button(data)?;
        let (_, prompt) = self.render.active_prompt()?;
        let keys = prompt.keys_for(index);
        let label = prompt.choices.get(index)?.label.clone();
        self.view.input(now, b"");
        self.pacer.user_spoke(now);
        self.render.answered(label);
        Some(keys)
    }

    /// What the user typed at `now` (keys or text, as terminal bytes).
    pub fn input(&mut self, now: Duration, bytes: &[u8]) -> Vec<TimedOp> {
        let mut ops = self.advance(now);
        self.view.input(now, bytes);
        self.pacer.user_spoke(now);
        if let Some(prompt) = self.view.prompt() {
            if let Some(choice) = choice_of(prompt, bytes) {
                self.render.answered(choice);
            }
        }
        ops.extend(self.step(now));
        ops
    }

    /// The terminal was resized at `now`.
    pub fn resize(&mut self, now: Duration, size: Size) -> Vec<TimedOp> {
        let mut ops = self.advance(now);
        self.screen.resize(size);
        self.observe(now);
        ops.extend(self.step(now));
        ops
    }

    /// The program exited at `now`.
    pub fn exited(&mut self, now: Duration, how: String) -> Vec<TimedOp> {
        let mut ops = self.advance(now);
        self.view.exited(now, how);
        ops.extend(self.step(now));
        ops
    }

    /// The usage-limit notice on screen, if the program shows one (the profile's
    /// `usage_limit`): read when the program stops working, since a limit ends a turn.
    pub fn usage_limit(&self) -> Option<String> {
        let lines = self.screen.lines();
        self.profile()
            .lifecycle
            .find_usage_limit(lines.iter().map(String::as_str))
    }

    /// What the program left on the screen when it ended: its last `keep` non-blank
    /// lines (a fullscreen program's last frame, gone from the screen, comes first) and
    /// the conversation id it printed on its way out (the profile's `session_id`).
    pub fn last_words(&self, keep: usize) -> LastWords {
        let mut lines: Vec<String> = self.screen.lines();
        if let Some(frame) = self.screen.last_alternate_frame() {
            let mut all: Vec<String> = frame.lines().map(str::to_string).collect();
            all.append(&mut lines);
            lines = all;
        }
        let session_id = self
            .profile()
            .lifecycle
            .find_session_id(lines.iter().map(String::as_str));
        let mut lines: Vec<String> = lines
            .into_iter()
            .map(|l| l.trim_end().to_string())
            .filter(|l| !l.trim().is_empty())
            .collect();
        lines.drain(..lines.len().saturating_sub(keep));
        LastWords { lines, session_id }
    }

    /// When something may next be due without new input.
    pub fn next_deadline(&self) -> Option<Duration> {
        [
            self.view.next_deadline(),
            self.render.next_deadline(),
            self.pacer.next_deadline(self.now),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Lets time pass up to `now`: settles turns and lets waiting operations out, each
    /// at the moment it became due.
    pub fn advance(&mut self, now: Duration) -> Vec<TimedOp> {
        let mut ops = Vec::new();
        for _ in 0..MAX_STEPS {
            let Some(due) = self.next_deadline() else {
                break;
            };
            if due > now {
                break;
            }
            let due = due.max(self.now);
            let before = ops.len();
            ops.extend(self.step(due));
            if ops.len() == before && self.next_deadline() == Some(due) {
                break;
            }
        }
        self.now = self.now.max(now);
        ops
    }

    /// Everything still waiting, delivered as soon as the budget allows.
    pub fn drain(&mut self) -> Vec<TimedOp> {
        self.advance(Duration::MAX / 2)
    }

    fn observe(&mut self, now: Duration) {
        match &mut self.mirror {
            Some(mirror) => mirror.observe(now, &mut self.screen),
            None => self.view.observe(now, &mut self.screen),
        }
    }

    fn step(&mut self, now: Duration) -> Vec<TimedOp> {
        self.now = self.now.max(now);
        match &mut self.mirror {
            Some(mirror) => mirror.update(&mut self.pacer),
            None => {
                self.view.tick(self.now);
                self.render.update(
                    &self.view,
                    self.transcript.as_mut(),
                    &mut self.pacer,
                    self.now,
                );
            }
        }
        if self
            .pacer
            .next_deadline(self.now)
            .is_none_or(|due| due > self.now)
        {
            return Vec::new();
        }
        self.pacer
            .poll(self.now)
            .into_iter()
            .map(|op| TimedOp { time: self.now, op })
            .collect()
    }
}

/// The start of a synchronized update's begin (`CSI ? 2026 h`) or end (`… l`): the
/// terminal shows the frame whole at its end.
const SYNC: &[u8] = b"\x1b[?2026";
const SYNC_END: &[u8] = b"\x1b[?2026l";
/// A synchronized update that lasts longer than this is looked at anyway (a program
/// that never ends one must not go unseen).
const SYNC_LIMIT: Duration = Duration::from_secs(1);

/// Searchers built once: every chunk of output is scanned for these.
static SYNC_FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(SYNC));
static CLEAR_FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\x1b[2J"));
static HOME_FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\x1b[H"));

/// Whether the program is inside a synchronized update after `frame` (since when), given
/// whether it was before: the last begin or end in the frame decides.
fn synchronized_after(frame: &[u8], before: Option<Duration>, now: Duration) -> Option<Duration> {
    // One forward scan (vectorised; a reverse one is not): the last mark wins.
    let last = SYNC_FINDER
        .find_iter(frame)
        .filter_map(|i| frame.get(i + SYNC.len()).copied())
        .filter(|&b| b == b'h' || b == b'l')
        .last();
    match last {
        Some(b'h') => Some(before.unwrap_or(now)),
        Some(_) => None,
        None => before,
    }
}

/// A chunk cut where a redraw starts: before each `CSI 2J` (clear) and each `CSI H`
/// (cursor home) that does not follow a clear — so a look never sees a screen just
/// cleared for the next frame — and after each end of a synchronized update (a whole
/// frame).
fn frames(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let clears = CLEAR_FINDER.find_iter(bytes);
    let homes = HOME_FINDER
        .find_iter(bytes)
        .filter(|&i| !(i >= 4 && &bytes[i - 4..i] == b"\x1b[2J"));
    let ends = SYNC_FINDER
        .find_iter(bytes)
        .filter(|&i| bytes.get(i + SYNC.len()) == Some(&b'l'))
        .map(|i| i + SYNC_END.len());
    let mut starts: Vec<usize> = clears
        .chain(homes)
        .chain(ends)
        .filter(|&i| i > 0 && i < bytes.len())
        .collect();
    starts.sort_unstable();
    starts.dedup();
    starts.push(bytes.len());
    let mut from = 0;
    starts.into_iter().map(move |end| {
        let part = &bytes[from..end];
        from = end;
        part
    })
}

/// What typing `bytes` at a prompt chooses: a digit picks that option, Enter the
/// highlighted one, Esc cancels; anything else (arrows) only moves the cursor.
fn choice_of(prompt: &crate::core::view::Prompt, bytes: &[u8]) -> Option<String> {
    match bytes {
        [d @ b'1'..=b'9'] => {
            let n = u32::from(d - b'0');
            prompt
                .choices
                .iter()
                .find(|c| c.number == Some(n))
                .map(|c| c.label.clone())
        }
        b"\r" | b"\n" => prompt
            .choices
            .get(prompt.highlighted)
            .map(|c| c.label.clone()),
        b"\x1b" => Some("cancelled (Esc)".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_synchronized_update_is_looked_at_when_it_ends() {
        let t = Duration::from_secs(1);
        assert_eq!(synchronized_after(b"\x1b[?2026hhalf", None, t), Some(t));
        // Still inside: since when it began.
        assert_eq!(synchronized_after(b"more", Some(t), t * 2), Some(t));
        assert_eq!(synchronized_after(b"rest\x1b[?2026l", Some(t), t * 2), None);
        assert_eq!(
            synchronized_after(b"\x1b[?2026lnext\x1b[?2026h", None, t),
            Some(t)
        );
        let parts: Vec<&[u8]> = frames(b"\x1b[?2026hone\x1b[?2026l\x1b[?2026htwo").collect();
        assert_eq!(
            parts,
            [&b"\x1b[?2026hone\x1b[?2026l"[..], b"\x1b[?2026htwo"]
        );
    }

    #[test]
    fn chunks_are_cut_where_redraws_start() {
        let parts: Vec<&[u8]> = frames(b"\x1b[Hone\x1b[2J\x1b[Htwo\x1b[H").collect();
        assert_eq!(parts, [&b"\x1b[Hone"[..], b"\x1b[2J\x1b[Htwo", b"\x1b[H"]);
        assert_eq!(frames(b"plain").collect::<Vec<_>>(), [b"plain"]);
        assert_eq!(frames(b"").count(), 1);
    }

    fn claude(cols: u16, rows: u16) -> Pipeline {
        Pipeline::new(
            Arc::new(Profile::claude()),
            Size::new(cols, rows),
            Limits::default(),
        )
    }

    #[test]
    fn a_usage_limit_is_read_off_the_screen_with_its_reset_time() {
        let mut p = claude(80, 10);
        p.output(Duration::ZERO, b"\xe2\x97\x8f Hello there.\r\n");
        assert_eq!(p.usage_limit(), None);
        p.output(
            Duration::from_secs(1),
            b"  \xe2\x8e\xbf  5-hour limit reached \xe2\x88\x99 resets 3pm (Europe/Berlin)\r\n",
        );
        assert_eq!(p.usage_limit().as_deref(), Some("3pm (Europe/Berlin)"));
    }

    #[test]
    fn the_last_words_keep_the_last_lines_and_the_conversation_id() {
        let mut p = claude(80, 10);
        let id = "0b5c1f7e-3a7d-4a52-9a55-2f9f6f0c1d2e";
        let bye = format!("one\r\n\r\ntwo\r\nthree\r\nclaude --resume {id}\r\n");
        p.output(Duration::ZERO, bye.as_bytes());
        let words = p.last_words(3);
        assert_eq!(
            words.lines,
            ["two", "three", &format!("claude --resume {id}")]
        );
        assert_eq!(words.session_id.as_deref(), Some(id));
        assert_eq!(claude(80, 10).last_words(3), LastWords::default());
    }
}
