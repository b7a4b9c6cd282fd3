//! What an agent's UI looks like is data (the profile table), not Rust: no Claude Code
//! word or glyph may appear in a string or character literal of the product's code,
//! outside its unit tests (a `#[cfg(test)]` module, or a `tests.rs` file) and comments.

use std::path::{Path, PathBuf};

/// The agents' words that belong to `profiles/claude.toml` and `profiles/codex.toml`.
const WORDS: &[&str] = &[
    "@anthropic-ai/claude-code",
    "Claude will",
    "Claude Code (npm",
    "\"continue\"",
    "--continue",
    "esc to interrupt",
    "Do you want to",
    "statusLine",
    "--settings",
    "OpenAI Codex",
    "Ask Codex",
    "codex resume",
    "Would you like to",
];

/// Claude Code's glyphs: the profile's rows and capture groups strip them, never code.
const GLYPHS: &[char] = &['●', '⎿', '❯', '╌', '✻', '✶', '⏵'];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The file's code: unit tests cut off, comment lines left out.
fn code(text: &str) -> Vec<(usize, &str)> {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l))
        .collect()
}

#[test]
fn no_claude_code_word_or_glyph_in_the_products_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    let mut found = Vec::new();
    for file in &files {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue; // a module's unit tests, in a file of their own
        }
        let name = file.strip_prefix(root).unwrap().display().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in code(&text) {
            for word in WORDS {
                if line.contains(word) {
                    found.push(format!("{name}:{n}: {word:?} in {}", line.trim()));
                }
            }
            for glyph in GLYPHS {
                let in_literal = line.contains('"') || line.contains('\'');
                if in_literal && line.contains(*glyph) {
                    found.push(format!("{name}:{n}: {glyph:?} in {}", line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "belongs in the profile:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_a_word_in_code_and_not_in_comments_or_tests() {
    let text = "// \"continue\" in a comment\nlet x = \"continue\";\n#[cfg(test)]\nmod tests { \"continue\" }";
    let lines = code(text);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].0, 2);
}
