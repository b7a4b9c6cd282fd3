//! The whole pipeline (screen → view → render → pacer) on random and mutated input: it
//! never panics, and whatever it sends keeps Telegram's rules — every edit and delete
//! names a message sent before, texts fit in a message, callback data fits in 64 bytes,
//! tags are balanced, and no 60 s window holds more than 20 operations.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use telepty::cast::asciicast::{Cast, EventKind};
use telepty::cast::replay::replay_chat;
use telepty::chat::model::ModelChat;
use telepty::core::ops::Operation;
use telepty::core::ops::TimedOp;
use telepty::core::pacer::Limits;
use telepty::core::pipeline::Pipeline;
use telepty::core::profile::Profile;
use telepty::core::render::visible_len;
use telepty::Size;

/// Real recordings to mutate: a permission prompt (2.1.331) and a plan of tasks (2.1.197),
/// read at run time: a missing `../shared` fails the test with its path, not the build.
const SAMPLES: &[&str] = &[
    "fixtures/claude-code/d-permission-yes.60x24.cast",
    "../shared/claude-code/casts/g-multi-tools.60x24.cast",
];

fn sample(i: usize) -> &'static str {
    static READ: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let read = READ.get_or_init(|| {
        SAMPLES
            .iter()
            .map(|s| {
                let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(s);
                std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
            })
            .collect()
    });
    &read[i]
}

/// Pieces of Claude Code's screens and of terminal streams, so random input reaches the
/// view's deep states (prompts, tool groups, tables, the input box).
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..12),
        prop::sample::select(vec![
            "\r\n",
            "\x1b[H",
            "\x1b[2J",
            "\x1b[?1049h",
            "\x1b[?1049l",
            "\x1b[K",
            "\x1b[5;1H",
            "\x1b[38;5;231m● ",
            "\x1b[38;5;246m● ",
            "● Bash(ls -la",
            ")",
            "  ⎿  $ rm -rf x",
            "  ⎿  Blocked by auto mode · /permissions",
            "     │ Auto mode: risky",
            "❯ hello there",
            "❯\u{a0}",
            " ❯ 1. Yes",
            "   2. No",
            "  ❯ No, exit",
            "    Yes, I trust",
            " Do you want to proceed?",
            " Esc to cancel",
            "────────────────────────────",
            "  ⏵⏵ auto mode on · esc to interrupt",
            "  ? for shortcuts",
            "✻ Worked for 3s",
            "✶ Thinking… (3s · ↓ 12 tokens)",
            "  ⎿  ◻ Task one",
            "  ✔ Task two",
            "  │ a │ b │",
            "  ┌───┬───┐",
            "  ├───┼───┤",
            "  Ran 1 shell command",
            "  Showing detailed transcript",
            "<b>&amp;",
            "\u{a0}",
            "中文👩‍👩‍👧",
            "\x1b[6n",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

/// Checks Telegram's rules on a list of operations.
fn check_ops(ops: &[TimedOp]) -> Result<(), TestCaseError> {
    let mut chat = ModelChat::default();
    for op in ops {
        if let Operation::Send(_, c) | Operation::Edit(_, c) = &op.op {
            prop_assert!(
                visible_len(&c.text) <= 4096,
                "text too long: {}",
                visible_len(&c.text)
            );
            for tag in ["pre", "b", "i", "code"] {
                prop_assert_eq!(
                    c.text.matches(&format!("<{tag}>")).count(),
                    c.text.matches(&format!("</{tag}>")).count(),
                    "unbalanced <{}> in {:?}",
                    tag,
                    c.text
                );
            }
            let stripped = c
                .text
                .replace("&amp;", "")
                .replace("&lt;", "")
                .replace("&gt;", "");
            prop_assert!(!stripped.contains('&'), "unescaped & in {:?}", c.text);
            for b in c.buttons.iter().flatten() {
                prop_assert!(b.data.len() <= 64);
                prop_assert!(!b.text.is_empty());
            }
        }
        chat.apply(op);
    }
    prop_assert!(chat.faults.is_empty(), "{:?}", chat.faults);
    let times: Vec<Duration> = ops.iter().map(|o| o.time).collect();
    for (i, t) in times.iter().enumerate() {
        let n = times[i..]
            .iter()
            .take_while(|u| **u - *t < Duration::from_secs(60))
            .count();
        prop_assert!(n <= 20, "{} operations in 60 s", n);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_screens_and_keys(
        steps in prop::collection::vec((0u64..3000, any::<bool>(), prop::collection::vec(fragment(), 0..20)), 1..40),
        plain in any::<bool>(),
        cols in 1u16..120, rows in 1u16..50,
    ) {
        let profile = Arc::new(if plain { Profile::plain() } else { Profile::claude() });
        let mut p = Pipeline::new(profile, Size::new(cols, rows), Limits::default());
        let mut now = Duration::ZERO;
        let mut ops = Vec::new();
        for (gap, is_input, parts) in steps {
            now += Duration::from_millis(gap);
            let bytes = parts.concat();
            if is_input {
                ops.extend(p.input(now, &bytes));
            } else {
                ops.extend(p.output(now, &bytes));
            }
        }
        ops.extend(p.exited(now, "gone".into()));
        ops.extend(p.drain());
        check_ops(&ops)?;
    }

    #[test]
    fn mutated_recordings(
        sample_index in 0usize..2,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), fragment()), 1..16),
        plain in any::<bool>(),
    ) {
        let mut cast = Cast::read(sample(sample_index).as_bytes()).expect("the sample reads");
        for (event, at, bytes) in edits {
            let n = cast.events.len();
            let e = &mut cast.events[event.index(n)];
            if e.kind != EventKind::Output && e.kind != EventKind::Input {
                continue;
            }
            let mut data = e.data.clone().into_bytes();
            let i = at.index(data.len() + 1);
            data.splice(i..i, bytes);
            e.data = String::from_utf8_lossy(&data).into_owned();
        }
        let profile = Arc::new(if plain { Profile::plain() } else { Profile::claude() });
        let ops = replay_chat(&cast, profile, Limits::default());
        check_ops(&ops)?;
    }
}
