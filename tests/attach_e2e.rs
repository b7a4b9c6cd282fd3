//! `telepty attach`, `ls` and `send` against a running `telepty run` (fake Bot API,
//! the scripted stand-in for Claude Code): each attached terminal is a PTY of the test's
//! own, read through the same screen model telepty uses.

mod common;

use std::time::Duration;

use common::bot::{has, start_bot, wait_chat, TOKEN, USER};
use common::desk::{config_for, shows, AFTER};
use telepty::Size;
use telepty_testkit::fake_telegram::FakeTelegram;

/// A terminal at the desk of the session's size (60x20).
fn desk(args: &str) -> telepty::Terminal {
    common::desk::desk(args, Size::new(60, 20))
}

const TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_attach_type_see_the_same_and_detach_cleanly() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let mut bot = start_bot(&fake);
    fake.user_message(USER, "/new alpha");
    wait_chat(&fake, USER, "the start", has("Session alpha started")).await;
    fake.user_message(USER, "hello");
    wait_chat(&fake, USER, "the answer", has("You said: hello (turn 1)")).await;
    let config = config_for(bot.dir.path(), &bot.dir.path().join("state"));
    let config = config.display().to_string();

    // The first screen appears at once, drawn from the screen model: the program has
    // printed nothing since the answer.
    let mut one = desk(&format!("attach alpha --config {config}"));
    shows(&mut one, "You said: hello (turn 1)").await;
    assert!(
        one.screen().is_alternate(),
        "attached on the alternate screen"
    );
    assert!(
        one.screen().vt().hide_cursor(),
        "the program's hidden cursor is hidden at the desk too"
    );
    assert_eq!(bot.program_inputs(), vec!["hello"]);

    // A second terminal sees the same; the chat knows both are there.
    let mut two = desk(&format!("attach alpha --config {config}"));
    shows(&mut two, "You said: hello (turn 1)").await;
    fake.user_message(USER, "/sessions");
    wait_chat(&fake, USER, "two attached", has("2 terminals attached")).await;

    // Typed at the desk: it reaches the program, the answer reaches the chat and both
    // terminals.
    one.write(b"from the desk\r");
    wait_chat(
        &fake,
        USER,
        "the desk's turn in the chat",
        has("You said: from the desk (turn 2)"),
    )
    .await;
    shows(&mut two, "You said: from the desk (turn 2)").await;
    // A message from the chat is typed as usual while terminals are attached.
    fake.user_message(USER, "from the phone");
    shows(&mut one, "You said: from the phone (turn 3)").await;
    shows(&mut two, "You said: from the phone (turn 3)").await;

    // A single Ctrl-\ is the program's; twice detaches, and the terminal is itself again:
    // cooked mode with echo, the cursor shown, the main screen.
    one.write(&[0x1c, 0x1c]);
    shows(&mut one, AFTER).await;
    let screen = one.screen();
    assert!(!screen.is_alternate(), "left the alternate screen");
    assert!(!screen.vt().hide_cursor(), "the cursor is shown");
    let modes = screen.text();
    assert!(modes.contains("[detached from alpha]"), "{modes}");
    assert!(
        modes.contains(" icanon") && modes.contains(" echo ") && !modes.contains("-icanon"),
        "raw mode is off:\n{modes}"
    );
    fake.user_message(USER, "/sessions");
    wait_chat(&fake, USER, "one left", has("a terminal attached")).await;

    // SIGHUP (the terminal closed) detaches too.
    let attach_pid = child_of(two.pid()).expect("the attach process");
    // SAFETY: kill(2) on a pid of this test's own child; touches no memory.
    unsafe { libc::kill(attach_pid, libc::SIGHUP) };
    shows(&mut two, AFTER).await;
    assert!(!two.screen().is_alternate());
    assert!(!two.screen().vt().hide_cursor());

    // A terminal smaller than the session is warned before it attaches.
    let mut small = common::desk::desk(
        &format!("attach alpha --config {config}"),
        Size::new(40, 12),
    );
    shows(&mut small, "this terminal is 40x12 and the session 60x20").await;
    assert!(!small.screen().is_alternate(), "not attached before Enter");
    small.write(b"\r");
    shows(&mut small, "You said: from the phone (turn 3)").await;
    small.write(&[0x1c, 0x1c]);
    shows(&mut small, AFTER).await;
    assert!(!small.screen().is_alternate());

    // `telepty send` types a line for scripts; `telepty ls` lists the sessions.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_telepty"))
        .args(["send", "alpha", "by", "script", "--config", &config])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_chat(
        &fake,
        USER,
        "the scripted line's answer",
        has("You said: by script (turn 4)"),
    )
    .await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_telepty"))
        .args(["ls", "--config", &config])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("alpha") && list.contains("ready"), "{list}");
    assert!(!list.contains("attached"), "nobody is attached now: {list}");

    // A suspended session is resumed for the terminal.
    fake.user_message(USER, "/stop alpha");
    wait_chat(&fake, USER, "the stop", has("alpha stopped")).await;
    let mut three = desk(&format!("attach alpha --config {config}"));
    wait_chat(&fake, USER, "the resume", has("Resuming alpha")).await;
    shows(&mut three, "? for shortcuts").await;
    three.write(b"back\r");
    wait_chat(
        &fake,
        USER,
        "the resumed session's answer",
        has("You said: back (turn 5)"),
    )
    .await;
    three.write(&[0x1c, 0x1c]);
    shows(&mut three, AFTER).await;

    // A second bot on the same state directory (the same registry) refuses to start.
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_telepty"))
        .arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TELEPTY_TOKEN", TOKEN)
        .env("TELEPTY_ALLOWED_USERS", USER.to_string())
        .env("TELEPTY_API_URL", fake.url())
        .env("TELEPTY_STATE_DIR", bot.dir.path().join("state"))
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another telepty is running"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );

    // Unknown sessions and a telepty that is not running are said plainly.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_telepty"))
        .args(["send", "nope", "hi", "--config", &config])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no session nope"));
    assert!(bot.terminate().await.success());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_telepty"))
        .args(["ls", "--config", &config])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("telepty is not running"));
}

