//! `telepty doctor`: checks what `telepty run` needs, one line each, and says what to fix.

use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::core::profile::{Profile, Program};
use crate::session::registry::Registry;

/// One check: passed, or what to do about it.
pub struct Finding {
    pub ok: bool,
    pub what: String,
    /// What to do (empty when it passed).
    pub fix: String,
}

impl Finding {
    fn ok(what: impl Into<String>) -> Finding {
        Finding {
            ok: true,
            what: what.into(),
            fix: String::new(),
        }
    }

    fn bad(what: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            ok: false,
            what: what.into(),
            fix: fix.into(),
        }
    }
}

/// Every check, in order; the Bot API is asked (`getMe`) when a token is set.
pub async fn examine(config: &Config, profile: &Profile) -> Vec<Finding> {
    let mut out = Vec::new();
    out.push(if config.allowed_users.is_empty() {
        Finding::bad(
            "no allowed users",
            "set allowed_users (or TELEPTY_ALLOWED_USERS=id,id); @userinfobot tells your id",
        )
    } else {
        Finding::ok(format!("allowed users: {:?}", config.allowed_users))
    });
    out.push(match &config.token {
        None => Finding::bad(
            "no bot token",
            "create a bot with @BotFather, put its token in a file and set token_file \
             (or TELEPTY_TOKEN_FILE)",
        ),
        Some(token) => get_me(&config.api_url, token.expose()).await,
    });
    if let Some(file) = &config.token_file {
        out.push(match crate::guard::not_private(file, "token_file") {
            None => Finding::ok(format!("token_file {} is yours alone", file.display())),
            Some(why) => Finding::bad(why, "anyone who reads the token controls the bot"),
        });
    } else if config.token.is_some() {
        out.push(Finding::ok(
            "the token comes from TELEPTY_TOKEN or the config file; a token_file (mode 600) \
             keeps it out of environments and configuration listings",
        ));
    }
    out.push(program(&config.command, &profile.program));
    // The other agents `/new … --agent NAME` can start: optional, so never a failure.
    for name in ["claude", "codex"] {
        let Some(agent) = Profile::built_in(name).filter(|a| a.name != profile.name) else {
            continue;
        };
        let Some(binary) = agent.program.binary.clone() else {
            continue;
        };
        let found = program(std::slice::from_ref(&binary), &agent.program);
        out.push(if found.ok {
            Finding::ok(format!("for /new … --agent {name}: {}", found.what))
        } else {
            Finding::ok(format!(
                "for /new … --agent {name} (optional): {}; {}",
                found.what, found.fix
            ))
        });
    }
    out.push(writable("sessions_root", &config.sessions_root));
    out.push(writable("state_dir", &config.state_dir));
    if let Some(why) = crate::guard::not_private(&config.state_dir, "state_dir") {
        out.push(Finding::bad(why, "telepty run refuses to start on it"));
    }
    out.push(match Registry::load(&config.state_dir) {
        Ok(r) => Finding::ok(format!("registry: {} session(s)", r.sessions.len())),
        Err(e) => Finding::bad("the registry cannot be read", e.to_string()),
    });
    out
}

async fn get_me(api_url: &str, token: &str) -> Finding {
    use teloxide::prelude::Requester;
    let url = match format!("{api_url}/").parse::<url::Url>() {
        Ok(u) => u,
        Err(e) => return Finding::bad(format!("api_url {api_url:?}: {e}"), "fix api_url"),
    };
    let bot = teloxide::Bot::new(token).set_api_url(url);
    match tokio::time::timeout(Duration::from_secs(15), bot.get_me()).await {
        Ok(Ok(me)) => Finding::ok(format!(
            "the token works: the bot is @{}",
            me.user.username.clone().unwrap_or_default()
        )),
        Ok(Err(teloxide::RequestError::Api(e))) => Finding::bad(
            format!("Telegram refused the token: {e}"),
            "check the token @BotFather gave you (/token there shows it again)",
        ),
        Ok(Err(e)) => Finding::bad(
            format!("cannot reach the Bot API at {api_url}: {e}"),
            "check the network (and api_url)",
        ),
        Err(_) => Finding::bad(
            format!("no answer from the Bot API at {api_url} within 15 s"),
            "check the network (and api_url)",
        ),
    }
}

/// The program is on PATH, and its version (for the profile's program: against the one
/// the profile was tested with).
fn program(command: &[String], program: &Program) -> Finding {
    let Some(name) = command.first() else {
        return Finding::bad("no command", "set command (or TELEPTY_COMMAND)");
    };
    let Some(path) = crate::term::pty::locate(name) else {
        return Finding::bad(
            format!("{name} is not on PATH"),
            match program.missing_hint(name) {
                Some(hint) => format!("{hint} or set command to its path"),
                None => format!("install {name} or set command to its path"),
            },
        );
    };
    let ours = program.binary.as_deref().is_some_and(|b| name.ends_with(b));
    let Some(tested) = program.tested_version.as_deref().filter(|_| ours) else {
        return Finding::ok(format!("{name}: {}", path.display()));
    };
    let title = &program.title;
    let version = std::process::Command::new(&path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        // The first word that starts with a digit: `2.1.332 (Claude Code)`, `codex-cli 0.171.0`.
        .and_then(|v| {
            v.split_whitespace()
                .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
                .map(str::to_string)
        });
    match version {
        Some(v) if v == tested => Finding::ok(format!("{title} {v} (the tested version)")),
        Some(v) => Finding::ok(format!(
            "{title} {v} at {} (tested with {tested}; a different UI may need a profile \
             update: see docs/chat.md)",
            path.display()
        )),
        None => Finding::bad(
            format!("{} --version gave no version", path.display()),
            format!("check that {title} runs on this machine"),
        ),
    }
}

/// The directory exists or can be made, and a file can be written in it.
fn writable(key: &str, dir: &Path) -> Finding {
    let probe = dir.join(".telepty-doctor");
    let result = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b"ok"))
        .and_then(|()| std::fs::remove_file(&probe));
    match result {
        Ok(()) => Finding::ok(format!("{key} {} is writable", dir.display())),
        Err(e) => Finding::bad(
            format!("{key} {} is not writable: {e}", dir.display()),
            format!("create it, or set {key} to a directory you own"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_and_an_unwritable_directory_say_what_to_fix() {
        let claude = Profile::claude().program;
        let f = program(&["telepty-no-such-program".into()], &claude);
        assert!(!f.ok && f.fix.contains("install"), "{}", f.what);
        let f = program(&["/nowhere/telepty-test/claude".into()], &claude);
        assert!(
            f.fix.contains("npm install -g @anthropic-ai/claude-code"),
            "{}",
            f.fix
        );
        let f = program(&["sh".into()], &claude);
        assert!(f.ok, "{}", f.what);
        let f = writable("state_dir", Path::new("/proc/telepty"));
        assert!(!f.ok && f.fix.contains("state_dir"), "{}", f.what);
        let dir = tempfile::tempdir().unwrap();
        assert!(writable("sessions_root", &dir.path().join("new")).ok);
    }

    #[test]
    fn the_claude_profile_was_tested_with_the_pinned_claude_code() {
        let pinned = include_str!("../fixtures/claude-code/VERSION").trim();
        let program = Profile::claude().program;
        assert_eq!(program.tested_version.as_deref(), Some(pinned));
        assert_eq!(program.binary.as_deref(), Some("claude"));
    }
}
