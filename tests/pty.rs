//! A real program in a real pseudo-terminal: output, exit codes, stopping, environment,
//! terminal queries. Waits are on conditions with timeouts, never bare sleeps.

use std::path::PathBuf;
use std::time::Duration;

use telepty::term::terminal::Activity;
use telepty::{Command, Size, Terminal};

const TIMEOUT: Duration = Duration::from_secs(20);

fn sh(script: &str) -> Command {
    Command::new("/bin/sh", std::env::temp_dir())
        .args(["-c", script])
        .size(Size::new(80, 24))
}

fn bash(script: &str) -> Command {
    Command::new("/bin/bash", std::env::temp_dir())
        .args(["--norc", "--noprofile", "-c", script])
        .size(Size::new(80, 24))
}

/// Reads output until the screen (with scrollback) shows `text`.
async fn wait_for(term: &mut Terminal, text: &str) {
    let found = tokio::time::timeout(TIMEOUT, async {
        loop {
            if term
                .screen_mut()
                .lines_with_scrollback()
                .join("\n")
                .contains(text)
            {
                return;
            }
            if let Activity::Exited(info) = term.next().await {
                let all = term.screen_mut().lines_with_scrollback().join("\n");
                assert!(
                    all.contains(text),
                    "program {info} before showing {text:?}; screen:\n{all}"
                );
                return;
            }
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "timed out waiting for {text:?}; screen:\n{}",
        term.screen().text()
    );
}

async fn wait_exit(term: &mut Terminal) -> telepty::ExitInfo {
    tokio::time::timeout(TIMEOUT, async {
        loop {
            if let Activity::Exited(info) = term.next().await {
                return info;
            }
        }
    })
    .await
    .expect("the program should exit")
}

/// Whether a process still exists and is not a zombie.
fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next());
            state != Some("Z")
        }
        Err(_) => false,
    }
}

