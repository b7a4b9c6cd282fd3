//! `mock-anthropic`: the Anthropic Messages API mock as a program, for recording the real
//! Claude Code offline (`scripts/record-fixtures`) and for end-to-end tests.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use telepty::cast::record::script;
use telepty_testkit::mock::anthropic::Mock;
use telepty_testkit::mock::scenario::Scenario;

#[derive(Parser)]
#[command(
    name = "mock-anthropic",
    about = "A scripted mock of the Anthropic Messages API on 127.0.0.1"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Answer requests with a scenario's turns. Prints `listening on 127.0.0.1:PORT`.
    Serve {
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
    },
    /// Print the sidecar (what the chat must show) of a scenario's recording.
    Sidecar {
        scenario: PathBuf,
        /// The step file the recording is made with (its `type`/`paste` lines are the user inputs).
        #[arg(long)]
        steps: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Cmd::Serve {
            scenario,
            port,
            port_file,
            log,
            project,
        } => {
            let mock = Mock::new(Scenario::load(&scenario, project.as_deref())?, log)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
                let port = listener.local_addr()?.port();
                if let Some(path) = port_file {
                    std::fs::write(&path, port.to_string())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                println!("listening on 127.0.0.1:{port}");
                mock.serve(listener).await?;
                anyhow::Ok(())
            })
        }
        Cmd::Sidecar { scenario, steps } => {
            let scenario = Scenario::load(&scenario, None)?;
            let text = std::fs::read_to_string(&steps)
                .with_context(|| format!("cannot read {}", steps.display()))?;
            let steps = script::parse(&text).with_context(|| format!("{}", steps.display()))?;
            let inputs = script::user_inputs(&steps);
            println!(
                "{}",
                serde_json::to_string_pretty(&scenario.sidecar(&inputs))?
            );
            Ok(())
        }
    }
}
