//! The real Codex CLI (pinned, from npm) end to end: `telepty run` against the fake Bot
//! API, Codex against the project's OpenAI Responses mock, each session started with
//! `/new … --agent codex` beside the configured Claude Code. A question is answered; a
//! command Codex asks about arrives as buttons, Yes runs it and No does not; `/esc`
//! interrupts; an idle session is suspended and resumed with the conversation.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::bot::{has, start_bot_with, wait_chat, wait_until, Bot, USER};
use common::codex;
use serde_json::Value;
use telepty_testkit::fake_telegram::{ChatMessage, FakeTelegram};
use telepty_testkit::mock::codex_home::CodexHome;
use telepty_testkit::mock::openai::Mock;
use telepty_testkit::mock::scenario::Scenario;

/// One scenario's world: the mock, Codex's scratch home, the fake Bot API and telepty.
struct Rig {
    fake: FakeTelegram,
    _bot: Bot,
    home: CodexHome,
    /// Every request Codex sent to the mock, a JSON line each.
    log: PathBuf,
    _scratch: tempfile::TempDir,
    _server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Rig {
    async fn start(scenario: &str, env: &[(&str, String)]) -> Rig {
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
        std::fs::write(&scenario_file, scenario).unwrap();
        let scenario = Scenario::load(&scenario_file, Some(&home.project)).unwrap();
        let log = scratch.path().join("mock.jsonl");
        let mock = Mock::new(scenario, Some(log.clone())).unwrap();
        let server = tokio::spawn(async move { mock.serve(listener).await });
        let fake = FakeTelegram::start(common::bot::TOKEN).await.unwrap();
        // Claude Code is the configured agent; Codex is on PATH for `--agent codex`.
        let path = format!(
            "{}:{}",
            codex.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut vars: Vec<(String, String)> = home.env();
        vars.push(("PATH".into(), path));
        vars.push(("TELEPTY_COMMAND".into(), "claude".into()));
        vars.push(("TELEPTY_PTY_SIZE".into(), "100x30".into()));
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let vars: Vec<(&str, String)> = vars.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let bot = start_bot_with(&fake, &vars);
        Rig {
            fake,
            _bot: bot,
            home,
            log,
            _scratch: scratch,
            _server: server,
        }
    }

    /// `/new work PROJECT --agent codex`, until Codex has started.
    async fn new_session(&self) {
        self.say(&format!(
            "/new work {} --agent codex",
            self.home.project.display()
        ));
        self.wait("the start", has("Session work started")).await;
    }

    fn say(&self, text: &str) {
        self.fake.user_message(USER, text);
    }

    async fn wait(&self, what: &str, want: impl Fn(&[ChatMessage]) -> bool) -> Vec<ChatMessage> {
        wait_chat(&self.fake, USER, what, want).await
    }

    /// The turns Codex asked the mock for (not the title requests), in order.
    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["body"]["text"]["format"]["type"] != "json_schema")
            .collect()
    }
}

const COMMANDS: &str = r#"
title = "Chat session"
[[turn]]
text = """Mercury is the planet closest to the Sun.

```python
print("Mercury")
```"""
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

/// The newest message with buttons that asks `question`.
fn prompt<'a>(chat: &'a [ChatMessage], question: &str) -> Option<&'a ChatMessage> {
    chat.iter()
        .rev()
        .find(|m| m.text.contains(question) && !m.buttons.is_empty())
}

