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
pub const CLAUDE: &str = include_str!("../../../profiles/claude.toml");
/// The built-in `codex` profile (OpenAI's Codex CLI).
pub const CODEX: &str = include_str!("../../../profiles/codex.toml");

/// A profile as written (the low form).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    /// Finds the program's version on its welcome line.
    version: Option<String>,
    /// How the chat shows the program: `conversation` (turns, answers, prompts: needs
    /// the line rows) or `mirror` (the screen as it is).
    #[serde(default)]
    view: ViewKind,
    /// Characters whose colour the `first_fg` conditions read when they start a row.
    #[serde(default)]
    colour_marks: String,
    /// Whether the input line sits in a box under a rule (Claude Code) or stands on its
    /// own (Codex's composer): a screen is complete when its input is drawn that way.
    #[serde(default = "yes")]
    input_rule: bool,
    /// Whether the program pins the running turn's message on the top row while the
    /// conversation scrolls under it (Codex): a message on the first row is a copy, not
    /// conversation.
    #[serde(default)]
    pinned_user_row: bool,
    #[serde(default)]
    line: Vec<LineRow>,
    #[serde(default)]
    lifecycle: LifecycleFile,
    #[serde(default)]
    files: FilesFile,
    #[serde(default)]
    input: InputFile,
    #[serde(default)]
    program: ProgramFile,
    /// A report in which the program says it is working (absent: the screen says it).
    busy_signal: Option<BusySignalFile>,
    /// The program's own log of the conversation (absent: the screen is all there is).
    transcript: Option<crate::core::transcript::TranscriptSpec>,
    /// Where the program reports its model, context and limits (absent: not known).
    vitals: Option<crate::core::vitals::VitalsSpec>,
    #[serde(default)]
    text_styles: TextStyles,
}

/// How the screen shows an answer's markup: the chat keeps it where the transcript does
/// not give the answer.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TextStyles {
    /// Characters drawn bold are bold in the chat (headings, `**bold**`).
    #[serde(default)]
    pub bold: bool,
    /// Characters drawn in one of these colours are inline code (`default`, a
    /// 256-colour index such as `153`, or `#rrggbb`).
    #[serde(default)]
    pub code_fg: Vec<String>,
}

/// A program that says whether it works in a terminal report of its own (an OSC, or
/// its window title), not only on the screen: Codex draws no status line while an
/// answer streams, and reports `OSC 7501 ; state=working` until the turn ends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BusySignalFile {
    /// The OSC number (`0` or `2`: the window title).
    osc: String,
    /// Matches the report's payload while the program works.
    busy: String,
}

/// [`BusySignalFile`], compiled.
#[derive(Debug)]
pub struct BusySignal {
    pub osc: String,
    pub busy: Regex,
}

impl BusySignal {
    /// Whether `report` (the OSC's last payload, if any) says the program works.
    pub fn says_busy(&self, report: Option<&str>) -> bool {
        report.is_some_and(|r| self.busy.is_match(r))
    }
}

/// What the program is called and how it is installed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgramFile {
    title: Option<String>,
    binary: Option<String>,
    /// Arguments a session of this agent starts with (`/new … --agent NAME`).
    #[serde(default)]
    args: Vec<String>,
    install: Option<String>,
    tested_version: Option<String>,
}

/// How the program takes input.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputFile {
    /// Milliseconds a prompt must have been on screen before it takes keys.
    #[serde(default)]
    prompt_settle_ms: u64,
    /// Milliseconds between a message's text and its Enter, at least.
    enter_gap_ms: Option<u64>,
    /// Milliseconds the Enter waits at most for the text to show on the screen.
    echo_wait_ms: Option<u64>,
    /// Every message goes as a bracketed paste when the program asked for them, not
    /// only one of several lines (a program that reads a fast burst of keys as
    /// shortcuts: Codex took a message's last `?` for its help key).
    #[serde(default)]
    paste_always: bool,
}

/// Between a message's text and its Enter when the profile does not say.
const ENTER_GAP: std::time::Duration = std::time::Duration::from_millis(150);
/// How long the Enter waits for the text's echo when the profile does not say.
const ECHO_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// What the screen says about files.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilesFile {
    /// A tool banner (its `●` removed) that names a file the program wrote; group `path`.
    written: Option<String>,
}

