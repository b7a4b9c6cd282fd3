//! The outbox: chat operations performed on Telegram, in order per chat, never lost.
//!
//! Operations arrive already paced (see `pacer`); the outbox is what meets Telegram's
//! answers: `429 retry after N` → wait and retry (the final state must arrive); "message
//! is not modified" → success; "message to edit not found" → send it anew; "can't parse
//! entities" → send as plain text and log it; network errors → retry with backoff. One
//! task per chat keeps that chat's order; chats do not wait for each other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use teloxide::payloads::{EditMessageTextSetters, SendMessageSetters};
use teloxide::prelude::Requester;
use teloxide::types::{
    ChatId, InlineKeyboardButton, InlineKeyboardMarkup, MessageId as TgMessageId, ParseMode,
};
use teloxide::{ApiError, Bot, RequestError};
use tokio::sync::mpsc;

use crate::chat::plain;
use crate::pacer::{Content, Operation};

/// Which session a bridge message belongs to (bridge ids are per session).
pub type SessionKey = String;

/// Telegram's ids of the bridge's messages, and back.
#[derive(Default)]
pub struct Ids {
    to_telegram: HashMap<(i64, SessionKey, u64), i32>,
    to_session: HashMap<(i64, i32), SessionKey>,
}

impl Ids {
    /// The session whose message `message` in `chat` is (for button presses and replies).
    pub fn session_of(&self, chat: i64, message: i32) -> Option<SessionKey> {
        self.to_session.get(&(chat, message)).cloned()
    }
}

/// Longest wait between two tries after network errors.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

struct Job {
    session: SessionKey,
    op: Operation,
}

/// Per-chat queues of operations, each worked by its own task.
#[derive(Clone)]
pub struct Outbox {
    bot: Bot,
    queues: Arc<Mutex<HashMap<i64, mpsc::UnboundedSender<Job>>>>,
    pub ids: Arc<Mutex<Ids>>,
    /// Operations queued and not yet done (to flush at shutdown).
    pending: Arc<std::sync::atomic::AtomicUsize>,
}

impl Outbox {
    pub fn new(bot: Bot) -> Outbox {
        Outbox {
            bot,
            queues: Arc::default(),
            ids: Arc::default(),
            pending: Arc::default(),
        }
    }

    /// Queues an operation of `session` for `chat`.
    pub fn push(&self, chat: i64, session: &str, op: Operation) {
        use std::sync::atomic::Ordering;
        self.pending.fetch_add(1, Ordering::SeqCst);
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tx = queues.entry(chat).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(work(self.clone(), chat, rx));
            tx
        });
        let _ = tx.send(Job {
            session: session.to_string(),
            op,
        });
    }

    /// Operations not yet performed.
    pub fn pending(&self) -> usize {
        self.pending.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Sends a message outside any session (command answers); returns its id.
    pub async fn say(&self, chat: i64, html: &str) -> Option<i32> {
        let content = Content {
            text: html.to_string(),
            buttons: Vec::new(),
            silent: false,
        };
        self.send(chat, &content).await.ok().map(|m| m.0)
    }

    /// Sends a message with buttons outside any session.
    pub async fn say_with_buttons(&self, chat: i64, content: &Content) -> Option<i32> {
        self.send(chat, content).await.ok().map(|m| m.0)
    }

    async fn send(&self, chat: i64, content: &Content) -> Result<TgMessageId, RequestError> {
        let mut request = self
            .bot
            .send_message(ChatId(chat), content.text.clone())
            .parse_mode(ParseMode::Html)
            .disable_notification(content.silent);
        if !content.buttons.is_empty() {
            request = request.reply_markup(markup(content));
        }
        let message = request.await?;
        Ok(message.id)
    }

    async fn edit(&self, chat: i64, id: i32, content: &Content) -> Result<(), RequestError> {
        let mut request = self
            .bot
            .edit_message_text(ChatId(chat), TgMessageId(id), content.text.clone())
            .parse_mode(ParseMode::Html);
        // No markup means no buttons: an empty keyboard removes them.
        request = request.reply_markup(markup(content));
        request.await.map(|_| ())
    }
}

fn markup(content: &Content) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(content.buttons.iter().map(|row| {
        row.iter()
            .map(|b| InlineKeyboardButton::callback(b.text.clone(), b.data.clone()))
            .collect::<Vec<_>>()
    }))
}

/// Works one chat's queue, in order.
async fn work(outbox: Outbox, chat: i64, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(job) = jobs.recv().await {
        perform(&outbox, chat, &job).await;
        outbox
            .pending
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Performs one operation until Telegram has taken it (or it cannot be done at all).
async fn perform(outbox: &Outbox, chat: i64, job: &Job) {
    let key = |id: u64| (chat, job.session.clone(), id);
    let mut backoff = Duration::from_millis(500);
    let mut plain_text = false;
    loop {
        let known = |id: u64| {
            outbox
                .ids
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .to_telegram
                .get(&key(id))
                .copied()
        };
        let result = match &job.op {
            Operation::Send(id, content) | Operation::Edit(id, content) => {
                let content = if plain_text {
                    as_plain(content)
                } else {
                    content.clone()
                };
                match known(*id) {
                    Some(tg) if matches!(job.op, Operation::Edit(..)) => {
                        match outbox.edit(chat, tg, &content).await {
                            Err(RequestError::Api(ApiError::MessageToEditNotFound)) => {
                                // Gone (deleted by the user): the content is sent anew.
                                send_new(outbox, chat, job, *id, &content).await
                            }
                            other => other,
                        }
                    }
                    _ => send_new(outbox, chat, job, *id, &content).await,
                }
            }
            Operation::Delete(id) => match known(*id) {
                Some(tg) => outbox
                    .bot
                    .delete_message(ChatId(chat), TgMessageId(tg))
                    .await
                    .map(|_| ()),
                None => Ok(()),
            },
        };
        match result {
            Ok(()) | Err(RequestError::Api(ApiError::MessageNotModified)) => return,
            Err(RequestError::Api(ApiError::MessageToDeleteNotFound)) => return,
            Err(RequestError::RetryAfter(wait)) => {
                tracing::warn!(chat, "Telegram asks to wait {:?}", wait.duration());
                tokio::time::sleep(wait.duration()).await;
            }
            Err(RequestError::Api(ApiError::CantParseEntities(e))) if !plain_text => {
                tracing::error!(chat, "Telegram refused the HTML ({e}); sending plain text");
                plain_text = true;
            }
            Err(RequestError::Api(e)) => {
                tracing::error!(chat, "Telegram refused an operation: {e}");
                return;
            }
            Err(e) => {
                tracing::warn!(chat, "cannot reach Telegram ({e}); retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn send_new(
    outbox: &Outbox,
    chat: i64,
    job: &Job,
    id: u64,
    content: &Content,
) -> Result<(), RequestError> {
    let tg = outbox.send(chat, content).await?;
    let mut ids = outbox
        .ids
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    ids.to_telegram
        .insert((chat, job.session.clone(), id), tg.0);
    ids.to_session.insert((chat, tg.0), job.session.clone());
    Ok(())
}

/// The content with its markup removed and escaped again, for a text Telegram could not
/// parse (it should never happen; the pipeline writes valid HTML).
fn as_plain(content: &Content) -> Content {
    Content {
        text: crate::render::html::escape(&plain(&content.text)),
        ..content.clone()
    }
}
