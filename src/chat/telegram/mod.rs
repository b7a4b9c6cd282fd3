//! `telepty run`: the Telegram bot.
//!
//! One loop polls Telegram for updates and routes them; it never waits on a session.
//! Each session runs in its own task (see `crate::session::task`), and its chat operations go to the
//! [`outbox::Outbox`], which performs them per chat, in order, through Telegram's errors.
//! Only allowed users reach anything: everyone else is ignored without a reply (and
//! logged, at most once a minute per user).
//!
//! Sessions live across idle time, crashes and restarts (`sessions`): the registry under
//! the state directory remembers them and which updates were handled.

mod backoff;
mod commands;
mod files;
pub mod outbox;
mod sessions;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use teloxide::types::{AllowedUpdate, BotCommand, Message, Update, UpdateKind};
use teloxide::Bot;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::control::socket::{self as control, SessionInfo, ToBot};
use crate::core::buttons::ButtonData;
use crate::core::profile::Profile;
use crate::core::render::html::escape;
use crate::session::lifecycle::{Crashes, Intent, Phase};
use crate::session::registry::{Ledger, Record, Registry};
use crate::session::task::{Event, Session};

use backoff::Backoff;
use outbox::{Outbox, Place};

/// Long-polling wait per getUpdates call.
const POLL_TIMEOUT: u32 = 10;
/// How long a session gets to end on `/stop` and at shutdown.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How often the `typing` chat action is renewed while a session works.
const TYPING_EVERY: Duration = Duration::from_secs(4);
/// How long pending chat operations may take to go out at shutdown.
const FLUSH_LIMIT: Duration = Duration::from_secs(10);
/// How often idle sessions, due continues and slow starts are looked at.
const TICK_EVERY: Duration = Duration::from_secs(1);

