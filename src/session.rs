//! A live session: a program in a PTY driven through the pipeline, in its own task.
//!
//! The task owns the PTY and the pipeline; callers talk to it through a [`Session`]
//! handle (requests in) and a channel of [`Event`]s (chat operations out, each when the
//! pacer lets it go). One busy session never delays another: nothing here blocks the
//! runtime, and the clock is the task's own (time since the session started).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::keys::{paste_bytes, Key};
use crate::pacer::{Limits, Operation};
use crate::pipeline::Pipeline;
use crate::profile::Profile;
use crate::pty::{Command, ExitInfo, Pty};

/// Claude Code takes an Enter that arrives in the same burst as text for a newline; the
/// Enter that sends goes this long after the text.
pub const ENTER_GAP: Duration = Duration::from_millis(150);

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
    /// The visible screen, as text.
    Screen(oneshot::Sender<String>),
    /// Stop the program: SIGTERM, this grace, SIGKILL.
    Stop(Duration),
}

/// What a session reports.
#[derive(Debug)]
pub enum Event {
    /// Chat operations, due now, in order.
    Ops(Vec<Operation>),
    /// The program started or stopped working on something (Claude Code's status line).
    Busy(bool),
    /// The program ended; every chat operation has been reported.
    Ended(ExitInfo),
}

/// The handle of a running session.
#[derive(Clone)]
pub struct Session {
    requests: mpsc::Sender<Request>,
    pid: u32,
}

impl Session {
    /// Starts `command` in a PTY and the task that drives it; events go to `events`.
    pub fn spawn(
        command: Command,
        profile: Arc<Profile>,
        limits: Limits,
        events: mpsc::Sender<Event>,
    ) -> anyhow::Result<Session> {
        let (pty, output) = Pty::spawn(&command)?;
        let pid = pty.pid();
        let pipeline = Pipeline::new(profile, command.size, limits);
        let (requests, inbox) = mpsc::channel(64);
        tokio::spawn(run(pty, output, pipeline, inbox, events));
        Ok(Session { requests, pid })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends a request; false if the session has ended.
    pub async fn send(&self, request: Request) -> bool {
        self.requests.send(request).await.is_ok()
    }

    /// The visible screen as text (empty once the session has ended).
    pub async fn screen(&self) -> String {
        let (tx, rx) = oneshot::channel();
        if !self.send(Request::Screen(tx)).await {
            return String::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Presses a prompt button; false if its prompt is gone.
    pub async fn press(&self, data: &str) -> bool {
        let (tx, rx) = oneshot::channel();
        if !self.send(Request::Press(data.to_string(), tx)).await {
            return false;
        }
        rx.await.unwrap_or(false)
    }
}

/// The session's task.
async fn run(
    pty: Pty,
    mut output: mpsc::Receiver<Vec<u8>>,
    mut pipeline: Pipeline,
    mut inbox: mpsc::Receiver<Request>,
    events: mpsc::Sender<Event>,
) {
    let start = Instant::now();
    let now = || start.elapsed();
    let mut enter_at: Option<Duration> = None;
    let mut output_open = true;
    let mut inbox_open = true;
    let mut exit: Option<ExitInfo> = None;
    let mut busy = false;
    let send = |ops: Vec<crate::pipeline::TimedOp>| {
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
        let deadline = [pipeline.next_deadline(), enter_at]
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
                    let ops = pipeline.output(now(), &bytes);
                    let replies = pipeline.take_replies();
                    if !replies.is_empty() {
                        pty.write(&replies);
                    }
                    send(ops).await;
                }
                None => output_open = false,
            },
            info = pty.wait(), if exit.is_none() => {
                // Output still in flight comes first (without waiting on descendants that
                // keep the terminal open).
                while let Ok(Some(bytes)) =
                    tokio::time::timeout(Duration::from_millis(100), output.recv()).await
                {
                    send(pipeline.output(now(), &bytes)).await;
                }
                output_open = false;
                let how = info.to_string();
                send(pipeline.exited(now(), how)).await;
                exit = Some(info);
            },
            request = inbox.recv(), if inbox_open => match request {
                Some(Request::Text(text)) => {
                    let bytes = if text.contains('\n') {
                        paste_bytes(&text, pipeline.screen().bracketed_paste())
                    } else {
                        text.into_bytes()
                    };
                    pty.write(&bytes);
                    send(pipeline.input(now(), &bytes)).await;
                    enter_at = Some(now() + ENTER_GAP);
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
                        pty.write(&bytes);
                    }
                    let _ = reply.send(keys.is_some());
                }
                Some(Request::Screen(reply)) => {
                    let _ = reply.send(pipeline.screen().text());
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
                if enter_at.is_some_and(|at| now() >= at) {
                    enter_at = None;
                    pty.write(b"\r");
                    send(pipeline.input(now(), b"\r")).await;
                }
                send(pipeline.advance(now())).await;
            }
        }
        let is_busy = matches!(pipeline.view().state(), crate::view::State::Busy(_));
        if is_busy != busy {
            busy = is_busy;
            let _ = events.send(Event::Busy(busy)).await;
        }
        if let Some(info) = &exit {
            if pipeline.next_deadline().is_none() {
                let _ = events.send(Event::Ended(info.clone())).await;
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
