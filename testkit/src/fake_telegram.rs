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

    /// The callback queries answered, by id.
    pub fn callback_answers(&self) -> Vec<String> {
        self.lock().callback_answers.clone()
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The colour of topics the fake creates (one of Telegram's six).
const TOPIC_COLOR: u32 = 7322096;

/// A chat as the Bot API describes it: a forum supergroup, or a private chat with a user.
fn chat_json(inner: &Inner, chat: i64) -> Value {
    if inner.forums.contains_key(&chat) {
        json!({"id": chat, "type": "supergroup", "title": format!("forum{chat}"), "is_forum": true})
    } else {
        json!({"id": chat, "type": "private", "first_name": format!("user{chat}")})
    }
}

/// The topic a send goes to: `Ok(None)` for none (or General), an error when Telegram
/// would refuse it.
fn thread_of(inner: &Inner, chat: i64, body: &Value) -> Result<Option<i64>, &'static str> {
    let Some(thread) = body["message_thread_id"].as_i64() else {
        return Ok(None);
    };
    match inner.forums.get(&chat) {
        Some(forum) if forum.topics.contains_key(&thread) => Ok(Some(thread)),
        _ => Err("Bad Request: message thread not found"),
    }
}

fn user_json(user: i64) -> Value {
    json!({"id": user, "is_bot": false, "first_name": format!("user{user}"), "username": format!("user{user}")})
}

fn bot_user() -> Value {
    json!({"id": 1, "is_bot": true, "first_name": "telepty", "username": "telepty_bot"})
}

fn next_message_id(inner: &mut Inner, chat: i64) -> i64 {
    let n = inner.next_message_id.entry(chat).or_insert(1);
    let id = *n;
    *n += 1;
    id
}

fn push_update(inner: &mut Inner, mut update: Value) {
    update["update_id"] = json!(inner.next_update_id);
    inner.next_update_id += 1;
    inner.updates.push_back(update);
}

/// A Bot API answer.
fn ok(result: Value) -> Response {
    Json(json!({"ok": true, "result": result})).into_response()
}

fn error(code: u16, description: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        Json(json!({"ok": false, "error_code": code, "description": description})),
    )
        .into_response()
}

fn retry_after(seconds: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({
            "ok": false,
            "error_code": 429,
            "description": format!("Too Many Requests: retry after {seconds}"),
            "parameters": {"retry_after": seconds},
        })),
    )
        .into_response()
}

async fn handle(
    State(shared): State<Shared>,
    Path((bot, method)): Path<(String, String)>,
    request: Request,
) -> Response {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (body, files) = if multipart {
        match read_multipart(request).await {
            Ok(parts) => parts,
            Err(e) => return error(400, &format!("Bad Request: {e}")),
        }
    } else {
        let bytes = match axum::body::to_bytes(request.into_body(), DOCUMENT_LIMIT).await {
            Ok(b) => b,
            Err(_) => return error(413, "Request Entity Too Large"),
        };
        let body = if bytes.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&bytes).unwrap_or(json!({}))
        };
        (body, Vec::new())
    };
    let method = method.to_ascii_lowercase();
    {
        let inner = shared
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if bot.strip_prefix("bot") != Some(inner.token.as_str()) {
            return error(401, "Unauthorized");
        }
    }
    let fault = shared
        .inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .method_faults
        .get_mut(&method)
        .and_then(VecDeque::pop_front);
    if let Some(Fault::Slow(delay)) = fault {
        tokio::time::sleep(delay).await;
    } else if let Some(fault) = fault {
        let response = fault.response();
        let code = response.status().as_u16();
        shared
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .calls
            .push(Call {
                method: method.clone(),
                body,
                at: Instant::now(),
                error: Some(code),
            });
        if response.extensions().get::<DropMarker>().is_some() {
            std::future::pending::<()>().await;
        }
        return response;
    }
    if method == "getupdates" {
        return get_updates(&shared, body).await;
    }
    let response = {
        let mut inner = shared
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let response = answer(&mut inner, &method, &body, &files);
        let code = response.status().as_u16();
        inner.calls.push(Call {
            method: method.clone(),
            body,
            at: Instant::now(),
            error: (code != 200).then_some(code),
        });
        response
    };
    if response.extensions().get::<DropMarker>().is_some() {
        // A dropped connection: no answer ever comes (the client times out).
        std::future::pending::<()>().await;
    }
    response
}

