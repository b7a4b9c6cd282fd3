//! Forum supergroups: `/new` opens a topic per session; a message in a topic goes to its
//! session and the session's output goes to its topic. The real `telepty run` binary
//! against the fake Bot API, with the scripted stand-in for Claude Code in the PTY.

mod common;

use common::bot::{assert_gone, start_bot_with, wait_chat, STRANGER, TOKEN, USER};
use std::time::Duration;
use telepty_testkit::fake_telegram::{ChatMessage, FakeTelegram};

const FORUM: i64 = -100_123_456;
const NO_RIGHTS: i64 = -100_654_321;

/// Some message in topic `topic` contains `text`.
fn in_topic(topic: Option<i64>, text: &str) -> impl Fn(&[ChatMessage]) -> bool + '_ {
    move |ms| {
        ms.iter()
            .any(|m| m.thread == topic && m.text.contains(text))
    }
}

fn topic_named(fake: &FakeTelegram, chat: i64, name: &str) -> i64 {
    fake.topics(chat)
        .into_iter()
        .find(|(_, n)| n == name)
        .unwrap_or_else(|| panic!("no topic {name}"))
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_session_lives_in_its_own_forum_topic() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    fake.add_forum(FORUM, true);
    fake.add_forum(NO_RIGHTS, false);
    let mut bot = start_bot_with(
        &fake,
        &[
            ("TELEPTY_ALLOW_GROUPS", "true".into()),
            ("TELEPTY_ALLOWED_CHATS", format!("{FORUM},{NO_RIGHTS}")),
        ],
    );

    // /new in General opens a topic named after the session; the start is told there,
    // and General hears where to go.
    fake.forum_message(USER, FORUM, None, "/new alpha");
    wait_chat(&fake, FORUM, "alpha's topic", |ms| {
        !fake.topics(FORUM).is_empty() && in_topic(None, "topic of its own")(ms)
    })
    .await;
    let alpha = topic_named(&fake, FORUM, "alpha");
    wait_chat(
        &fake,
        FORUM,
        "alpha's start, in its topic",
        in_topic(Some(alpha), "Session alpha started"),
    )
    .await;
    fake.forum_message(USER, FORUM, None, "/new beta");
    wait_chat(&fake, FORUM, "beta's topic", |_| {
        fake.topics(FORUM).len() == 2
    })
    .await;
    let beta = topic_named(&fake, FORUM, "beta");
    wait_chat(
        &fake,
        FORUM,
        "beta's start, in its topic",
        in_topic(Some(beta), "Session beta started"),
    )
    .await;

    // beta is the active session, but a message in alpha's topic goes to alpha, and its
    // answer comes back in alpha's topic.
    fake.forum_message(USER, FORUM, Some(alpha), "hello alpha");
    wait_chat(
        &fake,
        FORUM,
        "alpha's answer in alpha's topic",
        in_topic(Some(alpha), "You said: hello alpha (turn 1)"),
    )
    .await;
    fake.forum_message(USER, FORUM, Some(beta), "hello beta");
    wait_chat(
        &fake,
        FORUM,
        "beta's answer in beta's topic",
        in_topic(Some(beta), "You said: hello beta (turn 1)"),
    )
    .await;
    // A topic message "replies" to the topic's first message: that is not taken for a
    // reply into a prompt, and no answer strays into another topic.
    for m in fake.chat(FORUM) {
        if m.text.contains("hello alpha") {
            assert_eq!(m.thread, Some(alpha), "{m:?}");
        }
        if m.text.contains("hello beta") {
            assert_eq!(m.thread, Some(beta), "{m:?}");
        }
    }

    // Commands in a topic act on its session and answer there.
    fake.forum_message(USER, FORUM, Some(alpha), "/screen text");
    wait_chat(&fake, FORUM, "alpha's screen in alpha's topic", |ms| {
        ms.iter().any(|m| {
            m.thread == Some(alpha) && m.html.starts_with("<pre>") && m.text.contains("hello alpha")
        })
    })
    .await;

    // A prompt in alpha's topic: its buttons are there, and a press answers it.
    fake.forum_message(USER, FORUM, Some(alpha), "menu");
    let chat = wait_chat(&fake, FORUM, "the prompt in alpha's topic", |ms| {
        ms.iter()
            .any(|m| m.thread == Some(alpha) && m.buttons.len() == 2)
    })
    .await;
    let prompt = chat.iter().find(|m| m.buttons.len() == 2).unwrap().clone();
    fake.press_button_in(USER, FORUM, prompt.id, &prompt.buttons[0][0].1);
    wait_chat(
        &fake,
        FORUM,
        "the choice, in alpha's topic",
        in_topic(Some(alpha), "You chose 1 in turn 2"),
    )
    .await;

    // A stranger writing in a topic reaches nothing and gets no reply.
    let before = fake.chat(FORUM).len();
    fake.forum_message(STRANGER, FORUM, Some(alpha), "stranger here");
    fake.forum_message(USER, FORUM, Some(beta), "later");
    wait_chat(
        &fake,
        FORUM,
        "a later answer",
        in_topic(Some(beta), "You said: later (turn 2)"),
    )
    .await;
    assert!(!bot
        .program_inputs()
        .iter()
        .any(|l| l.contains("stranger here")));
    assert!(fake.chat(FORUM).len() > before);

    // Without the right to manage topics, the session runs in General and the chat
    // is told why.
    fake.forum_message(USER, NO_RIGHTS, None, "/new gamma");
    wait_chat(
        &fake,
        NO_RIGHTS,
        "gamma's start in General",
        in_topic(None, "Session gamma started"),
    )
    .await;
    assert!(fake.chat(NO_RIGHTS)[0]
        .text
        .contains("Could not open a topic for gamma"));
    fake.forum_message(USER, NO_RIGHTS, None, "hi gamma");
    wait_chat(
        &fake,
        NO_RIGHTS,
        "gamma's answer in General",
        in_topic(None, "You said: hi gamma (turn 1)"),
    )
    .await;

    // Telegram refused nothing but the one topic the bot had no right to open.
    let refused: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.error.is_some() && c.method != "createforumtopic")
        .collect();
    assert!(refused.is_empty(), "refused calls: {refused:?}");

    // After a restart the sessions keep their topics.
    let pids = bot.program_pids();
    assert!(bot.terminate().await.success());
    assert_gone(&pids, Duration::from_secs(5)).await;
    bot.restart();
    fake.forum_message(USER, FORUM, Some(alpha), "back again");
    wait_chat(
        &fake,
        FORUM,
        "alpha resumed, answering in its topic",
        in_topic(Some(alpha), "You said: back again (turn 3)"),
    )
    .await;
    let pids = bot.program_pids();
    assert!(bot.terminate().await.success());
    assert_gone(&pids, Duration::from_secs(5)).await;
}

