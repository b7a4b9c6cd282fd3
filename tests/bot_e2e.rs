//! The real `telepty run` binary against the project's fake Bot API server, configured
//! through `TELEPTY_*` variables alone, with a scripted stand-in for Claude Code's screen
//! (`tests/programs/fake-claude.sh`) in the PTY.

mod common;

use std::time::Duration;

use common::bot::{has, start_bot, start_bot_with, wait_chat, STRANGER, TOKEN, USER};
use telepty_testkit::fake_telegram::{FakeTelegram, Fault};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_answers_screen_prompts_strangers_and_shutdown() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let mut bot = start_bot(&fake);

    // The menu of commands is registered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while fake.commands().as_array().is_none_or(|c| c.is_empty()) {
        assert!(tokio::time::Instant::now() < deadline, "no setMyCommands");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A session, a message, its answer.
    fake.user_message(USER, "/new alpha");
    wait_chat(
        &fake,
        USER,
        "the session's start",
        has("Session alpha started"),
    )
    .await;
    assert!(bot.sessions.join("alpha").is_dir());
    fake.user_message(USER, "hello there");
    wait_chat(
        &fake,
        USER,
        "the answer",
        has("You said: hello there (turn 1)"),
    )
    .await;

    // The screen, as text and as a picture of the terminal.
    fake.user_message(USER, "/screen text");
    let chat = wait_chat(&fake, USER, "the screen", |ms| {
        ms.iter()
            .any(|m| m.html.starts_with("<pre>") && m.text.contains("? for shortcuts"))
    })
    .await;
    assert!(chat.iter().all(|m| m.text.chars().count() <= 4096));
    fake.user_message(USER, "/screen");
    let chat = wait_chat(&fake, USER, "the picture", |ms| {
        ms.iter()
            .any(|m| m.file.as_ref().is_some_and(|f| f.kind == "photo"))
    })
    .await;
    let photo = chat.iter().find_map(|m| m.file.as_ref()).unwrap();
    let picture = telepty::term::picture::Picture::from_png(&photo.bytes).unwrap();
    // 60x20 cells, each about 11x21 pixels.
    assert!(
        picture.width > 600 && picture.height > 400,
        "{}x{}",
        picture.width,
        picture.height
    );

    // A second session; /sessions, /use.
    fake.user_message(USER, "/new beta");
    wait_chat(
        &fake,
        USER,
        "the second session",
        has("Session beta started"),
    )
    .await;
    fake.user_message(USER, "/sessions");
    wait_chat(&fake, USER, "the list", |ms| {
        ms.iter()
            .any(|m| m.text.contains("▶ beta") && m.text.contains("• alpha"))
    })
    .await;
    fake.user_message(USER, "/use alpha");
    wait_chat(&fake, USER, "the switch", has("Now in alpha")).await;
    fake.user_message(USER, "again");
    wait_chat(
        &fake,
        USER,
        "alpha's second answer",
        has("You said: again (turn 2)"),
    )
    .await;

    // A prompt becomes buttons; pressing one answers it on the terminal.
    fake.user_message(USER, "menu");
    let chat = wait_chat(&fake, USER, "the prompt's buttons", |ms| {
        ms.iter()
            .any(|m| m.buttons.len() == 2 && m.text.contains("Do you want to proceed?"))
    })
    .await;
    let prompt = chat.iter().find(|m| m.buttons.len() == 2).unwrap().clone();
    assert_eq!(prompt.buttons[0][0].0, "Yes");
    assert_eq!(prompt.buttons[1][0].0, "No");
    // A message while the prompt waits is held (its Enter would pick an option), and
    // typed once the prompt is answered.
    fake.user_message(USER, "while asked");
    wait_chat(&fake, USER, "the hold note", has("A prompt is waiting")).await;
    fake.press_button(USER, prompt.id, &prompt.buttons[0][0].1);
    wait_chat(
        &fake,
        USER,
        "the choice on the terminal",
        has("You chose 1 in turn 3"),
    )
    .await;
    wait_chat(&fake, USER, "the prompt answered", |ms| {
        ms.iter()
            .any(|m| m.id == prompt.id && m.text.contains("→ Yes") && m.buttons.is_empty())
    })
    .await;
    assert!(
        !fake.callback_answers().is_empty(),
        "the button press was answered"
    );
    wait_chat(
        &fake,
        USER,
        "the held message, after the prompt",
        has("You said: while asked (turn 4)"),
    )
    .await;

    // While the program works: "typing…", and a message sent meanwhile is acknowledged
    // as queued (and read when the turn ends).
    fake.user_message(USER, "slow");
    wait_chat(&fake, USER, "the queued note", |ms| {
        let _ = ms;
        !fake.chat_actions().is_empty()
    })
    .await;
    fake.user_message(USER, "after the wait");
    wait_chat(&fake, USER, "the queued note", has("Queued")).await;
    wait_chat(
        &fake,
        USER,
        "the slow answer",
        has("Done thinking (turn 5)"),
    )
    .await;
    wait_chat(
        &fake,
        USER,
        "the queued message's answer",
        has("You said: after the wait (turn 6)"),
    )
    .await;
    assert!(fake
        .chat_actions()
        .iter()
        .all(|(c, a)| *c == USER && a == "typing"));

    // A stranger reaches nothing and learns nothing.
    fake.user_message(STRANGER, "/new evil");
    fake.user_message(STRANGER, "hello");
    fake.user_message(USER, "/sessions");
    wait_chat(&fake, USER, "a later answer", |ms| {
        ms.iter().filter(|m| m.text.contains("▶ alpha")).count() >= 1
    })
    .await;
    assert!(fake.chat(STRANGER).is_empty(), "no reply to a stranger");
    assert!(!bot.sessions.join("evil").exists());
    // The program echoes every line it reads: the stranger's "hello" never reached it.
    assert!(
        !fake
            .chat(USER)
            .iter()
            .any(|m| m.text.contains("You said: hello (")),
        "a stranger's message reached the session"
    );

    // Every message the bot sent was valid for Telegram, and the flood limit held.
    let refused: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.error.is_some())
        .collect();
    assert!(refused.is_empty(), "refused calls: {refused:?}");

    // SIGTERM: sessions stopped, no child left, exit code 0.
    let pids: Vec<i32> = std::fs::read_to_string(&bot.pids)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(pids.len(), 2, "two sessions ran");
    // SAFETY: kill(2) on the child's pid; touches no memory.
    unsafe { libc::kill(bot.child.id() as i32, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = bot.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "telepty did not exit on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "session process {pid} outlived telepty"
        );
    }
}

