//! telepty's own commands (`/new`, `/sessions`, `/screen` …); any other `/command` is
//! typed into the session (Claude Code's `/compact`, `/model` …).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{escape, memory, Entry, Router, COMMANDS, KEYPAD, STOP_GRACE};
use crate::core::buttons::ButtonData;
use crate::core::ops::{Button, Content};
use crate::session::dirs;
use crate::session::lifecycle::{Crashes, Intent, Phase};
use crate::session::registry::{unix_now, Record};

impl Router {
    /// Handles one of telepty's own commands; false if `name` is not one.
    pub(super) async fn command(&mut self, chat: i64, name: &str, args: &str) -> bool {
        match name {
            "start" | "help" => {
                let mut text = String::from(
                    "<b>telepty</b> drives a terminal program (Claude Code) from this chat.\n\
                     Your messages are typed into the active session; prompts come with \
                     buttons. Commands:\n",
                );
                for (c, d) in COMMANDS {
                    text.push_str(&format!("/{c} {}\n", escape(d)));
                }
                text.push_str("Any other /command is typed into the session.");
                self.say(chat, &text);
            }
            "new" => self.new_session(chat, args).await,
            "sessions" => self.list_sessions(chat),
            "use" => {
                if self.sessions.contains_key(&(chat, args.to_string())) {
                    self.active.insert(chat, args.to_string());
                    self.say(chat, &format!("Now in <b>{}</b>.", escape(args)));
                    self.save();
                } else {
                    self.say(
                        chat,
                        &format!("No session {}: /sessions lists them.", escape(args)),
                    );
                }
            }
            "screen" if args == "text" => self.screen(chat).await,
            "screen" => match self.current(chat) {
                Some(name) => self.send_picture(chat, &name).await,
                None => self.say(chat, "No session yet: /new NAME starts one."),
            },
            "get" => match self.current(chat) {
                Some(name) => self.send_file(chat, &name, args).await,
                None => self.say(chat, "No session yet: /new NAME starts one."),
            },
            "keys" => {
                let buttons: Vec<Vec<Button>> = KEYPAD
                    .iter()
                    .map(|row| {
                        row.iter()
                            .map(|(label, key)| Button {
                                text: label.to_string(),
                                data: ButtonData::Key(key.to_string()).encode(),
                            })
                            .collect()
                    })
                    .collect();
                let content = Content {
                    text: "Keys for the active session:".into(),
                    buttons,
                    silent: true,
                    attachment: None,
                };
                self.outbox.say_with_buttons(self.place(chat), content);
            }
            "esc" => self.press_key(chat, "Esc").await,
            "interrupt" => self.press_key(chat, "Ctrl-C").await,
            "stop" | "kill" | "restart" | "delete" => {
                let target = if args.is_empty() {
                    self.current(chat).unwrap_or_default()
                } else {
                    args.to_string()
                };
                self.end_command(chat, name, &target).await;
            }
            "idle" => self.idle_command(chat, args),
            "status" => {
                let count =
                    |p: fn(Phase) -> bool| self.sessions.values().filter(|e| p(e.phase)).count();
                let text = format!(
                    "Up {}; {} session(s) running ({} busy, {} waiting for you), {} suspended, \
                     {} ended; memory {}.",
                    humantime::format_duration(Duration::from_secs(
                        self.started.elapsed().as_secs()
                    )),
                    count(Phase::is_live),
                    count(|p| p == Phase::Busy),
                    count(|p| p == Phase::Waiting),
                    count(|p| p == Phase::Suspended),
                    count(|p| matches!(p, Phase::Exited | Phase::Crashed)),
                    memory()
                );
                self.say(chat, &escape(&text));
            }
            _ => return false,
        }
        true
    }

    /// `/stop`, `/kill`, `/restart`, `/delete` of session `name`.
    async fn end_command(&mut self, chat: i64, command: &str, name: &str) {
        let Some(entry) = self.entry(chat, name) else {
            let text = format!("No session {}: /sessions lists them.", escape(name));
            self.say(chat, &text);
            return;
        };
        let live = entry.live.is_some() && entry.intent.is_none();
        match (command, live) {
            ("stop", true) => self.end(chat, name, Intent::Stop, STOP_GRACE).await,
            ("kill", true) => self.end(chat, name, Intent::Stop, Duration::ZERO).await,
            ("restart", true) => self.end(chat, name, Intent::Restart, STOP_GRACE).await,
            ("delete", true) => self.end(chat, name, Intent::Delete, STOP_GRACE).await,
            ("restart", false) => {
                entry.crashes.clear();
                entry.record.crash_loop = false;
                if entry.intent.is_some() {
                    // Ending now: it starts again once it has ended.
                    entry.intent = Some(Intent::Restart);
                } else {
                    self.start(chat, name, true).await;
                }
            }
            ("delete", false) => {
                if entry.intent.is_some() {
                    entry.intent = Some(Intent::Delete);
                } else {
                    self.forget(chat, name);
                }
            }
            (_, false) => {
                let text = format!("<b>{}</b> is not running.", escape(name));
                self.say(chat, &text);
            }
            _ => {}
        }
    }

