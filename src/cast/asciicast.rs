//! asciicast v2, asciinema's recording format: a JSON header line, then one JSON array
//! per event, `[seconds, "o" | "i" | "r" | "m", data]`.
//!
//! The reader tolerates what an interrupted recorder leaves behind — a truncated last
//! line — and reports anything else wrong with the number of the line it is on. The
//! writer keeps multi-byte characters whole when a PTY read splits them.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The header line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub version: u8,
    pub width: u16,
    pub height: u16,
    /// Unix time the recording started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Fields this reader does not use (`duration`, `idle_time_limit`, `theme`, …), kept.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl Header {
    pub fn new(width: u16, height: u16) -> Self {
        Header {
            version: 2,
            width,
            height,
            timestamp: None,
            env: BTreeMap::new(),
            title: None,
            other: BTreeMap::new(),
        }
    }
}

/// What an event carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Bytes the program wrote to the terminal.
    Output,
    /// Bytes the user typed.
    Input,
    /// The terminal was resized; data is `COLSxROWS`.
    Resize,
    /// A marker (asciinema's chapter marks).
    Marker,
    /// Any other code, kept as is.
    Other(String),
}

impl EventKind {
    pub fn code(&self) -> &str {
        match self {
            EventKind::Output => "o",
            EventKind::Input => "i",
            EventKind::Resize => "r",
            EventKind::Marker => "m",
            EventKind::Other(c) => c,
        }
    }

    fn from_code(code: &str) -> Self {
        match code {
            "o" => EventKind::Output,
            "i" => EventKind::Input,
            "r" => EventKind::Resize,
            "m" => EventKind::Marker,
            other => EventKind::Other(other.to_string()),
        }
    }
}

/// One event: seconds since the start, its kind, its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub time: f64,
    pub kind: EventKind,
    pub data: String,
}

/// A whole recording in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Cast {
    pub header: Header,
    pub events: Vec<Event>,
    /// The program's transcript as it grew during the recording (read from beside the
    /// cast by [`Cast::read_file`]; empty when there is none).
    pub transcript: Vec<crate::cast::transcript::Line>,
}

/// Why a recording could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CastError {
    #[error("line {line}: {message}")]
    Invalid { line: usize, message: String },
    #[error("the recording is empty: no header line")]
    Empty,
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn invalid(line: usize, message: impl Into<String>) -> CastError {
    CastError::Invalid {
        line,
        message: message.into(),
    }
}

impl Cast {
    /// Reads a recording. A last line cut off mid-write is dropped; anything else that
    /// is not a valid header or event is an error naming its line.
    pub fn read(reader: impl BufRead) -> Result<Cast, CastError> {
        let mut lines = Vec::new();
        for line in reader.split(b'\n') {
            lines.push(line?);
        }
        let ended_with_newline = lines.last().is_some_and(|l| l.is_empty());
        let count = lines.len();
        let mut header = None;
        let mut events = Vec::new();
        for (index, raw) in lines.iter().enumerate() {
            let number = index + 1;
            let is_last = index + 1 == count || (index + 2 == count && ended_with_newline);
            let text = match std::str::from_utf8(raw) {
                Ok(t) => t.trim_end_matches('\r'),
                Err(_) if is_last && header.is_some() => break,
                Err(e) => return Err(invalid(number, format!("not UTF-8: {e}"))),
            };
            if text.trim().is_empty() {
                continue;
            }
            if header.is_none() {
                let h: Header = serde_json::from_str(text)
                    .map_err(|e| invalid(number, format!("not an asciicast header: {e}")))?;
                if h.version != 2 {
                    return Err(invalid(
                        number,
                        format!("asciicast version {} is not supported (only 2)", h.version),
                    ));
                }
                header = Some(h);
                continue;
            }
            match parse_event(text) {
                Ok(event) => events.push(event),
                // An interrupted recorder leaves a half-written last line.
                Err(_) if is_last && !ended_with_newline => break,
                Err(message) => return Err(invalid(number, message)),
            }
        }
        let header = header.ok_or(CastError::Empty)?;
        Ok(Cast {
            header,
            events,
            transcript: Vec::new(),
        })
    }

    /// Reads a recording from a file, with its transcript when one is beside it
    /// (`NAME.transcript.jsonl`); errors name the file.
    pub fn read_file(path: &std::path::Path) -> anyhow::Result<Cast> {
        use anyhow::Context;
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut cast =
            Cast::read(io::BufReader::new(file)).with_context(|| format!("{}", path.display()))?;
        cast.transcript = crate::cast::transcript::read_beside(path)?;
        Ok(cast)
    }

    /// Seconds from the start to the last event.
    pub fn duration(&self) -> f64 {
        self.events.last().map_or(0.0, |e| e.time)
    }
}

fn parse_event(text: &str) -> Result<Event, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not a JSON event: {e}"))?;
    let Value::Array(items) = value else {
        return Err("an event must be a JSON array [time, code, data]".into());
    };
    let [time, code, data] = items.as_slice() else {
        return Err(format!(
            "an event has 3 elements, this one has {}",
            items.len()
        ));
    };
    let time = time
        .as_f64()
        .filter(|t| t.is_finite() && *t >= 0.0)
        .ok_or("the event time must be a number of seconds ≥ 0")?;
    let code = code
        .as_str()
        .ok_or("the event code must be a string such as \"o\"")?;
    let data = data.as_str().ok_or("the event data must be a string")?;
    Ok(Event {
        time,
        kind: EventKind::from_code(code),
        data: data.to_string(),
    })
}

