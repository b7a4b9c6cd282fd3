//! Live drafts (Bot API 9.3–10.3) end to end: the real `telepty run` against the fake Bot
//! API, with the scripted stand-in for Claude Code streaming an answer (`stream`). In a
//! private chat a turn's live content is a draft with Telegram's Stop button; the chat
//! ends as it does with an edited live message; forums, refusals and `429`s keep it.

mod common;

use std::time::{Duration, Instant};

use common::bot::{has, start_bot_with, wait_chat, Bot, STRANGER, TOKEN, USER};
use telepty_testkit::fake_telegram::{ChatMessage, FakeTelegram, Fault};

const END: &str = "STREAM-END (turn 1)";

/// The final chat: once the answer and the turn's record (its Read call without the
/// answer's text) are both there.
fn finished(ms: &[ChatMessage]) -> bool {
    ms.iter().any(|m| m.text.contains(END))
        && ms
            .iter()
            .any(|m| m.text.contains("notes.txt") && !m.text.contains("streams"))
}

/// A session `alpha` that streams one answer; the chat as it ends.
async fn streamed(fake: &FakeTelegram, env: &[(&str, String)]) -> (Bot, Vec<ChatMessage>) {
    let mut env = env.to_vec();
    // Wide enough for the stand-in's long line (Claude Code wraps its own lines).
    env.push(("TELEPTY_PTY_SIZE", "160x30".into()));
    let bot = start_bot_with(fake, &env);
    fake.user_message(USER, "/new alpha");
    wait_chat(fake, USER, "the start", has("Session alpha started")).await;
    fake.user_message(USER, "stream");
    let chat = wait_chat(fake, USER, "the answer and its record", finished).await;
    (bot, chat)
}

/// What a reader sees of a chat: each message's text and whether it rang.
fn reading(chat: &[ChatMessage]) -> Vec<(String, bool)> {
    chat.iter().map(|m| (m.text.clone(), m.silent)).collect()
}

fn calls(fake: &FakeTelegram, method: &str) -> usize {
    fake.calls()
        .iter()
        .filter(|c| c.method.eq_ignore_ascii_case(method))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_answer_shows_as_drafts_and_ends_as_the_edited_live_message_ends() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let (_bot, with_drafts) = streamed(&fake, &[]).await;
    let drafts = fake.draft_log(USER);
    for d in &drafts {
        println!("draft {} at {:?}: {:?}", d.draft_id, d.at, d.text);
    }
    assert!(drafts.len() >= 3, "{} drafts: {drafts:?}", drafts.len());
    assert!(drafts.iter().all(|d| d.can_stop), "{drafts:?}");
    // The answer grew in them, the tool call with it.
    assert!(drafts.iter().any(|d| d.text.contains("notes.txt")));
    let lengths: Vec<usize> = drafts
        .iter()
        .filter(|d| d.text.contains("streams"))
        .map(|d| d.text.len())
        .collect();
    assert!(lengths.windows(2).all(|w| w[0] <= w[1]), "{lengths:?}");
    // The last message cleared them; nothing was edited: there was nothing to edit.
    assert!(fake.drafts(USER).is_empty());
    assert_eq!(calls(&fake, "editMessageText"), 0);
    let first = drafts.first().unwrap().at;
    let last = drafts.last().unwrap().at;
    let span = last.duration_since(first).as_secs_f64();
    println!(
        "drafts: {} in {span:.1} s ({:.2} per second); chat messages: {}",
        drafts.len(),
        (drafts.len() - 1) as f64 / span.max(0.001),
        with_drafts.len()
    );
    for pair in drafts.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= Duration::from_millis(900), "drafts {gap:?} apart");
    }

    // The same turn with drafts off: the same messages, in the same order.
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let (_bot, with_edits) = streamed(&fake, &[("TELEPTY_DRAFT_INTERVAL", "off".into())]).await;
    assert!(fake.draft_log(USER).is_empty());
    // (The first message names the run's own temporary directory.)
    assert_eq!(reading(&with_drafts[1..]), reading(&with_edits[1..]));
    assert_eq!(with_drafts.len(), 3, "{with_drafts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_draft_falls_back_to_the_edited_live_message_and_is_not_tried_again() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    fake.fail_method(
        "sendMessageDraft",
        [Fault::BadRequest("method not found".into())],
    );
    let (_bot, chat) = streamed(&fake, &[]).await;
    assert!(chat.iter().any(|m| m.text.contains(END)));
    assert_eq!(calls(&fake, "sendMessageDraft"), 1);
    // The live message took over.
    assert!(calls(&fake, "sendMessage") >= 3);
    // A turn that works for 6 s: live content again (the status), still no draft.
    fake.user_message(USER, "slow");
    wait_chat(
        &fake,
        USER,
        "the second answer",
        has("Done thinking (turn 2)"),
    )
    .await;
    assert_eq!(calls(&fake, "sendMessageDraft"), 1, "drafts tried again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_telegram_asks_to_wait_for_waits_and_the_answer_still_arrives() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    fake.fail_method("sendMessageDraft", [Fault::RetryAfter(2)]);
    let (_bot, chat) = streamed(&fake, &[]).await;
    assert!(chat.iter().any(|m| m.text.contains(END)));
    let draft_calls: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method.eq_ignore_ascii_case("sendMessageDraft"))
        .collect();
    assert_eq!(draft_calls[0].error, Some(429));
    // Honoured: nothing went to the chat before the wait was over; drafts went on after.
    let after = draft_calls[0].at + Duration::from_secs(2);
    let early: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.at > draft_calls[0].at && c.at < after && c.method != "getupdates")
        .map(|c| c.method)
        .collect();
    assert!(early.is_empty(), "called during the wait: {early:?}");
    assert!(draft_calls.len() >= 2 && draft_calls[1..].iter().all(|c| c.error.is_none()));
}

