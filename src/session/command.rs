//! telepty's own commands, in one table: Telegram's menu, `/help`, the parser and the
//! console all read it. Any other `/command` is not telepty's and is typed into the
//! session (Claude Code's `/compact`, `/model` …).

use crate::core::buttons::ButtonData;
use crate::core::ops::Button;

/// One of telepty's commands, with its arguments as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BotCommand {
    /// `/help` (and Telegram's `/start`).
    Help,
    /// `/new NAME [DIR] [--agent NAME]`.
    New(String),
    Sessions,
    /// `/use NAME`.
    Use(String),
    /// `/screen` as a picture; `/screen text` as text.
    Screen {
        text: bool,
    },
    /// `/get PATH`.
    Get(String),
    /// `/keys`: the keypad; `/keys K …` presses those keys.
    Keys(String),
    Esc,
    Interrupt,
    /// `/stop`, `/kill`, `/restart`, `/delete` of a session (`None`: the current one).
    End(End, Option<String>),
    /// `/idle DURATION|off`.
    Idle(String),
    Status,
}

/// How `/stop`, `/kill`, `/restart` and `/delete` end a session's program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Stop,
    Kill,
    Restart,
    Delete,
}

impl End {
    pub fn command(self) -> &'static str {
        match self {
            End::Stop => "stop",
            End::Kill => "kill",
            End::Restart => "restart",
            End::Delete => "delete",
        }
    }
}

/// The commands as a menu shows them: name and what it does.
pub const MENU: &[(&str, &str)] = &[
    ("new", "NAME [DIR] [--agent codex] — start a session"),
    ("sessions", "list the sessions"),
    ("use", "NAME — switch to a session"),
    (
        "screen",
        "the terminal as a picture (/screen text: as text)",
    ),
    ("get", "PATH — a file from the session's directory"),
    ("keys", "a keypad: Esc, Enter, Tab, arrows, Ctrl-C…"),
    ("esc", "press Esc"),
    ("interrupt", "press Ctrl-C"),
    (
        "stop",
        "NAME — stop a session (the next message resumes it)",
    ),
    ("kill", "NAME — kill a session"),
    ("restart", "NAME — start a session again"),
    ("delete", "NAME — forget a session"),
    ("idle", "DURATION|off — the active session's idle timeout"),
    ("status", "uptime, sessions, memory"),
    ("help", "what telepty does"),
];

/// The keypad of `/keys`: label and key.
const KEYPAD: &[&[(&str, &str)]] = &[
    &[
        ("Esc", "Esc"),
        ("Tab", "Tab"),
        ("⇧Tab", "Shift-Tab"),
        ("Enter", "Enter"),
    ],
    &[("←", "Left"), ("↑", "Up"), ("↓", "Down"), ("→", "Right")],
    &[
        ("Ctrl-C", "Ctrl-C"),
        ("Ctrl-O", "Ctrl-O"),
        ("Space", "Space"),
    ],
];

impl BotCommand {
    /// `/name args` as one of telepty's commands; `None` when it is not one (it is typed
    /// into the session).
    pub fn parse(name: &str, args: &str) -> Option<BotCommand> {
        let args = args.trim();
        let target = || (!args.is_empty()).then(|| args.to_string());
        Some(match name {
            "start" | "help" => BotCommand::Help,
            "new" => BotCommand::New(args.into()),
            "sessions" => BotCommand::Sessions,
            "use" => BotCommand::Use(args.into()),
            "screen" => BotCommand::Screen {
                text: args == "text",
            },
            "get" => BotCommand::Get(args.into()),
            "keys" | "key" => BotCommand::Keys(args.into()),
            "esc" => BotCommand::Esc,
            "interrupt" => BotCommand::Interrupt,
            "stop" => BotCommand::End(End::Stop, target()),
            "kill" => BotCommand::End(End::Kill, target()),
            "restart" => BotCommand::End(End::Restart, target()),
            "delete" => BotCommand::End(End::Delete, target()),
            "idle" => BotCommand::Idle(args.into()),
            "status" => BotCommand::Status,
            _ => return None,
        })
    }

    /// A line such as `/new NAME` split into the command and its arguments, if it is a
    /// `/command` at all; `@bot` after the name is returned apart.
    pub fn split(line: &str) -> Option<(&str, &str, &str)> {
        let command = line.strip_prefix('/')?;
        let (name, rest) = command
            .split_once(char::is_whitespace)
            .unwrap_or((command, ""));
        let (name, to) = name.split_once('@').unwrap_or((name, ""));
        Some((name, to, rest.trim()))
    }
}

/// The keypad of `/keys` as buttons (each presses its key in the current session).
pub fn keypad() -> Vec<Vec<Button>> {
    KEYPAD
        .iter()
        .map(|row| {
            row.iter()
                .map(|(label, key)| Button {
                    text: label.to_string(),
                    data: ButtonData::Key(key.to_string()).encode(),
                })
                .collect()
        })
        .collect()
}

/// `/help`: what telepty does and the commands, as Telegram HTML.
pub fn help_html() -> String {
    let mut text = String::from(
        "<b>telepty</b> drives a terminal program (Claude Code) from this chat.\n\
         Your messages are typed into the active session; prompts come with \
         buttons. Commands:\n",
    );
    for (c, d) in MENU {
        text.push_str(&format!("/{c} {}\n", crate::core::render::html::escape(d)));
    }
    text.push_str("Any other /command is typed into the session.");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_menu_command_parses_and_others_are_for_the_session() {
        for (name, _) in MENU {
            assert!(BotCommand::parse(name, "x").is_some(), "/{name}");
        }
        assert_eq!(BotCommand::parse("compact", ""), None);
        assert_eq!(BotCommand::parse("model", "opus"), None);
        assert_eq!(
            BotCommand::parse("stop", " "),
            Some(BotCommand::End(End::Stop, None))
        );
        assert_eq!(
            BotCommand::parse("delete", "web"),
            Some(BotCommand::End(End::Delete, Some("web".into())))
        );
        assert_eq!(
            BotCommand::parse("screen", "text"),
            Some(BotCommand::Screen { text: true })
        );
    }

    #[test]
    fn split_finds_the_command_its_addressee_and_its_arguments() {
        assert_eq!(
            BotCommand::split("/new web ~/src"),
            Some(("new", "", "web ~/src"))
        );
        assert_eq!(
            BotCommand::split("/sessions@telepty_bot"),
            Some(("sessions", "telepty_bot", ""))
        );
        assert_eq!(BotCommand::split("hello /new"), None);
    }

    #[test]
    fn help_lists_every_command() {
        let help = help_html();
        for (name, _) in MENU {
            assert!(help.contains(&format!("/{name} ")), "{name} in {help}");
        }
    }
}
