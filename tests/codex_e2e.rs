//! The real Codex CLI (pinned, from npm) end to end: `telepty run` against the fake Bot
//! API, Codex against the project's OpenAI Responses mock, the session started with
//! `/new … --agent codex` beside the configured Claude Code. A question is answered; a
//! command Codex asks about arrives as buttons, Yes runs it and No does not.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::bot::{has, start_bot_with, wait_chat, USER};
use common::root;
use serde_json::Value;
use telepty_testkit::fake_telegram::{ChatMessage, FakeTelegram};
use telepty_testkit::mock::codex_home::CodexHome;
use telepty_testkit::mock::openai::Mock;
use telepty_testkit::mock::scenario::Scenario;

fn codex() -> PathBuf {
    let out = Command::new(root().join("scripts/install-codex"))
        .output()
        .expect("cannot run scripts/install-codex");
    assert!(
        out.status.success(),
        "THE CODEX TESTS NEED THE CODEX CLI FROM NPM, AND ITS INSTALL FAILED:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

const SCENARIO: &str = r#"
title = "Chat session"
[[turn]]
text = "Mercury is the planet closest to the Sun."
[[turn]]
text = "I'll count the lines of data.csv."
[[turn.tool]]
name = "exec_command"
input = { cmd = "wc -l data.csv", workdir = "{project}", sandbox_permissions = "require_escalated", justification = "Count the lines of data.csv" }
[[turn]]
text = "data.csv has 6 lines: a header and five rows."
[[turn]]
text = "I'll remove the cache directory."
[[turn.tool]]
name = "exec_command"
input = { cmd = "rm -rf cache", workdir = "{project}", sandbox_permissions = "require_escalated", justification = "Remove the cache directory" }
"#;

/// What a wait waits for.
type Want = Box<dyn Fn(&[ChatMessage]) -> bool>;

/// The newest message with buttons that asks `question`.
fn prompt<'a>(chat: &'a [ChatMessage], question: &str) -> Option<&'a ChatMessage> {
    chat.iter()
        .rev()
        .find(|m| m.text.contains(question) && !m.buttons.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codex_session_answers_and_asks_before_commands_with_buttons() {
    let codex = codex();
    let scratch = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let files = [
        (
            "data.csv".to_string(),
            "id,name\n1,a\n2,b\n3,c\n4,d\n5,e\n".to_string(),
        ),
        ("cache/blob.bin".to_string(), "binary".to_string()),
    ];
    let home = CodexHome::prepare(scratch.path(), port, &files).unwrap();
    let scenario_file = scratch.path().join("scenario.toml");
    std::fs::write(&scenario_file, SCENARIO).unwrap();
    let scenario = Scenario::load(&scenario_file, Some(&home.project)).unwrap();
    let log = scratch.path().join("mock.jsonl");
    let mock = Mock::new(scenario, Some(log.clone())).unwrap();
    let _server = tokio::spawn(async move { mock.serve(listener).await });
    let fake = FakeTelegram::start(common::bot::TOKEN).await.unwrap();
    // Claude Code is the configured agent; Codex is on PATH for `--agent codex`.
    let path = format!(
        "{}:{}",
        codex.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut env: Vec<(&str, String)> = home.env().into_iter().map(|(k, v)| (leak(k), v)).collect();
    env.extend([
        ("PATH", path),
        ("TELEPTY_COMMAND", "claude".into()),
        ("TELEPTY_PTY_SIZE", "100x30".into()),
    ]);
    let _bot = start_bot_with(&fake, &env);
    let wait = |what: &'static str, want: Want| {
        let fake = &fake;
        async move { wait_chat(fake, USER, what, want).await }
    };

    fake.user_message(
        USER,
        &format!("/new work {} --agent codex", home.project.display()),
    );
    wait("the start", Box::new(has("Session work started"))).await;
    fake.user_message(USER, "Which planet is closest to the sun?");
    wait(
        "the answer",
        Box::new(has("Mercury is the planet closest to the Sun.")),
    )
    .await;

    // A command Codex asks about: every option as a button; Yes runs it.
    fake.user_message(USER, "How many lines has data.csv?");
    let question = "Would you like to run the following command?";
    let chat = wait(
        "the approval",
        Box::new(move |ms| prompt(ms, question).is_some()),
    )
    .await;
    let asked = prompt(&chat, question).unwrap();
    let labels: Vec<&str> = asked
        .buttons
        .iter()
        .flatten()
        .map(|(label, _)| label.as_str())
        .collect();
    assert!(
        labels.iter().any(|l| l.contains("Yes, proceed")),
        "{labels:?}"
    );
    assert!(
        labels.iter().any(|l| l.contains("No, and tell Codex")),
        "{labels:?}"
    );
    assert!(asked.text.contains("wc -l data.csv"), "{}", asked.text);
    let yes = asked
        .buttons
        .iter()
        .flatten()
        .find(|(l, _)| l.contains("Yes, proceed"))
        .unwrap()
        .1
        .clone();
    fake.press_button(USER, asked.id, &yes);
    wait(
        "the count",
        Box::new(has("data.csv has 6 lines: a header and five rows.")),
    )
    .await;
    let ran = std::fs::read_to_string(&log).unwrap().lines().any(|l| {
        let v: Value = serde_json::from_str(l).unwrap();
        v["body"]["input"].as_array().is_some_and(|items| {
            items.iter().any(|i| {
                i["type"] == "function_call_output"
                    && i["output"]
                        .as_str()
                        .is_some_and(|o| o.contains("6 data.csv"))
            })
        })
    });
    assert!(ran, "the command's output did not reach the model");

    // No: the command does not run, and the chat says the turn stopped.
    fake.user_message(USER, "Clean up the cache folder");
    let chat = wait(
        "the second approval",
        Box::new(move |ms| prompt(ms, question).is_some_and(|m| m.text.contains("rm -rf cache"))),
    )
    .await;
    let asked = prompt(&chat, question).unwrap();
    let no = asked
        .buttons
        .iter()
        .flatten()
        .find(|(l, _)| l.contains("No, and tell Codex"))
        .unwrap()
        .1
        .clone();
    fake.press_button(USER, asked.id, &no);
    wait(
        "the refusal",
        Box::new(has("You canceled the request to run rm -rf cache")),
    )
    .await;
    assert!(
        home.project.join("cache/blob.bin").exists(),
        "the cache was removed"
    );

    fake.user_message(USER, "/sessions");
    let chat = wait("the list", Box::new(has("last activity"))).await;
    // Every answer once.
    for answer in [
        "Mercury is the planet closest to the Sun.",
        "data.csv has 6 lines: a header and five rows.",
    ] {
        let times: usize = chat.iter().map(|m| m.text.matches(answer).count()).sum();
        assert_eq!(times, 1, "{answer:?} in {chat:#?}");
    }
    assert!(
        chat.last().unwrap().text.contains("codex"),
        "{:?}",
        chat.last()
    );
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}
