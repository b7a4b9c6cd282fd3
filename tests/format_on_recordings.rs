//! Formatting on recordings (issue 16): what of each answer's markdown the final chat
//! keeps as Telegram formatting — the rules of `../shared/claude-code/grade/format_grade.py`:
//! each fenced code block as a `<pre>` holding its lines, each inline code span as
//! `<code>`, each heading and `**bold**` span as `<b>`, each link as `<a href>`. Every
//! message the chat ever showed must also be HTML Telegram accepts.

mod common;

use std::sync::Arc;

use regex::Regex;
use telepty::cast::replay::replay_through;
use telepty::chat::model::ModelChat;
use telepty::core::pacer::Limits;
use telepty::Cast;
use telepty_testkit::fake_telegram::parse_telegram_html;

use common::{sidecar_of, Recordings};

/// Found and expected, per kind of formatting.
#[derive(Debug, Default)]
struct Score {
    kinds: std::collections::BTreeMap<&'static str, (usize, usize)>,
    misses: Vec<String>,
}

impl Score {
    fn add(&mut self, kind: &'static str, found: bool, what: &str, cast: &str) {
        let e = self.kinds.entry(kind).or_default();
        e.1 += 1;
        if found {
            e.0 += 1;
        } else {
            self.misses.push(format!("{cast} {kind}: {what:?}"));
        }
    }

    fn share(&self, kind: &str) -> f64 {
        self.kinds.get(kind).map_or(
            1.0,
            |(f, n)| if *n == 0 { 1.0 } else { *f as f64 / *n as f64 },
        )
    }

