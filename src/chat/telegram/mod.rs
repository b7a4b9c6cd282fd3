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

mod api;
mod backoff;
mod commands;
mod files;
pub mod outbox;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use teloxide::prelude::Requester;
use teloxide::types::{Message, Update, UpdateKind};
use teloxide::Bot;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::control::socket::{self as control, ToBot};
use crate::core::buttons::ButtonData;
use crate::core::pacer::Limits;
use crate::core::profile::Profile;
use crate::core::render::html::escape;
use crate::session::command::MENU;
use crate::session::lifecycle::Phase;
use crate::session::registry::Registry;
use crate::session::supervisor::{Entry, Out, Supervisor};
use crate::session::task::Session;
use crate::session::SessionId;

use backoff::Backoff;
use outbox::{Outbox, Place};

/// Long-polling wait per getUpdates call.
const POLL_TIMEOUT: u32 = 10;
/// How often the `typing` chat action is renewed while a session works.
const TYPING_EVERY: Duration = Duration::from_secs(4);
/// How long pending chat operations may take to go out at shutdown.
const FLUSH_LIMIT: Duration = Duration::from_secs(10);
/// How often idle sessions, due continues and slow starts are looked at.
const TICK_EVERY: Duration = Duration::from_secs(1);

/// The Telegram front end of the supervisor: how updates reach it and its notices and
/// chat operations reach Telegram; owned by the polling loop.
struct Router {
    bot: Bot,
    sup: Supervisor,
    outbox: Outbox,
    refused_logged: HashMap<i64, Instant>,
    /// Finished downloads of uploads come back here.
    saved: mpsc::Sender<files::Saved>,
    /// Albums being received, by chat and media group.
    albums: HashMap<(i64, String), files::Album>,
    /// The forum topic of the update being handled (chat, thread): the bot answers there,
    /// and it names the session a message or command is for.
    here: Option<(i64, i32)>,
    /// Chats seen to be forum supergroups: `/new` opens a topic there.
    forums: HashSet<i64>,
    /// The bot's username: `/command@name` for another bot is not telepty's.
    username: Option<String>,
    /// The "Saved" message of each session's current burst of uploads.
    saved_notes: HashMap<SessionId, files::SavedNote>,
    /// Numbers those messages.
    note_serial: u64,
    /// Sessions whose forum topic is being opened (they start when it is).
    opening: HashSet<SessionId>,
    /// Telegram's answers to those requests come back here.
    topics: mpsc::Sender<(commands::PendingTopic, Result<i32, String>)>,
}

/// Runs the bot until SIGINT or SIGTERM.
pub async fn run(config: Config, profile: Arc<Profile>) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let signals = shutdown.clone();
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = sigterm.recv() => {}
        }
        signals.cancel();
    });
    serve(config, profile, shutdown).await
}

