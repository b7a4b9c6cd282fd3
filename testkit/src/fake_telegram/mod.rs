//! A fake Telegram Bot API server, for tests (Telegram cannot be reached from here).
//!
//! Faithful where it matters for a bridge: the methods telepty calls, the JSON shapes
//! teloxide expects, Telegram's validation of HTML texts (allowed tags, balance, entities,
//! 1–4096 characters after parsing) with its exact error strings, and its flood limit
//! (20 operations per chat per rolling minute, answered with `429 retry after N`). Tests
//! drive it from the user's side (`user_message`, `press_button`, `user_upload`), read
//! the chat as a user would see it (`chat`, with the files the bot sent), inject faults
//! (`fail_next`), and read every call (`calls`). Files go both ways as Telegram moves
//! them: `getFile` then a download from `/file/bot<token>/<path>` (20 MB at most), and
//! `sendDocument`/`sendPhoto` as multipart uploads (50 MB; photos 10 MB, width + height ≤
//! 10000, sides at most 20:1). It listens on 127.0.0.1 on a free port; point the bot at [`FakeTelegram::url`].
//!
//! Drafts (`sendMessageDraft`, Bot API 9.3–10.3) as documented: private chats only, a
//! non-zero `draft_id`, 0–4096 characters after entities, `can_stop`; a chat's drafts
//! vanish when the bot sends it a message. They are not messages, so they do not count
//! against the flood limit here (Telegram does not document a limit of their own). A user
//! presses Telegram's Stop with [`FakeTelegram::press_stop`]; `getUpdates` gives only
//! the kinds `allowed_updates` named (remembered between calls, as Telegram does).
//!
//! Split by job: this module holds the public types and the test-driver API;
//! `http.rs` the HTTP plumbing (the handler, multipart, downloads, long polling, faults),
//! `methods.rs` the Bot API methods and their checks, `state.rs` the chats, users and
//! updates as JSON, `html.rs` Telegram's HTML validator.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::Notify;

mod html;
mod http;
mod methods;
mod state;

use html::*;
use http::*;
use methods::*;
use state::*;

/// Telegram's HTML checked as the fake checks a message (allowed tags, balance,
/// entities): the text a user reads, or Telegram's error.
pub fn parse_telegram_html(html: &str) -> Result<String, String> {
    parse_html(html)
}

/// Operations per chat in any rolling minute before `429`.
pub const FLOOD_LIMIT: usize = 20;
const FLOOD_WINDOW: Duration = Duration::from_secs(60);

pub const NOT_MODIFIED: &str = "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";

/// A message of the bot, as the chat shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatMessage {
    pub id: i64,
    /// The HTML as sent.
    pub html: String,
    /// The text as the user reads it.
    pub text: String,
    /// Button labels and data, row by row.
    pub buttons: Vec<Vec<(String, String)>>,
    pub silent: bool,
    /// The file of a document or photo message (its caption is the text).
    pub file: Option<SentFile>,
    /// The forum topic it is in (`None`: a private chat, or a forum's General topic).
    pub thread: Option<i64>,
}

/// A file the bot sent.
#[derive(Clone, Debug, PartialEq)]
pub struct SentFile {
    /// `document` or `photo`.
    pub kind: String,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What a user can send besides text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadKind {
    Document,
    Photo,
    Voice,
    Audio,
    Video,
}

/// A file a user sends.
#[derive(Clone, Debug)]
pub struct Upload {
    pub kind: UploadKind,
    /// The file name as the user's client gives it (documents, audio, video).
    pub name: Option<String>,
    pub mime: Option<String>,
    pub bytes: Vec<u8>,
    pub caption: Option<String>,
    /// Files sent together as an album share one.
    pub media_group: Option<String>,
    /// The size Telegram reports, when it should differ from the bytes' (to fake a file
    /// too big to download without the bytes).
    pub claimed_size: Option<u64>,
}

impl Upload {
    pub fn new(kind: UploadKind, bytes: impl Into<Vec<u8>>) -> Upload {
        Upload {
            kind,
            name: None,
            mime: None,
            bytes: bytes.into(),
            caption: None,
            media_group: None,
            claimed_size: None,
        }
    }
}

/// Telegram lets bots download files up to this size.
pub const DOWNLOAD_LIMIT: u64 = 20 * 1024 * 1024;
/// Telegram takes documents from bots up to this size.
pub const DOCUMENT_LIMIT: usize = 50 * 1024 * 1024;
/// Telegram takes photos from bots up to this size.
pub const PHOTO_LIMIT: usize = 10 * 1024 * 1024;

/// One call the bot made.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub body: Value,
    pub at: Instant,
    /// `None` for success, else the error code.
    pub error: Option<u16>,
}

