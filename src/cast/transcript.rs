//! A recording's transcript: `NAME.transcript.jsonl` beside `NAME.cast`, the program's
//! own log of the conversation as it grew while the cast was recorded.
//!
//! One JSON array per line: `[t, "<transcript file name>", <entry exactly as the
//! program wrote it>]`, `t` in seconds since the cast's start, the moment the line
//! appeared. A replay releases each entry at its `t` on the virtual clock, so the
//! pipeline sees the file grow as it did live.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

/// One entry of the program's transcript, when it appeared.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Seconds since the cast's start.
    pub time: f64,
    /// The transcript file's name (a session may move to another file).
    pub file: String,
    /// The entry as the program wrote it.
    pub entry: Value,
}

impl Line {
    /// The line as it is stored: `[t, file, entry]`.
    pub fn to_json(&self) -> String {
        serde_json::json!([self.time, self.file, self.entry]).to_string()
    }
}

/// Where the transcript of the cast at `cast` is kept.
pub fn beside(cast: &Path) -> PathBuf {
    cast.with_extension("transcript.jsonl")
}

/// The transcript recorded with the cast at `cast`: empty when there is none. A line
/// that is not `[t, file, entry]` is an error naming the file and the line, except a
/// last line cut off mid-write, which is dropped.
pub fn read_beside(cast: &Path) -> anyhow::Result<Vec<Line>> {
    let path = beside(cast);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
    };
    let raw: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let count = raw.len();
    let mut lines = Vec::new();
    for (i, text) in raw.iter().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        match parse(text) {
            Ok(line) => lines.push(line),
            Err(_) if i + 1 == count => break,
            Err(e) => anyhow::bail!("{}: line {}: {e}", path.display(), i + 1),
        }
    }
    Ok(lines)
}

fn parse(text: &str) -> Result<Line, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    match value {
        Value::Array(mut parts) if parts.len() == 3 => {
            let entry = parts.pop().unwrap_or_default();
            let file = parts[1]
                .as_str()
                .ok_or("the second element is not a file name")?
                .to_string();
            let time = parts[0]
                .as_f64()
                .filter(|t| t.is_finite())
                .ok_or("the first element is not a time")?;
            Ok(Line { time, file, entry })
        }
        _ => Err("not [t, file, entry]".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_as_written_and_a_cut_last_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let cast = dir.path().join("x.cast");
        assert!(
            read_beside(&cast).unwrap().is_empty(),
            "no transcript: none"
        );
        let line = Line {
            time: 1.5,
            file: "a.jsonl".into(),
            entry: serde_json::json!({"type": "assistant"}),
        };
        std::fs::write(
            beside(&cast),
            format!("{}\n\n[2.0, \"a.jso", line.to_json()),
        )
        .unwrap();
        assert_eq!(read_beside(&cast).unwrap(), std::slice::from_ref(&line));
        std::fs::write(beside(&cast), format!("[1]\n{}\n", line.to_json())).unwrap();
        let err = read_beside(&cast).unwrap_err().to_string();
        assert!(err.contains("x.transcript.jsonl: line 1"), "{err}");
    }
}
