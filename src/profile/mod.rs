//! Profiles: what a program's screen lines mean, as a table of patterns.
//!
//! A profile is data (TOML): rows of a line kind and a regex. The built-in `claude`
//! profile is embedded in the binary (`profiles/claude.toml`) and can be replaced by a
//! file, so a Claude Code UI change is a data fix. Loading compiles every pattern once
//! and reports every bad row together, each with the file and the row's place.

use std::collections::BTreeMap;

use regex::Regex;
use serde::Deserialize;

/// The built-in Claude Code profile.
pub const CLAUDE: &str = include_str!("../../profiles/claude.toml");

/// A profile as written (the low form).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    /// Finds the program's version on its welcome line.
    version: Option<String>,
    #[serde(default)]
    line: Vec<LineRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineRow {
    kind: String,
    #[serde(rename = "match")]
    pattern: String,
    #[serde(default)]
    note: String,
    /// Only while a blocking prompt is on screen (menu options look like much else).
    #[serde(default)]
    only_in_prompt: bool,
}

/// One compiled row.
#[derive(Debug)]
pub struct LinePattern {
    pub kind: String,
    pub regex: Regex,
    pub only_in_prompt: bool,
}

/// A profile ready to use (the high form).
#[derive(Debug)]
pub struct Profile {
    pub name: String,
    pub version: Option<Regex>,
    pub lines: Vec<LinePattern>,
}

/// A screen line as the profile reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    /// The kind of the row that matched, or `text`.
    pub kind: String,
    /// The named groups of the match.
    pub fields: BTreeMap<String, String>,
}

impl Profile {
    /// The built-in `claude` profile.
    pub fn claude() -> Profile {
        Profile::parse(CLAUDE, "built-in profiles/claude.toml")
            .expect("the built-in profile is valid")
    }