/// A fault to answer the next matching call with.
#[derive(Clone, Debug)]
pub enum Fault {
    /// `429 Too Many Requests: retry after N`.
    RetryAfter(u64),
    /// The connection is dropped without an answer.
    Drop,
    /// The call is answered as usual, this long after it came (a slow Bot API).
    Slow(std::time::Duration),
    /// `500 Internal Server Error`.
    ServerError,
    /// `401 Unauthorized`: the token is refused.
    Unauthorized,
    /// `409 Conflict`: another instance polls updates.
    Conflict,
    /// `400 Bad Request: …` with this description (after `Bad Request: `).
    BadRequest(String),
}

impl Fault {
    fn response(&self) -> Response {
        match self {
            Fault::RetryAfter(s) => retry_after(*s),
            // Answered as usual, later (see `handle`).
            Fault::Slow(_) => error(500, "slow"),
            Fault::ServerError => error(500, "Internal Server Error"),
            Fault::Unauthorized => error(401, "Unauthorized"),
            Fault::Conflict => error(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
            ),
            Fault::BadRequest(why) => error(400, &format!("Bad Request: {why}")),
            Fault::Drop => {
                let mut r = error(502, "dropped");
                r.extensions_mut().insert(DropMarker);
                r
            }
        }
    }
}

#[derive(Default)]
struct Inner {
    token: String,
    updates: VecDeque<Value>,
    next_update_id: i64,
    next_message_id: HashMap<i64, i64>,
    /// chat id → message id → message (the bot's messages; the users' are only ids).
    chats: BTreeMap<i64, BTreeMap<i64, ChatMessage>>,
    calls: Vec<Call>,
    recent: HashMap<i64, VecDeque<Instant>>,
    /// Faults for methods that change the chat (send, edit, delete), in order.
    faults: VecDeque<Fault>,
    /// Faults for the next calls of one method (lowercase name), in order.
    method_faults: HashMap<String, VecDeque<Fault>>,
    commands: Value,
    chat_actions: Vec<(i64, String)>,
    callback_answers: Vec<String>,
    /// Files users sent: id → (path, size reported, bytes).
    files: HashMap<String, (String, u64, Vec<u8>)>,
    next_file: u64,
    /// Forum supergroups by chat id (every other chat is a private chat with a user).
    forums: HashMap<i64, Forum>,
    /// The drafts each chat shows now, by draft id.
    drafts: HashMap<i64, BTreeMap<i64, Draft>>,
    /// Every draft the bot sent, oldest first.
    draft_log: Vec<(i64, Draft)>,
    /// The update kinds the bot asked for (`None`: never said; Telegram's default).
    allowed_updates: Option<Vec<String>>,
}

/// A draft the bot showed in a private chat.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub draft_id: i64,
    /// The text as the user reads it.
    pub text: String,
    /// Telegram shows its Stop button under it.
    pub can_stop: bool,
    pub at: Instant,
}

/// A forum supergroup the bot is in.
#[derive(Default)]
struct Forum {
    /// The bot is an administrator with the right to manage topics.
    can_manage_topics: bool,
    /// Topics by thread id (the id of the message that created it) → name.
    topics: BTreeMap<i64, String>,
}

/// The fake server; dropping it stops it.
pub struct FakeTelegram {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    notify: Arc<Notify>,
}

impl FakeTelegram {
    /// Starts a server that accepts `token`.
    pub async fn start(token: &str) -> anyhow::Result<FakeTelegram> {
        FakeTelegram::start_on(token, 0).await
    }

