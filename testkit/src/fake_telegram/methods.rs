//! The Bot API methods the fake answers, each checked as Telegram checks it: texts,
//! topics, the flood limit, edits that change nothing, files and their limits.

use super::*;

pub(super) fn answer(
    inner: &mut Inner,
    method: &str,
    body: &Value,
    files: &[FilePart],
) -> Response {
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
        "sendmessagedraft" => send_draft(inner, body),
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
            if method.starts_with("send") {
                // A message clears the chat's drafts.
                inner.drafts.remove(&chat);
            }
            if method == "senddocument" || method == "sendphoto" {
                return send_file(inner, method, chat, body, files);
            }
            change_chat(inner, method, chat, body)
        }
        _ => error(404, "Not Found: method not found"),
    }
}

/// `sendMessageDraft`: a private chat only, a non-zero id, 0–4096 characters after
/// entities (an empty text shows Telegram's "Thinking…").
pub(super) fn send_draft(inner: &mut Inner, body: &Value) -> Response {
    let chat = body["chat_id"].as_i64().unwrap_or(0);
    if chat <= 0 || inner.forums.contains_key(&chat) {
        return error(400, "Bad Request: drafts can be sent only to private chats");
    }
    let draft_id = body["draft_id"].as_i64().unwrap_or(0);
    if draft_id == 0 {
        return error(400, "Bad Request: draft_id must be non-zero");
    }
    let html = body["text"].as_str().unwrap_or("");
    let text = if html.is_empty() {
        String::new()
    } else {
        match check_text(html, body) {
            Ok(t) => t,
            Err(e) if e.contains("text is empty") => String::new(),
            Err(e) => return error(400, &e.replace("{too_long}", "TEXTDRAFT_TOO_LONG")),
        }
    };
    let draft = Draft {
        draft_id,
        text,
        can_stop: body["can_stop"].as_bool().unwrap_or(false),
        at: Instant::now(),
    };
    inner
        .drafts
        .entry(chat)
        .or_default()
        .insert(draft_id, draft.clone());
    inner.draft_log.push((chat, draft));
    ok(json!(true))
}

pub(super) fn change_chat(inner: &mut Inner, method: &str, chat: i64, body: &Value) -> Response {
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
pub(super) fn send_file(
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
pub(super) fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" {
        return None;
    }
    let w = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let h = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
    Some((w, h))
}

/// A message of the bot as the Bot API returns it.
pub(super) fn message_json(
    inner: &Inner,
    chat: i64,
    message: &ChatMessage,
    markup: &Value,
) -> Value {
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

pub(super) fn buttons_of(markup: &Value) -> Vec<Vec<(String, String)>> {
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
