//! A live session: a program in a PTY driven through the pipeline, in its own task.
//!
//! The task owns the PTY and the pipeline; callers talk to it through a [`Session`]
//! handle (requests in) and a channel of [`Event`]s (chat operations out, each when the
//! pacer lets it go). One busy session never delays another: nothing here blocks the
//! runtime (output is parsed and pictures drawn on the blocking pool), and the clock is
//! the task's own (time since the session started).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

use crate::core::ops::Operation;
use crate::core::pacer::Limits;
use crate::core::pipeline::Pipeline;
use crate::core::profile::{Profile, ViewKind};
use crate::core::typing::{Step, Typist};
use crate::core::view::State;
use crate::session::transcript::Follow;
use crate::term::keys::{paste_bytes, Key};
use crate::term::pty::{Command, ExitInfo, Pty};
use crate::term::screen::Size;

/// The largest terminal an attached terminal may lend the session (a bigger one is
/// clamped): 500×300 cells is more than any real screen.
pub const MAX_COLS: u16 = 500;
pub const MAX_ROWS: u16 = 300;

/// What a session is asked to do.
#[derive(Debug)]
pub enum Request {
    /// Text to send as the user's message: typed (or pasted when it has several lines
    /// and the program asked for bracketed paste), then Enter.
    Text(String),
    /// Keys, as they are.
    Keys(Vec<Key>),
    /// A prompt button with this data was pressed.
    Press(String, oneshot::Sender<bool>),
    /// The path a fetch button with this data names, if this program drew it.
    Fetch(String, oneshot::Sender<Option<String>>),
    /// The visible screen, as text.
    Screen(oneshot::Sender<String>),
    /// The visible screen as a PNG picture.
    Picture(oneshot::Sender<Vec<u8>>),
    /// The permission mode, as far as the screen or the transcript tells.
    Mode(oneshot::Sender<Option<String>>),
    /// Stop the program: SIGTERM, this grace, SIGKILL.
    Stop(Duration),
    /// A terminal attaches (`telepty attach`): the screen as it is now and, from that
    /// very point on, the program's output as it comes.
    Attach(oneshot::Sender<Tap>),
    /// Bytes typed at an attached terminal, as they are.
    Typed(Vec<u8>),
    /// The terminal size while an attached terminal sets it; `None` gives the session
    /// its own size back.
    Resize(Option<Size>),
}

/// What an attached terminal gets: escape sequences that draw the screen as it is now
/// (contents, colours, cursor, input modes), then the output that follows it.
pub struct Tap {
    pub screen: Vec<u8>,
    pub size: Size,
    pub output: broadcast::Receiver<Vec<u8>>,
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tap({} bytes of screen, {:?})",
            self.screen.len(),
            self.size
        )
    }
}

/// Output chunks kept for a slow attached terminal before it must draw the screen anew.
const TAP_BACKLOG: usize = 1024;
/// Transcript lines read ahead of the session task (the follower waits beyond it).
const TRANSCRIPT_BACKLOG: usize = 256;

/// What the program is doing, as far as the bot needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    /// Nothing readable yet: input would be lost or land in the wrong place.
    Starting,
    /// Ready for the user's message.
    Ready,
    /// Working on something (Claude Code's status line).
    Busy,
    /// A prompt waits for the user's answer.
    Waiting,
}

/// What a session reports.
#[derive(Debug)]
pub enum Event {
    /// Chat operations, due now, in order.
    Ops(Vec<Operation>),
    /// The program's activity changed.
    Activity(Activity),
    /// The screen shows a usage limit; it resets at this time (as shown).
    UsageLimit(String),
    /// The program ended; every chat operation has been reported.
    Ended(Ending),
}

/// How a program ended, and what it left on the screen.
#[derive(Clone, Debug)]
pub struct Ending {
    pub info: ExitInfo,
    /// The screen's last non-blank lines.
    pub last_lines: Vec<String>,
    /// The conversation id the program printed on its way out (profile `session_id`).
    pub session_id: Option<String>,
}

