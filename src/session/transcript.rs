//! Following the program's transcript file as it grows (the I/O edge of
//! [`crate::core::transcript`]).
//!
//! A cheap poll, not a watch: a stat every [`POLL`] and a read of what was appended.
//! Claude Code writes an answer as it completes, and a finished turn waits up to the
//! profile's `wait_ms` for it, so a quarter second is quick enough and costs nothing.
//! The file may be missing (not written yet), truncated or replaced (rotated): each is
//! logged once and the follower goes on; the screen never waits on it for longer than
//! that wait.
//!
//! Which file: the one of the conversation telepty started (`--session-id`), or, when
//! that one does not grow, whichever `.jsonl` in its folder does — a program that moved
//! the conversation to a new file on resume is followed there.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::core::transcript::LINE_LIMIT;

/// How often the file is looked at.
pub const POLL: Duration = Duration::from_millis(250);
/// The most read in one look (a long history is read over several).
const READ_CHUNK: u64 = 4 * 1024 * 1024;

/// What to follow.
#[derive(Clone, Debug)]
pub struct Follow {
    /// The conversation's file, if known.
    pub file: Option<PathBuf>,
    /// The folder where the program keeps its transcripts (another file there that
    /// grows is the conversation when `file` does not).
    pub dir: PathBuf,
    /// Start at the file's current end: what is there already is an earlier run's.
    pub from_end: bool,
}

/// A line of the transcript and the name of the file it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Followed {
    pub file: String,
    pub line: String,
}

impl Follow {
    /// What to follow for `command` when it runs the profile's program (its `binary`)
    /// and the profile says where its transcript is: a new conversation, its file not
    /// known, so the file that grows in its folder. `HOME` is the command's, or ours.
    pub fn for_command(
        profile: &crate::core::profile::Profile,
        command: &crate::term::pty::Command,
    ) -> Option<Follow> {
        let spec = profile.transcript.as_ref()?;
        let binary = profile.program.binary.as_deref()?;
        let name = Path::new(&command.program).file_name()?;
        if name != binary {
            return None;
        }
        // The command's own variables, else telepty's, which it inherits.
        let env = |name: &str| {
            command
                .env
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .or_else(|| std::env::var(name).ok())
        };
        let home = env("HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(PathBuf::from))?;
        let project = std::fs::canonicalize(&command.cwd).unwrap_or_else(|_| command.cwd.clone());
        Some(Follow {
            file: None,
            dir: spec
                .file(&home, &project, "-", &env)
                .parent()?
                .to_path_buf(),
            from_end: true,
        })
    }
}

/// Follows, looking every `poll`, until the receiver goes away or `stop` is cancelled
/// (then after one last look). The follower is made by the caller, before the program
/// starts: the file's end is taken then.
pub async fn follow(
    mut follower: Follower,
    lines: mpsc::Sender<Followed>,
    poll: Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled(), if !last => last = true,
        }
        if lines.is_closed() {
            return;
        }
        // File reads are small and local; a blocking read here would still hold a
        // runtime thread, so it goes to the blocking pool.
        let (back, new) = match tokio::task::spawn_blocking(move || {
            let new = follower.look();
            (follower, new)
        })
        .await
        {
            Ok(r) => r,
            Err(_) => return,
        };
        follower = back;
        let file = follower
            .current()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for line in new {
            let followed = Followed {
                file: file.clone(),
                line,
            };
            if lines.send(followed).await.is_err() {
                return;
            }
        }
        if last {
            return;
        }
    }
}

/// The follower's state between looks.
#[derive(Debug)]
pub struct Follower {
    what: Follow,
    /// The file followed now, and where in it the next read starts.
    current: Option<PathBuf>,
    offset: u64,
    inode: Option<u64>,
    /// The end of a line not yet written whole.
    partial: Vec<u8>,
    /// The partial line grew past the limit: skipped up to its end.
    skipping: bool,
    /// Sizes of the folder's other files when following began (they are not ours
    /// unless they grow).
    others: HashMap<PathBuf, u64>,
    /// Our file has grown since following began: the folder is no longer looked at.
    settled: bool,
    warned: bool,
}

impl Follower {
    pub fn new(what: Follow) -> Follower {
        let others = jsonl_sizes(&what.dir)
            .into_iter()
            .filter(|(p, _)| Some(p) != what.file.as_ref())
            .collect();
        let (offset, inode) = match what.file.as_deref().map(std::fs::metadata) {
            Some(Ok(m)) if what.from_end => (m.len(), Some(m.ino())),
            Some(Ok(m)) => (0, Some(m.ino())),
            _ => (0, None),
        };
        Follower {
            current: what.file.clone(),
            what,
            offset,
            inode,
            partial: Vec::new(),
            skipping: false,
            others,
            settled: false,
            warned: false,
        }
    }

    /// The file followed now.
    pub fn current(&self) -> Option<&Path> {
        self.current.as_deref()
    }

