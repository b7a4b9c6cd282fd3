//! `telepty run`: the Telegram bot.
//!
//! One loop polls Telegram for updates and routes them; it never waits on a session.
//! Each session runs in its own task (see `session`), and its chat operations go to the
//! [`outbox::Outbox`], which performs them per chat, in order, through Telegram's errors.
//! Only allowed users reach anything: everyone else is ignored without a reply (and
//! logged, at most once a minute per user).

pub mod outbox;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use teloxide::types::{AllowedUpdate, BotCommand, Message, UpdateKind};
use teloxide::Bot;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::keys::Key;
use crate::pacer::{Button, Content, Limits};
use crate::profile::Profile;
use crate::pty::Command;
use crate::render::html::escape;
use crate::session::{Event, Request, Session};

use outbox::Outbox;

/// Long-polling wait per getUpdates call.
const POLL_TIMEOUT: u32 = 10;
/// The pause before polling again after getUpdates failed.
const POLL_RETRY: Duration = Duration::from_secs(2);
/// How long a session gets to end on `/stop` and at shutdown.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How often the `typing` chat action is renewed while a session works.
const TYPING_EVERY: Duration = Duration::from_secs(4);
/// How long pending chat operations may take to go out at shutdown.
const FLUSH_LIMIT: Duration = Duration::from_secs(10);

