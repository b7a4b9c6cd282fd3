//! Profiling aid: every recording, repeated N times (as the bench does), through the
//! screen alone, through vt100 plus a text read per chunk (the bench's yardstick), and
//! through the whole pipeline; prints the three times. Run it under `perf record`, or
//! count its instructions with scripts/count-instructions (steady where times are not).
//!     cargo run --release --example pipebench -- 3
use std::path::PathBuf;
use std::sync::Arc;
use telepty::cast::asciicast::{Cast, Event, EventKind, Header};
use telepty::cast::replay::replay_chat;
use telepty::core::pacer::Limits;
use telepty::core::profile::Profile;
fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut chunks = Vec::new();
    for d in [
        "fixtures/claude-code",
        "fixtures/terminal",
        "../shared/claude-code/casts",
        "../shared/claude-code/casts-2.1.331",
    ] {
        let mut ps: Vec<_> = std::fs::read_dir(root.join(d))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "cast"))
            .collect();
        ps.sort();
        for p in ps {
            for e in Cast::read_file(&p).unwrap().events {
                if matches!(e.kind, EventKind::Output | EventKind::Input) {
                    chunks.push((e.kind, e.data));
                }
            }
        }
    }
    let reps: usize = std::env::args().nth(1).map_or(3, |a| a.parse().unwrap());
    let mut events = Vec::new();
    for _ in 0..reps {
        for (k, d) in &chunks {
            events.push(Event {
                time: events.len() as f64 * 0.001,
                kind: k.clone(),
                data: d.clone(),
            });
        }
    }
    let cast = Cast {
        header: Header::new(100, 30),
        events,
        transcript: Vec::new(),
    };
    eprintln!(
        "screen (feed + rows per chunk): {:?}",
        timed(|| screen_alone(&cast))
    );
    eprintln!(
        "yardstick (vt100 + text per chunk): {:?}",
        timed(|| yardstick(&cast))
    );
    let claude = Arc::new(Profile::claude());
    eprintln!("pipeline: {:?}", timed(|| pipeline(&cast, claude)));
}

fn timed(f: impl FnOnce() -> usize) -> std::time::Duration {
    let t = std::time::Instant::now();
    std::hint::black_box(f());
    t.elapsed()
}

// Each measured part is its own function, never inlined, so that an instruction count
// (`valgrind --tool=callgrind`, scripts/count-instructions) can name it.

/// telepty's screen: every chunk fed, its rows read.
#[inline(never)]
fn screen_alone(cast: &Cast) -> usize {
    let mut s = telepty::Screen::new(telepty::Size::new(100, 30), 5000);
    let mut n = 0;
    for e in &cast.events {
        if e.kind == EventKind::Output {
            s.feed(e.data.as_bytes());
            n += s.rows().len();
        }
    }
    n
}

/// The bench's yardstick: vt100 alone, the screen's text read after every chunk.
#[inline(never)]
fn yardstick(cast: &Cast) -> usize {
    let mut p = vt100::Parser::new(
        std::num::NonZeroU16::new(30).unwrap(),
        std::num::NonZeroU16::new(100).unwrap(),
        5000,
    );
    let mut n = 0;
    for e in &cast.events {
        if e.kind == EventKind::Output {
            p.process(e.data.as_bytes());
            n += p.screen().contents().len();
        }
    }
    n
}

/// The whole pipeline, `claude` profile.
#[inline(never)]
fn pipeline(cast: &Cast, profile: Arc<Profile>) -> usize {
    replay_chat(cast, profile, Limits::default()).len()
}