/// How many of the screen's last lines an [`Ending`] keeps.
const LAST_LINES: usize = 12;

/// The handle of a running session.
#[derive(Clone)]
pub struct Session {
    requests: mpsc::Sender<Request>,
    pid: u32,
}

impl Session {
    /// Starts `command` in a PTY and the task that drives it; events go to `events`.
    /// Its buttons carry `stamp` (see [`crate::core::buttons`]). With `transcript`, the
    /// program's own log of the conversation is followed beside the screen.
    pub fn spawn(
        command: Command,
        profile: Arc<Profile>,
        limits: Limits,
        stamp: crate::core::buttons::Stamp,
        transcript: Option<Follow>,
        events: mpsc::Sender<Event>,
    ) -> anyhow::Result<Session> {
        // Followed from before the program starts, so that none of its lines is missed
        // and none of an earlier run's is taken for new.
        // A conversation whose file is there already (a resume) may answer before the
        // file's first look: its turns wait for the transcript from the start. A new one
        // is waited for once its file has delivered (its first entry is the user's
        // message, written well before the answer).
        let known = transcript
            .as_ref()
            .and_then(|t| t.file.as_deref())
            .is_some_and(std::path::Path::exists);
        let lines = transcript.map(|what| {
            let (tx, rx) = mpsc::channel(TRANSCRIPT_BACKLOG);
            let follower = crate::session::transcript::Follower::new(what);
            tokio::spawn(crate::session::transcript::follow(
                follower,
                tx,
                crate::session::transcript::POLL,
                Default::default(),
            ));
            rx
        });
        let (pty, output) = Pty::spawn(&command)?;
        let pid = pty.pid();
        let mut pipeline = Pipeline::new(profile, command.size, limits).with_stamp(stamp);
        if known {
            pipeline.expect_transcript();
        }
        let (requests, inbox) = mpsc::channel(64);
        tokio::spawn(run(pty, output, lines, pipeline, inbox, events));
        Ok(Session { requests, pid })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends a request; false if the session has ended.
    pub async fn send(&self, request: Request) -> bool {
        self.requests.send(request).await.is_ok()
    }

    /// The path a file button names; `None` if this program did not draw it.
    pub async fn fetch(&self, data: &str) -> Option<String> {
        let (tx, rx) = oneshot::channel();
        if !self.send(Request::Fetch(data.to_string(), tx)).await {
            return None;
        }
        reply(rx).await.flatten()
    }

    /// The visible screen as text (empty once the session has ended).
    pub async fn screen(&self) -> String {
        let (tx, rx) = oneshot::channel();
        if !self.send(Request::Screen(tx)).await {
            return String::new();
        }
        reply(rx).await.unwrap_or_default()
    }

    /// The permission mode (the footer's, else the transcript's newest).
    pub async fn mode(&self) -> Option<String> {
        let (tx, rx) = oneshot::channel();
        if !self.send(Request::Mode(tx)).await {
            return None;
        }
        reply(rx).await.flatten()
    }

    /// The visible screen as a PNG picture (empty once the session has ended).
    pub async fn picture(&self) -> Vec<u8> {
        let (tx, rx) = oneshot::channel();
        if !self.send(Request::Picture(tx)).await {
            return Vec::new();
        }
        reply(rx).await.unwrap_or_default()
    }

    /// Attaches a terminal: the screen now and the output from then on (`None` once the
    /// session has ended).
    pub async fn attach(&self) -> Option<Tap> {
        let (tx, rx) = oneshot::channel();
        if !self.send(Request::Attach(tx)).await {
            return None;
        }
        reply(rx).await
    }

    /// Presses a prompt button; false if its prompt is gone.
    pub async fn press(&self, data: &str) -> bool {
        let (tx, rx) = oneshot::channel();
        if !self.send(Request::Press(data.to_string(), tx)).await {
            return false;
        }
        reply(rx).await.unwrap_or(false)
    }
}

/// How long the bot waits for a session's answer to a request (a screen, a press):
/// a session stuck on a huge screen must not hold up the bot.
pub const REPLY_WAIT: Duration = Duration::from_secs(10);

/// A session's answer, or `None` if it has ended or takes longer than [`REPLY_WAIT`].
async fn reply<T>(rx: oneshot::Receiver<T>) -> Option<T> {
    match tokio::time::timeout(REPLY_WAIT, rx).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(_)) => None,
        Err(_) => {
            tracing::warn!("a session did not answer within {REPLY_WAIT:?}");
            None
        }
    }
}

