//! Shared by the integration tests that walk the recordings.
#![allow(dead_code)] // each test binary uses a part of it

use std::path::{Path, PathBuf};

pub mod bot;
pub mod desk;

/// The crate's root; the reference recordings are in `../shared/` beside it.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every folder of recordings the tests walk, named once here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recordings {
    /// The project's own Claude Code recordings (`fixtures/claude-code`, the pinned version,
    /// with their transcripts).
    OwnClaudeCode,
    /// The project's own recordings of Claude Code 2.1.331, kept as they were (no
    /// transcripts).
    Own2_1_331,
    /// The project's own recordings of plain terminal programs (a shell, less, vim).
    OwnTerminal,
    /// Reference recordings of Claude Code 2.1.197 (inline drawing).
    Reference2_1_197,
    /// Reference recordings of Claude Code 2.1.331 (fullscreen, alternate screen).
    Reference2_1_331,
    /// Reference recordings of Claude Code 2.1.332, each with its session transcript.
    Reference2_1_332,
    /// The project's own recordings of the Codex CLI (`fixtures/codex`, the pinned version).
    OwnCodex,
}

impl Recordings {
    /// Every folder.
    pub const ALL: [Recordings; 7] = [
        Recordings::OwnClaudeCode,
        Recordings::Own2_1_331,
        Recordings::OwnTerminal,
        Recordings::Reference2_1_197,
        Recordings::Reference2_1_331,
        Recordings::Reference2_1_332,
        Recordings::OwnCodex,
    ];

    /// The folder, under the crate root or `../shared/` beside it.
    pub fn dir(self) -> PathBuf {
        root().join(match self {
            Recordings::OwnClaudeCode => "fixtures/claude-code",
            Recordings::Own2_1_331 => "fixtures/claude-code-2.1.331",
            Recordings::OwnTerminal => "fixtures/terminal",
            Recordings::Reference2_1_197 => "../shared/claude-code/casts",
            Recordings::Reference2_1_331 => "../shared/claude-code/casts-2.1.331",
            Recordings::Reference2_1_332 => "../shared/claude-code/casts-2.1.332",
            Recordings::OwnCodex => "fixtures/codex",
        })
    }

    /// The profile that reads them.
    pub fn profile(self) -> telepty::core::profile::Profile {
        use telepty::core::profile::Profile;
        match self {
            Recordings::OwnCodex => Profile::codex(),
            Recordings::OwnTerminal => Profile::plain(),
            _ => Profile::claude(),
        }
    }

    /// Its casts, sorted (see [`casts_in`]).
    pub fn casts(self) -> Vec<PathBuf> {
        casts_in(&self.dir())
    }
}

/// Casts in a folder, sorted. A missing or empty folder fails the test: it must not pass
/// by checking nothing.
pub fn casts_in(dir: &Path) -> Vec<PathBuf> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut casts: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cast"))
        .collect();
    casts.sort();
    assert!(!casts.is_empty(), "no recordings in {}", dir.display());
    casts
}

/// The sidecar `NAME.expect.json` of `NAME.cast`.
pub fn sidecar_of(cast: &Path) -> serde_json::Value {
    let path = cast.with_extension("expect.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The pinned Codex CLI's binary (`scripts/install-codex` installs it once); its tests
/// fail, never skip, when it cannot be installed.
pub fn codex() -> PathBuf {
    let out = std::process::Command::new(root().join("scripts/install-codex"))
        .output()
        .expect("cannot run scripts/install-codex");
    assert!(
        out.status.success(),
        "THE CODEX TESTS NEED THE CODEX CLI FROM NPM, AND ITS INSTALL FAILED (is the npm \
         registry reachable?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}
