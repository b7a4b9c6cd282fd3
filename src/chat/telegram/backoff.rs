//! How long to wait before calling the Bot API again after it failed, and when to say so.
//!
//! telepty runs for months on a machine whose network comes and goes: a failure at boot
//! or at 3 a.m. must never end the service (a systemd restart limit would then give up
//! and remote access would be gone until someone logs in at the machine). Network and
//! server trouble is retried with capped exponential backoff (1 s … 60 s); a refused
//! token or another instance polling the same bot cannot heal by retrying fast, so they
//! are said clearly and retried slowly. Each kind of trouble is logged once, when it
//! starts, and again when it ends.

use std::time::Duration;

/// The first pause after a failure.
pub const FIRST: Duration = Duration::from_secs(1);
/// The longest pause between attempts.
pub const CAP: Duration = Duration::from_secs(60);

/// Why a Bot API call failed, as far as what to do next is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trouble {
    /// No connection, a timeout, a dropped answer.
    Network,
    /// Telegram answered with an error it may get over (5xx, an unreadable answer).
    Server,
    /// 401: the token is wrong or revoked.
    BadToken,
    /// 409: another program polls updates for this bot.
    OtherInstance,
    /// 429: Telegram said how long to wait.
    RetryAfter(Duration),
}

impl Trouble {
    /// The kind of trouble a teloxide error means.
    pub fn of(error: &teloxide::RequestError) -> Trouble {
        use teloxide::{ApiError, RequestError};
        match error {
            RequestError::Network(_) | RequestError::Io(_) => Trouble::Network,
            RequestError::Api(ApiError::InvalidToken) => Trouble::BadToken,
            RequestError::Api(ApiError::TerminatedByOtherGetUpdates) => Trouble::OtherInstance,
            RequestError::RetryAfter(s) => Trouble::RetryAfter(s.duration()),
            _ => Trouble::Server,
        }
    }

    /// What the user should know about it, for the log.
    pub fn explain(self) -> &'static str {
        match self {
            Trouble::Network => "the Bot API cannot be reached (network down?)",
            Trouble::Server => "the Bot API answered with an error",
            Trouble::BadToken => {
                "Telegram refuses the bot token (401 Unauthorized): check token_file or \
                 TELEPTY_TOKEN (BotFather's /token); telepty keeps trying once a minute"
            }
            Trouble::OtherInstance => {
                "another program is polling updates for this bot (409 Conflict): stop the \
                 other telepty or bot using this token; telepty keeps trying once a minute"
            }
            Trouble::RetryAfter(_) => "Telegram asks telepty to slow down (429)",
        }
    }
}

/// Consecutive failures of one kind of call (`getMe`, `getUpdates`).
#[derive(Debug, Default)]
pub struct Backoff {
    /// The pause after the last failure, while failing.
    last_pause: Option<Duration>,
    /// The trouble logged last, while failing.
    logged: Option<Trouble>,
}

/// What to do after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Next {
    pub pause: Duration,
    /// The trouble changed: log it.
    pub log: bool,
}

impl Backoff {
    /// A call failed with `trouble`: how long to wait, and whether to say so.
    pub fn failed(&mut self, trouble: Trouble) -> Next {
        let pause = match trouble {
            Trouble::BadToken | Trouble::OtherInstance => CAP,
            Trouble::RetryAfter(d) => d.max(FIRST),
            Trouble::Network | Trouble::Server => match self.last_pause {
                None => FIRST,
                Some(p) => (p * 2).min(CAP),
            },
        };
        self.last_pause = Some(pause);
        let same =
            |a: Trouble, b: Trouble| std::mem::discriminant(&a) == std::mem::discriminant(&b);
        let log = !self.logged.is_some_and(|l| same(l, trouble));
        self.logged = Some(trouble);
        Next { pause, log }
    }

    /// Call `call` failed with `error`: logged when its trouble changed; the pause
    /// before the next try.
    pub fn failed_call(&mut self, call: &str, error: &teloxide::RequestError) -> Duration {
        let trouble = Trouble::of(error);
        let next = self.failed(trouble);
        if next.log {
            tracing::warn!(
                "{call} failed: {}: {error}; retrying (every {CAP:?} at most)",
                trouble.explain()
            );
        }
        next.pause
    }

    /// A call succeeded: true if it had been failing (say that it works again).
    pub fn succeeded(&mut self) -> bool {
        self.last_pause = None;
        self.logged.take().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_trouble_backs_off_exponentially_to_a_minute_and_is_logged_once() {
        let mut b = Backoff::default();
        let pauses: Vec<u64> = (0..9)
            .map(|_| b.failed(Trouble::Network).pause.as_secs())
            .collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        let mut b = Backoff::default();
        let logs: Vec<bool> = (0..5).map(|_| b.failed(Trouble::Network).log).collect();
        assert_eq!(logs, [true, false, false, false, false]);
        // A change of trouble is said; so is the recovery, once.
        assert!(b.failed(Trouble::Server).log);
        assert!(b.succeeded());
        assert!(!b.succeeded());
        assert_eq!(
            b.failed(Trouble::Network),
            Next {
                pause: FIRST,
                log: true
            }
        );
    }

    #[test]
    fn a_bad_token_or_another_instance_is_retried_slowly_not_in_a_loop() {
        let mut b = Backoff::default();
        for trouble in [Trouble::BadToken, Trouble::OtherInstance] {
            assert_eq!(
                b.failed(trouble),
                Next {
                    pause: CAP,
                    log: true
                }
            );
            assert_eq!(
                b.failed(trouble),
                Next {
                    pause: CAP,
                    log: false
                }
            );
        }
        let wait = b.failed(Trouble::RetryAfter(Duration::from_secs(7)));
        assert_eq!(wait.pause, Duration::from_secs(7));
    }
}
