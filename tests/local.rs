//! `telepty local` end to end: a real PTY, a scripted terminal program, the console as
//! the chat. A prompt drawn by the program becomes numbered buttons; typing the number
//! presses the option on the terminal, and the message then shows the choice.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Reads stdout lines until one satisfies `want`, or fails after `timeout`.
fn wait_for(lines: &mpsc::Receiver<String>, seen: &mut Vec<String>, want: &str, timeout: Duration) {
    if !saw(lines, seen, want, timeout) {
        panic!(
            "no {want:?} within {timeout:?}; output so far:\n{}",
            seen.join("\n")
        );
    }
}

/// Reads stdout lines until one contains `want` (true), or `timeout` passes (false).
fn saw(
    lines: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    want: &str,
    timeout: Duration,
) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while !seen.iter().any(|l| l.contains(want)) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => return false,
        }
    }
    true
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_telepty"))
        .args(["local", "--profile", "claude", "--size", "60x20", "--"])
        .arg("bash")
        .arg(&script)
        .env("ANSWER", &answer)
        .current_dir(dir.path())
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
    let mut seen = Vec::new();
    wait_for(&lines, &mut seen, "[2] No", Duration::from_secs(20));
    assert!(seen.iter().any(|l| l.contains("[1] Yes")), "{seen:?}");
    assert!(
        seen.iter().any(|l| l.contains("Do you want to proceed?")),
        "{seen:?}"
    );
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "1").unwrap();
    wait_for(&lines, &mut seen, "→ Yes", Duration::from_secs(20));
    wait_for(&lines, &mut seen, "session ended", Duration::from_secs(20));
    drop(stdin);
    assert!(child.wait().unwrap().success());
    assert_eq!(
        std::fs::read_to_string(&answer).unwrap(),
        "1",
        "the digit reached the program"
    );
}

#[test]
fn a_shell_session_from_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_telepty"))
        .args([
            "local",
            "--profile",
            "plain",
            "--",
            "bash",
            "--norc",
            "--noprofile",
        ])
        .current_dir(dir.path())
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_telepty"))
        .args(["local", "--profile", "claude", "--size", "60x20", "--"])
        .args(["bash", fake])
        .env("TELEPTY_IDLE_TIMEOUT", "2s")
        .env("TELEPTY_SESSIONS_ROOT", &root)
        .env("FAKE_ARGS", &args)
        .current_dir(dir.path())
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
    let mut stdin = child.stdin.take().unwrap();
    let mut seen = Vec::new();
    let long = Duration::from_secs(30);
    writeln!(stdin, "hello").unwrap();
    wait_for(&lines, &mut seen, "You said: hello (turn 1)", long);

    // Idle for 2 s: suspended; the next message resumes the conversation.
    wait_for(&lines, &mut seen, "local suspended after being idle", long);
    // Asked again until its program has ended (the notice comes as it is told to).
    let deadline = std::time::Instant::now() + long;
    loop {
        writeln!(stdin, "/sessions").unwrap();
        if saw(
            &lines,
            &mut seen,
            "local — suspended",
            Duration::from_secs(1),
        ) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{seen:?}");
    }
    writeln!(stdin, "again").unwrap();
    wait_for(&lines, &mut seen, "Resuming local (--continue)", long);
    wait_for(&lines, &mut seen, "You said: again (turn 2)", long);

    // A second session in a directory of its own under the sessions root.
    writeln!(stdin, "/new beta").unwrap();
    wait_for(&lines, &mut seen, "session beta started", long);
    writeln!(stdin, "hi").unwrap();
    wait_for(&lines, &mut seen, "You said: hi (turn 1)", long);
    assert!(root.join("beta").join(".fake-turns").is_file());
    writeln!(stdin, "/sessions").unwrap();
    wait_for(&lines, &mut seen, "▶ beta — ", long);
    wait_for(&lines, &mut seen, "• local — ", long);

    // /stop ends beta's program; local goes on, and the end of input stops it too.
    writeln!(stdin, "/stop beta").unwrap();
    wait_for(&lines, &mut seen, "beta: session ended", long);
    writeln!(stdin, "/use local").unwrap();
    wait_for(&lines, &mut seen, "Now in local", long);
    drop(stdin);
    wait_for(&lines, &mut seen, "local: session ended", long);
    assert!(child.wait().unwrap().success());
    assert_eq!(
        std::fs::read_to_string(&args).unwrap(),
        "\n--continue\n\n",
        "started, resumed, and beta started fresh"
    );
}
