//! The `claude` pattern table on every frame of every Claude Code recording, both
//! versions: chrome is always read as chrome, and every prompt the user sent is read as
//! a user line at some moment.

mod common;

use std::collections::BTreeSet;

use common::{sidecar_of, Recordings};

use telepty::cast::replay::replay;
use telepty::core::profile::Profile;
use telepty::Cast;

/// Texts only ever drawn by Claude Code's chrome: the footer, the effort line, spinners.
const CHROME_MARKERS: &[&str] = &[
    "esc to interrupt",
    "? for shortcuts",
    "· /effort",
    "mode on",
    " tokens)",
];
const CHROME_KINDS: &[&str] = &["chrome", "rule", "input", "footer", "spinner", "turn_done"];

fn check_dir(set: Recordings) {
    let profile = Profile::claude();
    let mut problems = Vec::new();
    for path in set.casts() {
        let cast = Cast::read_file(&path).unwrap();
        let sidecar = sidecar_of(&path);
        let mut inputs: BTreeSet<String> = sidecar["user_inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(|s| {
                s.chars()
                    .take(30)
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect();
        let mut bad = BTreeSet::new();
        replay(&cast, None, |_, screen| {
            for line in screen.lines() {
                let c = profile.classify(&line, false);
                if CHROME_MARKERS.iter().any(|m| line.contains(m))
                    && !CHROME_KINDS.contains(&c.kind.as_str())
                {
                    bad.insert(format!("{line:?} read as {}", c.kind.as_str()));
                }
                if c.kind.as_str() == "user" {
                    let text = c.fields.get("text").cloned().unwrap_or_default();
                    inputs.retain(|i| !text.starts_with(i.as_str()));
                }
            }
        });
        for line in bad {
            problems.push(format!("{}: chrome {line}", path.display()));
        }
        for input in inputs {
            problems.push(format!(
                "{}: the user's {input:?} never read as a user line",
                path.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn own_fixtures() {
    check_dir(Recordings::OwnClaudeCode);
}

#[test]
fn own_fixtures_of_2_1_331() {
    check_dir(Recordings::Own2_1_331);
}

#[test]
fn reference_casts_2_1_197() {
    check_dir(Recordings::Reference2_1_197);
}

#[test]
fn reference_casts_2_1_331() {
    check_dir(Recordings::Reference2_1_331);
}

#[test]
fn reference_casts_2_1_332() {
    check_dir(Recordings::Reference2_1_332);
}
