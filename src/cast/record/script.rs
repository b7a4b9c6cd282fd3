//! Step files for scripted recordings: what a person would do at the keyboard, written
//! down so a recording can be made again, identically, when the program changes.
//!
//! One step a line; `#` starts a comment. Texts are either the rest of the line or a
//! JSON string (`"…"`, with escapes) when spaces at the ends or control characters
//! matter.
//!
//! ```text
//! wait "Claude Code v"          # until the screen shows the text (timeout 30 s)
//! wait "Do you want" 60         # … with a timeout in seconds
//! wait-gone Thinking            # until the text is no longer on the screen
//! quiet 0.5                     # until no output came for 0.5 s
//! type What is 2 + 2?           # type text, byte by byte as a user would
//! paste "line 1\nline 2"        # text as a bracketed paste if the program asked for one
//! key Enter                     # keys: Enter Esc Tab Shift-Tab Up Down Left Right Ctrl-C 0-9 …
//! key Down Enter                # several keys, one after the other
//! sleep 0.4                     # wait a fixed time
//! resize 60x24                  # resize the terminal
//! exit 20                       # wait for the program to end (timeout in seconds)
//! ```

use std::time::Duration;

use crate::term::keys::Key;
use crate::term::screen::Size;

/// Default timeout of `wait`, `wait-gone` and `exit`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Wait { text: String, timeout: Duration },
    WaitGone { text: String, timeout: Duration },
    Quiet(Duration),
    Type(String),
    Paste(String),
    Keys(Vec<Key>),
    Sleep(Duration),
    Resize(Size),
    Exit { timeout: Duration },
}

/// A step line that could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {message}")]
pub struct StepError {
    pub line: usize,
    pub message: String,
}

/// Reads a step file.
pub fn parse(text: &str) -> Result<Vec<Step>, StepError> {
    let mut steps = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let err = |message: String| StepError { line, message };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (verb, rest) = trimmed
            .split_once(char::is_whitespace)
            .unwrap_or((trimmed, ""));
        let rest = rest.trim();
        let step = match verb {
            "wait" | "wait-gone" => {
                let (text, tail) = text_arg(rest).map_err(err)?;
                let timeout = match tail.trim() {
                    "" => DEFAULT_TIMEOUT,
                    t => seconds(t).map_err(err)?,
                };
                if text.is_empty() {
                    return Err(err(format!("{verb} needs a text")));
                }
                if verb == "wait" {
                    Step::Wait { text, timeout }
                } else {
                    Step::WaitGone { text, timeout }
                }
            }
            "type" | "paste" => {
                let (text, tail) = text_arg(rest).map_err(err)?;
                if !tail.trim().is_empty() {
                    return Err(err(format!("unexpected {:?} after the text", tail.trim())));
                }
                if verb == "type" {
                    Step::Type(text)
                } else {
                    Step::Paste(text)
                }
            }
            "key" | "keys" => {
                let keys = rest
                    .split_whitespace()
                    .map(|k| k.parse::<Key>().map_err(|e| err(e.to_string())))
                    .collect::<Result<Vec<_>, _>>()?;
                if keys.is_empty() {
                    return Err(err("key needs at least one key name".into()));
                }
                Step::Keys(keys)
            }
            "quiet" => Step::Quiet(seconds(rest).map_err(err)?),
            "sleep" => Step::Sleep(seconds(rest).map_err(err)?),
            "resize" => Step::Resize(rest.parse().map_err(err)?),
            "exit" => Step::Exit {
                timeout: if rest.is_empty() { DEFAULT_TIMEOUT } else { seconds(rest).map_err(err)? },
            },
            other => {
                return Err(err(format!(
                    "unknown step {other:?} (steps: wait, wait-gone, quiet, type, paste, key, sleep, resize, exit)"
                )))
            }
        };
        steps.push(step);
    }
    Ok(steps)
}

/// What the user says in a script: the typed and pasted texts, without slash commands
/// (`/exit`), which drive the program rather than talk to it.
pub fn user_inputs(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Type(t) | Step::Paste(t) if !t.starts_with('/') => Some(t.clone()),
            _ => None,
        })
        .collect()
}

/// A text argument: a JSON string, or the rest of the line. Returns the text and what
/// follows a JSON string.
fn text_arg(rest: &str) -> Result<(String, &str), String> {
    if !rest.starts_with('"') {
        // A bare text may still end in a timeout for `wait`: only a JSON string can, to
        // keep bare texts whole.
        return Ok((rest.to_string(), ""));
    }
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<String>();
    match stream.next() {
        Some(Ok(text)) => Ok((text, &rest[stream.byte_offset()..])),
        Some(Err(e)) => Err(format!("bad quoted text: {e}")),
        None => Err("missing text".into()),
    }
}

fn seconds(s: &str) -> Result<Duration, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v < 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{s:?} is not a number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_step() {
        let steps = parse(
            "# comment\nwait \"Claude Code v\" 60\nwait-gone Thinking\nquiet 0.5\ntype What is 2 + 2?\n\
             paste \"a\\nb\"\nkey Down Enter\nsleep 0.25\nresize 60x24\nexit\n",
        )
        .unwrap();
        assert_eq!(
            steps,
            vec![
                Step::Wait {
                    text: "Claude Code v".into(),
                    timeout: Duration::from_secs(60)
                },
                Step::WaitGone {
                    text: "Thinking".into(),
                    timeout: DEFAULT_TIMEOUT
                },
                Step::Quiet(Duration::from_millis(500)),
                Step::Type("What is 2 + 2?".into()),
                Step::Paste("a\nb".into()),
                Step::Keys(vec![Key::Down, Key::Enter]),
                Step::Sleep(Duration::from_millis(250)),
                Step::Resize(Size::new(60, 24)),
                Step::Exit {
                    timeout: DEFAULT_TIMEOUT
                },
            ]
        );
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("sleep 1\njump 3").unwrap_err().line, 2);
        assert!(parse("key Hyper")
            .unwrap_err()
            .message
            .contains("unknown key"));
        assert!(parse("sleep soon").unwrap_err().message.contains("seconds"));
        assert!(parse("type \"unterminated")
            .unwrap_err()
            .message
            .contains("quoted"));
        assert!(parse("wait").unwrap_err().message.contains("needs a text"));
    }
}
