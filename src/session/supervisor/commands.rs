//! The session commands, the same for every front end: `/new`, `/sessions`, `/use`,
//! `/stop`, `/kill`, `/restart`, `/delete`, `/idle`, `/status`, `/screen text`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{escape, Entry, Notice, Supervisor, STOP_GRACE};
use crate::core::profile::Profile;
use crate::core::vitals::Vitals;
use crate::session::command::End;
use crate::session::dirs;
use crate::session::lifecycle::{Intent, Phase};
use crate::session::registry::{unix_now, Record};
use crate::session::status_line;
use crate::session::SessionId;

const NO_SESSION: &str = "No session yet: /new NAME starts one.";

/// A `/new` the supervisor accepted: the session's name, its directory and the agent
/// chosen for it (none: the configuration's).
pub struct NewSession {
    pub name: String,
    pub chosen: dirs::Chosen,
    pub agent: Option<String>,
}

impl Supervisor {
    /// `/new NAME [DIR]`, checked: the session's name and the directory chosen for it;
    /// `None` when the user was told why not.
    pub fn check_new(&mut self, chat: i64, args: &str) -> Option<NewSession> {
        // `--agent NAME` anywhere after the session's name.
        let mut words: Vec<&str> = args.split_whitespace().collect();
        let mut agent = None;
        if let Some(i) = words.iter().position(|w| *w == "--agent") {
            let Some(name) = words.get(i + 1).copied() else {
                self.reply(chat, "Usage: /new NAME [DIR] [--agent claude|codex|plain]");
                return None;
            };
            if Profile::built_in(name).is_none() {
                let text = format!(
                    "There is no agent “{}”: claude, codex or plain.",
                    escape(name)
                );
                self.reply(chat, text);
                return None;
            }
            agent = Some(name.to_string());
            words.drain(i..i + 2);
        }
        let mut parts = words.into_iter();
        let Some(name) = parts.next() else {
            self.reply(chat, "Usage: /new NAME [DIR] [--agent claude|codex|plain]");
            return None;
        };
        if !crate::session::registry::valid_name(name) {
            self.reply(chat, "A session name is 1–32 of a-z 0-9 - _.");
            return None;
        }
        if self.contains(&SessionId::new(chat, name)) {
            self.reply(
                chat,
                format!(
                    "There is a session <b>{name}</b> already: /use {name} switches to it \
                     (a message resumes it if it is not running), /delete {name} forgets it."
                ),
            );
            return None;
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        match dirs::choose(
            &self.config.sessions_root,
            name,
            parts.next(),
            home.as_deref(),
        ) {
            Ok(chosen) => Some(NewSession {
                name: name.to_string(),
                chosen,
                agent,
            }),
            Err(e) => {
                let text = format!("Cannot use that directory: {}", escape(&e.to_string()));
                self.reply(chat, text);
                None
            }
        }
    }

    /// Registers session `id` in `chosen`'s directory (its messages in `topic`, if it
    /// has one) and starts its program; it becomes the chat's active session.
    pub async fn create(
        &mut self,
        id: &SessionId,
        chosen: dirs::Chosen,
        agent: Option<String>,
        topic: Option<i32>,
    ) {
        if self.closing {
            return;
        }
        let dir = chosen.path.clone();
        // The configuration's own agent is no choice: its command and profile as set.
        let agent = agent.filter(|a| *a != self.profile.name);
        let command = match &agent {
            Some(name) => self.agent_command(name),
            None => self.config.command.clone(),
        };
        let record = Record {
            name: id.name.clone(),
            chat: id.chat,
            dir: dir.clone(),
            command,
            agent,
            state: Phase::Suspended.as_str().into(),
            last_activity: unix_now(),
            conversation: None,
            transcript: None,
            used: false,
            idle_timeout: None,
            active: true,
            crash_loop: false,
            continue_at: None,
            pending: Vec::new(),
            topic,
            created_dir: chosen.created,
        };
        let entry = Entry::new(record, Phase::Suspended, Instant::now());
        self.sessions.insert(id.clone(), entry);
        if !self.start(id, false).await {
            self.sessions.remove(id);
            self.save();
            return;
        }
        self.active.insert(id.chat, id.name.clone());
        if topic.is_some() {
            let note = format!(
                "Session <b>{}</b> has a topic of its own: write to it there.",
                escape(&id.name)
            );
            self.reply(id.chat, note);
        }
        let notice = Notice::Started {
            dir,
            group: id.chat < 0,
            outside_root: (!chosen.inside_root).then(|| self.config.sessions_root.clone()),
        };
        self.notice(id, notice);
        self.save();
    }

    /// `/use NAME`: the chat's active session.
    pub fn use_session(&mut self, chat: i64, name: &str) {
        if self.contains(&SessionId::new(chat, name)) {
            self.active.insert(chat, name.to_string());
            self.reply(chat, format!("Now in <b>{}</b>.", escape(name)));
            self.save();
        } else {
            self.reply(
                chat,
                format!("No session {}: /sessions lists them.", escape(name)),
            );
        }
    }

    /// `/stop`, `/kill`, `/restart`, `/delete` of session `id`.
    pub async fn end_command(&mut self, id: &SessionId, command: End) {
        let chat = id.chat;
        let Some(entry) = self.sessions.get_mut(id) else {
            let text = format!("No session {}: /sessions lists them.", escape(&id.name));
            self.reply(chat, text);
            return;
        };
        match (command, entry.running()) {
            (End::Stop, true) => self.end(id, Intent::Stop, STOP_GRACE).await,
            (End::Kill, true) => self.end(id, Intent::Stop, Duration::ZERO).await,
            (End::Restart, true) => self.end(id, Intent::Restart, STOP_GRACE).await,
            (End::Delete, true) => self.end(id, Intent::Delete, STOP_GRACE).await,
            (End::Restart, false) => {
                entry.crashes.clear();
                entry.record.crash_loop = false;
                if entry.intent.is_some() {
                    // Ending now: it starts again once it has ended.
                    entry.intent = Some(Intent::Restart);
                } else {
                    self.start(id, true).await;
                }
            }
            (End::Delete, false) => {
                if entry.intent.is_some() {
                    entry.intent = Some(Intent::Delete);
                } else {
                    self.forget(id);
                }
            }
            (End::Stop | End::Kill, false) => {
                let text = format!("<b>{}</b> is not running.", escape(&id.name));
                self.reply(chat, text);
            }
        }
    }

    /// `/idle DURATION|off` for session `id` (`None`: the chat has none).
    pub fn idle_command(&mut self, chat: i64, id: Option<&SessionId>, args: &str) {
        let Some(id) = id else {
            self.reply(chat, NO_SESSION);
            return;
        };
        let default = self.config.idle_timeout;
        let secs = match args.trim() {
            "" => {
                let current = self
                    .sessions
                    .get(id)
                    .and_then(|e| e.record.idle_timeout)
                    .map_or(default, Duration::from_secs);
                let text = format!(
                    "<b>{}</b> {}. /idle 2h or /idle off changes it.",
                    escape(&id.name),
                    describe_timeout(current)
                );
                self.reply(chat, text);
                return;
            }
            "off" | "never" => 0,
            t => match humantime::parse_duration(t) {
                Ok(d) => d.as_secs().max(1),
                Err(_) => {
                    self.reply(chat, "Usage: /idle 45m, /idle 2h or /idle off");
                    return;
                }
            },
        };
        if let Some(entry) = self.sessions.get_mut(id) {
            entry.record.idle_timeout = Some(secs);
        }
        let text = format!(
            "<b>{}</b> now {}.",
            escape(&id.name),
            describe_timeout(Duration::from_secs(secs))
        );
        self.reply(chat, text);
        self.save();
    }

    /// `/sessions`: the chat's sessions, `current` marked, with their model and context.
    pub async fn list_sessions(&mut self, chat: i64, current: Option<&str>) {
        let stale = self.config.stale_after;
        let mut lines = Vec::new();
        let mut short = HashMap::new();
        let ids = self.ids_in(chat);
        for id in ids {
            if let Some(v) = self.vitals(&id).await {
                short.insert(id, v.short());
            }
        }
        for (id, e) in &self.sessions {
            if id.chat != chat {
                continue;
            }

            let ago = e.last_activity.elapsed();
            let mut state = e.phase.as_str().to_string();
            if let Some(agent) = &e.record.agent {
                state.push_str(&format!(", {agent}"));
            }
            if e.record.crash_loop {
                state.push_str(", crash loop");
            }
            if !e.phase.is_live() && stale.is_some_and(|s| ago >= s) {
                state.push_str(", stale");
            }
            if !e.record.pending.is_empty() {
                state.push_str(&format!(", {} message(s) waiting", e.record.pending.len()));
            }
            match self.attached_to(id) {
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
            // Model and context, when the program reported them.
            if let Some(v) = short.get(id).filter(|v| !v.is_empty()) {
                state.push_str(" — ");
                state.push_str(v);
            }
            lines.push(format!(
                "{} <b>{}</b> — {} — <code>{}</code> — last activity {} ago",
                marker(&id.name, current),
                escape(&id.name),
                escape(&state),
                escape(&e.record.dir.display().to_string()),
                humantime::format_duration(Duration::from_secs(ago.as_secs()))
            ));
        }
        if lines.is_empty() {
            lines.push("No sessions: /new NAME starts one.".into());
        }
        self.reply(chat, lines.join("\n"));
    }

    /// What is known of session `id`'s vitals: the program's last report (kept by
    /// telepty's status line, also after the program ended) and the live mode.
    pub(super) async fn vitals(&mut self, id: &SessionId) -> Option<Vitals> {
        let profile = self.profile_of(id);
        let spec = profile.vitals.as_ref()?;
        let mut vitals = status_line::read(spec, &status_line::file(&self.config.state_dir, id))
            .unwrap_or_default();
        if let Some(session) = self.sessions.get(id).and_then(Entry::session) {
            vitals.mode = session.mode().await;
        }
        (!vitals.is_empty()).then_some(vitals)
    }

    /// The sessions of `chat`.
    fn ids_in(&self, chat: i64) -> Vec<SessionId> {
        self.sessions
            .keys()
            .filter(|k| k.chat == chat)
            .cloned()
            .collect()
    }

    /// `/status`: uptime, sessions by phase, memory; then the vitals of each of the
    /// chat's sessions, `current` marked.
    pub async fn status(&mut self, chat: i64, current: Option<&str>) {
        let count = |p: fn(Phase) -> bool| self.sessions.values().filter(|e| p(e.phase)).count();
        let text = format!(
            "Up {}; {} session(s) running ({} busy, {} waiting for you), {} suspended, \
             {} ended; memory {}.",
            humantime::format_duration(Duration::from_secs(self.started.elapsed().as_secs())),
            count(Phase::is_live),
            count(|p| p == Phase::Busy),
            count(|p| p == Phase::Waiting),
            count(|p| p == Phase::Suspended),
            count(|p| matches!(p, Phase::Exited | Phase::Crashed)),
            memory()
        );
        let mut lines = vec![escape(&text)];
        let ids = self.ids_in(chat);
        let now = jiff::Zoned::now();
        for id in ids {
            let Some(vitals) = self.vitals(&id).await else {
                continue;
            };
            let running = self.sessions.get(&id).is_some_and(Entry::running);
            lines.push(format!(
                "{} <b>{}</b>: {}{}",
                marker(&id.name, current),
                escape(&id.name),
                escape(&vitals.describe(&now)),
                if running { "" } else { " (when it last ran)" }
            ));
        }
        self.reply(chat, lines.join("\n"));
    }

    /// `/screen text`: session `id`'s screen as text.
    pub async fn screen_text(&mut self, chat: i64, id: Option<&SessionId>) {
        let Some(id) = id else {
            self.reply(chat, NO_SESSION);
            return;
        };
        let Some(session) = self.sessions.get(id).and_then(Entry::session).cloned() else {
            let text = format!(
                "<b>{}</b> is not running; its next message resumes it.",
                escape(&id.name)
            );
            self.reply(chat, text);
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
        self.reply(chat, format!("<pre>{}</pre>", escape(&text)));
    }

    /// The user asked for something of the chat's current session and it has none.
    pub fn no_session(&mut self, chat: i64) {
        self.reply(chat, NO_SESSION);
    }
}

/// How a list marks a chat's sessions: ▶ the current one, • the others.
fn marker(name: &str, current: Option<&str>) -> &'static str {
    if Some(name) == current {
        "▶"
    } else {
        "•"
    }
}

/// "is suspended after 30m idle", or that it never is.
fn describe_timeout(d: Duration) -> String {
    if d.is_zero() {
        "is never suspended for being idle".into()
    } else {
        format!("is suspended after {} idle", humantime::format_duration(d))
    }
}

/// This process's resident memory, from /proc.
pub fn memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.trim_start_matches("VmRSS:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
