//! A session's vitals: which model, which permission mode, how full the context is, and
//! how much of the usage limits is used and when they reset.
//!
//! Claude Code knows all of this exactly and hands it, as JSON, to the command of its
//! status line (`statusLine` in its settings) whenever the conversation changes. telepty
//! adds a status line of its own that keeps the newest payload in a file and then runs
//! the status line the user configured, if any (`telepty status-line`), so the user's
//! own line still shows at the desk. Where the fields are is data: the profile's
//! `[vitals]` table ([`VitalsSpec`]). The permission mode is not in that payload: it is
//! read from the screen's footer (live) or the transcript's newest entry.
//!
//! This module is pure: the payload and the clock come from the caller.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// The largest payload kept (Claude Code's is about 2 KB).
pub const PAYLOAD_LIMIT: usize = 256 * 1024;

/// What the profile's `[vitals]` table says about a program's status-line payload.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VitalsSpec {
    /// The flag that takes a settings object as JSON (`--settings`): telepty's status
    /// line goes in its `statusLine`.
    pub settings_flag: String,
    /// The key of the status line in a settings object (`statusLine`).
    pub settings_key: String,
    /// The user's settings files, weakest first (`~` is the home directory, a relative
    /// path is in the session's directory): the last one naming a `statusLine` is the
    /// one the user sees, and telepty's runs it after keeping the payload.
    #[serde(default)]
    pub settings_files: Vec<String>,
    /// JSON pointers into the payload.
    pub model: Option<String>,
    pub context_percent: Option<String>,
    pub context_size: Option<String>,
    pub five_hour_percent: Option<String>,
    pub five_hour_resets: Option<String>,
    pub weekly_percent: Option<String>,
    pub weekly_resets: Option<String>,
    /// JSON pointer to the permission mode in a transcript entry (the payload lacks it).
    pub transcript_mode: Option<String>,
}

/// A usage limit: the share used and when it resets (Unix seconds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    pub percent: f64,
    pub resets_at: Option<i64>,
}

/// The vitals of one session, each part where known.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vitals {
    pub model: Option<String>,
    pub mode: Option<String>,
    /// The share of the context window used, and the window's size in tokens.
    pub context_percent: Option<f64>,
    pub context_size: Option<u64>,
    pub five_hour: Option<Limit>,
    pub weekly: Option<Limit>,
}

impl VitalsSpec {
    /// Reads a status-line payload. Parts missing or of another type stay unknown.
    pub fn read(&self, payload: &Value) -> Vitals {
        let at = |p: &Option<String>| p.as_deref().and_then(|p| payload.pointer(p));
        let number = |p: &Option<String>| at(p).and_then(Value::as_f64).filter(|n| n.is_finite());
        let limit = |percent: &Option<String>, resets: &Option<String>| {
            Some(Limit {
                percent: number(percent)?,
                resets_at: at(resets).and_then(Value::as_i64),
            })
        };
        Vitals {
            model: at(&self.model)
                .and_then(Value::as_str)
                .map(|s| one_line(s, 60)),
            mode: None,
            context_percent: number(&self.context_percent),
            context_size: at(&self.context_size).and_then(Value::as_u64),
            five_hour: limit(&self.five_hour_percent, &self.five_hour_resets),
            weekly: limit(&self.weekly_percent, &self.weekly_resets),
        }
    }

    /// The permission mode a transcript entry carries.
    pub fn transcript_mode(&self, entry: &Value) -> Option<String> {
        let p = self.transcript_mode.as_deref()?;
        entry.pointer(p)?.as_str().map(|s| one_line(s, 40))
    }

    /// The settings files of a session in `dir`, weakest first.
    pub fn settings_paths(&self, home: &Path, dir: &Path) -> Vec<PathBuf> {
        self.settings_files
            .iter()
            .map(|f| match f.strip_prefix("~/") {
                Some(rest) => home.join(rest),
                None => dir.join(f),
            })
            .collect()
    }
}

/// The status line the user configured: the `key` (`statusLine`) of the strongest
/// settings document that has one (documents weakest first; unreadable ones skipped).
pub fn user_status_line<'a>(
    key: &str,
    documents: impl IntoIterator<Item = &'a Value>,
) -> Option<Value> {
    documents
        .into_iter()
        .filter_map(|d| d.get(key))
        .filter(|s| s.is_object())
        .last()
        .cloned()
}

/// The settings object that puts `command` in the status line, keeping the user's
/// other status-line settings (padding, refresh interval).
pub fn settings_with(key: &str, command: &str, user: Option<&Value>) -> Value {
    let mut line = user.cloned().unwrap_or_else(|| serde_json::json!({}));
    line["type"] = "command".into();
    line["command"] = command.into();
    let mut settings = serde_json::json!({});
    settings[key] = line;
    settings
}