/// Writes a recording line by line, flushing each, so a crash loses at most one line.
pub struct Writer<W: Write> {
    out: W,
    /// Bytes of a character split across two output chunks, per event kind (o, i).
    carry_output: Vec<u8>,
    carry_input: Vec<u8>,
}

impl<W: Write> Writer<W> {
    pub fn new(mut out: W, header: &Header) -> io::Result<Self> {
        serde_json::to_writer(&mut out, header)?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(Writer {
            out,
            carry_output: Vec::new(),
            carry_input: Vec::new(),
        })
    }

    /// Records bytes as an event. Bytes of an incomplete trailing UTF-8 sequence wait for
    /// the next call; invalid bytes become U+FFFD, as asciinema does.
    pub fn bytes(&mut self, time: f64, kind: EventKind, bytes: &[u8]) -> io::Result<()> {
        let carry = match kind {
            EventKind::Input => &mut self.carry_input,
            _ => &mut self.carry_output,
        };
        carry.extend_from_slice(bytes);
        let keep = incomplete_utf8_tail(carry);
        let complete: Vec<u8> = carry.drain(..carry.len() - keep).collect();
        if complete.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&complete).into_owned();
        self.event(time, kind, &text)
    }

    /// Records a text event.
    pub fn event(&mut self, time: f64, kind: EventKind, data: &str) -> io::Result<()> {
        let time = (time * 1e6).round() / 1e6;
        let line = serde_json::to_string(&(time, kind.code(), data))?;
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// How many bytes at the end of `bytes` start a UTF-8 character that is not complete yet.
fn incomplete_utf8_tail(bytes: &[u8]) -> usize {
    for back in 1..=3.min(bytes.len()) {
        let b = bytes[bytes.len() - back];
        if b & 0xC0 != 0x80 {
            // A lead byte: how long its character should be.
            let want = match b {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => return 0,
            };
            return if want > back { back } else { 0 };
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_header_and_events() {
        let mut header = Header::new(100, 30);
        header.timestamp = Some(1_795_582_300);
        header.env.insert("TERM".into(), "xterm-256color".into());
        header.title = Some("demo".into());
        let mut w = Writer::new(Vec::new(), &header).unwrap();
        w.bytes(0.1, EventKind::Output, "héllo \x1b[1m".as_bytes())
            .unwrap();
        w.event(0.25, EventKind::Input, "\r").unwrap();
        w.event(0.3, EventKind::Resize, "80x24").unwrap();
        let bytes = w.into_inner();
        let cast = Cast::read(&bytes[..]).unwrap();
        assert_eq!(cast.header, header);
        assert_eq!(cast.events.len(), 3);
        assert_eq!(cast.events[0].data, "héllo \x1b[1m");
        assert_eq!(cast.events[1].kind, EventKind::Input);
        assert_eq!(cast.events[2].kind, EventKind::Resize);
        assert_eq!(cast.duration(), 0.3);
    }

    #[test]
    fn split_characters_are_joined_across_chunks() {
        let mut w = Writer::new(Vec::new(), &Header::new(10, 5)).unwrap();
        let text = "a❯b".as_bytes();
        w.bytes(0.0, EventKind::Output, &text[..2]).unwrap();
        w.bytes(0.1, EventKind::Output, &text[2..]).unwrap();
        w.bytes(0.2, EventKind::Output, b"\xff").unwrap();
        let cast = Cast::read(&w.into_inner()[..]).unwrap();
        let all: String = cast.events.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(all, "a❯b\u{fffd}");
    }

    #[test]
    fn a_truncated_last_line_is_dropped() {
        let text =
            "{\"version\":2,\"width\":10,\"height\":5}\n[0.1,\"o\",\"ok\"]\n[0.2,\"o\",\"cut";
        let cast = Cast::read(text.as_bytes()).unwrap();
        assert_eq!(cast.events.len(), 1);
    }

    #[test]
    fn a_bad_line_in_the_middle_is_named() {
        let text = "{\"version\":2,\"width\":10,\"height\":5}\n[0.1,\"o\",\"ok\"]\n[0.2,\"o\"]\n[0.3,\"o\",\"x\"]\n";
        let err = Cast::read(text.as_bytes()).unwrap_err().to_string();
        assert!(err.starts_with("line 3:"), "{err}");
        assert!(err.contains("3 elements"), "{err}");
    }

    #[test]
    fn bad_headers_are_named() {
        let err = Cast::read("{\"version\":1,\"width\":10,\"height\":5}\n".as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("line 1: asciicast version 1"),
            "{err}"
        );
        let err = Cast::read("[0.1,\"o\",\"x\"]\n".as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("line 1: not an asciicast header"),
            "{err}"
        );
        assert!(matches!(Cast::read("".as_bytes()), Err(CastError::Empty)));
    }
}