/// The bot's commands, as Telegram's menu shows them.
pub const COMMANDS: &[(&str, &str)] = &[
    ("new", "NAME [DIR] — start a session"),
    ("sessions", "list the sessions"),
    ("use", "NAME — switch to a session"),
    ("screen", "the terminal as it is"),
    ("keys", "a keypad: Esc, Enter, Tab, arrows, Ctrl-C…"),
    ("esc", "press Esc"),
    ("interrupt", "press Ctrl-C"),
    ("stop", "NAME — stop a session"),
    ("kill", "NAME — kill a session"),
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

struct SessionEntry {
    session: Session,
    dir: PathBuf,
    last_activity: Instant,
    ended: Option<String>,
    /// The program is working (Claude Code's status line shows).
    busy: bool,
}

/// What the bot knows, and how it routes updates; owned by the polling loop.
struct Router {
    bot: Bot,
    config: Config,
    profile: Arc<Profile>,
    outbox: Outbox,
    /// Sessions by chat, then name.
    sessions: HashMap<i64, BTreeMap<String, SessionEntry>>,
    active: HashMap<i64, String>,
    /// Session events, tagged with chat and name.
    events: mpsc::Sender<(i64, String, Event)>,
    started: Instant,
    refused_logged: HashMap<i64, Instant>,
}

/// Runs the bot until SIGINT or SIGTERM.
pub async fn run(config: Config, profile: Arc<Profile>) -> anyhow::Result<()> {
    config.check_for_bot().map_err(|e| anyhow::anyhow!(e))?;
    let token = config.token.clone().expect("checked");
    let url: url::Url = format!("{}/", config.api_url)
        .parse()
        .map_err(|e| anyhow::anyhow!("api_url {:?}: {e}", config.api_url))?;
    let bot = Bot::new(token.expose()).set_api_url(url);
    let me = bot.get_me().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach the Bot API at {} (getMe: {e})",
            config.api_url
        )
    })?;
    tracing::info!(username = ?me.user.username, "connected to the Bot API");
    let commands: Vec<BotCommand> = COMMANDS
        .iter()
        .map(|(c, d)| BotCommand::new(*c, *d))
        .collect();
    if let Err(e) = bot.set_my_commands(commands).await {
        tracing::warn!("setMyCommands failed: {e}");
    }
    std::fs::create_dir_all(&config.sessions_root).map_err(|e| {
        anyhow::anyhow!(
            "cannot create sessions_root {}: {e}",
            config.sessions_root.display()
        )
    })?;
    let (events_tx, mut events) = mpsc::channel(1024);
    let mut state = Router {
        bot: bot.clone(),
        outbox: Outbox::new(bot.clone(), config.chat_limits(), config.sends_per_second),
        config,
        profile,
        sessions: HashMap::new(),
        active: HashMap::new(),
        events: events_tx,
        started: Instant::now(),
        refused_logged: HashMap::new(),
    };
    let mut offset: i32 = 0;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let first = bot.clone();
    let mut poll: std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>> =
        Box::pin(async move { poll_once(first, 0).await });
    // Telegram shows "typing…" for up to 5 s per chat action: renewed while busy.
    let mut typing = tokio::time::interval(TYPING_EVERY);
    loop {
        tokio::select! {
            _ = typing.tick() => state.show_typing(),
            updates = &mut poll => {
                let mut pause = Duration::ZERO;
                match updates {
                    Ok(updates) => {
                        for update in updates {
                            offset = offset.max(update.id.0 as i32 + 1);
                            state.route(update.kind).await;
                        }
                    }
                    Err(e) => {
                        // The pause is part of the next poll: signals and sessions go on.
                        tracing::warn!("getUpdates failed: {e}; retrying in {POLL_RETRY:?}");
                        pause = POLL_RETRY;
                    }
                }
                let bot = bot.clone();
                poll = Box::pin(async move {
                    tokio::time::sleep(pause).await;
                    poll_once(bot, offset).await
                });
            }
            Some((chat, name, event)) = events.recv() => state.on_event(chat, &name, event),
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
        }
    }
    tracing::info!("shutting down: stopping sessions, flushing the chat");
    drop(poll);
    for entry in state.sessions.values().flat_map(|s| s.values()) {
        entry.session.send(Request::Stop(STOP_GRACE)).await;
    }
    // Let the sessions report their end and the outbox empty, within a bound.
    let deadline = tokio::time::Instant::now() + FLUSH_LIMIT;
    while tokio::time::Instant::now() < deadline {
        let running = state
            .sessions
            .values()
            .flat_map(|s| s.values())
            .any(|e| e.ended.is_none());
        if !running && state.outbox.pending() == 0 {
            break;
        }
        tokio::select! {
            Some((chat, name, event)) = events.recv() => state.on_event(chat, &name, event),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    // Confirm the updates handled, so a restart does not see them again.
    let _ = bot.get_updates().offset(offset).timeout(0).await;
    Ok(())
}

async fn poll_once(
    bot: Bot,
    offset: i32,
) -> Result<Vec<teloxide::types::Update>, teloxide::RequestError> {
    bot.get_updates()
        .offset(offset)
        .timeout(POLL_TIMEOUT)
        .allowed_updates(vec![AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
        .await
}

impl Router {
    /// `typing…` in every chat where a session is working.
    fn show_typing(&self) {
        for (chat, sessions) in &self.sessions {
            if sessions.values().any(|e| e.busy && e.ended.is_none()) {
                // In its own task: a slow answer must not hold up the updates.
                let request = self.bot.send_chat_action(
                    teloxide::types::ChatId(*chat),
                    teloxide::types::ChatAction::Typing,
                );
                tokio::spawn(async move {
                    let _ = request.await;
                });
            }
        }
    }

    fn allowed(&mut self, user: Option<i64>, chat: i64) -> bool {
        let ok = user.is_some_and(|u| self.config.allowed_users.contains(&u))
            && (chat > 0 || self.config.allow_groups);
        if !ok {
            let id = user.unwrap_or(0);
            let now = Instant::now();
            let recently = self
                .refused_logged
                .get(&id)
                .is_some_and(|t| now.duration_since(*t) < Duration::from_secs(60));
            if !recently {
                tracing::warn!(
                    user = id,
                    chat,
                    "refused an update from a user who is not allowed"
                );
                self.refused_logged.insert(id, now);
            }
        }
        ok
    }

    async fn route(&mut self, update: UpdateKind) {
        match update {
            UpdateKind::Message(message) => {
                let user = message.from.as_ref().map(|u| u.id.0 as i64);
                let chat = message.chat.id.0;
                if self.allowed(user, chat) {
                    self.on_message(chat, &message).await;
                }
            }
            UpdateKind::CallbackQuery(query) => {
                let user = Some(query.from.id.0 as i64);
                let chat = query.message.as_ref().map_or(0, |m| m.chat().id.0);
                if !self.allowed(user, chat) {
                    return;
                }
                // Answered at once: the user's client spins until then.
                let _ = self.bot.answer_callback_query(query.id.clone()).await;
                if let Some(data) = query.data.as_deref() {
                    let message = query.message.as_ref().map(|m| m.id().0);
                    self.on_button(chat, message, data).await;
                }
            }
            _ => {}
        }
    }

    /// The session a message goes to: the one whose message it replies to, else the
    /// chat's active one.
    fn target(&self, chat: i64, reply_to: Option<i32>) -> Option<String> {
        if let Some(id) = reply_to {
            let ids = self
                .outbox
                .ids
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(name) = ids.session_of(chat, id) {
                return Some(name);
            }
        }
        self.active.get(&chat).cloned()
    }

    fn entry(&mut self, chat: i64, name: &str) -> Option<&mut SessionEntry> {
        self.sessions.get_mut(&chat)?.get_mut(name)
    }

    async fn on_message(&mut self, chat: i64, message: &Message) {
        let Some(text) = message.text() else {
            self.say(chat, "Only text messages for now.").await;
            return;
        };
        let reply_to = message.reply_to_message().map(|m| m.id.0);
        if let Some(command) = text.strip_prefix('/') {
            let (name, rest) = command
                .split_once(char::is_whitespace)
                .unwrap_or((command, ""));
            let name = name.split('@').next().unwrap_or(name);
            if self.command(chat, name, rest.trim()).await {
                return;
            }
        }
        // Plain text (and unknown /commands, such as Claude Code's own) go to a session.
        let Some(name) = self.target(chat, reply_to) else {
            self.say(chat, "No session yet: start one with /new NAME.")
                .await;
            return;
        };
        let Some(entry) = self.entry(chat, &name) else {
            return;
        };
        if entry.ended.is_some() {
            self.say(
                chat,
                &format!(
                    "Session <b>{}</b> has ended; /new starts another.",
                    escape(&name)
                ),
            )
            .await;
            return;
        }
        entry.last_activity = Instant::now();
        let busy = entry.busy;
        let session = entry.session.clone();
        session.send(Request::Text(text.to_string())).await;
        if busy {
            // Claude Code queues what is typed while it works; say so.
            self.outbox.say_quietly(
                chat,
                "⏳ Queued: Claude will read it when the current turn ends.",
            );
        }
    }

    async fn on_button(&mut self, chat: i64, message: Option<i32>, data: &str) {
        if let Some(key) = data.strip_prefix("k:") {
            let Some(name) = self.active.get(&chat).cloned() else {
                return;
            };
            if let (Ok(key), Some(entry)) = (key.parse::<Key>(), self.entry(chat, &name)) {
                entry.last_activity = Instant::now();
                entry.session.send(Request::Keys(vec![key])).await;
            }
            return;
        }
        let Some(name) = self.target(chat, message) else {
            return;
        };
        if let Some(entry) = self.entry(chat, &name) {
            entry.last_activity = Instant::now();
            let session = entry.session.clone();
            if !session.press(data).await {
                self.say(chat, "That prompt is no longer on the screen.")
                    .await;
            }
        }
    }

    fn on_event(&mut self, chat: i64, name: &str, event: Event) {
        match event {
            Event::Ops(ops) => {
                for op in ops {
                    self.outbox.push(chat, name, op);
                }
            }
            Event::Busy(busy) => {
                if let Some(entry) = self.entry(chat, name) {
                    entry.busy = busy;
                }
            }
            Event::Ended(info) => {
                if let Some(entry) = self.entry(chat, name) {
                    entry.ended = Some(info.to_string());
                }
                let text = format!(
                    "Session <b>{}</b> ended: {}",
                    escape(name),
                    escape(&info.to_string())
                );
                self.outbox.say(chat, &text);
            }
        }
    }

    async fn say(&self, chat: i64, html: &str) {
        self.outbox.say(chat, html);
    }

    /// Handles one of telepty's own commands; false if `name` is not one.
    async fn command(&mut self, chat: i64, name: &str, args: &str) -> bool {
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
                self.say(chat, &text).await;
            }
            "new" => self.new_session(chat, args).await,
            "sessions" => {
                let active = self.active.get(&chat).cloned();
                let mut lines = Vec::new();
                for (name, e) in self.sessions.get(&chat).into_iter().flatten() {
                    let state = e.ended.clone().unwrap_or_else(|| "running".into());
                    let ago = e.last_activity.elapsed().as_secs();
                    lines.push(format!(
                        "{} <b>{}</b> — {} — <code>{}</code> — active {} s ago",
                        if Some(name) == active.as_ref() {
                            "▶"
                        } else {
                            "•"
                        },
                        escape(name),
                        escape(&state),
                        escape(&e.dir.display().to_string()),
                        ago
                    ));
                }
                if lines.is_empty() {
                    lines.push("No sessions: /new NAME starts one.".into());
                }
                self.say(chat, &lines.join("\n")).await;
            }
            "use" => {
                if self
                    .sessions
                    .get(&chat)
                    .is_some_and(|s| s.contains_key(args))
                {
                    self.active.insert(chat, args.to_string());
                    self.say(chat, &format!("Now in <b>{}</b>.", escape(args)))
                        .await;
                } else {
                    self.say(
                        chat,
                        &format!("No session {}: /sessions lists them.", escape(args)),
                    )
                    .await;
                }
            }
            "screen" => {
                let Some(name) = self.active.get(&chat).cloned() else {
                    self.say(chat, "No session yet: /new NAME starts one.")
                        .await;
                    return true;
                };
                let screen = match self.entry(chat, &name) {
                    Some(e) => e.session.screen().await,
                    None => String::new(),
                };
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
                self.say(chat, &format!("<pre>{}</pre>", escape(&text)))
                    .await;
            }
            "keys" => {
                let buttons: Vec<Vec<Button>> = KEYPAD
                    .iter()
                    .map(|row| {
                        row.iter()
                            .map(|(label, key)| Button {
                                text: label.to_string(),
                                data: format!("k:{key}"),
                            })
                            .collect()
                    })
                    .collect();
                let content = Content {
                    text: "Keys for the active session:".into(),
                    buttons,
                    silent: true,
                };
                self.outbox.say_with_buttons(chat, content);
            }
            "esc" | "interrupt" => {
                let key = if name == "esc" {
                    Key::Esc
                } else {
                    Key::Ctrl('c')
                };
                if let Some(name) = self.active.get(&chat).cloned() {
                    if let Some(e) = self.entry(chat, &name) {
                        e.session.send(Request::Keys(vec![key])).await;
                    }
                }
            }
            "stop" | "kill" => {
                let grace = if name == "stop" {
                    STOP_GRACE
                } else {
                    Duration::ZERO
                };
                match self.entry(chat, args) {
                    Some(e) => {
                        e.session.send(Request::Stop(grace)).await;
                    }
                    None => {
                        self.say(chat, &format!("No session {}.", escape(args)))
                            .await
                    }
                }
            }
            "status" => {
                let running = self
                    .sessions
                    .values()
                    .flat_map(|s| s.values())
                    .filter(|e| e.ended.is_none())
                    .count();
                let text = format!(
                    "Up {}; {running} session(s) running; memory {}.",
                    humantime::format_duration(Duration::from_secs(
                        self.started.elapsed().as_secs()
                    )),
                    memory()
                );
                self.say(chat, &escape(&text)).await;
            }
            _ => return false,
        }
        true
    }

    async fn new_session(&mut self, chat: i64, args: &str) {
        let mut parts = args.split_whitespace();
        let Some(name) = parts.next() else {
            self.say(chat, "Usage: /new NAME [DIR]").await;
            return;
        };
        let valid = name.len() <= 32
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !valid {
            self.say(chat, "A session name is 1–32 of a-z 0-9 - _.")
                .await;
            return;
        }
        if self
            .sessions
            .get(&chat)
            .and_then(|s| s.get(name))
            .is_some_and(|e| e.ended.is_none())
        {
            self.say(
                chat,
                &format!("Session <b>{name}</b> is running: /use {name}."),
            )
            .await;
            return;
        }
        let dir = match parts.next() {
            Some(d) => PathBuf::from(d),
            None => self.config.sessions_root.join(name),
        };
        if let Err(e) = std::fs::create_dir_all(&dir) {
            self.say(
                chat,
                &format!(
                    "Cannot create {}: {}",
                    escape(&dir.display().to_string()),
                    escape(&e.to_string())
                ),
            )
            .await;
            return;
        }
        let command = Command::new(&self.config.command[0], &dir)
            .args(self.config.command[1..].iter().cloned())
            .size(self.config.pty_size);
        let (tx, mut rx) = mpsc::channel(256);
        // The session's changes are paced per chat by the outbox, with the chat's other
        // sessions.
        let session = match Session::spawn(command, self.profile.clone(), Limits::unlimited(), tx) {
            Ok(s) => s,
            Err(e) => {
                self.say(
                    chat,
                    &format!(
                        "Cannot start {}: {}",
                        escape(&self.config.command[0]),
                        escape(&format!("{e:#}"))
                    ),
                )
                .await;
                return;
            }
        };
        // Tag the session's events with its chat and name.
        let events = self.events.clone();
        let tag = name.to_string();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if events.send((chat, tag.clone(), event)).await.is_err() {
                    break;
                }
            }
        });
        self.sessions.entry(chat).or_default().insert(
            name.to_string(),
            SessionEntry {
                session,
                dir: dir.clone(),
                last_activity: Instant::now(),
                ended: None,
                busy: false,
            },
        );
        self.active.insert(chat, name.to_string());
        self.say(
            chat,
            &format!(
                "Session <b>{}</b> started in <code>{}</code>.",
                escape(name),
                escape(&dir.display().to_string())
            ),
        )
        .await;
    }
}

/// This process's resident memory, from /proc.
fn memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.trim_start_matches("VmRSS:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
