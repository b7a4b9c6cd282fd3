//! How a user's message is typed into the program: the text, then — once the program
//! shows it has read the text, or a while has passed — the Enter that sends it; a
//! message that comes meanwhile waits for that Enter (else two quick messages would
//! become one). Pure, on the caller's clock; the session task performs the steps.
//!
//! Claude Code takes an Enter that arrives in the same burst as the text for a newline,
//! and a program that is busy (Claude Code starting) reads the text and a later Enter in
//! one burst: the message would sit unsent in its input box. So the Enter waits for the
//! end of the text to be drawn (its echo), at most the profile's `echo_wait`, and never
//! comes sooner than its `enter_gap` after the text.

use std::collections::VecDeque;
use std::time::Duration;

/// How often the screen is looked at for the echo while the Enter waits.
pub const ECHO_POLL: Duration = Duration::from_millis(50);

/// What the program is to receive now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The text of a message (pasted when it has several lines).
    Text(String),
    /// The Enter that sends the message typed before.
    Enter,
}

/// The typing of messages, one after the other.
#[derive(Debug)]
pub struct Typist {
    enter_gap: Duration,
    echo_wait: Duration,
    /// Whether the program's screen shows what is typed (a mirrored program's may not).
    echoes: bool,
    /// Messages waiting for the Enter of the one before.
    queue: VecDeque<String>,
    /// When the Enter of the message typed last is due.
    enter_at: Option<Duration>,
    /// What of that message must show on the screen before its Enter, and until when it
    /// is waited for.
    echo: Option<(String, Duration)>,
}

impl Typist {
    pub fn new(enter_gap: Duration, echo_wait: Duration, echoes: bool) -> Typist {
        Typist {
            enter_gap,
            echo_wait,
            echoes,
            queue: VecDeque::new(),
            enter_at: None,
            echo: None,
        }
    }

    /// A message to send: its text is typed now (the step returned) unless an earlier
    /// message's Enter is still due; then it waits for it.
    pub fn message(&mut self, now: Duration, text: String) -> Option<Step> {
        if self.enter_at.is_some() {
            self.queue.push_back(text);
            return None;
        }
        Some(self.type_now(now, text))
    }

    fn type_now(&mut self, now: Duration, text: String) -> Step {
        self.echo = self
            .echoes
            .then(|| echo_of(&text))
            .flatten()
            .map(|e| (e, now + self.echo_wait));
        self.enter_at = Some(now + self.enter_gap);
        Step::Text(text)
    }

    /// What is due at `now`, the screen showing `screen`: the Enter once the text shows
    /// (or its wait is over), then the next message's text.
    pub fn due(&mut self, now: Duration, screen: &str) -> Vec<Step> {
        let Some(at) = self.enter_at else {
            return Vec::new();
        };
        if now < at {
            return Vec::new();
        }
        let unechoed = self
            .echo
            .as_ref()
            .is_some_and(|(needle, until)| now < *until && !shows(screen, needle));
        if unechoed {
            self.enter_at = Some(now + ECHO_POLL);
            return Vec::new();
        }
        self.enter_at = None;
        self.echo = None;
        let mut steps = vec![Step::Enter];
        if let Some(text) = self.queue.pop_front() {
            steps.push(self.type_now(now, text));
        }
        steps
    }

    /// When [`Typist::due`] has something to do next.
    pub fn deadline(&self) -> Option<Duration> {
        self.enter_at
    }

    /// A message is still being typed (its Enter not sent yet): the program is not idle.
    pub fn is_typing(&self) -> bool {
        self.enter_at.is_some() || !self.queue.is_empty()
    }
}

/// What of a typed message shows in the program's input box once it has read it: its
/// last few characters, blanks left out (the box wraps and indents). None for a paste
/// (Claude Code shows "[Pasted text]" instead) or a text of blanks.
fn echo_of(text: &str) -> Option<String> {
    if text.contains('\n') {
        return None;
    }
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let tail: String = chars[chars.len().saturating_sub(6)..].iter().collect();
    (!tail.is_empty()).then_some(tail)
}

/// Whether `screen` shows `needle` (blanks left out of both).
fn shows(screen: &str, needle: &str) -> bool {
    let screen: String = screen.chars().filter(|c| !c.is_whitespace()).collect();
    screen.contains(needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GAP: Duration = Duration::from_millis(150);
    const WAIT: Duration = Duration::from_secs(5);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_enter_waits_for_the_end_of_the_text_in_the_input_box() {
        let needle = echo_of("Where does the deploy key live?").unwrap();
        assert_eq!(needle, "ylive?");
        // Wrapped and indented in the box, it is found; before it is typed, it is not.
        assert!(shows("❯ Where does the deploy key li\n  ve?\n", &needle));
        assert!(!shows("❯ Where does the deploy k\n", &needle));
        // A paste shows as "[Pasted text]", and blanks show nothing: no wait.
        assert_eq!(echo_of("line one\nline two"), None);
        assert_eq!(echo_of("   "), None);
        assert_eq!(echo_of("hi"), Some("hi".into()));
    }

    #[test]
    fn the_enter_comes_after_the_gap_once_the_text_shows() {
        let mut t = Typist::new(GAP, WAIT, true);
        assert_eq!(
            t.message(ms(0), "hello there".into()),
            Some(Step::Text("hello there".into()))
        );
        assert!(t.is_typing());
        // Before the gap: nothing, even though the text shows.
        assert_eq!(t.due(ms(100), "❯ hello there"), vec![]);
        assert_eq!(t.deadline(), Some(ms(150)));
        // At the gap, the screen does not show it yet: looked at again shortly.
        assert_eq!(t.due(ms(150), "❯ hello th"), vec![]);
        assert_eq!(t.deadline(), Some(ms(200)));
        assert_eq!(t.due(ms(200), "❯ hello there"), vec![Step::Enter]);
        assert!(!t.is_typing());
        assert_eq!(t.deadline(), None);
    }

    #[test]
    fn a_program_that_never_shows_the_text_gets_its_enter_after_the_wait() {
        let mut t = Typist::new(GAP, WAIT, true);
        t.message(ms(0), "hello".into());
        let mut now = ms(150);
        let mut steps = Vec::new();
        while steps.is_empty() {
            steps = t.due(now, "(a blank screen)");
            now = t.deadline().unwrap_or(now);
        }
        assert_eq!(steps, vec![Step::Enter]);
        assert!(now >= WAIT, "{now:?}");
        assert!(now < WAIT + ECHO_POLL * 2, "{now:?}");
    }

    #[test]
    fn quick_messages_are_typed_one_after_the_others_enter() {
        let mut t = Typist::new(GAP, WAIT, false);
        assert!(t.message(ms(0), "one".into()).is_some());
        assert_eq!(t.message(ms(10), "two".into()), None);
        assert_eq!(t.message(ms(20), "three".into()), None);
        assert_eq!(
            t.due(ms(150), ""),
            vec![Step::Enter, Step::Text("two".into())]
        );
        assert_eq!(
            t.due(ms(300), ""),
            vec![Step::Enter, Step::Text("three".into())]
        );
        assert_eq!(t.due(ms(450), ""), vec![Step::Enter]);
        assert!(!t.is_typing());
    }

    #[test]
    fn a_paste_is_not_waited_for() {
        let mut t = Typist::new(GAP, WAIT, true);
        t.message(ms(0), "line one\nline two".into());
        assert_eq!(t.due(ms(150), "[Pasted text #1]"), vec![Step::Enter]);
    }
}
