//! The real Codex CLI (the pinned version, from npm) runs offline against the project's
//! mock of the OpenAI Responses API (`testkit/src/mock/openai.rs`), recorded by
//! `telepty record`: the ground for a Codex profile (`docs/codex.md`). A command Codex
//! must ask about is drawn as an approval with its options; `y` runs it and its output
//! goes back to the model, whose next answer is drawn.

mod common;

use common::codex;
use serde_json::Value;
use telepty::cast::replay::replay;
use telepty::Cast;
use telepty_testkit::mock::codex_home::CodexHome;
use telepty_testkit::mock::openai::Mock;
use telepty_testkit::mock::scenario::Scenario;

const SCENARIO: &str = r#"
title = "Count lines"
[[turn]]
text = "I'll count the lines."
[[turn.tool]]
name = "exec_command"
input = { cmd = "wc -l data.csv", workdir = "{project}", sandbox_permissions = "require_escalated", justification = "Count the lines of data.csv" }
[[turn]]
text = "data.csv has 6 lines."
"#;

const STEPS: &str = r#"wait "Ask Codex" 40
sleep 1
type "How many lines has data.csv?"
sleep 0.5
key Enter
wait "Would you like to run" 60
sleep 1
type "y"
wait "has 6 lines" 60
sleep 1
key Ctrl-C
sleep 1
exit 10
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_asks_before_a_command_and_runs_it_on_yes_offline() {
    let codex = codex();
    let scratch = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let files = [("data.csv".to_string(), "a\nb\nc\nd\ne\nf\n".to_string())];
    let home = CodexHome::prepare(scratch.path(), port, &files).unwrap();
    let scenario_file = scratch.path().join("scenario.toml");
    std::fs::write(&scenario_file, SCENARIO).unwrap();
    let scenario = Scenario::load(&scenario_file, Some(&home.project)).unwrap();
    let log = scratch.path().join("mock.jsonl");
    let mock = Mock::new(scenario, Some(log.clone())).unwrap();
    let server = tokio::spawn(async move { mock.serve(listener).await });
    let steps = scratch.path().join("steps");
    std::fs::write(&steps, STEPS).unwrap();
    let cast = scratch.path().join("count.cast");
    let mut record = tokio::process::Command::new(env!("CARGO_BIN_EXE_telepty"));
    record
        .args(["record", "--size", "100x30", "--out"])
        .arg(&cast)
        .arg("--cwd")
        .arg(&home.project)
        .arg("--script")
        .arg(&steps);
    for (k, v) in home.env() {
        record.arg("--env").arg(format!("{k}={v}"));
    }
    record.arg("--").arg(&codex).arg("--no-daemon");
    let status = tokio::time::timeout(std::time::Duration::from_secs(180), record.status())
        .await
        .expect("the recording did not end within 180 s")
        .unwrap();
    assert!(status.success(), "telepty record: {status}");
    server.abort();

    // What Codex sent: the command it ran, with its output, back to the model.
    let requests: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let output = requests
        .iter()
        .flat_map(|r| r["body"]["input"].as_array().cloned().unwrap_or_default())
        .find(|item| item["type"] == "function_call_output")
        .expect("the command's output went back to the model");
    assert!(
        output["output"].as_str().unwrap().contains("6 data.csv"),
        "{output}"
    );
    // What the screen showed on the way: the approval with every option, the run, the answer.
    let cast = Cast::read_file(&cast).unwrap();
    let mut seen = String::new();
    replay(&cast, None, |_, screen| {
        let text = screen.text();
        for want in [
            "Would you like to run the following command?",
            "1. Yes, proceed (y)",
            "3. No, and tell Codex what to do differently (esc)",
            "Ran wc -l data.csv",
            "data.csv has 6 lines.",
        ] {
            if text.contains(want) && !seen.contains(want) {
                seen.push_str(want);
                seen.push('\n');
            }
        }
    });
    assert_eq!(seen.lines().count(), 5, "seen only:\n{seen}");
    // Its session log is where docs/codex.md says.
    assert_eq!(home.session_logs().len(), 1, "{:?}", home.session_logs());
}
