//! The fake's chats, users and updates, as the Bot API writes them in JSON.

use super::*;

pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The colour of topics the fake creates (one of Telegram's six).
pub(super) const TOPIC_COLOR: u32 = 7322096;

/// A chat as the Bot API describes it: a forum supergroup, or a private chat with a user.
pub(super) fn chat_json(inner: &Inner, chat: i64) -> Value {
    if inner.forums.contains_key(&chat) {
        json!({"id": chat, "type": "supergroup", "title": format!("forum{chat}"), "is_forum": true})
    } else {
        json!({"id": chat, "type": "private", "first_name": format!("user{chat}")})
    }
}

/// The topic a send goes to: `Ok(None)` for none (or General), an error when Telegram
/// would refuse it.
pub(super) fn thread_of(
    inner: &Inner,
    chat: i64,
    body: &Value,
) -> Result<Option<i64>, &'static str> {
    let Some(thread) = body["message_thread_id"].as_i64() else {
        return Ok(None);
    };
    match inner.forums.get(&chat) {
        Some(forum) if forum.topics.contains_key(&thread) => Ok(Some(thread)),
        _ => Err("Bad Request: message thread not found"),
    }
}

pub(super) fn user_json(user: i64) -> Value {
    json!({"id": user, "is_bot": false, "first_name": format!("user{user}"), "username": format!("user{user}")})
}

pub(super) fn bot_user() -> Value {
    json!({"id": 1, "is_bot": true, "first_name": "telepty", "username": "telepty_bot"})
}

pub(super) fn next_message_id(inner: &mut Inner, chat: i64) -> i64 {
    let n = inner.next_message_id.entry(chat).or_insert(1);
    let id = *n;
    *n += 1;
    id
}

pub(super) fn push_update(inner: &mut Inner, mut update: Value) {
    update["update_id"] = json!(inner.next_update_id);
    inner.next_update_id += 1;
    inner.updates.push_back(update);
}