/// Continuous output for two minutes against the fake server's flood limit: not one 429,
/// and the end of the output reaches the chat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_minutes_of_output_without_a_single_429() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let program = "for i in $(seq 1 2400); do echo \"line $i of the stream\"; sleep 0.05; done; echo stream-done at $(date +%s.%N); sleep 600";
    let _bot = start_bot_with(
        &fake,
        &[
            ("TELEPTY_PROFILE", "plain".into()),
            ("TELEPTY_COMMAND", format!("bash -c '{program}'")),
        ],
    );
    fake.user_message(USER, "/new stream");
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    let ended_at = loop {
        let chat = fake.chat(USER);
        if let Some(at) = chat.iter().find_map(|m| {
            let (_, rest) = m.text.split_once("stream-done at ")?;
            rest.split_whitespace().next()?.parse::<f64>().ok()
        }) {
            break at;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the end of the stream never reached the chat"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let delay = now - ended_at;
    let calls = fake.calls();
    let refused: Vec<_> = calls.iter().filter(|c| c.error.is_some()).collect();
    assert!(refused.is_empty(), "refused: {refused:?}");
    let (ops, worst) = common::bot::operations(&calls);
    let drafts = calls
        .iter()
        .filter(|c| c.method == "sendmessagedraft")
        .count();
    println!(
        "{} operations and {drafts} drafts in {:.0} s; at most {worst} operations in any 60 s; the last line reached the chat {delay:.1} s after it was printed (seen within 0.1 s)",
        ops,
        started.elapsed().as_secs_f64(),
    );
    assert!(worst <= 20, "{worst} operations in 60 s");
    assert!(
        started.elapsed() >= Duration::from_secs(115),
        "the stream lasted two minutes"
    );
}

/// A storm of 429s, a server error and a dropped connection while an answer goes out:
/// the answer still arrives, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_survives_a_429_storm_and_a_dropped_connection() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let _bot = start_bot(&fake);
    fake.user_message(USER, "/new alpha");
    wait_chat(
        &fake,
        USER,
        "the session's start",
        has("Session alpha started"),
    )
    .await;
    fake.fail_next([
        Fault::RetryAfter(2),
        Fault::RetryAfter(1),
        Fault::ServerError,
        Fault::Drop,
        Fault::RetryAfter(1),
    ]);
    fake.user_message(USER, "through the storm");
    let chat = wait_chat(&fake, USER, "the answer", |ms| {
        ms.iter()
            .any(|m| m.text.contains("You said: through the storm (turn 1)"))
    })
    .await;
    // Give any duplicate a chance to show before counting (the chat settles).
    let settled = fake.calls().len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let chat = if fake.calls().len() != settled {
        fake.chat(USER)
    } else {
        chat
    };
    let answers = chat
        .iter()
        .filter(|m| m.text.contains("You said: through the storm"))
        .count();
    assert_eq!(answers, 1, "the answer once: {chat:?}");
    let starts = chat
        .iter()
        .filter(|m| m.text.contains("Session alpha started"))
        .count();
    assert_eq!(starts, 1);
    let faults = fake.calls().iter().filter(|c| c.error.is_some()).count();
    assert!(faults >= 4, "the faults were met: {faults}");
}

