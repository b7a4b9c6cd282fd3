//! The real Claude Code end to end: the fake Bot API ↔ the real `telepty run` ↔ the real
//! Claude Code (the version pinned in `fixtures/claude-code/VERSION`, installed from npm
//! by `scripts/install-claude-code`, cached) ↔ the project's Anthropic mock, all on
//! 127.0.0.1. Each test plays one scenario of `tests/claude/*.toml` from the user's side
//! of the chat and checks what the user sees and what really happened (files on disk,
//! what Claude Code sent to the model).
//!
//! These tests never skip: without Claude Code (npm unreachable) they fail and say so.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::bot::{has, start_bot_with, wait_chat, wait_until, Bot, STRANGER, TOKEN, USER};
use common::desk::{config_for, desk, shows, AFTER};
use common::root;
use serde_json::Value;
use telepty::Size;
use telepty_testkit::fake_telegram::{ChatMessage, Draft, FakeTelegram, Upload, UploadKind};
use telepty_testkit::mock::anthropic::Mock;
use telepty_testkit::mock::claude_home::ClaudeHome;
use telepty_testkit::mock::scenario::Scenario;

/// The pinned Claude Code, installed once per test run.
fn claude() -> &'static Path {
    static CLAUDE: OnceLock<PathBuf> = OnceLock::new();
    CLAUDE.get_or_init(|| {
        let out = std::process::Command::new(root().join("scripts/install-claude-code"))
            .output()
            .expect("cannot run scripts/install-claude-code");
        assert!(
            out.status.success(),
            "THE REAL-CLAUDE END-TO-END TESTS NEED CLAUDE CODE FROM NPM, AND ITS INSTALL \
             FAILED (is the npm registry reachable?):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

/// One scenario's world: the mock, Claude Code's scratch home, the fake Bot API and
/// telepty running Claude Code.
struct Rig {
    fake: FakeTelegram,
    bot: Bot,
    home: ClaudeHome,
    /// Every request Claude Code sent to the mock, a JSON line each.
    mock_log: PathBuf,
    started: Instant,
    name: &'static str,
    _scratch: tempfile::TempDir,
    _mock: tokio::task::JoinHandle<()>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        // The figure the closing note of the e2e issue quotes.
        eprintln!(
            "e2e scenario {}: {:.1} s",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }
}

async fn rig(name: &'static str, env: &[(&str, String)]) -> Rig {
    let started = Instant::now();
    let claude = claude();
    let scratch = tempfile::tempdir().unwrap();
    let path = root().join(format!("tests/claude/{name}.toml"));
    let setup = Scenario::load(&path, None).unwrap().setup;
    let home = ClaudeHome::prepare(scratch.path(), &setup, true).unwrap();
    let scenario = Scenario::load(&path, Some(&home.project)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mock_log = scratch.path().join("mock.jsonl");
    let mock = Mock::new(scenario, Some(mock_log.clone())).unwrap();
    let server = tokio::spawn(async move {
        let _ = mock.serve(listener).await;
    });
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let mut command = vec![claude.to_string_lossy().to_string()];
    command.extend(setup.args.iter().cloned());
    let mut vars: Vec<(String, String)> = home.env(port, &setup);
    vars.push(("TELEPTY_COMMAND".into(), shell_words::join(&command)));
    vars.push(("TELEPTY_PTY_SIZE".into(), "100x30".into()));
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let vars: Vec<(&str, String)> = vars.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let bot = start_bot_with(&fake, &vars);
    Rig {
        fake,
        bot,
        home,
        mock_log,
        started,
        name,
        _scratch: scratch,
        _mock: server,
    }
}

impl Rig {
    /// `/new NAME` in the scenario's (trusted) project, until Claude Code is ready.
    async fn session(&self) {
        self.say(&format!("/new notes {}", self.home.project.display()));
        self.wait("the session's start", has("Session notes started"))
            .await;
    }

    fn say(&self, text: &str) {
        self.fake.user_message(USER, text);
    }

    async fn wait(&self, what: &str, want: impl Fn(&[ChatMessage]) -> bool) -> Vec<ChatMessage> {
        wait_chat(&self.fake, USER, what, want).await
    }

    /// The main requests (those offering tools) Claude Code sent to the mock.
    fn main_requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.mock_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| v["body"].clone())
            .filter(|b| b["tools"].as_array().is_some_and(|t| !t.is_empty()))
            .collect()
    }

    /// The latest message that mentions `about` and has a button labelled `label`,
    /// once it is shown (a whole prompt: the label is its last option at times).
    async fn prompt_with(&self, about: &str, label: &str) -> ChatMessage {
        let matches = |m: &ChatMessage| m.text.contains(about) && has_button(m, label);
        let chat = self
            .wait(
                &format!("a prompt about “{about}” with “{label}”"),
                |ms| ms.iter().any(matches),
            )
            .await;
        chat.into_iter().rev().find(matches).unwrap()
    }

    /// Presses the button `label` of `prompt`, and waits until the prompt shows the choice
    /// without its buttons.
    async fn press(&self, prompt: &ChatMessage, label: &str) {
        let data = prompt
            .buttons
            .iter()
            .flatten()
            .find(|b| b.0 == label)
            .unwrap()
            .1
            .clone();
        self.fake.press_button(USER, prompt.id, &data);
        let id = prompt.id;
        let choice = format!("→ {label}");
        self.wait("the prompt answered", |ms| {
            ms.iter()
                .any(|m| m.id == id && m.text.contains(&choice) && m.buttons.is_empty())
        })
        .await;
    }

    /// The newest draft of the chat that shows `text`.
    fn draft_with(&self, text: &str) -> Option<Draft> {
        self.fake
            .draft_log(USER)
            .into_iter()
            .rev()
            .find(|d| d.text.contains(text))
    }

    /// SIGTERM: exit code 0, and every Claude Code process of the test gone.
    async fn finish(mut self) {
        let status = self.bot.terminate().await;
        assert!(status.success(), "{status}");
        let claude = claude().to_string_lossy().to_string();
        let home = self.home.home.to_string_lossy().to_string();
        wait_until("Claude Code to end", Duration::from_secs(10), || {
            !claude_processes(&claude, &home)
        })
        .await;
        // Telegram refused nothing telepty sent.
        let refused: Vec<_> = self
            .fake
            .calls()
            .into_iter()
            .filter(|c| c.error.is_some())
            .map(|c| format!("{} {:?} {}", c.method, c.error, c.body))
            .collect();
        assert!(refused.is_empty(), "refused calls: {refused:?}");
    }
}

/// Whether a process of `binary` runs with `home` in its environment (this test's).
fn claude_processes(binary: &str, home: &str) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|p| {
        let exe = std::fs::read_link(p.path().join("exe")).unwrap_or_default();
        let environ = std::fs::read(p.path().join("environ")).unwrap_or_default();
        exe.to_string_lossy() == binary
            && String::from_utf8_lossy(&environ).contains(&format!("HOME={home}"))
    })
}