/// How the program is resumed and what its screen says about its end and its limits.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LifecycleFile {
    #[serde(default)]
    resume: Vec<String>,
    #[serde(default)]
    resume_id: Vec<String>,
    session_id: Option<String>,
    usage_limit: Option<String>,
    continue_text: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineRow {
    kind: Kind,
    #[serde(rename = "match")]
    pattern: String,
    #[serde(default)]
    note: String,
    /// Only while a blocking prompt is on screen (menu options look like much else).
    #[serde(default)]
    only_in_prompt: bool,
    /// The colour of the line's first visible cell must be one of these (`default`, a
    /// 256-colour index such as `231`, or `#rrggbb`): where the text alone is ambiguous.
    first_fg: Option<Vec<String>>,
}

/// How a profile's program reaches the chat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewKind {
    #[default]
    Conversation,
    Mirror,
}

/// What a screen line is, as the view understands it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Never reaches the chat: welcome lines, banners, the effort line.
    Chrome,
    /// A full-width rule: the input box's edges, the top of a prompt.
    Rule,
    /// The input line (what the user is typing).
    Input,
    /// The line under the input box; may carry the permission mode.
    Footer,
    /// The status line while working (also API retries).
    Spinner,
    /// The status line after a turn (`✻ Worked for 3s`).
    TurnDone,
    /// A prompt the user sent.
    User,
    /// `● Name(arg)`.
    ToolBanner,
    /// Any other line that stands for a tool call in progress (`● Searching for 1 pattern…`).
    ToolActivity,
    /// A folded call (`Ran 1 shell command`, `Read 2 files`).
    ToolSummary,
    /// A call auto mode refused.
    Blocked,
    /// The reason under a blocked call.
    BlockedReason,
    /// `⎿ Interrupted · What should Claude do instead?`
    Interrupted,
    /// `⎿ …` under a call.
    ToolResult,
    /// A task list entry.
    Task,
    /// The first line of an assistant text block.
    Assistant,
    /// A menu option (only inside a blocking prompt).
    Option,
    /// The last line of a prompt (`Esc to cancel`).
    PromptHint,
    /// A dashed rule around a command or a preview inside a prompt: not its context.
    PreviewRule,
    /// The first line of a prompt drawn without a rule above it (Codex's `Would you
    /// like to run the following command?`): the prompt's box starts there.
    PromptHead,
    /// Anything else: continuation of the block above, tool details.
    Text,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Chrome => "chrome",
            Kind::Rule => "rule",
            Kind::Input => "input",
            Kind::Footer => "footer",
            Kind::Spinner => "spinner",
            Kind::TurnDone => "turn_done",
            Kind::User => "user",
            Kind::ToolBanner => "tool_banner",
            Kind::ToolActivity => "tool_activity",
            Kind::ToolSummary => "tool_summary",
            Kind::Blocked => "blocked",
            Kind::BlockedReason => "blocked_reason",
            Kind::Interrupted => "interrupted",
            Kind::ToolResult => "tool_result",
            Kind::Task => "task",
            Kind::Assistant => "assistant",
            Kind::Option => "option",
            Kind::PromptHint => "prompt_hint",
            Kind::PreviewRule => "preview_rule",
            Kind::PromptHead => "prompt_head",
            Kind::Text => "text",
        }
    }

    /// Lines that never go to the chat.
    pub fn is_chrome(self) -> bool {
        matches!(
            self,
            Kind::Chrome
                | Kind::Rule
                | Kind::Input
                | Kind::Footer
                | Kind::Spinner
                | Kind::TurnDone
                | Kind::PromptHint
                | Kind::PreviewRule
        )
    }
}

fn yes() -> bool {
    true
}

/// One compiled row.
#[derive(Debug)]
pub struct LinePattern {
    pub kind: Kind,
    pub regex: Regex,
    pub only_in_prompt: bool,
    pub first_fg: Option<Vec<String>>,
}

impl LinePattern {
    /// The named groups of the row's match on `line`, if it matches.
    fn fields(&self, line: &str) -> Option<BTreeMap<String, String>> {
        let caps = self.regex.captures(line)?;
        Some(
            self.regex
                .capture_names()
                .flatten()
                .filter_map(|name| {
                    caps.name(name)
                        .map(|m| (name.to_string(), m.as_str().to_string()))
                })
                .collect(),
        )
    }
}

