//! An answer too long for a few messages reaches the chat as its first message and a
//! document with all of it (the pipeline on virtual time, with a Claude Code-like screen).

use std::sync::Arc;
use std::time::Duration;

use telepty::core::ops::{AttachmentKind, Operation};
use telepty::core::pacer::Limits;
use telepty::core::pipeline::Pipeline;
use telepty::core::profile::Profile;
use telepty::term::screen::Size;

/// The status line while Claude works, above the input box.
const WORKING: &str = "✶ Thinking… (3s · ↓ 5 tokens)\r\n";
const BOX: &str = "\r\n────────────────────────────────────────\r\n❯\u{a0}\r\n────────────────────────────────────────\r\n  ? for shortcuts\r\n";

#[test]
fn a_very_long_answer_becomes_its_beginning_and_a_document() {
    // A terminal tall enough for the whole answer: what is tested here is the render, not
    // following rows that scroll away (the recordings test that).
    let mut p = Pipeline::new(
        Arc::new(Profile::claude()),
        Size::new(100, 480),
        Limits::unlimited(),
    );
    let mut t = Duration::ZERO;
    let mut ops = Vec::new();
    let mut step = |p: &mut Pipeline, t: &mut Duration, out: &str| {
        *t += Duration::from_millis(50);
        ops.extend(p.output(*t, out.as_bytes()));
    };
    step(&mut p, &mut t, &format!("\x1b[2J\x1b[HWelcome{BOX}"));
    t += Duration::from_millis(500);
    p.input(t, b"explain everything");
    p.input(t + Duration::from_millis(150), b"\r");
    t += Duration::from_millis(200);
    // Drawn inline as Claude Code 2.1.197 does: the status line and the input box stay
    // under the answer, erased and drawn again below each new line.
    step(
        &mut p,
        &mut t,
        &format!("\x1b[2J\x1b[H❯ explain everything\r\n\r\n{WORKING}{BOX}"),
    );
    let sentences: Vec<String> = (1..=220)
        .map(|i| {
            format!("Paragraph {i} of the answer explains part {i} of everything in some detail.")
        })
        .collect();
    for (i, s) in sentences.iter().enumerate() {
        let lead = if i == 0 { "● " } else { "  " };
        step(
            &mut p,
            &mut t,
            &format!("\x1b[6A\r\x1b[J{lead}{s}\r\n\r\n{WORKING}{BOX}"),
        );
    }
    step(
        &mut p,
        &mut t,
        &format!("\x1b[6A\r\x1b[J✻ Worked for 9s\r\n{BOX}"),
    );
    let mut ops: Vec<Operation> = ops.into_iter().map(|o| o.op).collect();
    ops.extend(
        p.advance(t + Duration::from_secs(10))
            .into_iter()
            .map(|o| o.op),
    );
    ops.extend(p.drain().into_iter().map(|o| o.op));

    let sends: Vec<_> = ops
        .iter()
        .filter_map(|o| match o {
            Operation::Send(_, c) if !c.silent => Some(c),
            _ => None,
        })
        .collect();
    let document = sends
        .iter()
        .find_map(|c| c.attachment.as_ref())
        .expect("the answer as a document");
    assert_eq!(document.kind, AttachmentKind::Document);
    let text = String::from_utf8(document.bytes.to_vec()).unwrap();
    for s in &sentences {
        assert!(text.contains(s.as_str()), "the document has {s:?}");
    }
    // The beginning as a message, then the document: not a stream of messages.
    let answer_messages: Vec<_> = sends
        .iter()
        .filter(|c| c.attachment.is_none() && c.text.contains("Paragraph"))
        .collect();
    assert_eq!(answer_messages.len(), 1, "{answer_messages:?}");
    assert!(answer_messages[0]
        .text
        .contains("Paragraph 1 of the answer"));
}
