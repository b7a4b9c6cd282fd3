//! The chat-operation vocabulary: what the core hands to a chat. A message's content
//! (Telegram HTML, buttons, an attachment, silent or not) and the operations that send,
//! edit and delete messages, with the moment each may go out.
//!
//! Every front end performs these and nothing else; the model chat applies them as a
//! reader would see them.

use std::time::Duration;

use serde::Serialize;

/// The bridge's own number for a message (Telegram's id is mapped by the front end).
pub type MessageId = u64;

/// One inline button: its label and the data it sends back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Button {
    pub text: String,
    pub data: String,
}

/// What a message shows.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Content {
    /// Telegram HTML.
    pub text: String,
    pub buttons: Vec<Vec<Button>>,
    /// Sent without a notification sound.
    pub silent: bool,
    /// A file sent with the message (the text is its caption).
    pub attachment: Option<Attachment>,
    /// The state of a turn still going: a chat that can may show it as an ephemeral
    /// draft instead of a message. The message is sent for real when its content stops
    /// being live (the turn's record), or not at all if it is deleted first.
    pub live: bool,
}

/// A file a message carries: a picture or a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub kind: AttachmentKind,
    /// The file name the chat shows.
    pub name: String,
    pub bytes: std::sync::Arc<Vec<u8>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachmentKind {
    /// Shown as a picture (PNG).
    Photo,
    /// A file to open or save.
    Document,
}

/// What to do to the chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    Send(MessageId, Content),
    Edit(MessageId, Content),
    Delete(MessageId),
    /// Show this as the chat's draft of message `id` (ephemeral: Telegram clears it when
    /// a message is sent, or after 30 s); the message itself is sent later, if at all.
    Draft(MessageId, Content),
}

impl Operation {
    pub fn id(&self) -> MessageId {
        match self {
            Operation::Send(id, _)
            | Operation::Edit(id, _)
            | Operation::Delete(id)
            | Operation::Draft(id, _) => *id,
        }
    }
}

/// A chat operation and the moment it may go out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedOp {
    pub time: Duration,
    pub op: Operation,
}

/// The JSON form of an operation (`telepty replay --json`), one object per line.
#[derive(Debug, Serialize)]
pub struct OpRecord<'a> {
    pub t: f64,
    pub op: &'static str,
    pub id: MessageId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buttons: Option<&'a Vec<Vec<Button>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silent: Option<bool>,
    /// The file a message carries (its name), e.g. a long answer as a document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<&'a str>,
}

impl TimedOp {
    pub fn record(&self) -> OpRecord<'_> {
        let t = (self.time.as_secs_f64() * 1000.0).round() / 1000.0;
        match &self.op {
            Operation::Send(id, c) | Operation::Edit(id, c) | Operation::Draft(id, c) => OpRecord {
                t,
                op: match self.op {
                    Operation::Send(..) => "send",
                    Operation::Draft(..) => "draft",
                    _ => "edit",
                },
                id: *id,
                text: Some(&c.text),
                buttons: (!c.buttons.is_empty()).then_some(&c.buttons),
                silent: Some(c.silent),
                file: c.attachment.as_ref().map(|a| a.name.as_str()),
            },
            Operation::Delete(id) => OpRecord {
                t,
                op: "delete",
                id: *id,
                text: None,
                buttons: None,
                silent: None,
                file: None,
            },
        }
    }
}
