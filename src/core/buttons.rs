//! What a chat button carries (Telegram's `callback_data`, at most 64 bytes), encoded
//! and decoded in this one place.
//!
//! A button outlives the program that drew it: the message stays in the chat after a
//! resume, a restart of telepty, or in another session. So a prompt's buttons carry a
//! [`Stamp`] — a nonce of this run of telepty and the program's generation — with the
//! prompt's serial: an old "Yes" can never answer a new permission prompt. File buttons
//! carry an index into their turn's record, never a path (paths do not fit 64 bytes).

use std::fmt::Write as _;

/// Telegram's limit on `callback_data`.
pub const MAX_LEN: usize = 64;

/// Which program drew a button: this run of telepty (`boot`, random at start) and the
/// program's generation within it. The same on every button of one program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stamp {
    pub boot: u32,
    pub program: u64,
}

/// An action of telepty's own session messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionAction {
    /// Type "continue" when the usage limit resets.
    Continue,
    /// Cancel that.
    NoContinue,
    /// Also delete the deleted session's directory.
    RemoveDir,
}

impl SessionAction {
    fn word(self) -> &'static str {
        match self {
            SessionAction::Continue => "cont",
            SessionAction::NoContinue => "nocont",
            SessionAction::RemoveDir => "rmdir",
        }
    }
}

/// Every kind of button telepty draws.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ButtonData {
    /// Option `index` of prompt `serial` of the program `stamp`.
    Prompt {
        stamp: Stamp,
        serial: u64,
        index: usize,
    },
    /// File `index` written in turn `turn` of the program `stamp`.
    Fetch {
        stamp: Stamp,
        turn: usize,
        index: usize,
    },
    /// A key of the `/keys` keypad (a [`crate::Key`] name).
    Key(String),
    /// An action on session `name`.
    Session { action: SessionAction, name: String },
}

impl ButtonData {
    /// The `callback_data` text (at most [`MAX_LEN`] bytes for session names of at most
    /// 32 bytes and key names of at most 32).
    pub fn encode(&self) -> String {
        let mut s = String::new();
        match self {
            ButtonData::Prompt {
                stamp,
                serial,
                index,
            } => {
                let _ = write!(s, "p:{:x}:{}:{serial}:{index}", stamp.boot, stamp.program);
            }
            ButtonData::Fetch { stamp, turn, index } => {
                let _ = write!(s, "g:{:x}:{}:{turn}:{index}", stamp.boot, stamp.program);
            }
            ButtonData::Key(key) => {
                let _ = write!(s, "k:{key}");
            }
            ButtonData::Session { action, name } => {
                let _ = write!(s, "x:{}:{name}", action.word());
            }
        }
        s
    }

    /// The button behind `callback_data`; `None` for anything telepty did not draw
    /// (an older format included: such a button is answered as gone).
    pub fn decode(data: &str) -> Option<ButtonData> {
        if data.len() > MAX_LEN {
            return None;
        }
        let (kind, rest) = data.split_once(':')?;
        match kind {
            "p" | "g" => {
                let mut parts = rest.split(':');
                let boot = u32::from_str_radix(parts.next()?, 16).ok()?;
                let program = number(parts.next()?)?;
                let a = number(parts.next()?)?;
                let b = usize::try_from(number(parts.next()?)?).ok()?;
                if parts.next().is_some() {
                    return None;
                }
                let stamp = Stamp { boot, program };
                Some(if kind == "p" {
                    ButtonData::Prompt {
                        stamp,
                        serial: a,
                        index: b,
                    }
                } else {
                    ButtonData::Fetch {
                        stamp,
                        turn: usize::try_from(a).ok()?,
                        index: b,
                    }
                })
            }
            "k" if !rest.is_empty() => Some(ButtonData::Key(rest.to_string())),
            "x" => {
                let (word, name) = rest.split_once(':')?;
                let action = [
                    SessionAction::Continue,
                    SessionAction::NoContinue,
                    SessionAction::RemoveDir,
                ]
                .into_iter()
                .find(|a| a.word() == word)?;
                Some(ButtonData::Session {
                    action,
                    name: name.to_string(),
                })
            }
            _ => None,
        }
    }
}

/// A decimal number as written by `encode` (digits only, no sign, no leading `+`).
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The option a prompt button picks, if it belongs to the prompt on screen now: drawn
/// by this very program (`stamp`) for the prompt `active` (its serial). Anything else —
/// another run, another program, an earlier prompt — is stale.
pub fn prompt_choice(data: &str, stamp: Stamp, active: u64) -> Option<usize> {
    match ButtonData::decode(data)? {
        ButtonData::Prompt {
            stamp: s,
            serial,
            index,
        } if s == stamp && serial == active => Some(index),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stamp() -> impl Strategy<Value = Stamp> {
        (any::<u32>(), any::<u64>()).prop_map(|(boot, program)| Stamp { boot, program })
    }

    fn data() -> impl Strategy<Value = ButtonData> {
        prop_oneof![
            (stamp(), any::<u64>(), 0usize..1000).prop_map(|(stamp, serial, index)| {
                ButtonData::Prompt {
                    stamp,
                    serial,
                    index,
                }
            }),
            (stamp(), 0usize..1_000_000, 0usize..100)
                .prop_map(|(stamp, turn, index)| ButtonData::Fetch { stamp, turn, index }),
            "[A-Za-z-]{1,12}".prop_map(ButtonData::Key),
            (0..3usize, "[a-z0-9_-]{1,32}").prop_map(|(a, name)| ButtonData::Session {
                action: [
                    SessionAction::Continue,
                    SessionAction::NoContinue,
                    SessionAction::RemoveDir
                ][a],
                name,
            }),
        ]
    }

    proptest! {
        #[test]
        fn every_button_round_trips_within_telegrams_64_bytes(d in data()) {
            let text = d.encode();
            prop_assert!(text.len() <= MAX_LEN, "{} bytes: {text}", text.len());
            prop_assert_eq!(ButtonData::decode(&text), Some(d));
        }

        #[test]
        fn a_prompt_button_answers_only_its_own_prompt_of_its_own_program(
            drawn in stamp(), now in stamp(), serial in any::<u64>(), active in any::<u64>(),
            index in 0usize..100,
        ) {
            let text = ButtonData::Prompt { stamp: drawn, serial, index }.encode();
            let honoured = prompt_choice(&text, now, active);
            if drawn == now && serial == active {
                prop_assert_eq!(honoured, Some(index));
            } else {
                prop_assert_eq!(honoured, None);
            }
        }

        #[test]
        fn any_text_decodes_without_panic(text in "\\PC{0,80}") {
            let _ = ButtonData::decode(&text);
        }
    }

    #[test]
    fn the_old_formats_and_forgeries_are_not_buttons() {
        for stale in [
            "p1:0",
            "g:src/main.rs",
            "p:zz:1:1:0",
            "p:1:1:1",
            "p:1:1:1:0:0",
            "x:rm:a",
            "k:",
            "p:1:-1:1:0",
            "p:1:+1:1:0",
            "",
            ":",
        ] {
            assert_eq!(ButtonData::decode(stale), None, "{stale}");
        }
    }
}