/// The session's task.
async fn run(
    pty: Pty,
    mut output: mpsc::Receiver<Vec<u8>>,
    mut transcript: Option<mpsc::Receiver<crate::session::transcript::Followed>>,
    mut pipeline: Pipeline,
    mut inbox: mpsc::Receiver<Request>,
    events: mpsc::Sender<Event>,
) {
    let start = Instant::now();
    let now = || start.elapsed();
    let mut output_open = true;
    let mut inbox_open = true;
    let mut exit: Option<ExitInfo> = None;
    let mirror = pipeline.view_kind() == ViewKind::Mirror;
    // A mirrored program has no readable states: it takes input from the start.
    let mut activity = if mirror {
        Activity::Ready
    } else {
        Activity::Starting
    };
    let _ = events.send(Event::Activity(activity)).await;
    let mut usage_limit: Option<String> = None;
    // The text of each message, then its Enter (see `core::typing`).
    let mut typist = {
        let profile = pipeline.profile();
        Typist::new(profile.enter_gap, profile.echo_wait, !mirror)
    };
    // When the prompt on screen appeared, and the keys of a button pressed too soon after
    // (held until the prompt takes keys: the profile's `prompt_settle`).
    let mut prompt_since: Option<Duration> = None;
    let mut held: Option<(Duration, Vec<u8>)> = None;
    let settle = pipeline.profile().prompt_settle;
    // Attached terminals hear the output here; the session's own size is kept for when
    // a terminal that resized it lets go.
    let (taps, _) = broadcast::channel::<Vec<u8>>(TAP_BACKLOG);
    let own_size = pipeline.screen().size();
    let send = |ops: Vec<crate::core::ops::TimedOp>| {
        let events = events.clone();
        async move {
            if !ops.is_empty() {
                let _ = events
                    .send(Event::Ops(ops.into_iter().map(|o| o.op).collect()))
                    .await;
            }
        }
    };
    loop {
        let deadline = [
            pipeline.next_deadline(),
            typist.deadline(),
            held.as_ref().map(|h| h.0),
        ]
        .into_iter()
        .flatten()
        .min();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(start + d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            chunk = output.recv(), if output_open => match chunk {
                Some(bytes) => {
                    // What else has arrived goes along in the same trip to the parser.
                    let mut chunks = vec![bytes];
                    let mut size = chunks[0].len();
                    while size < FEED_BATCH {
                        let Ok(more) = output.try_recv() else { break };
                        size += more.len();
                        chunks.push(more);
                    }
                    if taps.receiver_count() > 0 {
                        for bytes in &chunks {
                            let _ = taps.send(bytes.clone());
                        }
                    }
                    let Some((back, ops, replies)) = feed(pipeline, now(), chunks).await else {
                        return;
                    };
                    pipeline = back;
                    if !replies.is_empty() {
                        pty.write(&replies);
                    }
                    send(ops).await;
                }
                None => output_open = false,
            },
            line = next_line(&mut transcript), if transcript.is_some() => match line {
                Some(followed) => send(pipeline.transcript_line(now(), &followed.line)).await,
                None => transcript = None,
            },
            info = pty.wait(), if exit.is_none() => {
                // Output still in flight comes first (without waiting on descendants that
                // keep the terminal open).
                while let Ok(Some(bytes)) =
                    tokio::time::timeout(Duration::from_millis(100), output.recv()).await
                {
                    let Some((back, ops, _)) = feed(pipeline, now(), vec![bytes]).await else {
                        return;
                    };
                    pipeline = back;
                    send(ops).await;
                }
                output_open = false;
                let how = info.to_string();
                send(pipeline.exited(now(), how)).await;
                exit = Some(info);
            },
            request = inbox.recv(), if inbox_open => match request {
                Some(Request::Text(text)) => {
                    // Text, never keys: escapes and control characters go here.
                    let text = crate::term::keys::typed_text(&text);
                    if let Some(step) = typist.message(now(), text) {
                        send(perform(&pty, &mut pipeline, now(), step)).await;
                    }
                }
                Some(Request::Keys(keys)) => {
                    let app = pipeline.screen().application_cursor();
                    let bytes: Vec<u8> = keys.iter().flat_map(|k| k.bytes(app)).collect();
                    pty.write(&bytes);
                    send(pipeline.input(now(), &bytes)).await;
                }
                Some(Request::Press(data, reply)) => {
                    let keys = pipeline.press(now(), &data);
                    if let Some(keys) = &keys {
                        let app = pipeline.screen().application_cursor();
                        let bytes: Vec<u8> = keys.iter().flat_map(|k| k.bytes(app)).collect();
                        let takes_keys = prompt_since.map_or(now(), |t| t + settle);
                        if takes_keys > now() {
                            held.get_or_insert((takes_keys, Vec::new())).1.extend(bytes);
                        } else {
                            pty.write(&bytes);
                        }
                    }
                    let _ = reply.send(keys.is_some());
                }
                Some(Request::Fetch(data, reply)) => {
                    let _ = reply.send(pipeline.fetch(&data));
                }
                Some(Request::Screen(reply)) => {
                    let _ = reply.send(pipeline.screen().text());
                }
                Some(Request::Mode(reply)) => {
                    let _ = reply.send(pipeline.mode());
                }
                Some(Request::Picture(reply)) => {
                    // Drawn off the runtime's threads, as parsing is.
                    let screen = pipeline.screen().vt().clone();
                    tokio::task::spawn_blocking(move || {
                        let _ = reply.send(crate::term::picture::render_png(&screen));
                    });
                }
                Some(Request::Attach(reply)) => {
                    let screen = pipeline.screen().vt();
                    let mut drawn = screen.state_formatted().into_bytes();
                    drawn.extend_from_slice(screen.cursor_state_formatted().as_bytes());
                    let _ = reply.send(Tap {
                        screen: drawn,
                        size: pipeline.screen().size(),
                        output: taps.subscribe(),
                    });
                }
                Some(Request::Typed(bytes)) => {
                    pty.write(&bytes);
                    send(pipeline.input(now(), &bytes)).await;
                }
                Some(Request::Resize(size)) => {
                    // A terminal's size comes from outside: the screen's cells are
                    // allocated for it, so it has a ceiling.
                    let size = size.map_or(own_size, |s| {
                        Size::new(s.cols.clamp(2, MAX_COLS), s.rows.clamp(2, MAX_ROWS))
                    });
                    if size != pipeline.screen().size() && pty.resize(size).is_ok() {
                        send(pipeline.resize(now(), size)).await;
                    }
                }
                Some(Request::Stop(grace)) => {
                    let info = pty.stop(grace).await;
                    if exit.is_none() {
                        send(pipeline.exited(now(), info.to_string())).await;
                        exit = Some(info);
                        output_open = false;
                    }
                }
                None => inbox_open = false,
            },
            _ = sleep => {
                if held.as_ref().is_some_and(|(at, _)| now() >= *at) {
                    if let Some((_, bytes)) = held.take() {
                        pty.write(&bytes);
                    }
                }
                if typist.deadline().is_some_and(|at| now() >= at) {
                    let screen = pipeline.screen().text();
                    for step in typist.due(now(), &screen) {
                        send(perform(&pty, &mut pipeline, now(), step)).await;
                    }
                }
                send(pipeline.advance(now())).await;
            }
        }
        match (pipeline.view().prompt().is_some(), prompt_since) {
            (true, None) => prompt_since = Some(now()),
            (false, Some(_)) => prompt_since = None,
            _ => {}
        }
        let now_doing = match pipeline.view().state() {
            _ if mirror => Activity::Ready,
            State::Starting | State::Exited(_) => Activity::Starting,
            // Still typing a message (its Enter not sent yet): not idle.
            State::Idle if typist.is_typing() => Activity::Busy,
            State::Idle => Activity::Ready,
            State::Busy(_) => Activity::Busy,
            State::Waiting => Activity::Waiting,
        };
        if now_doing != activity && exit.is_none() {
            activity = now_doing;
            let _ = events.send(Event::Activity(activity)).await;
            // A usage limit ends a turn: looked for when the program stops working.
            if activity != Activity::Busy {
                let shown = pipeline.usage_limit();
                if shown.is_some() && shown != usage_limit {
                    let _ = events
                        .send(Event::UsageLimit(shown.clone().unwrap_or_default()))
                        .await;
                }
                usage_limit = shown;
            }
        }
        if let Some(info) = &exit {
            if pipeline.next_deadline().is_none() {
                let _ = events.send(Event::Ended(ending(&pipeline, info))).await;
                return;
            }
        }
        if !inbox_open && exit.is_none() {
            // Nobody can talk to the session any more: stop it.
            let info = pty.stop(Duration::from_secs(2)).await;
            send(pipeline.exited(now(), info.to_string())).await;
            exit = Some(info);
            output_open = false;
        }
    }
}

