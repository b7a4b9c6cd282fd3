//! The outbox: chat operations performed on Telegram, in order per chat, never lost.
//!
//! Every session of a chat and the bot's own answers share the chat's pacer here (one
//! flood budget per chat, as Telegram counts it); the outbox then meets Telegram's
//! answers: `429 retry after N` → wait and retry (the final state must arrive); "message
//! is not modified" → success; "message to edit not found" → send it anew; "can't parse
//! entities" → send as plain text and log it; network errors → retry with backoff. One
//! task per chat keeps that chat's order; chats do not wait for each other, except at the
//! [`Gate`] that spaces all calls to stay under Telegram's ~30 per second per bot.
//!
//! In private chats a turn's live content goes out as drafts (`sendMessageDraft` with
//! Telegram's Stop button) when the configuration allows; a chat whose draft Telegram
//! refuses gets the edited live message from then on (logged once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use teloxide::payloads::{
    EditMessageReplyMarkupSetters, EditMessageTextSetters, SendDocumentSetters, SendMessageSetters,
    SendPhotoSetters,
};
use teloxide::prelude::Requester;
use teloxide::types::{
    ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, MessageId as TgMessageId,
    ParseMode, ThreadId,
};
use teloxide::{ApiError, Bot, RequestError};
use tokio::sync::mpsc;

use crate::core::ops::{Attachment, AttachmentKind, Content, MessageId, Operation};
use crate::core::pacer::{Limits, Pacer};
use crate::core::render::html::plain;

use super::api;
use crate::session::ProgramId;

/// Which program run a bridge message belongs to (bridge ids are per run; run 0 is
/// telepty's own messages about the session, such as "📎 Saved …").
pub type SessionKey = ProgramId;

/// Where a message goes: a chat and, in a forum supergroup, a topic of it. All topics of
/// a chat share the chat's pacer (Telegram counts a forum as one chat).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Place {
    pub chat: i64,
    /// The topic's thread id; `None` for a private chat or a forum's General topic.
    pub topic: Option<i32>,
}

impl Place {
    /// A whole chat (no topic).
    pub fn chat(chat: i64) -> Place {
        Place { chat, topic: None }
    }
}

/// Which session each of Telegram's messages belongs to.
#[derive(Default)]
pub struct Ids {
    to_session: HashMap<(i64, i32), SessionKey>,
    /// Drafts shown now (chat, draft id) and the session whose live turn they show.
    drafts: HashMap<(i64, i64), SessionKey>,
}

impl Ids {
    /// The session whose message `message` in `chat` is (for button presses and replies).
    pub fn session_of(&self, chat: i64, message: i32) -> Option<SessionKey> {
        self.to_session.get(&(chat, message)).cloned()
    }
}

/// How often an answer Telegram does not explain (a 5xx) is tried again.
const UNKNOWN_TRIES: u32 = 5;

/// Longest wait between two tries after network errors.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What the outbox is asked to do in a chat.
enum Job {
    /// A session's message should show this (a send or an edit: the pacer knows which).
    Set {
        session: SessionKey,
        id: u64,
        content: Content,
        topic: Option<i32>,
    },
    /// A session's message goes away.
    Delete { session: SessionKey, id: u64 },
    /// A message of the bot itself (a command's answer).
    Say(Content, Option<i32>),
    /// The user's input went to a session: what the chat shows next is the start of
    /// the answer they wait for (see [`crate::core::pacer::Pacer::user_spoke`]).
    Spoke,
    /// The user pressed Stop on the draft of this (pacer) message.
    DraftStopped(MessageId),
}

/// Per-chat queues of operations, each worked by its own task with the chat's pacer:
/// every session of a chat and the bot's own answers share one flood budget.
#[derive(Clone)]
pub struct Outbox {
    bot: Bot,
    limits: Limits,
    /// Private chats show live content as drafts, at most one per this interval.
    drafts: Option<Duration>,
    gate: Arc<Gate>,
    queues: Arc<Mutex<HashMap<i64, mpsc::UnboundedSender<Job>>>>,
    pub ids: Arc<Mutex<Ids>>,
    /// Per chat: jobs queued and not yet taken into the chat's pacer.
    waiting: Arc<Mutex<HashMap<i64, usize>>>,
    /// Per chat: messages the pacer holds whose final state has not gone out.
    unsent: Arc<Mutex<HashMap<i64, usize>>>,
}

