//! telepty's test kit, never part of the product: what the tests and the fixture
//! recordings talk to instead of the outside world.
//!
//! - [`fake_telegram`]: a fake Telegram Bot API server (teloxide accepts another API
//!   URL): chats, flood limits, HTML validation, faults, and a driver API for tests.
//! - [`mock`]: a mock of the Anthropic Messages API, so the real Claude Code runs
//!   offline on scripted scenarios.
//! - Binaries: `mock-anthropic` (serve a scenario) and `record-fixtures` (record the
//!   real Claude Code on every scenario).

pub mod fake_telegram;
pub mod mock;