    /// Starts a server that accepts `token` on 127.0.0.1:`port` (0: a free one), e.g.
    /// only after the bot was started against it, as a network that comes up late.
    pub async fn start_on(token: &str, port: u16) -> anyhow::Result<FakeTelegram> {
        let inner = Arc::new(Mutex::new(Inner {
            token: token.to_string(),
            next_update_id: 1,
            ..Inner::default()
        }));
        let notify = Arc::new(Notify::new());
        let shared = Shared {
            inner: inner.clone(),
            notify: notify.clone(),
        };
        let app = Router::new()
            .route("/{bot}/{method}", post(handle))
            .route("/file/{bot}/{*path}", get(download))
            .with_state(shared)
            .layer(axum::extract::DefaultBodyLimit::max(
                DOCUMENT_LIMIT + 1024 * 1024,
            ));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeTelegram {
            addr,
            inner,
            notify,
            task,
        })
    }

    /// The Bot API base URL to give the bot.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A user writes `text` in a private chat with the bot (chat id = user id).
    pub fn user_message(&self, user: i64, text: &str) -> i64 {
        let mut inner = self.lock();
        let id = next_message_id(&mut inner, user);
        let message = json!({
            "message_id": id,
            "date": unix_now(),
            "chat": chat_json(&inner, user),
            "from": user_json(user),
            "text": text,
        });
        push_update(&mut inner, json!({"message": message}));
        drop(inner);
        self.notify.notify_waiters();
        id
    }

    /// Makes `chat` (negative, as supergroup ids are) a forum supergroup with the bot in
    /// it; `can_manage_topics`: the bot is an administrator allowed to create topics.
    pub fn add_forum(&self, chat: i64, can_manage_topics: bool) {
        self.lock().forums.insert(
            chat,
            Forum {
                can_manage_topics,
                topics: BTreeMap::new(),
            },
        );
    }

    /// A user creates a topic in a forum by hand; returns its thread id.
    pub fn user_topic(&self, chat: i64, name: &str) -> i64 {
        let mut inner = self.lock();
        let id = next_message_id(&mut inner, chat);
        if let Some(forum) = inner.forums.get_mut(&chat) {
            forum.topics.insert(id, name.to_string());
        }
        id
    }

    /// A user writes `text` in forum `chat`: in topic `topic`, or in General (`None`).
    /// As Telegram does, a message in a topic carries the topic's thread id and replies
    /// to the message that created the topic.
    pub fn forum_message(&self, user: i64, chat: i64, topic: Option<i64>, text: &str) -> i64 {
        let mut inner = self.lock();
        let id = next_message_id(&mut inner, chat);
        let mut message = json!({
            "message_id": id,
            "date": unix_now(),
            "chat": chat_json(&inner, chat),
            "from": user_json(user),
            "text": text,
        });
        if let Some(thread) = topic {
            let name = inner
                .forums
                .get(&chat)
                .and_then(|f| f.topics.get(&thread))
                .cloned()
                .unwrap_or_default();
            message["message_thread_id"] = json!(thread);
            message["is_topic_message"] = json!(true);
            message["reply_to_message"] = json!({
                "message_id": thread,
                "message_thread_id": thread,
                "is_topic_message": true,
                "date": unix_now(),
                "chat": chat_json(&inner, chat),
                "from": bot_user(),
                "forum_topic_created": {"name": name, "icon_color": TOPIC_COLOR},
            });
        }
        push_update(&mut inner, json!({"message": message}));
        drop(inner);
        self.notify.notify_waiters();
        id
    }

    /// The topics of a forum: thread id and name, oldest first.
    pub fn topics(&self, chat: i64) -> Vec<(i64, String)> {
        self.lock()
            .forums
            .get(&chat)
            .map(|f| f.topics.iter().map(|(id, n)| (*id, n.clone())).collect())
            .unwrap_or_default()
    }

    /// A user sends a file (a document, photo, voice message, audio or video), with its
    /// caption, in a private chat with the bot.
    pub fn user_upload(&self, user: i64, upload: Upload) -> i64 {
        let mut inner = self.lock();
        let id = next_message_id(&mut inner, user);
        inner.next_file += 1;
        let n = inner.next_file;
        let file_id = format!("file{n}");
        let size = upload.claimed_size.unwrap_or(upload.bytes.len() as u64);
        let (folder, ext) = match upload.kind {
            UploadKind::Document => ("documents", "bin"),
            UploadKind::Photo => ("photos", "jpg"),
            UploadKind::Voice => ("voice", "oga"),
            UploadKind::Audio => ("music", "mp3"),
            UploadKind::Video => ("videos", "mp4"),
        };
        let path = format!("{folder}/file_{n}.{ext}");
        inner
            .files
            .insert(file_id.clone(), (path, size, upload.bytes.clone()));
        let mut file = json!({
            "file_id": file_id,
            "file_unique_id": format!("u{n}"),
            "file_size": size,
        });
        if let Some(name) = &upload.name {
            file["file_name"] = json!(name);
        }
        // Telegram always gives the type of voice, audio and video (teloxide needs it).
        let mime = upload.mime.clone().or(match upload.kind {
            UploadKind::Voice => Some("audio/ogg".into()),
            UploadKind::Audio => Some("audio/mpeg".into()),
            UploadKind::Video => Some("video/mp4".into()),
            _ => None,
        });
        if let Some(mime) = mime {
            file["mime_type"] = json!(mime);
        }
        let mut message = json!({
            "message_id": id,
            "date": unix_now(),
            "chat": {"id": user, "type": "private", "first_name": format!("user{user}")},
            "from": user_json(user),
        });
        match upload.kind {
            UploadKind::Document => message["document"] = file,
            UploadKind::Photo => {
                file["width"] = json!(800);
                file["height"] = json!(600);
                message["photo"] = json!([file]);
            }
            UploadKind::Voice => {
                file["duration"] = json!(3);
                message["voice"] = file;
            }
            UploadKind::Audio => {
                file["duration"] = json!(3);
                message["audio"] = file;
            }
            UploadKind::Video => {
                file["duration"] = json!(3);
                file["width"] = json!(640);
                file["height"] = json!(480);
                message["video"] = file;
            }
        }
        if let Some(caption) = &upload.caption {
            message["caption"] = json!(caption);
        }
        if let Some(group) = &upload.media_group {
            message["media_group_id"] = json!(group);
        }
        push_update(&mut inner, json!({"message": message}));
        drop(inner);
        self.notify.notify_waiters();
        id
    }

    /// A user presses the button with `data` under the bot's message `message` in their
    /// private chat with the bot.
    pub fn press_button(&self, user: i64, message: i64, data: &str) {
        self.press_button_in(user, user, message, data);
    }

    /// A user presses the button with `data` under the bot's message `message` in `chat`.
    pub fn press_button_in(&self, user: i64, chat: i64, message: i64, data: &str) {
        let mut inner = self.lock();
        let shown = inner
            .chats
            .get(&chat)
            .and_then(|c| c.get(&message))
            .cloned();
        let text = shown.as_ref().map(|m| m.text.clone()).unwrap_or_default();
        let mut pressed = json!({
            "message_id": message,
            "date": unix_now(),
            "chat": chat_json(&inner, chat),
            "from": bot_user(),
            "text": text,
        });
        if let Some(thread) = shown.and_then(|m| m.thread) {
            pressed["message_thread_id"] = json!(thread);
            pressed["is_topic_message"] = json!(true);
        }
        let query_id = format!("q{}", inner.next_update_id);
        let update = json!({"callback_query": {
            "id": query_id,
            "from": user_json(user),
            "chat_instance": format!("ci{user}"),
            "data": data,
            "message": pressed,
        }});
        push_update(&mut inner, update);
        drop(inner);
        self.notify.notify_waiters();
    }

    /// The bot's messages in a chat, oldest first.
    pub fn chat(&self, chat: i64) -> Vec<ChatMessage> {
        self.lock()
            .chats
            .get(&chat)
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The updates Telegram still holds for the bot: not yet confirmed by a
    /// `getUpdates` offset past them.
    pub fn unconfirmed(&self) -> Vec<Value> {
        self.lock().updates.iter().cloned().collect()
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The next calls that change a chat are answered with these faults, in order.
    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().faults.extend(faults);
    }

    /// An update as given (its `update_id` is set): for kinds telepty cannot read.
    pub fn raw_update(&self, update: Value) {
        let mut inner = self.lock();
        push_update(&mut inner, update);
        drop(inner);
        self.notify.notify_waiters();
    }

    /// The next calls of `method` (any method, `getMe` and `getUpdates` included) are
    /// answered with these faults, in order.
    pub fn fail_method(&self, method: &str, faults: impl IntoIterator<Item = Fault>) {
        self.lock()
            .method_faults
            .entry(method.to_ascii_lowercase())
            .or_default()
            .extend(faults);
    }

    /// Telegram starts its update ids anew: the next update gets id `next` (after a
    /// week without updates Telegram picks it at random, possibly below the bot's
    /// offset). As Telegram's Bot API server does (tdlib's `TQueue::get`), an offset
    /// more than 10 past the newest id is then "in the future" and ignored: every
    /// update still queued is given, from the head, and none is confirmed by it.
    pub fn reset_update_ids(&self, next: i64) {
        self.lock().next_update_id = next;
    }

    /// The commands the bot registered with `setMyCommands`.
    pub fn commands(&self) -> Value {
        self.lock().commands.clone()
    }

    /// The chat actions (`typing`) sent, by chat.
    pub fn chat_actions(&self) -> Vec<(i64, String)> {
        self.lock().chat_actions.clone()
    }

    /// The drafts `chat` shows now (they vanish when the bot sends a message).
    pub fn drafts(&self, chat: i64) -> Vec<Draft> {
        self.lock()
            .drafts
            .get(&chat)
            .map(|d| d.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Every draft the bot sent to `chat`, oldest first.
    pub fn draft_log(&self, chat: i64) -> Vec<Draft> {
        self.lock()
            .draft_log
            .iter()
            .filter(|(c, _)| *c == chat)
            .map(|(_, d)| d.clone())
            .collect()
    }

    /// The user of private chat `user` presses Telegram's Stop under draft `draft_id`:
    /// a `stopped_message_generation` update. As Telegram, only for a draft the bot sent
    /// with `can_stop` (it may be pressed again: Telegram may repeat the update); whether
    /// there was such a draft.
    pub fn press_stop(&self, user: i64, draft_id: i64) -> bool {
        let mut inner = self.lock();
        let stoppable = inner
            .draft_log
            .iter()
            .any(|(c, d)| *c == user && d.draft_id == draft_id && d.can_stop);
        if !stoppable {
            return false;
        }
        let update = json!({"stopped_message_generation": {
            "chat": chat_json(&inner, user),
            "draft_id": draft_id,
        }});
        push_update(&mut inner, update);
        drop(inner);
        self.notify.notify_waiters();
        true
    }

    /// The callback queries answered, by id.
    pub fn callback_answers(&self) -> Vec<String> {
        self.lock().callback_answers.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_chat_through_http_with_flood_limit_and_errors() {
        let fake = FakeTelegram::start("123:abc").await.unwrap();
        let client = reqwest::Client::new();
        let call = |method: &str, body: Value| {
            let client = client.clone();
            let url = format!("{}/bot123:abc/{method}", fake.url());
            async move {
                let r = client.post(url).json(&body).send().await.unwrap();
                r.json::<Value>().await.unwrap()
            }
        };
        let sent = call(
            "SendMessage",
            json!({"chat_id": 5, "text": "<b>hi</b>", "parse_mode": "HTML"}),
        )
        .await;
        assert_eq!(sent["ok"], true, "{sent}");
        let id = sent["result"]["message_id"].as_i64().unwrap();
        let same = call(
            "EditMessageText",
            json!({"chat_id": 5, "message_id": id, "text": "<b>hi</b>", "parse_mode": "HTML"}),
        )
        .await;
        assert_eq!(same["description"], NOT_MODIFIED);
        let bad = call(
            "SendMessage",
            json!({"chat_id": 5, "text": "<b>x", "parse_mode": "HTML"}),
        )
        .await;
        assert!(bad["description"]
            .as_str()
            .unwrap()
            .starts_with("Bad Request: can't parse entities"));
        let long = call(
            "SendMessage",
            json!({"chat_id": 5, "text": "x".repeat(4097)}),
        )
        .await;
        assert_eq!(long["description"], "Bad Request: message is too long");
        for _ in 0..FLOOD_LIMIT {
            call("SendMessage", json!({"chat_id": 6, "text": "m"})).await;
        }
        let limited = call("SendMessage", json!({"chat_id": 6, "text": "m"})).await;
        assert_eq!(limited["error_code"], 429, "{limited}");
        assert!(limited["parameters"]["retry_after"].as_u64().unwrap() >= 1);
        assert_eq!(fake.chat(5).len(), 1);
        assert_eq!(fake.chat(5)[0].text, "hi");
        let wrong = client
            .post(format!("{}/botWRONG/GetMe", fake.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
    }
}
