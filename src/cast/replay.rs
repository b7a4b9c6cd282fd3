//! Replaying a recording through the bridge's pipeline on virtual time: the cast's
//! timestamps are the clock, nothing sleeps, so a 10-minute session replays in
//! milliseconds and the same bytes always give the same result.
//!
//! [`replay`] stops at the screen; [`replay_chat`] runs the whole pipeline and gives the
//! chat operations, each at the moment the pacer let it out.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::cast::asciicast::{Cast, EventKind};
use crate::core::ops::TimedOp;
use crate::core::pacer::Limits;
use crate::core::pipeline::Pipeline;
use crate::core::profile::Profile;
use crate::term::screen::{Screen, Size, DEFAULT_SCROLLBACK};

/// Runs a recording through screen → view → render → pacer. Input events count as the
/// user typing; the transcript's entries (if the cast has one) reach the pipeline at
/// their time, after the screen's output of the same moment; the end of the recording
/// ends the session, and everything still waiting is delivered as the budget allows.
/// How many output events of a recording are looked at to tell which program it shows.
const RECOGNISE_EVENTS: usize = 2000;

/// The built-in profile whose program the recording shows, known by the version line
/// the program draws on its screen (each profile's `version` pattern: `Claude Code
/// v2.1.332`, `OpenAI Codex (v0.171.0)`); `None` when no profile knows it.
pub fn recognise(cast: &Cast) -> Option<Profile> {
    let profiles = [Profile::claude(), Profile::codex()];
    let size = Size::new(cast.header.width, cast.header.height);
    let mut screen = Screen::new(size, DEFAULT_SCROLLBACK);
    let outputs = cast.events.iter().filter(|e| e.kind == EventKind::Output);
    for event in outputs.take(RECOGNISE_EVENTS) {
        screen.feed(event.data.as_bytes());
        let text = screen.text();
        if let Some(i) = profiles
            .iter()
            .position(|p| p.version(text.lines()).is_some())
        {
            return profiles.into_iter().nth(i);
        }
    }
    None
}

pub fn replay_chat(cast: &Cast, profile: Arc<Profile>, limits: Limits) -> Vec<TimedOp> {
    replay_through(cast, profile, limits).0
}

/// [`replay_chat`], and the pipeline as the recording left it (for what it read: the
/// transcript's answers, the view).
pub fn replay_through(
    cast: &Cast,
    profile: Arc<Profile>,
    limits: Limits,
) -> (Vec<TimedOp>, Pipeline) {
    let size = Size::new(cast.header.width, cast.header.height);
    let mut pipeline = Pipeline::new(profile, size, limits);
    if !cast.transcript.is_empty() {
        pipeline.expect_transcript();
    }
    let mut ops = Vec::new();
    let mut transcript = cast.transcript.iter().peekable();
    let at = |t: f64| Duration::from_secs_f64(if t.is_finite() { t.max(0.0) } else { 0.0 });
    for event in &cast.events {
        let now = at(event.time);
        while let Some(line) = transcript.next_if(|l| at(l.time) < now) {
            ops.extend(pipeline.transcript_entry(at(line.time), &line.entry));
        }
        match event.kind {
            EventKind::Output => ops.extend(pipeline.output(now, event.data.as_bytes())),
            EventKind::Input => ops.extend(pipeline.input(now, event.data.as_bytes())),
            EventKind::Resize => match event.data.parse::<Size>() {
                Ok(size) => ops.extend(pipeline.resize(now, size)),
                Err(e) => tracing::warn!(time = event.time, "ignoring resize event: {e}"),
            },
            _ => {}
        }
    }
    for line in transcript {
        ops.extend(pipeline.transcript_entry(at(line.time), &line.entry));
    }
    let end = Duration::from_secs_f64(cast.duration().max(0.0));
    ops.extend(pipeline.exited(end, "the recording ended".into()));
    ops.extend(pipeline.drain());
    (ops, pipeline)
}

/// Feeds a recording into a screen up to `until` seconds (all of it when `None`),
/// calling `observe` after every event that changed the screen, with the event's time.
pub fn replay(cast: &Cast, until: Option<f64>, mut observe: impl FnMut(f64, &Screen)) -> Screen {
    let size = Size::new(cast.header.width, cast.header.height);
    let mut screen = Screen::new(size, DEFAULT_SCROLLBACK);
    for event in &cast.events {
        if until.is_some_and(|t| event.time > t) {
            break;
        }
        match event.kind {
            EventKind::Output => {
                screen.feed(event.data.as_bytes());
            }
            EventKind::Resize => match event.data.parse::<Size>() {
                Ok(size) => screen.resize(size),
                Err(e) => tracing::warn!(time = event.time, "ignoring resize event: {e}"),
            },
            // What the user typed reaches the screen only through the program's echo.
            _ => continue,
        }
        observe(event.time, &screen);
    }
    screen
}

/// A screen as data, for `telepty replay --screen --json`.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    /// Seconds into the recording.
    pub time: f64,
    pub cols: u16,
    pub rows: u16,
    pub title: String,
    pub alternate_screen: bool,
    /// Zero-based (row, col).
    pub cursor: (u16, u16),
    pub bells: u64,
    pub lines: Vec<String>,
    /// The alternate screen as it was when the program last left it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_alternate_frame: Option<String>,
}

impl Snapshot {
    pub fn of(screen: &Screen, time: f64) -> Snapshot {
        let size = screen.size();
        Snapshot {
            time,
            cols: size.cols,
            rows: size.rows,
            title: screen.title().to_string(),
            alternate_screen: screen.is_alternate(),
            cursor: screen.cursor(),
            bells: screen.bells(),
            lines: screen.lines(),
            last_alternate_frame: screen.last_alternate_frame().map(str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cast::asciicast::{Event, Header};

    fn cast(events: &[(f64, &str, &str)]) -> Cast {
        Cast {
            header: Header::new(20, 3),
            events: events
                .iter()
                .map(|(t, k, d)| Event {
                    time: *t,
                    kind: match *k {
                        "o" => EventKind::Output,
                        "i" => EventKind::Input,
                        _ => EventKind::Resize,
                    },
                    data: d.to_string(),
                })
                .collect(),
            transcript: Vec::new(),
        }
    }

    #[test]
    fn stops_at_the_requested_moment() {
        let c = cast(&[(0.5, "o", "one "), (1.0, "i", "x"), (2.0, "o", "two")]);
        assert_eq!(replay(&c, Some(1.5), |_, _| {}).lines()[0], "one");
        assert_eq!(replay(&c, None, |_, _| {}).lines()[0], "one two");
    }

    #[test]
    fn applies_resize_events_and_reports_each_change() {
        let c = cast(&[(0.1, "o", "a"), (0.2, "r", "30x5"), (0.3, "o", "b")]);
        let mut times = Vec::new();
        let screen = replay(&c, None, |t, _| times.push(t));
        assert_eq!(screen.size(), Size::new(30, 5));
        assert_eq!(times, [0.1, 0.2, 0.3]);
    }
}
