//! The terminal screen of one program: a `vt100` parser plus what vt100 leaves to its
//! host — the window title, bells, replies to terminal queries, and the last frame a
//! fullscreen program drew before it left the alternate screen.
//!
//! `Screen` only parses and holds state; it never writes anywhere. Replies to queries
//! (DA1 `CSI c`, DSR/CPR `CSI 6n`) come back from [`Screen::feed`] for the caller to
//! write to the program, because a program that asks and gets no answer may wait forever.

use std::num::NonZeroU16;

/// Rows kept above the screen for primary-screen programs. Claude Code 2.1.197 scrolls its
/// finished answers up here; the alternate screen has no scrollback at all.
pub const DEFAULT_SCROLLBACK: usize = 5000;

/// What DA1 is answered with: a VT220 with ANSI colour, as xterm says of itself.
const DA1_REPLY: &[u8] = b"\x1b[?62;22c";

/// A terminal size in character cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub cols: u16,
    pub rows: u16,
}

impl Size {
    pub fn new(cols: u16, rows: u16) -> Self {
        Size {
            cols: cols.max(1),
            rows: rows.max(1),
        }
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.cols, self.rows)
    }
}

impl std::str::FromStr for Size {
    type Err = String;

    /// `COLSxROWS`, e.g. `100x30`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("invalid size {s:?}: expected COLSxROWS such as 100x30");
        let (c, r) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
        let cols: u16 = c.parse().map_err(|_| bad())?;
        let rows: u16 = r.parse().map_err(|_| bad())?;
        if cols < 2 || rows < 2 {
            return Err(bad());
        }
        Ok(Size { cols, rows })
    }
}

/// What one call of [`Screen::feed`] produced besides the new screen state.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// Bytes to write back to the program: answers to its terminal queries.
    pub replies: Vec<u8>,
    /// Bells rung in this chunk.
    pub bells: u32,
    /// The title changed in this chunk.
    pub title_changed: bool,
}

/// The host side of the vt100 parser: collects what vt100 reports through callbacks.
#[derive(Default)]
struct Host {
    title: String,
    bells: u64,
    /// The last payload of each OSC number vt100 does not handle itself (a program's
    /// own reports, such as a state signal): at most [`OSC_KEPT`] numbers.
    reports: Vec<(Vec<u8>, String)>,
    fed: Fed,
}

/// How many distinct OSC numbers are remembered (the oldest gives way).
const OSC_KEPT: usize = 16;
/// How much of one OSC payload is kept.
const OSC_PAYLOAD_MAX: usize = 1024;

impl vt100::Callbacks for Host {
    fn audible_bell(&mut self, _: &mut vt100::Screen) {
        self.bells += 1;
        self.fed.bells += 1;
    }

    fn visual_bell(&mut self, screen: &mut vt100::Screen) {
        self.audible_bell(screen);
    }

    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.title = String::from_utf8_lossy(title).into_owned();
        self.fed.title_changed = true;
    }

    fn unhandled_osc(&mut self, _: &mut vt100::Screen, params: &[&[u8]]) {
        // vt100 splits OSC parameters at every `;`, so a title containing one arrives here.
        match params {
            [b"0" | b"2", parts @ ..] => {
                let title = parts.join(&b';');
                self.title = String::from_utf8_lossy(&title).into_owned();
                self.fed.title_changed = true;
            }
            [number, parts @ ..] if !number.is_empty() && number.len() <= 8 => {
                let mut payload = parts.join(&b';');
                payload.truncate(OSC_PAYLOAD_MAX);
                let payload = String::from_utf8_lossy(&payload).into_owned();
                if let Some(kept) = self.reports.iter_mut().find(|(n, _)| n == number) {
                    kept.1 = payload;
                } else {
                    if self.reports.len() >= OSC_KEPT {
                        self.reports.remove(0);
                    }
                    self.reports.push((number.to_vec(), payload));
                }
            }
            _ => {}
        }
    }

    fn unhandled_csi(
        &mut self,
        screen: &mut vt100::Screen,
        i1: Option<u8>,
        _i2: Option<u8>,
        params: &[&[u16]],
        c: char,
    ) {
        let first = params.first().and_then(|p| p.first()).copied().unwrap_or(0);
        match (i1, c, first) {
            // DA1: "what are you?"
            (None, 'c', 0) => self.fed.replies.extend_from_slice(DA1_REPLY),
            // DSR 5: "are you ok?"
            (None, 'n', 5) => self.fed.replies.extend_from_slice(b"\x1b[0n"),
            // DSR 6 / CPR: "where is the cursor?" — answered with the position at this
            // exact point of the stream, which is why this is a callback.
            (None, 'n', 6) => {
                let (row, col) = screen.cursor_position();
                let reply = format!("\x1b[{};{}R", row + 1, col + 1);
                self.fed.replies.extend_from_slice(reply.as_bytes());
            }
            _ => {}
        }
    }
}

