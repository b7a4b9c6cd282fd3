//! A scratch home and project for running the real Claude Code against the mock: the
//! `.claude.json` that skips onboarding (and, if asked, trusts the project), the project's
//! files, and the environment that points Claude Code at the mock and nowhere else.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use super::scenario::Setup;

/// The token Claude Code sends to the mock; any value works.
pub const TEST_TOKEN: &str = "test-token";
/// What `ANTHROPIC_API_KEY` holds when a scenario asks for the API-key menu.
pub const TEST_API_KEY: &str = "sk-ant-api03-mock-1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a-AAAAAA";

/// A home directory with one project in it, as Claude Code will see them.
#[derive(Clone, Debug)]
pub struct ClaudeHome {
    pub home: PathBuf,
    pub project: PathBuf,
}

impl ClaudeHome {
    /// Lays out `root/home/dev/notes-app`; with `fresh`, whatever was there goes first.
    pub fn prepare(root: &Path, setup: &Setup, fresh: bool) -> anyhow::Result<ClaudeHome> {
        let home = root.join("home/dev");
        let project = home.join("notes-app");
        if fresh && root.exists() {
            std::fs::remove_dir_all(root)
                .with_context(|| format!("cannot clear {}", root.display()))?;
        }
        std::fs::create_dir_all(&project)
            .with_context(|| format!("cannot create {}", project.display()))?;
        for (path, content) in &setup.files {
            let file = project.join(path);
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&file, content)
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        let config = home.join(".claude.json");
        if fresh || !config.exists() {
            let mut project_entry = json!({ "allowedTools": [] });
            if setup.trusted {
                project_entry["hasTrustDialogAccepted"] = json!(true);
            }
            let mut doc = json!({
                "hasCompletedOnboarding": true,
                "theme": "dark",
                "hasSeenAutoDefaultNotice": true,
                "projects": { project.to_string_lossy(): project_entry },
            });
            if setup.api_key {
                // Claude Code remembers approved keys by their last 20 characters; none yet.
                doc["customApiKeyResponses"] = json!({ "approved": [], "rejected": [] });
            }
            std::fs::write(&config, serde_json::to_string_pretty(&doc)?)?;
        }
        Ok(ClaudeHome { home, project })
    }

    /// The environment for Claude Code talking to the mock at `port`.
    pub fn env(&self, port: u16, setup: &Setup) -> Vec<(String, String)> {
        let mut env = vec![
            ("HOME".to_string(), self.home.to_string_lossy().into_owned()),
            (
                "ANTHROPIC_BASE_URL".to_string(),
                format!("http://127.0.0.1:{port}"),
            ),
            (
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".to_string(),
                "1".to_string(),
            ),
            ("DISABLE_AUTOUPDATER".to_string(), "1".to_string()),
        ];
        if setup.api_key {
            env.push(("ANTHROPIC_API_KEY".to_string(), TEST_API_KEY.to_string()));
        } else {
            env.push(("ANTHROPIC_AUTH_TOKEN".to_string(), TEST_TOKEN.to_string()));
        }
        env.extend(setup.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }
}
