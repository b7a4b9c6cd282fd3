//! Test tools: mocks of the Anthropic Messages API and of the OpenAI Responses API, so
//! the real Claude Code and Codex CLI can be recorded and tested offline.

pub mod anthropic;
pub mod claude_home;
pub mod codex_home;
pub mod openai;
pub mod scenario;