/// Runs the bot until `shutdown` is cancelled; then the sessions are suspended (each
/// resumes on its next message), the chat is flushed and the updates handled confirmed.
pub async fn serve(
    config: Config,
    profile: Arc<Profile>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
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
    // The network may be down at boot: wait for it here, never exit for it.
    let mut backoff = Backoff::default();
    let me = loop {
        match bot.get_me().await {
            Ok(me) => break me,
            Err(e) => {
                let pause = backoff.failed_call(&format!("getMe at {}", config.api_url), &e);
                let stop = tokio::select! {
                    _ = tokio::time::sleep(pause) => false,
                    _ = shutdown.cancelled() => true,
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
    let commands: Vec<teloxide::types::BotCommand> = MENU
        .iter()
        .map(|(c, d)| teloxide::types::BotCommand::new(*c, *d))
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
    let (saved_tx, mut saved) = mpsc::channel::<files::Saved>(64);
    let (topics_tx, mut topics) = mpsc::channel(16);
    let outbox = Outbox::new(bot.clone(), config.chat_limits(), config.sends_per_second)
        .with_drafts(config.draft_interval);
    // Paced per chat by the outbox, with the chat's other sessions.
    let (sup, mut events) = Supervisor::new(config, profile, Limits::unlimited(), true);
    let mut state = Router {
        bot: bot.clone(),
        sup,
        outbox,
        refused_logged: HashMap::new(),
        saved: saved_tx,
        albums: HashMap::new(),
        here: None,
        forums: HashSet::new(),
        username: me.user.username.clone(),
        saved_notes: HashMap::new(),
        note_serial: 0,
        opening: HashSet::new(),
        topics: topics_tx,
    };
    state.sup.restore(registry).await;
    state.perform();
    let mut poll: Option<Poll> = Some(poll_after(
        bot.clone(),
        state.sup.ledger.offset,
        Duration::ZERO,
    ));
    let mut poll_backoff = Backoff::default();
    // Telegram shows "typing…" for up to 5 s per chat action: renewed while busy.
    let mut typing = tokio::time::interval(TYPING_EVERY);
    let mut tick = tokio::time::interval(TICK_EVERY);
    loop {
        tokio::select! {
            _ = typing.tick() => state.show_typing(),
            _ = tick.tick() => {
                state.sup.tick().await;
                state.flush_albums().await;
                if poll.is_none() {
                    // Polling stopped while the registry could not be written.
                    state.sup.save();
                    if !state.sup.save_failed() {
                        tracing::info!("the registry can be written again: taking updates");
                        poll = Some(poll_after(bot.clone(), state.sup.ledger.offset, Duration::ZERO));
                    }
                }
                state.perform();
            }
            Some(done) = saved.recv() => {
                state.on_saved(done).await;
                state.perform();
            }
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
                poll = if state.sup.save_failed() {
                    None
                } else {
                    Some(poll_after(bot.clone(), state.sup.ledger.offset, pause))
                };
            }
            Some((program, event)) = events.recv() => {
                state.sup.on_event(program, event).await;
                state.perform();
            }
            Some(ask) = control_rx.recv() => {
                state.sup.on_control(ask).await;
                state.perform();
            }
            _ = shutdown.cancelled() => break,
        }
    }
    tracing::info!("shutting down: stopping sessions, flushing the chat");
    drop(poll);
    if let Some(task) = control_task {
        task.abort();
    }
    let _ = std::fs::remove_file(control::socket_path(&state.sup.config().state_dir));
    state.sup.suspend_all().await;
    state.perform();
    // Let the sessions report their end and the outbox empty, within a bound.
    let deadline = tokio::time::Instant::now() + FLUSH_LIMIT;
    while tokio::time::Instant::now() < deadline {
        if !state.sup.any_live() && state.outbox.pending() == 0 {
            break;
        }
        tokio::select! {
            Some((program, event)) = events.recv() => {
                state.sup.on_event(program, event).await;
                state.perform();
            }
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    state.sup.save();
    if state.sup.save_failed() {
        // Not remembered: Telegram gives them again after the restart.
        return Ok(());
    }
    // Confirm the updates handled, so Telegram does not give them again.
    let confirm = api::GetUpdates {
        offset: state.sup.ledger.offset as i32,
        timeout: 0,
        allowed_updates: api::ALLOWED_UPDATES,
    };
    let _ = api::call(&bot, confirm).await;
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
        let payload = api::GetUpdates {
            offset: offset as i32,
            timeout: POLL_TIMEOUT,
            allowed_updates: api::ALLOWED_UPDATES,
        };
        api::call(&bot, payload).await
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
        let admitted = self.sup.ledger.admit(&ids);
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
            self.sup.ledger.done(id);
            self.sup.save();
        }
    }

    /// What the supervisor asked for, performed on Telegram: answers where the update
    /// being handled came from, session news in the session's topic.
    fn perform(&mut self) {
        for out in self.sup.take_out() {
            match out {
                Out::Reply { chat, content } => {
                    self.outbox.say_with_buttons(self.place(chat), content);
                }
                Out::Notice {
                    id,
                    topic,
                    notice,
                    quiet,
                } => {
                    let place = match topic {
                        Some(topic) if !notice.answers_the_sender() => Place {
                            chat: id.chat,
                            topic: Some(topic),
                        },
                        _ => self.place(id.chat),
                    };
                    let mut content = notice.content(&id.name);
                    content.silent |= quiet;
                    self.outbox.say_with_buttons(place, content);
                }
                Out::Ops {
                    program,
                    topic,
                    ops,
                } => {
                    let place = match topic {
                        Some(topic) => Place {
                            chat: program.session.chat,
                            topic: Some(topic),
                        },
                        None => self.place(program.session.chat),
                    };
                    for op in ops {
                        self.outbox.push(place, &program, op);
                    }
                }
                Out::Spoke { chat } => self.outbox.spoke(chat),
            }
        }
    }

    /// `typing…` in every chat (or forum topic) where a session is working.
    fn show_typing(&self) {
        let places: std::collections::BTreeSet<(i64, Option<i32>)> = self
            .sup
            .sessions()
            .filter(|(_, e)| e.phase == Phase::Busy)
            .map(|(id, e)| (id.chat, e.record.topic))
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
        let config = self.sup.config();
        let ok = user.is_some_and(|u| config.allowed_users.contains(&u))
            && (chat > 0 || (config.allow_groups && config.allowed_chats.contains(&chat)));
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
                    self.perform();
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
                    self.perform();
                    self.here = None;
                }
            }
            UpdateKind::Error(value) if api::MessageGenerationStopped::of(&value).is_some() => {
                let stop = api::MessageGenerationStopped::of(&value).expect("checked");
                // A private chat's id is its user's.
                if self.allowed(Some(stop.chat.id), stop.chat.id) {
                    self.on_stop(stop).await;
                    self.perform();
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
                let allowed = from.is_some_and(|u| self.sup.config().allowed_users.contains(&u));
                tracing::error!(?kinds, from, allowed, "an update telepty cannot read");
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
            .sup
            .get(&SessionId::new(chat, name))
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
                .sup
                .sessions()
                .find(|(id, e)| id.chat == c && c == chat && e.record.topic == Some(topic));
            if let Some((id, _)) = own {
                return Some(id.name.clone());
            }
        }
        self.sup.active(chat).map(str::to_string)
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
            if let Some(program) = ids.session_of(chat, id) {
                if self.sup.contains(&program.session) {
                    return Some(program.session.name);
                }
            }
        }
        self.current(chat)
    }

    /// The running program of session `name` of `chat`, if one runs.
    fn live(&self, chat: i64, name: &str) -> Option<Session> {
        self.sup
            .get(&SessionId::new(chat, name))
            .and_then(Entry::session)
            .cloned()
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
        if let Some((name, to, args)) = crate::session::command::BotCommand::split(text) {
            let ours = to.is_empty()
                || self
                    .username
                    .as_deref()
                    .is_some_and(|me| me.eq_ignore_ascii_case(to));
            if !ours {
                // Addressed to another bot in the group: nothing for telepty.
                return;
            }
            if let Some(command) = crate::session::command::BotCommand::parse(name, args) {
                self.command(chat, command).await;
                return;
            }
        }
        // Plain text (and unknown /commands, such as Claude Code's own) go to a session.
        let Some(name) = self.target(chat, reply_to) else {
            self.say(chat, "No session yet: start one with /new NAME.");
            return;
        };
        let id = SessionId::new(chat, name);
        self.sup
            .deliver(&id, text.to_string(), reply_to.is_some())
            .await;
    }

    async fn on_button(&mut self, chat: i64, message: Option<i32>, data: &str) {
        let gone = "This button is gone: its prompt or program is no longer on the screen.";
        let fetch = match ButtonData::decode(data) {
            Some(ButtonData::Key(key)) => return self.press_key(chat, &key).await,
            Some(ButtonData::Session { action, name }) => {
                let id = SessionId::new(chat, name);
                return self.sup.on_session_button(&id, action).await;
            }
            Some(ButtonData::Fetch { .. }) => true,
            Some(ButtonData::Prompt { .. }) => false,
            // An older format, or not telepty's: never guessed at.
            None => return self.say(chat, gone),
        };
        let Some(name) = self.target(chat, message) else {
            return self.say(chat, gone);
        };
        let Some(session) = self.sup.touch(&SessionId::new(chat, &name)) else {
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

    /// The user pressed Stop on a draft: Esc to the session whose live turn it shows,
    /// once (a repeated or stale stop finds no live draft and does nothing).
    async fn on_stop(&mut self, stop: api::MessageGenerationStopped) {
        let Some(program) = self.outbox.stopped(stop.chat.id, stop.draft_id) else {
            tracing::debug!(draft = stop.draft_id, "a stop for no live draft");
            return;
        };
        if self.sup.stop_turn(&program).await {
            tracing::info!(session = %program.session.name, "Stop pressed: Esc sent");
        }
    }

    /// A key of the `/keys` keypad, for the current session.
    async fn press_key(&mut self, chat: i64, key: &str) {
        let Some(name) = self.current(chat) else {
            return;
        };
        let Ok(key) = key.parse::<crate::term::keys::Key>() else {
            return;
        };
        self.sup
            .press_keys(&SessionId::new(chat, name), vec![key])
            .await;
    }

    /// The bot's own message, where it answers now (see [`Router::place`]).
    fn say(&self, chat: i64, html: &str) {
        self.outbox.say(self.place(chat), html);
    }

    /// The bot's own message about session `name`, in its topic if it has one.
    fn say_for(&self, chat: i64, name: &str, html: &str) {
        self.outbox.say(self.place_of(chat, name), html);
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
