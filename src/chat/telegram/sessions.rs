//! Sessions across idle time, crashes and restarts: starting and resuming programs,
//! holding messages until a program is ready, suspending idle ones, making room at the
//! limit, telling crashes and crash loops, and the registry that remembers it all.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{escape, Entry, Live, Router, STOP_GRACE};
use crate::core::buttons::{ButtonData, SessionAction, Stamp};
use crate::core::ops::{Button, Content};
use crate::core::pacer::Limits;
use crate::session::lifecycle::{
    self, least_recently_used, should_suspend, Crashes, Intent, Phase,
};
use crate::session::registry::{unix_now, Record, Registry};
use crate::session::task::{Ending, Event, Request, Session};
use crate::term::pty::Command;

/// How long a starting program may stay unreadable before the messages waiting for it
/// are typed anyway (a program whose screen the profile does not know).
const READY_WAIT: Duration = Duration::from_secs(30);

impl Router {
    /// The sessions of the registry, after a restart: none runs; each resumes on its
    /// next message, and at once if messages were waiting for it.
    pub(super) async fn restore(&mut self, records: Vec<Record>) {
        let now = Instant::now();
        let mut waiting = Vec::new();
        for record in records {
            let phase = if record.crash_loop {
                Phase::Crashed
            } else {
                Phase::Suspended
            };
            let age = Duration::from_secs(unix_now().saturating_sub(record.last_activity));
            if record.active {
                self.active.insert(record.chat, record.name.clone());
            }
            if !record.pending.is_empty() && phase == Phase::Suspended {
                waiting.push((record.chat, record.name.clone()));
            }
            tracing::info!(session = %record.name, chat = record.chat, "restored as {phase}");
            self.sessions.insert(
                (record.chat, record.name.clone()),
                Entry {
                    record,
                    live: None,
                    phase,
                    intent: None,
                    crashes: Crashes::default(),
                    last_activity: now.checked_sub(age).unwrap_or(now),
                    usage_limit: None,
                },
            );
        }
        for (chat, name) in waiting {
            self.start(chat, &name, true).await;
        }
        self.save();
    }

    /// Writes the registry (sessions and the updates handled) atomically.
    pub(super) fn save(&mut self) {
        let registry = Registry {
            sessions: self
                .sessions
                .values()
                .map(|e| {
                    let mut r = e.record.clone();
                    r.state = e.phase.as_str().to_string();
                    r.active = self.active.get(&r.chat) == Some(&r.name);
                    r
                })
                .collect(),
            updates: self.ledger.clone(),
        };
        match registry.save(&self.config.state_dir) {
            Ok(()) => self.save_failed = false,
            Err(e) => {
                if !self.save_failed {
                    tracing::error!("{e}; retrying at every change");
                }
                self.save_failed = true;
            }
        }
    }

    /// Hands the user's message to session `name`: typed now when its program is up,
    /// else kept (in the registry) and typed once the program, started or resumed for
    /// it, is ready.
    ///
    /// While a blocking prompt waits, a message is held until it is answered (its Enter
    /// would pick the highlighted option), unless `into_prompt`: a reply to the
    /// session's messages is typed into the prompt (for options that take text).
    pub(super) async fn deliver(&mut self, chat: i64, name: &str, text: String, into_prompt: bool) {
        let Some(entry) = self.entry(chat, name) else {
            return;
        };
        touch(entry);
        if entry.phase == Phase::Waiting && !into_prompt {
            entry.record.pending.push(text);
            let note = "⏸ A prompt is waiting for your answer: your message will be typed once \
                        it is answered (its buttons, or /esc). To type into the prompt itself, \
                        reply to it.";
            self.outbox.say_quietly(self.place(chat), note);
            return;
        }
        match entry.phase {
            Phase::Ready | Phase::Busy | Phase::Waiting => {
                entry.record.used = true;
                let busy = entry.phase == Phase::Busy;
                if let Some(live) = &entry.live {
                    live.session.send(Request::Text(text)).await;
                    self.outbox.spoke(chat);
                }
                if busy {
                    // Claude Code queues what is typed while it works; say so.
                    self.outbox.say_quietly(
                        self.place(chat),
                        "⏳ Queued: Claude will read it when the current turn ends.",
                    );
                }
            }
            Phase::Starting | Phase::Stopping => entry.record.pending.push(text),
            Phase::Suspended | Phase::Exited | Phase::Crashed => {
                if entry.record.crash_loop {
                    let text = format!(
                        "<b>{0}</b> ended {1} times within a minute, so telepty stopped \
                         resuming it; your message was not delivered. /restart {0} tries again.",
                        escape(name),
                        lifecycle::CRASH_LOOP_EXITS
                    );
                    self.say(chat, &text);
                    return;
                }
                entry.record.pending.push(text);
                self.start(chat, name, true).await;
            }
        }
    }

