//! The registry: what telepty must remember across restarts, in one JSON file under the
//! state directory, replaced atomically (written beside, synced, renamed).
//!
//! It holds every session (name, directory, command, chat, state, last activity, the
//! program's conversation id) and the [`Ledger`] of Telegram updates, so that after a
//! restart — clean or `kill -9` — every session is known and no message is handled twice
//! or dropped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The file's name under the state directory.
pub const FILE_NAME: &str = "registry.json";

/// One session as remembered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub chat: i64,
    pub dir: PathBuf,
    /// The program and its arguments, without the profile's resume arguments.
    pub command: Vec<String>,
    /// The agent (built-in profile) chosen with `/new … --agent NAME`; none: the
    /// configuration's profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The state when last written (`ready`, `suspended`, `crashed` …), for people.
    pub state: String,
    /// Seconds since the Unix epoch.
    pub last_activity: u64,
    /// The program's conversation id, from its exit line (`claude --resume <id>`).
    #[serde(default)]
    pub conversation: Option<String>,
    /// The conversation id telepty chose when it started the program afresh (the
    /// profile's `[transcript] session_args`): it names the transcript file to follow.
    #[serde(default)]
    pub transcript: Option<String>,
    /// Whether the user ever sent the program something: only then is there a
    /// conversation to continue.
    #[serde(default)]
    pub used: bool,
    /// This session's idle timeout in seconds, when it differs from the configuration's
    /// (0: never).
    #[serde(default)]
    pub idle_timeout: Option<u64>,
    /// The chat's active session.
    #[serde(default)]
    pub active: bool,
    /// Resuming stopped after a crash loop, until the user restarts it.
    #[serde(default)]
    pub crash_loop: bool,
    /// When to type "continue" (seconds since the epoch): the user asked to go on when
    /// a usage limit resets.
    #[serde(default)]
    pub continue_at: Option<u64>,
    /// Messages for the program that wait until it is ready, in order.
    #[serde(default)]
    pub pending: Vec<String>,
    /// The forum topic (thread id) the session has to itself, in a forum supergroup.
    #[serde(default)]
    pub topic: Option<i32>,
    /// telepty created `dir` for this session at `/new` (only then may `/delete` offer
    /// to remove it).
    #[serde(default)]
    pub created_dir: bool,
}

/// Whether `name` may name a session: 1–32 of a-z 0-9 - _ (also one path component).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl Record {
    /// Why telepty cannot act on this record, if it cannot.
    pub fn invalid(&self) -> Option<String> {
        if !valid_name(&self.name) {
            return Some("its name is not 1–32 of a-z 0-9 - _".into());
        }
        if self.command.first().is_none_or(|c| c.is_empty()) {
            return Some("its command is empty".into());
        }
        if !self.dir.is_absolute() {
            return Some(format!("its directory {:?} is not absolute", self.dir));
        }
        None
    }
}

/// Which Telegram updates have been handled, so that none is handled twice or dropped
/// across a restart: every update below `offset` is. Telegram forgets updates only
/// when a later `getUpdates` confirms them, so after a `kill -9` it gives some again;
/// those below the offset are skipped. A message that waits for its session to start is
/// handled by being written into the registry (the session's `pending`), in the same
/// atomic write that moves the offset past it.
///
/// Telegram may also start its update ids anew (after a week without updates the next
/// id is random, and can be lower than the offset). Its Bot API server then finds the
/// offset "in the future" and answers with every pending update from the head of its
/// queue, all below the offset, forever: skipping them would leave telepty deaf. So a
/// batch holding only ids below the offset is a reset, and the offset follows the new
/// ids; the ids handled last are kept (`recent`) so that none runs twice.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub offset: i64,
    /// The ids handled last, oldest first (at most [`Ledger::RECENT`]).
    #[serde(default)]
    pub recent: Vec<i64>,
}

/// What to do with a batch of updates (see [`Ledger::admit`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    /// Telegram started its update ids anew.
    pub reset: bool,
    /// For each update of the batch, in order: whether it is still to be handled.
    pub handle: Vec<bool>,
}

impl Ledger {
    /// How many handled ids are remembered beside the offset.
    pub const RECENT: usize = 64;

    /// Which updates of a batch (their ids, in the order given) are still to be handled.
    /// Each one, handled or not, is then passed to [`Ledger::done`].
    pub fn admit(&mut self, ids: &[i64]) -> Admitted {
        let reset = !ids.is_empty() && ids.iter().all(|id| *id < self.offset);
        if reset {
            // The offset follows the new ids; `done` moves it past each.
            self.offset = ids.iter().copied().min().unwrap_or(self.offset);
        }
        let handle = ids
            .iter()
            .map(|id| *id >= self.offset && !self.recent.contains(id))
            .collect();
        Admitted { reset, handle }
    }

    /// Update `id` is handled (or skipped).
    pub fn done(&mut self, id: i64) {
        self.offset = self.offset.max(id + 1);
        if !self.recent.contains(&id) {
            self.recent.push(id);
            if self.recent.len() > Self::RECENT {
                self.recent.remove(0);
            }
        }
    }
}

/// Everything the registry file holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    #[serde(default)]
    pub sessions: Vec<Record>,
    #[serde(default)]
    pub updates: Ledger,
}

