//! The `telepty` command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use telepty::cast::record::{self, Options};
use telepty::cast::replay::{self, Snapshot};
use telepty::chat::model::ModelChat;
use telepty::config::Config;
use telepty::core::pacer::Limits;
use telepty::core::profile::Profile;
use telepty::{Cast, Command, Size};

#[derive(Parser)]
#[command(
    name = "telepty",
    version,
    about = "Drive terminal programs such as Claude Code from a chat, through a PTY"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a command in a PTY and record it as an asciicast v2 file.
    Record {
        /// Terminal size, COLSxROWS [default: the current terminal's, or 100x30].
        #[arg(long)]
        size: Option<Size>,
        /// The recording to write.
        #[arg(long)]
        out: PathBuf,
        /// Working directory of the command [default: the current one].
        #[arg(long)]
        cwd: Option<PathBuf>,
        /// Run the steps of this file instead of relaying the terminal (see `record::script`).
        #[arg(long)]
        script: Option<PathBuf>,
        /// Extra environment for the command, KEY=VALUE (repeatable).
        #[arg(long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// Title stored in the recording's header.
        #[arg(long)]
        title: Option<String>,
        /// Also write the output as plain text, escape sequences removed.
        #[arg(long)]
        text: Option<PathBuf>,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Feed a recording through the pipeline on virtual time and print the result.
    Replay {
        /// The recording (asciicast v2).
        file: PathBuf,
        /// Screen profile: `claude`, `codex`, `plain`, or a profile file (TOML); used by
        /// the chat view [default: the program the recording shows, by its version line;
        /// claude when none is recognised].
        #[arg(long)]
        profile: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Print the screen (the final one, or the one at `--at`).
        #[arg(long)]
        screen: bool,
        /// The moment to stop at, in seconds from the start.
        #[arg(long)]
        at: Option<f64>,
        /// Print every distinct screen with its time (for studying a recording).
        #[arg(long)]
        frames: bool,
        /// Write the screen (the final one, or the one at `--at`) as a PNG picture, as
        /// `/screen` sends it.
        #[arg(long, value_name = "FILE.png")]
        picture: Option<PathBuf>,
    },
    /// Run the Telegram bot (configured by the file and TELEPTY_* variables).
    Run {
        /// The configuration file [default: $XDG_CONFIG_HOME/telepty/config.toml].
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Try telepty on the console: the chat's messages printed here, your lines sent to
    /// the session (no token, no Telegram needed). Works with a pipe too.
    Local {
        /// The configuration file [default: $XDG_CONFIG_HOME/telepty/config.toml].
        #[arg(long)]
        config: Option<PathBuf>,
        /// Screen profile: `claude`, `plain`, or a profile file [default: the configuration's].
        #[arg(long)]
        profile: Option<String>,
        /// Terminal size, COLSxROWS [default: the configuration's, 100x30].
        #[arg(long)]
        size: Option<Size>,
        /// Working directory [default: the current one].
        #[arg(long)]
        cwd: Option<PathBuf>,
        /// The program and its arguments [default: the configuration's command, claude].
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Check what `telepty run` needs (configuration, token, allowed users, the program,
    /// writable directories) and say what to fix.
    Doctor {
        /// The configuration file [default: $XDG_CONFIG_HOME/telepty/config.toml].
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Attach this terminal to a live session of the running bot: its screen now, then
    /// output and keys both ways, while the chat goes on. Detach with Ctrl-\ twice
    /// (Claude Code does not use it; one Ctrl-\ followed by another key is passed on),
    /// or by closing the terminal. A suspended session is resumed first.
    Attach {
        /// The session.
        name: String,
        /// Give the session this terminal's size while attached (restored on detach);
        /// by default it keeps its own, which the chat's screens are made for.
        #[arg(long)]
        resize: bool,
        /// The configuration file [default: $XDG_CONFIG_HOME/telepty/config.toml].
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List the running bot's sessions: state, directory, attached terminals.
    Ls {
        /// The configuration file [default: $XDG_CONFIG_HOME/telepty/config.toml].
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Type a line into a session of the running bot, as a message from the chat would
    /// be (for scripts).
    Send {
        /// The session.
        name: String,
        /// The text (several words are joined with spaces).
        #[arg(required = true)]
        text: Vec<String>,
        /// The configuration file [default: $XDG_CONFIG_HOME/telepty/config.toml].
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the configuration in effect (the token hidden) and where each value came
    /// from: the file, a TELEPTY_* variable, or the default.
    Config {
        /// The configuration file [default: $XDG_CONFIG_HOME/telepty/config.toml].
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// The status line telepty gives Claude Code: keeps the JSON on standard input in
    /// FILE, then runs the user's own status line with it (telepty passes this itself).
    #[command(hide = true)]
    StatusLine {
        /// Where the payload is kept.
        #[arg(long)]
        keep: PathBuf,
        /// The status line the user configured, run with the same input.
        #[arg(long)]
        then: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The bot is a service: its log says what it does unless RUST_LOG says otherwise.
    // Console commands stay quiet but for warnings (their output is the point).
    let default = match cli.command {
        Cmd::Run { .. } => "telepty=info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("telepty: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Record {
            size,
            out,
            cwd,
            script,
            env,
            title,
            text,
            command,
        } => {
            let size = size
                .or_else(|| {
                    crossterm::terminal::size()
                        .ok()
                        .map(|(c, r)| Size::new(c, r))
                })
                .unwrap_or(Size::new(100, 30));
            let cwd = match cwd {
                Some(dir) => dir,
                None => std::env::current_dir().context("cannot read the current directory")?,
            };
            let mut cmd = Command::new(&command[0], cwd)
                .args(command[1..].iter().cloned())
                .size(size);
            for pair in env {
                let (k, v) = pair
                    .split_once('=')
                    .with_context(|| format!("--env {pair:?}: expected KEY=VALUE"))?;
                cmd = cmd.env(k, v);
            }
            // Claude Code's own transcript goes beside the cast (NAME.transcript.jsonl).
            let follow = telepty::session::transcript::Follow::for_command(
                &telepty::core::profile::Profile::claude(),
                &cmd,
            );
            let options = Options {
                command: cmd,
                out,
                title,
                text,
                follow,
            };
            let runtime = tokio::runtime::Runtime::new()?;
            let info = runtime.block_on(async {
                match &script {
                    Some(path) => record::record_script(&options, path).await,
                    None => record::record_interactive(&options).await,
                }
            })?;
            eprintln!(
                "telepty: {} {info}; recorded to {}",
                command[0],
                options.out.display()
            );
            Ok(if info.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Run { config } => {
            let env = Config::process_env();
            let config = Config::load(config.as_deref(), &env)?;
            config.check_for_bot().map_err(|e| anyhow::anyhow!(e))?;
            let profile = load_profile(&config.profile)?;
            // Before the runtime's threads: it runs for months.
            telepty::alloc::return_large_blocks();
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(telepty::chat::telegram::run(config, profile))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Local {
            config,
            profile,
            size,
            cwd,
            command,
        } => {
            let env = Config::process_env();
            let config = Config::load(config.as_deref(), &env)?;
            let profile = load_profile(profile.as_deref().unwrap_or(&config.profile))?;
            let command = if command.is_empty() {
                config.command.clone()
            } else {
                command
            };
            let cwd = match cwd {
                Some(dir) => dir,
                None => std::env::current_dir().context("cannot read the current directory")?,
            };
            let mut config = config;
            config.pty_size = size.unwrap_or(config.pty_size);
            let runtime = tokio::runtime::Runtime::new()?;
            let ended_well =
                runtime.block_on(telepty::chat::console::run(config, profile, command, cwd))?;
            Ok(if ended_well {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Doctor { config } => {
            let env = Config::process_env();
            let config = Config::load(config.as_deref(), &env)?;
            let profile = load_profile(&config.profile)?;
            let runtime = tokio::runtime::Runtime::new()?;
            let findings = runtime.block_on(telepty::doctor::examine(&config, &profile));
            let mut ok = true;
            for f in &findings {
                if f.ok {
                    println!("ok    {}", f.what);
                } else {
                    ok = false;
                    println!("FIX   {}\n      → {}", f.what, f.fix);
                }
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Cmd::Attach {
            name,
            resize,
            config,
        } => {
            let config = Config::load(config.as_deref(), &Config::process_env())?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(telepty::control::attach::attach(
                &config.state_dir,
                &name,
                resize,
            ))?;
            // The stdin reader may still wait for a key: the process ends here.
            runtime.shutdown_background();
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Ls { config } => {
            let config = Config::load(config.as_deref(), &Config::process_env())?;
            let runtime = tokio::runtime::Runtime::new()?;
            let (answer, _) = runtime.block_on(telepty::control::socket::ask(
                &config.state_dir,
                &telepty::control::socket::Ask::Ls,
            ))?;
            if answer.sessions.is_empty() {
                println!("no sessions (/new NAME in the chat starts one)");
            }
            for s in &answer.sessions {
                let mut state = s.state.clone();
                if s.attached > 0 {
                    state.push_str(&format!(", {} attached", s.attached));
                }
                println!(
                    "{} {:<16} {:<28} {}  (idle {})",
                    if s.active { "▶" } else { " " },
                    s.name,
                    state,
                    s.dir,
                    humantime::format_duration(std::time::Duration::from_secs(s.idle_secs))
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Send { name, text, config } => {
            let config = Config::load(config.as_deref(), &Config::process_env())?;
            let runtime = tokio::runtime::Runtime::new()?;
            let ask = telepty::control::socket::Ask::Send {
                name: name.clone(),
                text: text.join(" "),
            };
            let (answer, _) =
                runtime.block_on(telepty::control::socket::ask(&config.state_dir, &ask))?;
            if !answer.ok {
                anyhow::bail!(
                    "cannot send to {name}: {}",
                    answer.error.unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::StatusLine { keep, then } => {
            Ok(telepty::session::status_line::run(&keep, then.as_deref())?)
        }
        Cmd::Config { config } => {
            let env = Config::process_env();
            let config = Config::load(config.as_deref(), &env)?;
            println!("{}", config.describe());
            if let Err(why) = config.check_for_bot() {
                eprintln!("telepty: not ready to run as a bot: {why}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Replay {
            file,
            profile,
            json,
            screen,
            at,
            frames,
            picture,
        } => {
            let cast = Cast::read_file(&file)?;
            let profile = match profile {
                Some(name) => load_profile(&name)?,
                None => Arc::new(replay::recognise(&cast).unwrap_or_else(Profile::claude)),
            };
            if let Some(out) = picture {
                let screen = replay::replay(&cast, at, |_, _| {});
                let png = telepty::term::picture::render_png(screen.vt());
                std::fs::write(&out, png)
                    .with_context(|| format!("cannot write {}", out.display()))?;
                return Ok(ExitCode::SUCCESS);
            }
            if frames {
                let mut last = String::new();
                replay::replay(&cast, at, |t, screen| {
                    let text = screen.text();
                    if text != last {
                        println!("=== {t:.3}s ===\n{}", text.trim_end());
                        last = text;
                    }
                });
                return Ok(ExitCode::SUCCESS);
            }
            if !screen {
                let ops = replay::replay_chat(&cast, profile, Limits::default());
                if json {
                    let mut out = std::io::stdout().lock();
                    for op in &ops {
                        writeln!(out, "{}", serde_json::to_string(&op.record())?)?;
                    }
                } else {
                    let mut chat = ModelChat::default();
                    for op in &ops {
                        chat.apply(op);
                    }
                    print!("{}", chat.transcript());
                }
                return Ok(ExitCode::SUCCESS);
            }
            let time = at.unwrap_or(cast.duration()).min(cast.duration());
            let screen = replay::replay(&cast, at, |_, _| {});
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&Snapshot::of(&screen, time))?
                );
            } else {
                for line in screen.lines() {
                    println!("{line}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A profile by name, or from a file; checked before anything is replayed with it.
fn load_profile(profile: &str) -> anyhow::Result<Arc<Profile>> {
    if let Some(built_in) = Profile::built_in(profile) {
        return Ok(Arc::new(built_in));
    }
    match profile {
        path if std::path::Path::new(path).is_file() => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
            Ok(Arc::new(Profile::parse(&text, path)?))
        }
        other => anyhow::bail!(
            "unknown profile {other:?}: use claude, codex, plain, or the path of a profile file"
        ),
    }
}
