//! telepty drives terminal programs — Claude Code first — from a chat, through a
//! pseudo-terminal, so everything that needs a TTY keeps working.
//!
//! # Layout
//! The data flows PTY → screen → view → render → pacer → chat (the Telegram front end is
//! later work):
//! - [`pty`]: a program in a pseudo-terminal: spawn, scrubbed environment, reader and
//!   writer threads, graceful stop.
//! - [`screen`]: the program's screen (vt100), title, bells, replies to terminal queries.
//! - [`terminal`]: a PTY and its screen together, with key and paste helpers.
//! - [`keys`]: keys and text as terminal bytes.
//! - [`asciicast`]: asciicast v2 recordings, read and written.
//! - [`replay`]: a recording fed through the pipeline on virtual time.
//! - [`view`]: what the screen means, read through a profile: turns, tool calls, prompts,
//!   state; rows followed across frames.
//! - [`render`]: what the chat should show: live messages, prompts with buttons, answers,
//!   records; Telegram HTML; the `plain` profile's mirror.
//! - [`pipeline`]: screen → view → render → pacer for one session, on a given clock.
//! - [`chat`]: a model chat that applies operations, as a reader sees them.
//! - [`record`]: `telepty record`, interactive or from a step file.
//! - [`profile`]: screen patterns as data (the built-in `claude` table).
//! - [`buttons`]: what a chat button carries, encoded and decoded in one place.
//! - [`pacer`]: the per-chat flood budget: when chat operations may go out.
//!
//! The test kit — the fake Bot API, the mock of the Anthropic API and the binaries that
//! record fixtures with them — is the `telepty-testkit` crate (`testkit/`), a
//! dev-dependency: none of it is in the product.

pub mod alloc;
pub mod asciicast;
pub mod attach;
pub mod bot;
pub mod buttons;
pub mod chat;
pub mod config;
pub mod console;
pub mod control;
pub mod doctor;
pub mod files;
pub mod guard;
pub mod keys;
pub mod lifecycle;
pub mod local;
pub mod pacer;
pub mod picture;
pub mod pipeline;
pub mod profile;
pub mod pty;
pub mod record;
pub mod registry;
pub mod render;
pub mod replay;
pub mod screen;
pub mod session;
pub mod terminal;
pub mod view;

pub use asciicast::Cast;
pub use keys::Key;
pub use pty::{Command, ExitInfo, Pty};
pub use screen::{Screen, Size};
pub use terminal::Terminal;
