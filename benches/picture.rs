//! `/screen` as a picture: rendering a busy 100x30 screen (the last full frame of the
//! write-and-edit recording: code, a coloured diff, box drawing) and encoding the PNG.

use criterion::{criterion_group, criterion_main, Criterion};
use telepty::cast::asciicast::Cast;
use telepty::cast::replay::replay;
use telepty::term::picture::render;

fn picture(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/claude-code/f-write-edit.100x30.cast"
    );
    let mut cast = Cast::read_file(std::path::Path::new(path)).expect("the fixture");
    // Up to the moment before Claude Code left the alternate screen: its last full frame.
    let leave = "\x1b[?1049l";
    if let Some(at) = cast.events.iter().rposition(|e| e.data.contains(leave)) {
        cast.events.truncate(at + 1);
        let last = cast.events.last_mut().expect("an event");
        let cut = last.data.rfind(leave).expect("found above");
        last.data.truncate(cut);
    }
    let screen = replay(&cast, None, |_, _| {});
    let png = render(screen.vt()).png();
    println!("100x30 screen: PNG of {} bytes", png.len());
    let mut group = c.benchmark_group("picture");
    group.bench_function("render 100x30", |b| b.iter(|| render(screen.vt())));
    group.bench_function("render + PNG 100x30", |b| {
        b.iter(|| render(screen.vt()).png())
    });
    group.finish();
}

criterion_group!(benches, picture);
criterion_main!(benches);
