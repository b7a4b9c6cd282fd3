//! `record-fixtures`: records the real Claude Code (or, with `--agent codex`, the Codex
//! CLI) for every scenario in `fixtures/claude-code/scenarios/` (`fixtures/codex/`): a
//! `NAME.toml` of model turns and setup, a `NAME.steps` of what the user does, at each
//! size, with the scripted recorder of `telepty record`, against the in-process Anthropic
//! (OpenAI Responses) mock. Writes `NAME.SIZE.cast` and the sidecar `NAME.SIZE.expect.json`
//! derived from the scenario. Run it through `scripts/record-fixtures`, which installs
//! the pinned agent first.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::json;
use telepty::cast::record::script::{self, Step};
use telepty::cast::record::{self, Options};
use telepty::core::profile::Profile;
use telepty::session::transcript::Follow;
use telepty::{Command, Size};
use telepty_testkit::mock::anthropic::Mock;
use telepty_testkit::mock::claude_home::ClaudeHome;
use telepty_testkit::mock::codex_home::CodexHome;
use telepty_testkit::mock::scenario::Scenario;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Agent {
    Claude,
    Codex,
}

#[derive(Parser)]
struct Cli {
    /// The agent recorded.
    #[arg(long, value_enum, default_value = "claude")]
    agent: Agent,
    /// The agent's binary (Claude Code's or the Codex CLI's).
    #[arg(long, alias = "claude")]
    binary: PathBuf,
    /// The fixture folder [default: fixtures/claude-code, or fixtures/codex].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Sizes to record at.
    #[arg(long, value_delimiter = ',', default_value = "100x30,60x24")]
    sizes: Vec<Size>,
    /// Where scratch homes go (wiped per scenario); fixed so recordings repeat.
    #[arg(long, default_value = "/tmp/telepty-fixtures")]
    scratch: PathBuf,
    /// Only these scenarios (with the ones they continue from).
    names: Vec<String>,
}

struct Entry {
    name: String,
    path: PathBuf,
    scenario: Scenario,
    steps: Vec<Step>,
    inputs: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let cli = Cli::parse();
    let dir = cli.dir.clone().unwrap_or_else(|| match cli.agent {
        Agent::Claude => "fixtures/claude-code".into(),
        Agent::Codex => "fixtures/codex".into(),
    });
    let version = std::fs::read_to_string(dir.join("VERSION"))?
        .trim()
        .to_string();
    let mut entries = load(&dir.join("scenarios"))?;
    if !cli.names.is_empty() {
        let wanted: Vec<String> = entries
            .iter()
            .filter(|e| cli.names.contains(&e.name))
            .flat_map(|e| std::iter::once(e.name.clone()).chain(e.scenario.setup.continues.clone()))
            .collect();
        entries.retain(|e| wanted.contains(&e.name));
    }
    // Scenarios that continue another run after it, in its scratch home.
    entries.sort_by_key(|e| (e.scenario.setup.continues.is_some(), e.name.clone()));
    let runtime = tokio::runtime::Runtime::new()?;
    let mut failed = Vec::new();
    for size in &cli.sizes {
        for entry in &entries {
            let label = format!("{}.{size}", entry.name);
            eprintln!("record-fixtures: {label}");
            let recorded = runtime.block_on(async {
                match cli.agent {
                    Agent::Claude => record_one(&cli, &dir, &version, entry, *size).await,
                    Agent::Codex => record_codex(&cli, &dir, &version, entry, *size).await,
                }
            });
            if let Err(e) = recorded {
                eprintln!("record-fixtures: {label} FAILED: {e:#}");
                failed.push(label);
            }
        }
    }
    if !failed.is_empty() {
        bail!("{} recordings failed: {}", failed.len(), failed.join(", "));
    }
    Ok(())
}

fn load(dir: &Path) -> anyhow::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for item in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = item?.path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let scenario = Scenario::load(&path, None)?;
        let steps_path = path.with_extension("steps");
        let text = std::fs::read_to_string(&steps_path)
            .with_context(|| format!("cannot read {}", steps_path.display()))?;
        let steps = script::parse(&text).with_context(|| format!("{}", steps_path.display()))?;
        let inputs = script::user_inputs(&steps);
        entries.push(Entry {
            name,
            path,
            scenario,
            steps,
            inputs,
        });
    }
    Ok(entries)
}