/// Five sessions at once, each answering: every answer arrives; prints the delay from
/// the user's message to the answer in the chat and the bot's memory (figures for the
/// README, not goals of a test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_sessions_answer_and_the_bot_stays_small() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let bot = start_bot_with(&fake, &[("TELEPTY_MAX_SESSIONS", "5".into())]);
    for i in 1..=5 {
        fake.user_message(USER, &format!("/new s{i}"));
        wait_chat(
            &fake,
            USER,
            "the session's start",
            has(&format!("Session s{i} started")),
        )
        .await;
    }
    let mut delays = Vec::new();
    for i in 1..=5 {
        fake.user_message(USER, &format!("/use s{i}"));
        wait_chat(&fake, USER, "the switch", has(&format!("Now in s{i}"))).await;
        let sent = std::time::Instant::now();
        fake.user_message(USER, &format!("question for s{i}"));
        wait_chat(
            &fake,
            USER,
            "the answer",
            has(&format!("You said: question for s{i} (turn 1)")),
        )
        .await;
        delays.push(sent.elapsed());
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", bot.child.id())).unwrap();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap_or("VmRSS: ?")
        .trim_start_matches("VmRSS:")
        .trim()
        .to_string();
    let max = delays.iter().max().unwrap();
    println!("5 sessions: telepty's RSS {rss}; message → answer in the chat: max {max:?} (the program answers at once; includes Enter's 150 ms gap)");
    assert_eq!(delays.len(), 5);
}

/// Shutdown is a parameter: the bot in this process stops when its token is cancelled —
/// no signal — its session's program ends and the registry keeps the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_stops_when_its_shutdown_is_cancelled() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let script = common::root().join("tests/programs/fake-claude.sh");
    let pids = home.path().join("pids");
    // The fake program logs its pid through the environment it inherits.
    std::env::set_var("FAKE_PIDS", &pids);
    let env: std::collections::BTreeMap<String, String> = [
        ("TELEPTY_TOKEN", TOKEN.to_string()),
        ("TELEPTY_ALLOWED_USERS", USER.to_string()),
        ("TELEPTY_API_URL", fake.url()),
        (
            "TELEPTY_SESSIONS_ROOT",
            home.path().join("sessions").display().to_string(),
        ),
        (
            "TELEPTY_STATE_DIR",
            home.path().join("state").display().to_string(),
        ),
        ("TELEPTY_COMMAND", format!("bash {}", script.display())),
        ("TELEPTY_PTY_SIZE", "60x20".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config = telepty::config::Config::load(None, &env).unwrap();
    let profile = std::sync::Arc::new(telepty::core::profile::Profile::claude());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let bot = tokio::spawn(telepty::chat::telegram::serve(
        config,
        profile,
        shutdown.clone(),
    ));
    fake.user_message(USER, "/new alpha");
    wait_chat(&fake, USER, "the start", has("Session alpha started")).await;
    fake.user_message(USER, "hello");
    wait_chat(&fake, USER, "the answer", has("You said: hello (turn 1)")).await;

    shutdown.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(20), bot).await;
    ended
        .expect("the bot stops within 20 s of the cancellation")
        .unwrap()
        .unwrap();
    let pid: i32 = std::fs::read_to_string(&pids)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the session's program has ended"
    );
    let registry = std::fs::read_to_string(home.path().join("state/registry.json")).unwrap();
    assert!(registry.contains("\"alpha\""), "{registry}");
    assert!(registry.contains("suspended"), "{registry}");
}
