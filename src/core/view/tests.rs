//! The view on screens drawn as Claude Code draws them: what it reads off them.

use super::*;
use crate::term::screen::Size;

/// A whole screen as the program would draw it: home, clear, then the rows.
pub(crate) fn frame(rows: &[&str]) -> Vec<u8> {
    let mut bytes = b"\x1b[H\x1b[2J".to_vec();
    bytes.extend_from_slice(rows.join("\r\n").as_bytes());
    bytes
}

/// A tool call's bullet: coloured (an answer's bullet is white or uncoloured).
pub(crate) const CALL: &str = "\x1b[32m●\x1b[0m";

/// The input box and the footer under it, as an idle Claude Code draws them.
pub(crate) const IDLE_BOX: [&str; 4] = [
    "────────────────────────────────────────",
    "❯\u{a0}",
    "────────────────────────────────────────",
    "  ? for shortcuts",
];

pub(crate) fn screen() -> Screen {
    let mut screen = Screen::new(Size::new(60, 24), 100);
    screen.set_colour_marks(vec!['●']);
    screen
}

/// Draws `rows` above the idle input box at `t` seconds and lets the view look.
pub(crate) fn show(view: &mut View, screen: &mut Screen, t: u64, rows: &[&str]) {
    let mut all = rows.to_vec();
    all.extend(IDLE_BOX);
    screen.feed(&frame(&all));
    view.observe(Duration::from_secs(t), screen);
}

/// A turn: the user's prompt, an answer, a call with its result, the closing answer.
pub(crate) fn answered_turn(view: &mut View, screen: &mut Screen) {
    show(view, screen, 0, &[]);
    view.input(Duration::from_secs(1), b"list the files\r");
    let call = format!("{CALL} Bash(ls)");
    show(
        view,
        screen,
        2,
        &[
            "❯ list the files",
            "",
            "● I'll list them.",
            "",
            &call,
            "  ⎿  a.txt",
            "     b.txt",
            "",
            "● Two files: a.txt and b.txt.",
            "",
            "✻ Worked for 3s",
            "",
        ],
    );
}

fn claude() -> View {
    View::new(Arc::new(Profile::claude()))
}

fn tool(kind: Kind, text: &str, content: &str) -> ToolLine {
    ToolLine {
        kind,
        text: text.into(),
        content: content.into(),
        progress: false,
    }
}

#[test]
fn a_turn_is_the_prompt_the_answers_and_the_calls_between_them() {
    let (mut view, mut screen) = (claude(), screen());
    answered_turn(&mut view, &mut screen);
    assert_eq!(view.state(), &State::Idle);
    let [turn] = view.turns() else {
        panic!("one turn: {:?}", view.turns())
    };
    assert_eq!(turn.user, "list the files");
    assert!(turn.done, "the status line said the turn is over");
    assert_eq!(
        turn.blocks,
        [
            Block::Text(vec!["I'll list them.".into()]),
            Block::Tools(vec![
                tool(Kind::ToolBanner, "Bash(ls)", "Bash(ls)"),
                tool(Kind::ToolResult, "⎿ a.txt", "a.txt"),
                tool(Kind::Text, "b.txt", "b.txt"),
            ]),
            Block::Text(vec!["Two files: a.txt and b.txt.".into()]),
        ]
    );
}

#[test]
fn the_status_line_means_busy_and_says_what_claude_is_doing() {
    let (mut view, mut screen) = (claude(), screen());
    show(&mut view, &mut screen, 0, &[]);
    assert_eq!(view.state(), &State::Idle);
    view.input(Duration::from_secs(1), b"list the files\r");
    screen.feed(&frame(&[
        "❯ list the files",
        "",
        "✶ Listing… (3s · ↓ 20 tokens)",
        "",
        "────────────────────────────────────────",
        "❯\u{a0}",
        "────────────────────────────────────────",
        "  esc to interrupt",
    ]));
    view.observe(Duration::from_secs(2), &mut screen);
    assert_eq!(view.state(), &State::Busy("Listing…".into()));
    assert!(!view.turns()[0].done);
}

#[test]
fn a_turn_without_a_closing_status_line_ends_when_the_input_box_stays_back() {
    let (mut view, mut screen) = (claude(), screen());
    show(&mut view, &mut screen, 0, &[]);
    view.input(Duration::from_secs(1), b"hi\r");
    show(&mut view, &mut screen, 2, &["❯ hi", "", "● Hello.", ""]);
    let settle = view.next_deadline().expect("the turn settles later");
    view.tick(settle - Duration::from_millis(1));
    assert!(!view.turns()[0].done, "too early");
    view.tick(settle);
    assert!(view.turns()[0].done);
    assert_eq!(view.next_deadline(), None);
}

#[test]
fn a_menu_on_screen_makes_the_view_wait_with_every_option() {
    let (mut view, mut screen) = (claude(), screen());
    show(&mut view, &mut screen, 0, &[]);
    view.input(Duration::from_secs(1), b"clean up\r");
    let call = format!("{CALL} Bash(rm -rf build)");
    screen.feed(&frame(&[
        "❯ clean up",
        "",
        &call,
        "",
        "────────────────────────────────────────",
        " Bash command",
        "",
        "   rm -rf build",
        "   Remove the build folder",
        "",
        " Do you want to proceed?",
        " ❯ 1. Yes",
        "   2. Yes, and don't ask again for rm commands",
        "   3. No",
        "",
        " Esc to cancel",
    ]));
    view.observe(Duration::from_secs(2), &mut screen);
    assert_eq!(view.state(), &State::Waiting);
    let prompt = view.prompt().expect("a prompt");
    assert_eq!(prompt.question(), "Do you want to proceed?");
    let labels: Vec<&str> = prompt.choices.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(
        labels,
        ["Yes", "Yes, and don't ask again for rm commands", "No"]
    );
    assert!(prompt.context.iter().any(|l| l.contains("rm -rf build")));
}

#[test]
fn the_permission_mode_and_version_come_from_the_screen() {
    // The footer is the screen's last row.
    let (mut view, mut screen) = (claude(), Screen::new(Size::new(60, 6), 0));
    screen.feed(&frame(&[
        " ▐▛███▜▌   Claude Code v2.1.331",
        "",
        "────────────────────────────────────────",
        "❯\u{a0}",
        "────────────────────────────────────────",
        "  ⏵⏵ auto mode on (shift+tab to cycle)",
    ]));
    view.observe(Duration::ZERO, &mut screen);
    assert_eq!(view.version(), Some("2.1.331"));
    assert_eq!(view.mode(), Some("⏵⏵ auto mode on"));
    assert!(view.turns().is_empty(), "the welcome is no turn");
}
