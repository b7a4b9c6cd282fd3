//! telepty's commands on Telegram: the supervisor does the session work; here is what
//! only Telegram has — forum topics for `/new`, the keypad's buttons, pictures and
//! files.

use super::{escape, Router};
use crate::core::ops::Content;
use crate::session::command::{help_html, keypad, BotCommand};
use crate::session::dirs;
use crate::session::SessionId;

impl Router {
    /// One of telepty's own commands.
    pub(super) async fn command(&mut self, chat: i64, command: BotCommand) {
        let current = self.current(chat).map(|name| SessionId::new(chat, name));
        match command {
            BotCommand::Help => self.say(chat, &help_html()),
            BotCommand::New(args) => self.new_session(chat, &args).await,
            BotCommand::Sessions => {
                let current = current.map(|c| c.name);
                self.sup.list_sessions(chat, current.as_deref()).await;
            }
            BotCommand::Use(name) => self.sup.use_session(chat, &name),
            BotCommand::Screen { text: true } => {
                self.sup.screen_text(chat, current.as_ref()).await;
            }
            BotCommand::Screen { text: false } => match current {
                Some(id) => self.send_picture(chat, &id.name).await,
                None => self.sup.no_session(chat),
            },
            BotCommand::Get(path) => match current {
                Some(id) => self.send_file(chat, &id.name, &path).await,
                None => self.sup.no_session(chat),
            },
            BotCommand::Keys(keys) if !keys.is_empty() => {
                let keys: Result<Vec<crate::term::keys::Key>, _> =
                    keys.split_whitespace().map(str::parse).collect();
                match (keys, current) {
                    (Ok(keys), Some(id)) => self.sup.press_keys(&id, keys).await,
                    (Ok(_), None) => self.sup.no_session(chat),
                    (Err(e), _) => self.say(chat, &escape(&e.to_string())),
                }
            }
            BotCommand::Keys(_) => {
                let content = Content {
                    live: false,
                    text: "Keys for the active session:".into(),
                    buttons: keypad(),
                    silent: true,
                    attachment: None,
                };
                self.outbox.say_with_buttons(self.place(chat), content);
            }
            BotCommand::Esc => self.press_key(chat, "Esc").await,
            BotCommand::Interrupt => self.press_key(chat, "Ctrl-C").await,
            BotCommand::End(how, name) => {
                let name = name.or(current.map(|c| c.name)).unwrap_or_default();
                self.sup.end_command(&SessionId::new(chat, name), how).await;
            }
            BotCommand::Idle(args) => self.sup.idle_command(chat, current.as_ref(), &args),
            BotCommand::Status => {
                let current = current.map(|c| c.name);
                self.sup.status(chat, current.as_deref()).await
            }
        }
    }

    async fn new_session(&mut self, chat: i64, args: &str) {
        let name = args.split_whitespace().next().unwrap_or_default();
        if self.opening.contains(&SessionId::new(chat, name)) {
            let text = format!("Session <b>{name}</b> is being opened: its topic comes first.");
            self.say(chat, &text);
            return;
        }
        let Some(new) = self.sup.check_new(chat, args) else {
            return;
        };
        let (chosen, agent) = (new.chosen, new.agent);
        let id = SessionId::new(chat, new.name);
        // In a forum, the session gets a topic of its own; it starts once Telegram has
        // answered (the update loop does not wait for that).
        if self.forums.contains(&chat) {
            self.opening.insert(id.clone());
            let bot = self.bot.clone();
            let opened = self.topics.clone();
            let pending = PendingTopic {
                id,
                chosen,
                agent,
                here: self.here,
            };
            tokio::spawn(async move {
                use teloxide::prelude::Requester;
                let topic = bot
                    .create_forum_topic(teloxide::types::ChatId(chat), pending.id.name.clone())
                    .await
                    .map(|t| t.thread_id.0 .0)
                    .map_err(|e| e.to_string());
                let _ = opened.send((pending, topic)).await;
            });
            return;
        }
        self.sup.create(&id, chosen, agent, None).await;
    }

    /// Telegram answered the request for a session's topic: the session starts, in its
    /// topic or, without one, in the chat itself.
    pub(super) async fn on_topic(&mut self, pending: PendingTopic, topic: Result<i32, String>) {
        let PendingTopic {
            id,
            chosen,
            agent,
            here,
        } = pending;
        self.opening.remove(&id);
        // The bot answers where `/new` was written.
        let now_here = std::mem::replace(&mut self.here, here);
        let (chat, name) = (id.chat, &id.name);
        let topic = match topic {
            Ok(topic) => {
                tracing::info!(session = name, chat, topic, "opened a topic");
                Some(topic)
            }
            Err(e) => {
                tracing::warn!(session = name, chat, "cannot open a topic: {e}");
                let text = format!(
                    "Could not open a topic for <b>{}</b> ({}), so it runs here. To give each \
                     session its own topic, make the bot an administrator allowed to manage \
                     topics.",
                    escape(name),
                    escape(&e)
                );
                self.say(chat, &text);
                None
            }
        };
        self.sup.create(&id, chosen, agent, topic).await;
        self.perform();
        self.here = now_here;
    }
}

/// A session waiting for its forum topic: what `/new` chose, and where it was written.
pub(super) struct PendingTopic {
    id: SessionId,
    chosen: dirs::Chosen,
    agent: Option<String>,
    here: Option<(i64, i32)>,
}
