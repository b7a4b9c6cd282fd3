//! A transcript that is cut short, mangled or full of garbage never panics and never
//! costs the user an answer: the screen carries on (issue 16). Recordings of Claude
//! Code 2.1.332 are replayed with their transcripts spoiled at random; every answer of
//! the sidecar must still be in the final chat, once, whole.

mod common;

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Value};
use telepty::cast::replay::replay_chat;
use telepty::cast::transcript::Line;
use telepty::chat::model::ModelChat;
use telepty::core::pacer::Limits;
use telepty::core::profile::Profile;
use telepty::core::transcript::words;
use telepty::Cast;

use common::{sidecar_of, Recordings};

const CASTS: &[&str] = &[
    "a-short-answer.60x24",
    "b-long-answer.60x24",
    "c-readonly-tool.100x30",
    "h-interrupt.60x24",
];

/// A way to spoil one line of a transcript.
#[derive(Clone, Debug)]
enum Spoil {
    Keep,
    Drop,
    /// Its entry replaced by the JSON text cut at this fraction (a half-written line).
    Cut(f64),
    /// Its answer text replaced by garbage.
    Garbage(String),
    /// Another entry before it.
    Insert(Value),
}

fn spoil() -> impl Strategy<Value = Spoil> {
    prop_oneof![
        6 => Just(Spoil::Keep),
        1 => Just(Spoil::Drop),
        1 => (0.0f64..1.0).prop_map(Spoil::Cut),
        1 => "\\PC{0,40}".prop_map(Spoil::Garbage),
        1 => prop_oneof![
            Just(json!({})),
            Just(json!([1, 2])),
            Just(json!({"type": "assistant"})),
            Just(json!({"type": "assistant", "message": {"content": "plain words here"}})),
            Just(json!({"type": "assistant", "message": {"content": [{"type": "text", "text": 7}]}})),
            Just(json!({"type": "assistant", "message": {"content": [{"type": "text", "text": "# Unrelated\n\n```\nnothing to see\n```"}]}})),
        ].prop_map(Spoil::Insert),
    ]
}

fn spoiled(cast: &Cast, spoils: &[Spoil]) -> Cast {
    let mut out = cast.clone();
    out.transcript.clear();
    for (i, line) in cast.transcript.iter().enumerate() {
        match spoils
            .get(i % spoils.len().max(1))
            .cloned()
            .unwrap_or(Spoil::Keep)
        {
            Spoil::Keep => out.transcript.push(line.clone()),
            Spoil::Drop => {}
            Spoil::Cut(at) => {
                let text = line.entry.to_string();
                let mut end = (text.len() as f64 * at) as usize;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                out.transcript.push(Line {
                    entry: Value::String(text[..end].to_string()),
                    ..line.clone()
                });
            }
            Spoil::Garbage(g) => {
                let mut entry = line.entry.clone();
                if let Some(blocks) = entry.pointer_mut("/message/content") {
                    *blocks = json!([{"type": "text", "text": g}]);
                }
                out.transcript.push(Line {
                    entry,
                    ..line.clone()
                });
            }
            Spoil::Insert(v) => {
                out.transcript.push(Line {
                    entry: v,
                    ..line.clone()
                });
                out.transcript.push(line.clone());
            }
        }
    }
    out
}

/// Each answer's words in the final chat, in order (≥ 98 %), its opening once.
fn answers_shown(cast: &Cast, sidecar: &Value) -> Result<(), String> {
    let ops = replay_chat(cast, Arc::new(Profile::claude()), Limits::default());
    let mut chat = ModelChat::default();
    for op in &ops {
        chat.apply(op);
    }
    let shown = words(&chat.text());
    for answer in sidecar["answers"].as_array().into_iter().flatten() {
        let want = words(answer.as_str().unwrap_or_default());
        let found = lcs(&want, &shown);
        if (found as f64) < 0.98 * want.len() as f64 {
            return Err(format!("{found}/{} words of {want:?}", want.len()));
        }
        let head = &want[..want.len().min(8)];
        let times = shown.windows(head.len()).filter(|w| *w == head).count();
        if times != 1 {
            return Err(format!("opening {head:?} shown {times} times"));
        }
    }
    Ok(())
}

/// The longest common subsequence of two word lists.
fn lcs(a: &[String], b: &[String]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for x in a {
        let mut diagonal = 0;
        for (j, y) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = if x == y { diagonal + 1 } else { up.max(row[j]) };
            diagonal = up;
        }
    }
    row[b.len()]
}

fn recording(name: &str) -> (Cast, Value) {
    let path = Recordings::Reference2_1_332
        .dir()
        .join(format!("{name}.cast"));
    (Cast::read_file(&path).unwrap(), sidecar_of(&path))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_spoiled_transcript_never_costs_an_answer(
        which in 0..CASTS.len(),
        spoils in prop::collection::vec(spoil(), 1..12),
    ) {
        let (cast, sidecar) = recording(CASTS[which]);
        prop_assert!(!cast.transcript.is_empty());
        let cast = spoiled(&cast, &spoils);
        answers_shown(&cast, &sidecar).map_err(|e| TestCaseError::fail(format!("{}: {e}", CASTS[which])))?;
    }
}

/// The checks can fail, and hold on the recordings as they are.
#[test]
fn the_checks_hold_on_the_recordings_and_can_fail() {
    for name in CASTS {
        let (cast, sidecar) = recording(name);
        answers_shown(&cast, &sidecar).unwrap();
        let mut none = cast.clone();
        none.events.clear();
        assert!(answers_shown(&none, &sidecar).is_err(), "{name}");
    }
}
