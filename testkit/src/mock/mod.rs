//! Test tools: a mock of the Anthropic Messages API, so the real Claude Code can be
//! recorded and tested offline.

pub mod anthropic;
pub mod claude_home;
pub mod scenario;
