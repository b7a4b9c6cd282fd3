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

use crate::core::pacer::Limits;
use crate::term::screen::Size;

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
    /// The file the token was read from, if it came from one.
    pub token_file: Option<PathBuf>,
    /// Telegram user ids that may use the bot.
    pub allowed_users: Vec<i64>,
    pub api_url: String,
    /// Where `/new NAME` makes `NAME/`.
    pub sessions_root: PathBuf,
    /// The session registry and other state.
    pub state_dir: PathBuf,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// `claude`, `codex`, `plain`, or a profile file.
    pub profile: String,
    pub pty_size: Size,
    /// Sessions idle this long are suspended (zero: never).
    pub idle_timeout: Duration,
    /// How many programs may run at once; one more suspends the least recently used.
    pub max_sessions: usize,
    /// Sessions unused this long are suspended and listed as stale (None: never).
    pub stale_after: Option<Duration>,
    /// Whether group chats may use the bot (their members must still be allowed users).
    pub allow_groups: bool,
    /// The group chats served (with `allow_groups`): every member of a group sees its
    /// sessions' screens, answers and files, so each group is listed by its id.
    pub allowed_chats: Vec<i64>,
    /// Chat operations per chat and minute (Telegram allows about 20 in groups).
    pub messages_per_minute: usize,
    /// Smallest gap between two edits of a streaming message.
    pub edit_interval: Duration,
    /// Bot API calls per second across all chats (Telegram allows about 30).
    pub sends_per_second: usize,
    /// Smallest gap between two drafts of a turn in a private chat (`None`: no drafts,
    /// an edited live message as in groups).
    pub draft_interval: Option<Duration>,
    /// Whether a session's messages still notify while a terminal is attached to it.
    pub notify_when_attached: bool,
    /// The largest file a user may upload, in bytes (Telegram lets bots download 20 MB).
    pub upload_max: u64,
    /// Where each value came from, by key (for `telepty config`).
    pub sources: BTreeMap<&'static str, String>,
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
    ("max_sessions", "TELEPTY_MAX_SESSIONS"),
    ("stale_after", "TELEPTY_STALE_AFTER"),
    ("allow_groups", "TELEPTY_ALLOW_GROUPS"),
    ("allowed_chats", "TELEPTY_ALLOWED_CHATS"),
    ("messages_per_minute", "TELEPTY_MESSAGES_PER_MINUTE"),
    ("edit_interval", "TELEPTY_EDIT_INTERVAL"),
    ("sends_per_second", "TELEPTY_SENDS_PER_SECOND"),
    ("draft_interval", "TELEPTY_DRAFT_INTERVAL"),
    ("notify_when_attached", "TELEPTY_NOTIFY_WHEN_ATTACHED"),
    ("upload_max", "TELEPTY_UPLOAD_MAX"),
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
        let file = match path {
            Some(p) => Some(ConfigFile::read(p)?),
            None => match default_path(env).filter(|p| p.exists()) {
                Some(p) => Some(ConfigFile::read(&p)?),
                None => None,
            },
        };
        let mut input = Inputs {
            env,
            file,
            sources: BTreeMap::new(),
        };
        let home = env
            .get("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));

        // The token from the variable named last by the operator wins: TELEPTY_TOKEN,
        // then TELEPTY_TOKEN_FILE, then the file's `token`, then its `token_file`.
        let file_first =
            env.contains_key("TELEPTY_TOKEN_FILE") && !env.contains_key("TELEPTY_TOKEN");
        let from_file = |(secret, path): (Secret, PathBuf)| (secret, Some(path));
        let (token, token_file) = if file_first {
            match input.get("token_file", read_token)?.map(from_file) {
                Some(t) => Some(t),
                None => input.get("token", token_text)?.map(|t| (t, None)),
            }
        } else {
            match input.get("token", token_text)?.map(|t| (t, None)) {
                Some(t) => Some(t),
                None => input.get("token_file", read_token)?.map(from_file),
            }
        }
        .map_or((None, None), |(t, f)| (Some(t), f));

        Ok(Config {
            token,
            token_file,
            allowed_users: input.get("allowed_users", users)?.unwrap_or_default(),
            api_url: input
                .get("api_url", url)?
                .unwrap_or_else(|| DEFAULT_API_URL.into()),
            sessions_root: input
                .get("sessions_root", path_value)?
                .unwrap_or_else(|| home.join("telepty-sessions")),
            state_dir: input
                .get("state_dir", path_value)?
                .unwrap_or_else(|| state_home(env)),
            command: input
                .get("command", command)?
                .unwrap_or_else(|| vec!["claude".into()]),
            profile: input
                .get("profile", profile)?
                .unwrap_or_else(|| "claude".into()),
            pty_size: input.get("pty_size", size)?.unwrap_or(Size::new(100, 30)),
            idle_timeout: input
                .get("idle_timeout", duration_or_off)?
                .unwrap_or(Some(Duration::from_secs(30 * 60)))
                .unwrap_or(Duration::ZERO),
            max_sessions: input.get("max_sessions", count)?.unwrap_or(4),
            stale_after: input.get("stale_after", duration_or_off)?.flatten(),
            allow_groups: input.get("allow_groups", boolean)?.unwrap_or(false),
            allowed_chats: input.get("allowed_chats", chats)?.unwrap_or_default(),
            messages_per_minute: input.get("messages_per_minute", count)?.unwrap_or(20),
            edit_interval: input
                .get("edit_interval", duration)?
                .unwrap_or(Duration::from_secs(4)),
            sends_per_second: input.get("sends_per_second", count)?.unwrap_or(30),
            draft_interval: input
                .get("draft_interval", duration_or_off)?
                .unwrap_or(Some(Duration::from_secs(1))),
            notify_when_attached: input.get("notify_when_attached", boolean)?.unwrap_or(false),
            upload_max: input
                .get("upload_max", bytes)?
                .unwrap_or(TELEGRAM_DOWNLOAD_LIMIT),
            sources: input.sources,
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

    /// The pacing of one chat's operations.
    pub fn chat_limits(&self) -> Limits {
        let per_window = self.messages_per_minute;
        Limits {
            per_window,
            window: Duration::from_secs(60),
            urgent_reserve: (per_window * 3 / 10).min(6),
            edit_interval: self.edit_interval,
        }
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
        let duration = |d: Duration| humantime::format_duration(d).to_string();
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
                if self.idle_timeout.is_zero() {
                    "off".into()
                } else {
                    duration(self.idle_timeout)
                },
                src("idle_timeout"),
            ),
            (
                "max_sessions",
                self.max_sessions.to_string(),
                src("max_sessions"),
            ),
            (
                "stale_after",
                self.stale_after.map_or_else(|| "off".into(), duration),
                src("stale_after"),
            ),
            (
                "allow_groups",
                self.allow_groups.to_string(),
                src("allow_groups"),
            ),
            (
                "allowed_chats",
                self.allowed_chats
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                src("allowed_chats"),
            ),
            (
                "messages_per_minute",
                self.messages_per_minute.to_string(),
                src("messages_per_minute"),
            ),
            (
                "edit_interval",
                duration(self.edit_interval),
                src("edit_interval"),
            ),
            (
                "sends_per_second",
                self.sends_per_second.to_string(),
                src("sends_per_second"),
            ),
            (
                "draft_interval",
                self.draft_interval.map_or_else(|| "off".into(), duration),
                src("draft_interval"),
            ),
            (
                "notify_when_attached",
                self.notify_when_attached.to_string(),
                src("notify_when_attached"),
            ),
            (
                "upload_max",
                format!("{} bytes", self.upload_max),
                src("upload_max"),
            ),
        ];
        lines
            .iter()
            .map(|(k, v, s)| format!("{k:19} = {v:30} # {s}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `TELEPTY_*` variables that are not configuration keys (logging, tests).
const IGNORED_VARIABLES: &[&str] = &["TELEPTY_LOG"];

/// The configuration file: each key's value and where it stands.
struct ConfigFile {
    path: PathBuf,
    text: String,
    values: BTreeMap<String, toml::Spanned<toml::Value>>,
}

impl ConfigFile {
    fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let values: BTreeMap<String, toml::Spanned<toml::Value>> =
            toml::from_str(&text).map_err(|e| ConfigError::File {
                path: path.to_path_buf(),
                message: e.to_string().trim_end().to_string(),
            })?;
        let file = ConfigFile {
            path: path.to_path_buf(),
            text,
            values,
        };
        // A misspelt key would silently do nothing: refuse it.
        if let Some((key, value)) = file
            .values
            .iter()
            .find(|(k, _)| !KEYS.iter().any(|(known, _)| known == k))
        {
            let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
            return Err(ConfigError::File {
                path: file.path.clone(),
                message: format!(
                    "line {}: unknown key `{key}`; the keys are {}",
                    file.line(value.span().start),
                    known.join(", ")
                ),
            });
        }
        Ok(file)
    }

    /// The 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        1 + self.text.as_bytes()[..offset.min(self.text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }
}

/// One key's value as given: the variable's text, or the file's TOML value.
#[derive(Clone, Copy)]
enum Raw<'a> {
    Env(&'a str),
    File(&'a toml::Value),
}

/// The two sources of values, and what was taken from where.
struct Inputs<'a> {
    env: &'a BTreeMap<String, String>,
    file: Option<ConfigFile>,
    sources: BTreeMap<&'static str, String>,
}

impl Inputs<'_> {
    /// The value of `key`: its variable if set, else the file's, parsed by `parse`; an
    /// error names the key and the variable or the file and line.
    fn get<T>(
        &mut self,
        key: &'static str,
        parse: impl Fn(Raw) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let var = KEYS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .expect("every key has a variable");
        let (raw, origin) = if let Some(text) = self.env.get(var) {
            (Raw::Env(text), format!("environment variable {var}"))
        } else if let Some((file, value)) = self
            .file
            .as_ref()
            .and_then(|f| f.values.get(key).map(|v| (f, v)))
        {
            let origin = format!(
                "{}, line {}",
                file.path.display(),
                file.line(value.span().start)
            );
            (Raw::File(value.get_ref()), origin)
        } else {
            return Ok(None);
        };
        self.sources.insert(key, origin.clone());
        parse(raw).map(Some).map_err(|message| ConfigError::Value {
            key,
            origin,
            message,
        })
    }
}

/// The value as text: a variable, or a TOML string, number or boolean.
fn text(raw: Raw) -> Result<String, String> {
    match raw {
        Raw::Env(s) => Ok(s.to_string()),
        Raw::File(toml::Value::String(s)) => Ok(s.clone()),
        Raw::File(
            v @ (toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_)),
        ) => Ok(v.to_string()),
        Raw::File(v) => Err(format!("expected a single value, found {}", v.type_str())),
    }
}

fn token_text(raw: Raw) -> Result<Secret, String> {
    let token = text(raw)?;
    match token.trim() {
        "" => Err("the token is empty".into()),
        t => Ok(Secret::new(t)),
    }
}

fn read_token(raw: Raw) -> Result<(Secret, PathBuf), String> {
    let path = PathBuf::from(text(raw)?);
    let token = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match token.trim() {
        "" => Err(format!("{} is empty", path.display())),
        t => Ok((Secret::new(t), path)),
    }
}

fn users(raw: Raw) -> Result<Vec<i64>, String> {
    ids(raw, "a Telegram user id (a number such as 123456789)")
}

fn chats(raw: Raw) -> Result<Vec<i64>, String> {
    ids(
        raw,
        "a Telegram chat id (a group's is negative, such as -1001234567890)",
    )
}

fn ids(raw: Raw, what: &str) -> Result<Vec<i64>, String> {
    let one = |s: &str| {
        s.trim()
            .parse::<i64>()
            .map_err(|_| format!("{s:?} is not {what}"))
    };
    match raw {
        Raw::File(toml::Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                toml::Value::Integer(id) => Ok(*id),
                toml::Value::String(s) => one(s),
                other => Err(format!("{other} is not {what}")),
            })
            .collect(),
        raw => text(raw)?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(one)
            .collect(),
    }
}

