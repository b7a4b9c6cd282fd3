//! The pacer: how chat operations reach Telegram without tripping its flood limits.
//!
//! Telegram allows a bot about 20 operations per minute in one chat, and edits count as
//! much as sends; a bot that edits every second gets `429 retry after 220+` — a frozen
//! chat. The pacer owns that budget: callers say what each message should look like
//! *now*, and the pacer decides when operations go out. It is pure and takes the time as
//! an argument, so the same code runs live, in `replay`, and in tests on virtual time.
//!
//! Rules:
//! - at most [`Limits::per_window`] operations in any rolling [`Limits::window`];
//! - operations that are not urgent (silent edits of a live message) leave
//!   [`Limits::urgent_reserve`] of the budget free and are spaced by
//!   [`Limits::edit_interval`], so a prompt or a final answer can always go out at once;
//! - edits of one message coalesce: only the newest content is sent, and content equal to
//!   what the chat already shows is never sent;
//! - messages are sent in the order they were created; an edit or delete of a message
//!   not sent yet folds into its send;
//! - the first content after the user's input (the start of the answer they wait for)
//!   is not held by the edit interval: it goes out [`FIRST_SETTLE`] after the input, so
//!   a command's output joins its echo; only the edits after it are spaced;
//! - the final state of every message is always delivered, however long that takes.
//!
//! In a chat that shows drafts ([`Pacer::with_drafts`], Telegram's private chats), live
//! content of a message not sent yet ([`Content::live`]: a turn still going) goes out as
//! [`Operation::Draft`] instead: outside the budget (a draft is not a message), at most
//! one per draft interval, refreshed before Telegram lets it fade, and never while a
//! message waits to be sent (that message clears the draft anyway). The message itself is
//! sent when its content stops being live.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::core::ops::{Content, MessageId, Operation};

/// The flood budget of one chat.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub per_window: usize,
    pub window: Duration,
    /// Operations of the budget kept for urgent ones.
    pub urgent_reserve: usize,
    /// Smallest gap between two non-urgent operations.
    pub edit_interval: Duration,
}

impl Default for Limits {
    /// 20 per 60 s as Telegram allows per chat; non-urgent edits every 4 s at most, and
    /// never into the last 6 of the budget.
    fn default() -> Self {
        Limits {
            per_window: 20,
            window: Duration::from_secs(60),
            urgent_reserve: 6,
            edit_interval: Duration::from_secs(4),
        }
    }
}

impl Limits {
    /// No budget at all: every change goes out at once. For a session whose operations
    /// are paced again, per chat, by the bot's outbox (all sessions of a chat share one
    /// budget there).
    pub fn unlimited() -> Limits {
        Limits {
            per_window: usize::MAX / 2,
            window: Duration::from_secs(60),
            urgent_reserve: 0,
            edit_interval: Duration::ZERO,
        }
    }
}

/// Messages whose content the pacer remembers (to skip unchanged edits): the newest.
const SHOWN_KEPT: usize = 1000;

/// How long after a full window an operation stops counting.
const EXPIRY_STEP: Duration = Duration::from_millis(1);

/// Telegram lets a draft fade 30 s after its last update: an unchanged one is sent again
/// after this long.
pub const DRAFT_REFRESH: Duration = Duration::from_secs(20);

/// The drafts of a chat that shows them.
#[derive(Debug)]
struct Drafts {
    /// Smallest gap between two drafts.
    every: Duration,
    by_id: BTreeMap<MessageId, Draft>,
    last: Option<Duration>,
}

/// A message shown as a draft until it is sent.
#[derive(Debug)]
struct Draft {
    content: Content,
    /// When its newest content went out (`None`: it has not yet).
    sent_at: Option<Duration>,
    /// The user stopped it: never drafted again; its final state is still sent.
    stopped: bool,
}

/// What is waiting for a message.
#[derive(Debug)]
struct Pending {
    /// The message has not been sent yet.
    is_new: bool,
    /// Its newest content; `None` = delete it.
    content: Option<Content>,
    is_urgent: bool,
}

#[derive(Debug)]
pub struct Pacer {
    limits: Limits,
    /// When the operations of the current window went out, oldest first.
    recent: VecDeque<Duration>,
    /// Waiting work per message; ordered by id, which is creation order.
    pending: BTreeMap<MessageId, Pending>,
    /// What the chat shows for each live message.
    shown: BTreeMap<MessageId, Content>,
    /// Nothing goes out before this (Telegram said `retry after`).
    blocked_until: Duration,
    last_normal: Option<Duration>,
    /// Messages never sent because too many waited (see [`PENDING_NEW_CAP`]).
    skipped: usize,
    /// The user's input is waiting for its first content, which may go out from then on
    /// without the edit interval (see [`Pacer::user_spoke`]).
    first_at: Option<Duration>,
    /// Live content shown as drafts (`None`: this chat does not show drafts).
    drafts: Option<Drafts>,
}

