//! `telepty record`: run a program in a PTY and write what it drew (and what was typed)
//! as an asciicast v2 recording — interactively, relaying the user's terminal, or from a
//! step file, so fixtures can be made again without a person.

pub mod script;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};

use crate::cast::asciicast::{EventKind, Header, Writer};
use crate::session::transcript::{Follow, Followed, Follower};
use crate::term::pty::{Command, ExitInfo};
use crate::term::screen::{normalize_whitespace, Size, DEFAULT_SCROLLBACK};
use crate::term::terminal::{Activity, Terminal};
use script::Step;

/// How long a program gets to end by itself after the last step before it is stopped.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Where and how to record.
#[derive(Clone, Debug)]
pub struct Options {
    pub command: Command,
    pub out: PathBuf,
    pub title: Option<String>,
    /// A plain-text copy of the output, escape sequences removed.
    pub text: Option<PathBuf>,
    /// The program's own transcript of the conversation, recorded beside the cast as
    /// `NAME.transcript.jsonl` (see [`crate::cast::transcript`]).
    pub follow: Option<Follow>,
}

/// How often a recording looks at the program's transcript (the moment a line appeared
/// is its time in the recording).
const TRANSCRIPT_POLL: Duration = Duration::from_millis(20);

/// The program's transcript, followed while recording.
struct Following {
    stop: tokio_util::sync::CancellationToken,
    writer: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A terminal whose every byte in and out is written to a recording.
pub struct Recorder {
    term: Terminal,
    cast: Writer<BufWriter<File>>,
    text: Option<strip_ansi_escapes::Writer<BufWriter<File>>>,
    start: Instant,
    following: Option<Following>,
}

impl Recorder {
    pub fn start(options: &Options) -> anyhow::Result<Recorder> {
        let file = File::create(&options.out)
            .with_context(|| format!("cannot create {}", options.out.display()))?;
        let size = options.command.size;
        let mut header = Header::new(size.cols, size.rows);
        header.timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs());
        header.env.insert("TERM".into(), "xterm-256color".into());
        if let Ok(shell) = std::env::var("SHELL") {
            header.env.insert("SHELL".into(), shell);
        }
        header.title = options.title.clone();
        let cast = Writer::new(BufWriter::new(file), &header)?;
        let text = match &options.text {
            Some(path) => {
                let file = File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                Some(strip_ansi_escapes::Writer::new(BufWriter::new(file)))
            }
            None => None,
        };
        // The transcript's follower takes the file's end before the program starts.
        let follower = options.follow.clone().map(Follower::new);
        let term = Terminal::spawn(&options.command, DEFAULT_SCROLLBACK)?;
        let start = Instant::now();
        let following = match follower {
            Some(follower) => Some(follow_into(
                follower,
                &crate::cast::transcript::beside(&options.out),
                start,
            )?),
            None => None,
        };
        Ok(Recorder {
            term,
            cast,
            text,
            start,
            following,
        })
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// The next thing the program did, already recorded.
    pub async fn next(&mut self) -> anyhow::Result<Activity> {
        let activity = self.term.next().await;
        if let Activity::Output(bytes, _) = &activity {
            self.cast.bytes(self.now(), EventKind::Output, bytes)?;
            if let Some(t) = &mut self.text {
                t.write_all(bytes)?;
            }
        }
        Ok(activity)
    }

    /// Sends bytes to the program and records them as input.
    pub fn input(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.term.write(bytes);
        self.cast.bytes(self.now(), EventKind::Input, bytes)?;
        Ok(())
    }

    pub fn resize(&mut self, size: Size) -> anyhow::Result<()> {
        self.term.resize(size)?;
        self.cast
            .event(self.now(), EventKind::Resize, &size.to_string())?;
        Ok(())
    }

    pub fn terminal(&self) -> &Terminal {
        &self.term
    }

    /// Records until `deadline` or until the program exits, whichever is first.
    async fn pump_until(
        &mut self,
        deadline: tokio::time::Instant,
    ) -> anyhow::Result<Option<ExitInfo>> {
        loop {
            match tokio::time::timeout_at(deadline, self.next()).await {
                Err(_) => return Ok(None),
                Ok(activity) => {
                    if let Activity::Exited(info) = activity? {
                        return Ok(Some(info));
                    }
                }
            }
        }
    }