/// A profile ready to use (the high form).
#[derive(Debug)]
pub struct Profile {
    pub name: String,
    pub view: ViewKind,
    pub colour_marks: Vec<char>,
    /// The input line has a rule right above it (see the file's `input_rule`).
    pub input_rule: bool,
    /// The top row may be a pinned copy of the running turn's message.
    pub pinned_user_row: bool,
    pub version: Option<Regex>,
    /// The program's own report of working, beside the screen's status line.
    pub busy_signal: Option<BusySignal>,
    pub lines: Vec<LinePattern>,
    pub lifecycle: Lifecycle,
    /// A tool banner naming a file the program wrote (group `path`): the chat offers it.
    pub written_file: Option<Regex>,
    /// How long a prompt must have been on screen before it takes keys: a button pressed
    /// sooner has its keys held until then (Claude Code ignores keys that come right
    /// after it draws a prompt, against accidental answers).
    pub prompt_settle: std::time::Duration,
    /// The Enter of a message comes at least this long after its text (Claude Code
    /// takes an Enter in the same burst as the text for a newline).
    pub enter_gap: std::time::Duration,
    /// How long the Enter waits at most for the text to show in the input box (see
    /// [`crate::core::typing`]).
    pub echo_wait: std::time::Duration,
    /// Every message is pasted (bracketed) when the program asked for bracketed paste.
    pub paste_always: bool,
    pub program: Program,
    /// Where the program logs the conversation and how to read its answers there.
    pub transcript: Option<crate::core::transcript::TranscriptSpec>,
    /// Where the program reports the session's vitals (model, context, usage limits).
    pub vitals: Option<crate::core::vitals::VitalsSpec>,
    /// How the screen shows an answer's markup.
    pub text_styles: TextStyles,
}

/// What the program is called and how it is installed, for what telepty says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// How the chat names it ("Claude Code"; "the program" when the profile does not say).
    pub title: String,
    /// The command name it is installed as (`claude`).
    pub binary: Option<String>,
    /// Arguments a session of this agent starts with when it is chosen by name.
    pub args: Vec<String>,
    /// How to install it (`npm install -g …`).
    pub install: Option<String>,
    /// The version its profile was made and tested with.
    pub tested_version: Option<String>,
}

impl Default for Program {
    fn default() -> Program {
        Program {
            title: "the program".into(),
            binary: None,
            args: Vec::new(),
            install: None,
            tested_version: None,
        }
    }
}

impl Program {
    /// What to do when `name` is not found: install the profile's program, or another.
    pub fn missing_hint(&self, name: &str) -> Option<String> {
        let install = self.install.as_deref()?;
        let ours = self.binary.as_deref().is_some_and(|b| name.ends_with(b));
        ours.then(|| format!("install {} ({install})", self.title))
    }
}

/// What the profile knows about starting the program again and about its limits.
#[derive(Debug, Default)]
pub struct Lifecycle {
    /// Arguments added to the command to continue the directory's last conversation.
    pub resume: Vec<String>,
    /// Arguments to resume a known conversation (`{id}` stands for its id).
    pub resume_id: Vec<String>,
    /// Finds the conversation's id (a group named `id`) on the screen the program
    /// leaves behind.
    pub session_id: Option<Regex>,
    /// Typed when a usage limit has reset, to go on with the turn it stopped (without
    /// it, no "continue when it resets" is offered).
    pub continue_text: Option<String>,
    /// A screen line saying a usage limit was hit; the group `reset` says when it ends.
    pub usage_limit: Option<Regex>,
}

impl Lifecycle {
    /// The arguments that resume the conversation `id`, or the last one.
    pub fn resume_args(&self, id: Option<&str>) -> Vec<String> {
        match id {
            Some(id) if !self.resume_id.is_empty() => self
                .resume_id
                .iter()
                .map(|a| a.replace("{id}", id))
                .collect(),
            _ => self.resume.clone(),
        }
    }

    /// The conversation id shown in `lines`, the last one if several.
    pub fn find_session_id<'a>(&self, lines: impl IntoIterator<Item = &'a str>) -> Option<String> {
        let regex = self.session_id.as_ref()?;
        lines
            .into_iter()
            .filter_map(|l| {
                regex
                    .captures(l)?
                    .name("id")
                    .map(|m| m.as_str().to_string())
            })
            .last()
    }

    /// When the usage limit shown in `lines` resets (the text as shown), if one is shown.
    pub fn find_usage_limit<'a>(&self, lines: impl IntoIterator<Item = &'a str>) -> Option<String> {
        let regex = self.usage_limit.as_ref()?;
        lines.into_iter().find_map(|l| {
            let caps = regex.captures(l.trim())?;
            Some(
                caps.name("reset")
                    .map_or_else(String::new, |m| m.as_str().trim().to_string()),
            )
        })
    }
}

/// A screen line as the profile reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    /// The kind of the row that matched, or `text`.
    pub kind: Kind,
    /// The named groups of the match.
    pub fields: BTreeMap<String, String>,
}

