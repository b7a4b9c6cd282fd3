//! What the supervisor tells the user about a session, as typed notices, and their one
//! rendering as a chat message (Telegram HTML; the console prints it as plain text).

use std::path::PathBuf;

use crate::core::buttons::{ButtonData, SessionAction};
use crate::core::ops::{Button, Content};
use crate::core::render::html::escape;
use crate::session::lifecycle::CRASH_LOOP_EXITS;

/// News of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// `/new`: the session's program started in `dir`.
    Started {
        dir: PathBuf,
        /// A group chat: everyone in it sees the session.
        group: bool,
        /// The directory is outside the sessions root (this one).
        outside_root: Option<PathBuf>,
    },
    /// The program starts again (`how`: the resume arguments, or a new conversation).
    Resuming { how: String },
    /// Suspended: idle, or to make room for session `room_for` at `max` sessions.
    Suspended {
        room_for: Option<String>,
        max: usize,
    },
    /// `/stop` or `/kill` ended it.
    Stopped { how: String },
    /// The program ended by itself.
    Ended {
        success: bool,
        how: String,
        last_lines: Vec<String>,
        /// It ended too often too fast: telepty stopped resuming it.
        crash_loop: bool,
        /// Waiting messages dropped with it.
        dropped: usize,
    },
    /// All `max` running sessions are busy: this one did not start.
    NoRoom { max: usize, dropped: usize },
    /// The program could not be started.
    CannotStart {
        program: String,
        error: String,
        dropped: usize,
    },
    /// The screen shows a usage limit that resets at `reset` (as shown); the profile
    /// says what to type to go on (`can_continue`: a button schedules it).
    UsageLimit { reset: String, can_continue: bool },
    /// `text` ("continue") will be typed at `at` (local time).
    ContinueAt { at: String, text: String },
    /// The usage limit has reset: `text` ("continue") is typed now.
    LimitReset { text: String },
    /// `/delete`: forgotten; `kept_dir` is offered for deletion.
    Deleted {
        waiting: usize,
        kept_dir: Option<PathBuf>,
    },
    /// The user's message waits until the prompt on screen is answered.
    Held,
    /// The user's message was typed while the program (named so) works: it reads it
    /// afterwards.
    Queued { program: String },
    /// The session is in a crash loop: the user's message was not delivered.
    CrashLoopRefused,
}

impl Notice {
    /// Whether the notice answers what the user just sent (it goes where they wrote),
    /// rather than news of the session (it goes where the session's messages go).
    pub fn answers_the_sender(&self) -> bool {
        matches!(
            self,
            Notice::Held
                | Notice::Queued { .. }
                | Notice::CrashLoopRefused
                | Notice::ContinueAt { .. }
        )
    }