    /// Stops the program if it still runs, records the rest of its output, closes files.
    pub async fn finish(mut self) -> anyhow::Result<ExitInfo> {
        if self.term.exit_info().is_none() {
            self.term.stop(STOP_GRACE).await;
        }
        let info = loop {
            if let Activity::Exited(info) = self.next().await? {
                break info;
            }
        };
        self.cast.into_inner().flush()?;
        if let Some(mut t) = self.text.take() {
            t.flush()?;
        }
        if let Some(following) = self.following.take() {
            // One last look, then every line is written.
            following.stop.cancel();
            following
                .writer
                .await
                .context("the transcript writer failed")??;
        }
        Ok(info)
    }
}

/// Follows the program's transcript into `path`: one `[t, file, entry]` line per entry,
/// `t` the moment it appeared since `start` (the cast's clock).
fn follow_into(follower: Follower, path: &Path, start: Instant) -> anyhow::Result<Following> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Followed>(1024);
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(crate::session::transcript::follow(
        follower,
        tx,
        TRANSCRIPT_POLL,
        stop.clone(),
    ));
    let shown = path.display().to_string();
    let writer = tokio::spawn(async move {
        let mut out = BufWriter::new(file);
        while let Some(followed) = rx.recv().await {
            let time = start.elapsed().as_secs_f64();
            // Only whole entries: a line that is not JSON is not Claude Code's.
            let Ok(entry) = serde_json::from_str(&followed.line) else {
                continue;
            };
            let line = crate::cast::transcript::Line {
                time: (time * 1e6).round() / 1e6,
                file: followed.file,
                entry,
            };
            writeln!(out, "{}", line.to_json()).with_context(|| format!("cannot write {shown}"))?;
            out.flush()?;
        }
        Ok(())
    });
    Ok(Following { stop, writer })
}

fn screen_shows(term: &Terminal, text: &str) -> bool {
    normalize_whitespace(&term.screen().text()).contains(&normalize_whitespace(text))
}

/// Runs a step file against a recorder. On failure the error shows the screen.
pub async fn run_script(rec: &mut Recorder, steps: &[Step]) -> anyhow::Result<()> {
    for (index, step) in steps.iter().enumerate() {
        run_step(rec, step).await.with_context(|| {
            format!(
                "step {} ({step:?}) failed; the screen:\n{}",
                index + 1,
                rec.terminal().screen().text()
            )
        })?;
    }
    Ok(())
}

async fn run_step(rec: &mut Recorder, step: &Step) -> anyhow::Result<()> {
    let now = tokio::time::Instant::now();
    match step {
        Step::Wait { text, timeout } | Step::WaitGone { text, timeout } => {
            let want_shown = matches!(step, Step::Wait { .. });
            let deadline = now + *timeout;
            while screen_shows(rec.terminal(), text) != want_shown {
                match tokio::time::timeout_at(deadline, rec.next()).await {
                    Err(_) => bail!("timed out after {timeout:?}"),
                    Ok(activity) => {
                        if let Activity::Exited(info) = activity? {
                            bail!("the program {info} while waiting");
                        }
                    }
                }
            }
        }
        Step::Quiet(quiet) => loop {
            match tokio::time::timeout(*quiet, rec.next()).await {
                Err(_) => break,
                Ok(activity) => {
                    if let Activity::Exited(_) = activity? {
                        break;
                    }
                }
            }
        },
        Step::Sleep(d) => {
            rec.pump_until(now + *d).await?;
        }
        Step::Type(text) => rec.input(text.as_bytes())?,
        Step::Paste(text) => {
            let bytes =
                crate::term::keys::paste_bytes(text, rec.terminal().screen().bracketed_paste());
            rec.input(&bytes)?;
        }
        Step::Keys(keys) => {
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    // Programs read a burst of keys as a paste; give each its own read.
                    rec.pump_until(tokio::time::Instant::now() + Duration::from_millis(150))
                        .await?;
                }
                let bytes = key.bytes(rec.terminal().screen().application_cursor());
                rec.input(&bytes)?;
            }
        }
        Step::Resize(size) => rec.resize(*size)?,
        Step::Exit { timeout } => {
            if rec.pump_until(now + *timeout).await?.is_none() {
                bail!("the program did not exit within {timeout:?}");
            }
        }
    }
    Ok(())
}

/// Records a step file's session: `telepty record --script`.
pub async fn record_script(options: &Options, script: &Path) -> anyhow::Result<ExitInfo> {
    let text = std::fs::read_to_string(script)
        .with_context(|| format!("cannot read {}", script.display()))?;
    let steps = script::parse(&text).with_context(|| format!("{}", script.display()))?;
    let mut rec = Recorder::start(options)?;
    let outcome = run_script(&mut rec, &steps).await;
    let info = rec.finish().await?;
    outcome.map(|_| info)
}

/// Records an interactive session, relaying the user's terminal: `telepty record`.
pub async fn record_interactive(options: &Options) -> anyhow::Result<ExitInfo> {
    use tokio::signal::unix::{signal, SignalKind};

    // Raw mode first: whatever the user types from the moment the recording exists goes
    // to the program byte for byte.
    let raw = crate::term::raw_mode::RawMode::enable()?;
    let mut rec = Recorder::start(options)?;
    let mut in_rx = crate::term::raw_mode::typed();
    let mut winch = signal(SignalKind::window_change())?;
    let mut stdout = std::io::stdout();
    loop {
        tokio::select! {
            activity = rec.next() => match activity? {
                Activity::Output(bytes, _) => {
                    stdout.write_all(&bytes)?;
                    stdout.flush()?;
                }
                Activity::Exited(_) => break,
            },
            Some(bytes) = in_rx.recv() => rec.input(&bytes)?,
            _ = winch.recv() => {
                if let Ok((cols, rows)) = crossterm::terminal::size() {
                    rec.resize(Size::new(cols, rows))?;
                }
            }
        }
    }
    drop(raw);
    rec.finish().await
}
