//! The pure core: from a screen to chat operations, on a clock the caller passes.
//!
//! profile (what screen lines mean, as data) → [`view`] (what the screen means now) →
//! [`render`] (what the chat should show) → [`pacer`] (when it may go out), driven per
//! session by [`pipeline`]; [`transcript`] reads the program's own log of the
//! conversation, whose answers (exact markdown) the render prefers to the screen's;
//! [`typing`] says when a message's text and its Enter go.
//! [`ops`] is the vocabulary they hand on: messages, buttons
//! and the operations that send, edit and delete them.
//!
//! The core never does I/O: no tokio I/O, no teloxide, no PTY. It runs the same under
//! the bot's wall clock and a recording's timestamps.

pub mod buttons;
pub mod ops;
pub mod pacer;
pub mod pipeline;
pub mod profile;
pub mod render;
pub mod transcript;
pub mod typing;
pub mod view;
pub mod vitals;