/// The bot's commands, as Telegram's menu shows them.
pub const COMMANDS: &[(&str, &str)] = &[
    ("new", "NAME [DIR] — start a session"),
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

/// One session: what is remembered of it, and its program when one runs.
struct Entry {
    record: Record,
    live: Option<Live>,
    phase: Phase,
    /// Why telepty asked the program to end, while it ends.
    intent: Option<Intent>,
    crashes: Crashes,
    last_activity: Instant,
    /// The usage limit shown last (its reset time as shown).
    usage_limit: Option<String>,
}

/// A running program.
struct Live {
    session: Session,
    /// Tells this program's events from an earlier one's of the same session.
    generation: u64,
    since: Instant,
}

/// A session event, tagged with the session's chat, name and program.
type Tagged = (i64, String, u64, Event);

/// What the bot knows, and how it routes updates; owned by the polling loop.
struct Router {
    bot: Bot,
    config: Config,
    profile: Arc<Profile>,
    outbox: Outbox,
    /// Sessions by chat and name.
    sessions: BTreeMap<(i64, String), Entry>,
    active: HashMap<i64, String>,
    events: mpsc::Sender<Tagged>,
    generation: u64,
    started: Instant,
    refused_logged: HashMap<i64, Instant>,
    ledger: Ledger,
    /// The registry could not be written: said once, retried at every change.
    save_failed: bool,
    /// Directories of deleted sessions offered for deletion.
    doomed: sessions::Doomed,
    /// Shutting down: no program starts any more (waiting messages stay in the registry).
    closing: bool,
    /// Finished downloads of uploads come back here.
    saved: mpsc::Sender<files::Saved>,
    /// Albums being received, by chat and media group.
    albums: HashMap<(i64, String), files::Album>,
    /// The forum topic of the update being handled (chat, thread): the bot answers there,
    /// and it names the session a message or command is for.
    here: Option<(i64, i32)>,
    /// Chats seen to be forum supergroups: `/new` opens a topic there.
    forums: HashSet<i64>,
    /// Terminals attached to each session (`telepty attach`).
    attached: HashMap<(i64, String), usize>,
    /// This run of telepty, in every prompt and file button (see [`crate::core::buttons`]).
    boot: u32,
    /// The bot's username: `/command@name` for another bot is not telepty's.
    username: Option<String>,
    /// The "Saved" message of each session's current burst of uploads.
    saved_notes: HashMap<(i64, String), files::SavedNote>,
    /// Numbers those messages.
    note_serial: u64,
    /// Sessions whose forum topic is being opened (they start when it is).
    opening: HashSet<(i64, String)>,
    /// Telegram's answers to those requests come back here.
    topics: mpsc::Sender<(commands::PendingTopic, Result<i32, String>)>,
}

/// Runs the bot until SIGINT or SIGTERM.
pub async fn run(config: Config, profile: Arc<Profile>) -> anyhow::Result<()> {
    config.check_for_bot().map_err(|e| anyhow::anyhow!(e))?;
    if config.allow_groups && config.allowed_chats.is_empty() {
        tracing::warn!(
            "allow_groups is set but allowed_chats is empty: no group is served. List each \
             group's id in allowed_chats (the log names a refused group's chat id)"
        );
    }
    // Programs in sessions run as this user: they must not read the token from here.
    crate::guard::not_dumpable();
    // The registry names commands run on restore: the state is the user's alone.
    crate::guard::create_private_dir(&config.state_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create state_dir {}: {e}",
            config.state_dir.display()
        )
    })?;
    if let Some(why) = crate::guard::not_private(&config.state_dir, "state_dir") {
        anyhow::bail!(
            "{why}. telepty will not start on it: the registry there names the commands \
             it runs"
        );
    }
    if let Some(why) = config
        .token_file
        .as_deref()
        .and_then(|f| crate::guard::not_private(f, "token_file"))
    {
        tracing::warn!("{why} (anyone who reads the token controls the bot)");
    }
    // The local control socket (`telepty attach`, `ls`, `send`) first: a second telepty
    // on the same state directory stops here, before it touches a session.
    let (control_tx, mut control_rx) = mpsc::channel::<ToBot>(64);
    let control_task = match control::listen(&config.state_dir).await {
        Ok(listener) => Some(tokio::spawn(control::serve(listener, control_tx))),
        Err(e @ control::ListenError::AlreadyRunning(_)) => return Err(e.into()),
        Err(e) => {
            tracing::warn!("{e}: telepty attach, ls and send will not reach this bot");
            None
        }
    };
    let registry = Registry::load(&config.state_dir)?;
    let token = config.token.clone().expect("checked");
    let url: url::Url = format!("{}/", config.api_url)
        .parse()
        .map_err(|e| anyhow::anyhow!("api_url {:?}: {e}", config.api_url))?;
    let bot = Bot::new(token.expose()).set_api_url(url);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // The network may be down at boot: wait for it here, never exit for it.
    let mut backoff = Backoff::default();
    let me = loop {
        match bot.get_me().await {
            Ok(me) => break me,
            Err(e) => {
                let pause = backoff.failed_call(&format!("getMe at {}", config.api_url), &e);
                let stop = tokio::select! {
                    _ = tokio::time::sleep(pause) => false,
                    _ = tokio::signal::ctrl_c() => true,
                    _ = sigterm.recv() => true,
                };
                if stop {
                    let _ = std::fs::remove_file(control::socket_path(&config.state_dir));
                    return Ok(());
                }
            }
        }
    };
    if backoff.succeeded() {
        tracing::info!("the Bot API can be reached again");
    }
    tracing::info!(username = ?me.user.username, "connected to the Bot API");
    let commands: Vec<BotCommand> = COMMANDS
        .iter()
        .map(|(c, d)| BotCommand::new(*c, *d))
        .collect();
    if let Err(e) = bot.set_my_commands(commands).await {
        tracing::warn!("setMyCommands failed: {e}");
    }
    crate::guard::create_private_dir(&config.sessions_root).map_err(|e| {
        anyhow::anyhow!(
            "cannot create sessions_root {}: {e}",
            config.sessions_root.display()
        )
    })?;
    let (events_tx, mut events) = mpsc::channel::<Tagged>(1024);
    let (saved_tx, mut saved) = mpsc::channel::<files::Saved>(64);
    let (topics_tx, mut topics) = mpsc::channel(16);
    let mut state = Router {
        bot: bot.clone(),
        outbox: Outbox::new(bot.clone(), config.chat_limits(), config.sends_per_second),
        config,
        profile,
        sessions: BTreeMap::new(),
        active: HashMap::new(),
        events: events_tx,
        generation: 0,
        started: Instant::now(),
        refused_logged: HashMap::new(),
        ledger: registry.updates,
        save_failed: false,
        doomed: sessions::Doomed::new(),
        closing: false,
        saved: saved_tx,
        albums: HashMap::new(),
        here: None,
        forums: HashSet::new(),
        attached: HashMap::new(),
        boot: crate::core::buttons::Stamp::boot_nonce(),
        username: me.user.username.clone(),
        saved_notes: HashMap::new(),
        note_serial: 0,
        opening: HashSet::new(),
        topics: topics_tx,
    };
    state.restore(registry.sessions).await;
    let mut poll: Option<Poll> = Some(poll_after(bot.clone(), state.ledger.offset, Duration::ZERO));
    let mut poll_backoff = Backoff::default();
    // Telegram shows "typing…" for up to 5 s per chat action: renewed while busy.
    let mut typing = tokio::time::interval(TYPING_EVERY);
    let mut tick = tokio::time::interval(TICK_EVERY);
    loop {
        tokio::select! {
            _ = typing.tick() => state.show_typing(),
            _ = tick.tick() => {
                state.tick().await;
                state.flush_albums().await;
                if poll.is_none() {
                    // Polling stopped while the registry could not be written.
                    state.save();
                    if !state.save_failed {
                        tracing::info!("the registry can be written again: taking updates");
                        poll = Some(poll_after(bot.clone(), state.ledger.offset, Duration::ZERO));
                    }
                }
            }
            Some(done) = saved.recv() => state.on_saved(done).await,
            Some((pending, topic)) = topics.recv() => state.on_topic(pending, topic).await,
            updates = next_poll(&mut poll) => {
                let mut pause = Duration::ZERO;
                match updates {
                    Ok(updates) => {
                        if poll_backoff.succeeded() {
                            tracing::info!("getUpdates works again");
                        }
                        state.take(updates).await;
                    }
                    Err(e) => {
                        // The pause is part of the next poll: signals and sessions go on.
                        pause = poll_backoff.failed_call("getUpdates", &e);
                    }
                }
                // While the registry cannot be written, no update is confirmed: they wait
                // at Telegram, and nothing handled is forgotten by a restart.
                poll = if state.save_failed {
                    None
                } else {
                    Some(poll_after(bot.clone(), state.ledger.offset, pause))
                };
            }
            Some((chat, name, generation, event)) = events.recv() => {
                state.on_event(chat, &name, generation, event).await;
            }
            Some(ask) = control_rx.recv() => state.on_control(ask).await,
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
        }
    }
    tracing::info!("shutting down: stopping sessions, flushing the chat");
    drop(poll);
    if let Some(task) = control_task {
        task.abort();
    }
    let _ = std::fs::remove_file(control::socket_path(&state.config.state_dir));
    state.closing = true;
    state.suspend_all().await;
    // Let the sessions report their end and the outbox empty, within a bound.
    let deadline = tokio::time::Instant::now() + FLUSH_LIMIT;
    while tokio::time::Instant::now() < deadline {
        let running = state.sessions.values().any(|e| e.live.is_some());
        if !running && state.outbox.pending() == 0 {
            break;
        }
        tokio::select! {
            Some((chat, name, generation, event)) = events.recv() => {
                state.on_event(chat, &name, generation, event).await;
            }
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    state.save();
    if state.save_failed {
        // Not remembered: Telegram gives them again after the restart.
        return Ok(());
    }
    // Confirm the updates handled, so Telegram does not give them again.
    let _ = bot
        .get_updates()
        .offset(state.ledger.offset as i32)
        .timeout(0)
        .await;
    Ok(())
}

/// A `getUpdates` call in flight.
type Poll = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<Update>, teloxide::RequestError>> + Send>,
>;

/// A `getUpdates` call from `offset`, after `pause`.
fn poll_after(bot: Bot, offset: i64, pause: Duration) -> Poll {
    Box::pin(async move {
        tokio::time::sleep(pause).await;
        bot.get_updates()
            .offset(offset as i32)
            .timeout(POLL_TIMEOUT)
            .allowed_updates(vec![AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
            .await
    })
}

/// The answer of the poll in flight; never, while there is none.
async fn next_poll(poll: &mut Option<Poll>) -> Result<Vec<Update>, teloxide::RequestError> {
    match poll {
        Some(p) => p.await,
        None => std::future::pending().await,
    }
}

impl Router {
    /// A batch of updates from `getUpdates`: each one not handled before is routed, then
    /// remembered in the same registry write (never twice, never lost).
    async fn take(&mut self, updates: Vec<Update>) {
        let ids: Vec<i64> = updates.iter().map(|u| i64::from(u.id.0)).collect();
        let admitted = self.ledger.admit(&ids);
        if admitted.reset {
            tracing::warn!(
                "Telegram started its update ids anew ({} update(s) below the offset): \
                 following the new ids",
                ids.len()
            );
        }
        for (update, (id, handle)) in updates
            .into_iter()
            .zip(ids.into_iter().zip(admitted.handle))
        {
            if handle {
                self.route(update.kind).await;
            }
            self.ledger.done(id);
            self.save();
        }
    }

    /// `typing…` in every chat (or forum topic) where a session is working.
    fn show_typing(&self) {
        let places: std::collections::BTreeSet<(i64, Option<i32>)> = self
            .sessions
            .iter()
            .filter(|(_, e)| e.phase == Phase::Busy)
            .map(|((chat, _), e)| (*chat, e.record.topic))
            .collect();
        for (chat, topic) in places {
            use teloxide::payloads::SendChatActionSetters;
            let mut request = self.bot.send_chat_action(
                teloxide::types::ChatId(chat),
                teloxide::types::ChatAction::Typing,
            );
            if let Some(topic) = topic {
                request = request.message_thread_id(outbox::thread(topic));
            }
            // In its own task: a slow answer must not hold up the updates.
            tokio::spawn(async move {
                let _ = request.await;
            });
        }
    }

    fn allowed(&mut self, user: Option<i64>, chat: i64) -> bool {
        let ok = user.is_some_and(|u| self.config.allowed_users.contains(&u))
            && (chat > 0
                || (self.config.allow_groups && self.config.allowed_chats.contains(&chat)));
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
                    if is_forum(&message.chat) {
                        self.forums.insert(chat);
                    }
                    self.here = topic_of(&message).map(|t| (chat, t));
                    self.on_message(chat, &message).await;
                    self.here = None;
                }
            }
            UpdateKind::CallbackQuery(query) => {
                let user = Some(query.from.id.0 as i64);
                let chat = query.message.as_ref().map_or(0, |m| m.chat().id.0);
                if !self.allowed(user, chat) {
                    return;
                }
                // Answered at once (the user's client spins until then), in its own
                // task: a slow Bot API must not hold up the updates.
                let answer = self.bot.answer_callback_query(query.id.clone());
                tokio::spawn(async move {
                    let _ = answer.await;
                });
                if let Some(data) = query.data.as_deref() {
                    let message = query.message.as_ref().map(|m| m.id().0);
                    self.here = query
                        .regular_message()
                        .and_then(topic_of)
                        .map(|t| (chat, t));
                    self.on_button(chat, message, data).await;
                    self.here = None;
                }
            }
            UpdateKind::Error(value) => {
                // Telegram sent something teloxide cannot read: said, never silently
                // lost — but not its text, which may come from anyone: its kind and its
                // sender only.
                let kinds: Vec<&str> = value
                    .as_object()
                    .map(|o| o.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                let from = kinds.iter().find_map(|k| value[*k]["from"]["id"].as_i64());
                tracing::error!(
                    ?kinds,
                    from,
                    allowed = from.is_some_and(|u| self.config.allowed_users.contains(&u)),
                    "an update telepty cannot read"
                );
            }
            _ => {}
        }
    }

    /// Where the bot's answer to the update being handled goes: its forum topic, if any.
    fn place(&self, chat: i64) -> Place {
        Place {
            chat,
            topic: self.here.filter(|(c, _)| *c == chat).map(|(_, t)| t),
        }
    }

    /// Where messages about session `name` go: its forum topic when it has one, else
    /// where the bot answers now.
    fn place_of(&self, chat: i64, name: &str) -> Place {
        match self
            .sessions
            .get(&(chat, name.to_string()))
            .and_then(|e| e.record.topic)
        {
            Some(topic) => Place {
                chat,
                topic: Some(topic),
            },
            None => self.place(chat),
        }
    }

    /// The session commands and messages are for: the one whose forum topic the update
    /// came from, else the chat's active one.
    fn current(&self, chat: i64) -> Option<String> {
        if let Some((c, topic)) = self.here {
            let own = self
                .sessions
                .iter()
                .find(|((sc, _), e)| *sc == c && c == chat && e.record.topic == Some(topic));
            if let Some(((_, name), _)) = own {
                return Some(name.clone());
            }
        }
        self.active.get(&chat).cloned()
    }

    /// The session a message goes to: the one whose message it replies to, else the one
    /// of its topic, else the chat's active one.
    fn target(&self, chat: i64, reply_to: Option<i32>) -> Option<String> {
        if let Some(id) = reply_to {
            let ids = self
                .outbox
                .ids
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(key) = ids.session_of(chat, id) {
                let name = key.split('#').next().unwrap_or(&key).to_string();
                if self.sessions.contains_key(&(chat, name.clone())) {
                    return Some(name);
                }
            }
        }
        self.current(chat)
    }

    fn entry(&mut self, chat: i64, name: &str) -> Option<&mut Entry> {
        self.sessions.get_mut(&(chat, name.to_string()))
    }

    async fn on_message(&mut self, chat: i64, message: &Message) {
        // In a forum topic every message "replies" to the one that opened the topic:
        // that is no reply of the user's.
        let reply_to = message
            .reply_to_message()
            .map(|m| m.id.0)
            .filter(|id| topic_of(message) != Some(*id));
        let Some(text) = message.text() else {
            match files::Incoming::of(message) {
                Some(incoming) => self.on_upload(chat, reply_to, incoming).await,
                None => self.say(
                    chat,
                    "telepty takes text, files, photos, voice messages, audio and video; \
                     not this kind of message.",
                ),
            }
            return;
        };
        if let Some(command) = text.strip_prefix('/') {
            let (name, rest) = command
                .split_once(char::is_whitespace)
                .unwrap_or((command, ""));
            let (name, to) = name.split_once('@').unwrap_or((name, ""));
            let ours = to.is_empty()
                || self
                    .username
                    .as_deref()
                    .is_some_and(|me| me.eq_ignore_ascii_case(to));
            if !ours {
                // Addressed to another bot in the group: nothing for telepty.
                return;
            }
            if self.command(chat, name, rest.trim()).await {
                return;
            }
        }
        // Plain text (and unknown /commands, such as Claude Code's own) go to a session.
        let Some(name) = self.target(chat, reply_to) else {
            self.say(chat, "No session yet: start one with /new NAME.");
            return;
        };
        self.deliver(chat, &name, text.to_string(), reply_to.is_some())
            .await;
    }

    async fn on_button(&mut self, chat: i64, message: Option<i32>, data: &str) {
        let gone = "This button is gone: its prompt or program is no longer on the screen.";
        let fetch = match ButtonData::decode(data) {
            Some(ButtonData::Key(key)) => return self.press_key(chat, &key).await,
            Some(ButtonData::Session { action, name }) => {
                return self.on_session_button(chat, action, &name).await;
            }
            Some(ButtonData::Fetch { .. }) => true,
            Some(ButtonData::Prompt { .. }) => false,
            // An older format, or not telepty's: never guessed at.
            None => return self.say(chat, gone),
        };
        let Some(name) = self.target(chat, message) else {
            return self.say(chat, gone);
        };
        let session = self
            .entry(chat, &name)
            .and_then(|e| {
                e.last_activity = Instant::now();
                e.live.as_ref()
            })
            .map(|l| l.session.clone());
        let Some(session) = session else {
            return self.say(chat, gone);
        };
        // The session's program checks that it drew the button (its stamp) for what is
        // on its screen now: a stale press does nothing.
        if fetch {
            match session.fetch(data).await {
                Some(path) => self.send_file(chat, &name, &path).await,
                None => self.say(
                    chat,
                    "This file button is from an earlier run of the session: /get PATH \
                     fetches the file.",
                ),
            }
        } else if session.press(data).await {
            self.outbox.spoke(chat);
        } else {
            self.say(chat, gone);
        }
    }

    /// A request from the local control socket.
    async fn on_control(&mut self, ask: ToBot) {
        match ask {
            ToBot::List(reply) => {
                let _ = reply.send(self.infos());
            }
            ToBot::Send { name, text, reply } => {
                let result = match self.find(&name) {
                    Ok(chat) => {
                        self.deliver(chat, &name, text, false).await;
                        self.save();
                        Ok(())
                    }
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            ToBot::Attach { name, reply } => {
                let chat = match self.find(&name) {
                    Ok(chat) => chat,
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        return;
                    }
                };
                // Resumed first, as a message from the chat would resume it.
                let running = self
                    .entry(chat, &name)
                    .is_some_and(|e| e.live.is_some() && e.intent.is_none());
                if !running {
                    let looped = self.entry(chat, &name).is_some_and(|e| e.record.crash_loop);
                    if looped {
                        let _ = reply.send(Err(format!(
                            "{name} crashed too often; /restart {name} in the chat first"
                        )));
                        return;
                    }
                    if !self.start(chat, &name, true).await {
                        let _ = reply.send(Err(format!("{name} could not be started")));
                        return;
                    }
                }
                let session = self
                    .entry(chat, &name)
                    .and_then(|e| e.live.as_ref())
                    .map(|l| l.session.clone());
                match session {
                    Some(session) => {
                        tracing::info!(session = %name, chat, "a terminal attached");
                        *self.attached.entry((chat, name)).or_default() += 1;
                        let _ = reply.send(Ok((session, chat)));
                    }
                    None => {
                        let _ = reply.send(Err(format!("{name} is not running")));
                    }
                }
            }
            ToBot::Detached { chat, name } => {
                tracing::info!(session = %name, chat, "a terminal detached");
                if let Some(n) = self.attached.get_mut(&(chat, name.clone())) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.attached.remove(&(chat, name));
                    }
                }
            }
        }
    }

    /// The chat of the one session called `name`.
    fn find(&self, name: &str) -> Result<i64, String> {
        let chats: Vec<i64> = self
            .sessions
            .keys()
            .filter(|(_, n)| n == name)
            .map(|(c, _)| *c)
            .collect();
        match chats.as_slice() {
            [chat] => Ok(*chat),
            [] => Err(format!("no session {name}; `telepty ls` lists them")),
            _ => Err(format!(
                "{} chats have a session {name}; rename one with /delete and /new",
                chats.len()
            )),
        }
    }

    /// Every session, for `telepty ls`.
    fn infos(&self) -> Vec<SessionInfo> {
        self.sessions
            .iter()
            .map(|((chat, name), e)| SessionInfo {
                name: name.clone(),
                chat: *chat,
                state: e.phase.as_str().to_string(),
                dir: e.record.dir.display().to_string(),
                attached: self.attached_to(*chat, name),
                active: self.active.get(chat) == Some(name),
                idle_secs: e.last_activity.elapsed().as_secs(),
            })
            .collect()
    }

    /// How many terminals are attached to session `name` of `chat`.
    fn attached_to(&self, chat: i64, name: &str) -> usize {
        self.attached
            .get(&(chat, name.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// The bot's own message, where it answers now (see [`Router::place`]).
    fn say(&self, chat: i64, html: &str) {
        self.outbox.say(self.place(chat), html);
    }

    /// The bot's own message about session `name`, in its topic if it has one.
    fn say_for(&self, chat: i64, name: &str, html: &str) {
        self.outbox.say(self.place_of(chat, name), html);
    }

    /// As [`Router::say_for`], without a notification sound.
    fn say_quietly_for(&self, chat: i64, name: &str, html: &str) {
        self.outbox.say_quietly(self.place_of(chat, name), html);
    }
}

/// Whether a chat is a forum supergroup (it has topics).
fn is_forum(chat: &teloxide::types::Chat) -> bool {
    use teloxide::types::{ChatKind, PublicChatKind};
    matches!(&chat.kind, ChatKind::Public(p) if matches!(&p.kind, PublicChatKind::Supergroup(s) if s.is_forum))
}

/// The forum topic a message was written in (`None` outside forums and in General).
fn topic_of(message: &Message) -> Option<i32> {
    if message.is_topic_message {
        message.thread_id.map(|t| t.0 .0)
    } else {
        None
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
