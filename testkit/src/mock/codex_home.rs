//! A scratch home for running the real Codex CLI against the OpenAI mock: `CODEX_HOME`
//! with the `config.toml` that points Codex at the mock (a custom model provider, the
//! key from the environment, the project trusted, no update check, no analytics, the
//! model-upgrade notice marked as seen), a project, and the environment that goes with
//! it. Why each setting: `docs/codex.md`.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// What `MOCK_OPENAI_API_KEY` holds; any value works.
pub const TEST_KEY: &str = "sk-mock-fixture-key";

/// A home with one project in it, as Codex will see them.
#[derive(Clone, Debug)]
pub struct CodexHome {
    pub home: PathBuf,
    /// `CODEX_HOME`: config, session logs.
    pub codex_home: PathBuf,
    pub project: PathBuf,
    /// Outside the Codex home: Codex refuses to make helper links under a temp dir.
    pub tmp: PathBuf,
}

impl CodexHome {
    /// Lays out `root/home/dev/project`, `root/codex-home` and `root/tmp` for a mock on
    /// `port`; files of the project are `(path, content)`.
    pub fn prepare(
        root: &Path,
        port: u16,
        files: &[(String, String)],
    ) -> anyhow::Result<CodexHome> {
        let home = root.join("home/dev");
        let project = home.join("project");
        let codex_home = root.join("codex-home");
        let tmp = root.join("tmp");
        for dir in [&project, &codex_home, &tmp] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        for (path, content) in files {
            let file = project.join(path);
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&file, content)
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        let config = format!(
            r#"model = "gpt-5.5"
model_provider = "mock"
approval_policy = "on-request"
sandbox_mode = "workspace-write"
check_for_update_on_startup = false

[model_providers.mock]
name = "Mock OpenAI"
base_url = "http://127.0.0.1:{port}/v1"
env_key = "MOCK_OPENAI_API_KEY"
wire_api = "responses"

[projects.{project}]
trust_level = "trusted"

[analytics]
enabled = false
[feedback]
enabled = false
[notice.model_migrations]
"gpt-5.5" = "gpt-6-sol"
"#,
            project = toml_string(&project.to_string_lossy()),
        );
        std::fs::write(codex_home.join("config.toml"), config)?;
        Ok(CodexHome {
            home,
            codex_home,
            project,
            tmp,
        })
    }

    /// The environment for Codex talking to the mock.
    pub fn env(&self) -> Vec<(String, String)> {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        vec![
            ("HOME".into(), path(&self.home)),
            ("CODEX_HOME".into(), path(&self.codex_home)),
            ("TMPDIR".into(), path(&self.tmp)),
            ("MOCK_OPENAI_API_KEY".into(), TEST_KEY.into()),
            ("TERM".into(), "xterm-256color".into()),
            ("LANG".into(), "C.UTF-8".into()),
        ]
    }

    /// The folder Codex writes today's session logs in (`sessions/YYYY/MM/DD`, the date
    /// in the machine's time zone, which Codex runs in: its environment names none).
    pub fn todays_sessions(&self) -> PathBuf {
        self.codex_home
            .join("sessions")
            .join(telepty::core::transcript::todays_folder())
    }

    /// The session logs Codex wrote (`sessions/YYYY/MM/DD/rollout-*.jsonl`).
    pub fn session_logs(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "jsonl") {
                    out.push(p);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.codex_home.join("sessions"), &mut out);
        out.sort();
        out
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