/// A file part of a multipart request: field, file name, bytes.
type FilePart = (String, String, Vec<u8>);

/// The fields of a multipart request as a JSON body (values that are JSON — numbers,
/// booleans, keyboards — as JSON), and its file parts.
async fn read_multipart(request: Request) -> Result<(Value, Vec<FilePart>), String> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| e.to_string())?;
    let mut body = serde_json::Map::new();
    let mut files = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.map_err(|e| e.to_string())?;
        match file_name {
            Some(file_name) => files.push((name, file_name, bytes.to_vec())),
            None => {
                let text = String::from_utf8_lossy(&bytes).to_string();
                let value = match name.as_str() {
                    "caption" | "parse_mode" => json!(text),
                    _ => serde_json::from_str(&text).unwrap_or(json!(text)),
                };
                body.insert(name, value);
            }
        }
    }
    Ok((Value::Object(body), files))
}

/// `GET /file/bot<token>/<path>`: a file a user sent.
async fn download(
    State(shared): State<Shared>,
    Path((bot, path)): Path<(String, String)>,
) -> Response {
    let inner = shared
        .inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if bot.strip_prefix("bot") != Some(inner.token.as_str()) {
        return error(401, "Unauthorized");
    }
    match inner.files.values().find(|(p, _, _)| *p == path) {
        Some((_, _, bytes)) => (StatusCode::OK, bytes.clone()).into_response(),
        None => error(404, "Not Found"),
    }
}

#[derive(Clone, Copy)]
struct DropMarker;