/// The first child process of `pid` (the shell's telepty).
fn child_of(pid: u32) -> Option<i32> {
    let deadline = std::time::Instant::now() + TIMEOUT;
    while std::time::Instant::now() < deadline {
        let path = format!("/proc/{pid}/task/{pid}/children");
        if let Some(child) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|c| c.parse().ok()))
        {
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_with_a_terminal_attached_is_not_suspended_for_being_idle() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let bot = common::bot::start_bot_with(&fake, &[("TELEPTY_IDLE_TIMEOUT", "1s".into())]);
    let config = config_for(bot.dir.path(), &bot.dir.path().join("state"));
    fake.user_message(USER, "/new alpha");
    wait_chat(&fake, USER, "the start", has("Session alpha started")).await;
    let mut one = desk(&format!("attach alpha --config {}", config.display()));
    shows(&mut one, "? for shortcuts").await;
    // (Under load it may have been suspended before the terminal came, and resumed for
    // it: only suspensions from now on count.)
    let before = common::bot::count(&fake, USER, "suspended");
    // Three idle timeouts go by while someone is at the terminal: not suspended (a
    // window to watch for something that must not happen, not a synchronisation).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        common::bot::count(&fake, USER, "suspended"),
        before,
        "suspended while a terminal was attached"
    );
    // Once the terminal has left, the idle timeout applies again.
    one.write(&[0x1c, 0x1c]);
    shows(&mut one, AFTER).await;
    wait_chat(&fake, USER, "the suspension", |_| {
        common::bot::count(&fake, USER, "suspended") > before
    })
    .await;
}

