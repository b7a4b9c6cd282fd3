//! The chat a user would read, for every Claude Code recording: the project's own
//! fixtures and the reference casts of both versions. Each recording is replayed through
//! the whole pipeline (screen → view → render → pacer); the operations are applied to a
//! model chat, and the result is checked against the recording's sidecar with the rules
//! of the issue (the same rules as `../shared/claude-code/grade/grade.py`):
//! - every streamed answer: ≥ 98 % of its words in order, its first eight words once;
//! - every tool call Claude Code draws: its `Name(arg)` banner or its line, in the chat;
//! - every blocking prompt: a message with the question and a button per option;
//! - no terminal chrome in the final chat;
//! - no 60 s window with more than 20 operations;
//! - an answer's end reaches the chat within 5 s of being complete on the screen.

mod common;

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::{sidecar_of, Recordings};
use regex::Regex;
use serde_json::Value;

use telepty::cast::asciicast::EventKind;
use telepty::cast::replay::{replay, replay_chat};
use telepty::chat::model::ModelChat;
use telepty::core::pacer::Limits;
use telepty::core::profile::Profile;
use telepty::core::render::html::plain;
use telepty::Cast;

/// Lines that are terminal chrome, never conversation (as the grader has them).
const CHROME: &[&str] = &[
    r"\?\s*for shortcuts",
    r"esc to interrupt",
    r"ctrl\+t to hide tasks",
    r"Press Ctrl-C again",
    r"/effort",
    r"Tips for getting started",
    r"Welcome back",
    r"^\s*[─━]{20,}\s*$",
    r"\(\d+s\s*·\s*[↑↓]\s*[\d.,]+k?\s*tokens",
    r"Claude Code v\d",
    r"API Usage Billing",
    r"Not logged in",
    r"Run /login",
    r"← for agents",
    r"Enter to confirm · Esc to cancel",
];

fn word_regex() -> &'static Regex {
    static WORD: OnceLock<Regex> = OnceLock::new();
    WORD.get_or_init(|| Regex::new(r"\w+").unwrap())
}

fn words(text: &str) -> Vec<String> {
    word_regex()
        .find_iter(text)
        .map(|m| m.as_str().to_lowercase())
        .collect()
}

/// Whitespace removed: what the checks of tools and prompts compare.
fn flat(text: &str) -> String {
    text.split_whitespace().collect()
}