/// A registry that cannot be read or written, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot read the registry {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the registry {path} is not valid ({message}); telepty will not overwrite it: \
         repair it or move it away (the sessions it lists are then forgotten)"
    )]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write the registry {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Registry {
    /// The registry in `state_dir` (empty when there is none yet).
    pub fn load(state_dir: &Path) -> Result<Registry, RegistryError> {
        let path = state_dir.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Registry::default()),
            Err(source) => return Err(RegistryError::Read { path, source }),
        };
        let mut registry: Registry =
            serde_json::from_str(&text).map_err(|e| RegistryError::Invalid {
                path: path.clone(),
                message: e.to_string(),
            })?;
        // A record telepty could not act on (edited by hand, or damaged) is named and
        // skipped; the others are kept.
        let mut n = 0;
        registry.sessions.retain(|r| {
            n += 1;
            match r.invalid() {
                None => true,
                Some(why) => {
                    tracing::error!(
                        "{}: session record {n} ({:?}) skipped: {why}",
                        path.display(),
                        r.name
                    );
                    false
                }
            }
        });
        Ok(registry)
    }

    /// Writes the registry into `state_dir` atomically: a reader (or a restart after a
    /// crash at any moment) sees the old file or the new one, never a mix.
    pub fn save(&self, state_dir: &Path) -> Result<(), RegistryError> {
        let path = state_dir.join(FILE_NAME);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(state_dir)?;
            let tmp = state_dir.join(format!("{FILE_NAME}.tmp"));
            // Left by a crash mid-write (or planted: a symlink is removed, not followed).
            match std::fs::remove_file(&tmp) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            // Only the user may read it: it holds messages waiting for their session. A
            // new file, never one that appeared meanwhile, never through a symlink.
            let mut file = {
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&tmp)?
            };
            let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
            file.write_all(&text)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            // The rename itself must reach the disk.
            std::fs::File::open(state_dir)?.sync_all()
        };
        write().map_err(|source| RegistryError::Write { path, source })
    }
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> Record {
        Record {
            name: name.into(),
            chat: 7,
            dir: PathBuf::from("/tmp/x"),
            command: vec!["claude".into()],
            agent: None,
            state: "ready".into(),
            last_activity: 1,
            conversation: None,
            transcript: None,
            used: false,
            idle_timeout: None,
            active: true,
            crash_loop: false,
            continue_at: None,
            pending: vec!["hello".into()],
            topic: None,
            created_dir: false,
        }
    }

    #[test]
    fn a_record_telepty_cannot_act_on_is_skipped_the_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Registry::default();
        let mut empty = record("empty");
        empty.command.clear();
        let mut relative = record("rel");
        relative.dir = PathBuf::from("x");
        let mut bad = record("../up");
        bad.chat = 8;
        r.sessions = vec![record("alpha"), empty, relative, bad, record("beta")];
        r.save(dir.path()).unwrap();
        let names: Vec<String> = Registry::load(dir.path())
            .unwrap()
            .sessions
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["alpha", "beta"]);
    }

    #[test]
    fn the_ledger_skips_what_was_handled() {
        let mut l = Ledger::default();
        assert_eq!(l.admit(&[10]).handle, [true]);
        l.done(10);
        l.done(12);
        assert_eq!(l.offset, 13);
        assert_eq!(l.admit(&[10, 12, 13]).handle, [false, false, true]);
        l.done(11);
        assert_eq!(l.offset, 13);
    }

    #[test]
    fn a_batch_only_below_the_offset_is_a_reset_and_the_offset_follows_it() {
        let mut l = Ledger::default();
        for id in 900_000..900_100 {
            assert_eq!(l.admit(&[id]).handle, [true]);
            l.done(id);
        }
        assert_eq!(l.recent.len(), Ledger::RECENT);
        // Given again after a kill -9 (the ones at or above the offset are new).
        let again = l.admit(&[900_098, 900_099, 900_100]);
        assert_eq!(
            (again.reset, again.handle),
            (false, vec![false, false, true])
        );
        // Telegram chose new, lower ids: a reset; each is handled once.
        let fresh = l.admit(&[7, 8]);
        assert_eq!((fresh.reset, fresh.handle), (true, vec![true, true]));
        l.done(7);
        l.done(8);
        assert_eq!(l.offset, 9);
        // Given again (no confirmation reached Telegram): handled before, skipped.
        let again = l.admit(&[7, 8, 9]);
        assert_eq!(
            (again.reset, again.handle),
            (false, vec![false, false, true])
        );
        // A reset batch that holds a recently handled id runs only the others.
        l.done(9);
        let odd = l.admit(&[3, 9]);
        assert_eq!((odd.reset, odd.handle), (true, vec![true, false]));
    }

    #[test]
    fn saved_and_loaded_alike_and_a_bad_file_is_named_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Registry::load(dir.path()).unwrap(), Registry::default());
        let mut r = Registry::default();
        r.sessions.push(record("alpha"));
        r.updates.done(5);
        r.save(dir.path()).unwrap();
        assert_eq!(Registry::load(dir.path()).unwrap(), r);
        assert!(!dir.path().join("registry.json.tmp").exists());
        // Only the user reads what waits in it.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        // A planted symlink (or a temp file left by a crash) is replaced, never followed.
        let target = dir.path().join("target");
        std::fs::write(&target, "keep me").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("registry.json.tmp")).unwrap();
        r.save(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
        assert_eq!(Registry::load(dir.path()).unwrap(), r);

        std::fs::write(dir.path().join(FILE_NAME), "{ not json").unwrap();
        let err = Registry::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("registry.json") && err.contains("move it away"),
            "{err}"
        );
    }
}
