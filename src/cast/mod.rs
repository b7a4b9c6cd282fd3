//! Recordings: asciicast v2 read and written ([`asciicast`]), `telepty record`
//! ([`record`]), the program's transcript recorded beside a cast ([`transcript`]), and a
//! recording fed through the core on virtual time ([`replay`]).

pub mod asciicast;
pub mod record;
pub mod replay;
pub mod transcript;