/// Whether message `m` has a button labelled `label`.
fn has_button(m: &ChatMessage, label: &str) -> bool {
    m.buttons.iter().flatten().any(|b| b.0 == label)
}

/// Whether some user message of a request contains `text`.
fn asks(request: &Value, text: &str) -> bool {
    request["messages"].as_array().is_some_and(|ms| {
        ms.iter()
            .filter(|m| m["role"] == "user")
            .any(|m| m["content"].to_string().contains(text))
    })
}

/// Whether some assistant message of a request contains `text`.
fn answered(request: &Value, text: &str) -> bool {
    request["messages"].as_array().is_some_and(|ms| {
        ms.iter()
            .filter(|m| m["role"] == "assistant")
            .any(|m| m["content"].to_string().contains(text))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_gets_its_answer_and_esc_interrupts_a_slow_one() {
    let rig = rig("answer-and-interrupt", &[]).await;
    rig.session().await;
    rig.say("What is 2 + 2?");
    rig.wait(
        "the answer",
        has("Four. Adding two and two gives four, in every base larger than four."),
    )
    .await;
    assert!(asks(&rig.main_requests()[0], "What is 2 + 2?"));

    // A slow answer: /esc once it is streaming.
    rig.say("Tell me a long story");
    wait_until("the story's request", Duration::from_secs(30), || {
        rig.main_requests().len() >= 2
    })
    .await;
    // Streaming shows in the private chat's draft (or, without drafts, the live message).
    rig.wait("the story streaming", |ms| {
        has("lighthouse keeper")(ms) || rig.draft_with("lighthouse keeper").is_some()
    })
    .await;
    rig.say("/esc");
    rig.wait("the interrupt", has("Interrupted")).await;
    let chat = rig.fake.chat(USER);
    assert!(
        !chat
            .iter()
            .any(|m| m.text.contains("the question marks were the ship's name")),
        "the story was not interrupted"
    );
    rig.say("Shorter please");
    rig.wait(
        "the short answer",
        has("Short version: the keeper kept counting."),
    )
    .await;
    rig.finish().await;
}

/// `/status` shows what Claude Code itself reports of the session — its model, the
/// permission mode and how full the context is — and a status line the user configured
/// still shows on Claude Code's screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_claude_codes_model_mode_and_context_and_the_users_status_line_stays() {
    let rig = rig("answer-and-interrupt", &[]).await;
    let settings = rig.home.home.join(".claude");
    std::fs::create_dir_all(&settings).unwrap();
    std::fs::write(
        settings.join("settings.json"),
        r#"{"statusLine": {"type": "command", "command": "echo my-own-status-line"}}"#,
    )
    .unwrap();
    rig.session().await;
    rig.say("What is 2 + 2?");
    rig.wait(
        "the answer",
        has("Four. Adding two and two gives four, in every base larger than four."),
    )
    .await;
    // Claude Code runs its status line shortly after the turn (debounced, ~0.3 s).
    let kept = rig
        .bot
        .dir
        .path()
        .join(format!("state/vitals/{USER}.notes.json"));
    // (Its first report, before any answer, has no share of the context yet.)
    wait_until("Claude Code's report", Duration::from_secs(30), || {
        std::fs::read_to_string(&kept)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some_and(|v| v["context_window"]["used_percentage"].is_number())
    })
    .await;
    rig.say("/status");
    let line =
        regex::Regex::new(r"▶ notes: Opus [0-9.]+ · [a-z]+ mode · context \d+% of 1M").unwrap();
    let chat = rig
        .wait("the vitals", |ms| ms.iter().any(|m| line.is_match(&m.text)))
        .await;
    let status = chat.iter().rev().find(|m| line.is_match(&m.text)).unwrap();
    assert!(
        status.text.contains("session(s) running"),
        "{}",
        status.text
    );
    println!("/status: {}", status.text);
    rig.say("/screen text");
    rig.wait("the user's status line", has("my-own-status-line"))
        .await;
    rig.finish().await;
}

/// Telegram's Stop under the streaming draft is Claude Code's Esc: the story stops and
/// the chat says so; a stranger's stop and a repeated one do nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_on_the_streaming_draft_interrupts_claude_code_once() {
    let rig = rig("answer-and-interrupt", &[]).await;
    rig.session().await;
    rig.say("What is 2 + 2?");
    rig.wait(
        "the answer",
        has("Four. Adding two and two gives four, in every base larger than four."),
    )
    .await;
    rig.say("Tell me a long story");
    wait_until("the story's draft", Duration::from_secs(60), || {
        rig.draft_with("lighthouse keeper").is_some()
    })
    .await;
    let draft = rig.draft_with("lighthouse keeper").unwrap();
    assert!(draft.can_stop, "{draft:?}");
    // A stranger's chat stops the same draft id: nothing happens, the story goes on.
    rig.fake
        .raw_update(serde_json::json!({"stopped_message_generation": {
            "chat": {"id": STRANGER, "type": "private", "first_name": "x"},
            "draft_id": draft.draft_id,
        }}));
    wait_until("the story to go on", Duration::from_secs(30), || {
        rig.draft_with("lighthouse keeper")
            .is_some_and(|d| d.text.len() > draft.text.len() + 20)
    })
    .await;
    // The user presses Stop; Telegram delivers it twice.
    assert!(rig.fake.press_stop(USER, draft.draft_id));
    assert!(rig.fake.press_stop(USER, draft.draft_id));
    rig.wait("the interrupt", has("Interrupted")).await;
    let chat = rig.fake.chat(USER);
    assert!(
        !chat
            .iter()
            .any(|m| m.text.contains("the question marks were the ship's name")),
        "the story was not interrupted"
    );
    // The next message is typed as usual and answered.
    rig.say("Shorter please");
    rig.wait(
        "the short answer",
        has("Short version: the keeper kept counting."),
    )
    .await;
    let interrupts = rig
        .fake
        .chat(USER)
        .iter()
        .filter(|m| m.text.contains("Interrupted"))
        .count();
    assert_eq!(interrupts, 1);
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_manual_mode_yes_runs_the_command_and_no_does_not() {
    let rig = rig("manual", &[]).await;
    rig.session().await;
    let project = rig.home.project.clone();

    rig.say("Create the yes marker");
    let prompt = rig.prompt_with("", "Yes").await;
    assert!(prompt.text.contains("touch yes-ran.txt"), "{}", prompt.text);
    assert!(prompt.buttons.iter().flatten().any(|b| b.0 == "No"));
    rig.press(&prompt, "Yes").await;
    rig.wait("the answer after Yes", has("The yes marker exists now."))
        .await;
    assert!(project.join("yes-ran.txt").exists(), "Yes: the command ran");

    rig.say("Create the no marker");
    let prompt = rig.prompt_with("touch no-ran.txt", "No").await;
    rig.press(&prompt, "No").await;
    rig.say("Leave it");
    rig.wait(
        "the answer after No",
        has("Fine, I left the other marker alone."),
    )
    .await;
    assert!(
        !project.join("no-ran.txt").exists(),
        "No: the command did not run"
    );

    rig.say("Write hello.py");
    let prompt = rig.prompt_with("hello.py", "Yes").await;
    rig.press(&prompt, "Yes").await;
    rig.wait("the answer after Write", has("hello.py prints a greeting."))
        .await;
    assert_eq!(
        std::fs::read_to_string(project.join("hello.py")).unwrap(),
        "print('hello from the phone')\n"
    );
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_auto_mode_a_blocked_call_is_shown_with_its_reason() {
    let rig = rig("auto", &[]).await;
    rig.session().await;
    rig.say("Install the tool");
    let chat = rig
        .wait("the blocked call", |ms| {
            ms.iter().any(|m| {
                m.text.starts_with("🛡 Blocked by auto mode")
                    && m.text.contains("Runs a downloaded script with root rights")
            })
        })
        .await;
    // The notice of its own (the live message shows the blocked call too, silently).
    let notice = chat
        .iter()
        .find(|m| m.text.starts_with("🛡 Blocked by auto mode"))
        .unwrap();
    assert!(notice.text.contains("sudo bash"), "{}", notice.text);
    assert!(!notice.silent, "a blocked call is audible");
    rig.wait(
        "the answer",
        has("The installer was blocked: it runs a downloaded script as root."),
    )
    .await;
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_resumes_with_continue_and_claude_sees_the_earlier_exchange() {
    let rig = rig("resume", &[("TELEPTY_IDLE_TIMEOUT", "3s".into())]).await;
    rig.session().await;
    rig.say("Remember: the deploy key lives in the vault under ops/deploy");
    rig.wait(
        "the first answer",
        has("Noted: the deploy key lives in the vault under ops/deploy."),
    )
    .await;
    rig.wait("the idle suspend", has("suspended after being idle"))
        .await;
    rig.say("Where does the deploy key live?");
    // `--continue`, or `--resume <id>` when Claude Code named its conversation on exit.
    let chat = rig.wait("the resume", has("Resuming notes (--")).await;
    let resumed = chat.iter().find(|m| m.text.contains("Resuming")).unwrap();
    eprintln!("e2e resume: {}", resumed.text);
    rig.wait(
        "the answer after the resume",
        has("It lives in the vault under ops/deploy, as you told me."),
    )
    .await;
    let requests = rig.main_requests();
    let last = requests.last().unwrap();
    assert!(asks(last, "Where does the deploy key live?"));
    assert!(
        asks(last, "Remember: the deploy key lives in the vault") && answered(last, "Noted:"),
        "the resumed Claude Code did not send the earlier exchange: {last}"
    );
    rig.finish().await;
}

/// The answer's markdown comes from Claude Code's transcript (the screen draws code
/// without fences): a Python block arrives as a copyable `<pre><code>` with the exact
/// code, before and after an idle suspend and `--continue`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_in_an_answer_arrives_as_a_code_block_also_after_a_resume() {
    let rig = rig("markdown", &[("TELEPTY_IDLE_TIMEOUT", "3s".into())]).await;
    rig.session().await;
    rig.say("How do I read a file line by line?");
    let code = "from pathlib import Path\n\nfor line in Path(\"notes.txt\").read_text().splitlines():\n    if line and not line.startswith(\"#\"):\n        print(line.upper())";
    let block = format!("<pre><code class=\"language-python\">{code}</code></pre>");
    let chat = rig
        .wait("the answer with its code", |chat| {
            chat.iter().any(|m| m.html.contains(&block))
        })
        .await;
    let answer = chat.iter().find(|m| m.html.contains(&block)).unwrap();
    assert!(
        answer.html.contains("<b>Reading a file</b>"),
        "{}",
        answer.html
    );
    assert!(
        answer.html.contains("<code>pathlib</code>"),
        "{}",
        answer.html
    );
    assert!(answer.html.contains("<b>all</b>"), "{}", answer.html);
    // Once the live message has given way to the answer, the answer is there once.
    rig.wait("the answer once", |chat| {
        chat.iter()
            .filter(|m| m.text.contains("it closes the file for you"))
            .count()
            == 1
    })
    .await;
    rig.wait("the idle suspend", has("suspended after being idle"))
        .await;
    rig.say("And how do I write it back?");
    rig.wait("the resume", has("Resuming notes (--")).await;
    let block = "<pre><code class=\"language-python\">Path(\"notes.txt\").write_text(\"done\\n\")</code></pre>";
    let chat = rig
        .wait("the answer after the resume, from the transcript", |chat| {
            chat.iter().any(|m| m.html.contains(block))
        })
        .await;
    let answer = chat.iter().find(|m| m.html.contains(block)).unwrap();
    assert!(
        answer.html.contains("<code>write_text</code>"),
        "{}",
        answer.html
    );
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_reaches_claude_as_its_path() {
    let rig = rig("upload", &[]).await;
    rig.session().await;
    let mut upload = Upload::new(UploadKind::Document, "milk\nbread\ntea\n");
    upload.name = Some("shopping list.txt".into());
    upload.caption = Some("What is in this file?".into());
    rig.fake.user_upload(USER, upload);
    rig.wait(
        "the answer about the file",
        has("The file holds one line of shopping: milk, bread and tea."),
    )
    .await;
    let files: Vec<PathBuf> = std::fs::read_dir(rig.home.project.join("files"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(std::fs::read(&files[0]).unwrap(), b"milk\nbread\ntea\n");
    let name = files[0].file_name().unwrap().to_string_lossy().to_string();
    let request = &rig.main_requests()[0];
    assert!(
        asks(request, "What is in this file?") && asks(request, &format!("files/{name}")),
        "Claude Code was not told the file's path: {request}"
    );
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trust_menu_of_a_fresh_directory_is_answered_with_a_button() {
    let rig = rig("trust", &[]).await;
    // A directory Claude Code has never seen: it asks whether to trust it.
    rig.say("/new fresh");
    let prompt = rig.prompt_with("", "Yes, I trust this folder").await;
    assert!(prompt.buttons.iter().flatten().any(|b| b.0 == "No, exit"));
    rig.press(&prompt, "Yes, I trust this folder").await;
    rig.say("Do you work here now?");
    rig.wait("the answer", has("Yes, I work in this folder now."))
        .await;
    rig.finish().await;
}

/// How long a person looks at a prompt before pressing a key. Claude Code ignores keys
/// that come right after it draws a prompt (against answering it by accident), so a
/// test that answers at the terminal pauses as a person would; the chat's buttons need
/// no such pause (telepty holds their keys: `prompt_settle_ms`).
const READING_TIME: Duration = Duration::from_millis(700);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_desk_and_on_the_phone_in_one_claude_session() {
    let rig = rig("desk", &[]).await;
    rig.session().await;
    let config = config_for(rig.bot.dir.path(), &rig.bot.dir.path().join("state"));
    let mut desk = desk(
        &format!("attach notes --config {}", config.display()),
        Size::new(100, 30),
    );
    shows(&mut desk, "❯").await;

    // A question typed at the desk: the answer reaches the chat.
    desk.write(b"What is the capital of France?");
    shows(&mut desk, "What is the capital of France?").await;
    desk.write(b"\r");
    rig.wait(
        "the desk's answer in the chat",
        has("Paris is the capital of France."),
    )
    .await;

    // A prompt raised from the chat, answered at the desk: the chat's buttons go.
    rig.say("Create the desk marker");
    let prompt = rig.prompt_with("", "Yes").await;
    shows(&mut desk, "Do you want to proceed?").await;
    tokio::time::sleep(READING_TIME).await;
    desk.write(b"1");
    let id = prompt.id;
    rig.wait("the prompt's buttons gone", |ms| {
        ms.iter().any(|m| m.id == id && m.buttons.is_empty())
    })
    .await;
    rig.wait(
        "the answer after the desk's Yes",
        has("The desk marker exists now."),
    )
    .await;
    assert!(rig.home.project.join("desk-ran.txt").exists());

    desk.write(&[0x1c, 0x1c]);
    shows(&mut desk, AFTER).await;
    assert!(!desk.screen().is_alternate());
    rig.finish().await;
}
