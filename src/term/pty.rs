//! A program running in a pseudo-terminal.
//!
//! portable-pty does the platform work; this module adds what a long-running bridge
//! needs on top: a checked working directory, a scrubbed environment, output read on a
//! dedicated thread into a tokio channel (the runtime never blocks on the PTY), input
//! written by another thread, and a stop that always ends with the child reaped.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use portable_pty::{native_pty_system, CommandBuilder, MasterPty, PtySize};
use tokio::sync::{mpsc, watch};

use crate::term::screen::Size;

/// Bytes read from the PTY at once. Claude Code writes frames of a few KiB.
const READ_BUFFER_SIZE: usize = 64 * 1024;

/// Output chunks buffered between the reader thread and the session. When full, the
/// reader waits, and the program waits on its write: back-pressure, not data loss.
const OUTPUT_QUEUE: usize = 256;

/// How long `stop` waits for the process group after SIGKILL before giving up on it.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Variables a child never inherits: another terminal multiplexer's or Claude Code's
/// own markers would change how the program behaves, and telepty's and Telegram's
/// settings hold the bot token.
const SCRUBBED: &[&str] = &[
    "CLAUDECODE",
    "TMUX",
    "TMUX_PANE",
    "STY",
    "COLUMNS",
    "LINES",
    "TERM",
];
const SCRUBBED_PREFIXES: &[&str] = &["TELEPTY_", "TELEGRAM_"];

/// What to run and how.
#[derive(Clone, Debug)]
pub struct Command {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    /// Variables set for the child on top of the (scrubbed) environment of telepty.
    pub env: Vec<(String, String)>,
    /// `LANG` for the child; `C.UTF-8` when not set.
    pub lang: Option<String>,
    pub size: Size,
    /// What to tell the user when the program is not found ("install Claude Code (npm
    /// install -g …)"; the profile knows).
    pub missing_hint: Option<String>,
}

impl Command {
    pub fn new(program: impl Into<String>, cwd: impl Into<PathBuf>) -> Self {
        Command {
            program: program.into(),
            args: Vec::new(),
            cwd: cwd.into(),
            env: Vec::new(),
            lang: None,
            size: Size::new(100, 30),
            missing_hint: None,
        }
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn size(mut self, size: Size) -> Self {
        self.size = size;
        self
    }
}

/// Whether a variable must not reach a child.
pub fn is_scrubbed(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SCRUBBED.contains(&upper.as_str()) || SCRUBBED_PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// The environment a child gets: the parent's minus the scrubbed variables, then the
/// command's own (scrubbed names refused there too), then `TERM` and `LANG`.
pub fn child_env(
    parent: impl IntoIterator<Item = (String, String)>,
    extra: &[(String, String)],
    lang: Option<&str>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: &str| {
        env.retain(|(key, _)| key != k);
        env.push((k.to_string(), v.to_string()));
    };
    for (k, v) in parent.into_iter().filter(|(k, _)| !is_scrubbed(k)) {
        set(&k, &v);
    }
    for (k, v) in extra.iter().filter(|(k, _)| !is_scrubbed(k)) {
        set(k, v);
    }
    set("TERM", "xterm-256color");
    set("LANG", lang.unwrap_or("C.UTF-8"));
    env
}

/// How a program ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitInfo {
    /// The exit code (1 when killed by a signal, as portable-pty reports it).
    pub code: u32,
    /// The signal's name when it was killed by one (`Terminated`, `Killed`).
    pub signal: Option<String>,
}

impl ExitInfo {
    pub fn success(&self) -> bool {
        self.signal.is_none() && self.code == 0
    }
}

impl std::fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.signal {
            Some(signal) => write!(f, "killed by signal ({signal})"),
            None => write!(f, "exited with code {}", self.code),
        }
    }
}

/// A running program. Dropping it kills the program's process group.
pub struct Pty {
    /// Behind a mutex only so that a `Pty` is `Sync` (a session task awaits on it).
    master: std::sync::Mutex<Box<dyn MasterPty + Send>>,
    input: std::sync::mpsc::Sender<Vec<u8>>,
    pid: u32,
    exit: watch::Receiver<Option<ExitInfo>>,
}