    /// Reads a profile; `origin` (a file name) is named in every error.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Profile> {
        let file: ProfileFile =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
        let mut errors = Vec::new();
        let mut lines = Vec::new();
        for (i, row) in file.line.iter().enumerate() {
            match Regex::new(&row.pattern) {
                Ok(regex) => lines.push(LinePattern {
                    kind: row.kind.clone(),
                    regex,
                    only_in_prompt: row.only_in_prompt,
                }),
                Err(e) => errors.push(format!(
                    "{origin}: line row {} (kind {:?}, {}): {e}",
                    i + 1,
                    row.kind,
                    row.note
                )),
            }
        }
        let version = match file.version.as_deref().map(Regex::new) {
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => {
                errors.push(format!("{origin}: version: {e}"));
                None
            }
            None => None,
        };
        if !errors.is_empty() {
            anyhow::bail!("{}", errors.join("\n"));
        }
        Ok(Profile {
            name: file.name,
            version,
            lines,
        })
    }

    /// What a screen line is. `in_prompt` says a blocking prompt is on screen.
    pub fn classify(&self, line: &str, in_prompt: bool) -> Classified {
        let line = line.replace('\u{a0}', " ");
        let line = line.trim_end();
        for row in &self.lines {
            if row.only_in_prompt && !in_prompt {
                continue;
            }
            if let Some(caps) = row.regex.captures(line) {
                let fields = row
                    .regex
                    .capture_names()
                    .flatten()
                    .filter_map(|name| {
                        caps.name(name)
                            .map(|m| (name.to_string(), m.as_str().to_string()))
                    })
                    .collect();
                return Classified {
                    kind: row.kind.clone(),
                    fields,
                };
            }
        }
        Classified {
            kind: "text".into(),
            fields: BTreeMap::new(),
        }
    }

    /// The program's version, from the first screen line that shows it.
    pub fn version<'a>(&self, lines: impl IntoIterator<Item = &'a str>) -> Option<String> {
        let regex = self.version.as_ref()?;
        lines.into_iter().find_map(|l| {
            regex
                .captures(l)?
                .name("version")
                .map(|m| m.as_str().to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(p: &Profile, line: &str) -> String {
        p.classify(line, false).kind
    }

    #[test]
    fn reads_the_lines_of_both_claude_code_versions() {
        let p = Profile::claude();
        // 2.1.197
        assert_eq!(kind(&p, "● Bash(touch marker.txt)"), "tool_banner");
        assert_eq!(kind(&p, "  ⎿  Waiting…"), "tool_result");
        assert_eq!(
            kind(&p, "  Listed 1 directory (ctrl+o to expand)"),
            "tool_summary"
        );
        assert_eq!(
            kind(&p, "✻ API error · Retrying in 1s · attempt 1/10"),
            "spinner"
        );
        assert_eq!(
            kind(&p, "* Finding Python files… (2s · ↑ 143 tokens)"),
            "spinner"
        );
        assert_eq!(kind(&p, "╭─── Claude Code v2.1.197 ───╮"), "chrome");
        // 2.1.331
        assert_eq!(kind(&p, "  Ran 1 shell command"), "tool_summary");
        assert_eq!(kind(&p, "  Did not run 1 call"), "tool_summary");
        assert_eq!(
            kind(&p, "  ⎿  Blocked by auto mode · /permissions to review"),
            "blocked"
        );
        assert_eq!(
            kind(
                &p,
                "     │ Auto mode: Pipes a remote script into a root shell"
            ),
            "blocked_reason"
        );
        assert_eq!(
            kind(&p, "✻ API error · retrying in 1s · attempt 2/10"),
            "spinner"
        );
        assert_eq!(kind(&p, "✻ Cogitated for 0s · done 4:36 AM"), "turn_done");
        assert_eq!(
            kind(&p, "                         ◐ medium · /effort"),
            "chrome"
        );
        assert_eq!(kind(&p, " ▐▛███▛█   Claude Code v2.1.331"), "chrome");
        assert_eq!(
            kind(&p, "  ⏵⏵ auto mode on (shift+tab to cycle) · ← for agents"),
            "footer"
        );
        // Both
        assert_eq!(kind(&p, "❯ What is the capital of France?"), "user");
        assert_eq!(kind(&p, "❯\u{a0}"), "chrome");
        assert_eq!(kind(&p, "● The capital of France is Paris."), "assistant");
        assert_eq!(
            kind(&p, "  ⎿  Interrupted · What should Claude do instead?"),
            "interrupted"
        );
        assert_eq!(kind(&p, "  continuation of an answer"), "text");
        assert_eq!(kind(&p, "─────────────────────────"), "chrome");
    }

    #[test]
    fn menu_options_only_inside_a_prompt() {
        let p = Profile::claude();
        let c = p.classify(" ❯ 1. Yes", true);
        assert_eq!(c.kind, "option");
        assert_eq!(c.fields.get("number").map(String::as_str), Some("1"));
        assert_eq!(c.fields.get("cursor").map(String::as_str), Some("❯"));
        let c = p.classify("   No, exit", true);
        assert_eq!(
            (c.kind.as_str(), c.fields.get("text").map(String::as_str)),
            ("option", Some("No, exit"))
        );
        assert_eq!(kind(&p, "   No, exit"), "text");
    }

    #[test]
    fn footer_gives_the_permission_mode_and_the_welcome_the_version() {
        let p = Profile::claude();
        let c = p.classify("  ⏸ manual mode on · ? for shortcuts · ← for agents", false);
        assert_eq!(
            c.fields.get("mode").map(String::as_str),
            Some("⏸ manual mode on")
        );
        assert_eq!(
            p.version(["", " ▐▛███▛█   Claude Code v2.1.331"]),
            Some("2.1.331".into())
        );
    }

    #[test]
    fn bad_rows_are_all_named_with_the_file() {
        let text = "name = \"x\"\n[[line]]\nkind = \"a\"\nmatch = \"(\"\n[[line]]\nkind = \"b\"\nmatch = \"[\"\n";
        let err = Profile::parse(text, "my.toml").unwrap_err().to_string();
        assert!(
            err.contains("my.toml: line row 1 (kind \"a\"") && err.contains("my.toml: line row 2"),
            "{err}"
        );
        let err = Profile::parse(
            "name = \"x\"\n[[line]]\nkind = \"a\"\nmacth = \"x\"\n",
            "my.toml",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("my.toml") && err.to_string().contains("macth"),
            "{err}"
        );
    }
}
