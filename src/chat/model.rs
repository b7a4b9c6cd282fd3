//! A model of a Telegram chat: the operations applied in order, as a person would see
//! the result. Used by `telepty replay` to print the chat, and by tests to check what a
//! user would read.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::core::ops::TimedOp;
use crate::core::ops::{Content, MessageId, Operation};
use crate::core::render::html::plain;

#[derive(Clone, Debug)]
pub struct Message {
    pub content: Content,
    pub sent: Duration,
    pub changed: Duration,
}

#[derive(Debug, Default)]
pub struct ModelChat {
    messages: BTreeMap<MessageId, Message>,
    /// Every content a message ever showed, oldest first.
    history: Vec<Content>,
    /// Problems an operation showed (an edit of an unknown message, an unchanged edit).
    pub faults: Vec<String>,
}

impl ModelChat {
    pub fn apply(&mut self, op: &TimedOp) {
        match &op.op {
            Operation::Send(id, content) => {
                if self.messages.contains_key(id) {
                    self.faults.push(format!("message {id} sent twice"));
                }
                self.history.push(content.clone());
                self.messages.insert(
                    *id,
                    Message {
                        content: content.clone(),
                        sent: op.time,
                        changed: op.time,
                    },
                );
            }
            Operation::Edit(id, content) => match self.messages.get_mut(id) {
                Some(m)
                    if m.content.text == content.text && m.content.buttons == content.buttons =>
                {
                    self.faults
                        .push(format!("edit of message {id} changes nothing"));
                }
                Some(m) => {
                    m.content = content.clone();
                    m.changed = op.time;
                    self.history.push(content.clone());
                }
                None => self.faults.push(format!("edit of unknown message {id}")),
            },
            // A draft is not a message of the chat: it fades, and its message follows.
            Operation::Draft(..) => {}
            Operation::Delete(id) => {
                if self.messages.remove(id).is_none() {
                    self.faults.push(format!("delete of unknown message {id}"));
                }
            }
        }
    }

    /// The messages as they are now, oldest first.
    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        self.messages.values()
    }

    /// Every content any message ever showed.
    pub fn history(&self) -> &[Content] {
        &self.history
    }

    /// The chat's text as a reader sees it: tags removed, entities decoded.
    pub fn text(&self) -> String {
        self.messages
            .values()
            .map(|m| plain(&m.content.text))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The chat for a person: each message with its time, its buttons below it.
    pub fn transcript(&self) -> String {
        let mut out = String::new();
        for m in self.messages.values() {
            let when = m.sent.as_secs_f64();
            let sound = if m.content.silent { "🔕" } else { "🔔" };
            out.push_str(&format!("── {when:7.2}s {sound}"));
            if m.changed != m.sent {
                out.push_str(&format!(" (last edited {:.2}s)", m.changed.as_secs_f64()));
            }
            out.push('\n');
            out.push_str(&plain(&m.content.text));
            out.push('\n');
            for row in &m.content.buttons {
                let labels: Vec<String> = row.iter().map(|b| format!("[ {} ]", b.text)).collect();
                out.push_str(&labels.join(" "));
                out.push('\n');
            }
        }
        out
    }
}
