//! `mock-openai`: the OpenAI Responses API mock as a program, for recording the real
//! Codex CLI offline and for end-to-end tests (`docs/codex.md`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use telepty_testkit::mock::openai::Mock;
use telepty_testkit::mock::scenario::Scenario;

/// Answers Responses API requests with a scenario's turns on 127.0.0.1. Prints
/// `listening on 127.0.0.1:PORT`.
#[derive(Parser)]
#[command(name = "mock-openai")]
struct Cli {
    scenario: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Write the chosen port to this file once listening.
    #[arg(long)]
    port_file: Option<PathBuf>,
    /// Append every request as a JSON line to this file.
    #[arg(long)]
    log: Option<PathBuf>,
    /// What `{project}` in the scenario stands for.
    #[arg(long)]
    project: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let mock = Mock::new(
        Scenario::load(&cli.scenario, cli.project.as_deref())?,
        cli.log,
    )?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", cli.port)).await?;
        let port = listener.local_addr()?.port();
        if let Some(path) = cli.port_file {
            std::fs::write(&path, port.to_string())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        println!("listening on 127.0.0.1:{port}");
        mock.serve(listener).await?;
        anyhow::Ok(())
    })
}
