//! A session's life: one state machine from starting to suspended or crashed, and the
//! decisions around it (when to suspend an idle session, which session makes room at the
//! limit, when exits are a crash loop). Pure: the caller passes the clock.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::session::task::Activity;

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The program runs but is not ready for input yet (messages wait).
    Starting,
    /// The program waits for the user's message.
    Ready,
    /// The program works.
    Busy,
    /// A blocking prompt waits for the user's answer.
    Waiting,
    /// The program is being stopped on telepty's or the user's behalf.
    Stopping,
    /// Stopped to save memory; the next message resumes it.
    Suspended,
    /// Ended on its own with success (`/exit`); the next message resumes it.
    Exited,
    /// Ended with a failure; the next message resumes it, unless it crashes in a loop.
    Crashed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Ready => "ready",
            Phase::Busy => "busy",
            Phase::Waiting => "waiting for you",
            Phase::Stopping => "stopping",
            Phase::Suspended => "suspended",
            Phase::Exited => "exited",
            Phase::Crashed => "crashed",
        }
    }

    /// Whether a program runs in this phase.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Phase::Starting | Phase::Ready | Phase::Busy | Phase::Waiting | Phase::Stopping
        )
    }

    /// The phase a running program's activity puts the session in.
    pub fn of(activity: Activity) -> Phase {
        match activity {
            Activity::Starting => Phase::Starting,
            Activity::Ready => Phase::Ready,
            Activity::Busy => Phase::Busy,
            Activity::Waiting => Phase::Waiting,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why telepty asked a program to end: what its end means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Idle, or making room: resumed by the next message.
    Suspend,
    /// `/stop` or `/kill`: resumed by the next message too, but the user asked for it.
    Stop,
    /// `/restart`: started again at once.
    Restart,
    /// `/delete`: forgotten.
    Delete,
}

/// Whether an idle session should be suspended now: ready (never busy or waiting for
/// the user), nothing waiting for it, and no input or work for `timeout`.
pub fn should_suspend(
    phase: Phase,
    has_pending: bool,
    last_activity: Instant,
    now: Instant,
    timeout: Option<Duration>,
) -> bool {
    let Some(timeout) = timeout else {
        return false;
    };
    phase == Phase::Ready && !has_pending && now.saturating_duration_since(last_activity) >= timeout
}

/// The session that makes room at the limit: the least recently used of those ready
/// (never one that is busy, waiting for the user, starting or has messages waiting).
pub fn least_recently_used<K: Clone>(
    sessions: impl IntoIterator<Item = (K, Phase, bool, Instant)>,
) -> Option<K> {
    sessions
        .into_iter()
        .filter(|(_, phase, has_pending, _)| *phase == Phase::Ready && !has_pending)
        .min_by_key(|(_, _, _, last)| *last)
        .map(|(k, ..)| k)
}

/// How many failed exits within [`CRASH_WINDOW`] make a crash loop.
pub const CRASH_LOOP_EXITS: usize = 3;
/// The window of a crash loop.
pub const CRASH_WINDOW: Duration = Duration::from_secs(60);

/// The failed exits of a session (not the ones telepty asked for), to tell a crash loop.
#[derive(Clone, Debug, Default)]
pub struct Crashes {
    at: VecDeque<Instant>,
}

impl Crashes {
    /// Counts an exit at `now`; true when it makes a crash loop.
    pub fn record(&mut self, now: Instant) -> bool {
        self.at.push_back(now);
        while self
            .at
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > CRASH_WINDOW)
        {
            self.at.pop_front();
        }
        self.at.len() >= CRASH_LOOP_EXITS
    }

    /// Forgets the exits (the user restarted the session).
    pub fn clear(&mut self) {
        self.at.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_ready_session_without_waiting_messages_is_suspended_after_the_timeout() {
        let t0 = Instant::now();
        let min = Duration::from_secs(60);
        let later = t0 + 30 * min;
        let timeout = Some(30 * min);
        assert!(should_suspend(Phase::Ready, false, t0, later, timeout));
        assert!(!should_suspend(
            Phase::Ready,
            false,
            t0,
            later - min,
            timeout
        ));
        for phase in [
            Phase::Busy,
            Phase::Waiting,
            Phase::Starting,
            Phase::Suspended,
        ] {
            assert!(!should_suspend(phase, false, t0, later, timeout), "{phase}");
        }
        assert!(!should_suspend(Phase::Ready, true, t0, later, timeout));
        assert!(!should_suspend(Phase::Ready, false, t0, later, None));
    }

    #[test]
    fn the_least_recently_used_ready_session_makes_room_never_a_busy_one() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let sessions = [
            ("busy-oldest", Phase::Busy, false, s(0)),
            ("waiting", Phase::Waiting, false, s(1)),
            ("ready-with-mail", Phase::Ready, true, s(2)),
            ("ready-old", Phase::Ready, false, s(3)),
            ("ready-new", Phase::Ready, false, s(4)),
        ];
        assert_eq!(least_recently_used(sessions), Some("ready-old"));
        assert_eq!(least_recently_used(sessions.into_iter().take(3)), None);
    }

    #[test]
    fn three_exits_within_a_minute_are_a_crash_loop() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let mut c = Crashes::default();
        assert!(!c.record(s(0)));
        assert!(!c.record(s(50)));
        // The first is more than a minute old by now.
        assert!(!c.record(s(70)));
        assert!(c.record(s(80)));
        c.clear();
        assert!(!c.record(s(81)));
    }
}

