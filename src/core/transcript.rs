//! The program's own transcript of the conversation, beside the screen.
//!
//! Claude Code appends every conversation entry to a JSON-lines file; its answers are
//! there as the raw markdown the model wrote, which the screen has already drawn without
//! `#`, fences or backticks. The screen stays the source of progress (streaming, tools,
//! prompts, state); when a turn's answer is final, each of its texts on screen is looked
//! up here by its words, and a match is rendered from the markdown instead. A text the
//! transcript lacks (an interrupted answer, an older program, no file) comes from the
//! screen, as before.
//!
//! What the file is and where its fields are is data: the profile's `[transcript]`
//! table ([`TranscriptSpec`]). This module is pure: lines come in from the caller (a
//! file follower live, the recording's `.transcript.jsonl` in a replay).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// Answers kept for matching (older ones were long since shown or never will be).
const ANSWERS_KEPT: usize = 64;
/// The longest answer text kept (a larger one is cut: it is matched by its words, and a
/// document carries long answers anyway).
const ANSWER_LIMIT: usize = 512 * 1024;
/// The longest line read; a longer one is skipped (a tool result with a huge output).
pub const LINE_LIMIT: usize = 8 * 1024 * 1024;
/// A screen text and a transcript text are the same answer when this share of the
/// longer one's words are in both.
const SAME_ANSWER: f64 = 0.8;
/// A screen text lies inside an answer already matched when this share of its words
/// are in it (the screen drew one answer as two texts).
const INSIDE_ANSWER: f64 = 0.9;

/// What a program's transcript is: the profile's `[transcript]` table.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TranscriptSpec {
    /// Where a session's file is: `{home}`, `{project}` (the working directory with
    /// every character but ASCII letters and digits replaced by `-`), `{session}`,
    /// `{date}` (today, `YYYY/MM/DD`, in the machine's time zone, as a program names
    /// its folders), `{env:NAME|fallback}` (the program's environment variable, else the
    /// fallback, which may hold the others: `{env:CODEX_HOME|{home}/.codex}`).
    pub path: String,
    /// Arguments that start a new conversation with an id telepty chose (`{session}`).
    #[serde(default)]
    pub session_args: Vec<String>,
    /// JSON pointer to an entry's kind, and the kind of an answer entry.
    pub kind: String,
    pub answer_kind: String,
    /// JSON pointer to an answer entry's content blocks (an array, or one string).
    pub blocks: String,
    /// JSON pointer (in a block) to its kind, and the kind of a text block.
    pub block_kind: String,
    pub text_kind: String,
    /// JSON pointer (in a block) to its text.
    pub text: String,
    /// JSON pointer to the conversation id an entry carries.
    pub session: Option<String>,
    /// How long a finished turn waits for its answer to show up in the transcript
    /// before it is sent from the screen.
    #[serde(default = "default_wait_ms")]
    pub wait_ms: u64,
}

fn default_wait_ms() -> u64 {
    2000
}

