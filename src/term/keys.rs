//! Keys and text as the bytes a terminal would send for them.
//!
//! The encoding depends on modes the program set on its screen: arrows differ in
//! application-cursor mode (`CSI ?1h`), and text goes as a bracketed paste when the
//! program turned that on (`CSI ?2004h`), so a multi-line message is not taken as
//! several Enter presses.

use std::fmt;
use std::str::FromStr;

/// A key a user (or a script, or a chat button) can press.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Enter,
    Esc,
    Tab,
    ShiftTab,
    Backspace,
    Space,
    Delete,
    Home,
    End,
    PageUp,
    PageDown,
    Up,
    Down,
    Left,
    Right,
    /// Ctrl plus a letter, `a`..=`z` (Ctrl-C interrupts, Ctrl-O toggles Claude Code's transcript).
    Ctrl(char),
    /// A digit key, `0`..=`9`: picks a numbered menu option.
    Digit(u8),
}

impl Key {
    /// The bytes to write for this key, given the screen's application-cursor mode.
    pub fn bytes(self, application_cursor: bool) -> Vec<u8> {
        let arrow = |c: u8| {
            if application_cursor {
                vec![0x1b, b'O', c]
            } else {
                vec![0x1b, b'[', c]
            }
        };
        match self {
            Key::Enter => b"\r".to_vec(),
            Key::Esc => b"\x1b".to_vec(),
            Key::Tab => b"\t".to_vec(),
            Key::ShiftTab => b"\x1b[Z".to_vec(),
            Key::Backspace => b"\x7f".to_vec(),
            Key::Space => b" ".to_vec(),
            Key::Delete => b"\x1b[3~".to_vec(),
            Key::Home => arrow(b'H'),
            Key::End => arrow(b'F'),
            Key::PageUp => b"\x1b[5~".to_vec(),
            Key::PageDown => b"\x1b[6~".to_vec(),
            Key::Up => arrow(b'A'),
            Key::Down => arrow(b'B'),
            Key::Right => arrow(b'C'),
            Key::Left => arrow(b'D'),
            Key::Ctrl(c) => vec![(c.to_ascii_lowercase() as u8) & 0x1f],
            Key::Digit(d) => vec![b'0' + d],
        }
    }
}

/// The bytes for `text` typed into a program: a bracketed paste when the program asked
/// for one, the text as-is otherwise. The text is [`typed_text`] first, so a message can
/// neither end the paste early nor carry keystrokes of its own.
pub fn paste_bytes(text: &str, bracketed: bool) -> Vec<u8> {
    let clean = typed_text(text);
    if bracketed {
        let mut out = Vec::with_capacity(clean.len() + 12);
        out.extend_from_slice(b"\x1b[200~");
        out.extend_from_slice(clean.as_bytes());
        out.extend_from_slice(b"\x1b[201~");
        out
    } else {
        clean.into_bytes()
    }
}

/// Chat text as it may be typed: escape sequences and C0/C1 control characters removed
/// (a message, forwarded or not, is text, never keys), line breaks as `\n`, tabs kept.
/// No ESC survives, so no paste marker can be pieced together from what is left.
pub fn typed_text(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    // (The escape parser drops tabs too: they are kept around it.)
    let mut clean = text
        .split('\t')
        .map(strip_ansi_escapes::strip_str)
        .collect::<Vec<_>>()
        .join("\t");
    // What the escape parser leaves of a broken sequence goes with the control filter.
    // (ESC is a control character: no paste marker survives, however it was nested.)
    clean.retain(|c| c == '\n' || c == '\t' || !c.is_control());
    clean
}

/// A key name that is not one of the known ones.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown key {0:?} (known: Enter, Esc, Tab, Shift-Tab, Backspace, Space, Delete, Home, End, PageUp, PageDown, Up, Down, Left, Right, Ctrl-A..Ctrl-Z, 0..9)")]
pub struct UnknownKey(pub String);

impl FromStr for Key {
    type Err = UnknownKey;

