//! Sessions across idle time, crashes and restarts: the real `telepty run` against the
//! fake Bot API with `tests/programs/fake-claude.sh` (which continues its turn count
//! under `--continue`/`--resume`, as Claude Code continues a conversation). After each
//! test, no process of the program is left, running or zombie.

mod common;

use std::time::Duration;

use common::bot::{
    assert_gone, count, exists, has, start_bot_with, wait_chat, wait_until, Bot, TOKEN, USER,
};
use telepty_testkit::fake_telegram::FakeTelegram;

/// Stops telepty with SIGTERM (exit 0) and checks that no program process is left.
async fn stop_clean(bot: &mut Bot) {
    let pids = bot.program_pids();
    let status = bot.terminate().await;
    assert!(status.success(), "{status}");
    assert_gone(&pids, Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_is_suspended_then_resumed_with_its_conversation_and_messages_in_order() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let mut bot = start_bot_with(
        &fake,
        &[
            ("TELEPTY_IDLE_TIMEOUT", "2s".into()),
            ("FAKE_START_DELAY", "1".into()),
        ],
    );
    fake.user_message(USER, "/new alpha");
    wait_chat(&fake, USER, "the start", has("Session alpha started")).await;
    fake.user_message(USER, "hello");
    wait_chat(&fake, USER, "the answer", has("You said: hello (turn 1)")).await;

    // Idle for 2 s: suspended, its program gone (and reaped).
    wait_chat(&fake, USER, "the suspension", has("alpha suspended")).await;
    let first = bot.program_pids();
    assert_eq!(first.len(), 1);
    assert_gone(&first, Duration::from_secs(10)).await;
    fake.user_message(USER, "/sessions");
    wait_chat(&fake, USER, "the list", has("alpha — suspended")).await;

    // Three messages while it resumes (the program takes a second to draw): each
    // delivered, once, in order, and the conversation goes on from turn 1.
    for m in ["one", "two", "three"] {
        fake.user_message(USER, m);
    }
    wait_chat(
        &fake,
        USER,
        "the resume notice",
        has("Resuming alpha (--continue)"),
    )
    .await;
    wait_chat(
        &fake,
        USER,
        "the last answer",
        has("You said: three (turn 4)"),
    )
    .await;
    let chat = fake.chat(USER);
    let at = |t: &str| chat.iter().position(|m| m.text.contains(t)).unwrap();
    assert!(at("You said: one (turn 2)") < at("You said: two (turn 3)"));
    assert!(at("You said: two (turn 3)") < at("You said: three (turn 4)"));
    assert_eq!(bot.program_inputs(), ["hello", "one", "two", "three"]);
    // Started with a conversation id of telepty's choosing (its transcript's name),
    // resumed with --continue.
    let args = bot.program_args();
    assert_eq!(args.len(), 2, "{args:?}");
    let id = args[0]
        .strip_prefix("--session-id ")
        .expect("a fresh start names its id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(args[1], "--continue");

    // /idle off keeps it running; /delete forgets it, and its directory goes only on
    // the button.
    fake.user_message(USER, "/idle off");
    wait_chat(&fake, USER, "the idle change", has("never suspended")).await;
    fake.user_message(USER, "/delete alpha");
    let chat = wait_chat(&fake, USER, "the deletion", has("alpha deleted")).await;
    assert!(bot.sessions.join("alpha").is_dir(), "kept until confirmed");
    let offer = chat
        .iter()
        .rev()
        .find(|m| m.text.contains("deleted"))
        .unwrap();
    let (label, data) = &offer.buttons[0][0];
    assert_eq!(label, "Also delete the directory");
    fake.press_button(USER, offer.id, data);
    wait_until("the directory's removal", Duration::from_secs(10), || {
        !bot.sessions.join("alpha").exists()
    })
    .await;
    fake.user_message(USER, "/sessions");
    wait_chat(&fake, USER, "the empty list", has("No sessions")).await;
    stop_clean(&mut bot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_limit_the_least_recently_used_idle_session_makes_room_never_a_busy_one() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let mut bot = start_bot_with(&fake, &[("TELEPTY_MAX_SESSIONS", "2".into())]);
    // a is used first and then works for 6 s: the least recently used, but busy.
    fake.user_message(USER, "/new a");
    wait_chat(&fake, USER, "a's start", has("Session a started")).await;
    fake.user_message(USER, "slow");
    fake.user_message(USER, "/new b");
    wait_chat(&fake, USER, "b's start", has("Session b started")).await;
    fake.user_message(USER, "hi");
    wait_chat(&fake, USER, "b's answer", has("You said: hi (turn 1)")).await;
    let pids = bot.program_pids();
    assert_eq!(pids.len(), 2);
    let (a, b) = (pids[0], pids[1]);
    fake.user_message(USER, "/new c");
    wait_chat(&fake, USER, "c's start", has("Session c started")).await;
    wait_chat(
        &fake,
        USER,
        "the room made",
        has("Suspended b, the least recently used idle session, to make room for c"),
    )
    .await;
    assert_gone(&[b], Duration::from_secs(10)).await;
    assert!(exists(a), "the busy session was suspended");
    wait_chat(&fake, USER, "a's answer", has("Done thinking (turn 1)")).await;
    stop_clean(&mut bot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_every_session_is_restored_and_the_waiting_message_delivered_once() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let mut bot = start_bot_with(&fake, &[("FAKE_START_DELAY", "2".into())]);
    fake.user_message(USER, "/new alpha");
    wait_chat(&fake, USER, "alpha's start", has("Session alpha started")).await;
    fake.user_message(USER, "first");
    wait_chat(
        &fake,
        USER,
        "the first answer",
        has("You said: first (turn 1)"),
    )
    .await;
    fake.user_message(USER, "/new beta");
    wait_chat(&fake, USER, "beta's start", has("Session beta started")).await;

    bot.kill_9();
    // Their terminal gone, the programs end (SIGHUP): nothing is left behind.
    assert_gone(&bot.program_pids(), Duration::from_secs(10)).await;
    // Sent while telepty is down.
    fake.user_message(USER, "/use alpha");
    fake.user_message(USER, "after the restart");
    bot.restart();

    wait_chat(
        &fake,
        USER,
        "the waiting message answered",
        has("You said: after the restart (turn 2)"),
    )
    .await;
    fake.user_message(USER, "/sessions");
    wait_chat(&fake, USER, "the list", has("beta — suspended")).await;

    // Killed again while beta resumes for a message (its program takes 2 s to draw):
    // the message waits in the registry and is delivered after the restart, once.
    fake.user_message(USER, "/use beta");
    fake.user_message(USER, "for beta");
    wait_chat(&fake, USER, "beta resuming", has("Resuming beta")).await;
    bot.kill_9();
    assert_gone(&bot.program_pids(), Duration::from_secs(10)).await;
    bot.restart();
    wait_chat(
        &fake,
        USER,
        "beta's answer",
        has("You said: for beta (turn 1)"),
    )
    .await;

    // Settled: nothing handled twice.
    fake.user_message(USER, "/status");
    wait_chat(&fake, USER, "the status", has("session(s) running")).await;
    assert_eq!(
        bot.program_inputs(),
        ["first", "after the restart", "for beta"]
    );
    assert_eq!(count(&fake, USER, "Now in alpha"), 1);
    assert_eq!(count(&fake, USER, "Now in beta"), 1);
    assert_eq!(count(&fake, USER, "Session alpha started"), 1);
    stop_clean(&mut bot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_is_told_once_and_a_crash_loop_stops_the_resuming() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let mut bot = start_bot_with(&fake, &[]);
    fake.user_message(USER, "/new alpha");
    wait_chat(&fake, USER, "the start", has("Session alpha started")).await;
    // An exit on its own with the resume line: the next start resumes that conversation.
    fake.user_message(USER, "bye");
    wait_chat(
        &fake,
        USER,
        "the end",
        has("alpha ended: exited with code 0"),
    )
    .await;
    fake.user_message(USER, "hello");
    wait_chat(
        &fake,
        USER,
        "the resumed answer",
        has("You said: hello (turn 2)"),
    )
    .await;
    assert_eq!(
        bot.program_args()[1],
        "--resume 0b6f6a52-3f4c-4c1e-9d0e-6a7d2b1c9e11"
    );

    // Crashes: each told once with the exit code and the screen's last lines.
    fake.user_message(USER, "crash");
    let chat = wait_chat(
        &fake,
        USER,
        "the crash notice",
        has("alpha ended: exited with code 3"),
    )
    .await;
    let notice = chat
        .iter()
        .find(|m| m.text.contains("exited with code 3"))
        .unwrap();
    assert!(
        notice.text.contains("boom: something broke in turn 3"),
        "{}",
        notice.text
    );
    assert!(notice.text.contains("next message resumes it"));
    fake.user_message(USER, "crash");
    wait_chat(&fake, USER, "the second crash", |ms| {
        ms.iter()
            .filter(|m| m.text.contains("exited with code 3"))
            .count()
            == 2
    })
    .await;
    fake.user_message(USER, "crash");
    wait_chat(&fake, USER, "the crash loop", has("stops resuming it")).await;
    fake.user_message(USER, "are you there");
    wait_chat(
        &fake,
        USER,
        "the refusal",
        has("your message was not delivered"),
    )
    .await;
    assert!(!bot.program_inputs().contains(&"are you there".to_string()));
    assert_eq!(
        count(&fake, USER, "exited with code 3"),
        3,
        "each crash told once"
    );

    // /restart clears it.
    fake.user_message(USER, "/restart alpha");
    wait_chat(&fake, USER, "the restart", |ms| {
        ms.iter()
            .filter(|m| m.text.contains("Resuming alpha"))
            .count()
            >= 4
    })
    .await;
    fake.user_message(USER, "again");
    wait_chat(
        &fake,
        USER,
        "an answer after the restart",
        has("You said: again"),
    )
    .await;
    stop_clean(&mut bot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_usage_limit_offers_to_continue_when_it_resets_and_does_so_only_when_asked() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let mut bot = start_bot_with(&fake, &[]);
    fake.user_message(USER, "/new alpha");
    wait_chat(&fake, USER, "the start", has("Session alpha started")).await;
    fake.user_message(USER, "limit");
    let chat = wait_chat(&fake, USER, "the limit notice", has("hit a usage limit")).await;
    let notice = chat
        .iter()
        .find(|m| m.text.contains("hit a usage limit"))
        .unwrap();
    assert!(notice.text.contains("(UTC)"), "{}", notice.text);
    assert_eq!(notice.buttons[0][0].0, "▶ Continue when it resets");
    // Nothing is typed unless asked.
    assert_eq!(bot.program_inputs(), ["limit"]);
    fake.press_button(USER, notice.id, &notice.buttons[0][0].1);
    wait_chat(&fake, USER, "the schedule", has("will type “continue”")).await;
    wait_until(
        "the continue, at the reset",
        Duration::from_secs(90),
        || bot.program_inputs().contains(&"continue".to_string()),
    )
    .await;
    wait_chat(
        &fake,
        USER,
        "the reset notice",
        has("The usage limit has reset"),
    )
    .await;
    stop_clean(&mut bot).await;
}