/// The user's status-line command, if theirs is one.
pub fn user_command(user: Option<&Value>) -> Option<String> {
    let user = user?;
    if user.get("type").and_then(Value::as_str) != Some("command") {
        return None;
    }
    user.get("command")
        .and_then(Value::as_str)
        .filter(|c| !c.trim().is_empty())
        .map(str::to_string)
}

/// A mode as the chat names it: the footer's `⏵⏵ auto mode on` is `auto mode`, the
/// transcript's `acceptEdits` is `accept edits`.
pub fn mode_name(raw: &str) -> String {
    let text = raw
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .trim();
    let text = text.strip_suffix(" on").unwrap_or(text);
    let mut out = String::new();
    for c in text.chars() {
        if c.is_uppercase() && !out.is_empty() {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

impl Vitals {
    /// Nothing is known.
    pub fn is_empty(&self) -> bool {
        *self == Vitals::default()
    }

    /// The limit that is used up at `now` (Unix seconds), if one is: the one whose
    /// reset ends the wait (the later reset when both are). A reset already past is an
    /// old report, not a limit.
    pub fn exhausted(&self, now: i64) -> Option<Limit> {
        [self.five_hour, self.weekly]
            .into_iter()
            .flatten()
            .filter(|l| l.percent >= 100.0 && l.resets_at.is_some_and(|at| at > now))
            .max_by_key(|l| l.resets_at)
    }

    /// The vitals in full, for `/status`: `Opus 5.5 · auto mode · context 12% of 1M ·
    /// 5-hour limit 23% used, resets 14:30 CET (in 2h 10m) · weekly …`.
    pub fn describe(&self, now: &jiff::Zoned) -> String {
        let mut parts = self.parts(true);
        for (name, limit) in [
            ("5-hour limit", self.five_hour),
            ("weekly limit", self.weekly),
        ] {
            if let Some(l) = limit {
                let mut part = format!("{name} {}% used", percent(l.percent));
                if let Some(at) = l.resets_at {
                    part.push_str(&format!(", resets {}", when(at, now)));
                }
                parts.push(part);
            }
        }
        parts.join(" · ")
    }

    /// The vitals in short, for `/sessions`: model and context.
    pub fn short(&self) -> String {
        self.parts(false).join(", ")
    }

    fn parts(&self, with_mode: bool) -> Vec<String> {
        let mut parts = Vec::new();
        parts.extend(self.model.clone());
        if with_mode {
            parts.extend(self.mode.clone());
        }
        if let Some(p) = self.context_percent {
            let mut part = format!("context {}%", percent(p));
            if let Some(size) = self.context_size {
                part.push_str(&format!(" of {}", tokens(size)));
            }
            parts.push(part);
        }
        parts
    }
}

/// A reset time for people: `14:30 CET (in 2h 10m)`, with the day when it is not today.
pub fn when(at: i64, now: &jiff::Zoned) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(at) else {
        return "at an unknown time".into();
    };
    let local = ts.to_zoned(now.time_zone().clone());
    let clock = if local.date() == now.date() {
        local.strftime("%H:%M %Z").to_string()
    } else {
        local.strftime("%a %d %b %H:%M %Z").to_string()
    };
    let left = at - now.timestamp().as_second();
    if left <= 0 {
        return format!("{clock} (now)");
    }
    let minutes = ((left + 30) / 60).max(1);
    let (d, h, m) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let span = match (d, h) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    };
    format!("{clock} (in {span})")
}

fn percent(p: f64) -> String {
    let p = p.clamp(0.0, 1000.0);
    if p > 0.0 && p < 1.0 {
        "<1".into()
    } else {
        format!("{}", p.round() as u64)
    }
}

fn tokens(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000_000 => format!("{:.1}M", n as f64 / 1e6),
        n if n >= 1000 => format!("{}k", n / 1000),
        n => n.to_string(),
    }
}

