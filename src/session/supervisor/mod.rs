//! The supervisor: every session of every chat across idle time, crashes and restarts,
//! whatever the front end. It starts and resumes programs, holds messages until a
//! program is ready, suspends idle ones, makes room at the limit, tells crashes and
//! crash loops, schedules the "continue" after a usage limit, answers the control
//! socket, and keeps the registry that remembers it all.
//!
//! It never talks to a chat itself: each call leaves [`Out`]s — typed [`Notice`]s about
//! sessions, answers to the user, the programs' chat operations — which the front end
//! takes with [`Supervisor::take_out`] and performs its own way (the Telegram adapter
//! as Bot API calls in the right forum topic, the console as printed lines).

mod commands;
mod notice;

pub use notice::Notice;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::lifecycle::{self, least_recently_used, should_suspend, Crashes, Intent, Phase};
use super::registry::{unix_now, Ledger, Record, Registry};
use super::status_line;
use super::task::{Ending, Event, Request, Session};
use super::transcript::Follow;
use super::{ProgramId, SessionId};
use crate::config::Config;
use crate::control::socket::{SessionInfo, ToBot};
use crate::core::buttons::{SessionAction, Stamp};
use crate::core::ops::{Content, Operation};
use crate::core::pacer::Limits;
use crate::core::profile::Profile;
use crate::term::keys::Key;
use crate::term::pty::Command;

/// How long a session gets to end on `/stop` and at shutdown.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long a starting program may stay unreadable before the messages waiting for it
/// are typed anyway (a program whose screen the profile does not know).
const READY_WAIT: Duration = Duration::from_secs(30);
/// How many events of the programs may wait for the supervisor.
const EVENTS: usize = 1024;

/// What the front end is to do after a call to the supervisor.
#[derive(Debug)]
pub enum Out {
    /// The answer to what the user just asked, where they asked it.
    Reply { chat: i64, content: Content },
    /// News of a session, for its `topic` (the forum topic it was given, if any).
    Notice {
        id: SessionId,
        topic: Option<i32>,
        notice: Notice,
        /// Sent without a sound (a terminal is attached: the user is at the desk).
        quiet: bool,
    },
    /// Chat operations of a session's program, in order, for its `topic`.
    Ops {
        program: ProgramId,
        topic: Option<i32>,
        ops: Vec<Operation>,
    },
    /// The user's input reached a session of this chat: what the chat shows next is the
    /// start of the answer they wait for.
    Spoke { chat: i64 },
}

/// One session: what is remembered of it, and its program when one runs.
pub struct Entry {
    pub record: Record,
    live: Option<Live>,
    pub phase: Phase,
    /// Why telepty asked the program to end, while it ends.
    intent: Option<Intent>,
    crashes: Crashes,
    last_activity: Instant,
    /// The usage limit shown last (its reset time as shown).
    usage_limit: Option<String>,
    /// When that limit resets (Unix seconds), as the program reported it.
    usage_limit_at: Option<i64>,
}

impl Entry {
    fn new(record: Record, phase: Phase, last_activity: Instant) -> Entry {
        Entry {
            record,
            live: None,
            phase,
            intent: None,
            crashes: Crashes::default(),
            last_activity,
            usage_limit: None,
            usage_limit_at: None,
        }
    }

    /// The running program's handle, if one runs.
    pub fn session(&self) -> Option<&Session> {
        self.live.as_ref().map(|l| &l.session)
    }

    /// Running, and not being ended.
    fn running(&self) -> bool {
        self.live.is_some() && self.intent.is_none()
    }

    /// The session was used now.
    fn touch(&mut self) {
        self.last_activity = Instant::now();
        self.record.last_activity = unix_now();
    }
}

/// A running program.
struct Live {
    session: Session,
    /// Tells this program's events from an earlier one's of the same session.
    run: u64,
    since: Instant,
}