    /// `/idle DURATION|off`: the active session's idle timeout.
    fn idle_command(&mut self, chat: i64, args: &str) {
        let Some(name) = self.current(chat) else {
            self.say(chat, "No session yet: /new NAME starts one.");
            return;
        };
        let default = self.config.idle_timeout;
        let secs = match args.trim() {
            "" => {
                let current = self
                    .entry(chat, &name)
                    .and_then(|e| e.record.idle_timeout)
                    .map_or(default, Duration::from_secs);
                let text = format!(
                    "<b>{}</b> {}. /idle 2h or /idle off changes it.",
                    escape(&name),
                    describe_timeout(current)
                );
                self.say(chat, &text);
                return;
            }
            "off" | "never" => 0,
            t => match humantime::parse_duration(t) {
                Ok(d) => d.as_secs().max(1),
                Err(_) => {
                    self.say(chat, "Usage: /idle 45m, /idle 2h or /idle off");
                    return;
                }
            },
        };
        if let Some(entry) = self.entry(chat, &name) {
            entry.record.idle_timeout = Some(secs);
        }
        let text = format!(
            "<b>{}</b> now {}.",
            escape(&name),
            describe_timeout(Duration::from_secs(secs))
        );
        self.say(chat, &text);
        self.save();
    }

    fn list_sessions(&mut self, chat: i64) {
        let active = self.current(chat);
        let stale = self.config.stale_after;
        let mut lines = Vec::new();
        for ((c, name), e) in &self.sessions {
            if *c != chat {
                continue;
            }
            let ago = e.last_activity.elapsed();
            let mut state = e.phase.as_str().to_string();
            if e.record.crash_loop {
                state.push_str(", crash loop");
            }
            if !e.phase.is_live() && stale.is_some_and(|s| ago >= s) {
                state.push_str(", stale");
            }
            if !e.record.pending.is_empty() {
                state.push_str(&format!(", {} message(s) waiting", e.record.pending.len()));
            }
            match self.attached_to(*c, name) {
                0 => {}
                1 => state.push_str(", a terminal attached"),
                n => state.push_str(&format!(", {n} terminals attached")),
            }
            if let Some(at) = e.record.continue_at {
                state.push_str(&format!(
                    ", continues in {}",
                    humantime::format_duration(Duration::from_secs(
                        at.saturating_sub(unix_now()) / 60 * 60
                    ))
                ));
            }
            lines.push(format!(
                "{} <b>{}</b> — {} — <code>{}</code> — last activity {} ago",
                if Some(name) == active.as_ref() {
                    "▶"
                } else {
                    "•"
                },
                escape(name),
                escape(&state),
                escape(&e.record.dir.display().to_string()),
                humantime::format_duration(Duration::from_secs(ago.as_secs()))
            ));
        }
        if lines.is_empty() {
            lines.push("No sessions: /new NAME starts one.".into());
        }
        self.say(chat, &lines.join("\n"));
    }

    async fn screen(&mut self, chat: i64) {
        let Some(name) = self.current(chat) else {
            self.say(chat, "No session yet: /new NAME starts one.");
            return;
        };
        let session = self
            .entry(chat, &name)
            .and_then(|e| e.live.as_ref())
            .map(|l| l.session.clone());
        let Some(session) = session else {
            let text = format!(
                "<b>{}</b> is not running; its next message resumes it.",
                escape(&name)
            );
            self.say(chat, &text);
            return;
        };
        let screen = session.screen().await;
        let lines: Vec<&str> = screen.lines().collect();
        let mut text = lines.join("\n").trim_end().to_string();
        // Keep the end of a screen too long for one message.
        while text.chars().count() > 3900 {
            let cut = text.find('\n').map_or(text.len(), |i| i + 1);
            text.drain(..cut);
        }
        if text.trim().is_empty() {
            text = "(empty screen)".into();
        }
        self.say(chat, &format!("<pre>{}</pre>", escape(&text)));
    }

