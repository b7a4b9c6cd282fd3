//! Recordings: asciicast v2 read and written ([`asciicast`]), `telepty record`
//! ([`record`]), and a recording fed through the core on virtual time ([`replay`]).

pub mod asciicast;
pub mod record;
pub mod replay;