/// Every session, and the policy of their lives.
pub struct Supervisor {
    config: Config,
    /// The configuration's profile: sessions started without `--agent`.
    profile: Arc<Profile>,
    /// Built-in profiles of agents chosen by name (`/new … --agent codex`), loaded once.
    agents: HashMap<String, Arc<Profile>>,
    /// The flood budget each program's own pacer keeps (a front end that paces per
    /// chat itself gives [`Limits::unlimited`]).
    limits: Limits,
    sessions: BTreeMap<SessionId, Entry>,
    /// Each chat's active session.
    active: HashMap<i64, String>,
    events: mpsc::Sender<(ProgramId, Event)>,
    runs: u64,
    started: Instant,
    /// Telegram's update ids handled, saved with the sessions in one write.
    pub ledger: Ledger,
    /// Whether the registry is written under the state directory (`telepty local`
    /// keeps its sessions for its run only).
    persist: bool,
    /// The registry could not be written: said once, retried at every change.
    save_failed: bool,
    /// Directories of deleted sessions offered for deletion.
    doomed: HashMap<SessionId, PathBuf>,
    /// Shutting down: no program starts any more (waiting messages stay in the registry).
    closing: bool,
    /// Terminals attached to each session (`telepty attach`).
    attached: HashMap<SessionId, usize>,
    /// This run of telepty, in every prompt and file button (see [`crate::core::buttons`]).
    boot: u32,
    out: Vec<Out>,
}

impl Supervisor {
    /// A supervisor with no sessions yet, and the channel its programs' events arrive
    /// on (hand each to [`Supervisor::on_event`]).
    pub fn new(
        config: Config,
        profile: Arc<Profile>,
        limits: Limits,
        persist: bool,
    ) -> (Supervisor, mpsc::Receiver<(ProgramId, Event)>) {
        let (events, rx) = mpsc::channel(EVENTS);
        let supervisor = Supervisor {
            config,
            profile,
            agents: HashMap::new(),
            limits,
            sessions: BTreeMap::new(),
            active: HashMap::new(),
            events,
            runs: 0,
            started: Instant::now(),
            ledger: Ledger::default(),
            persist,
            save_failed: false,
            doomed: HashMap::new(),
            closing: false,
            attached: HashMap::new(),
            boot: boot_nonce(),
            out: Vec::new(),
        };
        (supervisor, rx)
    }

