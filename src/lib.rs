//! telepty drives terminal programs — Claude Code first — from a chat, through a
//! pseudo-terminal, so everything that needs a TTY keeps working.
//!
//! # Layout
//! The modules follow the data flow, PTY → screen → view → render → pacer → chat
//! (`docs/architecture.md` says what each may import):
//! - [`term`]: the terminal side. [`term::pty`] runs a program in a pseudo-terminal
//!   (scrubbed environment, reader and writer threads, graceful stop);
//!   [`term::screen`] is its screen (vt100, title, bells, replies to terminal queries);
//!   [`term::terminal`] holds both together; [`term::keys`] encodes keys and text;
//!   [`term::picture`] draws a screen as a PNG; [`term::raw_mode`] is the user's own
//!   terminal for `record` and `attach`.
//! - [`core`]: pure and clocked, from a screen to chat operations. [`core::profile`]
//!   (screen patterns as data) → [`core::view`] (turns, tool calls, prompts, state) →
//!   [`core::render`] (live messages, prompts with buttons, answers, records; Telegram
//!   HTML) → [`core::pacer`] (each chat's flood budget), driven per session by
//!   [`core::pipeline`]; [`core::ops`] is the chat-operation vocabulary and
//!   [`core::buttons`] what a button carries.
//! - [`session`]: [`session::task`] runs one program through the pipeline in its own
//!   task; [`session::lifecycle`] is the policy of its life (idle suspend, LRU, crash
//!   loops, usage-limit resets); [`session::registry`] what is remembered across
//!   restarts; [`session::dirs`] and [`session::files`] its directory and files.
//! - [`chat`]: the front ends. [`chat::telegram`] is `telepty run` (polling, routing,
//!   commands, the outbox that performs operations through Telegram's limits);
//!   [`chat::console`] is `telepty local`; [`chat::model`] applies operations as a
//!   reader would see them (`telepty replay`, tests).
//! - [`cast`]: recordings — [`cast::asciicast`] (v2, read and written),
//!   [`cast::record`] (`telepty record`), [`cast::replay`] (a recording through the core
//!   on virtual time).
//! - [`control`]: the local socket of a running bot ([`control::socket`]: `ls`, `send`,
//!   `attach`) and the attached terminal ([`control::attach`]).
//! - Around them: [`config`] (the TOML file and `TELEPTY_*` variables), [`doctor`]
//!   (`telepty doctor`), [`guard`] (the checks of telepty's own process and files before
//!   it serves anyone), [`alloc`] (memory given back to the system).
//!
//! The test kit — the fake Bot API, the mock of the Anthropic API and the binaries that
//! record fixtures with them — is the `telepty-testkit` crate (`testkit/`), a
//! dev-dependency: none of it is in the product.

pub mod alloc;
pub mod cast;
pub mod chat;
pub mod config;
pub mod control;
pub mod core;
pub mod doctor;
pub mod guard;
pub mod session;
pub mod term;

pub use cast::asciicast::Cast;
pub use term::keys::Key;
pub use term::pty::{Command, ExitInfo, Pty};
pub use term::screen::{Screen, Size};
pub use term::terminal::Terminal;
