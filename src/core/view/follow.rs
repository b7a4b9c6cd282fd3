//! Following the conversation's rows from frame to frame.
//!
//! Claude Code 2.1.331 runs on the alternate screen: rows that leave the top are gone for
//! good, and every frame is drawn anew. 2.1.197 draws inline and lets rows scroll away.
//! Either way the view sees one frame at a time, and must keep what left the screen
//! between two looks. The follower keeps the whole conversation as lines; each new frame
//! is aligned with the lines it already has (where does the frame's top sit in what we
//! know?) and replaces everything from there on. A scroll moves the alignment down; a
//! repaint of the whole conversation aligns where it did before and changes nothing; a
//! line that changed in place (a folded tool call, a growing answer) is simply replaced.

use super::Line;

/// How many of the frame's first non-blank lines are tried as anchors.
const ANCHORS: usize = 4;

#[derive(Debug, Default)]
pub struct Follower {
    lines: Vec<Line>,
}

impl Follower {
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// Forgets the first `n` lines (indices shift down by `n`).
    pub fn drop_front(&mut self, n: usize) {
        self.lines.drain(..n.min(self.lines.len()));
    }

    /// Takes a new frame; returns the index from which the lines may have changed.
    pub fn update(&mut self, frame: Vec<Line>) -> usize {
        let start = self.align(&frame).unwrap_or(self.lines.len());
        let unchanged = self
            .lines
            .iter()
            .skip(start)
            .zip(&frame)
            .take_while(|(a, b)| a.hash == b.hash && a.text == b.text)
            .count();
        self.lines.truncate(start);
        self.lines.extend(frame);
        start + unchanged
    }

    /// Where the frame's first line sits in the known lines, if the frame overlaps them.
    fn align(&self, frame: &[Line]) -> Option<usize> {
        if self.lines.is_empty() {
            return None;
        }
        let anchors: Vec<usize> = frame
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.text.trim().is_empty())
            .map(|(i, _)| i)
            .take(ANCHORS)
            .collect();
        let nonblank = frame.iter().filter(|l| !l.text.trim().is_empty()).count();
        // A frame moves at most a few screens from the last one; a repaint of a long
        // history still ends where the history ends.
        let window = frame.len() * 3 + 64;
        let from = self.lines.len().saturating_sub(window);
        let mut best: Option<(usize, usize)> = None; // (score, start)
        for &a in &anchors {
            for p in from..self.lines.len() {
                if self.lines[p].hash != frame[a].hash || p < a {
                    continue;
                }
                let start = p - a;
                let score = frame
                    .iter()
                    .zip(&self.lines[start..])
                    .filter(|(f, l)| f.hash == l.hash && !f.text.trim().is_empty())
                    .count();
                if best.is_none_or(|(s, b)| score > s || (score == s && start > b)) {
                    best = Some((score, start));
                }
            }
        }
        let (score, start) = best?;
        let needed = if nonblank <= 2 { 1 } else { 2 };
        (score >= needed).then_some(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(lines: &[&str]) -> Vec<Line> {
        lines.iter().map(|t| Line::plain(t.to_string())).collect()
    }

    fn texts(f: &Follower) -> Vec<&str> {
        f.lines().iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn keeps_rows_that_scrolled_off_the_top() {
        let mut f = Follower::default();
        f.update(frame(&["a", "b", "c", "d"]));
        f.update(frame(&["c", "d", "e", "f"]));
        f.update(frame(&["e", "f", "g"]));
        assert_eq!(texts(&f), ["a", "b", "c", "d", "e", "f", "g"]);
    }

    #[test]
    fn a_repaint_changes_nothing_and_an_edit_in_place_replaces() {
        let mut f = Follower::default();
        f.update(frame(&["one", "two", "", "three", "four"]));
        f.update(frame(&["", "three", "four", "five"]));
        f.update(frame(&["one", "two", "", "three", "four", "five"]));
        assert_eq!(texts(&f), ["one", "two", "", "three", "four", "five"]);
        // A line folded in place while the rest scrolls by one.
        f.update(frame(&["two", "", "THREE", "four", "five", "six"]));
        assert_eq!(
            texts(&f),
            ["one", "two", "", "THREE", "four", "five", "six"]
        );
    }

    #[test]
    fn an_unrelated_screen_is_added_after() {
        let mut f = Follower::default();
        f.update(frame(&["x1", "x2", "x3"]));
        let changed = f.update(frame(&["y1", "y2", "y3"]));
        assert_eq!(changed, 3);
        assert_eq!(texts(&f), ["x1", "x2", "x3", "y1", "y2", "y3"]);
    }
}