impl Outbox {
    /// An outbox pacing each chat by `limits`, and all chats together to
    /// `per_second` calls.
    pub fn new(bot: Bot, limits: Limits, per_second: usize) -> Outbox {
        Outbox {
            bot,
            limits,
            drafts: None,
            gate: Arc::new(Gate::new(per_second)),
            queues: Arc::default(),
            ids: Arc::default(),
            waiting: Arc::default(),
            unsent: Arc::default(),
        }
    }

    /// Private chats show a turn's live content as drafts, one per `every` at most.
    pub fn with_drafts(mut self, every: Option<Duration>) -> Outbox {
        self.drafts = every;
        self
    }

    /// A user pressed Stop on draft `draft` in `chat`: the session whose live turn it
    /// shows — the first time only (Telegram may repeat it) — and the draft is not sent
    /// again. `None` for a draft that is not live (an old one, or not telepty's).
    pub fn stopped(&self, chat: i64, draft: i64) -> Option<SessionKey> {
        let session = self
            .ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drafts
            .remove(&(chat, draft))?;
        self.queue(chat, Job::DraftStopped(draft as MessageId));
        Some(session)
    }

    fn queue(&self, chat: i64, job: Job) {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = queues.entry(chat).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(work(self.clone(), chat, rx));
            tx
        });
        // Counted as waiting until the chat's task has taken it into its pacer.
        *self
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(chat)
            .or_default() += 1;
        if tx.send(job).is_err() {
            tracing::error!(chat, "the chat's outbox task is gone");
        }
    }

    /// Queues an operation of `session`, whose messages go to `place`.
    pub fn push(&self, place: Place, session: &ProgramId, op: Operation) {
        let session = session.clone();
        let job = match op {
            Operation::Send(id, content)
            | Operation::Edit(id, content)
            | Operation::Draft(id, content) => Job::Set {
                session,
                id,
                content,
                topic: place.topic,
            },
            Operation::Delete(id) => Job::Delete { session, id },
        };
        self.queue(place.chat, job);
    }

    /// Messages not yet delivered, in all chats.
    pub fn pending(&self) -> usize {
        let queued: usize = self
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum();
        let unsent: usize = self
            .unsent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum();
        queued + unsent
    }

    /// Sends a message of the bot itself (paced with the chat's sessions).
    pub fn say(&self, place: Place, html: &str) {
        self.say_with_buttons(
            place,
            Content {
                live: false,
                text: html.to_string(),
                buttons: Vec::new(),
                silent: false,
                attachment: None,
            },
        );
    }

    /// Sends a message of the bot itself without a notification sound.
    pub fn say_quietly(&self, place: Place, html: &str) {
        self.say_with_buttons(
            place,
            Content {
                live: false,
                text: html.to_string(),
                buttons: Vec::new(),
                silent: true,
                attachment: None,
            },
        );
    }

    /// Sends a file (with its caption and buttons) of the bot itself.
    pub fn send_file(&self, place: Place, content: Content) {
        self.say_with_buttons(place, content);
    }

    /// Sends a message with buttons of the bot itself.
    pub fn say_with_buttons(&self, place: Place, content: Content) {
        self.queue(place.chat, Job::Say(content, place.topic));
    }

    /// The user's input reached a session in `chat` (a message typed, a key or a
    /// button pressed): its first content is not held by the edit interval.
    pub fn spoke(&self, chat: i64) {
        self.queue(chat, Job::Spoke);
    }

    async fn send(&self, place: Place, content: &Content) -> Result<TgMessageId, RequestError> {
        self.gate.pass().await;
        if let Some(file) = &content.attachment {
            return self.upload(place, content, file).await;
        }
        let mut request = self
            .bot
            .send_message(ChatId(place.chat), content.text.clone())
            .parse_mode(ParseMode::Html)
            .disable_notification(content.silent);
        if let Some(topic) = place.topic {
            request = request.message_thread_id(thread(topic));
        }
        if !content.buttons.is_empty() {
            request = request.reply_markup(markup(content));
        }
        let message = request.await?;
        Ok(message.id)
    }

    /// A photo or document with the content's text as its caption.
    async fn upload(
        &self,
        place: Place,
        content: &Content,
        file: &Attachment,
    ) -> Result<TgMessageId, RequestError> {
        let input = InputFile::memory(file.bytes.as_ref().clone()).file_name(file.name.clone());
        let chat = place.chat;
        let message = match file.kind {
            AttachmentKind::Photo => {
                let mut request = self
                    .bot
                    .send_photo(ChatId(chat), input)
                    .disable_notification(content.silent);
                if let Some(topic) = place.topic {
                    request = request.message_thread_id(thread(topic));
                }
                if !content.text.is_empty() {
                    request = request
                        .caption(content.text.clone())
                        .parse_mode(ParseMode::Html);
                }
                if !content.buttons.is_empty() {
                    request = request.reply_markup(markup(content));
                }
                request.await?
            }
            AttachmentKind::Document => {
                let mut request = self
                    .bot
                    .send_document(ChatId(chat), input)
                    .disable_notification(content.silent);
                if let Some(topic) = place.topic {
                    request = request.message_thread_id(thread(topic));
                }
                if !content.text.is_empty() {
                    request = request
                        .caption(content.text.clone())
                        .parse_mode(ParseMode::Html);
                }
                if !content.buttons.is_empty() {
                    request = request.reply_markup(markup(content));
                }
                request.await?
            }
        };
        Ok(message.id)
    }

    /// The content as the chat's draft `id`, with Telegram's Stop button.
    async fn draft(
        &self,
        place: Place,
        id: MessageId,
        content: &Content,
    ) -> Result<(), RequestError> {
        self.gate.pass().await;
        let payload = api::SendMessageDraft {
            chat_id: place.chat,
            message_thread_id: place.topic,
            draft_id: id as i64,
            text: content.text.clone(),
            parse_mode: "HTML",
            can_stop: true,
        };
        api::call(&self.bot, payload).await.map(|_| ())
    }

    async fn edit(&self, chat: i64, id: i32, content: &Content) -> Result<(), RequestError> {
        if content.attachment.is_some() {
            // A file message keeps its file; only its buttons change (its caption is
            // written once).
            self.gate.pass().await;
            return self
                .bot
                .edit_message_reply_markup(ChatId(chat), TgMessageId(id))
                .reply_markup(markup(content))
                .await
                .map(|_| ());
        }
        // No buttons is an empty keyboard: it removes the ones shown.
        self.gate.pass().await;
        self.bot
            .edit_message_text(ChatId(chat), TgMessageId(id), content.text.clone())
            .parse_mode(ParseMode::Html)
            .reply_markup(markup(content))
            .await
            .map(|_| ())
    }
}