    /// Parses names such as `Enter`, `esc`, `Shift-Tab`, `Ctrl-C`, `ctrl+o`, `3`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase().replace('+', "-");
        let key = match lower.as_str() {
            "enter" | "return" | "cr" => Key::Enter,
            "esc" | "escape" => Key::Esc,
            "tab" => Key::Tab,
            "shift-tab" | "backtab" => Key::ShiftTab,
            "backspace" | "bs" => Key::Backspace,
            "space" => Key::Space,
            "delete" | "del" => Key::Delete,
            "home" => Key::Home,
            "end" => Key::End,
            "pageup" | "pgup" => Key::PageUp,
            "pagedown" | "pgdn" => Key::PageDown,
            "up" => Key::Up,
            "down" => Key::Down,
            "left" => Key::Left,
            "right" => Key::Right,
            d if d.len() == 1 && d.as_bytes()[0].is_ascii_digit() => {
                Key::Digit(d.as_bytes()[0] - b'0')
            }
            c if c.starts_with("ctrl-") && c.len() == 6 && c.as_bytes()[5].is_ascii_lowercase() => {
                Key::Ctrl(c.as_bytes()[5] as char)
            }
            _ => return Err(UnknownKey(s.to_string())),
        };
        Ok(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Enter => f.write_str("Enter"),
            Key::Esc => f.write_str("Esc"),
            Key::Tab => f.write_str("Tab"),
            Key::ShiftTab => f.write_str("Shift-Tab"),
            Key::Backspace => f.write_str("Backspace"),
            Key::Space => f.write_str("Space"),
            Key::Delete => f.write_str("Delete"),
            Key::Home => f.write_str("Home"),
            Key::End => f.write_str("End"),
            Key::PageUp => f.write_str("PageUp"),
            Key::PageDown => f.write_str("PageDown"),
            Key::Up => f.write_str("Up"),
            Key::Down => f.write_str("Down"),
            Key::Left => f.write_str("Left"),
            Key::Right => f.write_str("Right"),
            Key::Ctrl(c) => write!(f, "Ctrl-{}", c.to_ascii_uppercase()),
            Key::Digit(d) => write!(f, "{d}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrows_follow_application_cursor_mode() {
        assert_eq!(Key::Up.bytes(false), b"\x1b[A");
        assert_eq!(Key::Up.bytes(true), b"\x1bOA");
        assert_eq!(Key::Left.bytes(true), b"\x1bOD");
    }

    #[test]
    fn control_keys() {
        assert_eq!(Key::Ctrl('c').bytes(false), vec![3]);
        assert_eq!(Key::Ctrl('o').bytes(false), vec![15]);
        assert_eq!(Key::ShiftTab.bytes(false), b"\x1b[Z");
        assert_eq!(Key::Digit(3).bytes(false), b"3");
        assert_eq!(Key::Enter.bytes(true), b"\r");
    }

    #[test]
    fn names_parse_and_print_back() {
        for name in [
            "Enter",
            "Esc",
            "Tab",
            "Shift-Tab",
            "Up",
            "Down",
            "Ctrl-C",
            "Ctrl-O",
            "7",
        ] {
            let key: Key = name.parse().unwrap();
            assert_eq!(key.to_string(), name);
        }
        assert_eq!("ctrl+c".parse::<Key>(), Ok(Key::Ctrl('c')));
        assert!("Hyper-X".parse::<Key>().is_err());
        assert!("Ctrl-1".parse::<Key>().is_err());
    }

    #[test]
    fn paste_is_bracketed_only_when_asked_and_cannot_be_escaped() {
        assert_eq!(paste_bytes("a\nb", false), b"a\nb");
        assert_eq!(paste_bytes("a\nb", true), b"\x1b[200~a\nb\x1b[201~");
        assert_eq!(paste_bytes("x\x1b[201~rm", true), b"\x1b[200~xrm\x1b[201~");
    }

    #[test]
    fn no_message_can_end_a_paste_or_carry_keys() {
        // The marker hidden inside itself: one pass of removal used to rebuild it.
        for hostile in [
            "a\x1b[20\x1b[201~1~\rrm -rf ~\r",
            "\x1b[2\x1b[20\x1b[201~1~1~x",
            "q\x1b\x1b[201~[201~\x03\x1b[A\u{9b}201~\u{7f}",
            "\x1b]0;title\x07\x1bPq\x1b\\ok",
        ] {
            let typed = paste_bytes(hostile, true);
            let inner = &typed[6..typed.len() - 6];
            assert!(
                !inner.contains(&0x1b),
                "{hostile:?} → {:?}",
                String::from_utf8_lossy(inner)
            );
            let text = String::from_utf8(inner.to_vec()).unwrap();
            assert!(
                text.chars()
                    .all(|c| c == '\n' || c == '\t' || !c.is_control()),
                "{text:?}"
            );
        }
        assert_eq!(
            typed_text("line one\r\nline\ttwo\rthree"),
            "line one\nline\ttwo\nthree"
        );
        assert_eq!(typed_text("ünïcødé 🎉 → ok"), "ünïcødé 🎉 → ok");
    }
}