/// The data of the button of `message` whose label holds `label`.
fn button(message: &ChatMessage, label: &str) -> String {
    message
        .buttons
        .iter()
        .flatten()
        .find(|(l, _)| l.contains(label))
        .unwrap_or_else(|| panic!("no {label:?} button: {:?}", message.buttons))
        .1
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codex_session_answers_and_asks_before_commands_with_buttons() {
    let rig = Rig::start(COMMANDS, &[]).await;
    rig.new_session().await;
    rig.say("Which planet is closest to the sun?");
    let chat = rig
        .wait(
            "the answer",
            has("Mercury is the planet closest to the Sun."),
        )
        .await;
    // From Codex's session log (under CODEX_HOME, outside HOME here): the code block is
    // a code block, which the screen cannot tell.
    let answer = chat
        .iter()
        .find(|m| m.text.contains("Mercury is the planet"))
        .unwrap();
    assert!(
        answer
            .html
            .contains("<pre><code class=\"language-python\">print(\"Mercury\")"),
        "{}",
        answer.html
    );

    // A command Codex asks about: every option as a button; Yes runs it.
    rig.say("How many lines has data.csv?");
    let question = "Would you like to run the following command?";
    let chat = rig
        .wait("the approval", |ms| prompt(ms, question).is_some())
        .await;
    let asked = prompt(&chat, question).unwrap();
    assert!(asked.text.contains("wc -l data.csv"), "{}", asked.text);
    let yes = button(asked, "Yes, proceed");
    button(asked, "Yes, and don't ask again");
    button(asked, "No, and tell Codex");
    rig.fake.press_button(USER, asked.id, &yes);
    rig.wait(
        "the count",
        has("data.csv has 6 lines: a header and five rows."),
    )
    .await;
    let ran = rig.requests().iter().any(|r| {
        r["body"]["input"].as_array().is_some_and(|items| {
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
    rig.say("Clean up the cache folder");
    let chat = rig
        .wait("the second approval", |ms| {
            prompt(ms, question).is_some_and(|m| m.text.contains("rm -rf cache"))
        })
        .await;
    let asked = prompt(&chat, question).unwrap();
    rig.fake
        .press_button(USER, asked.id, &button(asked, "No, and tell Codex"));
    rig.wait(
        "the refusal",
        has("You canceled the request to run rm -rf cache"),
    )
    .await;
    assert!(
        rig.home.project.join("cache/blob.bin").exists(),
        "the cache was removed"
    );

    rig.say("/sessions");
    let chat = rig.wait("the list", has("last activity")).await;
    assert!(
        chat.last().unwrap().text.contains("codex"),
        "{:?}",
        chat.last()
    );
    // Every answer once.
    for answer in [
        "Mercury is the planet closest to the Sun.",
        "data.csv has 6 lines: a header and five rows.",
    ] {
        let times: usize = chat.iter().map(|m| m.text.matches(answer).count()).sum();
        assert_eq!(times, 1, "{answer:?} in {chat:#?}");
    }
}

const STORY: &str = r#"
title = "Story"
chunk = 6
delay_ms = 80
[[turn]]
text = "The old clockmaker opened the shop before sunrise while rain drummed on the window. The old clockmaker wound the tall clock in the corner when the lamps in the street were lit. His apprentice asked about a silver pocket watch before anyone else in town was awake. His apprentice brought warm bread and a question as the church bells rang across the square. A customer from the harbour counted the ticking of forty clocks while gulls circled over the market."
[[turn]]
text = "A clockmaker kept every clock in town ticking."
"#;

/// `/esc` in the chat is Esc for Codex: a streaming answer stops and the chat says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esc_from_the_chat_interrupts_a_codex_answer() {
    let rig = Rig::start(STORY, &[]).await;
    rig.new_session().await;
    rig.say("Tell me a long story about a clockmaker");
    wait_until("the story streaming", Duration::from_secs(60), || {
        rig.fake
            .draft_log(USER)
            .iter()
            .any(|d| d.text.contains("The old clockmaker"))
            || rig
                .fake
                .chat(USER)
                .iter()
                .any(|m| m.text.contains("The old clockmaker"))
    })
    .await;
    rig.say("/esc");
    rig.wait("the interrupt", has("Interrupted")).await;
    let chat = rig.fake.chat(USER);
    assert!(
        !chat
            .iter()
            .any(|m| m.text.contains("circled over the market")),
        "the story was not interrupted"
    );
    rig.say("Shorter please");
    rig.wait(
        "the short answer",
        has("A clockmaker kept every clock in town ticking."),
    )
    .await;
}

const REMEMBER: &str = r#"
title = "Deploy key"
[[turn]]
text = "Noted: the deploy key lives in the vault under ops/deploy."
[[turn]]
text = "It lives in the vault under ops/deploy, as you told me."
"#;

/// An idle Codex session is suspended and its next message resumes it (`codex resume`):
/// Codex sends the earlier exchange with the new question.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_codex_session_resumes_and_codex_sees_the_earlier_exchange() {
    let rig = Rig::start(REMEMBER, &[("TELEPTY_IDLE_TIMEOUT", "3s".into())]).await;
    rig.new_session().await;
    rig.say("Remember: the deploy key lives in the vault under ops/deploy");
    rig.wait(
        "the first answer",
        has("Noted: the deploy key lives in the vault under ops/deploy."),
    )
    .await;
    rig.wait("the idle suspend", has("suspended after being idle"))
        .await;
    rig.say("Where does the deploy key live?");
    let chat = rig.wait("the resume", has("Resuming work (")).await;
    let resumed = chat.iter().find(|m| m.text.contains("Resuming")).unwrap();
    eprintln!("codex e2e resume: {}", resumed.text);
    rig.wait(
        "the answer after the resume",
        has("It lives in the vault under ops/deploy, as you told me."),
    )
    .await;
    let last = rig.requests().into_iter().last().unwrap();
    let input = last["body"]["input"].to_string();
    assert!(input.contains("Where does the deploy key live?"), "{input}");
    assert!(
        input.contains("Remember: the deploy key lives in the vault"),
        "the resumed Codex did not send the earlier exchange: {input}"
    );
}