    /// The complete lines appended since the last look.
    pub fn look(&mut self) -> Vec<String> {
        let meta = self.current.as_deref().map(std::fs::metadata);
        let grew = matches!(&meta, Some(Ok(m)) if m.len() > self.offset);
        if !grew && !self.settled {
            if let Some(other) = self.grown_other() {
                tracing::info!(file = %other.display(), "transcript: following the file that grows");
                self.offset = self.others.get(&other).copied().unwrap_or(0);
                self.current = Some(other);
                self.inode = None;
                self.partial.clear();
                return self.look();
            }
        }
        let Some(path) = self.current.clone() else {
            return Vec::new();
        };
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(_) => return Vec::new(), // not written yet
        };
        if self.inode.is_some_and(|i| i != meta.ino()) {
            self.warn(&path, "was replaced; reading the new file from its start");
            self.offset = 0;
            self.partial.clear();
        } else if meta.len() < self.offset {
            self.warn(&path, "was truncated; reading it again from its start");
            self.offset = 0;
            self.partial.clear();
        }
        self.inode = Some(meta.ino());
        if meta.len() == self.offset {
            return Vec::new();
        }
        self.settled = true;
        let mut bytes = Vec::new();
        let read = std::fs::File::open(&path).and_then(|mut f| {
            f.seek(SeekFrom::Start(self.offset))?;
            f.take(READ_CHUNK).read_to_end(&mut bytes)
        });
        if let Err(e) = read {
            self.warn(&path, &format!("cannot be read ({e})"));
            return Vec::new();
        }
        self.offset += bytes.len() as u64;
        let lines = self.split(&bytes);
        tracing::debug!(file = %path.display(), lines = lines.len(), "transcript: read");
        lines
    }

    /// Complete lines of what was read, the rest kept for the next look.
    fn split(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            if self.skipping {
                self.skipping = false;
            } else {
                self.partial.extend_from_slice(&rest[..end]);
                lines.push(String::from_utf8_lossy(&self.partial).into_owned());
            }
            self.partial.clear();
            rest = &rest[end + 1..];
        }
        if !self.skipping {
            self.partial.extend_from_slice(rest);
            if self.partial.len() > LINE_LIMIT {
                // A line longer than any answer (a huge tool output): not kept in memory.
                self.partial.clear();
                self.skipping = true;
            }
        }
        lines
    }

    /// Another transcript in the folder that grew since following began.
    fn grown_other(&self) -> Option<PathBuf> {
        jsonl_sizes(&self.what.dir)
            .into_iter()
            .filter(|(p, _)| Some(p) != self.current.as_ref())
            .find(|(p, size)| self.others.get(p).is_none_or(|was| size > was))
            .map(|(p, _)| p)
    }

    fn warn(&mut self, path: &Path, what: &str) {
        if !self.warned {
            self.warned = true;
            tracing::warn!(file = %path.display(), "transcript {what} (the screen carries on; not logged again)");
        }
    }
}

/// The `.jsonl` files of a folder and their sizes (none if it cannot be read).
fn jsonl_sizes(dir: &Path) -> Vec<(PathBuf, u64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(PathBuf, u64)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|p| std::fs::metadata(&p).ok().map(|m| (p, m.len())))
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn lines_arrive_whole_as_the_file_grows() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jsonl");
        let mut f = Follower::new(Follow {
            file: Some(file.clone()),
            dir: dir.path().to_path_buf(),
            from_end: true,
        });
        assert!(f.look().is_empty(), "missing: nothing yet");
        append(&file, "{\"a\":1}\n{\"b\":");
        assert_eq!(f.look(), ["{\"a\":1}"]);
        append(&file, "2}\n");
        assert_eq!(f.look(), ["{\"b\":2}"]);
        assert!(f.look().is_empty());
    }

    #[test]
    fn what_was_there_before_a_resume_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jsonl");
        append(&file, "old\n");
        let mut f = Follower::new(Follow {
            file: Some(file.clone()),
            dir: dir.path().to_path_buf(),
            from_end: true,
        });
        append(&file, "new\n");
        assert_eq!(f.look(), ["new"]);
    }

    #[test]
    fn a_truncated_or_replaced_file_is_read_again_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jsonl");
        let mut f = Follower::new(Follow {
            file: Some(file.clone()),
            dir: dir.path().to_path_buf(),
            from_end: false,
        });
        append(&file, "one\ntwo\n");
        assert_eq!(f.look(), ["one", "two"]);
        std::fs::write(&file, "3\n").unwrap();
        assert_eq!(f.look(), ["3"]);
        let moved = dir.path().join("a.jsonl.1");
        std::fs::rename(&file, &moved).unwrap();
        append(&file, "fresh\n");
        assert_eq!(f.look(), ["fresh"]);
    }

    #[test]
    fn the_file_that_grows_is_followed_when_ours_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("ours.jsonl");
        let old = dir.path().join("old.jsonl");
        append(&old, "earlier\n");
        let mut f = Follower::new(Follow {
            file: Some(ours),
            dir: dir.path().to_path_buf(),
            from_end: true,
        });
        assert!(
            f.look().is_empty(),
            "an old file that does not grow is not ours"
        );
        let forked = dir.path().join("forked.jsonl");
        append(&forked, "answer\n");
        assert_eq!(f.look(), ["answer"]);
        assert_eq!(f.current(), Some(forked.as_path()));
    }

    #[test]
    fn an_endless_line_is_skipped_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jsonl");
        let mut f = Follower::new(Follow {
            file: Some(file.clone()),
            dir: dir.path().to_path_buf(),
            from_end: false,
        });
        let chunk = "x".repeat(1024 * 1024);
        for _ in 0..(LINE_LIMIT / chunk.len() + 2) {
            append(&file, &chunk);
            assert!(f.look().is_empty());
        }
        assert!(f.partial.len() <= LINE_LIMIT);
        append(&file, "\nnext\n");
        assert_eq!(f.look(), ["next"]);
    }
}
