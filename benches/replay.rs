//! Replay throughput: every recording's output (the project's fixtures and the reference
//! casts) concatenated and repeated to at least 20 MB, fed through telepty's screen as
//! `telepty replay` does, next to vt100's own `Parser::process` on the same chunks.

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use telepty::asciicast::{Cast, Event, EventKind, Header};

const TARGET_BYTES: usize = 20 * 1024 * 1024;

fn casts_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| p.extension().is_some_and(|e| e == "cast"));
    out.sort();
    out
}

fn big_cast() -> Cast {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dirs = [
        "fixtures/claude-code",
        "fixtures/terminal",
        "../shared/claude-code/casts",
        "../shared/claude-code/casts-2.1.331",
    ];
    let chunks: Vec<String> = dirs
        .iter()
        .flat_map(|d| casts_in(&root.join(d)))
        .filter_map(|p| Cast::read_file(&p).ok())
        .flat_map(|c| {
            c.events
                .into_iter()
                .filter(|e| e.kind == EventKind::Output)
                .map(|e| e.data)
        })
        .collect();
    assert!(!chunks.is_empty(), "no recordings found");
    let mut events = Vec::new();
    let mut total = 0;
    while total < TARGET_BYTES {
        for data in &chunks {
            total += data.len();
            events.push(Event {
                time: events.len() as f64 * 0.001,
                kind: EventKind::Output,
                data: data.clone(),
            });
        }
    }
    Cast {
        header: Header::new(100, 30),
        events,
    }
}

fn bench(c: &mut Criterion) {
    let cast = big_cast();
    let bytes: usize = cast.events.iter().map(|e| e.data.len()).sum();
    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("telepty replay (screen)", |b| {
        b.iter(|| telepty::replay::replay(&cast, None, |_, _| {}));
    });
    group.bench_function("vt100 process", |b| {
        b.iter(|| {
            let mut parser = vt100::Parser::new(
                std::num::NonZeroU16::new(30).unwrap(),
                std::num::NonZeroU16::new(100).unwrap(),
                telepty::screen::DEFAULT_SCROLLBACK,
            );
            for e in &cast.events {
                parser.process(e.data.as_bytes());
            }
            parser
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