/// How long the first content after the user's input waits for more of the answer to
/// join it: a shell echoes a command before it runs it, Claude Code draws the message
/// before its status line.
pub const FIRST_SETTLE: Duration = Duration::from_millis(500);

/// New messages that may wait at most: beyond it (Telegram unreachable for hours while a
/// program prints), the oldest quiet one without buttons is dropped and counted. Nothing
/// the user must answer (buttons) and nothing audible (answers, prompts) is ever dropped.
pub const PENDING_NEW_CAP: usize = 200;

/// What is kept of content the chat shows: all of it but a file's bytes, which become
/// their hash (a sent file is compared, never kept: 50 MB each otherwise).
fn remembered(content: &Content) -> Content {
    let mut kept = content.clone();
    if let Some(a) = kept.attachment.as_mut() {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        a.bytes.hash(&mut h);
        a.bytes = std::sync::Arc::new(h.finish().to_le_bytes().to_vec());
    }
    kept
}

impl Pacer {
    pub fn new(limits: Limits) -> Pacer {
        Pacer {
            limits,
            recent: VecDeque::new(),
            pending: BTreeMap::new(),
            shown: BTreeMap::new(),
            blocked_until: Duration::ZERO,
            last_normal: None,
            skipped: 0,
            first_at: None,
            drafts: None,
        }
    }

    /// This chat shows live content as drafts, at most one every `every`.
    pub fn with_drafts(mut self, every: Duration) -> Pacer {
        self.drafts = Some(Drafts {
            every,
            by_id: BTreeMap::new(),
            last: None,
        });
        self
    }

    /// Whether live content goes out as drafts.
    pub fn shows_drafts(&self) -> bool {
        self.drafts.is_some()
    }

    /// Telegram refused a draft: this chat gets the edited live message from now on, and
    /// every message shown as a draft is sent as one.
    pub fn drafts_refused(&mut self) {
        let Some(drafts) = self.drafts.take() else {
            return;
        };
        for (id, draft) in drafts.by_id {
            self.pending.insert(
                id,
                Pending {
                    is_new: true,
                    content: Some(draft.content),
                    is_urgent: false,
                },
            );
        }
    }

    /// The user pressed Stop on the draft of message `id`: it is not drafted again (its
    /// final state is still sent). Whether it was a draft of this chat.
    pub fn draft_stopped(&mut self, id: MessageId) -> bool {
        match self.drafts.as_mut().and_then(|d| d.by_id.get_mut(&id)) {
            Some(draft) => {
                draft.stopped = true;
                true
            }
            None => false,
        }
    }

    /// The user typed or pressed something at `now`. What changes next starts the answer
    /// they are waiting for: it goes out [`FIRST_SETTLE`] later (or as soon as it comes
    /// after that), not after the edit interval since the last progress edit.
    pub fn user_spoke(&mut self, now: Duration) {
        self.first_at.get_or_insert(now + FIRST_SETTLE);
    }

    /// How many new messages were dropped since the last call (the caller says so).
    pub fn take_skipped(&mut self) -> usize {
        std::mem::take(&mut self.skipped)
    }

    /// Keeps the waiting new messages under [`PENDING_NEW_CAP`].
    fn cap_pending(&mut self) {
        let droppable = |p: &Pending| {
            p.is_new
                && !p.is_urgent
                && p.content
                    .as_ref()
                    .is_some_and(|c| c.silent && c.buttons.is_empty())
        };
        let mut count = self.pending.values().filter(|p| p.is_new).count();
        while count > PENDING_NEW_CAP {
            let Some(oldest) = self
                .pending
                .iter()
                .find(|(_, p)| droppable(p))
                .map(|(id, _)| *id)
            else {
                return;
            };
            self.pending.remove(&oldest);
            self.skipped += 1;
            count -= 1;
        }
    }

