//! Scenario files for the Anthropic mock: the turns a scripted "model" answers with, in
//! order, plus what a recording of the scenario must show in the chat (the sidecar).
//!
//! ```toml
//! chunk = 24        # characters per streamed text delta (default for every turn)
//! delay_ms = 25     # pause between deltas
//!
//! [[turn]]
//! text = "I'll create the file."
//! [[turn.tool]]
//! name = "Bash"
//! input = { command = "touch marker.txt", description = "Create empty marker file" }
//! screen = "$ touch marker.txt"        # optional: how Claude Code draws the call
//! # flagged = "Runs a downloaded script as root"   # the auto-mode verdict; not flagged when absent
//!
//! [[turn]]
//! status = 529      # an HTTP error instead of an answer (Claude Code retries)
//!
//! [[turn]]
//! text = "Created marker.txt."
//!
//! [[expect.prompt]]    # prompts the recording shows, with every option as drawn
//! question = "Do you want to proceed?"
//! options = ["Yes", "…", "No"]
//! chosen = "Yes"
//! key = "1"
//! context = ["Bash command", "touch marker.txt"]
//! ```

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A whole scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Characters per text delta, unless a turn says otherwise.
    #[serde(default = "default_chunk")]
    pub chunk: usize,
    /// Milliseconds between deltas, unless a turn says otherwise.
    #[serde(default = "default_delay")]
    pub delay_ms: u64,
    /// What side calls asking for a session title get.
    #[serde(default = "default_title")]
    pub title: String,
    #[serde(default)]
    pub turn: Vec<Turn>,
    #[serde(default)]
    pub expect: Expect,
    #[serde(default)]
    pub setup: Setup,
}

/// How Claude Code is started for the scenario: the scratch home and project it finds.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Arguments after `claude`.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment (`CLAUDE_CODE_ENABLE_TODO_TOOLS = "1"`).
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    /// The project is already trusted; false shows the workspace-trust menu.
    #[serde(default = "yes")]
    pub trusted: bool,
    /// Pass the key as `ANTHROPIC_API_KEY` (shows the "custom API key" menu) instead of
    /// `ANTHROPIC_AUTH_TOKEN`.
    #[serde(default)]
    pub api_key: bool,
    /// Files in the project, path → content.
    #[serde(default)]
    pub files: std::collections::BTreeMap<String, String>,
    /// Start in the home and project another scenario left behind (for `--continue`).
    pub continues: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            args: Vec::new(),
            env: Default::default(),
            trusted: true,
            api_key: false,
            files: Default::default(),
            continues: None,
        }
    }
}

fn default_chunk() -> usize {
    24
}
fn default_delay() -> u64 {
    25
}
fn default_title() -> String {
    "Mock session".into()
}

/// One answer of the model to one main request.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    /// Streamed text (markdown), before any tool calls.
    pub text: Option<String>,
    #[serde(default)]
    pub tool: Vec<ToolCall>,
    /// Answer with this HTTP status and an error body instead (529 overloaded, 500 …).
    pub status: Option<u16>,
    pub chunk: Option<usize>,
    pub delay_ms: Option<u64>,
    /// Milliseconds to wait before answering at all.
    #[serde(default)]
    pub pause_ms: u64,
    /// The user interrupts this answer: only a prefix of its text is ever shown, so it
    /// is not an answer the chat must hold (the sidecar's `interrupted_answer_full`).
    #[serde(default)]
    pub interrupted: bool,
}

/// A tool call in a turn.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    pub name: String,
    pub input: Value,
    /// Auto mode's verdict: flagged with this explanation; not flagged when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged: Option<String>,
    /// How Claude Code draws the call (a banner), or absent where it folds it away.
    #[serde(default)]
    pub screen: Option<String>,
}

/// What a recording of the scenario must show, beyond what the turns say.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub prompt: Vec<Prompt>,
    /// Texts that appear on the screen at some point of the recording.
    #[serde(default)]
    pub screen_must_show: Vec<String>,
    /// Texts that must be on the final screen.
    #[serde(default)]
    pub final_screen_must_show: Vec<String>,
    /// Free words for whoever reads the sidecar.
    #[serde(default)]
    pub notes: String,
    /// Other sidecar keys (`interrupted_answer_prefix`, `resumed_history`, …), copied.
    #[serde(default)]
    pub extra: serde_json::Map<String, Value>,
}

/// A blocking prompt the recording shows.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    pub question: String,
    pub options: Vec<String>,
    pub chosen: String,
    pub key: String,
    #[serde(default)]
    pub context: Vec<String>,
}