async fn record_one(
    cli: &Cli,
    dir: &Path,
    version: &str,
    entry: &Entry,
    size: Size,
) -> anyhow::Result<()> {
    let setup = &entry.scenario.setup;
    let root = cli
        .scratch
        .join(setup.continues.as_deref().unwrap_or(&entry.name));
    let home = ClaudeHome::prepare(&root, setup, setup.continues.is_none())?;

    // Loaded again: `{project}` now stands for this recording's project directory.
    let scenario = Scenario::load(&entry.path, Some(&home.project))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let mock = Mock::new(scenario.clone(), None)?;
    let server = tokio::spawn(mock.serve(listener));

    let mut command = Command::new(cli.binary.to_string_lossy(), &home.project)
        .args(setup.args.clone())
        .size(size);
    command.env = home.env(port, setup);
    let stem = format!("{}.{size}", entry.name);
    let out = dir.join(format!("{stem}.cast"));
    // Claude Code's own transcript is recorded beside the cast (NAME.transcript.jsonl).
    let follow = Follow::for_command(&Profile::claude(), &command);
    let options = Options {
        command,
        out,
        title: Some(entry.name.clone()),
        text: None,
        follow,
    };

    let mut rec = record::Recorder::start(&options)?;
    let outcome = record::run_script(&mut rec, &entry.steps).await;
    let info = rec.finish().await?;
    server.abort();
    outcome?;

    let mut sidecar = scenario.sidecar(&entry.inputs);
    let extra = json!({
        "cast": format!("{stem}.cast"),
        "scenario": entry.name,
        "width": size.cols,
        "height": size.rows,
        "command": std::iter::once("claude".to_string()).chain(setup.args.iter().cloned()).collect::<Vec<_>>(),
        "claude_code_version": version,
        "exit_status": info.code,
    });
    for (k, v) in extra.as_object().expect("an object") {
        sidecar[k] = v.clone();
    }
    let path = dir.join(format!("{stem}.expect.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&sidecar)? + "\n")?;
    Ok(())
}

/// One recording of the Codex CLI against the OpenAI Responses mock. A scenario's
/// `setup.args` are the whole argument list after `codex` (`--no-daemon`, or `resume
/// --last --no-daemon`); `setup.continues` runs in the scratch home another scenario
/// left behind.
async fn record_codex(
    cli: &Cli,
    dir: &Path,
    version: &str,
    entry: &Entry,
    size: Size,
) -> anyhow::Result<()> {
    let setup = &entry.scenario.setup;
    let root = cli.scratch.join(format!(
        "codex-{}",
        setup.continues.as_deref().unwrap_or(&entry.name)
    ));
    if setup.continues.is_none() && root.exists() {
        std::fs::remove_dir_all(&root)
            .with_context(|| format!("cannot clear {}", root.display()))?;
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let files: Vec<(String, String)> = setup.files.clone().into_iter().collect();
    let home = CodexHome::prepare(&root, port, &files)?;
    let scenario = Scenario::load(&entry.path, Some(&home.project))?;
    let mock = telepty_testkit::mock::openai::Mock::new(scenario.clone(), None)?;
    let server = tokio::spawn(mock.serve(listener));

    let mut command = Command::new(cli.binary.to_string_lossy(), &home.project)
        .args(setup.args.clone())
        .size(size);
    command.env = home.env();
    command.env.extend(setup.env.clone());
    let stem = format!("{}.{size}", entry.name);
    // Codex's session log (a rollout file it names itself, in today's folder) is
    // recorded beside the cast, as Claude Code's transcript is (NAME.transcript.jsonl).
    let follow = Some(Follow {
        file: None,
        dir: home.todays_sessions(),
        from_end: false,
    });
    let options = Options {
        command,
        out: dir.join(format!("{stem}.cast")),
        title: Some(entry.name.clone()),
        text: None,
        follow,
    };
    let mut rec = record::Recorder::start(&options)?;
    let outcome = record::run_script(&mut rec, &entry.steps).await;
    let info = rec.finish().await?;
    server.abort();
    outcome?;

    let mut sidecar = scenario.sidecar(&entry.inputs);
    let extra = json!({
        "cast": format!("{stem}.cast"),
        "scenario": entry.name,
        "width": size.cols,
        "height": size.rows,
        "command": std::iter::once("codex".to_string()).chain(setup.args.iter().cloned()).collect::<Vec<_>>(),
        "codex_version": version,
        "exit_status": info.code,
    });
    for (k, v) in extra.as_object().expect("an object") {
        sidecar[k] = v.clone();
    }
    let path = dir.join(format!("{stem}.expect.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&sidecar)? + "\n")?;
    Ok(())
}