async fn get_updates(shared: &Shared, body: Value) -> Response {
    let offset = body["offset"].as_i64().unwrap_or(0);
    let timeout = body["timeout"].as_u64().unwrap_or(0).min(50);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let notified = shared.notify.notified();
        {
            let mut inner = shared
                .inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // An offset "in the future" (past the newest id + 10) is ignored, as Telegram's
            // server does: the queue is given from its head, nothing is confirmed.
            let future = offset > inner.next_update_id + 10;
            // Updates below the offset are confirmed: gone for good.
            while !future
                && inner
                    .updates
                    .front()
                    .is_some_and(|u| u["update_id"].as_i64().unwrap_or(0) < offset)
            {
                inner.updates.pop_front();
            }
            if !inner.updates.is_empty() || tokio::time::Instant::now() >= deadline {
                let updates: Vec<Value> = inner.updates.iter().cloned().collect();
                return ok(Value::Array(updates));
            }
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

fn answer(inner: &mut Inner, method: &str, body: &Value, files: &[FilePart]) -> Response {
    match method {
        "getfile" => {
            let id = body["file_id"].as_str().unwrap_or("");
            match inner.files.get(id) {
                Some((_, size, _)) if *size > DOWNLOAD_LIMIT => {
                    error(400, "Bad Request: file is too big")
                }
                Some((path, size, _)) => ok(json!({
                    "file_id": id,
                    "file_unique_id": format!("u{id}"),
                    "file_size": size,
                    "file_path": path,
                })),
                None => error(400, "Bad Request: invalid file_id"),
            }
        }
        "getme" => ok(json!({
            "id": 1, "is_bot": true, "first_name": "telepty", "username": "telepty_bot",
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false,
            "has_main_web_app": false,
        })),
        "setmycommands" => {
            inner.commands = body["commands"].clone();
            ok(json!(true))
        }
        "deletewebhook" => ok(json!(true)),
        "sendchataction" => {
            let chat = body["chat_id"].as_i64().unwrap_or(0);
            if let Err(refused) = thread_of(inner, chat, body) {
                return error(400, refused);
            }
            inner
                .chat_actions
                .push((chat, body["action"].as_str().unwrap_or("").to_string()));
            ok(json!(true))
        }
        "createforumtopic" => {
            let chat = body["chat_id"].as_i64().unwrap_or(0);
            let name = body["name"].as_str().unwrap_or("");
            match inner.forums.get(&chat) {
                None => return error(400, "Bad Request: the chat is not a forum"),
                Some(f) if !f.can_manage_topics => {
                    return error(400, "Bad Request: not enough rights to create a topic")
                }
                Some(_) => {}
            }
            if name.is_empty() || name.chars().count() > 128 {
                return error(400, "Bad Request: TOPIC_TITLE_EMPTY");
            }
            // The topic's id is that of the service message that opens it.
            let id = next_message_id(inner, chat);
            if let Some(forum) = inner.forums.get_mut(&chat) {
                forum.topics.insert(id, name.to_string());
            }
            ok(json!({"message_thread_id": id, "name": name, "icon_color": TOPIC_COLOR}))
        }
        "answercallbackquery" => {
            inner
                .callback_answers
                .push(body["callback_query_id"].as_str().unwrap_or("").to_string());
            ok(json!(true))
        }
        "sendmessage"
        | "editmessagetext"
        | "editmessagereplymarkup"
        | "deletemessage"
        | "senddocument"
        | "sendphoto" => {
            let chat = body["chat_id"].as_i64().unwrap_or(0);
            if let Some(fault) = inner.faults.pop_front() {
                return fault.response();
            }
            // The flood limit: every operation that changes the chat counts.
            let now = Instant::now();
            let recent = inner.recent.entry(chat).or_default();
            while recent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= FLOOD_WINDOW)
            {
                recent.pop_front();
            }
            if recent.len() >= FLOOD_LIMIT {
                let wait = FLOOD_WINDOW.saturating_sub(now.duration_since(recent[0]));
                return retry_after(wait.as_secs().max(1));
            }
            recent.push_back(now);
            if method == "senddocument" || method == "sendphoto" {
                return send_file(inner, method, chat, body, files);
            }
            change_chat(inner, method, chat, body)
        }
        _ => error(404, "Not Found: method not found"),
    }
}

fn change_chat(inner: &mut Inner, method: &str, chat: i64, body: &Value) -> Response {
    let buttons = buttons_of(&body["reply_markup"]);
    match method {
        "sendmessage" => {
            let html = body["text"].as_str().unwrap_or("");
            let text = match check_text(html, body) {
                Ok(t) => t,
                Err(e) => return error(400, &e.replace("{too_long}", "message is too long")),
            };
            let thread = match thread_of(inner, chat, body) {
                Ok(t) => t,
                Err(refused) => return error(400, refused),
            };
            let id = next_message_id(inner, chat);
            let message = ChatMessage {
                id,
                html: html.to_string(),
                text: text.clone(),
                buttons,
                silent: body["disable_notification"].as_bool().unwrap_or(false),
                file: None,
                thread,
            };
            let shown = message_json(inner, chat, &message, &body["reply_markup"]);
            inner.chats.entry(chat).or_default().insert(id, message);
            ok(shown)
        }
        "editmessagetext" | "editmessagereplymarkup" => {
            let id = body["message_id"].as_i64().unwrap_or(0);
            let Some(existing) = inner.chats.get(&chat).and_then(|c| c.get(&id)).cloned() else {
                return error(400, "Bad Request: message to edit not found");
            };
            let (html, text) = if method == "editmessagetext" {
                let html = body["text"].as_str().unwrap_or("");
                match check_text(html, body) {
                    Ok(t) => (html.to_string(), t),
                    Err(e) => return error(400, &e.replace("{too_long}", "MESSAGE_TOO_LONG")),
                }
            } else {
                (existing.html.clone(), existing.text.clone())
            };
            if text == existing.text && buttons == existing.buttons && html == existing.html {
                return error(400, NOT_MODIFIED);
            }
            let updated = ChatMessage {
                html,
                text: text.clone(),
                buttons,
                ..existing
            };
            let shown = message_json(inner, chat, &updated, &body["reply_markup"]);
            inner.chats.entry(chat).or_default().insert(id, updated);
            ok(shown)
        }
        _ => {
            let id = body["message_id"].as_i64().unwrap_or(0);
            match inner.chats.get_mut(&chat).and_then(|c| c.remove(&id)) {
                Some(_) => ok(json!(true)),
                None => error(400, "Bad Request: message to delete not found"),
            }
        }
    }
}

/// `sendDocument` / `sendPhoto`: the file checked as Telegram checks it, then shown.
fn send_file(
    inner: &mut Inner,
    method: &str,
    chat: i64,
    body: &Value,
    files: &[FilePart],
) -> Response {
    let kind = if method == "sendphoto" {
        "photo"
    } else {
        "document"
    };
    // The file is its own part, named by the field itself or by `attach://<part>`.
    let part = body[kind]
        .as_str()
        .and_then(|v| v.strip_prefix("attach://"))
        .unwrap_or(kind);
    let Some((_, name, bytes)) = files.iter().find(|(field, _, _)| field == part) else {
        return error(
            400,
            &format!("Bad Request: there is no {kind} in the request"),
        );
    };
    let html = body["caption"].as_str().unwrap_or("");
    let text = if html.is_empty() {
        String::new()
    } else {
        match check_text(html, body) {
            Ok(t) if t.chars().count() > 1024 => {
                return error(400, "Bad Request: message caption is too long")
            }
            Ok(t) => t,
            Err(e) => return error(400, &e.replace("{too_long}", "message caption is too long")),
        }
    };
    if kind == "photo" {
        if bytes.len() > PHOTO_LIMIT {
            return error(400, "Bad Request: PHOTO_SAVE_FILE_INVALID");
        }
        match png_size(bytes) {
            Some((w, h)) if w + h <= 10_000 && w.max(h) <= 20 * w.min(h).max(1) => {}
            Some(_) => return error(400, "Bad Request: PHOTO_INVALID_DIMENSIONS"),
            None => return error(400, "Bad Request: IMAGE_PROCESS_FAILED"),
        }
    } else if bytes.len() > DOCUMENT_LIMIT {
        return error(413, "Request Entity Too Large");
    }
    let thread = match thread_of(inner, chat, body) {
        Ok(t) => t,
        Err(refused) => return error(400, refused),
    };
    let id = next_message_id(inner, chat);
    let message = ChatMessage {
        id,
        html: html.to_string(),
        text: text.clone(),
        buttons: buttons_of(&body["reply_markup"]),
        silent: body["disable_notification"].as_bool().unwrap_or(false),
        file: Some(SentFile {
            kind: kind.to_string(),
            name: name.clone(),
            bytes: bytes.clone(),
        }),
        thread,
    };
    inner.chats.entry(chat).or_default().insert(id, message);
    inner.next_file += 1;
    let n = inner.next_file;
    let file = json!({
        "file_id": format!("sent{n}"),
        "file_unique_id": format!("us{n}"),
        "file_size": bytes.len(),
    });
    let mut m = json!({
        "message_id": id,
        "date": unix_now(),
        "chat": chat_json(inner, chat),
        "from": bot_user(),
    });
    if let Some(thread) = thread {
        m["message_thread_id"] = json!(thread);
        m["is_topic_message"] = json!(true);
    }
    if kind == "photo" {
        let (w, h) = png_size(bytes).unwrap_or((1, 1));
        let mut size = file;
        size["width"] = json!(w);
        size["height"] = json!(h);
        m["photo"] = json!([size]);
    } else {
        let mut doc = file;
        doc["file_name"] = json!(name);
        m["document"] = doc;
    }
    if !text.is_empty() {
        m["caption"] = json!(text);
    }
    if body["reply_markup"].is_object() {
        m["reply_markup"] = body["reply_markup"].clone();
    }
    ok(m)
}

/// Width and height of a PNG, from its header.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" {
        return None;
    }
    let w = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let h = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
    Some((w, h))
}