    /// Starts session `name`'s program — resumed (the profile's resume arguments) when
    /// `resume` and there is a conversation to resume. At the limit, the least recently
    /// used idle session is suspended first; false if none can be.
    pub(super) async fn start(&mut self, chat: i64, name: &str, resume: bool) -> bool {
        if self.closing {
            // Its waiting messages stay in the registry for the next start of telepty.
            return false;
        }
        let key = (chat, name.to_string());
        let running = self
            .sessions
            .values()
            .filter(|e| e.live.is_some() && e.intent.is_none())
            .count();
        if running >= self.config.max_sessions {
            let candidate = least_recently_used(
                self.sessions
                    .iter()
                    .filter(|(k, e)| {
                        **k != key
                            && e.live.is_some()
                            && e.intent.is_none()
                            // Someone at a terminal is using it.
                            && self.attached_to(k.0, &k.1) == 0
                    })
                    .map(|(k, e)| {
                        (
                            k.clone(),
                            e.phase,
                            !e.record.pending.is_empty(),
                            e.last_activity,
                        )
                    }),
            );
            match candidate {
                Some((other_chat, other)) => {
                    self.suspend(other_chat, &other, Some((chat, name))).await;
                }
                None => {
                    let dropped = self
                        .entry(chat, name)
                        .map_or(0, |e| std::mem::take(&mut e.record.pending).len());
                    let mut text = format!(
                        "All {} running sessions are busy or waiting for you, so <b>{}</b> \
                         was not started (max_sessions = {0}). /stop one, or try again when \
                         one is idle.",
                        self.config.max_sessions,
                        escape(name)
                    );
                    if dropped > 0 {
                        text.push_str(&format!(" {dropped} message(s) not delivered."));
                    }
                    self.say_for(chat, name, &text);
                    self.save();
                    return false;
                }
            }
        }
        let Some(entry) = self.sessions.get_mut(&key) else {
            return false;
        };
        let mut args = entry.record.command.clone();
        let resuming = resume && (entry.record.used || entry.record.conversation.is_some());
        if resuming {
            args.extend(
                self.profile
                    .lifecycle
                    .resume_args(entry.record.conversation.as_deref()),
            );
        }
        let dir = entry.record.dir.clone();
        let started = std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))
            .and_then(|()| {
                let command = Command::new(&args[0], &dir)
                    .args(args[1..].iter().cloned())
                    .size(self.config.pty_size);
                let (tx, rx) = mpsc::channel(256);
                // Paced per chat by the outbox, with the chat's other sessions.
                let stamp = Stamp {
                    boot: self.boot,
                    program: self.generation + 1,
                };
                let session = Session::spawn(
                    command,
                    self.profile.clone(),
                    Limits::unlimited(),
                    stamp,
                    tx,
                )?;
                Ok((session, rx))
            });
        let (session, mut rx) = match started {
            Ok(s) => s,
            Err(e) => {
                let dropped = std::mem::take(&mut entry.record.pending).len();
                let mut text = format!(
                    "Cannot start <b>{}</b> ({}): {}",
                    escape(name),
                    escape(&args[0]),
                    escape(&format!("{e:#}"))
                );
                if dropped > 0 {
                    text.push_str(&format!("\n{dropped} message(s) not delivered."));
                }
                self.say_for(chat, name, &text);
                self.save();
                return false;
            }
        };
        self.generation += 1;
        let generation = self.generation;
        // Tag the program's events with its chat, session and generation.
        let events = self.events.clone();
        let tag = name.to_string();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if events
                    .send((chat, tag.clone(), generation, event))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        tracing::info!(
            session = name,
            chat,
            pid = session.pid(),
            args = ?args,
            "{} → starting",
            entry.phase
        );
        entry.live = Some(Live {
            session,
            generation,
            since: Instant::now(),
        });
        entry.phase = Phase::Starting;
        entry.intent = None;
        entry.usage_limit = None;
        touch(entry);
        if resume {
            let how = if resuming {
                shell_words::join(&args[entry.record.command.len()..])
            } else {
                "a new conversation".into()
            };
            let text = format!("▶ Resuming <b>{}</b> ({})…", escape(name), escape(&how));
            self.say_quietly_for(chat, name, &text);
        }
        self.save();
        true
    }

    /// Stops session `name`'s program so that its next message resumes it: idle (`for`
    /// None) or to make room for another session.
    pub(super) async fn suspend(&mut self, chat: i64, name: &str, room_for: Option<(i64, &str)>) {
        let max = self.config.max_sessions;
        let Some(entry) = self.entry(chat, name) else {
            return;
        };
        let Some(live) = &entry.live else {
            return;
        };
        tracing::info!(session = name, chat, "{} → stopping (suspend)", entry.phase);
        entry.intent = Some(Intent::Suspend);
        entry.phase = Phase::Stopping;
        live.session.send(Request::Stop(STOP_GRACE)).await;
        let text = match room_for {
            Some((_, other)) => format!(
                "💤 Suspended <b>{}</b>, the least recently used idle session, to make room \
                 for <b>{}</b> (max_sessions = {max}). Its next message resumes it.",
                escape(name),
                escape(other)
            ),
            None => format!(
                "💤 <b>{}</b> suspended after being idle; its next message resumes it.",
                escape(name)
            ),
        };
        self.say_quietly_for(chat, name, &text);
        self.save();
    }

    /// Asks session `name`'s program to end because of `intent` (`/stop`, `/kill`,
    /// `/restart`, `/delete`); its end is handled by [`Router::on_end`].
    pub(super) async fn end(&mut self, chat: i64, name: &str, intent: Intent, grace: Duration) {
        let Some(entry) = self.entry(chat, name) else {
            return;
        };
        let Some(live) = &entry.live else {
            return;
        };
        tracing::info!(
            session = name,
            chat,
            "{} → stopping ({intent:?})",
            entry.phase
        );
        entry.intent = Some(intent);
        entry.phase = Phase::Stopping;
        live.session.send(Request::Stop(grace)).await;
        self.save();
    }

    /// At shutdown: every program stops; each session resumes on its next message
    /// after the restart.
    pub(super) async fn suspend_all(&mut self) {
        let live: Vec<(i64, String)> = self
            .sessions
            .iter()
            .filter(|(_, e)| e.live.is_some() && e.intent.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        for (chat, name) in live {
            if let Some(entry) = self.entry(chat, &name) {
                entry.intent = Some(Intent::Suspend);
                entry.phase = Phase::Stopping;
                if let Some(live) = &entry.live {
                    live.session.send(Request::Stop(STOP_GRACE)).await;
                }
            }
        }
        self.save();
    }

    /// Once a second: idle sessions are suspended, messages held by a program that never
    /// became readable are typed anyway, and due "continue"s are sent.
    pub(super) async fn tick(&mut self) {
        let now = Instant::now();
        let mut idle = Vec::new();
        let mut slow = Vec::new();
        let mut due = Vec::new();
        for ((chat, name), e) in &self.sessions {
            let timeout = match e.record.idle_timeout {
                Some(secs) => Duration::from_secs(secs),
                None => self.config.idle_timeout,
            };
            let timeout = [
                (!timeout.is_zero()).then_some(timeout),
                self.config.stale_after,
            ]
            .into_iter()
            .flatten()
            .min();
            let has_pending = !e.record.pending.is_empty();
            // Someone at a terminal is using it, typing or not.
            let watched = self.attached_to(*chat, name) > 0;
            if e.live.is_some()
                && e.intent.is_none()
                && !watched
                && should_suspend(e.phase, has_pending, e.last_activity, now, timeout)
            {
                idle.push((*chat, name.clone()));
            }
            if e.phase == Phase::Starting
                && has_pending
                && e.live
                    .as_ref()
                    .is_some_and(|l| l.since.elapsed() >= READY_WAIT)
            {
                slow.push((*chat, name.clone()));
            }
            if e.record.continue_at.is_some_and(|at| at <= unix_now()) {
                due.push((*chat, name.clone()));
            }
        }
        for (chat, name) in idle {
            self.suspend(chat, &name, None).await;
        }
        for (chat, name) in slow {
            tracing::warn!(
                session = %name,
                "not readable after {READY_WAIT:?}; typing the waiting messages anyway"
            );
            if let Some(entry) = self.entry(chat, &name) {
                entry.phase = Phase::Ready;
            }
            self.flush(chat, &name).await;
        }
        for (chat, name) in due {
            if let Some(entry) = self.entry(chat, &name) {
                entry.record.continue_at = None;
            }
            self.say_for(
                chat,
                &name,
                &format!(
                    "▶ The usage limit has reset: typing “continue” into <b>{}</b>.",
                    escape(&name)
                ),
            );
            self.deliver(chat, &name, "continue".into(), false).await;
            self.save();
        }
    }

    /// Types the messages that waited for the program, in order.
    async fn flush(&mut self, chat: i64, name: &str) {
        let Some(entry) = self.entry(chat, name) else {
            return;
        };
        let pending = std::mem::take(&mut entry.record.pending);
        if pending.is_empty() {
            return;
        }
        entry.record.used = true;
        // Typed now: the idle clock starts again (a slow start must not make the program
        // look idle the moment it gets its message).
        touch(entry);
        if let Some(live) = &entry.live {
            for text in pending {
                live.session.send(Request::Text(text)).await;
            }
            self.outbox.spoke(chat);
        }
        self.save();
    }

    /// An event of program `generation` of session `name`.
    pub(super) async fn on_event(&mut self, chat: i64, name: &str, generation: u64, event: Event) {
        let Some(entry) = self.entry(chat, name) else {
            // Deleted: its last operations still go out.
            if let Event::Ops(ops) = event {
                for op in ops {
                    self.outbox
                        .push(self.place(chat), &format!("{name}#{generation}"), op);
                }
            }
            return;
        };
        let current = entry
            .live
            .as_ref()
            .is_some_and(|l| l.generation == generation);
        match event {
            Event::Ops(ops) => {
                let key = format!("{name}#{generation}");
                let place = self.place_of(chat, name);
                for op in ops {
                    self.outbox.push(place, &key, op);
                }
            }
            Event::Activity(activity) if current && entry.intent.is_none() => {
                let was = entry.phase;
                let phase = Phase::of(activity);
                if phase == was {
                    return;
                }
                tracing::info!(session = name, chat, "{was} → {phase}");
                entry.phase = phase;
                if was == Phase::Busy || phase == Phase::Busy {
                    touch(entry);
                }
                if phase == Phase::Ready && !entry.record.pending.is_empty() {
                    self.flush(chat, name).await;
                }
                if was == Phase::Starting || phase == Phase::Ready {
                    self.save();
                }
            }
            Event::UsageLimit(reset) if current => {
                entry.usage_limit = Some(reset.clone());
                let text = format!(
                    "⏸ <b>{}</b> hit a usage limit; it resets {}.",
                    escape(name),
                    escape(&reset)
                );
                let content = Content {
                    text,
                    buttons: vec![vec![Button {
                        text: "▶ Continue when it resets".into(),
                        data: ButtonData::Session {
                            action: SessionAction::Continue,
                            name: name.to_string(),
                        }
                        .encode(),
                    }]],
                    silent: false,
                    attachment: None,
                };
                self.outbox
                    .say_with_buttons(self.place_of(chat, name), content);
            }
            Event::Ended(ending) if current => self.on_end(chat, name, ending).await,
            _ => {}
        }
    }

    /// Session `name`'s program ended: as asked (suspended, stopped, restarted, deleted)
    /// or unexpectedly (a crash notice; a crash loop stops the resuming).
    async fn on_end(&mut self, chat: i64, name: &str, ending: Ending) {
        let key = (chat, name.to_string());
        let Some(entry) = self.sessions.get_mut(&key) else {
            return;
        };
        entry.live = None;
        if let Some(id) = ending.session_id.clone() {
            entry.record.conversation = Some(id);
        }
        let how = ending.info.to_string();
        let was = entry.phase;
        match entry.intent.take() {
            Some(Intent::Suspend) => entry.phase = Phase::Suspended,
            Some(Intent::Stop) => {
                entry.phase = Phase::Suspended;
                let text = format!(
                    "■ <b>{}</b> stopped ({}). Its next message resumes it.",
                    escape(name),
                    escape(&how)
                );
                self.say_for(chat, name, &text);
            }
            Some(Intent::Restart) => {
                entry.phase = Phase::Suspended;
                entry.crashes.clear();
                entry.record.crash_loop = false;
                tracing::info!(
                    session = name,
                    chat,
                    "{was} → suspended ({how}), restarting"
                );
                self.start(chat, name, true).await;
                return;
            }
            Some(Intent::Delete) => {
                self.forget(chat, name);
                return;
            }
            None => {
                // A program that ends on its own with success (`/exit`) is no crash.
                let looped = !ending.info.success() && entry.crashes.record(Instant::now());
                entry.phase = if ending.info.success() {
                    Phase::Exited
                } else {
                    Phase::Crashed
                };
                let mut text = format!(
                    "{} <b>{}</b> ended: {}.",
                    if ending.info.success() {
                        "■"
                    } else {
                        "⚠️"
                    },
                    escape(name),
                    escape(&how)
                );
                if !ending.last_lines.is_empty() {
                    text.push_str(&format!(
                        "\n<pre>{}</pre>",
                        escape(&ending.last_lines.join("\n"))
                    ));
                }
                if looped {
                    entry.record.crash_loop = true;
                    entry.phase = Phase::Crashed;
                    let dropped = std::mem::take(&mut entry.record.pending).len();
                    text.push_str(&format!(
                        "\nIt ended {} times within a minute: telepty stops resuming it. \
                         /restart {} tries again.",
                        lifecycle::CRASH_LOOP_EXITS,
                        escape(name)
                    ));
                    if dropped > 0 {
                        text.push_str(&format!(" {dropped} message(s) not delivered."));
                    }
                } else {
                    text.push_str("\nYour next message resumes it.");
                }
                self.say_for(chat, name, &text);
            }
        }
        let Some(entry) = self.sessions.get_mut(&key) else {
            return;
        };
        tracing::info!(session = name, chat, "{was} → {} ({how})", entry.phase);
        // Messages that came while it was ending: it starts again for them.
        if !entry.record.pending.is_empty() && !entry.record.crash_loop {
            self.start(chat, name, true).await;
        }
        self.save();
    }

    /// Removes session `name` from the registry; its directory stays unless the user
    /// confirms (offered only for directories telepty made under the sessions root).
    pub(super) fn forget(&mut self, chat: i64, name: &str) {
        // Told where the session's messages were (its topic stays, for its history).
        let place = self.place_of(chat, name);
        let Some(entry) = self.sessions.remove(&(chat, name.to_string())) else {
            return;
        };
        tracing::info!(session = name, chat, "deleted");
        if self.active.get(&chat).map(String::as_str) == Some(name) {
            self.active.remove(&chat);
        }
        let dir = entry.record.dir;
        let mut text = format!("🗑 <b>{}</b> deleted.", escape(name));
        if !entry.record.pending.is_empty() {
            text.push_str(&format!(
                " {} waiting message(s) not delivered.",
                entry.record.pending.len()
            ));
        }
        let ours = crate::session::dirs::deletable(
            &dir,
            name,
            entry.record.created_dir,
            &self.config.sessions_root,
        );
        if let Some(dir) = ours {
            text.push_str(&format!(
                " Its directory <code>{}</code> is kept.",
                escape(&dir.display().to_string())
            ));
            self.doomed.insert((chat, name.to_string()), dir);
            self.outbox.say_with_buttons(
                place,
                Content {
                    text,
                    buttons: vec![vec![Button {
                        text: "Also delete the directory".into(),
                        data: ButtonData::Session {
                            action: SessionAction::RemoveDir,
                            name: name.to_string(),
                        }
                        .encode(),
                    }]],
                    silent: false,
                    attachment: None,
                },
            );
        } else {
            self.outbox.say(place, &text);
        }
        self.save();
    }

    /// A button of telepty's own session messages.
    pub(super) async fn on_session_button(&mut self, chat: i64, action: SessionAction, name: &str) {
        match action {
            SessionAction::Continue => {
                let Some(entry) = self.entry(chat, name) else {
                    return;
                };
                let Some(reset) = entry.usage_limit.clone() else {
                    self.say(chat, "That usage limit is no longer shown.");
                    return;
                };
                let now = jiff::Zoned::now();
                match lifecycle::reset_time(&reset, &now) {
                    Some(at) => {
                        entry.record.continue_at = Some(at.as_second().max(0) as u64);
                        let local = at.to_zoned(now.time_zone().clone());
                        let text = format!(
                            "⏰ At {} telepty will type “continue” into <b>{}</b>.",
                            local.strftime("%H:%M %Z"),
                            escape(name)
                        );
                        self.outbox.say_with_buttons(
                            self.place(chat),
                            Content {
                                text,
                                buttons: vec![vec![Button {
                                    text: "Cancel".into(),
                                    data: ButtonData::Session {
                                        action: SessionAction::NoContinue,
                                        name: name.to_string(),
                                    }
                                    .encode(),
                                }]],
                                silent: true,
                                attachment: None,
                            },
                        );
                        self.save();
                    }
                    None => self.say(
                        chat,
                        &format!(
                            "Cannot read the reset time “{}”: continue by hand when it resets.",
                            escape(&reset)
                        ),
                    ),
                }
            }
            SessionAction::NoContinue => {
                if let Some(entry) = self.entry(chat, name) {
                    if entry.record.continue_at.take().is_some() {
                        self.say(chat, "Cancelled: nothing will be typed.");
                        self.save();
                    }
                }
            }
            SessionAction::RemoveDir => match self.doomed.remove(&(chat, name.to_string())) {
                // Checked again: the directory may have been swapped for a symlink since.
                Some(dir)
                    if !self.sessions.contains_key(&(chat, name.to_string()))
                        && crate::session::dirs::deletable(
                            &dir,
                            name,
                            true,
                            &self.config.sessions_root,
                        )
                        .as_ref()
                            == Some(&dir) =>
                {
                    let text = match std::fs::remove_dir_all(&dir) {
                        Ok(()) => format!(
                            "🗑 Deleted <code>{}</code>.",
                            escape(&dir.display().to_string())
                        ),
                        Err(e) => format!(
                            "Cannot delete <code>{}</code>: {}",
                            escape(&dir.display().to_string()),
                            escape(&e.to_string())
                        ),
                    };
                    self.say(chat, &text);
                }
                _ => self.say(chat, "That button has expired."),
            },
        }
    }

    /// A key of the `/keys` keypad, for the active session.
    pub(super) async fn press_key(&mut self, chat: i64, key: &str) {
        let Some(name) = self.current(chat) else {
            return;
        };
        let Ok(key) = key.parse::<crate::term::keys::Key>() else {
            return;
        };
        if let Some(entry) = self.entry(chat, &name) {
            touch(entry);
            if let Some(live) = &entry.live {
                live.session.send(Request::Keys(vec![key])).await;
                self.outbox.spoke(chat);
            }
        }
    }
}

/// The session was used now.
fn touch(entry: &mut Entry) {
    entry.last_activity = Instant::now();
    entry.record.last_activity = unix_now();
}

/// Directories offered for deletion, by chat and session name.
pub(super) type Doomed = HashMap<(i64, String), std::path::PathBuf>;