impl Profile {
    /// The built-in `claude` profile.
    pub fn claude() -> Profile {
        Profile::parse(CLAUDE, "built-in profiles/claude.toml")
            .expect("the built-in profile is valid")
    }

    /// The built-in `codex` profile.
    pub fn codex() -> Profile {
        Profile::parse(CODEX, "built-in profiles/codex.toml")
            .expect("the built-in profile is valid")
    }

    /// A built-in profile by name: `claude`, `codex`, `plain`.
    pub fn built_in(name: &str) -> Option<Profile> {
        match name {
            "claude" => Some(Profile::claude()),
            "codex" => Some(Profile::codex()),
            "plain" => Some(Profile::plain()),
            _ => None,
        }
    }

    /// The `plain` profile: no patterns; the screen is mirrored as it is.
    pub fn plain() -> Profile {
        Profile {
            name: "plain".into(),
            view: ViewKind::Mirror,
            colour_marks: Vec::new(),
            input_rule: true,
            pinned_user_row: false,
            version: None,
            busy_signal: None,
            lines: Vec::new(),
            lifecycle: Lifecycle::default(),
            written_file: None,
            prompt_settle: std::time::Duration::ZERO,
            enter_gap: ENTER_GAP,
            echo_wait: ECHO_WAIT,
            paste_always: false,
            program: Program::default(),
            transcript: None,
            vitals: None,
            text_styles: TextStyles::default(),
        }
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
                    kind: row.kind,
                    regex,
                    only_in_prompt: row.only_in_prompt,
                    first_fg: row.first_fg.clone(),
                }),
                Err(e) => errors.push(format!(
                    "{origin}: line row {} (kind {}, {}): {e}",
                    i + 1,
                    row.kind.as_str(),
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
        let mut pattern = |what: &str, text: &Option<String>| match text.as_deref().map(Regex::new)
        {
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => {
                errors.push(format!("{origin}: {what}: {e}"));
                None
            }
            None => None,
        };
        let session_id = pattern("lifecycle.session_id", &file.lifecycle.session_id);
        let usage_limit = pattern("lifecycle.usage_limit", &file.lifecycle.usage_limit);
        let written_file = pattern("files.written", &file.files.written);
        let busy_signal = file.busy_signal.and_then(|signal| {
            let busy = pattern("busy_signal.busy", &Some(signal.busy))?;
            Some(BusySignal {
                osc: signal.osc,
                busy,
            })
        });
        if !errors.is_empty() {
            anyhow::bail!("{}", errors.join("\n"));
        }
        Ok(Profile {
            name: file.name,
            view: file.view,
            colour_marks: file.colour_marks.chars().collect(),
            input_rule: file.input_rule,
            pinned_user_row: file.pinned_user_row,
            version,
            busy_signal,
            lines,
            lifecycle: Lifecycle {
                resume: file.lifecycle.resume,
                resume_id: file.lifecycle.resume_id,
                session_id,
                usage_limit,
                continue_text: file.lifecycle.continue_text,
            },
            written_file,
            prompt_settle: std::time::Duration::from_millis(file.input.prompt_settle_ms),
            enter_gap: file
                .input
                .enter_gap_ms
                .map_or(ENTER_GAP, std::time::Duration::from_millis),
            echo_wait: file
                .input
                .echo_wait_ms
                .map_or(ECHO_WAIT, std::time::Duration::from_millis),
            paste_always: file.input.paste_always,
            program: Program {
                title: file
                    .program
                    .title
                    .unwrap_or_else(|| Program::default().title),
                binary: file.program.binary,
                args: file.program.args,
                install: file.program.install,
                tested_version: file.program.tested_version,
            },
            transcript: file.transcript,
            vitals: file.vitals,
            text_styles: file.text_styles,
        })
    }

    /// What a screen line is. `in_prompt` says a blocking prompt is on screen.
    pub fn classify(&self, line: &str, in_prompt: bool) -> Classified {
        self.classify_styled(line, in_prompt, || None)
    }

    /// [`Profile::classify`] for a line whose first visible cell has the colour
    /// `first_fg` gives (asked only when a row depends on it).
    pub fn classify_styled(
        &self,
        line: &str,
        in_prompt: bool,
        first_fg: impl Fn() -> Option<String>,
    ) -> Classified {
        let line = line.trim_end();
        for row in &self.lines {
            if row.only_in_prompt && !in_prompt {
                continue;
            }
            if let Some(colours) = &row.first_fg {
                if !row.regex.is_match(line) {
                    continue;
                }
                if !first_fg().is_some_and(|fg| colours.contains(&fg)) {
                    continue;
                }
            }
            if let Some(fields) = row.fields(line) {
                return Classified {
                    kind: row.kind,
                    fields,
                };
            }
        }
        Classified {
            kind: Kind::Text,
            fields: BTreeMap::new(),
        }
    }

    /// The fields of the first row of `kind` that matches `line`, trying no other kind
    /// (menu options look like much else, so the prompt finder asks for them alone).
    pub fn match_kind(&self, kind: Kind, line: &str) -> Option<BTreeMap<String, String>> {
        let line = line.trim_end();
        self.lines
            .iter()
            .filter(|row| row.kind == kind)
            .find_map(|row| row.fields(line))
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

    fn kind(p: &Profile, line: &str) -> &'static str {
        p.classify(line, false).kind.as_str()
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
        assert_eq!(kind(&p, "❯\u{a0}"), "input");
        assert_eq!(kind(&p, "❯\u{a0}What is"), "input");
        let white = || Some("231".to_string());
        let c = p.classify_styled("● The capital of France is Paris.", false, white);
        assert_eq!(c.kind, Kind::Assistant);
        // The same ● in grey is a tool call in progress.
        let grey = || Some("246".to_string());
        let c = p.classify_styled("● Exited plan mode", false, grey);
        assert_eq!(c.kind, Kind::ToolActivity);
        assert_eq!(
            kind(&p, "  ⎿  Interrupted · What should Claude do instead?"),
            "interrupted"
        );
        assert_eq!(kind(&p, "  continuation of an answer"), "text");
        assert_eq!(kind(&p, "─────────────────────────"), "rule");
    }

    #[test]
    fn menu_options_only_inside_a_prompt() {
        let p = Profile::claude();
        let c = p.classify(" ❯ 1. Yes", true);
        assert_eq!(c.kind, Kind::Option);
        assert_eq!(c.fields.get("number").map(String::as_str), Some("1"));
        assert_eq!(c.fields.get("cursor").map(String::as_str), Some("❯"));
        let c = p.classify("   No, exit", true);
        assert_eq!(
            (c.kind, c.fields.get("text").map(String::as_str)),
            (Kind::Option, Some("No, exit"))
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
    fn the_lifecycle_resumes_and_reads_ends_and_limits() {
        let l = Profile::claude().lifecycle;
        assert_eq!(l.resume_args(None), ["--continue"]);
        let id = "0b6f6a52-3f4c-4c1e-9d0e-6a7d2b1c9e11";
        assert_eq!(l.resume_args(Some(id)), ["--resume", id]);
        let end = [
            "Resume this session with:",
            &format!("claude --resume {id}"),
        ];
        assert_eq!(l.find_session_id(end.iter().copied()), Some(id.to_string()));
        assert_eq!(l.find_session_id(["claude --resume"]), None);
        for (line, reset) in [
            (
                "Claude usage limit reached. Your limit will reset at 5pm (Europe/Berlin).",
                "5pm (Europe/Berlin)",
            ),
            ("  ⎿  5-hour limit reached ∙ resets 3am", "3am"),
            (
                "You've hit your limit · resets 11:30pm (UTC)",
                "11:30pm (UTC)",
            ),
            (
                "  ⎿  Weekly limit reached ∙ resets Dec 2, 5pm",
                "Dec 2, 5pm",
            ),
        ] {
            assert_eq!(
                l.find_usage_limit([line]),
                Some(reset.to_string()),
                "{line}"
            );
        }
        assert_eq!(l.find_usage_limit(["● The limit of f(x) is 3."]), None);
        assert!(Profile::plain().lifecycle.resume_args(None).is_empty());
    }

    #[test]
    fn bad_rows_are_all_named_with_the_file() {
        let text = "name = \"x\"\n[[line]]\nkind = \"chrome\"\nmatch = \"(\"\n[[line]]\nkind = \"text\"\nmatch = \"[\"\n";
        let err = Profile::parse(text, "my.toml").unwrap_err().to_string();
        assert!(
            err.contains("my.toml: line row 1 (kind chrome") && err.contains("my.toml: line row 2"),
            "{err}"
        );
        let err = Profile::parse(
            "name = \"x\"\n[[line]]\nkind = \"banner\"\nmatch = \"x\"\n",
            "my.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("my.toml") && err.contains("line 3") && err.contains("`banner`"),
            "{err}"
        );
        let err = Profile::parse(
            "name = \"x\"\n[[line]]\nkind = \"chrome\"\nmacth = \"x\"\n",
            "my.toml",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("my.toml") && err.to_string().contains("macth"),
            "{err}"
        );
    }
}