/// A value from outside on one line, no longer than `max` characters.
fn one_line(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> VitalsSpec {
        crate::core::profile::Profile::claude()
            .vitals
            .clone()
            .expect("the claude profile reads vitals")
    }

    fn berlin(ts: i64) -> jiff::Zoned {
        jiff::Timestamp::from_second(ts)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap())
    }

    /// A payload as Claude Code 2.1.332 sends it (trimmed), with a subscriber's limits.
    fn payload() -> Value {
        json!({
            "session_id": "660af123-8806-4592-ae21-7b5c3eafcf4c",
            "model": {"id": "claude-opus-5-5", "display_name": "Opus 5.5"},
            "context_window": {"context_window_size": 1000000, "used_percentage": 12.4,
                               "remaining_percentage": 87.6},
            "rate_limits": {
                "five_hour": {"used_percentage": 23.5, "resets_at": 1_764_772_200},
                "seven_day": {"used_percentage": 41.2, "resets_at": 1_765_180_800}
            }
        })
    }

    #[test]
    fn a_payload_with_limits_reads_as_model_context_and_both_limits_with_their_resets() {
        let mut v = spec().read(&payload());
        v.mode = Some(mode_name("⏵⏵ auto mode on"));
        // 2025-12-03 12:20 in Berlin; the 5-hour limit resets at 15:30 the same day.
        let now = berlin(1_764_760_800);
        assert_eq!(
            v.describe(&now),
            "Opus 5.5 · auto mode · context 12% of 1M · 5-hour limit 24% used, resets 15:30 CET \
             (in 3h 10m) · weekly limit 41% used, resets Mon 08 Dec 09:00 CET (in 4d 20h)"
        );
        assert_eq!(v.short(), "Opus 5.5, context 12% of 1M");
        assert_eq!(v.exhausted(1_764_760_800), None);
    }

    #[test]
    fn without_a_subscription_there_are_no_limits_and_odd_values_stay_unknown() {
        let v = spec().read(&json!({
            "model": {"display_name": "Sonnet\n4.6"},
            "context_window": {"used_percentage": "a lot", "context_window_size": 200000},
            "rate_limits": {"five_hour": {"resets_at": 5}}
        }));
        assert_eq!(v.model.as_deref(), Some("Sonnet 4.6"));
        assert_eq!(v.context_percent, None);
        assert_eq!(v.five_hour, None);
        assert_eq!(v.describe(&berlin(0)), "Sonnet 4.6");
        assert!(spec().read(&json!([1, 2])).is_empty());
    }

    #[test]
    fn the_used_up_limit_is_the_one_whose_reset_ends_the_wait() {
        let mut p = payload();
        p["rate_limits"]["five_hour"]["used_percentage"] = json!(100);
        let now = 1_764_760_800;
        let v = spec().read(&p);
        assert_eq!(v.exhausted(now).unwrap().resets_at, Some(1_764_772_200));
        // After its reset the report is old news.
        assert_eq!(v.exhausted(1_764_772_200), None);
        p["rate_limits"]["seven_day"]["used_percentage"] = json!(100.0);
        assert_eq!(
            spec().read(&p).exhausted(now).unwrap().resets_at,
            Some(1_765_180_800)
        );
    }

    #[test]
    fn modes_from_the_footer_and_the_transcript_read_alike() {
        assert_eq!(mode_name("⏵⏵ accept edits on"), "accept edits");
        assert_eq!(mode_name("⏸ plan mode on"), "plan mode");
        assert_eq!(mode_name("acceptEdits"), "accept edits");
        assert_eq!(mode_name("bypassPermissions"), "bypass permissions");
        assert_eq!(
            spec().transcript_mode(&json!({"type": "user", "permissionMode": "plan"})),
            Some("plan".into())
        );
    }

    #[test]
    fn the_users_status_line_is_the_strongest_one_and_keeps_its_settings() {
        let user =
            json!({"statusLine": {"type": "command", "command": "~/bin/line", "padding": 0}});
        let project = json!({"model": "opus"});
        let local = json!({"statusLine": {"type": "command", "command": "echo local"}});
        let line = user_status_line("statusLine", [&user, &project, &local]);
        assert_eq!(user_command(line.as_ref()).as_deref(), Some("echo local"));
        let line = user_status_line("statusLine", [&user, &project]).unwrap();
        let settings = settings_with("statusLine", "/x/telepty status-line", Some(&line));
        assert_eq!(
            settings,
            json!({"statusLine": {"type": "command", "command": "/x/telepty status-line", "padding": 0}})
        );
        assert_eq!(user_status_line("statusLine", [&project]), None);
        assert_eq!(
            settings_with("statusLine", "t", None),
            json!({"statusLine": {"type": "command", "command": "t"}})
        );
    }

    #[test]
    fn reset_times_say_the_day_when_it_is_not_today() {
        let now = berlin(1_764_760_800);
        assert_eq!(when(1_764_760_800 + 61, &now), "12:21 CET (in 1m)");
        assert_eq!(when(1_764_760_800 + 20, &now), "12:20 CET (in 1m)");
        assert_eq!(when(1_764_760_800 - 5, &now), "12:19 CET (now)");
    }
}
