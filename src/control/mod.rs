//! The local side door of a running bot: the control socket ([`socket`]: `telepty ls`,
//! `send`, `attach`) and the attached terminal ([`attach`]).

pub mod attach;
pub mod socket;