impl Scenario {
    /// Reads a scenario. `{project}` anywhere in it stands for `project`, the absolute
    /// path of the project directory, which Claude Code's prompts and file tools show.
    pub fn load(path: &Path, project: Option<&Path>) -> anyhow::Result<Scenario> {
        let mut text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if let Some(project) = project {
            text = text.replace("{project}", &project.to_string_lossy());
        }
        toml::from_str(&text).with_context(|| format!("{}", path.display()))
    }

    /// The sidecar of a recording of this scenario: what the chat must show, derived
    /// from the scenario (the model's turns and the typed inputs), never from a screen.
    pub fn sidecar(&self, user_inputs: &[String]) -> Value {
        let answers: Vec<&str> = self
            .turn
            .iter()
            .filter(|t| !t.interrupted)
            .filter_map(|t| t.text.as_deref())
            .collect();
        let tools: Vec<Value> = self
            .turn
            .iter()
            .flat_map(|t| &t.tool)
            .map(|call| {
                json!({
                    "name": call.name,
                    "arg": main_argument(&call.name, &call.input),
                    "input": call.input,
                    "screen": call.screen,
                })
            })
            .collect();
        let api_errors: Vec<u16> = self.turn.iter().filter_map(|t| t.status).collect();
        let mut out = json!({
            "answers": answers,
            "tools": tools,
            "prompts": self.expect.prompt,
            "user_inputs": user_inputs,
            "notes": self.expect.notes,
        });
        let map = out.as_object_mut().expect("an object");
        if !api_errors.is_empty() {
            map.insert("api_errors".into(), json!(api_errors));
        }
        if let Some(full) = self.turn.iter().find(|t| t.interrupted) {
            map.insert("interrupted_answer_full".into(), json!(full.text));
        }
        if !self.expect.screen_must_show.is_empty() {
            map.insert(
                "screen_must_show".into(),
                json!(self.expect.screen_must_show),
            );
        }
        if !self.expect.final_screen_must_show.is_empty() {
            map.insert(
                "final_screen_must_show".into(),
                json!(self.expect.final_screen_must_show),
            );
        }
        for (k, v) in &self.expect.extra {
            map.insert(k.clone(), v.clone());
        }
        out
    }
}

/// The one argument that names a tool call in a banner: the command, the file, the
/// pattern.
pub fn main_argument(name: &str, input: &Value) -> String {
    let keys: &[&str] = match name {
        "Bash" => &["command"],
        "exec_command" => &["cmd"],
        "Read" | "Write" | "Edit" | "NotebookEdit" => &["file_path", "notebook_path"],
        "Glob" | "Grep" => &["pattern"],
        "ToolSearch" | "WebSearch" => &["query"],
        "WebFetch" => &["url"],
        "TaskCreate" => &["subject"],
        _ => &[
            "command",
            "file_path",
            "pattern",
            "query",
            "subject",
            "description",
        ],
    };
    if name == "TaskUpdate" {
        let id = input.get("taskId").and_then(Value::as_str).unwrap_or("");
        let status = input.get("status").and_then(Value::as_str).unwrap_or("");
        return format!("{id} {status}").trim().to_string();
    }
    keys.iter()
        .find_map(|k| input.get(*k).and_then(Value::as_str))
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_scenario_and_derives_its_sidecar() {
        let s: Scenario = toml::from_str(
            r#"
            [[turn]]
            text = "I'll create it."
            [[turn.tool]]
            name = "Bash"
            input = { command = "touch a", description = "Create a" }
            [[turn]]
            status = 529
            [[turn]]
            text = "Done."
            [expect]
            screen_must_show = ["Ran 1 shell command"]
            [[expect.prompt]]
            question = "Do you want to proceed?"
            options = ["Yes", "No"]
            chosen = "Yes"
            key = "1"
            "#,
        )
        .unwrap();
        let side = s.sidecar(&["make a".to_string()]);
        assert_eq!(side["answers"], json!(["I'll create it.", "Done."]));
        assert_eq!(side["tools"][0]["arg"], "touch a");
        assert_eq!(side["prompts"][0]["options"], json!(["Yes", "No"]));
        assert_eq!(side["api_errors"], json!([529]));
        assert_eq!(side["user_inputs"], json!(["make a"]));
    }

    #[test]
    fn a_misspelt_key_is_named() {
        let err = toml::from_str::<Scenario>("[[turn]]\ntxet = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("txet"), "{err}");
    }
}
