//! The `plain` profile's chat: any terminal program, mirrored.
//!
//! A program on the primary screen (a shell, a build) gets its lines as they appear, in
//! `<pre>` messages that fill up and are followed by new ones. A fullscreen program
//! (vim, less, htop) gets one message that mirrors its visible screen, edited as it
//! changes; when it leaves the alternate screen, the message keeps its last frame.
//! Edits are silent and paced like everything else.

use std::time::Duration;

use crate::core::ops::{Content, MessageId};
use crate::core::pacer::Pacer;
use crate::core::view::follow::Follower;
use crate::core::view::Line;
use crate::term::screen::{Row, Screen};

use super::html::escape;

/// Visible characters of one log message (Telegram allows 4096).
const LOG_LIMIT: usize = 3500;
/// How many scrolled-off screens one look reads back at most.
const SCROLLBACK_LOOK: usize = 4;
/// Lines of history kept beyond those of the newest log message: enough to follow the
/// screen (a few screens), not everything a long-running program ever printed.
const HISTORY_LINES: usize = 2000;

#[derive(Default)]
pub struct Mirror {
    follower: Follower,
    /// Log messages: their id and the first line they hold.
    log: Vec<(MessageId, usize)>,
    /// The message mirroring the current fullscreen program, and its text.
    fullscreen: Option<(MessageId, String)>,
    next_id: MessageId,
    scrollback_len: usize,
    alternate_exits: u64,
    changed: bool,
}

impl Mirror {
    pub fn new() -> Mirror {
        Mirror {
            next_id: 1,
            ..Mirror::default()
        }
    }

    fn new_id(&mut self) -> MessageId {
        take_id(&mut self.next_id)
    }

    pub fn observe(&mut self, _now: Duration, screen: &mut Screen) {
        if screen.alternate_exits() != self.alternate_exits {
            self.alternate_exits = screen.alternate_exits();
            let text = screen_text(screen.last_alternate_rows());
            self.show_fullscreen(text);
            // The next fullscreen program gets a message of its own.
            self.fullscreen = None;
        }
        if screen.is_alternate() {
            screen.take_scroll_hint();
            let text = screen_text(&screen.rows());
            self.show_fullscreen(text);
            return;
        }
        let max = screen.size().rows as usize * SCROLLBACK_LOOK;
        let mut frame = screen.rows_scrolled_off(&mut self.scrollback_len, false, max);
        frame.extend(screen.rows());
        while frame.last().is_some_and(|r| r.text.trim().is_empty()) {
            frame.pop();
        }
        if frame.is_empty() {
            return;
        }
        let lines = frame.into_iter().map(|r| Line::plain(r.text)).collect();
        self.follower.update(lines);
        self.changed = true;
    }

    fn show_fullscreen(&mut self, text: String) {
        if text.trim().is_empty() {
            return;
        }
        match &mut self.fullscreen {
            Some((_, shown)) if *shown == text => {}
            Some((_, shown)) => {
                *shown = text;
                self.changed = true;
            }
            None => {
                let id = self.new_id();
                self.fullscreen = Some((id, text));
                self.changed = true;
            }
        }
    }

    /// Brings the chat in line with the screen.
    pub fn update(&mut self, pacer: &mut Pacer) {
        if !std::mem::take(&mut self.changed) {
            return;
        }
        if let Some((id, text)) = &self.fullscreen {
            pacer.set(*id, pre(text), false);
        }
        // Log messages: each holds whole lines up to the limit.
        let lines = self.follower.lines();
        // Lines may have been rewritten below the newest message's start (a cleared
        // screen): that message starts over where the lines now end.
        if let Some((_, s)) = self.log.last_mut() {
            *s = (*s).min(lines.len());
        }
        if lines.is_empty() {
            return;
        }
        let mut start = self.log.last().map_or(0, |(_, s)| *s);
        if self.log.is_empty() {
            let id = take_id(&mut self.next_id);
            self.log.push((id, 0));
        }
        loop {
            let mut size = 0;
            let mut end = start;
            while end < lines.len() && size + lines[end].text.chars().count() < LOG_LIMIT {
                size += lines[end].text.chars().count() + 1;
                end += 1;
            }
            if end == start && end < lines.len() {
                end += 1; // a single line longer than a message: cut by Telegram's limit
            }
            let text: Vec<&str> = lines[start..end].iter().map(|l| l.text.as_str()).collect();
            let Some(&(id, _)) = self.log.last() else {
                break;
            };
            let text = text.join("\n");
            let text: String = text.chars().take(LOG_LIMIT).collect();
            if !text.trim().is_empty() {
                pacer.set(id, pre(&text), false);
            }
            if end >= lines.len() {
                break;
            }
            start = end;
            let id = take_id(&mut self.next_id);
            self.log.push((id, start));
        }
        self.forget_old_lines();
    }

    /// Older log messages are done (never edited again): their lines are forgotten once
    /// the history passes [`HISTORY_LINES`], keeping the newest message's.
    fn forget_old_lines(&mut self) {
        let len = self.follower.lines().len();
        let Some(&(id, newest)) = self.log.last() else {
            return;
        };
        if len <= 2 * HISTORY_LINES {
            return;
        }
        let n = newest.min(len - HISTORY_LINES);
        if n == 0 {
            return;
        }
        self.follower.drop_front(n);
        self.log = vec![(id, newest - n)];
    }
}

fn take_id(next: &mut MessageId) -> MessageId {
    let id = *next;
    *next += 1;
    id
}

/// A screen's text, trailing blank rows removed.
fn screen_text(rows: &[Row]) -> String {
    let mut lines: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

fn pre(text: &str) -> Content {
    Content {
        live: false,
        text: format!("<pre>{}</pre>", escape(text)),
        buttons: Vec::new(),
        silent: true,
        attachment: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::pacer::Limits;
    use crate::term::screen::Size;

    #[test]
    fn a_program_printing_for_hours_keeps_a_bounded_history_and_every_line_reaches_the_chat() {
        let mut screen = Screen::new(Size::new(80, 24), 1000);
        let mut mirror = Mirror::new();
        let mut pacer = Pacer::new(Limits::unlimited());
        let mut chat: std::collections::BTreeMap<MessageId, String> = Default::default();
        for batch in 0..500 {
            let text: String = (0..100)
                .map(|i| format!("line {}\r\n", batch * 100 + i))
                .collect();
            screen.feed(text.as_bytes());
            mirror.observe(Duration::ZERO, &mut screen);
            mirror.update(&mut pacer);
            for op in pacer.poll(Duration::from_secs(batch)) {
                match op {
                    crate::core::ops::Operation::Send(id, c)
                    | crate::core::ops::Operation::Edit(id, c) => {
                        chat.insert(id, c.text);
                    }
                    crate::core::ops::Operation::Delete(id) => {
                        chat.remove(&id);
                    }
                    crate::core::ops::Operation::Draft(..) => {}
                }
            }
            assert!(
                mirror.follower.lines().len() <= 2 * HISTORY_LINES + 100 * 5,
                "{} lines kept",
                mirror.follower.lines().len()
            );
        }
        let all: String = chat.values().cloned().collect::<Vec<_>>().join("\n");
        for n in [0, 12_345, 33_333, 49_999] {
            assert!(
                all.contains(&format!("line {n}\n")) || all.contains(&format!("line {n}<")),
                "line {n} lost"
            );
        }
    }
}
