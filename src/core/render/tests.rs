//! The render on views of Claude Code screens: the messages a user would get.

use super::*;
use crate::core::ops::Operation;
use crate::core::pacer::Limits;
use crate::core::profile::Profile;
use crate::core::view::tests::{answered_turn, screen, show, CALL};
use crate::term::screen::Screen;
use std::sync::Arc;

fn claude() -> View {
    View::new(Arc::new(Profile::claude()))
}

/// The messages as the chat holds them after the render looked at `view` at `t`
/// seconds (edits applied, deleted ones gone), in the order they were first sent.
fn chat(render: &mut Render, pacer: &mut Pacer, view: &View, t: u64) -> Vec<Content> {
    let now = Duration::from_secs(t);
    render.update(view, None, pacer, now);
    let mut messages: Vec<(MessageId, Content)> = Vec::new();
    for op in pacer.poll(now) {
        match op {
            Operation::Send(id, c) => messages.push((id, c)),
            Operation::Edit(id, c) => {
                if let Some(m) = messages.iter_mut().find(|m| m.0 == id) {
                    m.1 = c;
                }
            }
            Operation::Delete(id) => messages.retain(|m| m.0 != id),
            Operation::Draft(..) => {}
        }
    }
    messages.into_iter().map(|m| m.1).collect()
}

fn setup() -> (View, Screen, Render, Pacer) {
    (
        claude(),
        screen(),
        Render::new(),
        Pacer::new(Limits::unlimited()),
    )
}

#[test]
fn a_finished_turn_is_its_answers_aloud_and_the_record_of_its_calls() {
    let (mut view, mut screen, mut render, mut pacer) = setup();
    answered_turn(&mut view, &mut screen);
    let messages = chat(&mut render, &mut pacer, &view, 3);
    let texts: Vec<&str> = messages.iter().map(|c| c.text.as_str()).collect();
    let answer = messages
        .iter()
        .find(|c| c.text.contains("Two files: a.txt and b.txt."))
        .unwrap_or_else(|| panic!("the answer: {texts:?}"));
    assert!(!answer.silent, "the answer is the turn's audible message");
    assert!(answer.text.contains("I'll list them."), "{texts:?}");
    let record = messages
        .iter()
        .find(|c| c.text.contains("Bash(ls)"))
        .unwrap_or_else(|| panic!("the record: {texts:?}"));
    assert!(record.text.contains("⎿ a.txt"), "{}", record.text);
    assert_eq!(
        messages.iter().filter(|c| !c.silent).count(),
        1,
        "one sound per turn: {texts:?}"
    );
}

#[test]
fn a_prompt_is_a_message_with_a_button_for_every_option() {
    let (mut view, mut screen, mut render, mut pacer) = setup();
    show(&mut view, &mut screen, 0, &[]);
    view.input(Duration::from_secs(1), b"clean up\r");
    let call = format!("{CALL} Bash(rm -rf build)");
    screen.feed(&crate::core::view::tests::frame(&[
        "❯ clean up",
        "",
        &call,
        "",
        "────────────────────────────────────────",
        " Bash command",
        "",
        "   rm -rf build",
        "",
        " Do you want to proceed?",
        " ❯ 1. Yes",
        "   2. Yes, and don't ask again for rm commands",
        "   3. No",
        "",
        " Esc to cancel",
    ]));
    view.observe(Duration::from_secs(2), &mut screen);
    let messages = chat(&mut render, &mut pacer, &view, 2);
    let prompt = messages
        .iter()
        .find(|c| !c.buttons.is_empty())
        .unwrap_or_else(|| panic!("a prompt message: {messages:?}"));
    assert!(
        prompt.text.contains("Do you want to proceed?"),
        "{}",
        prompt.text
    );
    assert!(prompt.text.contains("rm -rf build"), "{}", prompt.text);
    assert!(!prompt.silent, "a prompt needs the user");
    let labels: Vec<&str> = prompt
        .buttons
        .iter()
        .flatten()
        .map(|b| b.text.as_str())
        .collect();
    for option in ["Yes", "Yes, and don't ask again for rm commands", "No"] {
        assert!(
            labels.iter().any(|l| l.contains(option)),
            "{option:?} in {labels:?}"
        );
    }
    let button = &prompt.buttons[0][0];
    assert!(
        render.button(&button.data).is_some(),
        "its data leads back to the option"
    );
}

#[test]
fn a_call_auto_mode_blocked_is_announced_with_the_command_and_the_reason() {
    let (mut view, mut screen, mut render, mut pacer) = setup();
    show(&mut view, &mut screen, 0, &[]);
    view.input(Duration::from_secs(1), b"run it\r");
    show(
        &mut view,
        &mut screen,
        2,
        &[
            "❯ run it",
            "",
            "  Did not run 1 call",
            "  ⎿  $ curl x | sh",
            "  ⎿  Blocked by auto mode · /permissions to review",
            "     │ Auto mode: Pipes a remote script into a root shell",
            "",
            "● I could not run it.",
            "",
            "✻ Worked for 2s",
            "",
        ],
    );
    let messages = chat(&mut render, &mut pacer, &view, 3);
    let notice = messages
        .iter()
        .find(|c| c.text.contains("Blocked by auto mode</b>"))
        .unwrap_or_else(|| panic!("a notice: {messages:?}"));
    assert_eq!(
        notice.text,
        "🛡 <b>Blocked by auto mode</b>\n<code>$ curl x | sh</code>\n\
         Auto mode: Pipes a remote script into a root shell"
    );
    assert_eq!(
        messages.iter().filter(|c| c.text.contains("🛡")).count(),
        1,
        "announced once"
    );
}
