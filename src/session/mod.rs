//! Sessions: the live task that runs one program through the core ([`task`]), the policy
//! of a session's life ([`lifecycle`]), what is remembered across restarts
//! ([`registry`]), and the session's directory and files ([`dirs`], [`files`]).

pub mod dirs;
pub mod files;
pub mod lifecycle;
pub mod registry;
pub mod task;
