//! `telepty local`: the bot's chat on the console, so telepty can be tried with no token
//! and no Telegram, and scripted through a pipe.
//!
//! Lines typed go to the session as messages; `/screen`, `/esc`, `/interrupt`,
//! `/key NAME…`, `/quit` and `/help` are handled here, any other `/command` is typed into
//! the session (Claude Code's own `/compact`, `/model` …). The chat's messages are printed
//! as they would appear: a message once when sent, an edit as an update of the same
//! message (redrawn in place on a terminal), buttons as numbered choices — type the number
//! to press one. At the end of input, telepty waits until the session has been quiet
//! for a moment, then stops it.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use crate::chat::model::plain;
use crate::core::ops::{Content, MessageId, Operation};
use crate::core::pacer::Limits;
use crate::core::profile::Profile;
use crate::session::task::{Event, Request, Session};
use crate::term::keys::Key;
use crate::term::pty::Command;

/// How long the session must be quiet after the end of input before it is stopped.
const QUIET_AT_END: Duration = Duration::from_secs(2);
/// How long a stopped program gets before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);

const HELP: &str = "\
Type a message and Enter to send it to the session.
  N             press button N of the newest prompt
  /screen       the session's screen as it is
  /esc          Esc            /interrupt   Ctrl-C
  /key K …      keys: Enter Esc Tab Shift-Tab Up Down Left Right Space Ctrl-C Ctrl-O 0-9 …
  /quit         stop the session and leave
  /other        typed into the session (Claude Code's /compact, /model …)";

/// The console as a chat.
struct Console {
    out: std::io::Stdout,
    tty: bool,
    messages: BTreeMap<MessageId, Content>,
    /// The message printed last and how many lines it took (to redraw it in place).
    last: Option<(MessageId, usize)>,
    /// The buttons of the newest message that has some.
    buttons: Vec<String>,
}

impl Console {
    fn new() -> Console {
        let out = std::io::stdout();
        let tty = out.is_terminal();
        Console {
            out,
            tty,
            messages: BTreeMap::new(),
            last: None,
            buttons: Vec::new(),
        }
    }

    fn apply(&mut self, op: Operation) {
        match op {
            Operation::Send(id, content) => {
                self.print(id, &content, false);
                self.messages.insert(id, content);
            }
            Operation::Edit(id, content) => {
                self.print(id, &content, true);
                self.messages.insert(id, content);
            }
            Operation::Delete(id) => {
                self.messages.remove(&id);
                let _ = writeln!(self.out, "── #{id} removed");
                self.last = None;
            }
        }
        let _ = self.out.flush();
    }

    fn print(&mut self, id: MessageId, content: &Content, edit: bool) {
        let mut text = format!(
            "── #{id}{}{}\n{}\n",
            if content.silent { "" } else { " 🔔" },
            if edit { " (updated)" } else { "" },
            plain(&content.text)
        );
        let labels: Vec<&str> = content
            .buttons
            .iter()
            .flatten()
            .map(|b| b.text.as_str())
            .collect();
        for (i, label) in labels.iter().enumerate() {
            text.push_str(&format!("  [{}] {label}\n", i + 1));
        }
        if !content.buttons.is_empty() {
            self.buttons = content
                .buttons
                .iter()
                .flatten()
                .map(|b| b.data.clone())
                .collect();
        } else if edit
            && self
                .messages
                .get(&id)
                .is_some_and(|m| !m.buttons.is_empty())
        {
            self.buttons.clear();
        }
        // On a terminal, an update of the message printed last replaces it.
        if let (true, true, Some((last, lines))) = (self.tty, edit, self.last) {
            if last == id {
                let _ = write!(self.out, "\x1b[{lines}F\x1b[J");
            }
        }
        let _ = write!(self.out, "{text}");
        self.last = Some((id, text.lines().count()));
    }
}

/// Runs `command` with the console as its chat until it ends or input ends. Says whether
/// it ended well: by itself with status 0, or stopped because the user was done.
pub async fn run(command: Command, profile: Arc<Profile>) -> anyhow::Result<bool> {
    let (events_tx, mut events) = mpsc::channel(256);
    let session = Session::spawn(
        command,
        profile,
        Limits::default(),
        crate::core::buttons::Stamp {
            boot: crate::core::buttons::Stamp::boot_nonce(),
            program: 1,
        },
        events_tx,
    )?;
    let mut console = Console::new();
    if console.tty {
        eprintln!("telepty local: /help for commands, /quit to leave");
    }
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut input_open = true;
    let mut quiet_since = tokio::time::Instant::now();
    let mut stopped = false;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(Event::Ops(ops)) => {
                    quiet_since = tokio::time::Instant::now();
                    for op in ops {
                        console.apply(op);
                    }
                }
                Some(Event::Activity(_)) => {}
                Some(Event::UsageLimit(reset)) => {
                    let _ = writeln!(console.out, "── usage limit reached; it resets {reset}");
                }
                Some(Event::Ended(ending)) => {
                    let info = ending.info;
                    let _ = writeln!(console.out, "── session ended: {info}");
                    return Ok(stopped || info.success());
                }
                None => anyhow::bail!("the session's task ended unexpectedly"),
            },
            line = lines.next_line(), if input_open => match line {
                Ok(Some(line)) => {
                    if !handle_line(&session, &mut console, line.trim_end()).await {
                        session.send(Request::Stop(STOP_GRACE)).await;
                        stopped = true;
                        input_open = false;
                    }
                    quiet_since = tokio::time::Instant::now();
                }
                _ => {
                    input_open = false;
                    quiet_since = tokio::time::Instant::now();
                }
            },
            _ = tokio::time::sleep_until(quiet_since + QUIET_AT_END), if !input_open => {
                session.send(Request::Stop(STOP_GRACE)).await;
                stopped = true;
                quiet_since = tokio::time::Instant::now() + Duration::from_secs(3600);
            }
        }
    }
}

/// One line of input; false when the user asked to leave.
async fn handle_line(session: &Session, console: &mut Console, line: &str) -> bool {
    if let Ok(n) = line.parse::<usize>() {
        if let Some(data) = n.checked_sub(1).and_then(|i| console.buttons.get(i)) {
            if !session.press(data).await {
                let _ = writeln!(console.out, "── that prompt is gone");
            }
            return true;
        }
    }
    let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
    match command {
        "/quit" => return false,
        "/help" => {
            let _ = writeln!(console.out, "{HELP}");
        }
        "/screen" => {
            let screen = session.screen().await;
            let _ = writeln!(console.out, "── screen\n{}", screen.trim_end());
        }
        "/esc" => {
            session.send(Request::Keys(vec![Key::Esc])).await;
        }
        "/interrupt" => {
            session.send(Request::Keys(vec![Key::Ctrl('c')])).await;
        }
        "/key" | "/keys" => {
            let keys: Result<Vec<Key>, _> = rest.split_whitespace().map(str::parse).collect();
            match keys {
                Ok(keys) => {
                    session.send(Request::Keys(keys)).await;
                }
                Err(e) => {
                    let _ = writeln!(console.out, "── {e}");
                }
            }
        }
        _ => {
            session.send(Request::Text(line.to_string())).await;
        }
    }
    true
}