/// A message of the bot as the Bot API returns it.
fn message_json(inner: &Inner, chat: i64, message: &ChatMessage, markup: &Value) -> Value {
    let mut m = json!({
        "message_id": message.id,
        "date": unix_now(),
        "chat": chat_json(inner, chat),
        "from": bot_user(),
        "text": message.text,
    });
    if markup.is_object() {
        m["reply_markup"] = markup.clone();
    }
    if let Some(thread) = message.thread {
        m["message_thread_id"] = json!(thread);
        m["is_topic_message"] = json!(true);
    }
    m
}

fn buttons_of(markup: &Value) -> Vec<Vec<(String, String)>> {
    markup["inline_keyboard"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    row.as_array()
                        .map(|bs| {
                            bs.iter()
                                .map(|b| {
                                    (
                                        b["text"].as_str().unwrap_or("").to_string(),
                                        b["callback_data"].as_str().unwrap_or("").to_string(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Validates a text as Telegram does; returns the text a user reads.
fn check_text(html: &str, body: &Value) -> Result<String, String> {
    let text = if body["parse_mode"].as_str() == Some("HTML") {
        parse_html(html).map_err(|e| format!("Bad Request: can't parse entities: {e}"))?
    } else {
        html.to_string()
    };
    for b in buttons_of(&body["reply_markup"]).iter().flatten() {
        if b.1.is_empty() || b.1.len() > 64 {
            return Err("Bad Request: BUTTON_DATA_INVALID".into());
        }
    }
    let len = text.chars().count();
    if text.trim().is_empty() {
        return Err("Bad Request: message text is empty".into());
    }
    if len > 4096 {
        return Err("Bad Request: {too_long}".into());
    }
    Ok(text)
}

const TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "span",
    "tg-emoji",
];

/// Telegram's HTML: the allowed tags, balanced; `&lt; &gt; &amp; &quot;` and numeric
/// entities; nothing inside `<pre>` or `<code>` but text (and `<code>` right in `<pre>`).
fn parse_html(html: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    let mut offset = 0;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest
                    .find('>')
                    .ok_or_else(|| format!("unclosed start tag at byte offset {offset}"))?;
                let tag = &rest[1..end];
                if let Some(name) = tag.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    match stack.pop() {
                        Some(open) if open == name => {}
                        _ => {
                            return Err(format!(
                                "Can't find end tag corresponding to start tag \"{name}\""
                            ))
                        }
                    }
                } else {
                    let name = tag
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_lowercase();
                    if !TAGS.contains(&name.as_str()) {
                        return Err(format!(
                            "Unsupported start tag \"{name}\" at byte offset {offset}"
                        ));
                    }
                    if let Some(open) = stack.last() {
                        if (open == "pre" && name != "code") || open == "code" {
                            return Err(format!(
                                "Entity \"{name}\" can't be nested in \"{open}\" at byte offset {offset}"
                            ));
                        }
                    }
                    stack.push(name);
                }
                offset += end + 1;
                rest = &rest[end + 1..];
            }
            '&' => {
                let end = rest.find(';').filter(|e| *e <= 10).ok_or_else(|| {
                    format!("Character '&' is reserved and must be escaped at byte offset {offset}")
                })?;
                let entity = &rest[1..end];
                let ch = match entity {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    e if e.starts_with('#') => e[1..]
                        .parse::<u32>()
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| format!("Unsupported entity \"{e}\""))?,
                    e => {
                        return Err(format!(
                            "Unsupported HTML entity \"&{e};\" at byte offset {offset}"
                        ))
                    }
                };
                out.push(ch);
                offset += end + 1;
                rest = &rest[end + 1..];
            }
            '>' => return Err(format!("Character '>' is reserved at byte offset {offset}")),
            c => {
                out.push(c);
                offset += c.len_utf8();
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{open}\""
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_checked_as_telegram_does() {
        assert_eq!(
            parse_html("<b>a &lt; b</b>\n<pre>x &amp; y</pre>").unwrap(),
            "a < b\nx & y"
        );
        assert!(parse_html("<b>open")
            .unwrap_err()
            .contains("Can't find end tag"));
        assert!(parse_html("<div>x</div>")
            .unwrap_err()
            .contains("Unsupported start tag \"div\""));
        assert!(parse_html("a & b").unwrap_err().contains("'&' is reserved"));
        assert!(parse_html("<pre><b>x</b></pre>")
            .unwrap_err()
            .contains("can't be nested"));
        assert!(parse_html("1 > 0").is_err());
    }

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