/// Length of the longest common subsequence of two word lists.
fn lcs(a: &[String], b: &[String]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Non-overlapping occurrences of `needle` in `hay`.
fn count_seq(hay: &[String], needle: &[String]) -> usize {
    if needle.is_empty() {
        return 0;
    }
    let (mut n, mut i) = (0, 0);
    while i + needle.len() <= hay.len() {
        if hay[i..i + needle.len()] == *needle {
            n += 1;
            i += needle.len();
        } else {
            i += 1;
        }
    }
    n
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// What one recording's chat shows, and the problems with it.
struct Outcome {
    problems: Vec<String>,
    figures: String,
}

fn check(path: &Path, profile: Profile) -> Outcome {
    let cast = Cast::read_file(path).unwrap();
    let sidecar = sidecar_of(path);
    let ops = replay_chat(&cast, Arc::new(profile), Limits::default());
    let mut chat = ModelChat::default();
    let mut states: Vec<(Duration, Vec<String>)> = Vec::new();
    for op in &ops {
        chat.apply(op);
        states.push((op.time, words(&chat.text())));
    }
    let mut problems: Vec<String> = chat.faults.clone();
    let final_text = chat.text();
    let final_words = words(&final_text);

    // Answers.
    let mut answers = strings(&sidecar["answers"]);
    let interrupted = sidecar["interrupted_answer_prefix"]
        .as_str()
        .map(str::to_string);
    let mut recall_min: f64 = 1.0;
    for (i, answer) in answers.iter().chain(interrupted.iter()).enumerate() {
        let aw = words(answer);
        let recall = if aw.is_empty() {
            1.0
        } else {
            lcs(&aw, &final_words) as f64 / aw.len() as f64
        };
        recall_min = recall_min.min(recall);
        if recall < 0.98 {
            problems.push(format!("answer recall {recall:.3}: {:.60?}", answer));
        }
        let opening = &aw[..aw.len().min(8)];
        let n = count_seq(&final_words, opening);
        // The shown part of an interrupted answer may itself repeat its opening (the
        // reference h-interrupt story does): there only its absence is a fault.
        let is_interrupted = i == answers.len();
        if n != 1 && !(is_interrupted && n > 1) {
            problems.push(format!(
                "answer opening found {n}x: {:?}",
                opening.join(" ")
            ));
        }
    }

    // Tools.
    let final_flat = flat(&final_text);
    let banner = Regex::new(r"^(\w+)\((.*)\)$").unwrap();
    let mut tools_ok = 0;
    let tools: Vec<&Value> = sidecar["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["screen"].is_string())
        .collect();
    for tool in &tools {
        let screen = tool["screen"].as_str().unwrap();
        let hit = match banner.captures(screen) {
            Some(c) => {
                let names = [tool["name"].as_str().unwrap_or(""), &c[1]];
                names
                    .iter()
                    .any(|n| !n.is_empty() && final_text.contains(n))
                    && final_flat.contains(&flat(&c[2]))
            }
            None => final_flat.contains(&flat(screen)),
        };
        if hit {
            tools_ok += 1;
        } else {
            problems.push(format!("tool missing: {screen}"));
        }
    }

    // Prompts: some message, at some moment, held the question and every option.
    let prompts = sidecar["prompts"].as_array().cloned().unwrap_or_default();
    let mut prompts_ok = 0;
    for prompt in &prompts {
        let question = flat(prompt["question"].as_str().unwrap_or("")).to_lowercase();
        let options: Vec<String> = strings(&prompt["options"])
            .iter()
            .map(|o| flat(o).to_lowercase())
            .collect();
        let hit = chat.history().iter().any(|content| {
            let labels: Vec<String> = content
                .buttons
                .iter()
                .flatten()
                .map(|b| flat(&b.text).to_lowercase())
                .collect();
            let text = flat(&plain(&content.text)).to_lowercase();
            !labels.is_empty()
                && (text.contains(&question) || labels.iter().any(|l| l.contains(&question)))
                && options.iter().all(|o| {
                    labels.iter().any(|l| {
                        l.contains(o.as_str())
                            || (l.chars().count() >= 12
                                && o.starts_with(l.trim_end_matches(['…', '.'])))
                    })
                })
        });
        if hit {
            prompts_ok += 1;
        } else {
            problems.push(format!("prompt without buttons: {}", prompt["question"]));
        }
    }

    // Chrome.
    let chrome: Vec<Regex> = CHROME.iter().map(|p| Regex::new(p).unwrap()).collect();
    for line in final_text.lines() {
        if chrome.iter().any(|c| c.is_match(line)) {
            problems.push(format!("chrome in the chat: {line:?}"));
        }
    }

    // Pacing.
    let times: Vec<Duration> = ops.iter().map(|o| o.time).collect();
    let mut worst = 0;
    let mut j = 0;
    for i in 0..times.len() {
        while times[i] - times[j] >= Duration::from_secs(60) {
            j += 1;
        }
        worst = worst.max(i - j + 1);
    }
    if worst > 20 {
        problems.push(format!("{worst} operations in 60 s"));
    }

    // Latency: from an answer's last words on the screen to its last words in the chat.
    answers.retain(|a| !a.trim().is_empty());
    let tails: Vec<String> = answers
        .iter()
        .map(|a| {
            let w: Vec<&str> = a.split_whitespace().collect();
            let tail = w[w.len().saturating_sub(4)..].join(" ");
            flat(&tail.replace(['`', '*', '#', '|'], ""))
        })
        .collect();
    let mut seen: Vec<Option<f64>> = vec![None; tails.len()];
    replay(&cast, None, |t, screen| {
        if seen.iter().all(Option::is_some) {
            return;
        }
        let text = flat(&screen.text());
        for (s, tail) in seen.iter_mut().zip(&tails) {
            if s.is_none() && text.contains(tail.as_str()) {
                *s = Some(t);
            }
        }
    });
    let mut latency_max: Option<f64> = None;
    for (answer, on_screen) in answers.iter().zip(&seen) {
        let Some(on_screen) = on_screen else { continue };
        let w: Vec<&str> = answer.split_whitespace().collect();
        let tail = words(&w[w.len().saturating_sub(6)..].join(" "));
        if let Some((t, _)) = states.iter().find(|(_, s)| count_seq(s, &tail) >= 1) {
            let lat = t.as_secs_f64() - on_screen;
            latency_max = Some(latency_max.map_or(lat, |m: f64| m.max(lat)));
            if lat > 5.0 {
                problems.push(format!(
                    "answer reached the chat {lat:.2} s after the screen"
                ));
            }
        }
    }

    let figures = format!(
        "ops={:3} answers={}/{} recall_min={recall_min:.3} tools={tools_ok}/{} prompts={prompts_ok}/{} max60s={worst:2} latency_max={}",
        ops.len(),
        answers.len() - problems.iter().filter(|p| p.starts_with("answer recall")).count().min(answers.len()),
        answers.len(),
        tools.len(),
        prompts.len(),
        latency_max.map_or("-".into(), |l| format!("{l:.2}s")),
    );
    Outcome { problems, figures }
}

fn check_dir(set: Recordings) {
    let mut failures = Vec::new();
    for path in set.casts() {
        let outcome = check(&path, set.profile());
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        println!("{name:40} {}", outcome.figures);
        for p in outcome.problems {
            failures.push(format!("{name}: {p}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn own_fixtures() {
    check_dir(Recordings::OwnClaudeCode);
}

/// The Codex CLI's recordings, read by the `codex` profile, meet the same bars.
#[test]
fn own_codex_fixtures() {
    check_dir(Recordings::OwnCodex);
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

/// The checks can fail: a chat that lost the answer's second half, repeated it, and let a
/// footer through is caught.
#[test]
fn the_checks_catch_a_bad_chat() {
    let answer: Vec<String> = words("one two three four five six seven eight nine ten");
    let half = words("one two three four five");
    assert!((lcs(&answer, &half) as f64 / answer.len() as f64) < 0.98);
    let twice = words(
        "one two three four five six seven eight nine ten one two three four five six seven eight",
    );
    assert_eq!(count_seq(&twice, &answer[..8]), 2);
    let chrome: Vec<Regex> = CHROME.iter().map(|p| Regex::new(p).unwrap()).collect();
    assert!(chrome
        .iter()
        .any(|c| c.is_match("  ? for shortcuts · ← for agents")));
}

/// The `plain` profile on the terminal fixtures (a shell, less, vim): the final screen's
/// text is in the chat, within the same pacing.
#[test]
fn plain_profile_on_terminal_fixtures() {
    let mut failures = Vec::new();
    for path in Recordings::OwnTerminal.casts() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let cast = Cast::read_file(&path).unwrap();
        let sidecar = sidecar_of(&path);
        let ops = replay_chat(&cast, Arc::new(Profile::plain()), Limits::default());
        let mut chat = ModelChat::default();
        for op in &ops {
            chat.apply(op);
        }
        failures.extend(chat.faults.iter().map(|f| format!("{name}: {f}")));
        let text = chat.text();
        let wanted = strings(&sidecar["final_screen_must_show"]);
        assert!(!wanted.is_empty(), "{name}: nothing to check");
        for want in wanted {
            if !text.contains(&want) {
                failures.push(format!("{name}: {want:?} not in the chat"));
            }
        }
        let times: Vec<Duration> = ops.iter().map(|o| o.time).collect();
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|u| **u - *t < Duration::from_secs(60))
                .count();
            if in_window > 20 {
                failures.push(format!("{name}: {in_window} operations in 60 s"));
                break;
            }
        }
        println!("{name:20} ops={}", ops.len());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `telepty replay` without `--profile` reads a recording with the profile of the
/// program it shows, known by the version line that program draws (claude when none
/// shows: a narrow 2.1.197 welcome has none): Codex recordings as Codex, no other as
/// Codex.
#[test]
fn every_recording_is_read_with_the_profile_of_the_program_it_shows() {
    for set in Recordings::ALL {
        for path in set.casts() {
            let cast = Cast::read_file(&path).unwrap();
            let got = telepty::cast::replay::recognise(&cast).map(|p| p.name);
            let codex = got.as_deref() == Some("codex");
            assert_eq!(
                codex,
                set == Recordings::OwnCodex,
                "{}: {got:?}",
                path.display()
            );
        }
    }
}

/// Both sizes of one of the Codex scenarios, by name.
fn codex_scenario(scenario: &str) -> Vec<(String, Cast)> {
    let found: Vec<(String, Cast)> = Recordings::OwnCodex
        .casts()
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().to_string(), p))
        .filter(|(name, _)| name.starts_with(&format!("{scenario}.")))
        .map(|(name, p)| (name, Cast::read_file(&p).unwrap()))
        .collect();
    assert_eq!(found.len(), 2, "both sizes of {scenario}");
    found
}

/// Codex draws no status line while an answer streams (it says it works in its own
/// report, OSC 7501): the answer is followed to the interrupt, not ended by a pause of
/// the screen. The chat holds every word of the answer the screen showed when Codex
/// drew the interrupt, and says it was interrupted.
#[test]
fn an_interrupted_codex_answer_holds_all_the_screen_showed() {
    let interrupt = "Conversation interrupted";
    for (name, cast) in codex_scenario("h-interrupt") {
        let mut screen = telepty::Screen::new(
            telepty::Size::new(cast.header.width, cast.header.height),
            1000,
        );
        let mut shown = None;
        for e in cast.events.iter().filter(|e| e.kind == EventKind::Output) {
            screen.feed(e.data.as_bytes());
            let text = screen.text();
            if let Some(end) = text.find(interrupt) {
                // The answer: from the first answer row (`• `) to the interrupt line.
                let start = text[..end].find("\n• ").expect("an answer on screen");
                shown = Some(text[start..end].trim_end_matches('■').to_string());
                break;
            }
        }
        let shown = shown.unwrap_or_else(|| panic!("{name}: no interrupt on screen"));
        let mut chat = ModelChat::default();
        for op in &replay_chat(&cast, Arc::new(Profile::codex()), Limits::default()) {
            chat.apply(op);
        }
        let text = chat.text();
        let want = words(&shown);
        assert!(want.len() > 30, "{name}: the screen showed little: {shown}");
        let recall = lcs(&want, &words(&text)) as f64 / want.len() as f64;
        assert!(
            recall >= 0.98,
            "{name}: {recall:.2} of {:?} in the chat:\n{text}",
            shown
        );
        assert!(text.contains("Interrupted"), "{name}: {text}");
    }
}

/// A call on its way (Codex's `• Running cmd` while it waits for approval) is shown live
/// and left out of the turn's lasting record once its `• Ran cmd` line is there (the
/// profile's row names it with a group `progress`).
#[test]
fn a_codex_command_is_recorded_once_as_ran() {
    for (name, cast) in codex_scenario("d-approval-yes") {
        let mut chat = ModelChat::default();
        let mut live_running = false;
        for op in &replay_chat(&cast, Arc::new(Profile::codex()), Limits::default()) {
            chat.apply(op);
            live_running |= chat.text().contains("Running wc -l data.csv");
        }
        let text = chat.text();
        assert!(live_running, "{name}: the running call was never shown");
        assert_eq!(
            text.matches("Ran wc -l data.csv").count(),
            1,
            "{name}: {text}"
        );
        assert!(!text.contains("Running wc -l"), "{name}: {text}");
    }
}
