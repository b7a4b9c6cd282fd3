//! Replay throughput: every recording's output and input (the project's fixtures and the
//! reference casts) concatenated and repeated to at least 20 MB, fed
//! - through telepty's screen alone, as `telepty replay --screen` does;
//! - through the whole pipeline (screen → view → render → pacer, the `claude` profile),
//!   looking at every chunk, as `telepty replay` and the bot do;
//! - through vt100's own `Parser::process`, and the same plus reading the screen's text
//!   after every chunk (the yardstick: the view may cost no more than one such look).
//!
//! A last group replays the long-answer recording through the pipeline, to give the CPU
//! time per second of a real-time session — also with its transcript (2.1.332), the
//! answer then rendered from the transcript's markdown.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use telepty::cast::asciicast::{Cast, Event, EventKind, Header};
use telepty::cast::replay::replay_chat;
use telepty::core::pacer::Limits;
use telepty::core::profile::Profile;

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
    let chunks: Vec<(EventKind, String)> = dirs
        .iter()
        .flat_map(|d| casts_in(&root.join(d)))
        .filter_map(|p| Cast::read_file(&p).ok())
        .flat_map(|c| {
            c.events
                .into_iter()
                .filter(|e| matches!(e.kind, EventKind::Output | EventKind::Input))
                .map(|e| (e.kind, e.data))
        })
        .collect();
    assert!(!chunks.is_empty(), "no recordings found");
    let mut events = Vec::new();
    let mut total = 0;
    while total < TARGET_BYTES {
        for (kind, data) in &chunks {
            if *kind == EventKind::Output {
                total += data.len();
            }
            events.push(Event {
                time: events.len() as f64 * 0.001,
                kind: kind.clone(),
                data: data.clone(),
            });
        }
    }
    Cast {
        header: Header::new(100, 30),
        events,
        transcript: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let cast = big_cast();
    let bytes: usize = cast
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Output)
        .map(|e| e.data.len())
        .sum();
    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("telepty replay (screen)", |b| {
        b.iter(|| telepty::cast::replay::replay(&cast, None, |_, _| {}));
    });
    group.bench_function("vt100 process", |b| {
        b.iter(|| {
            let mut parser = vt100::Parser::new(
                std::num::NonZeroU16::new(30).unwrap(),
                std::num::NonZeroU16::new(100).unwrap(),
                telepty::term::screen::DEFAULT_SCROLLBACK,
            );
            for e in cast.events.iter().filter(|e| e.kind == EventKind::Output) {
                parser.process(e.data.as_bytes());
            }
            parser
        });
    });
    group.bench_function("vt100 process + screen text per chunk", |b| {
        b.iter(|| {
            let mut parser = vt100::Parser::new(
                std::num::NonZeroU16::new(30).unwrap(),
                std::num::NonZeroU16::new(100).unwrap(),
                telepty::term::screen::DEFAULT_SCROLLBACK,
            );
            let mut seen = 0;
            for e in cast.events.iter().filter(|e| e.kind == EventKind::Output) {
                parser.process(e.data.as_bytes());
                seen += parser.screen().contents().len();
            }
            seen
        });
    });
    let claude = Arc::new(Profile::claude());
    group.bench_function("telepty pipeline (claude profile)", |b| {
        b.iter(|| replay_chat(&cast, claude.clone(), Limits::default()).len());
    });
    group.finish();

    // One real session: the CPU time of the pipeline per second of recording.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let long = root.join("../shared/claude-code/casts-2.1.331/b-long-answer.100x30.cast");
    if let Ok(long) = Cast::read_file(&long) {
        let mut group = c.benchmark_group("real time");
        group.sample_size(20);
        println!(
            "b-long-answer (2.1.331, 100x30): {:.1} s of recording, {} bytes of output",
            long.duration(),
            long.events.iter().map(|e| e.data.len()).sum::<usize>()
        );
        group.bench_function("pipeline on b-long-answer", |b| {
            b.iter(|| replay_chat(&long, claude.clone(), Limits::default()).len());
        });
        // The same answer recorded with 2.1.332 and its transcript: the answer is then
        // rendered from the transcript's markdown.
        let with = root.join("../shared/claude-code/casts-2.1.332/b-long-answer.100x30.cast");
        if let Ok(with) = Cast::read_file(&with) {
            println!(
                "b-long-answer (2.1.332, 100x30): {:.1} s of recording, {} transcript lines",
                with.duration(),
                with.transcript.len()
            );
            group.bench_function("pipeline on b-long-answer with its transcript", |b| {
                b.iter(|| replay_chat(&with, claude.clone(), Limits::default()).len());
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