    /// What the front end is to do now, in order.
    pub fn take_out(&mut self) -> Vec<Out> {
        std::mem::take(&mut self.out)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This run of telepty (the boot nonce in buttons).
    pub fn boot(&self) -> u32 {
        self.boot
    }

    pub fn get(&self, id: &SessionId) -> Option<&Entry> {
        self.sessions.get(id)
    }

    pub fn contains(&self, id: &SessionId) -> bool {
        self.sessions.contains_key(id)
    }

    /// Every session, in order of chat and name.
    pub fn sessions(&self) -> impl Iterator<Item = (&SessionId, &Entry)> {
        self.sessions.iter()
    }

    /// The chat's active session.
    pub fn active(&self, chat: i64) -> Option<&str> {
        self.active.get(&chat).map(String::as_str)
    }

    /// Whether a program still runs or is ending.
    pub fn any_live(&self) -> bool {
        self.sessions.values().any(|e| e.live.is_some())
    }

    /// The registry could not be written (the front end stops confirming updates).
    pub fn save_failed(&self) -> bool {
        self.save_failed
    }

    /// How many terminals are attached to session `id`.
    pub fn attached_to(&self, id: &SessionId) -> usize {
        self.attached.get(id).copied().unwrap_or(0)
    }

    /// The session was used now (a button pressed, a file sent): its idle clock starts
    /// again. The running program's handle, if one runs.
    pub fn touch(&mut self, id: &SessionId) -> Option<Session> {
        let entry = self.sessions.get_mut(id)?;
        entry.touch();
        entry.session().cloned()
    }

    /// The user's input reached a session of `chat`.
    pub fn spoke(&mut self, chat: i64) {
        self.out.push(Out::Spoke { chat });
    }

    fn reply(&mut self, chat: i64, html: impl Into<String>) {
        self.out.push(Out::Reply {
            chat,
            content: Content {
                text: html.into(),
                ..Content::default()
            },
        });
    }

    fn notice(&mut self, id: &SessionId, notice: Notice) {
        let topic = self.sessions.get(id).and_then(|e| e.record.topic);
        let quiet = self.at_the_desk(id);
        self.out.push(Out::Notice {
            id: id.clone(),
            topic,
            notice,
            quiet,
        });
    }

    /// A terminal is attached to session `id` and the configuration keeps the phone
    /// quiet then: its messages go without a sound.
    fn at_the_desk(&self, id: &SessionId) -> bool {
        !self.config.notify_when_attached && self.attached_to(id) > 0
    }

    /// The sessions of the registry, after a restart: none runs; each resumes on its
    /// next message, and at once if messages were waiting for it.
    pub async fn restore(&mut self, registry: Registry) {
        self.ledger = registry.updates;
        let now = Instant::now();
        let mut waiting = Vec::new();
        for record in registry.sessions {
            let phase = if record.crash_loop {
                Phase::Crashed
            } else {
                Phase::Suspended
            };
            let age = Duration::from_secs(unix_now().saturating_sub(record.last_activity));
            let id = SessionId::new(record.chat, record.name.clone());
            if record.active {
                self.active.insert(record.chat, record.name.clone());
            }
            if !record.pending.is_empty() && phase == Phase::Suspended {
                waiting.push(id.clone());
            }
            tracing::info!(session = %record.name, chat = record.chat, "restored as {phase}");
            let entry = Entry::new(record, phase, now.checked_sub(age).unwrap_or(now));
            self.sessions.insert(id, entry);
        }
        for id in waiting {
            self.start(&id, true).await;
        }
        self.save();
    }

    /// Writes the registry (sessions and the updates handled) atomically.
    pub fn save(&mut self) {
        if !self.persist {
            return;
        }
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

    /// Hands the user's message to session `id`: typed now when its program is up, else
    /// kept (in the registry) and typed once the program, started or resumed for it, is
    /// ready.
    ///
    /// While a blocking prompt waits, a message is held until it is answered (its Enter
    /// would pick the highlighted option), unless `into_prompt`: a reply to the
    /// session's messages is typed into the prompt (for options that take text).
    pub async fn deliver(&mut self, id: &SessionId, text: String, into_prompt: bool) {
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        entry.touch();
        if entry.phase == Phase::Waiting && !into_prompt {
            entry.record.pending.push(text);
            self.notice(id, Notice::Held);
            return;
        }
        match entry.phase {
            Phase::Ready | Phase::Busy | Phase::Waiting => {
                entry.record.used = true;
                let busy = entry.phase == Phase::Busy;
                if let Some(live) = &entry.live {
                    live.session.send(Request::Text(text)).await;
                    self.spoke(id.chat);
                }
                if busy {
                    // Claude Code queues what is typed while it works; say so.
                    let program = self.profile_of(id).program.title.clone();
                    self.notice(id, Notice::Queued { program });
                }
            }
            Phase::Starting | Phase::Stopping => entry.record.pending.push(text),
            Phase::Suspended | Phase::Exited | Phase::Crashed => {
                if entry.record.crash_loop {
                    self.notice(id, Notice::CrashLoopRefused);
                    return;
                }
                entry.record.pending.push(text);
                self.start(id, true).await;
            }
        }
    }

    /// The profile of session `id`: its agent's, or the configuration's.
    fn profile_of(&mut self, id: &SessionId) -> Arc<Profile> {
        let agent = self.sessions.get(id).and_then(|e| e.record.agent.clone());
        match agent {
            Some(name) if name != self.profile.name => self.agent(&name),
            _ => self.profile.clone(),
        }
    }

    /// The built-in profile of agent `name` (the configuration's for an unknown name,
    /// which `/new` refuses before it gets here).
    fn agent(&mut self, name: &str) -> Arc<Profile> {
        if let Some(p) = self.agents.get(name) {
            return p.clone();
        }
        match Profile::built_in(name) {
            Some(p) => {
                let p = Arc::new(p);
                self.agents.insert(name.to_string(), p.clone());
                p
            }
            None => self.profile.clone(),
        }
    }

    /// The command a session of agent `name` runs: the configuration's for its own
    /// profile; else the agent's binary and arguments (the user's shell for `plain`).
    pub(super) fn agent_command(&mut self, name: &str) -> Vec<String> {
        if name == self.profile.name {
            return self.config.command.clone();
        }
        let profile = self.agent(name);
        match &profile.program.binary {
            Some(binary) => std::iter::once(binary.clone())
                .chain(profile.program.args.iter().cloned())
                .collect(),
            None => vec![std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into())],
        }
    }

    /// Starts session `id`'s program — resumed (the profile's resume arguments) when
    /// `resume` and there is a conversation to resume. At the limit, the least recently
    /// used idle session is suspended first; false if none can be.
    pub async fn start(&mut self, id: &SessionId, resume: bool) -> bool {
        if self.closing {
            // Its waiting messages stay in the registry for the next start of telepty.
            return false;
        }
        let running = self.sessions.values().filter(|e| e.running()).count();
        if running >= self.config.max_sessions {
            let candidate = least_recently_used(
                self.sessions
                    .iter()
                    .filter(|(k, e)| {
                        *k != id
                            && e.running()
                            // Someone at a terminal is using it.
                            && self.attached_to(k) == 0
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
                Some(other) => self.suspend(&other, Some(id)).await,
                None => {
                    let dropped = self
                        .sessions
                        .get_mut(id)
                        .map_or(0, |e| std::mem::take(&mut e.record.pending).len());
                    let max = self.config.max_sessions;
                    self.notice(id, Notice::NoRoom { max, dropped });
                    self.save();
                    return false;
                }
            }
        }
        let profile = self.profile_of(id);
        let Some(entry) = self.sessions.get_mut(id) else {
            return false;
        };
        let mut args = entry.record.command.clone();
        let resuming = resume && (entry.record.used || entry.record.conversation.is_some());
        if resuming {
            args.extend(
                profile
                    .lifecycle
                    .resume_args(entry.record.conversation.as_deref()),
            );
        }
        let how = if resuming {
            shell_words::join(&args[entry.record.command.len()..])
        } else {
            "a new conversation".into()
        };
        let dir = entry.record.dir.clone();
        // The program's own transcript: a fresh conversation gets an id chosen here, so
        // its file is known; a resumed one goes on in the file of the id it had.
        let follow = profile.transcript.as_ref().and_then(|spec| {
            if !resuming && !spec.session_args.is_empty() {
                let id = uuid::Uuid::new_v4().to_string();
                args.extend(spec.start_args(&id));
                entry.record.transcript = Some(id);
            }
            let home = std::env::var_os("HOME").map(PathBuf::from)?;
            // The program names its project folder after its working directory as the
            // system resolves it.
            let project = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
            let id = entry
                .record
                .conversation
                .clone()
                .or(entry.record.transcript.clone());
            // The program inherits telepty's environment (CODEX_HOME and the like).
            let env = |name: &str| std::env::var(name).ok();
            let file = spec.file(&home, &project, id.as_deref().unwrap_or("-"), &env);
            Some(Follow {
                dir: file.parent()?.to_path_buf(),
                file: id.is_some().then_some(file),
                from_end: resuming,
            })
        });
        // Telepty's status line, which keeps what the program reports of the session.
        if let Some(spec) = &profile.vitals {
            let keep = status_line::file(&self.config.state_dir, id);
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default();
            match status_line::settings_args(spec, &args, &home, &dir, &keep) {
                Some(more) => args.extend(more),
                None => {
                    tracing::info!(session = %id, "no status line of telepty's (the command passes its own settings, or telepty cannot name its own binary): the vitals stay unknown")
                }
            }
        }
        let stamp = Stamp {
            boot: self.boot,
            program: self.runs + 1,
        };
        let started = std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))
            .and_then(|()| {
                let mut command = Command::new(&args[0], &dir)
                    .args(args[1..].iter().cloned())
                    .size(self.config.pty_size);
                command.missing_hint = profile.program.missing_hint(&args[0]);
                let (tx, rx) = mpsc::channel(256);
                let session =
                    Session::spawn(command, profile.clone(), self.limits, stamp, follow, tx)?;
                Ok((session, rx))
            });
        let (session, mut rx) = match started {
            Ok(s) => s,
            Err(e) => {
                let dropped = std::mem::take(&mut entry.record.pending).len();
                let notice = Notice::CannotStart {
                    program: args[0].clone(),
                    error: format!("{e:#}"),
                    dropped,
                };
                self.notice(id, notice);
                self.save();
                return false;
            }
        };
        self.runs += 1;
        let program = ProgramId {
            session: id.clone(),
            run: self.runs,
        };
        // Tag the program's events with its session and run.
        let events = self.events.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if events.send((program.clone(), event)).await.is_err() {
                    break;
                }
            }
        });
        tracing::info!(
            session = %id,
            chat = id.chat,
            pid = session.pid(),
            args = ?args,
            "{} → starting",
            entry.phase
        );
        entry.live = Some(Live {
            session,
            run: self.runs,
            since: Instant::now(),
        });
        entry.phase = Phase::Starting;
        entry.intent = None;
        entry.usage_limit = None;
        entry.usage_limit_at = None;
        entry.touch();
        if resume {
            self.notice(id, Notice::Resuming { how });
        }
        self.save();
        true
    }

    /// Stops session `id`'s program so that its next message resumes it: idle
    /// (`room_for` None) or to make room for another session.
    pub async fn suspend(&mut self, id: &SessionId, room_for: Option<&SessionId>) {
        let max = self.config.max_sessions;
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        let Some(live) = &entry.live else {
            return;
        };
        tracing::info!(session = %id, chat = id.chat, "{} → stopping (suspend)", entry.phase);
        entry.intent = Some(Intent::Suspend);
        entry.phase = Phase::Stopping;
        live.session.send(Request::Stop(STOP_GRACE)).await;
        let notice = Notice::Suspended {
            room_for: room_for.map(|o| o.name.clone()),
            max,
        };
        self.notice(id, notice);
        self.save();
    }

    /// Asks session `id`'s program to end because of `intent` (`/stop`, `/kill`,
    /// `/restart`, `/delete`); its end is handled when it is reported.
    async fn end(&mut self, id: &SessionId, intent: Intent, grace: Duration) {
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        let Some(live) = &entry.live else {
            return;
        };
        tracing::info!(
            session = %id,
            chat = id.chat,
            "{} → stopping ({intent:?})",
            entry.phase
        );
        entry.intent = Some(intent);
        entry.phase = Phase::Stopping;
        live.session.send(Request::Stop(grace)).await;
        self.save();
    }

    /// At shutdown: no program starts any more, and every running one stops; each
    /// session resumes on its next message after the restart.
    pub async fn suspend_all(&mut self) {
        self.closing = true;
        for entry in self.sessions.values_mut() {
            if !entry.running() {
                continue;
            }
            entry.intent = Some(Intent::Suspend);
            entry.phase = Phase::Stopping;
            if let Some(live) = &entry.live {
                live.session.send(Request::Stop(STOP_GRACE)).await;
            }
        }
        self.save();
    }

    /// Shutting down: nothing starts any more.
    pub fn closing(&self) -> bool {
        self.closing
    }

    /// Once a second: idle sessions are suspended, messages held by a program that never
    /// became readable are typed anyway, and due "continue"s are sent.
    pub async fn tick(&mut self) {
        let now = Instant::now();
        let mut idle = Vec::new();
        let mut slow = Vec::new();
        let mut due = Vec::new();
        for (id, e) in &self.sessions {
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
            let watched = self.attached_to(id) > 0;
            if e.running()
                && !watched
                && should_suspend(e.phase, has_pending, e.last_activity, now, timeout)
            {
                idle.push(id.clone());
            }
            if e.phase == Phase::Starting
                && has_pending
                && e.live
                    .as_ref()
                    .is_some_and(|l| l.since.elapsed() >= READY_WAIT)
            {
                slow.push(id.clone());
            }
            if e.record.continue_at.is_some_and(|at| at <= unix_now()) {
                due.push(id.clone());
            }
        }
        for id in idle {
            self.suspend(&id, None).await;
        }
        for id in slow {
            tracing::warn!(
                session = %id,
                "not readable after {READY_WAIT:?}; typing the waiting messages anyway"
            );
            if let Some(entry) = self.sessions.get_mut(&id) {
                entry.phase = Phase::Ready;
            }
            self.flush(&id).await;
        }
        for id in due {
            if let Some(entry) = self.sessions.get_mut(&id) {
                entry.record.continue_at = None;
            }
            let Some(text) = self.profile_of(&id).lifecycle.continue_text.clone() else {
                continue;
            };
            self.notice(&id, Notice::LimitReset { text: text.clone() });
            self.deliver(&id, text, false).await;
            self.save();
        }
    }

    /// Types the messages that waited for the program, in order.
    async fn flush(&mut self, id: &SessionId) {
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        let pending = std::mem::take(&mut entry.record.pending);
        if pending.is_empty() {
            return;
        }
        entry.record.used = true;
        // Typed now: the idle clock starts again (a slow start must not make the program
        // look idle the moment it gets its message).
        entry.touch();
        if let Some(live) = &entry.live {
            for text in pending {
                live.session.send(Request::Text(text)).await;
            }
            self.spoke(id.chat);
        }
        self.save();
    }

    /// An event of a session's program.
    pub async fn on_event(&mut self, program: ProgramId, mut event: Event) {
        let id = &program.session;
        if let Event::Ops(ops) = &mut event {
            if self.at_the_desk(id) {
                for op in ops {
                    if let Operation::Send(_, c) | Operation::Edit(_, c) = op {
                        c.silent = true;
                    }
                }
            }
        }
        let Some(entry) = self.sessions.get_mut(id) else {
            // Deleted: its last operations still go out.
            if let Event::Ops(ops) = event {
                let topic = None;
                self.out.push(Out::Ops {
                    program,
                    topic,
                    ops,
                });
            }
            return;
        };
        let current = entry.live.as_ref().is_some_and(|l| l.run == program.run);
        match event {
            Event::Ops(ops) => {
                let topic = entry.record.topic;
                self.out.push(Out::Ops {
                    program,
                    topic,
                    ops,
                });
            }
            Event::Activity(activity) if current && entry.intent.is_none() => {
                let was = entry.phase;
                let phase = Phase::of(activity);
                if phase == was {
                    return;
                }
                tracing::info!(session = %id, chat = id.chat, "{was} → {phase}");
                entry.phase = phase;
                if was == Phase::Busy || phase == Phase::Busy {
                    entry.touch();
                }
                let flush = phase == Phase::Ready && !entry.record.pending.is_empty();
                if flush {
                    self.flush(id).await;
                }
                if was == Phase::Starting || phase == Phase::Ready {
                    self.save();
                }
            }
            Event::UsageLimit(reset) if current => {
                entry.usage_limit = Some(reset.clone());
                let id = id.clone();
                let can_continue = self.profile_of(&id).lifecycle.continue_text.is_some();
                // The exact reset the program reported, else the screen's words.
                let now = jiff::Zoned::now();
                let exact = self
                    .vitals(&id)
                    .await
                    .and_then(|v| v.exhausted(now.timestamp().as_second()))
                    .and_then(|l| l.resets_at);
                let reset = match exact {
                    Some(at) => crate::core::vitals::when(at, &now),
                    None => reset,
                };
                if let Some(entry) = self.sessions.get_mut(&id) {
                    entry.usage_limit_at = exact;
                }
                self.notice(
                    &id,
                    Notice::UsageLimit {
                        reset,
                        can_continue,
                    },
                );
            }
            Event::Ended(ending) if current => {
                let id = id.clone();
                self.on_end(&id, ending).await;
            }
            _ => {}
        }
    }

    /// Session `id`'s program ended: as asked (suspended, stopped, restarted, deleted)
    /// or unexpectedly (a crash notice; a crash loop stops the resuming).
    async fn on_end(&mut self, id: &SessionId, ending: Ending) {
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        entry.live = None;
        if let Some(conversation) = ending.session_id.clone() {
            entry.record.conversation = Some(conversation);
        }
        let how = ending.info.to_string();
        let was = entry.phase;
        match entry.intent.take() {
            Some(Intent::Suspend) => entry.phase = Phase::Suspended,
            Some(Intent::Stop) => {
                entry.phase = Phase::Suspended;
                self.notice(id, Notice::Stopped { how: how.clone() });
            }
            Some(Intent::Restart) => {
                entry.phase = Phase::Suspended;
                entry.crashes.clear();
                entry.record.crash_loop = false;
                tracing::info!(
                    session = %id,
                    chat = id.chat,
                    "{was} → suspended ({how}), restarting"
                );
                self.start(id, true).await;
                return;
            }
            Some(Intent::Delete) => {
                self.forget(id);
                return;
            }
            None => {
                // A program that ends on its own with success (`/exit`) is no crash.
                let success = ending.info.success();
                let looped = !success && entry.crashes.record(Instant::now());
                entry.phase = if success {
                    Phase::Exited
                } else {
                    Phase::Crashed
                };
                let mut dropped = 0;
                if looped {
                    entry.record.crash_loop = true;
                    entry.phase = Phase::Crashed;
                    dropped = std::mem::take(&mut entry.record.pending).len();
                }
                let notice = Notice::Ended {
                    success,
                    how: how.clone(),
                    last_lines: ending.last_lines,
                    crash_loop: looped,
                    dropped,
                };
                self.notice(id, notice);
            }
        }
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        tracing::info!(session = %id, chat = id.chat, "{was} → {} ({how})", entry.phase);
        // Messages that came while it was ending: it starts again for them.
        if !entry.record.pending.is_empty() && !entry.record.crash_loop {
            self.start(id, true).await;
        }
        self.save();
    }

    /// Removes session `id` from the registry; its directory stays unless the user
    /// confirms (offered only for directories telepty made under the sessions root).
    fn forget(&mut self, id: &SessionId) {
        let Some(entry) = self.sessions.get(id) else {
            return;
        };
        tracing::info!(session = %id, chat = id.chat, "deleted");
        // What the program last reported of it goes too (a new session of the name
        // starts without it).
        let _ = std::fs::remove_file(status_line::file(&self.config.state_dir, id));
        let record = &entry.record;
        let ours = super::dirs::deletable(
            &record.dir,
            &id.name,
            record.created_dir,
            &self.config.sessions_root,
        );
        let notice = Notice::Deleted {
            waiting: record.pending.len(),
            kept_dir: ours.clone(),
        };
        // Told where the session's messages were (its topic stays, for its history):
        // the notice goes out while the session is still known.
        self.notice(id, notice);
        self.sessions.remove(id);
        if self.active.get(&id.chat) == Some(&id.name) {
            self.active.remove(&id.chat);
        }
        if let Some(dir) = ours {
            self.doomed.insert(id.clone(), dir);
        }
        self.save();
    }

    /// A button of telepty's own session messages.
    pub async fn on_session_button(&mut self, id: &SessionId, action: SessionAction) {
        let chat = id.chat;
        match action {
            SessionAction::Continue => {
                let Some(entry) = self.sessions.get_mut(id) else {
                    return;
                };
                let Some(reset) = entry.usage_limit.clone() else {
                    self.reply(chat, "That usage limit is no longer shown.");
                    return;
                };
                let now = jiff::Zoned::now();
                let exact = entry
                    .usage_limit_at
                    .and_then(|at| jiff::Timestamp::from_second(at).ok());
                match exact.or_else(|| lifecycle::reset_time(&reset, &now)) {
                    Some(at) => {
                        entry.record.continue_at = Some(at.as_second().max(0) as u64);
                        let local = at.to_zoned(now.time_zone().clone());
                        let at = local.strftime("%H:%M %Z").to_string();
                        let text = self.profile_of(id).lifecycle.continue_text.clone();
                        let text = text.unwrap_or_default();
                        self.notice(id, Notice::ContinueAt { at, text });
                        self.save();
                    }
                    None => self.reply(
                        chat,
                        format!(
                            "Cannot read the reset time “{}”: continue by hand when it resets.",
                            escape(&reset)
                        ),
                    ),
                }
            }
            SessionAction::NoContinue => {
                let cancelled = self
                    .sessions
                    .get_mut(id)
                    .is_some_and(|e| e.record.continue_at.take().is_some());
                if cancelled {
                    self.reply(chat, "Cancelled: nothing will be typed.");
                    self.save();
                }
            }
            SessionAction::RemoveDir => match self.doomed.remove(id) {
                // Checked again: the directory may have been swapped for a symlink since.
                Some(dir)
                    if !self.sessions.contains_key(id)
                        && super::dirs::deletable(
                            &dir,
                            &id.name,
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
                    self.reply(chat, text);
                }
                _ => self.reply(chat, "That button has expired."),
            },
        }
    }

    /// Keys for session `id` (the keypad, `/esc`, `/interrupt`).
    pub async fn press_keys(&mut self, id: &SessionId, keys: Vec<Key>) {
        if let Some(entry) = self.sessions.get_mut(id) {
            entry.touch();
            if let Some(live) = &entry.live {
                live.session.send(Request::Keys(keys)).await;
                self.spoke(id.chat);
            }
        }
    }

    /// The user pressed the chat's Stop on a live turn of `program`: Esc, as at the
    /// keyboard — only to that very run, and only while it works or asks (Esc on an idle
    /// Claude Code is no stop, and twice it opens a menu). Whether Esc was sent.
    pub async fn stop_turn(&mut self, program: &ProgramId) -> bool {
        let Some(entry) = self.sessions.get_mut(&program.session) else {
            return false;
        };
        if !matches!(entry.phase, Phase::Busy | Phase::Waiting) {
            return false;
        }
        let Some(live) = entry.live.as_ref().filter(|l| l.run == program.run) else {
            return false;
        };
        let session = live.session.clone();
        entry.touch();
        session.send(Request::Keys(vec![Key::Esc])).await;
        self.spoke(program.session.chat);
        true
    }

    /// A request from the local control socket.
    pub async fn on_control(&mut self, ask: ToBot) {
        match ask {
            ToBot::List(reply) => {
                let _ = reply.send(self.infos());
            }
            ToBot::Send { name, text, reply } => {
                let result = match self.find(&name) {
                    Ok(id) => {
                        self.deliver(&id, text, false).await;
                        self.save();
                        Ok(())
                    }
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            ToBot::Attach { name, reply } => {
                let id = match self.find(&name) {
                    Ok(id) => id,
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        return;
                    }
                };
                // Resumed first, as a message from the chat would resume it.
                let running = self.sessions.get(&id).is_some_and(Entry::running);
                if !running {
                    let looped = self.sessions.get(&id).is_some_and(|e| e.record.crash_loop);
                    if looped {
                        let _ = reply.send(Err(format!(
                            "{name} crashed too often; /restart {name} in the chat first"
                        )));
                        return;
                    }
                    if !self.start(&id, true).await {
                        let _ = reply.send(Err(format!("{name} could not be started")));
                        return;
                    }
                }
                match self.sessions.get(&id).and_then(Entry::session).cloned() {
                    Some(session) => {
                        tracing::info!(session = %name, chat = id.chat, "a terminal attached");
                        let chat = id.chat;
                        *self.attached.entry(id).or_default() += 1;
                        let _ = reply.send(Ok((session, chat)));
                    }
                    None => {
                        let _ = reply.send(Err(format!("{name} is not running")));
                    }
                }
            }
            ToBot::Detached { chat, name } => {
                tracing::info!(session = %name, chat, "a terminal detached");
                let id = SessionId::new(chat, name);
                if let Some(n) = self.attached.get_mut(&id) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.attached.remove(&id);
                    }
                }
            }
        }
    }

    /// The one session called `name`, whatever its chat.
    fn find(&self, name: &str) -> Result<SessionId, String> {
        let ids: Vec<&SessionId> = self.sessions.keys().filter(|k| k.name == name).collect();
        match ids.as_slice() {
            [id] => Ok((*id).clone()),
            [] => Err(format!("no session {name}; `telepty ls` lists them")),
            _ => Err(format!(
                "{} chats have a session {name}; rename one with /delete and /new",
                ids.len()
            )),
        }
    }

    /// Every session, for `telepty ls`.
    fn infos(&self) -> Vec<SessionInfo> {
        self.sessions
            .iter()
            .map(|(id, e)| SessionInfo {
                name: id.name.clone(),
                chat: id.chat,
                state: e.phase.as_str().to_string(),
                dir: e.record.dir.display().to_string(),
                attached: self.attached_to(id),
                active: self.active.get(&id.chat) == Some(&id.name),
                idle_secs: e.last_activity.elapsed().as_secs(),
            })
            .collect()
    }
}

fn escape(text: &str) -> String {
    crate::core::render::html::escape(text)
}

/// A nonce for this run of telepty: differs between runs (random, from the standard
/// library's per-process hash keys, the time and the pid).
fn boot_nonce() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish() as u32
}