/// Telegram's Stop under a draft is Esc, once: the stand-in logs what it reads, and Esc
/// arrives in front of the next line it reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_on_the_draft_is_one_esc_to_that_session_and_a_strangers_stop_is_nothing() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let bot = start_bot_with(&fake, &[("TELEPTY_PTY_SIZE", "160x30".into())]);
    fake.user_message(USER, "/new alpha");
    wait_chat(&fake, USER, "the start", has("Session alpha started")).await;
    fake.user_message(USER, "stream");
    let deadline = Instant::now() + Duration::from_secs(20);
    let draft = loop {
        if let Some(d) = fake
            .draft_log(USER)
            .into_iter()
            .find(|d| d.text.contains("streams"))
        {
            break d;
        }
        assert!(Instant::now() < deadline, "no draft of the answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // A stranger's chat "stops" the same draft id: refused before anything.
    fake.raw_update(serde_json::json!({"stopped_message_generation": {
        "chat": {"id": STRANGER, "type": "private", "first_name": "x"},
        "draft_id": draft.draft_id,
    }}));
    // The user presses Stop, and Telegram delivers it twice.
    assert!(fake.press_stop(USER, draft.draft_id));
    assert!(fake.press_stop(USER, draft.draft_id));
    wait_chat(&fake, USER, "the answer", has(END)).await;
    fake.user_message(USER, "hello");
    wait_chat(&fake, USER, "the next answer", has("(turn 2)")).await;
    let inputs = std::fs::read_to_string(&bot.inputs).unwrap();
    let second = inputs.lines().nth(1).unwrap_or_default();
    assert_eq!(second.matches('\u{1b}').count(), 1, "{inputs:?}");
    assert!(second.ends_with("hello"), "{inputs:?}");
}

/// Forum topics have no drafts: the live message is sent and edited there, as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_forum_topic_the_live_message_is_edited_and_no_draft_is_sent() {
    const FORUM: i64 = -100_777;
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    fake.add_forum(FORUM, true);
    let _bot = start_bot_with(
        &fake,
        &[
            ("TELEPTY_ALLOW_GROUPS", "true".into()),
            ("TELEPTY_ALLOWED_CHATS", FORUM.to_string()),
            ("TELEPTY_PTY_SIZE", "160x30".into()),
        ],
    );
    fake.forum_message(USER, FORUM, None, "/new alpha");
    wait_chat(&fake, FORUM, "alpha's start", has("Session alpha started")).await;
    let topic = fake.topics(FORUM)[0].0;
    fake.forum_message(USER, FORUM, Some(topic), "stream");
    let chat = wait_chat(&fake, FORUM, "the answer and its record", finished).await;
    assert!(chat
        .iter()
        .filter(|m| m.text.contains("notes.txt") || m.text.contains(END))
        .all(|m| m.thread == Some(topic)));
    assert_eq!(calls(&fake, "sendMessageDraft"), 0);
    assert!(calls(&fake, "editMessageText") >= 1);
}

/// The README's pacing figures with drafts on: an answer streaming for 90 s in a private
/// chat is drafts about once a second, while the messages stay inside the flood budget,
/// no call is refused, and the final answer follows the program's last word promptly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ninety_seconds_of_streaming_is_drafts_once_a_second_and_no_429() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let _bot = start_bot_with(&fake, &[("TELEPTY_PTY_SIZE", "160x30".into())]);
    fake.user_message(USER, "/new alpha");
    wait_chat(&fake, USER, "the start", has("Session alpha started")).await;
    fake.user_message(USER, "longstream");
    let started = Instant::now();
    let chat = common::bot::wait_chat_for(
        &fake,
        USER,
        "the end of the stream",
        Duration::from_secs(180),
        has("LONGSTREAM-END at"),
    )
    .await;
    let seen = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let printed: f64 = chat
        .iter()
        .find_map(|m| {
            let (_, rest) = m.text.split_once("LONGSTREAM-END at ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .expect("the end's time");
    let calls = fake.calls();
    let refused: Vec<_> = calls.iter().filter(|c| c.error.is_some()).collect();
    assert!(refused.is_empty(), "refused: {refused:?}");
    let (ops, worst) = common::bot::operations(&calls);
    let drafts = fake.draft_log(USER);
    let span = drafts
        .last()
        .unwrap()
        .at
        .duration_since(drafts.first().unwrap().at)
        .as_secs_f64();
    let rate = (drafts.len() - 1) as f64 / span.max(0.001);
    println!(
        "{} operations and {} drafts in {:.0} s ({rate:.2} drafts per second over {span:.0} s); \
         at most {worst} operations in any 60 s; the end reached the chat {:.1} s after it was printed",
        ops,
        drafts.len(),
        started.elapsed().as_secs_f64(),
        seen - printed,
    );
    assert!(worst <= 20, "{worst} operations in 60 s");
    assert!(span >= 60.0, "drafts for {span:.0} s only");
    assert!((0.8..=1.05).contains(&rate), "{rate:.2} drafts per second");
    for pair in drafts.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= Duration::from_millis(900), "drafts {gap:?} apart");
    }
}
