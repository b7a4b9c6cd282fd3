//! Every recording — the project's own fixtures and the reference casts of both Claude
//! Code versions in `../shared/claude-code/` — replays without error, and the screen
//! shows what its sidecar says it must: the last answer's closing words at the end, and
//! every `screen_must_show` text at some moment of the replay.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{sidecar_of, Recordings};

use serde_json::Value;
use telepty::cast::replay::replay;
use telepty::term::screen::normalize_whitespace as normalize;
use telepty::Cast;

/// The last words of an answer as Claude Code draws them: markdown emphasis and code
/// marks are not drawn.
fn closing_words(answer: &str, count: usize) -> String {
    let plain: String = answer.chars().filter(|c| !matches!(c, '*' | '`')).collect();
    let words: Vec<&str> = plain.split_whitespace().collect();
    words[words.len().saturating_sub(count)..].join(" ")
}

/// Replays one cast and returns the problems found.
fn check(cast_path: &Path) -> Vec<String> {
    let name = cast_path.display().to_string();
    let cast = match Cast::read_file(cast_path) {
        Ok(c) => c,
        Err(e) => return vec![format!("{name}: {e:#}")],
    };
    let sidecar = sidecar_of(cast_path);
    let strings = |key: &str| -> Vec<String> {
        sidecar[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(normalize))
            .collect()
    };
    let mut pending: BTreeSet<String> = strings("screen_must_show").into_iter().collect();
    let mut screen = replay(&cast, None, |_, screen| {
        if !pending.is_empty() {
            let text = normalize(&screen.text());
            pending.retain(|want| !text.contains(want.as_str()));
        }
    });
    let mut problems: Vec<String> = pending
        .into_iter()
        .map(|want| format!("{name}: never showed {want:?}"))
        .collect();

    // The end of the conversation: the scrollback and screen of an inline program, or the
    // last frame of a fullscreen one before it left the alternate screen.
    let mut final_text = screen.lines_with_scrollback().join("\n");
    if let Some(frame) = screen.last_alternate_frame() {
        final_text.push('\n');
        final_text.push_str(frame);
    }
    let final_text = normalize(&final_text);
    if let Some(last) = sidecar["answers"]
        .as_array()
        .and_then(|a| a.last())
        .and_then(Value::as_str)
    {
        let words = normalize(&closing_words(last, 4));
        if !final_text.contains(&words) {
            problems.push(format!(
                "{name}: the final screen lacks the last answer's closing words {words:?}"
            ));
        }
    }
    for want in strings("final_screen_must_show") {
        if !final_text.contains(&want) {
            problems.push(format!("{name}: the final screen lacks {want:?}"));
        }
    }
    problems
}

fn check_all(set: Recordings) {
    let casts = set.casts();
    let problems: Vec<String> = casts.iter().flat_map(|c| check(c)).collect();
    assert!(
        problems.is_empty(),
        "{} of {} casts failed:\n{}",
        problems.len(),
        casts.len(),
        problems.join("\n")
    );
}

#[test]
fn own_claude_code_fixtures() {
    check_all(Recordings::OwnClaudeCode);
}

#[test]
fn own_claude_code_fixtures_of_2_1_331() {
    check_all(Recordings::Own2_1_331);
}

#[test]
fn own_terminal_fixtures() {
    check_all(Recordings::OwnTerminal);
}

#[test]
fn reference_casts_of_claude_code_2_1_197() {
    check_all(Recordings::Reference2_1_197);
}

#[test]
fn reference_casts_of_claude_code_2_1_331() {
    check_all(Recordings::Reference2_1_331);
}

#[test]
fn reference_casts_of_claude_code_2_1_332() {
    check_all(Recordings::Reference2_1_332);
}

#[test]
fn the_checks_can_fail() {
    // A sidecar whose answer never reached the screen is reported.
    let dir = tempfile::tempdir().unwrap();
    let cast = dir.path().join("x.cast");
    std::fs::write(
        &cast,
        "{\"version\":2,\"width\":20,\"height\":3}\n[0.1,\"o\",\"hello there\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("x.expect.json"),
        r#"{"answers":["the words that never came"],"screen_must_show":["hello there","absent"]}"#,
    )
    .unwrap();
    let problems = check(&cast);
    assert_eq!(problems.len(), 2, "{problems:?}");
}