    /// Sets what message `id` should show: a new message if the chat has never had it,
    /// an edit otherwise. Urgent content (a prompt, a final answer) may use the reserve.
    pub fn set(&mut self, id: MessageId, content: Content, is_urgent: bool) {
        let is_new = !self.shown.contains_key(&id);
        if let Some(drafts) = self.drafts.as_mut() {
            if content.live && is_new && !self.pending.contains_key(&id) {
                let draft = drafts.by_id.entry(id).or_insert(Draft {
                    content: Content::default(),
                    sent_at: None,
                    stopped: false,
                });
                if draft.content != content {
                    draft.content = content;
                    draft.sent_at = None;
                }
                return;
            }
            // Its final state: sent as a message (which clears the draft).
            drafts.by_id.remove(&id);
        }
        let entry = self.pending.entry(id).or_insert(Pending {
            is_new,
            content: None,
            is_urgent: false,
        });
        if self.shown.get(&id) == Some(&remembered(&content)) {
            // Back to what the chat already shows: nothing to do.
            if !entry.is_new {
                self.pending.remove(&id);
            }
            return;
        }
        entry.content = Some(content);
        entry.is_urgent |= is_urgent;
        if is_new && self.pending.len() > PENDING_NEW_CAP {
            self.cap_pending();
        }
    }

    /// Removes message `id` from the chat (or never sends it).
    pub fn delete(&mut self, id: MessageId) {
        if let Some(drafts) = self.drafts.as_mut() {
            if drafts.by_id.remove(&id).is_some() {
                // Never sent: the draft fades (or the next message clears it).
                return;
            }
        }
        match self.pending.get(&id) {
            Some(p) if p.is_new => {
                self.pending.remove(&id);
            }
            _ if self.shown.contains_key(&id) => {
                self.pending.insert(
                    id,
                    Pending {
                        is_new: false,
                        content: None,
                        is_urgent: false,
                    },
                );
            }
            _ => {}
        }
    }

    /// Telegram answered `429 retry after`: nothing goes out before `until`; the
    /// operation that failed is put back.
    pub fn retry_after(&mut self, failed: Operation, until: Duration) {
        self.blocked_until = self.blocked_until.max(until);
        match failed {
            Operation::Send(id, content) => {
                self.shown.remove(&id);
                self.pending.entry(id).or_insert(Pending {
                    is_new: true,
                    content: Some(content),
                    is_urgent: true,
                });
            }
            Operation::Edit(id, content) => {
                // What the chat shows is now unknown (the edit failed); an impossible value
                // makes sure the newest content is sent again.
                self.shown.insert(
                    id,
                    Content {
                        text: "\u{0}".into(),
                        ..Content::default()
                    },
                );
                self.pending.entry(id).or_insert(Pending {
                    is_new: false,
                    content: Some(content),
                    is_urgent: true,
                });
            }
            Operation::Delete(id) => {
                self.pending.entry(id).or_insert(Pending {
                    is_new: false,
                    content: None,
                    is_urgent: true,
                });
            }
            Operation::Draft(id, _) => {
                // Not tried again as it was: its newest content goes after the wait.
                if let Some(draft) = self.drafts.as_mut().and_then(|d| d.by_id.get_mut(&id)) {
                    draft.sent_at = None;
                }
            }
        }
    }

    /// How many messages wait for an operation.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }

    /// Whether anything is waiting.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    /// The operations that may go out at `now`, in order.
    pub fn poll(&mut self, now: Duration) -> Vec<Operation> {
        let mut out = Vec::new();
        // An operation counts until the window after it has fully passed, so no closed
        // interval of `window` length ever holds more than `per_window`.
        while self
            .recent
            .front()
            .is_some_and(|t| *t + self.limits.window < now)
        {
            self.recent.pop_front();
        }
        if now < self.blocked_until {
            return out;
        }
        if self.pending.is_empty() {
            out.extend(self.due_draft(now));
            return out;
        }
        // New messages go out in creation order: the first unsent one gates later sends,
        // so when an urgent message waits, the sends before it are urgent too.
        let urgent_send_waiting = self.pending.values().any(|p| p.is_new && p.is_urgent);
        let ids: Vec<MessageId> = self.pending.keys().copied().collect();
        let mut send_gate_closed = false;
        let mut went_normal = false;
        for id in ids {
            let pending = &self.pending[&id];
            let is_send = pending.is_new;
            if is_send && send_gate_closed {
                continue;
            }
            let is_urgent = pending.is_urgent || (is_send && urgent_send_waiting);
            if !self.may_go(now, is_urgent) {
                if is_send {
                    send_gate_closed = true;
                }
                continue;
            }
            let pending = self.pending.remove(&id).expect("pending");
            let op = match pending.content {
                Some(content) if pending.is_new => {
                    self.shown.insert(id, remembered(&content));
                    Operation::Send(id, content)
                }
                Some(content) => {
                    self.shown.insert(id, remembered(&content));
                    Operation::Edit(id, content)
                }
                None => {
                    self.shown.remove(&id);
                    Operation::Delete(id)
                }
            };
            self.recent.push_back(now);
            // What old messages showed is forgotten: they are not edited any more.
            while self.shown.len() > SHOWN_KEPT {
                self.shown.pop_first();
            }
            if !is_urgent {
                self.last_normal = Some(now);
                went_normal = true;
            }
            out.push(op);
        }
        if went_normal {
            // The first content is out: later edits are spaced again.
            self.first_at = None;
        }
        out.extend(self.due_draft(now));
        out
    }

