//! Bot API methods and updates newer than teloxide 0.17 speaks (it stops at Bot API 9.1),
//! as typed payloads on teloxide's own client: its HTTP, rustls, and error mapping (a
//! `429` is still `RequestError::RetryAfter`). Why not another crate: `docs/bot-api.md`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use teloxide::requests::{JsonRequest, Payload};
use teloxide::types::{True, Update};
use teloxide::{Bot, RequestError};

/// The updates telepty asks for: messages, button presses, and a user's press of Stop
/// on a draft (Bot API 10.3).
pub const ALLOWED_UPDATES: &[&str] = &["message", "callback_query", "stopped_message_generation"];

/// `getUpdates` with the update kinds by name: teloxide's own enum has no
/// `stopped_message_generation`. Kinds teloxide cannot read arrive as
/// `UpdateKind::Error` with their JSON (see [`MessageGenerationStopped::of`]).
#[derive(Clone, Debug, Serialize)]
pub struct GetUpdates {
    pub offset: i32,
    pub timeout: u32,
    pub allowed_updates: &'static [&'static str],
}

impl Payload for GetUpdates {
    type Output = Vec<Update>;
    const NAME: &'static str = "getUpdates";

    fn timeout_hint(&self) -> Option<Duration> {
        Some(Duration::from_secs(self.timeout.into()))
    }
}

/// `sendMessageDraft` (Bot API 9.3, all bots since 9.5; `can_stop` since 10.3): an
/// ephemeral, animated preview of a message being written, in a private chat.
#[derive(Clone, Debug, Serialize)]
pub struct SendMessageDraft {
    pub chat_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i32>,
    /// Non-zero; changes of a draft with the same id are animated.
    pub draft_id: i64,
    pub text: String,
    pub parse_mode: &'static str,
    /// Telegram shows its Stop button; a press comes back as a
    /// [`MessageGenerationStopped`] update.
    pub can_stop: bool,
}

impl Payload for SendMessageDraft {
    type Output = True;
    const NAME: &'static str = "sendMessageDraft";
}

/// Sends a payload with teloxide's client.
pub async fn call<P>(bot: &Bot, payload: P) -> Result<P::Output, RequestError>
where
    P: Payload + Serialize + Send + 'static,
    P::Output: serde::de::DeserializeOwned + Send,
{
    JsonRequest::new(bot.clone(), payload).await
}

/// A user pressed Stop on a draft sent with `can_stop` (update
/// `stopped_message_generation`, Bot API 10.3).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct MessageGenerationStopped {
    pub chat: ChatRef,
    #[serde(default)]
    pub message_thread_id: Option<i32>,
    pub draft_id: i64,
}

/// The chat of an update, by id only.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ChatRef {
    pub id: i64,
}

impl MessageGenerationStopped {
    /// The stop in an update teloxide could not read, if that is what it is.
    pub fn of(update: &serde_json::Value) -> Option<MessageGenerationStopped> {
        serde_json::from_value(update.get("stopped_message_generation")?.clone()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_is_read_from_the_json_teloxide_leaves() {
        let update = serde_json::json!({
            "stopped_message_generation": {
                "chat": {"id": 42, "type": "private", "first_name": "a"},
                "draft_id": 7
            }
        });
        let stop = MessageGenerationStopped::of(&update).expect("a stop");
        assert_eq!(stop.chat.id, 42);
        assert_eq!(stop.draft_id, 7);
        assert_eq!(stop.message_thread_id, None);
        assert!(MessageGenerationStopped::of(&serde_json::json!({"poll": {}})).is_none());
    }

    #[test]
    fn the_draft_is_sent_as_the_bot_api_names_it() {
        let body = serde_json::to_value(SendMessageDraft {
            chat_id: 1,
            message_thread_id: None,
            draft_id: 3,
            text: "<b>x</b>".into(),
            parse_mode: "HTML",
            can_stop: true,
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"chat_id": 1, "draft_id": 3, "text": "<b>x</b>",
                               "parse_mode": "HTML", "can_stop": true})
        );
    }
}