/// A fast hash of a row's text.
pub fn text_hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    text.hash(&mut h);
    h.finish()
}

/// How many rows `bytes` may scroll at most: line feeds (LF, VT, FF), `ESC D`, `ESC E`,
/// and the count of each `CSI n S` (a sequence split across chunks counts as one).
fn possible_scrolls(bytes: &[u8]) -> usize {
    let mut n = memchr::memchr3_iter(b'\n', 0x0b, 0x0c, bytes).count();
    for i in memchr::memchr_iter(0x1b, bytes) {
        match bytes.get(i + 1) {
            Some(b'D' | b'E') | None => n += 1,
            Some(b'[') => {
                let params = bytes[i + 2..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit() || **b == b';')
                    .count();
                match bytes.get(i + 2 + params) {
                    Some(b'S') => {
                        let count = std::str::from_utf8(&bytes[i + 2..i + 2 + params])
                            .ok()
                            .and_then(|p| p.split(';').next()?.parse::<usize>().ok())
                            .unwrap_or(1);
                        n = n.saturating_add(count.max(1));
                    }
                    None => n += 1,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    n
}

/// A screen row as a profile reads it: its text and the colour of its first visible
/// cell (Claude Code's `●` is white before an answer and grey, green or red before a
/// tool call: the text alone cannot tell them apart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Trailing blanks trimmed.
    pub text: String,
    pub lead_fg: vt100::Color,
    /// A hash of the text (rows are compared and looked up many times per look).
    pub hash: u64,
}

impl Row {
    /// The visible rows of `screen` (honouring its scrollback offset), the lead colour
    /// read for rows that start with one of `marks`.
    pub fn all(screen: &vt100::Screen, marks: &[char]) -> Vec<Row> {
        Row::first(screen, usize::MAX, marks)
    }

    /// The first `n` visible rows of `screen`. Text comes from vt100's row iterator (one
    /// pass); the lead colour is read only for rows that start with one of `marks` (a
    /// cell lookup walks the rows from the top, so it is kept for what a profile asks).
    pub fn first(screen: &vt100::Screen, n: usize, marks: &[char]) -> Vec<Row> {
        let cols = screen.size().1.get();
        screen
            .rows(0, cols)
            .take(n)
            .enumerate()
            .map(|(i, mut text)| {
                text.truncate(text.trim_end().len());
                let lead = text.bytes().position(|b| b != b' ');
                let lead_fg = match lead {
                    Some(col) if text[col..].starts_with(marks) => screen
                        .cell(i as u16, col as u16)
                        .map_or(vt100::Color::Default, |c| c.fgcolor()),
                    _ => vt100::Color::Default,
                };
                Row {
                    hash: text_hash(&text),
                    text,
                    lead_fg,
                }
            })
            .collect()
    }

    /// The lead colour as profiles name colours: `default`, `231`, `#rrggbb`.
    pub fn lead_fg_name(&self) -> String {
        colour_name(self.lead_fg)
    }
}

/// A colour as profiles name colours: `default`, `231`, `#rrggbb`.
pub fn colour_name(colour: vt100::Color) -> String {
    match colour {
        vt100::Color::Default => "default".into(),
        vt100::Color::Idx(i) => i.to_string(),
        vt100::Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
    }
}

/// The `CSI ?1049l` that takes a fullscreen program back to the primary screen.
const LEAVE_ALTERNATE: &[u8] = b"\x1b[?1049l";

/// One program's screen.
pub struct Screen {
    parser: vt100::Parser<Host>,
    /// Text of the alternate screen just before the program last left it: the final
    /// frame of a fullscreen program such as Claude Code 2.1.331 after it exits.
    last_alternate_frame: Option<String>,
    /// The same frame as cells, for a view that must read it with its colours.
    last_alternate_rows: Vec<Row>,
    /// How many times the program has left the alternate screen.
    alternate_exits: u64,
    /// Characters whose colour a profile reads when they start a row (`●`).
    colour_marks: Vec<char>,
    /// How many rows the scrollback keeps.
    scrollback_capacity: usize,
    /// Line feeds and other sequences that may have scrolled rows off the top since
    /// [`Screen::take_scroll_hint`] was last called: an upper bound of scrolled rows.
    scroll_hint: usize,
    /// How many bytes of [`LEAVE_ALTERNATE`] the previous chunk ended with, so a
    /// sequence split across two reads is still seen.
    leave_match: usize,
}

impl Screen {
    pub fn new(size: Size, scrollback: usize) -> Self {
        let (rows, cols) = nonzero(size);
        Screen {
            parser: vt100::Parser::new_with_callbacks(rows, cols, scrollback, Host::default()),
            last_alternate_frame: None,
            last_alternate_rows: Vec::new(),
            alternate_exits: 0,
            scroll_hint: 0,
            colour_marks: Vec::new(),
            scrollback_capacity: scrollback,
            leave_match: 0,
        }
    }

    /// Parses a chunk of program output. Never panics, whatever the bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Fed {
        self.scroll_hint = self.scroll_hint.saturating_add(possible_scrolls(bytes));
        let mut rest = bytes;
        // A sequence that started in the previous chunk and completes in this one: the
        // alternate screen is still showing, so this is the moment to keep it.
        if self.leave_match > 0 {
            let need = &LEAVE_ALTERNATE[self.leave_match..];
            if rest.starts_with(need) || need.starts_with(rest) && rest.len() < need.len() {
                if rest.len() >= need.len() {
                    self.keep_alternate_frame();
                    self.leave_match = 0;
                } else {
                    self.leave_match += rest.len();
                    self.parser.process(rest);
                    return self.take_fed();
                }
            } else {
                self.leave_match = 0;
            }
        }
        while let Some(at) = find(rest, LEAVE_ALTERNATE) {
            self.parser.process(&rest[..at]);
            self.keep_alternate_frame();
            let end = at + LEAVE_ALTERNATE.len();
            self.parser.process(&rest[at..end]);
            rest = &rest[end..];
        }
        self.leave_match = partial_suffix(rest, LEAVE_ALTERNATE);
        self.parser.process(rest);
        self.take_fed()
    }

    fn take_fed(&mut self) -> Fed {
        std::mem::take(&mut self.parser.callbacks_mut().fed)
    }

    fn keep_alternate_frame(&mut self) {
        if self.parser.screen().alternate_screen() {
            self.last_alternate_frame = Some(self.text());
            self.last_alternate_rows = Row::all(self.parser.screen(), &self.colour_marks);
            self.alternate_exits += 1;
        }
    }

    /// Resizes the screen (the PTY is resized by its owner at the same time).
    pub fn resize(&mut self, size: Size) {
        let (rows, cols) = nonzero(size);
        self.parser.set_size(rows, cols);
    }

    pub fn size(&self) -> Size {
        let (rows, cols) = self.parser.screen().size();
        Size {
            cols: cols.get(),
            rows: rows.get(),
        }
    }

    /// The visible rows as text, trailing blanks trimmed.
    pub fn text(&self) -> String {
        self.parser.screen().contents()
    }

    /// The visible rows, one string each (trailing blanks trimmed), wide characters once.
    pub fn lines(&self) -> Vec<String> {
        let cols = self.size().cols;
        self.parser
            .screen()
            .rows(0, cols)
            .map(|r| r.trim_end().to_string())
            .collect()
    }

    /// Characters whose colour matters when they start a row (from the profile).
    pub fn set_colour_marks(&mut self, marks: Vec<char>) {
        self.colour_marks = marks;
    }

    /// The visible rows with their look.
    pub fn rows(&self) -> Vec<Row> {
        Row::all(self.parser.screen(), &self.colour_marks)
    }

    /// Whether each character of visible row `row`'s text (as [`Row::text`] has it) is
    /// drawn bold, and its colour: how the screen shows what markdown marked up.
    pub fn row_styles(&self, row: u16) -> Vec<(bool, vt100::Color)> {
        let screen = self.parser.screen();
        let mut out = Vec::new();
        for col in 0..screen.size().1.get() {
            let Some(cell) = screen.cell(row, col) else {
                break;
            };
            if cell.is_wide_continuation() {
                continue;
            }
            let style = (cell.bold(), cell.fgcolor());
            if cell.has_contents() {
                out.extend(cell.contents().chars().map(|_| style));
            } else {
                out.push(style);
            }
        }
        out
    }

    /// At least as many as the rows that scrolled off the top since the last call (line
    /// feeds, `ESC D`, `ESC E`, `CSI n S` counted); resets to zero.
    pub fn take_scroll_hint(&mut self) -> usize {
        std::mem::take(&mut self.scroll_hint)
    }

    /// How many rows the scrollback holds (at most its capacity).
    pub fn scrollback_len(&mut self) -> usize {
        let screen = self.parser.screen_mut();
        screen.set_scrollback(usize::MAX);
        let total = screen.scrollback();
        screen.set_scrollback(0);
        total
    }

    /// The rows that scrolled off the top since the caller's last call, oldest first, at
    /// most `max`. `seen` is the caller's count of scrollback rows, kept between calls;
    /// `resync` forgets what scrolled meanwhile. Nothing is read when no line feed came
    /// (most calls), and nothing on the alternate screen (it has no scrollback).
    pub fn rows_scrolled_off(&mut self, seen: &mut usize, resync: bool, max: usize) -> Vec<Row> {
        let hint = self.take_scroll_hint();
        if self.is_alternate() || (hint == 0 && !resync) {
            return Vec::new();
        }
        let len = self.scrollback_len();
        if resync {
            *seen = len;
        }
        // A full scrollback no longer grows: the line feeds bound what scrolled.
        let scrolled = if len >= self.scrollback_capacity {
            hint
        } else {
            len.saturating_sub(*seen)
        };
        *seen = len;
        self.scrollback_rows(scrolled.min(max))
    }

    /// The newest `n` rows of the scrollback (oldest first), with their look.
    pub fn scrollback_rows(&mut self, n: usize) -> Vec<Row> {
        let rows = self.size().rows as usize;
        let screen = self.parser.screen_mut();
        screen.set_scrollback(usize::MAX);
        let n = n.min(screen.scrollback());
        let mut out = Vec::with_capacity(n);
        let mut done = 0;
        while done < n {
            let offset = n - done;
            screen.set_scrollback(offset);
            let take = offset.min(rows);
            out.extend(Row::first(screen, take, &self.colour_marks));
            done += take;
        }
        screen.set_scrollback(0);
        out
    }

    /// Rows that scrolled off the top (oldest first), then the visible rows.
    pub fn lines_with_scrollback(&mut self) -> Vec<String> {
        let cols = self.size().cols;
        let rows = self.size().rows as usize;
        let screen = self.parser.screen_mut();
        screen.set_scrollback(usize::MAX);
        let total = screen.scrollback();
        let mut out = Vec::with_capacity(total + rows);
        let mut i = 0;
        while i < total {
            let offset = total - i;
            screen.set_scrollback(offset);
            let take = offset.min(rows);
            out.extend(
                screen
                    .rows(0, cols)
                    .take(take)
                    .map(|r| r.trim_end().to_string()),
            );
            i += take;
        }
        screen.set_scrollback(0);
        out.extend(screen.rows(0, cols).map(|r| r.trim_end().to_string()));
        out
    }

    /// The alternate screen's rows with their look, as they were when the program last
    /// left it.
    pub fn last_alternate_rows(&self) -> &[Row] {
        &self.last_alternate_rows
    }

    /// How many times the program has left the alternate screen: a view that sees this
    /// change reads [`Screen::last_alternate_rows`] first, so no frame is missed.
    pub fn alternate_exits(&self) -> u64 {
        self.alternate_exits
    }

    /// The final frame of the alternate screen before the program last left it.
    pub fn last_alternate_frame(&self) -> Option<&str> {
        self.last_alternate_frame.as_deref()
    }

    /// The window title (OSC 0/2), empty when never set.
    pub fn title(&self) -> &str {
        &self.parser.callbacks().title
    }

    /// What the program last reported in OSC `number` (its payload after the number),
    /// for a number vt100 does not handle; `0` and `2` give the window title.
    pub fn osc_report(&self, number: &str) -> Option<&str> {
        let host = self.parser.callbacks();
        match number {
            "0" | "2" => Some(host.title.as_str()),
            _ => host
                .reports
                .iter()
                .find(|(n, _)| n == number.as_bytes())
                .map(|(_, payload)| payload.as_str()),
        }
    }

    /// Bells rung since the screen was made.
    pub fn bells(&self) -> u64 {
        self.parser.callbacks().bells
    }

    pub fn is_alternate(&self) -> bool {
        self.parser.screen().alternate_screen()
    }

    pub fn bracketed_paste(&self) -> bool {
        self.parser.screen().bracketed_paste()
    }

    pub fn application_cursor(&self) -> bool {
        self.parser.screen().application_cursor()
    }

    /// Cursor position as (row, col), zero-based.
    pub fn cursor(&self) -> (u16, u16) {
        self.parser.screen().cursor_position()
    }

    /// The underlying vt100 screen, for cell-level reads (colours, attributes).
    pub fn vt(&self) -> &vt100::Screen {
        self.parser.screen()
    }
}

/// Text with every run of whitespace (line breaks and non-breaking spaces too) as one
/// space, so a text a program wrapped over two rows still matches.
pub fn normalize_whitespace(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '\u{a0}')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn nonzero(size: Size) -> (NonZeroU16, NonZeroU16) {
    let one = NonZeroU16::MIN;
    (
        NonZeroU16::new(size.rows).unwrap_or(one),
        NonZeroU16::new(size.cols).unwrap_or(one),
    )
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Length of the longest proper prefix of `needle` that `haystack` ends with.
fn partial_suffix(haystack: &[u8], needle: &[u8]) -> usize {
    (1..needle.len())
        .rev()
        .find(|&n| haystack.ends_with(&needle[..n]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen() -> Screen {
        Screen::new(Size::new(20, 4), 100)
    }

    #[test]
    fn answers_da1_and_cursor_position_at_the_point_of_the_query() {
        let mut s = screen();
        let fed = s.feed(b"ab\x1b[6n\r\ncd\x1b[c");
        assert_eq!(fed.replies, b"\x1b[1;3R\x1b[?62;22c");
        // XTVERSION and kitty keyboard queries are not answered.
        assert!(s.feed(b"\x1b[>0q\x1b[?u").replies.is_empty());
    }

    #[test]
    fn a_programs_own_osc_reports_are_kept_bounded() {
        let mut s = Screen::new(Size::new(20, 4), 0);
        assert_eq!(s.osc_report("7501"), None);
        s.feed(b"\x1b]7501;state=working:app=x\x07");
        assert_eq!(s.osc_report("7501"), Some("state=working:app=x"));
        s.feed(b"\x1b]7501;state=idle;more\x1b\\");
        assert_eq!(s.osc_report("7501"), Some("state=idle;more"));
        s.feed(b"\x1b]0;the title\x07");
        assert_eq!(s.osc_report("0"), Some("the title"));
        // A flood of numbers and a huge payload: bounded, the newest kept.
        for n in 0..100 {
            s.feed(format!("\x1b]{};x\x07", 9000 + n).as_bytes());
        }
        s.feed(format!("\x1b]8999;{}\x07", "y".repeat(100_000)).as_bytes());
        assert_eq!(s.osc_report("7501"), None, "the oldest gave way");
        assert_eq!(s.osc_report("9099"), Some("x"));
        assert_eq!(s.osc_report("8999").map(str::len), Some(OSC_PAYLOAD_MAX));
        assert_eq!(s.parser.callbacks().reports.len(), OSC_KEPT);
    }

    #[test]
    fn title_and_bells() {
        let mut s = screen();
        let fed = s.feed(b"\x1b]0;\xe2\x9c\xb3 Claude Code\x07\x07");
        assert_eq!(s.title(), "✳ Claude Code");
        assert!(fed.title_changed);
        assert_eq!(fed.bells, 1);
        s.feed(b"\x1b]2;two\x1b\\");
        assert_eq!(s.title(), "two");
        assert_eq!(s.bells(), 1);
    }

    #[test]
    fn scroll_hints_bound_the_rows_that_scrolled() {
        assert_eq!(possible_scrolls(b"a\nb\r\nc"), 2);
        assert_eq!(possible_scrolls(b"\x1bD\x1bE\x1b[3S\x1b[S\x1b[1;31m"), 6);
        assert_eq!(
            possible_scrolls(b"\x1b[2"),
            1,
            "a sequence cut at the chunk's end"
        );
        let mut s = Screen::new(Size::new(10, 3), 100);
        s.feed(b"1\r\n2\r\n3\r\n4\r\n5");
        assert!(s.take_scroll_hint() >= 2);
        assert_eq!(s.take_scroll_hint(), 0);
    }

    #[test]
    fn scrollback_keeps_rows_that_left_the_top() {
        let mut s = screen();
        for i in 0..10 {
            s.feed(format!("line {i}\r\n").as_bytes());
        }
        let all = s.lines_with_scrollback();
        assert_eq!(all[0], "line 0");
        assert_eq!(all[9], "line 9");
        assert_eq!(s.lines()[0], "line 7");
    }

    #[test]
    fn keeps_the_last_alternate_frame_even_when_the_exit_sequence_is_split() {
        for split in 0..LEAVE_ALTERNATE.len() + 1 {
            let mut s = screen();
            s.feed(b"shell$ \x1b[?1049h\x1b[Hfullscreen");
            let mut tail = LEAVE_ALTERNATE.to_vec();
            tail.extend_from_slice(b"bye");
            let mut first = b"\x1b[2;1Hlast frame".to_vec();
            first.extend_from_slice(&tail[..split]);
            s.feed(&first);
            s.feed(&tail[split..]);
            assert!(!s.is_alternate(), "split {split}");
            let frame = s.last_alternate_frame().expect("frame kept");
            assert!(
                frame.contains("fullscreen") && frame.contains("last frame"),
                "split {split}"
            );
            assert!(
                s.text().contains("shell$ bye"),
                "split {split}: {}",
                s.text()
            );
        }
    }

    #[test]
    fn size_parses_and_rejects() {
        assert_eq!(
            "100x30".parse::<Size>(),
            Ok(Size {
                cols: 100,
                rows: 30
            })
        );
        assert!("100".parse::<Size>().unwrap_err().contains("COLSxROWS"));
        assert!("0x5".parse::<Size>().is_err());
    }
}