    /// The draft that may go out at `now`, if one is due: while no message waits to be
    /// sent, one every draft interval — a changed one first, else one about to fade.
    fn due_draft(&mut self, now: Duration) -> Option<Operation> {
        let at = self.draft_deadline(now)?;
        if at > now {
            return None;
        }
        let drafts = self.drafts.as_mut()?;
        let id = drafts
            .by_id
            .iter()
            .filter(|(_, d)| !d.stopped)
            .min_by_key(|(_, d)| d.sent_at.map_or(Duration::ZERO, |t| t + DRAFT_REFRESH))
            .map(|(id, _)| *id)?;
        let draft = drafts.by_id.get_mut(&id)?;
        draft.sent_at = Some(now);
        drafts.last = Some(now);
        Some(Operation::Draft(id, draft.content.clone()))
    }

    /// When the next draft may go out, if one waits.
    fn draft_deadline(&self, now: Duration) -> Option<Duration> {
        let drafts = self.drafts.as_ref()?;
        if self.pending.values().any(|p| p.is_new) {
            return None;
        }
        let due = drafts
            .by_id
            .values()
            .filter(|d| !d.stopped)
            .map(|d| d.sent_at.map_or(Duration::ZERO, |t| t + DRAFT_REFRESH))
            .min()?;
        let spaced = drafts.last.map_or(Duration::ZERO, |t| t + drafts.every);
        Some(now.max(self.blocked_until).max(due).max(spaced))
    }

    fn may_go(&self, now: Duration, is_urgent: bool) -> bool {
        let used = self.recent.len();
        if is_urgent {
            return used < self.limits.per_window;
        }
        let spaced = match self.first_at {
            Some(first) => now >= first,
            None => self
                .last_normal
                .is_none_or(|t| now >= t + self.limits.edit_interval),
        };
        spaced && used + self.limits.urgent_reserve < self.limits.per_window
    }

