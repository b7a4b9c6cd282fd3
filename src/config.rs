//! Configuration: a TOML file, then a `TELEPTY_*` environment variable for every key.
//!
//! The keys and their variable names are a contract: operators script them and the
//! project is tested from outside through them. A wrong key or value is an error that
//! names the key and where it came from (the file and line, or the variable). The bot
//! token is a [`Secret`]: never printed, never logged, never given to a child (the PTY
//! scrubs every `TELEPTY_*` and `TELEGRAM_*` variable).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::screen::Size;

/// Telegram's Bot API.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// A value that must not be shown: its `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that needs it (the Bot API client).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The configuration as used.
#[derive(Clone, Debug)]
pub struct Config {
    pub token: Option<Secret>,
    /// Telegram user ids that may use the bot.
    pub allowed_users: Vec<i64>,
    pub api_url: String,
    /// Where `/new NAME` makes `NAME/`.
    pub sessions_root: PathBuf,
    /// The session registry and other state.
    pub state_dir: PathBuf,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// `claude`, `plain`, or a profile file.
    pub profile: String,
    pub pty_size: Size,
    /// Sessions idle this long are suspended.
    pub idle_timeout: Duration,
    /// Whether group chats may use the bot (their members must still be allowed users).
    pub allow_groups: bool,
    /// Where each value came from, by key (for `telepty config`).
    pub sources: BTreeMap<&'static str, String>,
}

/// The file form: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    token: Option<String>,
    token_file: Option<PathBuf>,
    allowed_users: Option<Vec<i64>>,
    api_url: Option<String>,
    sessions_root: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    command: Option<Vec<String>>,
    profile: Option<String>,
    pty_size: Option<String>,
    idle_timeout: Option<String>,
    allow_groups: Option<bool>,
}

/// Every key with its environment variable.
pub const KEYS: &[(&str, &str)] = &[
    ("token", "TELEPTY_TOKEN"),
    ("token_file", "TELEPTY_TOKEN_FILE"),
    ("allowed_users", "TELEPTY_ALLOWED_USERS"),
    ("api_url", "TELEPTY_API_URL"),
    ("sessions_root", "TELEPTY_SESSIONS_ROOT"),
    ("state_dir", "TELEPTY_STATE_DIR"),
    ("command", "TELEPTY_COMMAND"),
    ("profile", "TELEPTY_PROFILE"),
    ("pty_size", "TELEPTY_PTY_SIZE"),
    ("idle_timeout", "TELEPTY_IDLE_TIMEOUT"),
    ("allow_groups", "TELEPTY_ALLOW_GROUPS"),
];

/// A configuration error, naming the key and where its value came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{key} ({origin}): {message}")]
    Value {
        key: &'static str,
        origin: String,
        message: String,
    },
    #[error("unknown environment variable {0}: the TELEPTY_* variables are {1}")]
    UnknownVariable(String, String),
}

/// Where the configuration file is looked for when `--config` is not given.
pub fn default_path(env: &BTreeMap<String, String>) -> Option<PathBuf> {
    config_home(env).map(|d| d.join("telepty").join("config.toml"))
}