/// The next line of the transcript (`None`: the follower stopped).
async fn next_line(
    lines: &mut Option<mpsc::Receiver<crate::session::transcript::Followed>>,
) -> Option<crate::session::transcript::Followed> {
    match lines {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// How much queued output one trip to the parser takes at most.
const FEED_BATCH: usize = 1 << 20;

/// Feeds output to the pipeline on tokio's blocking pool and hands the pipeline back,
/// with the chat operations and the answers to the program's terminal queries. Parsing
/// a flood of output on a big screen held a runtime thread for seconds: the update
/// loop and the other sessions waited behind it (another session's answer took 5.2 s
/// instead of 0.2 s beside two floods on a 500×200 screen). `None` if the runtime is
/// shutting down; a panic in the pipeline goes on as the task's own.
async fn feed(
    mut pipeline: Pipeline,
    now: Duration,
    chunks: Vec<Vec<u8>>,
) -> Option<(Pipeline, Vec<crate::core::ops::TimedOp>, Vec<u8>)> {
    let parsed = tokio::task::spawn_blocking(move || {
        let mut ops = Vec::new();
        for bytes in &chunks {
            ops.extend(pipeline.output(now, bytes));
        }
        let replies = pipeline.take_replies();
        (pipeline, ops, replies)
    })
    .await;
    match parsed {
        Ok(parsed) => Some(parsed),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => None,
    }
}

/// Performs a typing step: a message's text (pasted when it has several lines, or the
/// profile pastes every message, and the program asked for bracketed paste), or the
/// Enter that sends it.
fn perform(
    pty: &Pty,
    pipeline: &mut Pipeline,
    now: Duration,
    step: Step,
) -> Vec<crate::core::ops::TimedOp> {
    let bytes = match step {
        Step::Text(text) if text.contains('\n') || pipeline.profile().paste_always => {
            paste_bytes(&text, pipeline.screen().bracketed_paste())
        }
        Step::Text(text) => text.into_bytes(),
        Step::Enter => b"\r".to_vec(),
    };
    pty.write(&bytes);
    pipeline.input(now, &bytes)
}

/// The report of a program's end: its exit, the screen's last lines, the conversation id.
fn ending(pipeline: &Pipeline, info: &ExitInfo) -> Ending {
    let words = pipeline.last_words(LAST_LINES);
    Ending {
        info: info.clone(),
        last_lines: words.lines,
        session_id: words.session_id,
    }
}