    /// When `poll` may next have something to send, if anything waits.
    pub fn next_deadline(&self, now: Duration) -> Option<Duration> {
        let draft = self.draft_deadline(now);
        if self.pending.is_empty() {
            return draft;
        }
        let mut at = now.max(self.blocked_until);
        let any_urgent = self.pending.values().any(|p| p.is_urgent);
        let need_free = if any_urgent {
            1
        } else {
            self.limits.urgent_reserve + 1
        };
        let used = self.recent.len();
        if used + need_free > self.limits.per_window {
            // Wait until enough of the window has expired.
            let expire = used + need_free - self.limits.per_window;
            if let Some(t) = self.recent.get(expire - 1) {
                at = at.max(*t + self.limits.window + EXPIRY_STEP);
            }
        }
        if !any_urgent {
            if let Some(first) = self.first_at {
                at = at.max(first);
            } else if let Some(t) = self.last_normal {
                at = at.max(t + self.limits.edit_interval);
            }
        }
        Some(draft.map_or(at, |d| d.min(at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ops::{Attachment, AttachmentKind};

    fn text(s: &str) -> Content {
        Content {
            text: s.to_string(),
            buttons: Vec::new(),
            silent: true,
            attachment: None,
            live: false,
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// Runs the pacer on virtual time until it is idle, collecting (time, op).
    fn drain(p: &mut Pacer, mut now: Duration) -> Vec<(Duration, Operation)> {
        let mut all = Vec::new();
        let mut rounds = 0;
        while let Some(at) = p.next_deadline(now) {
            rounds += 1;
            assert!(rounds < 10_000, "the pacer makes no progress at {at:?}");
            now = at;
            all.extend(p.poll(now).into_iter().map(|op| (now, op)));
        }
        all
    }

    #[test]
    fn a_sent_file_is_remembered_by_its_hash_not_its_bytes() {
        let mut p = Pacer::new(Limits::default());
        let file = || Content {
            attachment: Some(Attachment {
                kind: AttachmentKind::Document,
                name: "big.bin".into(),
                bytes: std::sync::Arc::new(vec![7u8; 10 << 20]),
            }),
            ..text("big.bin")
        };
        p.set(1, file(), true);
        let ops = p.poll(Duration::ZERO);
        assert_eq!(ops.len(), 1);
        let kept = p.shown[&1].attachment.as_ref().unwrap().bytes.len();
        assert!(kept <= 8, "{kept} bytes kept of a sent file");
        // The same file again is still known as shown; another one is not.
        p.set(1, file(), true);
        assert!(p.poll(Duration::from_secs(60)).is_empty());
        let mut other = file();
        other.attachment.as_mut().unwrap().bytes = std::sync::Arc::new(vec![8u8; 10]);
        p.set(1, other, true);
        assert_eq!(p.poll(Duration::from_secs(120)).len(), 1);
    }

    #[test]
    fn edits_coalesce_and_the_newest_content_wins() {
        let mut p = Pacer::new(Limits::default());
        p.set(1, text("a"), false);
        assert_eq!(p.poll(secs(0.0)), vec![Operation::Send(1, text("a"))]);
        for i in 0..50 {
            p.set(1, text(&format!("a{i}")), false);
        }
        // Spaced by the edit interval: nothing at 1 s, the newest at 4 s.
        assert!(p.poll(secs(1.0)).is_empty());
        assert_eq!(p.poll(secs(4.0)), vec![Operation::Edit(1, text("a49"))]);
        assert!(p.is_idle());
    }

    #[test]
    fn the_first_content_after_the_users_input_is_not_held_by_the_edit_interval() {
        let mut p = Pacer::new(Limits::default());
        // A progress edit just went out: the next one would wait 4 s.
        p.set(1, text("$ "), false);
        assert_eq!(p.poll(secs(0.0)).len(), 1);
        // The user sends a command at 1 s; its echo comes at once, its output 0.2 s later:
        // both go out together, half a second after the input.
        p.user_spoke(secs(1.0));
        p.set(1, text("$ ls"), false);
        assert_eq!(p.next_deadline(secs(1.0)), Some(secs(1.5)));
        assert!(p.poll(secs(1.2)).is_empty());
        p.set(1, text("$ ls\nREADME"), false);
        assert_eq!(
            p.poll(secs(1.5)),
            vec![Operation::Edit(1, text("$ ls\nREADME"))]
        );
        // What follows is progress again: spaced by the interval.
        p.set(1, text("$ ls\nREADME\n$ "), false);
        assert_eq!(p.next_deadline(secs(1.6)), Some(secs(5.5)));
        // An answer that comes late goes out when it comes.
        drain(&mut p, secs(5.5));
        p.user_spoke(secs(20.0));
        p.set(2, text("⏳ Thinking…"), false);
        assert_eq!(p.next_deadline(secs(23.0)), Some(secs(23.0)));
        assert_eq!(p.poll(secs(23.0)).len(), 1);
    }

    #[test]
    fn unchanged_content_is_never_sent_again() {
        let mut p = Pacer::new(Limits::default());
        p.set(1, text("same"), false);
        p.poll(secs(0.0));
        p.set(1, text("other"), false);
        p.set(1, text("same"), false);
        assert!(p.is_idle());
        assert!(p.poll(secs(10.0)).is_empty());
    }

    #[test]
    fn an_edit_or_delete_of_an_unsent_message_folds_into_its_send() {
        let mut p = Pacer::new(Limits::default());
        p.set(1, text("first"), false);
        p.set(1, text("second"), false);
        p.set(2, text("gone"), false);
        p.delete(2);
        assert_eq!(p.poll(secs(0.0)), vec![Operation::Send(1, text("second"))]);
        assert!(p.is_idle());
    }

    #[test]
    fn never_more_than_twenty_in_a_minute_and_everything_arrives() {
        let mut p = Pacer::new(Limits::default());
        let mut ops = Vec::new();
        // A busy turn: a live message edited every 100 ms for 3 minutes, a prompt now and
        // then, and answers.
        let mut now = Duration::ZERO;
        let mut next_id = 2;
        p.set(1, text("live 0"), false);
        for step in 0..1800u32 {
            now = Duration::from_millis(100 * step as u64);
            p.set(1, text(&format!("live {step}")), false);
            if step % 150 == 0 {
                p.set(next_id, text(&format!("prompt {next_id}")), true);
                next_id += 1;
            }
            ops.extend(p.poll(now).into_iter().map(|op| (now, op)));
        }
        p.set(next_id, text("final answer"), true);
        ops.extend(drain(&mut p, now));
        for (i, (t, _)) in ops.iter().enumerate() {
            let in_window = ops[i..]
                .iter()
                .take_while(|(u, _)| *u <= *t + Duration::from_secs(60))
                .count();
            assert!(
                in_window <= 20,
                "{in_window} operations in the minute from {t:?}"
            );
        }
        let last_live = ops.iter().rev().find(|(_, op)| op.id() == 1).unwrap();
        assert!(matches!(&last_live.1, Operation::Edit(1, c) if c.text == "live 1799"));
        let sent: Vec<u64> = ops
            .iter()
            .filter(|(_, op)| matches!(op, Operation::Send(..)))
            .map(|(_, op)| op.id())
            .collect();
        assert_eq!(
            sent,
            (1..=next_id).collect::<Vec<_>>(),
            "every message, in order"
        );
    }

    #[test]
    fn urgent_messages_go_out_at_once_even_during_a_stream_of_edits() {
        let mut p = Pacer::new(Limits::default());
        p.set(1, text("live"), false);
        let mut now = Duration::ZERO;
        for step in 0..300u32 {
            now = Duration::from_millis(100 * step as u64);
            p.set(1, text(&format!("live {step}")), false);
            p.poll(now);
        }
        p.set(2, text("Do you want to proceed?"), true);
        assert_eq!(
            p.poll(now),
            vec![Operation::Send(2, text("Do you want to proceed?"))]
        );
    }

    #[test]
    fn retry_after_blocks_everything_and_keeps_the_failed_operation() {
        let mut p = Pacer::new(Limits::default());
        p.set(1, text("hello"), true);
        let op = p.poll(secs(0.0)).remove(0);
        p.retry_after(op, secs(30.0));
        p.set(2, text("next"), true);
        assert!(p.poll(secs(29.0)).is_empty());
        assert_eq!(p.next_deadline(secs(29.0)), Some(secs(30.0)));
        let ops = p.poll(secs(30.0));
        assert_eq!(
            ops,
            vec![
                Operation::Send(1, text("hello")),
                Operation::Send(2, text("next"))
            ]
        );
    }

    fn live(s: &str) -> Content {
        Content {
            live: true,
            ..text(s)
        }
    }

    fn drafting() -> Pacer {
        Pacer::new(Limits::default()).with_drafts(secs(1.0))
    }

    #[test]
    fn live_content_goes_out_as_drafts_and_its_final_state_as_a_message() {
        let mut p = drafting();
        p.set(1, live("⏳ Thinking…"), false);
        assert_eq!(
            p.poll(secs(0.0)),
            vec![Operation::Draft(1, live("⏳ Thinking…"))]
        );
        // At most one a second, the newest content; outside the message budget: a
        // minute of drafts leaves all 20 operations for the messages.
        p.set(1, live("a"), false);
        p.set(1, live("ab"), false);
        assert!(p.poll(secs(0.5)).is_empty());
        assert_eq!(p.next_deadline(secs(0.5)), Some(secs(1.0)));
        assert_eq!(p.poll(secs(1.0)), vec![Operation::Draft(1, live("ab"))]);
        let mut drafts = 2;
        for i in 2..62 {
            p.set(1, live(&format!("ab{i}")), false);
            drafts += p.poll(secs(i as f64)).len();
        }
        assert_eq!(drafts, 62);
        // The turn ends: its record and its answer are sent, in that order, at once.
        p.set(1, text("record"), false);
        p.set(
            2,
            Content {
                silent: false,
                ..text("answer")
            },
            true,
        );
        assert_eq!(
            p.poll(secs(62.2)),
            vec![
                Operation::Send(1, text("record")),
                Operation::Send(
                    2,
                    Content {
                        silent: false,
                        ..text("answer")
                    }
                )
            ]
        );
        assert!(p.is_idle());
        assert_eq!(p.next_deadline(secs(63.0)), None);
    }

    #[test]
    fn an_unchanged_draft_is_sent_again_before_telegram_lets_it_fade() {
        let mut p = drafting();
        p.set(1, live("working"), false);
        assert_eq!(p.poll(secs(0.0)).len(), 1);
        assert_eq!(p.next_deadline(secs(0.0)), Some(DRAFT_REFRESH));
        assert_eq!(
            p.poll(DRAFT_REFRESH),
            vec![Operation::Draft(1, live("working"))]
        );
    }

    #[test]
    fn no_draft_goes_while_a_message_waits_to_be_sent() {
        let mut p = drafting();
        p.set(1, live("a"), false);
        p.poll(secs(0.0));
        p.set(
            2,
            Content {
                silent: false,
                ..text("Proceed?")
            },
            true,
        );
        let op = p.poll(secs(0.1)).remove(0);
        // Telegram says wait: neither the prompt nor a draft goes before then.
        p.retry_after(op, secs(30.0));
        p.set(1, live("ab"), false);
        assert_eq!(p.next_deadline(secs(2.0)), Some(secs(30.0)));
        assert!(p.poll(secs(5.0)).is_empty());
        assert_eq!(
            p.poll(secs(30.0)),
            vec![
                Operation::Send(
                    2,
                    Content {
                        silent: false,
                        ..text("Proceed?")
                    }
                ),
                Operation::Draft(1, live("ab"))
            ]
        );
    }

    #[test]
    fn a_draft_telegram_asks_to_wait_for_goes_after_the_wait_with_its_newest_content() {
        let mut p = drafting();
        p.set(1, live("a"), false);
        let op = p.poll(secs(0.0)).remove(0);
        p.retry_after(op, secs(10.0));
        p.set(1, live("abc"), false);
        assert!(p.poll(secs(9.0)).is_empty());
        assert_eq!(p.poll(secs(10.0)), vec![Operation::Draft(1, live("abc"))]);
    }

    #[test]
    fn refused_drafts_become_the_edited_live_message() {
        let mut p = drafting();
        p.set(1, live("a"), false);
        p.poll(secs(0.0));
        p.drafts_refused();
        assert!(!p.shows_drafts());
        assert_eq!(p.poll(secs(0.1)), vec![Operation::Send(1, live("a"))]);
        p.set(1, live("ab"), false);
        assert_eq!(p.poll(secs(4.1)), vec![Operation::Edit(1, live("ab"))]);
    }

    #[test]
    fn a_stopped_draft_is_not_sent_again_but_its_final_state_is() {
        let mut p = drafting();
        p.set(1, live("a"), false);
        p.poll(secs(0.0));
        assert!(p.draft_stopped(1));
        assert!(!p.draft_stopped(9));
        p.set(1, live("ab"), false);
        assert!(p.poll(secs(5.0)).is_empty());
        assert_eq!(p.next_deadline(secs(5.0)), None);
        p.set(1, text("record"), false);
        assert_eq!(p.poll(secs(6.0)), vec![Operation::Send(1, text("record"))]);
    }

    #[test]
    fn a_draft_deleted_before_it_was_a_message_sends_nothing() {
        let mut p = drafting();
        p.set(1, live("a"), false);
        p.poll(secs(0.0));
        p.delete(1);
        assert!(p.is_idle());
        assert_eq!(p.next_deadline(secs(1.0)), None);
    }

    proptest::proptest! {
        /// With drafts: the message budget holds, drafts are spaced, a message's draft
        /// never follows its send, and the chat ends as the callers last asked.
        #[test]
        fn with_drafts_the_budget_holds_and_the_final_state_arrives(
            actions in proptest::collection::vec((0u64..1500, 1u64..6, 0u8..10, proptest::bool::ANY), 1..300)
        ) {
            let mut p = drafting();
            let mut want: BTreeMap<MessageId, Option<String>> = BTreeMap::new();
            let mut chat: BTreeMap<MessageId, String> = BTreeMap::new();
            let mut sends = Vec::new();
            let mut drafts: Vec<Duration> = Vec::new();
            let mut now = Duration::ZERO;
            let mut apply = |now: Duration, op: Operation, chat: &mut BTreeMap<MessageId, String>| {
                match op {
                    Operation::Send(id, c) => { sends.push(now); assert!(chat.insert(id, c.text).is_none(), "sent twice"); }
                    Operation::Edit(id, c) => { sends.push(now); assert!(chat.insert(id, c.text).is_some(), "edit of an unsent message"); }
                    Operation::Delete(id) => { sends.push(now); assert!(chat.remove(&id).is_some(), "delete of an unsent message"); }
                    Operation::Draft(id, _) => {
                        assert!(!chat.contains_key(&id), "a draft of message {id} after it was sent");
                        drafts.push(now);
                    }
                }
            };
            for (gap_ms, id, version, urgent) in actions {
                now += Duration::from_millis(gap_ms);
                if version == 0 {
                    p.delete(id);
                    if want.get(&id).is_some_and(|w| w.is_some()) { want.insert(id, None); }
                } else {
                    // Versions 1–5 are live (a turn going on), 6–9 final.
                    let text = format!("m{id} v{version}");
                    p.set(id, Content { text: text.clone(), live: version < 6, ..Content::default() }, urgent);
                    want.insert(id, Some(text));
                }
                for op in p.poll(now) { apply(now, op, &mut chat); }
            }
            // The turns end: every message gets its final state.
            for (id, w) in want.iter_mut() {
                if let Some(text) = w {
                    text.push_str(" final");
                    p.set(*id, Content { text: text.clone(), ..Content::default() }, false);
                }
            }
            let mut rounds = 0;
            while let Some(at) = p.next_deadline(now) {
                rounds += 1;
                proptest::prop_assert!(rounds < 10_000, "the pacer makes no progress at {:?}", at);
                proptest::prop_assert!(at >= now);
                now = at;
                for op in p.poll(now) { apply(now, op, &mut chat); }
            }
            for (i, t) in sends.iter().enumerate() {
                let n = sends[i..].iter().take_while(|u| **u <= *t + Duration::from_secs(60)).count();
                proptest::prop_assert!(n <= 20, "{} operations in the minute from {:?}", n, t);
            }
            for pair in drafts.windows(2) {
                proptest::prop_assert!(pair[1] >= pair[0] + secs(1.0), "drafts at {:?}", pair);
            }
            let expected: BTreeMap<MessageId, String> =
                want.into_iter().filter_map(|(id, w)| w.map(|t| (id, t))).collect();
            proptest::prop_assert_eq!(chat, expected);
        }
    }

    proptest::proptest! {
        /// Whatever callers do, the budget holds and the chat ends as they last asked.
        #[test]
        fn the_budget_holds_and_the_final_state_arrives(
            actions in proptest::collection::vec((0u64..1500, 1u64..8, 0u8..10, proptest::bool::ANY), 1..300)
        ) {
            let mut p = Pacer::new(Limits::default());
            let mut want: BTreeMap<MessageId, Option<String>> = BTreeMap::new();
            let mut chat: BTreeMap<MessageId, String> = BTreeMap::new();
            let mut ops = Vec::new();
            let mut now = Duration::ZERO;
            let apply = |now: Duration, op: Operation, chat: &mut BTreeMap<MessageId, String>, ops: &mut Vec<Duration>| {
                ops.push(now);
                match op {
                    Operation::Send(id, c) => { assert!(chat.insert(id, c.text).is_none(), "sent twice"); }
                    Operation::Edit(id, c) => { assert!(chat.insert(id, c.text).is_some(), "edit of an unsent message"); }
                    Operation::Delete(id) => { assert!(chat.remove(&id).is_some(), "delete of an unsent message"); }
                    Operation::Draft(..) => panic!("a draft in a chat without drafts"),
                }
            };
            for (gap_ms, id, version, urgent) in actions {
                now += Duration::from_millis(gap_ms);
                if version >= 8 {
                    // The user spoke: the next content is the start of an answer.
                    p.user_spoke(now);
                }
                if version == 0 {
                    p.delete(id);
                    if want.get(&id).is_some_and(|w| w.is_some()) { want.insert(id, None); }
                } else {
                    let text = format!("m{id} v{version}");
                    p.set(id, Content { text: text.clone(), ..Content::default() }, urgent);
                    want.insert(id, Some(text));
                }
                for op in p.poll(now) { apply(now, op, &mut chat, &mut ops); }
            }
            let mut rounds = 0;
            while let Some(at) = p.next_deadline(now) {
                rounds += 1;
                proptest::prop_assert!(rounds < 10_000, "the pacer makes no progress at {:?}", at);
                proptest::prop_assert!(at >= now);
                now = at;
                for op in p.poll(now) { apply(now, op, &mut chat, &mut ops); }
            }
            for (i, t) in ops.iter().enumerate() {
                let n = ops[i..].iter().take_while(|u| **u <= *t + Duration::from_secs(60)).count();
                proptest::prop_assert!(n <= 20, "{} operations in the minute from {:?}", n, t);
            }
            let expected: BTreeMap<MessageId, String> =
                want.into_iter().filter_map(|(id, w)| w.map(|t| (id, t))).collect();
            proptest::prop_assert_eq!(chat, expected);
        }
    }
}