fn config_home(env: &BTreeMap<String, String>) -> Option<PathBuf> {
    env.get("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|h| Path::new(h).join(".config")))
}

fn state_home(env: &BTreeMap<String, String>) -> PathBuf {
    env.get("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|h| Path::new(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from(".telepty-state"))
        .join("telepty")
}

impl Config {
    /// Reads the configuration: the file (`path`, or the default path when it exists),
    /// then the environment `env` over it.
    pub fn load(
        path: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        // A misspelt variable would silently do nothing: refuse it.
        for name in env.keys().filter(|k| k.starts_with("TELEPTY_")) {
            if !KEYS.iter().any(|(_, v)| v == name) && !IGNORED_VARIABLES.contains(&name.as_str()) {
                let known: Vec<&str> = KEYS.iter().map(|(_, v)| *v).collect();
                return Err(ConfigError::UnknownVariable(name.clone(), known.join(", ")));
            }
        }
        let (file, file_path) = match path {
            Some(p) => (read_file(p)?, Some(p.to_path_buf())),
            None => match default_path(env).filter(|p| p.exists()) {
                Some(p) => (read_file(&p)?, Some(p)),
                None => (FileConfig::default(), None),
            },
        };
        let origin_file = |key: &str| match &file_path {
            Some(p) => format!("{}, key {key}", p.display()),
            None => "default".into(),
        };
        let mut sources = BTreeMap::new();
        // Each key: the variable if set, else the file, else the default.
        let mut pick = |key: &'static str, from_file: bool| -> Option<(String, String)> {
            let var = KEYS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)?;
            if let Some(v) = env.get(var) {
                sources.insert(key, format!("environment variable {var}"));
                return Some((v.clone(), format!("environment variable {var}")));
            }
            if from_file {
                sources.insert(key, origin_file(key));
            }
            None
        };

        let home = env
            .get("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));

        // token / token_file
        let token = match pick("token", file.token.is_some()) {
            Some((v, _)) => Some(Secret::new(v.trim())),
            None => match pick("token_file", file.token_file.is_some()) {
                Some((v, origin)) => Some(read_token(Path::new(&v), "token_file", origin)?),
                None => match (&file.token, &file.token_file) {
                    (Some(t), _) => Some(Secret::new(t.trim())),
                    (None, Some(p)) => {
                        Some(read_token(p, "token_file", origin_file("token_file"))?)
                    }
                    (None, None) => None,
                },
            },
        };

        let allowed_users = match pick("allowed_users", file.allowed_users.is_some()) {
            Some((v, origin)) => parse_users(&v).map_err(|message| ConfigError::Value {
                key: "allowed_users",
                origin,
                message,
            })?,
            None => file.allowed_users.clone().unwrap_or_default(),
        };

        let api_url = match pick("api_url", file.api_url.is_some()) {
            Some((v, origin)) => check_url(&v, "api_url", origin)?,
            None => match &file.api_url {
                Some(v) => check_url(v, "api_url", origin_file("api_url"))?,
                None => DEFAULT_API_URL.to_string(),
            },
        };

        let sessions_root = match pick("sessions_root", file.sessions_root.is_some()) {
            Some((v, _)) => PathBuf::from(v),
            None => file
                .sessions_root
                .clone()
                .unwrap_or_else(|| home.join("telepty-sessions")),
        };
        let state_dir = match pick("state_dir", file.state_dir.is_some()) {
            Some((v, _)) => PathBuf::from(v),
            None => file.state_dir.clone().unwrap_or_else(|| state_home(env)),
        };

        let command = match pick("command", file.command.is_some()) {
            Some((v, origin)) => shell_words::split(&v).map_err(|e| ConfigError::Value {
                key: "command",
                origin: origin.clone(),
                message: format!("cannot split {v:?} like a shell would: {e}"),
            })?,
            None => file
                .command
                .clone()
                .unwrap_or_else(|| vec!["claude".into()]),
        };
        if command.is_empty() {
            return Err(ConfigError::Value {
                key: "command",
                origin: sources
                    .get("command")
                    .cloned()
                    .unwrap_or_else(|| origin_file("command")),
                message: "no program given".into(),
            });
        }

        let profile = match pick("profile", file.profile.is_some()) {
            Some((v, origin)) => check_profile(&v, origin)?,
            None => match &file.profile {
                Some(v) => check_profile(v, origin_file("profile"))?,
                None => "claude".into(),
            },
        };

        let pty_size = match pick("pty_size", file.pty_size.is_some()) {
            Some((v, origin)) => parse_size(&v, origin)?,
            None => match &file.pty_size {
                Some(v) => parse_size(v, origin_file("pty_size"))?,
                None => Size::new(100, 30),
            },
        };

        let idle_timeout = match pick("idle_timeout", file.idle_timeout.is_some()) {
            Some((v, origin)) => parse_duration(&v, "idle_timeout", origin)?,
            None => match &file.idle_timeout {
                Some(v) => parse_duration(v, "idle_timeout", origin_file("idle_timeout"))?,
                None => Duration::from_secs(30 * 60),
            },
        };

        let allow_groups = match pick("allow_groups", file.allow_groups.is_some()) {
            Some((v, origin)) => parse_bool(&v).ok_or_else(|| ConfigError::Value {
                key: "allow_groups",
                origin,
                message: format!("{v:?} is not true or false"),
            })?,
            None => file.allow_groups.unwrap_or(false),
        };

        Ok(Config {
            token,
            allowed_users,
            api_url,
            sessions_root,
            state_dir,
            command,
            profile,
            pty_size,
            idle_timeout,
            allow_groups,
            sources,
        })
    }

    /// The environment of this process, for [`Config::load`].
    pub fn process_env() -> BTreeMap<String, String> {
        std::env::vars().collect()
    }

    /// What `telepty run` needs on top of a readable configuration.
    pub fn check_for_bot(&self) -> Result<(), String> {
        if self.allowed_users.is_empty() {
            return Err(
                "no allowed users: telepty answers only the Telegram user ids listed in \
                 allowed_users (or TELEPTY_ALLOWED_USERS=id,id). To find your id, message \
                 @userinfobot on Telegram, or start telepty with any id and send the bot a \
                 message: the log names the id of every user it refuses."
                    .into(),
            );
        }
        if self.token.is_none() {
            return Err(
                "no bot token: set token_file (or TELEPTY_TOKEN_FILE) to a file that \
                 holds the token @BotFather gave you, or TELEPTY_TOKEN"
                    .into(),
            );
        }
        Ok(())
    }

    /// The configuration as text, the token hidden, each value with its source.
    pub fn describe(&self) -> String {
        let src = |k: &str| {
            self.sources
                .get(k)
                .cloned()
                .unwrap_or_else(|| "default".into())
        };
        let users: Vec<String> = self.allowed_users.iter().map(i64::to_string).collect();
        let lines = [
            (
                "token",
                if self.token.is_some() {
                    "*** (set)".to_string()
                } else {
                    "(not set)".into()
                },
                if self.sources.contains_key("token") {
                    src("token")
                } else {
                    src("token_file")
                },
            ),
            ("allowed_users", users.join(","), src("allowed_users")),
            ("api_url", self.api_url.clone(), src("api_url")),
            (
                "sessions_root",
                self.sessions_root.display().to_string(),
                src("sessions_root"),
            ),
            (
                "state_dir",
                self.state_dir.display().to_string(),
                src("state_dir"),
            ),
            ("command", shell_words::join(&self.command), src("command")),
            ("profile", self.profile.clone(), src("profile")),
            ("pty_size", self.pty_size.to_string(), src("pty_size")),
            (
                "idle_timeout",
                humantime::format_duration(self.idle_timeout).to_string(),
                src("idle_timeout"),
            ),
            (
                "allow_groups",
                self.allow_groups.to_string(),
                src("allow_groups"),
            ),
        ];
        lines
            .iter()
            .map(|(k, v, s)| format!("{k:14} = {v:30} # {s}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `TELEPTY_*` variables that are not configuration keys (logging, tests).
const IGNORED_VARIABLES: &[&str] = &["TELEPTY_LOG"];

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::File {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })
}

fn read_token(path: &Path, key: &'static str, origin: String) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Value {
        key,
        origin: origin.clone(),
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(ConfigError::Value {
            key,
            origin,
            message: format!("{} is empty", path.display()),
        });
    }
    Ok(Secret::new(token))
}

fn parse_users(text: &str) -> Result<Vec<i64>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>().map_err(|_| {
                format!("{s:?} is not a Telegram user id (a number such as 123456789)")
            })
        })
        .collect()
}

