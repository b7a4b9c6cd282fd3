//! No byte stream and no recording, however broken, makes the screen or the replay panic.

use proptest::prelude::*;
use telepty::cast::asciicast::{Cast, Event, EventKind, Header};
use telepty::cast::replay::replay;
use telepty::{Screen, Size};

/// A real recording to mutate: Claude Code 2.1.331 drawing a permission prompt.
const SAMPLE: &str = include_str!("../fixtures/claude-code/d-permission-yes.60x24.cast");

/// Pieces that terminal streams are made of, so random streams reach deep parser states.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..16),
        prop::sample::select(vec![
            &b"\x1b["[..],
            b"\x1b]",
            b"\x1bP",
            b"\x1b7",
            b"\x1b8",
            b"\x1b[?1049h",
            b"\x1b[?1049l",
            b"\x1b[?47h",
            b"\x1b[6n",
            b"\x1b[c",
            b"\x1b[>0q",
            b"\x1b[2J",
            b"\x1b[3J",
            b"\x1b[H",
            b"\x1b[r",
            b"\x1b[5;10r",
            b"\x1b[999;999H",
            b"\x1b[65535X",
            b"\x1b[38;5;300m",
            b"\x1b[38;2;1;2;3m",
            b"\x1b[?2004h",
            b"\x1b]0;title\x07",
            b"\x1b]8;;http://x\x07",
            b"\x07",
            b"\r\n",
            b"\n",
            b"\x08",
            b"\t",
            "❯ ●⎿ ✻ 中文 👩‍👩‍👧".as_bytes(),
            b"\xf0\x9f",
            b"\xe2\x94",
            b";",
            b"?",
            b"1049",
            b"0",
            b"\x1b[L",
            b"\x1b[M",
            b"\x1b[P",
            b"\x1b[@",
            b"\x1b[S",
            b"\x1b[T",
            b"\x1bM",
            b"\x1bD",
        ])
        .prop_map(|s| s.to_vec()),
    ]
}

fn stream() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop::collection::vec(fragment(), 0..24).prop_map(|f| f.concat()),
        1..24,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_stream_in_any_chunks_at_any_size(chunks in stream(), cols in 1u16..140, rows in 1u16..60,
                                            resize in prop::option::of((1u16..140, 1u16..60))) {
        let mut screen = Screen::new(Size::new(cols, rows), 50);
        for (i, chunk) in chunks.iter().enumerate() {
            let fed = screen.feed(chunk);
            prop_assert!(fed.replies.len() <= chunk.len() * 8 + 16);
            if i == 1 {
                if let Some((c, r)) = resize {
                    screen.resize(Size::new(c, r));
                }
            }
        }
        let _ = screen.text();
        let _ = screen.lines_with_scrollback();
        let (row, col) = screen.cursor();
        prop_assert!(row < screen.size().rows && col <= screen.size().cols);
    }

    #[test]
    fn mutated_recordings_either_fail_cleanly_or_replay(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..12),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = SAMPLE.as_bytes().to_vec();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => { bytes.remove(i); }
            }
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(cast) = Cast::read(&bytes[..]) {
            replay(&cast, None, |_, _| {});
        }
    }

    #[test]
    fn recordings_with_mutated_output_replay(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), fragment()), 1..16),
    ) {
        let mut cast = Cast::read(SAMPLE.as_bytes()).expect("the sample reads");
        for (event, at, bytes) in edits {
            let n = cast.events.len();
            let e = &mut cast.events[event.index(n)];
            let mut data = e.data.clone().into_bytes();
            let i = at.index(data.len() + 1);
            data.splice(i..i, bytes);
            e.data = String::from_utf8_lossy(&data).into_owned();
        }
        let screen = replay(&cast, None, |_, _| {});
        prop_assert_eq!(screen.size(), Size::new(60, 24));
    }

    #[test]
    fn generated_recordings_replay(events in prop::collection::vec(
        (0.0f64..100.0, prop::sample::select(vec!["o", "i", "r", "m", "x"]), fragment()), 0..40)) {
        let cast = Cast {
            header: Header::new(80, 24),
            events: events.into_iter().map(|(time, code, data)| Event {
                time,
                kind: match code { "o" => EventKind::Output, "i" => EventKind::Input, "r" => EventKind::Resize,
                                   "m" => EventKind::Marker, other => EventKind::Other(other.into()) },
                data: if code == "r" { format!("{}x{}", data.len() % 200, data.first().copied().unwrap_or(0)) }
                      else { String::from_utf8_lossy(&data).into_owned() },
            }).collect(),
            transcript: Vec::new(),
        };
        replay(&cast, None, |_, _| {});
    }
}