/// The width in pixels of the picture `/screen` sends now.
async fn screen_width(fake: &FakeTelegram) -> usize {
    let pictures = |ms: &[telepty_testkit::fake_telegram::ChatMessage]| {
        ms.iter()
            .filter(|m| m.file.as_ref().is_some_and(|f| f.kind == "photo"))
            .count()
    };
    let before = pictures(&fake.chat(USER));
    fake.user_message(USER, "/screen");
    let chat = wait_chat(fake, USER, "a picture", |ms| pictures(ms) > before).await;
    let photo = chat.iter().rev().find_map(|m| m.file.as_ref()).unwrap();
    telepty::term::picture::Picture::from_png(&photo.bytes)
        .unwrap()
        .width
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resize_lends_the_terminal_size_and_gives_it_back() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let bot = start_bot(&fake);
    let config = config_for(bot.dir.path(), &bot.dir.path().join("state"));
    fake.user_message(USER, "/new alpha");
    wait_chat(&fake, USER, "the start", has("Session alpha started")).await;
    let own = screen_width(&fake).await;

    // A wider terminal with --resize: the session (and so /screen) takes its 90 columns.
    let mut wide = common::desk::desk(
        &format!("attach alpha --resize --config {}", config.display()),
        Size::new(90, 20),
    );
    shows(&mut wide, "? for shortcuts").await;
    let lent = screen_width(&fake).await;
    assert!(
        lent * 60 > own * 80,
        "90 columns draw wider than 60: {lent} vs {own} pixels"
    );
    // Detached, the session has its own size again.
    wide.write(&[0x1c, 0x1c]);
    shows(&mut wide, AFTER).await;
    let back = tokio::time::timeout(TIMEOUT, async {
        loop {
            let w = screen_width(&fake).await;
            if w == own {
                return w;
            }
        }
    })
    .await
    .expect("the session's own size back");
    assert_eq!(back, own);
}

/// `telepty ls`'s list of sessions.
fn ls(config: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_telepty"))
        .args(["ls", "--config", config])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// At the desk the phone stays quiet: while a terminal is attached, every message of the
/// session reaches the chat without a sound, its prompt included; detached, they ring
/// again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_is_quiet_while_a_terminal_is_attached() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let bot = start_bot(&fake);
    fake.user_message(USER, "/new alpha");
    wait_chat(&fake, USER, "the start", has("Session alpha started")).await;
    let config = config_for(bot.dir.path(), &bot.dir.path().join("state"));
    let config = config.display().to_string();
    let mut one = desk(&format!("attach alpha --config {config}"));
    shows(&mut one, "? for shortcuts").await;
    let before = fake.calls().len();

    fake.user_message(USER, "hello");
    wait_chat(&fake, USER, "the answer", has("You said: hello (turn 1)")).await;
    fake.user_message(USER, "menu");
    let chat = wait_chat(&fake, USER, "the prompt", |ms| {
        ms.iter().any(|m| !m.buttons.is_empty())
    })
    .await;
    let prompt = chat.iter().find(|m| !m.buttons.is_empty()).unwrap();
    fake.press_button(USER, prompt.id, &prompt.buttons[0][0].1);
    wait_chat(&fake, USER, "the choice", has("You chose 1 in turn 2")).await;
    let sends: Vec<_> = fake.calls()[before..]
        .iter()
        .filter(|c| c.method == "sendmessage")
        .map(|c| c.body.clone())
        .collect();
    assert!(sends.len() >= 3, "{sends:?}");
    for body in &sends {
        assert_eq!(body["disable_notification"], true, "{body}");
    }

    one.write(&[0x1c, 0x1c]);
    shows(&mut one, AFTER).await;
    common::bot::wait_until("the detach", TIMEOUT, || !ls(&config).contains("attached")).await;
    fake.user_message(USER, "hello again");
    let chat = wait_chat(
        &fake,
        USER,
        "the answer",
        has("You said: hello again (turn 3)"),
    )
    .await;
    let answer = chat
        .iter()
        .find(|m| m.text.contains("hello again (turn 3)"))
        .unwrap();
    assert!(!answer.silent, "the answer after detaching rings");
}