/// Teloxide's name for a topic.
pub fn thread(topic: i32) -> ThreadId {
    ThreadId(TgMessageId(topic))
}

fn markup(content: &Content) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(content.buttons.iter().map(|row| {
        row.iter()
            .map(|b| InlineKeyboardButton::callback(b.text.clone(), b.data.clone()))
            .collect::<Vec<_>>()
    }))
}

/// Works one chat's queue: jobs go into the chat's pacer; operations go out when the
/// pacer lets them, in order, each until Telegram has taken it.
async fn work(outbox: Outbox, chat: i64, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let start = Instant::now();
    let now = || start.elapsed();
    let mut pacer = Pacer::new(outbox.limits);
    // Drafts exist in private chats only (their ids are the users', positive).
    if let (Some(every), true) = (outbox.drafts, chat > 0) {
        pacer = pacer.with_drafts(every);
    }
    let forget_draft = |id: MessageId| {
        outbox
            .ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drafts
            .remove(&(chat, id as i64));
    };
    // The pacer's ids ↔ (session, the session's own id); the bot's messages have their own.
    let mut ids: HashMap<(SessionKey, u64), MessageId> = HashMap::new();
    let mut telegram: HashMap<MessageId, i32> = HashMap::new();
    let mut sessions: HashMap<MessageId, SessionKey> = HashMap::new();
    let mut topics: HashMap<MessageId, i32> = HashMap::new();
    let mut next: MessageId = 1;
    let mut open = true;
    // While Telegram cannot be reached: the pause before the next try.
    let mut unreachable: Option<Duration> = None;
    // The notice of messages dropped while too many waited, and how many, until sent.
    let mut skip_notice: Option<MessageId> = None;
    let mut skipped_total = 0;
    loop {
        let deadline = pacer.next_deadline(now());
        tokio::select! {
            job = jobs.recv(), if open => {
                let Some(job) = job else {
                    open = false;
                    continue;
                };
                // The bot's own words answer what the user did: they may use the reserve.
                let mut urgent = false;
                let (id, content, session, topic) = match job {
                    Job::Set { session, id, content, topic } => {
                        let pid = *ids.entry((session.clone(), id)).or_insert_with(|| {
                            next += 1;
                            next - 1
                        });
                        (pid, Some(content), Some(session), topic)
                    }
                    Job::Delete { session, id } => match ids.get(&(session.clone(), id)) {
                        Some(pid) => (*pid, None, Some(session), None),
                        None => {
                            outbox.taken(chat);
                            continue;
                        }
                    },
                    Job::Say(content, topic) => {
                        next += 1;
                        urgent = true;
                        (next - 1, Some(content), None, topic)
                    }
                    Job::Spoke => {
                        pacer.user_spoke(now());
                        outbox.taken(chat);
                        continue;
                    }
                    Job::DraftStopped(id) => {
                        pacer.draft_stopped(id);
                        outbox.taken(chat);
                        continue;
                    }
                };
                if content.as_ref().is_none_or(|c| !c.live) {
                    // Its final state (or its end): no draft of it can be stopped now.
                    forget_draft(id);
                }
                if let Some(session) = session {
                    sessions.insert(id, session);
                }
                if let Some(topic) = topic {
                    topics.insert(id, topic);
                }
                match content {
                    // Loud content (a prompt, an answer) may use the urgent reserve.
                    Some(content) => {
                        let urgent = urgent || !content.silent;
                        pacer.set(id, content, urgent);
                    }
                    None => pacer.delete(id),
                }
                outbox.taken(chat);
                let skipped = pacer.take_skipped();
                if skipped > 0 {
                    // One notice, kept up to date, for all that was dropped.
                    let id = *skip_notice.get_or_insert_with(|| {
                        next += 1;
                        next - 1
                    });
                    skipped_total += skipped;
                    pacer.set(
                        id,
                        Content {
                            text: format!(
                                "⏭ {skipped_total} older messages were skipped while Telegram \
                                 could not be reached; /screen shows the terminal now."
                            ),
                            silent: true,
                            ..Content::default()
                        },
                        // Never dropped itself.
                        true,
                    );
                }
                outbox.set_unsent(chat, pacer.waiting());
            }
            _ = sleep_until(start, deadline), if deadline.is_some() => {
                let ops = pacer.poll(now());
                let mut failed: Option<Duration> = None;
                for op in ops {
                    if let Some(wait) = failed {
                        // After a 429 nothing else goes out before the wait is over.
                        pacer.retry_after(op, now() + wait);
                        continue;
                    }
                    let session = sessions.get(&op.id()).cloned();
                    let place = Place { chat, topic: topics.get(&op.id()).copied() };
                    let done = perform(&outbox, place, &op, telegram.get(&op.id()).copied()).await;
                    if unreachable.is_some() && !matches!(done, Done::Unreachable) {
                        tracing::info!(chat, "Telegram can be reached again");
                        unreachable = None;
                    }
                    match done {
                        Done::Sent(tg) => {
                            if skip_notice == Some(op.id()) {
                                // Sent: the next skipping gets a notice of its own.
                                skip_notice = None;
                                skipped_total = 0;
                            }
                            telegram.insert(op.id(), tg);
                            if let Some(session) = session {
                                let mut shared = outbox.ids.lock().unwrap_or_else(PoisonError::into_inner);
                                shared.to_session.insert((chat, tg), session);
                            }
                        }
                        Done::Ok => {}
                        Done::Drafted => {
                            if let Some(session) = session {
                                let mut shared = outbox.ids.lock().unwrap_or_else(PoisonError::into_inner);
                                shared.drafts.insert((chat, op.id() as i64), session);
                            }
                        }
                        Done::DraftRefused(why) => {
                            tracing::warn!(chat, "Telegram refused a draft ({why}): this chat gets an edited live message instead");
                            pacer.drafts_refused();
                            let mut shared = outbox.ids.lock().unwrap_or_else(PoisonError::into_inner);
                            shared.drafts.retain(|(c, _), _| *c != chat);
                        }
                        Done::Deleted => {
                            telegram.remove(&op.id());
                            topics.remove(&op.id());
                        }
                        Done::RetryAfter(wait) => {
                            tracing::warn!(chat, "Telegram asks to wait {wait:?}");
                            pacer.retry_after(op, now() + wait);
                            failed = Some(wait);
                        }
                        Done::Unreachable => {
                            let wait = unreachable.map_or(Duration::from_millis(500), |w| (w * 2).min(MAX_BACKOFF));
                            if unreachable.is_none() {
                                tracing::warn!(chat, "cannot reach Telegram; retrying (every {MAX_BACKOFF:?} at most)");
                            }
                            unreachable = Some(wait);
                            pacer.retry_after(op, now() + wait);
                            failed = Some(wait);
                            continue;
                        }
                    }
                }
                outbox.set_unsent(chat, pacer.waiting());
            }
            else => break,
        }
        if !open && pacer.is_idle() {
            break;
        }
    }
}