/// When a usage limit shown as `text` resets ("5pm", "11:30pm (Europe/Berlin)",
/// "Dec 2, 5pm", "17:00 (UTC)"), as seen from `now`: the next such moment, in the named
/// time zone or else `now`'s. None when the text is not a time telepty can read.
pub fn reset_time(text: &str, now: &jiff::Zoned) -> Option<jiff::Timestamp> {
    use std::sync::LazyLock;
    static FORM: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r"(?ix)^\s*
            (?:at\s+)?
            (?:(?P<month>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s*(?:at\s+)?)?
            (?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<half>am|pm)?
            \s*(?:\((?P<zone>[^)]+)\))?\s*\.?\s*$",
        )
        .expect("a valid pattern")
    });
    let caps = FORM.captures(text)?;
    let zone = match caps.name("zone") {
        Some(z) => jiff::tz::TimeZone::get(z.as_str().trim()).ok()?,
        None => now.time_zone().clone(),
    };
    let now = now.with_time_zone(zone);
    let mut hour: i8 = caps["hour"].parse().ok()?;
    let minute: i8 = caps
        .name("minute")
        .map_or(Some(0), |m| m.as_str().parse().ok())?;
    match caps.name("half").map(|h| h.as_str().to_ascii_lowercase()) {
        Some(_) if !(1..=12).contains(&hour) => return None,
        Some(h) if h == "am" => hour %= 12,
        Some(_) => hour = hour % 12 + 12,
        None if hour > 23 => return None,
        None => {}
    }
    let time = jiff::civil::Time::new(hour, minute, 0, 0).ok()?;
    let date = now.date();
    let at = |date: jiff::civil::Date| {
        date.to_datetime(time)
            .to_zoned(now.time_zone().clone())
            .ok()
    };
    let found = match (caps.name("month"), caps.name("day")) {
        (Some(month), Some(day)) => {
            const MONTHS: [&str; 12] = [
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
            ];
            let m = MONTHS
                .iter()
                .position(|n| month.as_str().to_ascii_lowercase().starts_with(n))?
                as i8
                + 1;
            let d: i8 = day.as_str().parse().ok()?;
            let this_year = at(jiff::civil::Date::new(date.year(), m, d).ok()?)?;
            if this_year.timestamp() > now.timestamp() {
                this_year
            } else {
                at(jiff::civil::Date::new(date.year() + 1, m, d).ok()?)?
            }
        }
        _ => {
            let today = at(date)?;
            if today.timestamp() > now.timestamp() {
                today
            } else {
                at(date.tomorrow().ok()?)?
            }
        }
    };
    Some(found.timestamp())
}

#[cfg(test)]
mod reset_tests {
    use super::*;

    fn at(s: &str) -> jiff::Zoned {
        s.parse().unwrap()
    }

    #[test]
    fn reads_claude_codes_reset_times() {
        let now = at("2026-11-25T14:20:00+00:00[UTC]");
        let cases = [
            ("5pm", "2026-11-25T17:00:00Z"),
            ("3am", "2026-11-26T03:00:00Z"),
            ("11:30pm (UTC)", "2026-11-25T23:30:00Z"),
            ("5pm (Europe/Berlin)", "2026-11-25T16:00:00Z"),
            ("2pm", "2026-11-26T14:00:00Z"),
            ("12am", "2026-11-26T00:00:00Z"),
            ("12pm (UTC)", "2026-11-26T12:00:00Z"),
            ("Dec 2, 5pm", "2026-12-02T17:00:00Z"),
            ("Jan 3 at 9am (America/New_York)", "2027-01-03T14:00:00Z"),
            ("17:00", "2026-11-25T17:00:00Z"),
        ];
        for (text, want) in cases {
            let got = reset_time(text, &now).map(|t| t.to_string());
            assert_eq!(got.as_deref(), Some(want), "{text}");
        }
        for bad in ["soon", "25:00", "13pm", "5pm (Mars/Olympus)", ""] {
            assert_eq!(reset_time(bad, &now), None, "{bad}");
        }
    }
}