/// Opening a topic used to hold the update loop until Telegram answered: with a slow
/// `createForumTopic` every other chat waited. Now the session starts when the topic
/// comes, and the bot answers meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_topic_does_not_hold_up_the_other_chats() {
    use telepty_testkit::fake_telegram::Fault;
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    fake.add_forum(FORUM, true);
    let _bot = start_bot_with(
        &fake,
        &[
            ("TELEPTY_ALLOW_GROUPS", "true".into()),
            ("TELEPTY_ALLOWED_CHATS", FORUM.to_string()),
        ],
    );
    fake.user_message(USER, "/new solo");
    wait_chat(
        &fake,
        USER,
        "solo's start",
        common::bot::has("Session solo started"),
    )
    .await;
    fake.fail_method("createForumTopic", [Fault::Slow(Duration::from_secs(8))]);
    fake.forum_message(USER, FORUM, None, "/new alpha");
    let asked = std::time::Instant::now();
    fake.user_message(USER, "hello");
    wait_chat(
        &fake,
        USER,
        "solo's answer",
        common::bot::has("You said: hello (turn 1)"),
    )
    .await;
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the other chat waited {took:?} for the topic"
    );
    // A second /new of the same name meanwhile does not open a second topic.
    fake.forum_message(USER, FORUM, None, "/new alpha");
    wait_chat(
        &fake,
        FORUM,
        "the refusal",
        in_topic(None, "is being opened"),
    )
    .await;
    wait_chat(&fake, FORUM, "alpha's topic", |_| {
        fake.topics(FORUM).len() == 1
    })
    .await;
    let alpha = topic_named(&fake, FORUM, "alpha");
    wait_chat(
        &fake,
        FORUM,
        "alpha's start, in its topic",
        in_topic(Some(alpha), "Session alpha started"),
    )
    .await;
    wait_chat(
        &fake,
        FORUM,
        "where to go",
        in_topic(None, "topic of its own"),
    )
    .await;
    fake.forum_message(USER, FORUM, Some(alpha), "hello alpha");
    wait_chat(
        &fake,
        FORUM,
        "alpha's answer in alpha's topic",
        in_topic(Some(alpha), "You said: hello alpha (turn 1)"),
    )
    .await;
    assert_eq!(fake.topics(FORUM).len(), 1);
}