async fn sleep_until(start: Instant, deadline: Option<Duration>) {
    match deadline {
        Some(d) => tokio::time::sleep_until((start + d).into()).await,
        None => std::future::pending().await,
    }
}

/// How an operation ended.
enum Done {
    /// Sent as Telegram's message with this id.
    Sent(i32),
    /// Edited (or nothing to do).
    Ok,
    /// Shown as the chat's draft.
    Drafted,
    /// Telegram will not show drafts in this chat (its answer).
    DraftRefused(String),
    Deleted,
    /// Telegram asks to wait.
    RetryAfter(Duration),
    /// Telegram cannot be reached (the network, a dropped connection).
    Unreachable,
}

/// Performs one operation until Telegram has taken it, or answered `retry after`.
async fn perform(outbox: &Outbox, place: Place, op: &Operation, known: Option<i32>) -> Done {
    let chat = place.chat;
    let mut backoff = Duration::from_millis(500);
    let mut plain_text = false;
    let mut unknown_tries = 0;
    loop {
        let result = match (op, known) {
            (Operation::Edit(_, content), Some(tg)) => {
                let content = if plain_text {
                    as_plain(content)
                } else {
                    content.clone()
                };
                match outbox.edit(chat, tg, &content).await {
                    Ok(()) => Ok(Done::Ok),
                    // Gone (the user deleted it): the content is sent anew.
                    Err(RequestError::Api(ApiError::MessageToEditNotFound)) => {
                        outbox.send(place, &content).await.map(|m| Done::Sent(m.0))
                    }
                    Err(e) => Err(e),
                }
            }
            (Operation::Send(_, content) | Operation::Edit(_, content), _) => {
                let content = if plain_text {
                    as_plain(content)
                } else {
                    content.clone()
                };
                outbox.send(place, &content).await.map(|m| Done::Sent(m.0))
            }
            (Operation::Delete(_), Some(tg)) => {
                outbox.gate.pass().await;
                outbox
                    .bot
                    .delete_message(ChatId(chat), TgMessageId(tg))
                    .await
                    .map(|_| Done::Deleted)
            }
            (Operation::Delete(_), None) => Ok(Done::Deleted),
            (Operation::Draft(id, content), _) => {
                let content = if plain_text {
                    as_plain(content)
                } else {
                    content.clone()
                };
                match outbox.draft(place, *id, &content).await {
                    Ok(()) => Ok(Done::Drafted),
                    // A draft is never tried again as it was: a refusal ends drafts here.
                    Err(RequestError::Api(e))
                        if !matches!(e, ApiError::CantParseEntities(_)) || plain_text =>
                    {
                        return Done::DraftRefused(e.to_string())
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match result {
            Ok(done) => return done,
            Err(RequestError::Api(ApiError::MessageNotModified)) => return Done::Ok,
            Err(RequestError::Api(ApiError::MessageToDeleteNotFound)) => return Done::Deleted,
            Err(RequestError::RetryAfter(wait)) => return Done::RetryAfter(wait.duration()),
            Err(RequestError::Api(ApiError::CantParseEntities(e))) if !plain_text => {
                tracing::error!(chat, "Telegram refused the HTML ({e}); sending plain text");
                plain_text = true;
            }
            // Telegram's own trouble (a 5xx, an unknown answer): retried a few times.
            Err(RequestError::Api(ApiError::Unknown(e))) if unknown_tries < UNKNOWN_TRIES => {
                unknown_tries += 1;
                tracing::warn!(chat, "Telegram answered {e:?}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(RequestError::Api(e)) => {
                tracing::error!(chat, "Telegram refused an operation: {e}");
                return Done::Ok;
            }
            Err(e) => {
                // Back to the chat's task: while Telegram cannot be reached, what the
                // sessions say keeps going into the pacer, where each message's newest
                // state replaces the older ones (hours of output are not kept whole).
                tracing::debug!(chat, "cannot reach Telegram ({e})");
                return Done::Unreachable;
            }
        }
    }
}

impl Outbox {
    /// A job was taken into the chat's pacer.
    fn taken(&self, chat: i64) {
        if let Some(n) = self
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&chat)
        {
            *n = n.saturating_sub(1);
        }
    }

    /// What the chat's pacer still holds (counted with the jobs not taken yet).
    fn set_unsent(&self, chat: i64, unsent: usize) {
        self.unsent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(chat, unsent);
    }
}

/// The content with its markup removed and escaped again, for a text Telegram could not
/// parse (it should never happen; the pipeline writes valid HTML).
fn as_plain(content: &Content) -> Content {
    Content {
        text: crate::core::render::html::escape(&plain(&content.text)),
        ..content.clone()
    }
}

/// Spaces Bot API calls across all chats evenly: Telegram allows a bot about 30
/// messages per second in all, and answers 429 beyond.
pub struct Gate {
    gap: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Gate {
    pub fn new(per_second: usize) -> Gate {
        Gate {
            gap: Duration::from_secs(1) / per_second.max(1) as u32,
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Waits for this call's turn (the slot is taken before waiting, so callers keep
    /// their order and never share a slot).
    pub async fn pass(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(tokio::time::Instant::now());
            *next = at + self.gap;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_gate_spaces_calls_from_every_chat() {
        let gate = Arc::new(Gate::new(30));
        let start = tokio::time::Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let gate = gate.clone();
            tasks.push(tokio::spawn(async move {
                let mut times = Vec::new();
                for _ in 0..30 {
                    gate.pass().await;
                    times.push(tokio::time::Instant::now());
                }
                times
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.extend(t.await.unwrap());
        }
        times.sort();
        // 90 calls at 30 per second: the last one not before 89 gaps, and no one-second
        // window holds more than 30.
        let last = times.last().unwrap().duration_since(start);
        assert!(last >= Duration::from_secs(89) / 30, "{last:?}");
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|u| u.duration_since(*t) < Duration::from_secs(1))
                .count();
            assert!(in_window <= 30, "{in_window} calls within a second");
        }
    }
}
