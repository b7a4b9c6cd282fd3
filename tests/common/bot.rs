//! The real `telepty run` binary against the fake Bot API, configured through
//! `TELEPTY_*` variables alone, with `tests/programs/fake-claude.sh` in the PTY.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use telepty_testkit::fake_telegram::{ChatMessage, FakeTelegram};

use super::root;

pub const TOKEN: &str = "4242:test-token";
pub const USER: i64 = 42;
pub const STRANGER: i64 = 99;

/// A running bot and its home (sessions root, state, the fake program's logs); the home
/// outlives a restart. Killed if a test fails before it stops it.
pub struct Bot {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub sessions: PathBuf,
    /// Every pid of the fake program, a line each.
    pub pids: PathBuf,
    /// Every line the fake program read, in order.
    pub inputs: PathBuf,
    /// The arguments of every start of the fake program, a line each.
    pub args: PathBuf,
    url: String,
    env: Vec<(String, String)>,
}

impl Drop for Bot {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        // SIGTERM first, so the bot stops its sessions; SIGKILL if it hangs.
        // SAFETY: kill(2) on the child's pid; touches no memory.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        for _ in 0..400 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_bot(fake: &FakeTelegram) -> Bot {
    start_bot_with(fake, &[])
}

pub fn start_bot_with(fake: &FakeTelegram, env: &[(&str, String)]) -> Bot {
    start_bot_at(&fake.url(), env)
}

/// A bot pointed at the Bot API at `url` (which may not answer yet).
pub fn start_bot_at(url: &str, env: &[(&str, String)]) -> Bot {
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let child = spawn(dir.path(), url, &env);
    Bot {
        child,
        sessions: dir.path().join("sessions"),
        pids: dir.path().join("pids"),
        inputs: dir.path().join("inputs"),
        args: dir.path().join("args"),
        dir,
        url: url.to_string(),
        env,
    }
}

fn spawn(home: &std::path::Path, url: &str, env: &[(String, String)]) -> Child {
    let script = root().join("tests/programs/fake-claude.sh");
    Command::new(env!("CARGO_BIN_EXE_telepty"))
        .arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // Quiet but for trouble, unless the one running the tests asks for more.
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "telepty=warn".into()),
        )
        .env("HOME", home)
        .env("TELEPTY_TOKEN", TOKEN)
        .env("TELEPTY_ALLOWED_USERS", USER.to_string())
        .env("TELEPTY_API_URL", url)
        .env("TELEPTY_SESSIONS_ROOT", home.join("sessions"))
        .env("TELEPTY_STATE_DIR", home.join("state"))
        .env("TELEPTY_COMMAND", format!("bash {}", script.display()))
        .env("TELEPTY_PTY_SIZE", "60x20")
        .env("FAKE_PIDS", home.join("pids"))
        .env("FAKE_INPUTS", home.join("inputs"))
        .env("FAKE_ARGS", home.join("args"))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

impl Bot {
    /// `kill -9` of telepty, as a power cut or the OOM killer would.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts telepty again in the same home, with the same configuration.
    pub fn restart(&mut self) {
        assert!(self.child.try_wait().unwrap().is_some(), "still running");
        self.child = spawn(self.dir.path(), &self.url, &self.env);
    }

    /// SIGTERM, and telepty's exit status (within 20 s).
    pub async fn terminate(&mut self) -> ExitStatus {
        // SAFETY: kill(2) on the child's pid; touches no memory.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "telepty did not exit on SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The pids of every start of the fake program.
    pub fn program_pids(&self) -> Vec<i32> {
        lines(&self.pids)
            .iter()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// The lines the fake program read, in order.
    pub fn program_inputs(&self) -> Vec<String> {
        lines(&self.inputs)
    }

    /// The arguments of each start of the fake program.
    pub fn program_args(&self) -> Vec<String> {
        lines(&self.args)
    }
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Whether process `pid` still exists (a zombie does: it exists until reaped).
pub fn exists(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits until none of `pids` exists any more — neither running nor a zombie — or fails
/// naming them.
pub async fn assert_gone(pids: &[i32], within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left: Vec<i32> = pids.iter().copied().filter(|p| exists(*p)).collect();
        if left.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "processes left behind (running or zombie): {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `cond` holds (checked every 50 ms), or fails after `within` naming `what`.
pub async fn wait_until(what: &str, within: Duration, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {what} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the chat satisfies `want` (polling the fake server), or fails showing the
/// chat and the calls.
pub async fn wait_chat(
    fake: &FakeTelegram,
    chat: i64,
    what: &str,
    want: impl Fn(&[ChatMessage]) -> bool,
) -> Vec<ChatMessage> {
    // Generous: a dropped connection costs the client's own timeout (17 s) first.
    wait_chat_for(fake, chat, what, Duration::from_secs(60), want).await
}

/// [`wait_chat`] for up to `limit`.
pub async fn wait_chat_for(
    fake: &FakeTelegram,
    chat: i64,
    what: &str,
    limit: Duration,
    want: impl Fn(&[ChatMessage]) -> bool,
) -> Vec<ChatMessage> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let messages = fake.chat(chat);
        if want(&messages) {
            return messages;
        }
        if tokio::time::Instant::now() > deadline {
            let texts: Vec<String> = messages
                .iter()
                .map(|m| format!("#{} {:?}", m.id, m.text))
                .collect();
            let calls: Vec<String> = fake
                .calls()
                .iter()
                .map(|c| {
                    format!(
                        "{} {:?} {}",
                        c.method,
                        c.error,
                        c.body.to_string().chars().take(80).collect::<String>()
                    )
                })
                .collect();
            panic!(
                "no {what} within {limit:?}; the chat:\n{}\ncalls:\n{}",
                texts.join("\n"),
                calls.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A chat condition: some message contains `text`.
pub fn has(text: &str) -> impl Fn(&[ChatMessage]) -> bool + '_ {
    move |ms| ms.iter().any(|m| m.text.contains(text))
}

/// How many messages of the chat contain `text`.
pub fn count(fake: &FakeTelegram, chat: i64, text: &str) -> usize {
    fake.chat(chat)
        .iter()
        .filter(|m| m.text.contains(text))
        .count()
}

/// How many messages and drafts the chat was shown that contain `text` (a turn's live
/// content is a draft in a private chat, a message elsewhere).
pub fn shown(fake: &FakeTelegram, chat: i64, text: &str) -> usize {
    let drafts = fake
        .draft_log(chat)
        .iter()
        .filter(|d| d.text.contains(text))
        .count();
    count(fake, chat, text) + drafts
}

/// The chat operations among `calls` (sends, edits, deletes) and the most of them in
/// any 60 s: what Telegram's flood limit counts.
pub fn operations(calls: &[telepty_testkit::fake_telegram::Call]) -> (usize, usize) {
    let ops: Vec<_> = calls
        .iter()
        .filter(|c| {
            matches!(
                c.method.as_str(),
                "sendmessage" | "editmessagetext" | "deletemessage"
            )
        })
        .collect();
    let worst = (0..ops.len())
        .map(|i| {
            ops[i..]
                .iter()
                .take_while(|d| d.at.duration_since(ops[i].at) < Duration::from_secs(60))
                .count()
        })
        .max()
        .unwrap_or(0);
    (ops.len(), worst)
}