fn check_url(url: &str, key: &'static str, origin: String) -> Result<String, ConfigError> {
    let url = url.trim().trim_end_matches('/');
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url.to_string())
    } else {
        Err(ConfigError::Value {
            key,
            origin,
            message: format!("{url:?} is not an http:// or https:// URL"),
        })
    }
}

fn check_profile(profile: &str, origin: String) -> Result<String, ConfigError> {
    match profile {
        "claude" | "plain" => Ok(profile.to_string()),
        path if Path::new(path).is_file() => Ok(path.to_string()),
        other => Err(ConfigError::Value {
            key: "profile",
            origin,
            message: format!("{other:?} is not claude, plain, or a profile file"),
        }),
    }
}

fn parse_size(text: &str, origin: String) -> Result<Size, ConfigError> {
    text.parse::<Size>().map_err(|e| ConfigError::Value {
        key: "pty_size",
        origin,
        message: e.to_string(),
    })
}

fn parse_duration(text: &str, key: &'static str, origin: String) -> Result<Duration, ConfigError> {
    humantime::parse_duration(text.trim()).map_err(|e| ConfigError::Value {
        key,
        origin,
        message: format!("{text:?} is not a duration such as 30m, 1h or 90s: {e}"),
    })
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_environment_alone_configures_everything() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "123:abc\n").unwrap();
        let e = env(&[
            ("HOME", dir.path().to_str().unwrap()),
            ("TELEPTY_TOKEN_FILE", token.to_str().unwrap()),
            ("TELEPTY_ALLOWED_USERS", "42, 7"),
            ("TELEPTY_API_URL", "http://127.0.0.1:9999/"),
            ("TELEPTY_COMMAND", "bash -c 'echo hi there'"),
            ("TELEPTY_PTY_SIZE", "80x24"),
            ("TELEPTY_IDLE_TIMEOUT", "45m"),
            ("TELEPTY_PROFILE", "plain"),
        ]);
        let c = Config::load(None, &e).unwrap();
        assert_eq!(c.token.as_ref().unwrap().expose(), "123:abc");
        assert_eq!(c.allowed_users, [42, 7]);
        assert_eq!(c.api_url, "http://127.0.0.1:9999");
        assert_eq!(c.command, ["bash", "-c", "echo hi there"]);
        assert_eq!(c.pty_size, Size::new(80, 24));
        assert_eq!(c.idle_timeout, Duration::from_secs(45 * 60));
        assert_eq!(c.profile, "plain");
        assert!(c.check_for_bot().is_ok());
        let shown = format!("{c:?}\n{}", c.describe());
        assert!(!shown.contains("123:abc"), "the token never shows: {shown}");
    }

    #[test]
    fn the_environment_wins_over_the_file_and_errors_name_their_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "allowed_users = [1]\npty_size = \"90x20\"\n").unwrap();
        let c = Config::load(Some(&file), &env(&[("TELEPTY_PTY_SIZE", "60x24")])).unwrap();
        assert_eq!((c.allowed_users[0], c.pty_size), (1, Size::new(60, 24)));
        assert!(c
            .describe()
            .contains("environment variable TELEPTY_PTY_SIZE"));

        std::fs::write(&file, "allowed_users = [1]\npty_sise = \"90x20\"\n").unwrap();
        let err = Config::load(Some(&file), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.toml") && err.contains("line 2") && err.contains("pty_sise"),
            "{err}"
        );

        std::fs::write(&file, "pty_size = \"huge\"\n").unwrap();
        let err = Config::load(Some(&file), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pty_size") && err.contains("config.toml"),
            "{err}"
        );

        let err = Config::load(None, &env(&[("TELEPTY_ALLOWED_USERS", "42,me")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("allowed_users")
                && err.contains("TELEPTY_ALLOWED_USERS")
                && err.contains("\"me\""),
            "{err}"
        );

        let err = Config::load(None, &env(&[("TELEPTY_IDLE_TIMEOUT", "soon")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("TELEPTY_IDLE_TIMEOUT"), "{err}");

        let err = Config::load(None, &env(&[("TELEPTY_ALOWED_USERS", "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("TELEPTY_ALOWED_USERS"), "{err}");

        let err = Config::load(Some(&dir.path().join("missing.toml")), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.toml"), "{err}");
    }

    #[test]
    fn a_missing_default_file_is_fine_and_nobody_is_allowed_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(None, &env(&[("HOME", dir.path().to_str().unwrap())])).unwrap();
        assert!(c.allowed_users.is_empty());
        assert_eq!(c.command, ["claude"]);
        let why = c.check_for_bot().unwrap_err();
        assert!(
            why.contains("allowed_users") && why.contains("@userinfobot"),
            "{why}"
        );
    }
}
