//! `telepty local` end to end: a real PTY, a scripted terminal program, the console as
//! the chat. A prompt drawn by the program becomes numbered buttons; typing the number
//! presses the option on the terminal, and the message then shows the choice.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// `telepty local` as a user at a console: lines typed in, the printed chat read back.
struct Console {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// Every line printed so far, for the conditions and the failure messages.
    seen: Vec<String>,
}

impl Console {
    /// Starts `telepty local` as `command` describes, its stdout read by a thread.
    fn start(mut command: Command) -> Console {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Console {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// Types a line, as a user sends a message.
    fn send(&mut self, line: &str) {
        writeln!(self.stdin.as_mut().expect("input still open"), "{line}").unwrap();
    }

    /// Ends the input, as a user closing the console.
    fn close_input(&mut self) {
        self.stdin = None;
    }

    /// Whether a printed line contains `text`.
    fn shows(&self, text: &str) -> bool {
        self.seen.iter().any(|l| l.contains(text))
    }

    /// Reads lines until one contains `want`, or fails after `timeout`.
    fn wait_for(&mut self, want: &str, timeout: Duration) {
        if !self.saw(want, timeout) {
            panic!(
                "no {want:?} within {timeout:?}; output so far:\n{}",
                self.seen.join("\n")
            );
        }
    }

    /// Reads lines until one contains `want` (true), or `timeout` passes (false).
    fn saw(&mut self, want: &str, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while !self.shows(want) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => return false,
            }
        }
        true
    }

    /// Waits for the process to exit (the input must be closed first).
    fn exits_cleanly(mut self) -> bool {
        self.stdin = None;
        self.child.wait().unwrap().success()
    }
}

/// `telepty local ARGS…`, in `dir`.
fn local(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_telepty"));
    command.arg("local").args(args).current_dir(dir);
    command
}

#[test]
fn a_prompt_becomes_buttons_and_a_press_answers_it_on_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let answer = dir.path().join("answer");
    let script = dir.path().join("prompt.sh");
    std::fs::write(
        &script,
        r#"printf '────────────────────────────────────────\r\n Do you want to proceed?\r\n ❯ 1. Yes\r\n   2. No\r\n\r\n Esc to cancel\r\n'
read -rsn1 k
printf '%s' "$k" > "$ANSWER"
printf '\033[2J\033[H'
sleep 1
"#,
    )
    .unwrap();
    let mut command = local(
        dir.path(),
        &["--profile", "claude", "--size", "60x20", "--"],
    );
    command.arg("bash").arg(&script).env("ANSWER", &answer);
    let mut console = Console::start(command);
    console.wait_for("[2] No", Duration::from_secs(20));
    assert!(console.shows("[1] Yes"), "{:?}", console.seen);
    assert!(
        console.shows("Do you want to proceed?"),
        "{:?}",
        console.seen
    );
    console.send("1");
    console.wait_for("→ Yes", Duration::from_secs(20));
    console.wait_for("session ended", Duration::from_secs(20));
    console.close_input();
    assert!(console.exits_cleanly());
    assert_eq!(
        std::fs::read_to_string(&answer).unwrap(),
        "1",
        "the digit reached the program"
    );
}

#[test]
fn a_shell_session_from_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = local(
        dir.path(),
        &["--profile", "plain", "--", "bash", "--norc", "--noprofile"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo $((6*7))-answered\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("42-answered"), "{out}");
    assert!(out.contains("session ended"), "{out}");
    assert!(out.matches("── #").count() >= 1, "{out}");
}

/// `telepty local` runs the bot's supervisor: `/new`, `/sessions`, `/stop`, idle
/// suspend and the resume by the next message, as in a chat.
#[test]
fn local_sessions_are_supervised_as_the_bots_are() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sessions");
    let args = dir.path().join("args");
    let fake = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/fake-claude.sh");
    let mut command = local(
        dir.path(),
        &["--profile", "claude", "--size", "60x20", "--"],
    );
    command
        .args(["bash", fake])
        .env("TELEPTY_IDLE_TIMEOUT", "2s")
        .env("TELEPTY_SESSIONS_ROOT", &root)
        .env("FAKE_ARGS", &args);
    let mut console = Console::start(command);
    let long = Duration::from_secs(30);
    console.send("hello");
    console.wait_for("You said: hello (turn 1)", long);

    // Idle for 2 s: suspended; the next message resumes the conversation.
    console.wait_for("local suspended after being idle", long);
    // Asked again until its program has ended (the notice comes as it is told to).
    let deadline = std::time::Instant::now() + long;
    loop {
        console.send("/sessions");
        if console.saw("local — suspended", Duration::from_secs(1)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{:?}", console.seen);
    }
    console.send("again");
    console.wait_for("Resuming local (--continue)", long);
    console.wait_for("You said: again (turn 2)", long);

    // A second session in a directory of its own under the sessions root.
    console.send("/new beta");
    console.wait_for("session beta started", long);
    console.send("hi");
    console.wait_for("You said: hi (turn 1)", long);
    assert!(root.join("beta").join(".fake-turns").is_file());
    console.send("/sessions");
    console.wait_for("▶ beta — ", long);
    console.wait_for("• local — ", long);

    // /stop ends beta's program; local goes on, and the end of input stops it too.
    console.send("/stop beta");
    console.wait_for("beta: session ended", long);
    console.send("/use local");
    console.wait_for("Now in local", long);
    console.close_input();
    console.wait_for("local: session ended", long);
    assert!(console.exits_cleanly());
    // Started (with a conversation id of telepty's choosing, which names its
    // transcript), resumed, and beta started fresh with an id of its own.
    let args = std::fs::read_to_string(&args).unwrap();
    let runs: Vec<&str> = args.lines().collect();
    assert_eq!(runs.len(), 3, "{args}");
    assert!(runs[0].starts_with("--session-id "), "{args}");
    assert_eq!(runs[1], "--continue", "{args}");
    assert!(
        runs[2].starts_with("--session-id ") && runs[2] != runs[0],
        "{args}"
    );
}
