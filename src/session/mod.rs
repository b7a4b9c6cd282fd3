//! Sessions: the live task that runs one program through the core ([`task`]), the policy
//! of a session's life ([`lifecycle`]), what is remembered across restarts
//! ([`registry`]), the session's directory and files ([`dirs`], [`files`]), and the
//! follower of the program's own transcript of the conversation ([`transcript`]), and the
//! status line that reports a session's vitals ([`status_line`]).

pub mod dirs;
pub mod files;
pub mod lifecycle;
pub mod registry;
pub mod status_line;
pub mod task;
pub mod transcript;

pub mod command;
pub mod supervisor;

/// A session: the chat it belongs to and its name there (names are unique per chat).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId {
    pub chat: i64,
    pub name: String,
}

impl SessionId {
    pub fn new(chat: i64, name: impl Into<String>) -> SessionId {
        SessionId {
            chat,
            name: name.into(),
        }
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// One run of a session's program: its chat messages are numbered per run, so a
/// message id means something only with the run it came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProgramId {
    pub session: SessionId,
    /// Counts the programs the supervisor started, across sessions.
    pub run: u64,
}