impl TranscriptSpec {
    /// The file of conversation `session` of a program started in `dir` with the
    /// environment `env` gives.
    pub fn file(
        &self,
        home: &std::path::Path,
        dir: &std::path::Path,
        session: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> std::path::PathBuf {
        let date = todays_folder();
        with_env(&self.path, env)
            .replace("{home}", &home.to_string_lossy())
            .replace("{project}", &project_slug(dir))
            .replace("{session}", session)
            .replace("{date}", &date)
            .into()
    }

    /// The arguments that start conversation `session`.
    pub fn start_args(&self, session: &str) -> Vec<String> {
        self.session_args
            .iter()
            .map(|a| a.replace("{session}", session))
            .collect()
    }

    pub fn wait(&self) -> Duration {
        Duration::from_millis(self.wait_ms)
    }
}

/// Today as a program names its day folders, `YYYY/MM/DD`, in the machine's time zone.
pub fn todays_folder() -> String {
    let today = jiff::Zoned::now().date();
    format!(
        "{:04}/{:02}/{:02}",
        today.year(),
        today.month(),
        today.day()
    )
}

/// `template` with each `{env:NAME|fallback}` (or `{env:NAME}`) replaced by the
/// variable's value when it is set and not empty, else by the fallback (as written, so
/// the other placeholders in it are still replaced).
fn with_env(template: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find("{env:") {
        out.push_str(&rest[..at]);
        let inner = &rest[at + "{env:".len()..];
        // The placeholder ends at the brace that closes it (the fallback may hold some).
        let mut depth = 0;
        let Some(end) = inner.char_indices().find_map(|(i, c)| match c {
            '{' => {
                depth += 1;
                None
            }
            '}' if depth == 0 => Some(i),
            '}' => {
                depth -= 1;
                None
            }
            _ => None,
        }) else {
            out.push_str(&rest[at..]); // not closed: left as written
            return out;
        };
        let (name, fallback) = inner[..end].split_once('|').unwrap_or((&inner[..end], ""));
        match env(name).filter(|v| !v.is_empty()) {
            Some(value) => out.push_str(&value),
            None => out.push_str(fallback),
        }
        rest = &inner[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A working directory as Claude Code names its project folder: every character that is
/// not an ASCII letter or digit becomes `-`.
pub fn project_slug(dir: &std::path::Path) -> String {
    dir.to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Words of a text, lower case, for matching (markup and punctuation are not words).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A text's words, counted.
#[derive(Clone, Debug, Default)]
pub struct Bag {
    counts: HashMap<String, u32>,
    total: u32,
}

impl Bag {
    pub fn of(words: &[String]) -> Bag {
        let mut bag = Bag::default();
        for w in words {
            *bag.counts.entry(w.clone()).or_default() += 1;
            bag.total += 1;
        }
        bag
    }

    /// Words in both (each as often as in the one that has it less).
    fn common(&self, other: &Bag) -> u32 {
        let (small, large) = if self.counts.len() <= other.counts.len() {
            (self, other)
        } else {
            (other, self)
        };
        small
            .counts
            .iter()
            .map(|(w, n)| (*n).min(large.counts.get(w).copied().unwrap_or(0)))
            .sum()
    }

    /// The share of the longer text's words that are in both.
    fn same(&self, other: &Bag) -> f64 {
        let longer = self.total.max(other.total);
        if longer == 0 {
            return 0.0;
        }
        f64::from(self.common(other)) / f64::from(longer)
    }

    /// The share of this text's words that are in `other`.
    fn inside(&self, other: &Bag) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        f64::from(self.common(other)) / f64::from(self.total)
    }
}

/// An answer text of the transcript.
#[derive(Debug)]
struct Answer {
    markdown: String,
    bag: Bag,
    /// Already sent as a turn's answer: never again.
    used: bool,
}

/// The transcript as far as it has been read.
#[derive(Debug)]
pub struct Transcript {
    spec: TranscriptSpec,
    answers: VecDeque<Answer>,
    /// Entries read (a channel that has delivered nothing is not waited for).
    entries: u64,
    /// The caller follows a transcript: answers are waited for even before its first
    /// entry (a quick first answer is on screen before the file has been looked at).
    expected: bool,
    /// Lines that were not entries (garbage, a half-written line), logged once.
    garbage: u64,
    generation: u64,
    session: Option<String>,
    /// Answers sent from here (the rest of a turn's texts came from the screen).
    claimed: u64,
}

impl Transcript {
    pub fn new(spec: TranscriptSpec) -> Transcript {
        Transcript {
            spec,
            answers: VecDeque::new(),
            entries: 0,
            expected: false,
            garbage: 0,
            generation: 0,
            session: None,
            claimed: 0,
        }
    }

    /// How many answers were sent from the transcript so far.
    pub fn claimed(&self) -> u64 {
        self.claimed
    }

    pub fn spec(&self) -> &TranscriptSpec {
        &self.spec
    }

    /// Whether answers are waited for: the transcript has delivered something, or the
    /// caller said one is followed.
    pub fn is_active(&self) -> bool {
        self.expected || self.entries > 0
    }

    /// A transcript is followed: wait for answers from the first turn on.
    pub fn expect(&mut self) {
        self.expected = true;
    }

    /// A turn waited in vain for a transcript that never delivered anything: the
    /// following turns do not wait for it until it does.
    pub fn waited_in_vain(&mut self) {
        if self.entries == 0 && self.expected {
            self.expected = false;
            tracing::warn!(
                "transcript: nothing arrived; answers come from the screen until it does"
            );
        }
    }

    /// Changes with every answer read (the render looks again).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The conversation id the entries carry (the last seen).
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// One line of the file. Anything that is not an entry is skipped.
    pub fn line(&mut self, line: &str) {
        if line.len() > LINE_LIMIT {
            self.skip("a line longer than the limit");
            return;
        }
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            self.skip("a line that is not JSON");
            return;
        };
        self.entry(&entry);
    }

    /// One entry, as the program wrote it.
    pub fn entry(&mut self, entry: &Value) {
        if !entry.is_object() {
            self.skip("an entry that is not an object");
            return;
        }
        self.entries += 1;
        if let Some(id) = self
            .spec
            .session
            .as_deref()
            .and_then(|p| entry.pointer(p))
            .and_then(Value::as_str)
        {
            if self.session.as_deref() != Some(id) {
                self.session = Some(id.to_string());
            }
        }
        if entry.pointer(&self.spec.kind).and_then(Value::as_str)
            != Some(self.spec.answer_kind.as_str())
        {
            return;
        }
        let texts: Vec<String> = match entry.pointer(&self.spec.blocks) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(blocks)) => blocks
                .iter()
                .filter(|b| {
                    b.pointer(&self.spec.block_kind).and_then(Value::as_str)
                        == Some(self.spec.text_kind.as_str())
                })
                .filter_map(|b| b.pointer(&self.spec.text).and_then(Value::as_str))
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        for mut markdown in texts {
            if markdown.trim().is_empty() {
                continue;
            }
            if markdown.len() > ANSWER_LIMIT {
                let mut end = ANSWER_LIMIT;
                while !markdown.is_char_boundary(end) {
                    end -= 1;
                }
                markdown.truncate(end);
            }
            let bag = Bag::of(&words(&crate::core::render::markdown::plain(&markdown)));
            self.answers.push_back(Answer {
                markdown,
                bag,
                used: false,
            });
            if self.answers.len() > ANSWERS_KEPT {
                self.answers.pop_front();
            }
            self.generation += 1;
        }
    }

    fn skip(&mut self, what: &str) {
        self.garbage += 1;
        if self.garbage == 1 {
            tracing::warn!(
                "transcript: skipped {what} (the screen carries on; further skips are not logged)"
            );
        }
    }

    /// The unused answer that is the screen text with these words, best first by share
    /// and then the newest.
    fn find(&self, screen: &Bag) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for (i, a) in self.answers.iter().enumerate() {
            if a.used {
                continue;
            }
            let score = a.bag.same(screen);
            if score >= SAME_ANSWER && best.is_none_or(|(_, s)| score >= s) {
                best = Some((i, score));
            }
        }
        best.map(|(i, _)| i)
    }

    /// Whether an answer for this screen text has arrived.
    pub fn has(&self, screen_words: &[String]) -> bool {
        self.find(&Bag::of(screen_words)).is_some()
    }

    /// Takes the answer for this screen text, if the transcript has it: it is marked
    /// used and never matched again.
    pub fn claim(&mut self, screen_words: &[String]) -> Option<Claimed> {
        let bag = Bag::of(screen_words);
        let i = self.find(&bag)?;
        let answer = &mut self.answers[i];
        answer.used = true;
        self.claimed += 1;
        Some(Claimed {
            markdown: answer.markdown.clone(),
            bag: answer.bag.clone(),
        })
    }
}

/// An answer taken from the transcript for a turn.
#[derive(Debug)]
pub struct Claimed {
    pub markdown: String,
    bag: Bag,
}

impl Claimed {
    /// Whether a further screen text is a part of this answer (the screen drew it as
    /// two texts): it is not shown again.
    pub fn holds(&self, screen_words: &[String]) -> bool {
        Bag::of(screen_words).inside(&self.bag) >= INSIDE_ANSWER
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::Profile;

    fn transcript() -> Transcript {
        Transcript::new(
            Profile::claude()
                .transcript
                .clone()
                .expect("claude has a transcript"),
        )
    }

    fn answer(id: &str, text: &str) -> String {
        serde_json::json!({
            "type": "assistant",
            "sessionId": id,
            "message": {"role": "assistant", "content": [{"type": "text", "text": text}]}
        })
        .to_string()
    }

    #[test]
    fn an_answer_is_found_by_its_words_on_screen_and_used_once() {
        let mut t = transcript();
        assert!(!t.is_active());
        t.line(&answer(
            "s-1",
            "Use the **`venv`** module:\n\n```bash\npython3 -m venv .venv\n```",
        ));
        assert!(t.is_active());
        assert_eq!(t.session(), Some("s-1"));
        let screen = words("Use the venv module:\npython3 -m venv .venv");
        assert!(t.has(&screen));
        let claimed = t.claim(&screen).unwrap();
        assert!(claimed.markdown.contains("```bash"));
        assert!(t.claim(&screen).is_none(), "an answer is used once");
    }

    #[test]
    fn a_followed_transcript_is_waited_for_until_it_proves_silent() {
        let mut t = transcript();
        assert!(!t.is_active(), "nothing followed: never waited for");
        t.expect();
        assert!(t.is_active(), "followed: waited for before its first entry");
        t.waited_in_vain();
        assert!(
            !t.is_active(),
            "a turn waited in vain: the next ones do not"
        );
        t.line(&answer("s", "late but here"));
        assert!(t.is_active());
        t.waited_in_vain();
        assert!(t.is_active(), "a transcript that delivers stays waited for");
    }

    #[test]
    fn a_different_text_is_not_taken_for_the_answer() {
        let mut t = transcript();
        t.line(&answer("s", "Noted: the deploy window is Friday at 16:00."));
        let screen = words("The deploy window is Friday at 16:00, as you told me earlier today.");
        assert!(!t.has(&screen));
    }

    #[test]
    fn tool_calls_user_entries_and_garbage_are_not_answers() {
        let mut t = transcript();
        t.line(r#"{"type":"user","message":{"content":"hello there"}}"#);
        t.line(r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"ls"}}]}}"#);
        t.line("{not json");
        t.line("[1, 2]");
        t.line("");
        assert!(t.is_active());
        assert!(!t.has(&words("hello there")));
        assert!(!t.has(&words("Bash ls")));
        assert_eq!(t.generation(), 0);
    }

    #[test]
    fn a_screen_text_inside_a_claimed_answer_is_part_of_it() {
        let mut t = transcript();
        t.line(&answer(
            "s",
            "one two three four five six seven eight nine ten",
        ));
        let claimed = t
            .claim(&words("one two three four five six seven eight nine"))
            .unwrap();
        assert!(claimed.holds(&words("eight nine ten")));
        assert!(!claimed.holds(&words("eleven twelve")));
    }

    #[test]
    fn the_file_and_the_arguments_come_from_the_profile() {
        let spec = Profile::claude().transcript.clone().unwrap();
        assert_eq!(
            spec.file(
                std::path::Path::new("/home/dev"),
                std::path::Path::new("/home/dev/notes-app"),
                "abc",
                &|_| None,
            ),
            std::path::Path::new("/home/dev/.claude/projects/-home-dev-notes-app/abc.jsonl")
        );
        assert_eq!(spec.start_args("abc"), ["--session-id", "abc"]);
    }

    #[test]
    fn a_programs_home_may_come_from_its_environment() {
        let spec = Profile::codex().transcript.clone().unwrap();
        let home = std::path::Path::new("/home/dev");
        let dir = std::path::Path::new("/home/dev/app");
        let date = todays_folder();
        let unset = spec.file(home, dir, "r", &|_| None);
        assert_eq!(
            unset,
            std::path::PathBuf::from(format!("/home/dev/.codex/sessions/{date}/r.jsonl"))
        );
        let set = spec.file(home, dir, "r", &|name| {
            (name == "CODEX_HOME").then(|| "/srv/codex".to_string())
        });
        assert_eq!(
            set,
            std::path::PathBuf::from(format!("/srv/codex/sessions/{date}/r.jsonl"))
        );
        let empty = |_: &str| Some(String::new());
        assert_eq!(with_env("{env:X|{home}/a}/b", &empty), "{home}/a/b");
        assert_eq!(with_env("{env:X}/b", &|_| Some("v".into())), "v/b");
        assert_eq!(with_env("a/{env:X|b", &|_| None), "a/{env:X|b");
    }
}