/// Waits until `pid` no longer exists at all (reaped, not a zombie).
async fn wait_gone(pid: u32, also_zombie_ok: bool) -> bool {
    tokio::time::timeout(TIMEOUT, async {
        loop {
            let exists = PathBuf::from(format!("/proc/{pid}")).exists();
            if !exists || (also_zombie_ok && !is_alive(pid)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn echoes_output_and_reports_the_exit_code() {
    let mut term = Terminal::spawn(&sh("echo hello from the pty; exit 3"), 100).unwrap();
    let info = wait_exit(&mut term).await;
    assert_eq!(info.code, 3);
    assert_eq!(info.signal, None);
    assert!(term.screen().text().contains("hello from the pty"));
}

#[tokio::test]
async fn input_reaches_the_program() {
    let mut term = Terminal::spawn(&bash("read -r line; echo \"got [$line]\""), 100).unwrap();
    term.write(b"typed text");
    term.key(telepty::Key::Enter);
    let info = wait_exit(&mut term).await;
    assert!(info.success());
    assert!(
        term.screen().text().contains("got [typed text]"),
        "{}",
        term.screen().text()
    );
}

#[tokio::test]
async fn a_missing_working_directory_is_an_error_naming_it() {
    let err = match Terminal::spawn(&Command::new("/bin/true", "/no/such/telepty/dir"), 10) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("spawn should fail"),
    };
    assert_eq!(err, "working directory /no/such/telepty/dir does not exist");
}

#[tokio::test]
async fn a_program_not_on_path_is_an_error_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let err = match Terminal::spawn(&Command::new("telepty-no-such-program", dir.path()), 10) {
        Err(e) => format!("{e:#}"),
        Ok(_) => panic!("spawn should fail"),
    };
    assert!(
        err.contains("\"telepty-no-such-program\": it is not on PATH"),
        "{err}"
    );
}

#[tokio::test]
async fn a_program_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let mut term = Terminal::spawn(
        &sh("trap '' HUP TERM; echo ready; while :; do sleep 1; done"),
        10,
    )
    .unwrap();
    wait_for(&mut term, "ready").await;
    let pid = term.pid();
    let info = term.stop(Duration::from_millis(300)).await;
    assert_eq!(info.signal.as_deref(), Some("Killed"), "{info}");
    assert!(wait_gone(pid, false).await, "pid {pid} should be reaped");
}

#[tokio::test]
async fn a_program_ends_with_the_hangup_or_the_sigterm_of_a_stop() {
    let mut term = Terminal::spawn(&sh("echo ready; while :; do sleep 1; done"), 10).unwrap();
    wait_for(&mut term, "ready").await;
    let info = term.stop(Duration::from_secs(10)).await;
    assert_eq!(info.signal.as_deref(), Some("Hangup"), "{info}");
    // A program that ignores the hangup (nohup) still honours SIGTERM.
    let mut term = Terminal::spawn(
        &sh("trap '' HUP; echo ready; while :; do sleep 1; done"),
        10,
    )
    .unwrap();
    wait_for(&mut term, "ready").await;
    let info = term.stop(Duration::from_secs(10)).await;
    assert_eq!(info.signal.as_deref(), Some("Terminated"), "{info}");
}

#[tokio::test]
async fn stop_takes_background_children_too_and_leaves_no_zombie() {
    let mut term = Terminal::spawn(
        &sh("sleep 1000 & echo \"bg=$!\"; trap '' HUP TERM; echo ready; wait"),
        10,
    )
    .unwrap();
    wait_for(&mut term, "ready").await;
    let text = term.screen().text();
    let bg: u32 = text
        .lines()
        .find_map(|l| l.strip_prefix("bg="))
        .and_then(|p| p.trim().parse().ok())
        .expect("the background pid");
    assert!(is_alive(bg));
    let pid = term.pid();
    term.stop(Duration::from_millis(200)).await;
    assert!(
        wait_gone(pid, false).await,
        "the child {pid} is reaped (no zombie)"
    );
    // The background job was re-parented away from us; it must at least be dead.
    assert!(
        wait_gone(bg, true).await,
        "the background child {bg} is killed"
    );
}

/// A program that ends by itself takes its group's background jobs along, killed while
/// the program is still unreaped (its pid, the group's id, cannot be reused then); they
/// used to outlive it.
#[tokio::test]
async fn a_program_that_ends_by_itself_leaves_no_background_job() {
    let mut term =
        Terminal::spawn(&sh("sleep 1000 & echo \"bg=$!\"; echo ready; read x"), 10).unwrap();
    wait_for(&mut term, "ready").await;
    let bg: u32 = term
        .screen()
        .text()
        .lines()
        .find_map(|l| l.strip_prefix("bg="))
        .and_then(|p| p.trim().parse().ok())
        .expect("the background pid");
    assert!(is_alive(bg));
    term.write(b"\r");
    let info = wait_exit(&mut term).await;
    assert_eq!(info.code, 0);
    assert!(
        wait_gone(bg, true).await,
        "the background job {bg} outlived the program"
    );
}

#[tokio::test]
async fn the_environment_is_scrubbed() {
    // The parent holds a token; the child must never see it.
    std::env::set_var("TELEPTY_TOKEN", "123456:very-secret-token");
    std::env::set_var("TELEGRAM_BOT_TOKEN", "654321:other-secret");
    std::env::set_var("CLAUDECODE", "1");
    let cmd = sh("env; echo END")
        .env("EXTRA_VAR", "kept")
        .env("TELEPTY_SNEAKY", "nope");
    let mut term = Terminal::spawn(&cmd, 1000).unwrap();
    wait_exit(&mut term).await;
    let all = term.screen_mut().lines_with_scrollback().join("\n");
    assert!(all.contains("END"), "{all}");
    for secret in [
        "very-secret-token",
        "other-secret",
        "CLAUDECODE",
        "TELEPTY_",
        "TELEGRAM_",
    ] {
        assert!(!all.contains(secret), "{secret} leaked:\n{all}");
    }
    assert!(all.contains("TERM=xterm-256color"));
    assert!(all.contains("LANG=C.UTF-8"));
    assert!(all.contains("EXTRA_VAR=kept"));
}

#[tokio::test]
async fn terminal_queries_are_answered() {
    // The program waits (up to 5 s) for each reply, as Claude Code does at start.
    let script = r#"stty -echo -icanon
printf 'ab\033[6n'; IFS= read -r -t 5 -d R cpr
printf '\033[c'; IFS= read -r -t 5 -d c da
printf '\r\nCPR=%s DA=%s\r\n' "${cpr#?}" "${da#?}""#;
    let mut term = Terminal::spawn(&bash(script), 100).unwrap();
    let info = wait_exit(&mut term).await;
    assert!(info.success(), "{info}");
    assert!(
        term.screen().text().contains("CPR=[1;3 DA=[?62;22"),
        "{}",
        term.screen().text()
    );
}

#[tokio::test]
async fn resize_reaches_the_program_and_the_screen() {
    let mut term = Terminal::spawn(&bash("stty size; read -r _; stty size"), 10).unwrap();
    wait_for(&mut term, "24 80").await;
    term.resize(Size::new(60, 20)).unwrap();
    term.key(telepty::Key::Enter);
    wait_for(&mut term, "20 60").await;
    assert_eq!(term.screen().size(), Size::new(60, 20));
}

#[tokio::test]
async fn keys_and_pastes_follow_the_modes_the_program_set() {
    let script = r#"printf '\033[?2004h\033[?1hready\n'; stty -echo -icanon; head -c 23 | cat -v; echo; echo END"#;
    let mut term = Terminal::spawn(&bash(script), 100).unwrap();
    wait_for(&mut term, "ready").await;
    assert!(term.screen().bracketed_paste() && term.screen().application_cursor());
    term.paste("hi\nthere");
    term.key(telepty::Key::Up);
    wait_for(&mut term, "END").await;
    let text = term.screen().text();
    assert!(text.contains("^[[200~hi\nthere^[[201~^[OA"), "{text}");
}

#[tokio::test]
async fn interactive_record_relays_the_terminal_and_restores_it() {
    // `telepty record` needs a real terminal: give it one of ours.
    let dir = tempfile::tempdir().unwrap();
    let cast = dir.path().join("i.cast");
    let script = format!(
        "{} record --size 50x12 --out {} -- bash --norc --noprofile -c 'read -r x; echo \"got $x\"'; stty -a; echo DONE",
        env!("CARGO_BIN_EXE_telepty"),
        cast.display()
    );
    let mut term = Terminal::spawn(&bash(&script), 1000).unwrap();
    // Typed keys reach the recorded program through the recorder's raw-mode relay.
    tokio::time::timeout(TIMEOUT, async {
        while !cast.exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the recording starts");
    term.write(b"hello\r");
    wait_for(&mut term, "DONE").await;
    let all = term.screen_mut().lines_with_scrollback().join("\n");
    assert!(all.contains("got hello"), "{all}");
    // Raw mode is off again: canonical input and echo are back.
    assert!(all.contains(" icanon") && all.contains(" echo"), "{all}");

    let recorded = telepty::Cast::read_file(&cast).unwrap();
    assert_eq!((recorded.header.width, recorded.header.height), (50, 12));
    let input: String = recorded
        .events
        .iter()
        .filter(|e| e.kind == telepty::cast::asciicast::EventKind::Input)
        .map(|e| e.data.as_str())
        .collect();
    assert_eq!(input, "hello\r");
    let output: String = recorded
        .events
        .iter()
        .filter(|e| e.kind == telepty::cast::asciicast::EventKind::Output)
        .map(|e| e.data.as_str())
        .collect();
    assert!(output.contains("got hello"), "{output:?}");
}