fn url(raw: Raw) -> Result<String, String> {
    let text = text(raw)?;
    let url = text.trim().trim_end_matches('/');
    let parsed =
        url::Url::parse(url).map_err(|e| format!("{url:?} is not an http(s) URL ({e})"))?;
    match parsed.scheme() {
        "https" => Ok(url.to_string()),
        // The token travels in the URL's path: in the clear only to this machine.
        "http" if is_loopback(&parsed) => Ok(url.to_string()),
        "http" => Err(format!(
            "{url:?}: plain http:// only to this machine (127.0.0.1, ::1, localhost), \
             because the bot token travels in the URL; use https://"
        )),
        _ => Err(format!("{url:?} is not an http:// or https:// URL")),
    }
}

/// Whether a URL's host is this machine.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn path_value(raw: Raw) -> Result<PathBuf, String> {
    match text(raw)? {
        t if t.trim().is_empty() => Err("the path is empty".into()),
        t => Ok(PathBuf::from(t)),
    }
}

fn command(raw: Raw) -> Result<Vec<String>, String> {
    let words = match raw {
        Raw::File(toml::Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                toml::Value::String(s) => Ok(s.clone()),
                other => Err(format!("{other} is not a string")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        raw => {
            let line = text(raw)?;
            shell_words::split(&line)
                .map_err(|e| format!("cannot split {line:?} like a shell would: {e}"))?
        }
    };
    if words.is_empty() {
        return Err("no program given".into());
    }
    Ok(words)
}

fn profile(raw: Raw) -> Result<String, String> {
    match text(raw)?.as_str() {
        p @ ("claude" | "codex" | "plain") => Ok(p.to_string()),
        path if Path::new(path).is_file() => Ok(path.to_string()),
        other => Err(format!(
            "{other:?} is not claude, codex, plain, or a profile file"
        )),
    }
}

fn size(raw: Raw) -> Result<Size, String> {
    text(raw)?.parse::<Size>().map_err(|e| e.to_string())
}

fn duration(raw: Raw) -> Result<Duration, String> {
    let text = text(raw)?;
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration such as 30m, 1h or 90s: {e}"))
}

/// A duration, or `off` (also `never`, `0`) for none.
fn duration_or_off(raw: Raw) -> Result<Option<Duration>, String> {
    let text = text(raw)?;
    match text.trim() {
        "off" | "never" | "0" => Ok(None),
        t => humantime::parse_duration(t).map(Some).map_err(|e| {
            format!("{text:?} is not a duration such as 30m, 1h or 14days, nor off: {e}")
        }),
    }
}

fn boolean(raw: Raw) -> Result<bool, String> {
    let text = text(raw)?;
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("{text:?} is not true or false")),
    }
}

