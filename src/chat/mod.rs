//! The chats the core's operations reach: Telegram ([`telegram`], `telepty run`), the
//! console ([`console`], `telepty local`), and a model chat that applies operations as a
//! reader would see them ([`model`], for `telepty replay` and tests).

pub mod console;
pub mod model;
pub mod telegram;