    async fn new_session(&mut self, chat: i64, args: &str) {
        let mut parts = args.split_whitespace();
        let Some(name) = parts.next() else {
            self.say(chat, "Usage: /new NAME [DIR]");
            return;
        };
        if !crate::session::registry::valid_name(name) {
            self.say(chat, "A session name is 1–32 of a-z 0-9 - _.");
            return;
        }
        if self.opening.contains(&(chat, name.to_string())) {
            let text = format!("Session <b>{name}</b> is being opened: its topic comes first.");
            self.say(chat, &text);
            return;
        }
        if self.sessions.contains_key(&(chat, name.to_string())) {
            let text = format!(
                "There is a session <b>{name}</b> already: /use {name} switches to it \
                 (a message resumes it if it is not running), /delete {name} forgets it."
            );
            self.say(chat, &text);
            return;
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let chosen = match dirs::choose(
            &self.config.sessions_root,
            name,
            parts.next(),
            home.as_deref(),
        ) {
            Ok(c) => c,
            Err(e) => {
                let text = format!("Cannot use that directory: {}", escape(&e.to_string()));
                self.say(chat, &text);
                return;
            }
        };
        // In a forum, the session gets a topic of its own; it starts once Telegram has
        // answered (the update loop does not wait for that).
        if self.forums.contains(&chat) {
            self.opening.insert((chat, name.to_string()));
            let bot = self.bot.clone();
            let opened = self.topics.clone();
            let pending = PendingTopic {
                chat,
                name: name.to_string(),
                chosen,
                here: self.here,
            };
            tokio::spawn(async move {
                use teloxide::prelude::Requester;
                let topic = bot
                    .create_forum_topic(teloxide::types::ChatId(chat), pending.name.clone())
                    .await
                    .map(|t| t.thread_id.0 .0)
                    .map_err(|e| e.to_string());
                let _ = opened.send((pending, topic)).await;
            });
            return;
        }
        self.create_session(chat, name, chosen, None).await;
    }

    /// Telegram answered the request for a session's topic: the session starts, in its
    /// topic or, without one, in the chat itself.
    pub(super) async fn on_topic(&mut self, pending: PendingTopic, topic: Result<i32, String>) {
        let PendingTopic {
            chat,
            name,
            chosen,
            here,
        } = pending;
        self.opening.remove(&(chat, name.clone()));
        // The bot answers where `/new` was written.
        let now_here = std::mem::replace(&mut self.here, here);
        let topic = match topic {
            Ok(topic) => {
                tracing::info!(session = name, chat, topic, "opened a topic");
                Some(topic)
            }
            Err(e) => {
                tracing::warn!(session = name, chat, "cannot open a topic: {e}");
                let text = format!(
                    "Could not open a topic for <b>{}</b> ({}), so it runs here. To give each \
                     session its own topic, make the bot an administrator allowed to manage \
                     topics.",
                    escape(&name),
                    escape(&e)
                );
                self.say(chat, &text);
                None
            }
        };
        if !self.closing {
            self.create_session(chat, &name, chosen, topic).await;
        }
        self.here = now_here;
    }

    /// Registers session `name` in `chosen`'s directory and starts its program.
    async fn create_session(
        &mut self,
        chat: i64,
        name: &str,
        chosen: dirs::Chosen,
        topic: Option<i32>,
    ) {
        let dir = chosen.path.clone();
        let record = Record {
            name: name.to_string(),
            chat,
            dir: dir.clone(),
            command: self.config.command.clone(),
            state: Phase::Suspended.as_str().into(),
            last_activity: unix_now(),
            conversation: None,
            used: false,
            idle_timeout: None,
            active: true,
            crash_loop: false,
            continue_at: None,
            pending: Vec::new(),
            topic,
            created_dir: chosen.created,
        };
        self.sessions.insert(
            (chat, name.to_string()),
            Entry {
                record,
                live: None,
                phase: Phase::Suspended,
                intent: None,
                crashes: Crashes::default(),
                last_activity: Instant::now(),
                usage_limit: None,
            },
        );
        if !self.start(chat, name, false).await {
            self.sessions.remove(&(chat, name.to_string()));
            self.save();
            return;
        }
        self.active.insert(chat, name.to_string());
        let mut text = format!(
            "Session <b>{}</b> started in <code>{}</code>.",
            escape(name),
            escape(&dir.display().to_string())
        );
        if chat < 0 {
            text.push_str(
                " Everyone in this group sees its screens, answers and the files it sends.",
            );
        }
        if !chosen.inside_root {
            text.push_str(&format!(
                " It is outside the sessions root (<code>{}</code>): the program works on \
                 your files there, and telepty will never offer to delete that directory.",
                escape(&self.config.sessions_root.display().to_string())
            ));
        }
        if topic.is_some() {
            let note = format!(
                "Session <b>{}</b> has a topic of its own: write to it there.",
                escape(name)
            );
            self.say(chat, &note);
        }
        self.say_for(chat, name, &text);
        self.save();
    }
}

/// A session waiting for its forum topic: what `/new` chose, and where it was written.
pub(super) struct PendingTopic {
    chat: i64,
    name: String,
    chosen: dirs::Chosen,
    here: Option<(i64, i32)>,
}

/// "is suspended after 30m idle", or that it never is.
fn describe_timeout(d: Duration) -> String {
    if d.is_zero() {
        "is never suspended for being idle".into()
    } else {
        format!("is suspended after {} idle", humantime::format_duration(d))
    }
}