/// Telegram lets bots download files of up to 20 MB.
pub const TELEGRAM_DOWNLOAD_LIMIT: u64 = 20 * 1024 * 1024;

/// A size: bytes, or with a unit (`500KB`, `5MB`, `5 MiB`; KB and MB are 1024-based, as
/// Telegram counts them); at most Telegram's 20 MB.
fn bytes(raw: Raw) -> Result<u64, String> {
    let text = text(raw)?;
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return Err(format!("{text:?} is not a size such as 5MB or 500KB")),
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 && n.saturating_mul(factor) <= TELEGRAM_DOWNLOAD_LIMIT => Ok(n * factor),
        Ok(n) if n > 0 => Err(format!(
            "{text:?} is more than Telegram lets a bot download (20MB)"
        )),
        _ => Err(format!("{text:?} is not a size such as 5MB or 500KB")),
    }
}

/// A positive whole number.
fn count(raw: Raw) -> Result<usize, String> {
    let text = text(raw)?;
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{text:?} is not a positive whole number")),
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

        std::fs::write(&file, "# telepty\n\npty_size = \"huge\"\n").unwrap();
        let err = Config::load(Some(&file), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pty_size") && err.contains("config.toml, line 3"),
            "{err}"
        );

        std::fs::write(&file, "messages_per_minute = 0\n").unwrap();
        let err = Config::load(Some(&file), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("messages_per_minute") && err.contains("line 1"),
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

    #[test]
    fn file_values_take_their_natural_toml_types() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            "allowed_users = [1, \"2\"]\ncommand = [\"bash\", \"-c\", \"echo a b\"]\n\
             allow_groups = true\nmessages_per_minute = 10\nedit_interval = \"2s\"\n\
             sends_per_second = 5\ntoken = \"1:x\"\nupload_max = \"5MB\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), &env(&[])).unwrap();
        assert_eq!(c.allowed_users, [1, 2]);
        assert_eq!(c.command, ["bash", "-c", "echo a b"]);
        assert!(c.allow_groups);
        assert_eq!(c.sends_per_second, 5);
        assert_eq!(c.upload_max, 5 * 1024 * 1024);
        let err = Config::load(None, &env(&[("TELEPTY_UPLOAD_MAX", "1GB")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("TELEPTY_UPLOAD_MAX"), "{err}");
        let limits = c.chat_limits();
        assert_eq!(limits.per_window, 10);
        assert_eq!(limits.edit_interval, Duration::from_secs(2));
        assert!(limits.urgent_reserve < limits.per_window);
        assert!(
            c.describe().contains("config.toml, line 4"),
            "{}",
            c.describe()
        );

        // TELEPTY_TOKEN_FILE given alone beats the file's token.
        let token = dir.path().join("token");
        std::fs::write(&token, "2:y\n").unwrap();
        let c = Config::load(
            Some(&file),
            &env(&[("TELEPTY_TOKEN_FILE", token.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(c.token.unwrap().expose(), "2:y");
        assert_eq!(c.token_file.as_deref(), Some(token.as_path()));
    }

    #[test]
    fn plain_http_only_to_this_machine_and_groups_by_id() {
        for ok in [
            "http://127.0.0.1:8081",
            "http://localhost:1",
            "http://[::1]:2",
            "https://x.org",
        ] {
            let c = Config::load(None, &env(&[("TELEPTY_API_URL", ok)])).unwrap();
            assert_eq!(c.api_url, ok);
        }
        for bad in [
            "http://10.0.0.5:8081",
            "http://api.telegram.org",
            "ftp://x",
            "nonsense",
        ] {
            let err = Config::load(None, &env(&[("TELEPTY_API_URL", bad)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("TELEPTY_API_URL"), "{bad}: {err}");
        }
        let c = Config::load(None, &env(&[("TELEPTY_ALLOWED_CHATS", "-1001, -42")])).unwrap();
        assert_eq!(c.allowed_chats, [-1001, -42]);
        let err = Config::load(None, &env(&[("TELEPTY_ALLOWED_CHATS", "group")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("chat id"), "{err}");
    }
}
