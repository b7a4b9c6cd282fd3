//! Study aid: replays a recording through the pipeline and prints the view's model
//! (state, turns, prompt) whenever it changes; `FINAL=1` prints only the final blocks.
//!     cargo run --release --example viewdump -- FILE.cast   (PROFILE=codex for another built-in profile)
use std::sync::Arc;
use std::time::Duration;
use telepty::cast::asciicast::EventKind;
use telepty::core::pipeline::Pipeline;
use telepty::core::profile::Profile;
use telepty::{Cast, Size};
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let cast = Cast::read_file(std::path::Path::new(&path)).unwrap();
    let mut p = Pipeline::new(
        Arc::new(
            std::env::var("PROFILE")
                .ok()
                .and_then(|n| Profile::built_in(&n))
                .unwrap_or_else(Profile::claude),
        ),
        Size::new(cast.header.width, cast.header.height),
        Default::default(),
    );
    let mut last = 0;
    for e in &cast.events {
        let now = Duration::from_secs_f64(e.time);
        match e.kind {
            EventKind::Output => {
                p.output(now, e.data.as_bytes());
            }
            EventKind::Input => {
                p.input(now, e.data.as_bytes());
            }
            _ => {}
        }
        if std::env::var("FINAL").is_ok() {
            continue;
        }
        if p.view().generation() != last {
            last = p.view().generation();
            println!(
                "{:.2} state={:?} turns={:?} prompt={:?}",
                e.time,
                p.view().state(),
                p.view().turns(),
                p.view().prompt()
            );
        }
    }
    for t in p.view().turns() {
        for b in &t.blocks {
            println!("{:#?}", b);
        }
    }
}