    fn figures(&self) -> String {
        self.kinds
            .iter()
            .map(|(k, (f, n))| format!("{k} {f}/{n}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Text without tags or whitespace, entities decoded (as the grader compares).
fn norm(s: &str) -> String {
    let tags = Regex::new(r"<[^>]+>").unwrap();
    let text = tags.replace_all(s, "");
    telepty::core::render::html::plain(&text)
        .split_whitespace()
        .collect()
}

/// Inner HTML of every `<tag …>…</tag>`.
fn elements(doc: &str, tag: &str) -> Vec<String> {
    let re = Regex::new(&format!(r"(?s)<{tag}(?:\s[^>]*)?>(.*?)</{tag}>")).unwrap();
    re.captures_iter(doc).map(|c| c[1].to_string()).collect()
}

/// Inline code spans of prose: one backtick, text without backticks or line breaks,
/// one backtick (the grader's `(?<!`)`([^`\n]+)`(?!`)`).
fn inline_spans(prose: &str) -> Vec<String> {
    let c: Vec<char> = prose.chars().collect();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if c[i] == '`' && (i == 0 || c[i - 1] != '`') {
            let mut j = i + 1;
            while j < c.len() && c[j] != '`' && c[j] != '\n' {
                j += 1;
            }
            if j < c.len() && c[j] == '`' && j > i + 1 && c.get(j + 1) != Some(&'`') {
                spans.push(c[i + 1..j].iter().collect());
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    spans
}

fn grade(score: &mut Score, name: &str, markdown: &str, doc: &str) {
    let fence = Regex::new(r"(?sm)^```[^\n]*\n(.*?)^```[ \t]*$").unwrap();
    let heading = Regex::new(r"(?m)^#{1,6}[ \t]+(.+?)[ \t#]*$").unwrap();
    let bold = Regex::new(r"\*\*([^*\n]+)\*\*").unwrap();
    let link = Regex::new(r"\[([^\]\n]+)\]\(([^)\s]+)\)").unwrap();
    let anchor = Regex::new(r#"(?s)<a\s+href="([^"]*)"[^>]*>(.*?)</a>"#).unwrap();
    let pres: Vec<String> = elements(doc, "pre").iter().map(|p| norm(p)).collect();
    let codes: Vec<String> = elements(doc, "code").iter().map(|c| norm(c)).collect();
    let bolds: Vec<String> = elements(doc, "b").iter().map(|b| norm(b)).collect();
    let links: Vec<(String, String)> = anchor
        .captures_iter(doc)
        .map(|c| (telepty::core::render::html::plain(&c[1]), norm(&c[2])))
        .collect();
    for block in fence.captures_iter(markdown) {
        let b = norm(&block[1]);
        let found = !b.is_empty() && pres.iter().any(|p| p.contains(&b));
        score.add("code_blocks", found, block[1].trim(), name);
    }
    let prose = fence.replace_all(markdown, "");
    for span in inline_spans(&prose) {
        let n = norm(&span);
        let found = codes.contains(&n) || pres.contains(&n);
        score.add("inline_code", found, &span, name);
    }
    for h in heading.captures_iter(&prose) {
        score.add("headings", bolds.contains(&norm(&h[1])), &h[1], name);
    }
    for b in bold.captures_iter(&prose) {
        score.add("bold", bolds.contains(&norm(&b[1])), &b[1], name);
    }
    for l in link.captures_iter(&prose) {
        let found = links.iter().any(|(u, t)| *u == l[2] && *t == norm(&l[1]));
        score.add("links", found, &l[1], name);
    }
}

/// Grades every recording of `set` whose answers hold markdown; every message must be
/// HTML Telegram accepts.
fn score(set: Recordings) -> Score {
    let mut score = Score::default();
    for path in set.casts() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let cast = Cast::read_file(&path).unwrap();
        let sidecar = sidecar_of(&path);
        let (ops, pipeline) = replay_through(&cast, Arc::new(set.profile()), Limits::default());
        let answers = sidecar["answers"].as_array().map_or(0, Vec::len);
        let from_transcript = pipeline.transcript().map_or(0, |t| t.claimed());
        eprintln!("{name}: {from_transcript} of {answers} answers from the transcript");
        let mut chat = ModelChat::default();
        for op in &ops {
            chat.apply(op);
        }
        for content in chat.history() {
            if let Err(e) = parse_telegram_html(&content.text) {
                score.misses.push(format!("{name}: Telegram refuses {e}"));
                score.add("valid_html", false, &content.text, &name);
            }
        }
        let doc: Vec<String> = chat.messages().map(|m| m.content.text.clone()).collect();
        let doc = doc.join("\n");
        for answer in sidecar["answers"].as_array().into_iter().flatten() {
            if let Some(md) = answer.as_str() {
                grade(&mut score, &name, md, &doc);
            }
        }
    }
    score
}

/// With the transcript beside each cast (Claude Code 2.1.332: the reference casts and the
/// project's own fixtures): every code block, inline code span, heading, bold span and
/// link.
#[test]
fn with_transcripts_every_formatting_is_kept() {
    let mut score = score(Recordings::Reference2_1_332);
    eprintln!("2.1.332 with transcripts: {}", score.figures());
    for set in [Recordings::OwnClaudeCode, Recordings::OwnCodex] {
        let own = self::score(set);
        eprintln!("{set:?} with transcripts: {}", own.figures());
        for (kind, (found, of)) in own.kinds {
            let e = score.kinds.entry(kind).or_default();
            e.0 += found;
            e.1 += of;
        }
        score.misses.extend(own.misses);
    }
    assert!(
        score.kinds.get("headings").is_some_and(|k| k.1 > 0),
        "graded nothing"
    );
    for kind in [
        "code_blocks",
        "inline_code",
        "headings",
        "bold",
        "links",
        "valid_html",
    ] {
        assert_eq!(
            score.share(kind),
            1.0,
            "{kind}: {}\n{}",
            score.figures(),
            score.misses.join("\n")
        );
    }
}

/// Without transcripts the screen is all there is: what it draws bold (headings,
/// `**bold**`) and in the inline-code colour is kept, ≥ 90 % (code blocks are drawn
/// without anything that marks them); its messages are valid HTML.
#[test]
fn without_transcripts_the_screen_keeps_headings_bold_and_inline_code() {
    for set in [
        Recordings::Reference2_1_197,
        Recordings::Reference2_1_331,
        Recordings::Own2_1_331,
    ] {
        let score = score(set);
        eprintln!("{set:?} from the screen: {}", score.figures());
        assert!(
            score.kinds.get("headings").is_some_and(|k| k.1 > 0),
            "graded nothing"
        );
        for kind in ["headings", "bold", "inline_code"] {
            assert!(
                score.share(kind) >= 0.9,
                "{set:?} {kind}: {}\n{}",
                score.figures(),
                score.misses.join("\n")
            );
        }
        assert_eq!(
            score.share("valid_html"),
            1.0,
            "{}",
            score.misses.join("\n")
        );
    }
}

/// The grader can fail: a chat that shows the words without the formatting scores 0.
#[test]
fn the_grader_sees_lost_formatting() {
    let mut score = Score::default();
    grade(
        &mut score,
        "x",
        "# Title\n\nUse `venv` and **care**, see [docs](https://x.org).\n\n```py\nprint(1)\n```\n",
        "Title\n\nUse venv and care, see docs.\n\nprint(1)",
    );
    assert_eq!(
        score.figures(),
        "bold 0/1; code_blocks 0/1; headings 0/1; inline_code 0/1; links 0/1"
    );
    let mut score = Score::default();
    grade(
        &mut score,
        "x",
        "# Title\n\nUse `venv` and **care**, see [docs](https://x.org).\n\n```py\nprint(1)\n```\n",
        "<b>Title</b>\n\nUse <code>venv</code> and <b>care</b>, see <a href=\"https://x.org\">docs</a>.\n\n<pre><code class=\"language-py\">print(1)</code></pre>",
    );
    assert_eq!(
        score.figures(),
        "bold 1/1; code_blocks 1/1; headings 1/1; inline_code 1/1; links 1/1"
    );
}