/// Where `program` is: itself when it names a path, else the first match on PATH.
pub fn locate(program: &str) -> Option<std::path::PathBuf> {
    let path = std::path::Path::new(program);
    if program.contains('/') {
        return path.is_file().then(|| path.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

impl Pty {
    /// Starts the command. Returns the process and the channel its output arrives on;
    /// the channel closes when the terminal reaches end of file.
    pub fn spawn(command: &Command) -> anyhow::Result<(Pty, mpsc::Receiver<Vec<u8>>)> {
        check_cwd(&command.cwd)?;
        let pair = native_pty_system()
            .openpty(pty_size(command.size))
            .context("cannot open a pseudo-terminal")?;
        let mut builder = CommandBuilder::new(&command.program);
        builder.args(&command.args);
        builder.cwd(&command.cwd);
        builder.env_clear();
        for (k, v) in child_env(std::env::vars(), &command.env, command.lang.as_deref()) {
            builder.env(k, v);
        }
        // Said plainly before portable-pty says it obscurely (unless the child gets a
        // PATH of its own).
        let own_path = command.env.iter().any(|(k, _)| k == "PATH");
        if !own_path && locate(&command.program).is_none() {
            let hint = match &command.missing_hint {
                Some(hint) => format!("{hint}, or name another program"),
                None => "install it, or give its full path".into(),
            };
            anyhow::bail!(
                "cannot start {:?}: it is not on PATH; {hint}",
                command.program
            );
        }
        let mut child = pair.slave.spawn_command(builder).with_context(|| {
            format!(
                "cannot start {:?} in {}",
                command.program,
                command.cwd.display()
            )
        })?;
        // The slave end must close here, or the reader never sees end of file.
        drop(pair.slave);
        let pid = child.process_id().context("the child has no process id")?;

        let mut reader = pair
            .master
            .try_clone_reader()
            .context("cannot read from the pseudo-terminal")?;
        let mut writer = pair
            .master
            .take_writer()
            .context("cannot write to the pseudo-terminal")?;
        let (out_tx, out_rx) = mpsc::channel(OUTPUT_QUEUE);
        std::thread::Builder::new()
            .name(format!("pty-read-{pid}"))
            .spawn(move || {
                let mut buf = vec![0u8; READ_BUFFER_SIZE];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break, // EOF, or EIO once every holder of the tty closed it
                        Ok(n) => {
                            if out_tx.blocking_send(buf[..n].to_vec()).is_err() {
                                break;
                            }
                        }
                    }
                }
            })?;

        let (in_tx, in_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::Builder::new()
            .name(format!("pty-write-{pid}"))
            .spawn(move || {
                for bytes in in_rx {
                    if let Err(e) = writer.write_all(&bytes).and_then(|_| writer.flush()) {
                        tracing::debug!(pid, error = %e, "write to pty failed");
                        break;
                    }
                }
                // Dropping the writer sends EOF (^D) to the child; harmless once it is gone.
            })?;

        let (exit_tx, exit_rx) = watch::channel(None);
        std::thread::Builder::new()
            .name(format!("pty-wait-{pid}"))
            .spawn(move || {
                // The leader's end is seen first without reaping it: while it is a
                // zombie its pid — the group's id — cannot be given to anyone else, so
                // what is left of its group (background jobs) is killed safely. Once
                // reaped, a signal to that id could reach an unrelated new group.
                wait_unreaped(pid);
                if let Ok(pgid) = libc::pid_t::try_from(pid) {
                    // SAFETY: kill(2) with a negative pid signals a process group.
                    unsafe {
                        libc::kill(-pgid, libc::SIGKILL);
                    }
                }
                let info = match child.wait() {
                    Ok(status) => ExitInfo {
                        code: status.exit_code(),
                        signal: status.signal().map(str::to_string),
                    },
                    Err(e) => {
                        tracing::warn!(pid, error = %e, "waiting for the child failed");
                        ExitInfo {
                            code: 1,
                            signal: None,
                        }
                    }
                };
                let _ = exit_tx.send(Some(info));
            })?;

        Ok((
            Pty {
                master: std::sync::Mutex::new(pair.master),
                input: in_tx,
                pid,
                exit: exit_rx,
            },
            out_rx,
        ))
    }

    /// The child's process id, which is also its process group id (it calls `setsid`).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Queues bytes for the program's input; never blocks.
    pub fn write(&self, bytes: &[u8]) {
        let _ = self.input.send(bytes.to_vec());
    }

    pub fn resize(&self, size: Size) -> anyhow::Result<()> {
        self.master
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .resize(pty_size(size))
            .context("cannot resize the pseudo-terminal")
    }

    /// How the program ended, once it has.
    pub fn exit_info(&self) -> Option<ExitInfo> {
        self.exit.borrow().clone()
    }

    /// Waits until the program has ended and been reaped.
    pub async fn wait(&self) -> ExitInfo {
        let mut exit = self.exit.clone();
        loop {
            if let Some(info) = exit.borrow_and_update().clone() {
                return info;
            }
            if exit.changed().await.is_err() {
                return exit.borrow().clone().unwrap_or(ExitInfo {
                    code: 1,
                    signal: None,
                });
            }
        }
    }

    /// Stops the program: SIGHUP and SIGTERM to its process group, `grace` to finish,
    /// then SIGKILL.
    /// Whatever is left of the group afterwards (background jobs) is killed too.
    pub async fn stop(&self, grace: Duration) -> ExitInfo {
        if self.exit_info().is_none() {
            // The terminal goes away (SIGHUP: what ends an interactive shell, which
            // ignores SIGTERM) and the program is asked to end (SIGTERM).
            self.signal_group(libc::SIGHUP);
            self.signal_group(libc::SIGTERM);
            if tokio::time::timeout(grace, self.wait()).await.is_err() {
                tracing::info!(pid = self.pid, "still running after {grace:?}; killing it");
                self.signal_group(libc::SIGKILL);
            }
        }
        // The rest of the group goes as the leader is reaped (the waiter thread).
        tokio::time::timeout(KILL_WAIT, self.wait())
            .await
            .unwrap_or_else(|_| {
                tracing::error!(pid = self.pid, "the child did not end even after SIGKILL");
                ExitInfo {
                    code: 1,
                    signal: Some("Killed".into()),
                }
            })
    }

    /// Signals the program's process group — only while its leader is unreaped (its
    /// pid, the group's id, cannot have been reused).
    fn signal_group(&self, signal: libc::c_int) {
        if self.exit_info().is_some() {
            return;
        }
        let Ok(pgid) = libc::pid_t::try_from(self.pid) else {
            return;
        };
        // SAFETY: kill(2) with a negative pid signals a process group; it touches no memory.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        // The waiter thread reaps the child once it dies.
        self.signal_group(libc::SIGKILL);
    }
}

/// Blocks until child `pid` has ended, leaving it unreaped (a zombie).
fn wait_unreaped(pid: u32) {
    let id: libc::id_t = pid;
    loop {
        // SAFETY: waitid(2) writes only into the siginfo_t we own.
        let rc = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(libc::P_PID, id, &mut info, libc::WEXITED | libc::WNOWAIT)
        };
        if rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

fn pty_size(size: Size) -> PtySize {
    PtySize {
        rows: size.rows,
        cols: size.cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

/// portable-pty falls back to `$HOME` for a bad working directory; refuse instead.
fn check_cwd(cwd: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(cwd) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => bail!("working directory {} is not a directory", cwd.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("working directory {} does not exist", cwd.display())
        }
        Err(e) => bail!("working directory {}: {e}", cwd.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn scrubs_secrets_and_multiplexer_markers() {
        let parent = vars(&[
            ("PATH", "/bin"),
            ("TELEPTY_TOKEN", "123:secret"),
            ("telegram_bot_token", "x"),
            ("CLAUDECODE", "1"),
            ("TMUX", "/tmp/t"),
            ("STY", "s"),
            ("LANG", "de_DE.UTF-8"),
            ("TERM", "dumb"),
        ]);
        let extra = vars(&[("TELEPTY_API_URL", "http://x"), ("FOO", "bar")]);
        let env = child_env(parent, &extra, None);
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["PATH", "FOO", "TERM", "LANG"]);
        assert!(env.contains(&("TERM".into(), "xterm-256color".into())));
        assert!(env.contains(&("LANG".into(), "C.UTF-8".into())));
        let env = child_env(vec![], &[], Some("en_GB.UTF-8"));
        assert!(env.contains(&("LANG".into(), "en_GB.UTF-8".into())));
    }

    #[test]
    fn a_bad_cwd_names_the_path() {
        let err = check_cwd(Path::new("/no/such/dir"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "working directory /no/such/dir does not exist");
        let err = check_cwd(Path::new("/etc/hostname"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "working directory /etc/hostname is not a directory");
    }

    #[test]
    fn exit_info_reads_well() {
        assert_eq!(
            ExitInfo {
                code: 3,
                signal: None
            }
            .to_string(),
            "exited with code 3"
        );
        let killed = ExitInfo {
            code: 1,
            signal: Some("Killed".into()),
        };
        assert_eq!(killed.to_string(), "killed by signal (Killed)");
        assert!(!killed.success());
    }
}
