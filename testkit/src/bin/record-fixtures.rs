//! `record-fixtures`: records the real Claude Code for every scenario in
//! `fixtures/claude-code/scenarios/` (a `NAME.toml` of model turns and setup, a
//! `NAME.steps` of what the user does), at each size, with the scripted recorder of
//! `telepty record`, against the in-process Anthropic mock. Writes `NAME.SIZE.cast` and
//! the sidecar `NAME.SIZE.expect.json` derived from the scenario. Run it through
//! `scripts/record-fixtures`, which installs the pinned Claude Code first.

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
use telepty_testkit::mock::scenario::Scenario;

#[derive(Parser)]
struct Cli {
    /// The Claude Code binary.
    #[arg(long)]
    claude: PathBuf,
    /// The fixture folder.
    #[arg(long, default_value = "fixtures/claude-code")]
    dir: PathBuf,
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
    let version = std::fs::read_to_string(cli.dir.join("VERSION"))?
        .trim()
        .to_string();
    let mut entries = load(&cli.dir.join("scenarios"))?;
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
            if let Err(e) = runtime.block_on(record_one(&cli, &version, entry, *size)) {
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

async fn record_one(cli: &Cli, version: &str, entry: &Entry, size: Size) -> anyhow::Result<()> {
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

    let mut command = Command::new(cli.claude.to_string_lossy(), &home.project)
        .args(setup.args.clone())
        .size(size);
    command.env = home.env(port, setup);
    let stem = format!("{}.{size}", entry.name);
    let out = cli.dir.join(format!("{stem}.cast"));
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
    let path = cli.dir.join(format!("{stem}.expect.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&sidecar)? + "\n")?;
    Ok(())
}