    /// The notice as a chat message about session `name`.
    pub fn content(&self, name: &str) -> Content {
        let n = escape(name);
        let mut silent = false;
        let mut buttons = Vec::new();
        let text = match self {
            Notice::Started {
                dir,
                group,
                outside_root,
            } => {
                let mut text = format!(
                    "Session <b>{n}</b> started in <code>{}</code>.",
                    escape(&dir.display().to_string())
                );
                if *group {
                    text.push_str(
                        " Everyone in this group sees its screens, answers and the files it \
                         sends.",
                    );
                }
                if let Some(root) = outside_root {
                    text.push_str(&format!(
                        " It is outside the sessions root (<code>{}</code>): the program \
                         works on your files there, and telepty will never offer to delete \
                         that directory.",
                        escape(&root.display().to_string())
                    ));
                }
                text
            }
            Notice::Resuming { how } => {
                silent = true;
                format!("▶ Resuming <b>{n}</b> ({})…", escape(how))
            }
            Notice::Suspended { room_for, max } => {
                silent = true;
                match room_for {
                    Some(other) => format!(
                        "💤 Suspended <b>{n}</b>, the least recently used idle session, to make \
                         room for <b>{}</b> (max_sessions = {max}). Its next message resumes it.",
                        escape(other)
                    ),
                    None => {
                        format!("💤 <b>{n}</b> suspended after being idle; its next message resumes it.")
                    }
                }
            }
            Notice::Stopped { how } => format!(
                "■ <b>{n}</b> stopped ({}). Its next message resumes it.",
                escape(how)
            ),
            Notice::Ended {
                success,
                how,
                last_lines,
                crash_loop,
                dropped,
            } => {
                let mut text = format!(
                    "{} <b>{n}</b> ended: {}.",
                    if *success { "■" } else { "⚠️" },
                    escape(how)
                );
                if !last_lines.is_empty() {
                    text.push_str(&format!("\n<pre>{}</pre>", escape(&last_lines.join("\n"))));
                }
                if *crash_loop {
                    text.push_str(&format!(
                        "\nIt ended {CRASH_LOOP_EXITS} times within a minute: telepty stops \
                         resuming it. /restart {n} tries again."
                    ));
                    if *dropped > 0 {
                        text.push_str(&format!(" {dropped} message(s) not delivered."));
                    }
                } else {
                    text.push_str("\nYour next message resumes it.");
                }
                text
            }
            Notice::NoRoom { max, dropped } => {
                let mut text = format!(
                    "All {max} running sessions are busy or waiting for you, so <b>{n}</b> \
                     was not started (max_sessions = {max}). /stop one, or try again when \
                     one is idle."
                );
                if *dropped > 0 {
                    text.push_str(&format!(" {dropped} message(s) not delivered."));
                }
                text
            }
            Notice::CannotStart {
                program,
                error,
                dropped,
            } => {
                let mut text = format!(
                    "Cannot start <b>{n}</b> ({}): {}",
                    escape(program),
                    escape(error)
                );
                if *dropped > 0 {
                    text.push_str(&format!("\n{dropped} message(s) not delivered."));
                }
                text
            }
            Notice::UsageLimit {
                reset,
                can_continue,
            } => {
                if *can_continue {
                    buttons = vec![vec![button(
                        "▶ Continue when it resets",
                        SessionAction::Continue,
                        name,
                    )]];
                }
                format!(
                    "⏸ <b>{n}</b> hit a usage limit; it resets {}.",
                    escape(reset)
                )
            }
            Notice::ContinueAt { at, text } => {
                silent = true;
                buttons = vec![vec![button("Cancel", SessionAction::NoContinue, name)]];
                format!(
                    "⏰ At {} telepty will type “{}” into <b>{n}</b>.",
                    escape(at),
                    escape(text)
                )
            }
            Notice::LimitReset { text } => format!(
                "▶ The usage limit has reset: typing “{}” into <b>{n}</b>.",
                escape(text)
            ),
            Notice::Deleted { waiting, kept_dir } => {
                let mut text = format!("🗑 <b>{n}</b> deleted.");
                if *waiting > 0 {
                    text.push_str(&format!(" {waiting} waiting message(s) not delivered."));
                }
                if let Some(dir) = kept_dir {
                    text.push_str(&format!(
                        " Its directory <code>{}</code> is kept.",
                        escape(&dir.display().to_string())
                    ));
                    buttons = vec![vec![button(
                        "Also delete the directory",
                        SessionAction::RemoveDir,
                        name,
                    )]];
                }
                text
            }
            Notice::Held => {
                silent = true;
                "⏸ A prompt is waiting for your answer: your message will be typed once it is \
                 answered (its buttons, or /esc). To type into the prompt itself, reply to it."
                    .into()
            }
            Notice::Queued { program } => {
                silent = true;
                format!(
                    "⏳ Queued: {} will read it when the current turn ends.",
                    escape(program)
                )
            }
            Notice::CrashLoopRefused => format!(
                "<b>{n}</b> ended {CRASH_LOOP_EXITS} times within a minute, so telepty stopped \
                 resuming it; your message was not delivered. /restart {n} tries again."
            ),
        };
        Content {
            live: false,
            text,
            buttons,
            silent,
            attachment: None,
        }
    }
}

fn button(text: &str, action: SessionAction, name: &str) -> Button {
    Button {
        text: text.into(),
        data: ButtonData::Session {
            action,
            name: name.to_string(),
        }
        .encode(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_name_is_escaped_and_buttons_name_their_session() {
        let content = Notice::UsageLimit {
            reset: "3pm".into(),
            can_continue: true,
        }
        .content("a<b");
        assert!(content.text.contains("<b>a&lt;b</b>"), "{}", content.text);
        let data = &content.buttons[0][0].data;
        assert_eq!(
            ButtonData::decode(data),
            Some(ButtonData::Session {
                action: SessionAction::Continue,
                name: "a<b".into()
            })
        );
    }

    #[test]
    fn a_crash_loop_says_it_stopped_resuming_and_what_was_dropped() {
        let text = Notice::Ended {
            success: false,
            how: "exit status 1".into(),
            last_lines: vec!["boom".into()],
            crash_loop: true,
            dropped: 2,
        }
        .content("web")
        .text;
        assert!(
            text.starts_with("⚠️ <b>web</b> ended: exit status 1."),
            "{text}"
        );
        assert!(text.contains("<pre>boom</pre>"), "{text}");
        assert!(
            text.contains("/restart web tries again. 2 message(s)"),
            "{text}"
        );
        assert!(!text.contains("next message resumes"), "{text}");
    }

    #[test]
    fn news_goes_to_the_session_and_answers_to_the_sender() {
        assert!(Notice::Held.answers_the_sender());
        let reset = Notice::LimitReset {
            text: "continue".into(),
        };
        assert!(!reset.answers_the_sender());
        assert!(!Notice::Resuming { how: "x".into() }.answers_the_sender());
        assert!(Notice::Resuming { how: "x".into() }.content("s").silent);
    }
}
