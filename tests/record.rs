//! `telepty record --script` and `telepty replay`, run as a user runs them.

use std::process::Command;

use telepty::cast::asciicast::{Cast, EventKind};

const TELEPTY: &str = env!("CARGO_BIN_EXE_telepty");

#[test]
fn a_scripted_recording_replays_to_what_was_on_screen() {
    let dir = tempfile::tempdir().unwrap();
    let steps = dir.path().join("steps");
    std::fs::write(
        &steps,
        "wait \"name?\"\ntype Ada\nkey Enter\nwait \"Hello, Ada\"\nkey Ctrl-D\nexit 10\n",
    )
    .unwrap();
    let cast_path = dir.path().join("out.cast");
    let transcript = dir.path().join("out.txt");
    let status = Command::new(TELEPTY)
        .args(["record", "--size", "60x20", "--out"])
        .arg(&cast_path)
        .arg("--script")
        .arg(&steps)
        .arg("--text")
        .arg(&transcript)
        .arg("--cwd")
        .arg(dir.path())
        .args(["--", "bash", "--norc", "--noprofile", "-c"])
        .arg("printf '\\033[1;32mname?\\033[0m '; read -r n; printf 'Hello, %s\\n' \"$n\"; cat; exit 4")
        .status()
        .unwrap();
    // The program's own exit code is 4: telepty says so with its exit status 1.
    assert_eq!(status.code(), Some(1));

    let cast = Cast::read_file(&cast_path).unwrap();
    assert_eq!((cast.header.width, cast.header.height), (60, 20));
    let input: String = cast
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Input)
        .map(|e| e.data.as_str())
        .collect();
    assert_eq!(input, "Ada\r\u{4}");
    assert!(cast
        .events
        .iter()
        .any(|e| e.kind == EventKind::Output && e.data.contains("\x1b[1;32m")));

    let text = std::fs::read_to_string(&transcript).unwrap();
    assert!(
        text.contains("name? Ada") && text.contains("Hello, Ada"),
        "{text:?}"
    );
    assert!(
        !text.contains('\x1b'),
        "the transcript has no escape sequences: {text:?}"
    );

    let out = Command::new(TELEPTY)
        .arg("replay")
        .arg(&cast_path)
        .arg("--screen")
        .output()
        .unwrap();
    assert!(out.status.success());
    let screen = String::from_utf8(out.stdout).unwrap();
    assert!(screen.starts_with("name? Ada\nHello, Ada\n"), "{screen}");

    let out = Command::new(TELEPTY)
        .arg("replay")
        .arg(&cast_path)
        .args(["--screen", "--at", "0"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8(out.stdout).unwrap().contains("Hello"),
        "nothing was said at 0 s"
    );
}

/// Recording Claude Code (the profile's `claude` binary; here a stand-in that writes a
/// session log as Claude Code does), its transcript goes beside the cast: each entry that
/// appeared while recording, when it appeared; what the file held before is not part of
/// this recording.
#[test]
fn recording_claude_code_writes_its_transcript_beside_the_cast() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let project = dir.path().join("my_project.v2");
    std::fs::create_dir_all(&project).unwrap();
    let slug: String = project
        .canonicalize()
        .unwrap()
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let log_dir = home.join(".claude/projects").join(slug);
    std::fs::create_dir_all(&log_dir).unwrap();
    std::fs::write(log_dir.join("s1.jsonl"), "{\"type\":\"old\"}\n").unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let claude = bin.join("claude");
    std::fs::write(
        &claude,
        r#"#!/bin/bash
log="$HOME/.claude/projects/$(pwd -P | sed 's/[^A-Za-z0-9]/-/g')/s1.jsonl"
printf 'ready\n'
read -r line
printf '{"type":"user","message":{"content":"%s"}}\n' "$line" >> "$log"
printf 'got %s\n' "$line"
sleep 0.2
printf '{"type":"assistant","message":{"content":[{"type":"text","text":"**hi**"}]}}\n' >> "$log"
printf 'done\n'
read -r rest
exit 0
"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).unwrap();
    let steps = dir.path().join("steps");
    std::fs::write(
        &steps,
        "wait \"ready\"\ntype hello\nkey Enter\nwait \"done\"\nkey Ctrl-D\nexit 10\n",
    )
    .unwrap();
    let cast_path = dir.path().join("x.cast");
    let status = Command::new(TELEPTY)
        .args(["record", "--size", "60x20", "--out"])
        .arg(&cast_path)
        .arg("--script")
        .arg(&steps)
        .arg("--cwd")
        .arg(&project)
        .arg("--env")
        .arg(format!("HOME={}", home.display()))
        .arg("--")
        .arg(&claude)
        .status()
        .unwrap();
    assert!(status.success());
    let cast = Cast::read_file(&cast_path).unwrap();
    let kinds: Vec<&str> = cast
        .transcript
        .iter()
        .map(|l| l.entry["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["user", "assistant"], "{:?}", cast.transcript);
    assert!(cast.transcript.iter().all(|l| l.file == "s1.jsonl"));
    assert_eq!(cast.transcript[0].entry["message"]["content"], "hello");
    let (first, second) = (cast.transcript[0].time, cast.transcript[1].time);
    assert!(
        0.0 < first && first < second && second <= cast.duration() + 1.0,
        "{first} {second}"
    );
}

#[test]
fn a_failing_step_says_which_and_shows_the_screen() {
    let dir = tempfile::tempdir().unwrap();
    let steps = dir.path().join("steps");
    std::fs::write(&steps, "wait \"never printed\" 0.5\n").unwrap();
    let out = Command::new(TELEPTY)
        .args(["record", "--size", "40x10", "--out"])
        .arg(dir.path().join("x.cast"))
        .arg("--script")
        .arg(&steps)
        .args(["--", "sh", "-c", "echo something else; sleep 30"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("step 1") && err.contains("timed out") && err.contains("something else"),
        "{err}"
    );
}

#[test]
fn replay_names_the_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let cast = dir.path().join("bad.cast");
    std::fs::write(&cast, "{\"version\":2,\"width\":10,\"height\":5}\n[0.1,\"o\",\"ok\"]\nnot json\n[0.3,\"o\",\"x\"]\n")
        .unwrap();
    let out = Command::new(TELEPTY)
        .arg("replay")
        .arg(&cast)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("bad.cast: line 3: not a JSON event"), "{err}");
}

#[test]
fn replay_refuses_an_unknown_profile() {
    let cast = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/terminal/less-pager.cast"
    );
    let out = Command::new(TELEPTY)
        .args(["replay", cast, "--profile", "klaude"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown profile \"klaude\""), "{err}");
    let out = Command::new(TELEPTY)
        .args(["replay", cast, "--profile", "plain"])
        .output()
        .unwrap();
    assert!(out.status.success());
}
