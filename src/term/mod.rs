//! The terminal side: a program in a pseudo-terminal and the screen it draws — the first
//! two stages of the data flow — plus the keys sent to it and the user's own terminal
//! for the commands that take it over.
//!
//! Nothing here knows what a program's screen means; that is [`crate::core::view`].

pub mod keys;
pub mod picture;
pub mod pty;
pub mod raw_mode;
pub mod screen;
pub mod terminal;
