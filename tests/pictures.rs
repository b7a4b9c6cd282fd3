//! `/screen` as a picture: the final screen of every recording in `fixtures/` rendered to
//! PNG and compared with the committed reference in `tests/pictures/` (a small tolerance
//! for rasterizer rounding). Claude Code 2.1.331 draws on the alternate screen and leaves
//! it at the end, so its final screen is only the resume line: the last frame before it
//! left (`NAME.last-frame.png`) is compared too — what `/screen` shows during a session. On a mismatch the actual picture is written next to the
//! reference as `NAME.actual.png`; `BLESS=1 cargo test --test pictures` rewrites the
//! references after a deliberate change (look at them before committing).

mod common;

use std::path::Path;

use common::{root, Recordings};
use telepty::cast::asciicast::Cast;
use telepty::cast::replay::replay;
use telepty::term::picture::{render, Picture};

/// A pixel differs when a channel is off by more than this.
const CHANNEL_TOLERANCE: u8 = 24;
/// At most this share of the pixels may differ.
const PIXEL_TOLERANCE: f64 = 0.001;

#[test]
fn the_final_screen_of_every_fixture_renders_as_its_reference_picture() {
    let bless = std::env::var_os("BLESS").is_some();
    let refs = root().join("tests/pictures");
    let mut failures = Vec::new();
    let casts = Recordings::OwnClaudeCode.casts();
    for cast_path in &casts {
        let stem = cast_path.file_stem().unwrap().to_string_lossy().to_string();
        let cast = Cast::read_file(cast_path).unwrap();
        let mut pictures = vec![(stem.clone(), render(replay(&cast, None, |_, _| {}).vt()))];
        if let Some(before) = before_leaving_the_alternate_screen(&cast) {
            let screen = replay(&before, None, |_, _| {});
            pictures.push((format!("{stem}.last-frame"), render(screen.vt())));
        }
        for (name, picture) in pictures {
            let expected_path = refs.join(format!("{name}.png"));
            let actual_path = refs.join(format!("{name}.actual.png"));
            if bless {
                std::fs::write(&expected_path, picture.png()).unwrap();
                continue;
            }
            match compare(&picture, &expected_path) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&actual_path);
                }
                Err(why) => {
                    std::fs::write(&actual_path, picture.png()).unwrap();
                    failures.push(format!("{name}: {why} (actual: {})", actual_path.display()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(casts.len() >= 30, "every fixture: {}", casts.len());
}

/// The recording cut just before the program last left the alternate screen, if it did.
fn before_leaving_the_alternate_screen(cast: &Cast) -> Option<Cast> {
    const LEAVE: &str = "\x1b[?1049l";
    let at = cast.events.iter().rposition(|e| e.data.contains(LEAVE))?;
    let mut events = cast.events[..=at].to_vec();
    let last = events.last_mut()?;
    let cut = last.data.rfind(LEAVE)?;
    last.data.truncate(cut);
    Some(Cast {
        header: cast.header.clone(),
        events,
        transcript: Vec::new(),
    })
}

fn compare(actual: &Picture, expected: &Path) -> Result<(), String> {
    let bytes = std::fs::read(expected).map_err(|e| format!("no reference ({e})"))?;
    let expected = Picture::from_png(&bytes).map_err(|e| format!("bad reference: {e}"))?;
    if (actual.width, actual.height) != (expected.width, expected.height) {
        return Err(format!(
            "size {}x{}, expected {}x{}",
            actual.width, actual.height, expected.width, expected.height
        ));
    }
    let differing = actual
        .pixels
        .chunks(3)
        .zip(expected.pixels.chunks(3))
        .filter(|(a, e)| {
            a.iter()
                .zip(*e)
                .any(|(x, y)| x.abs_diff(*y) > CHANNEL_TOLERANCE)
        })
        .count();
    let share = differing as f64 / (actual.width * actual.height) as f64;
    if share > PIXEL_TOLERANCE {
        return Err(format!(
            "{differing} pixels differ ({:.3} %)",
            share * 100.0
        ));
    }
    Ok(())
}

/// Every character every recording draws has a glyph in `/screen`'s pictures (Claude
/// Code's `⎿` under each tool call used to be an empty box): each recording replayed,
/// every screen it shows looked at, the characters that would fall back to the box
/// counted — 0.
#[test]
fn no_character_of_any_recording_draws_as_the_missing_glyph_box() {
    use std::collections::BTreeMap;
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut looked = 0;
    for folder in Recordings::ALL {
        for cast_path in folder.casts() {
            let cast = Cast::read_file(&cast_path).unwrap();
            let name = cast_path.file_name().unwrap().to_string_lossy().to_string();
            replay(&cast, None, |_, screen| {
                looked += 1;
                for text in telepty::term::picture::missing_glyphs(screen.vt()) {
                    let casts = missing.entry(text).or_default();
                    if !casts.contains(&name) {
                        casts.push(name.clone());
                    }
                }
            });
        }
    }
    let list: Vec<String> = missing
        .iter()
        .map(|(t, casts)| {
            let code: Vec<String> = t.chars().map(|c| format!("U+{:04X}", c as u32)).collect();
            format!(
                "{t:?} ({}) in {} recording(s), e.g. {}",
                code.join(" "),
                casts.len(),
                casts[0]
            )
        })
        .collect();
    println!(
        "{looked} screens looked at; {} characters without a glyph",
        missing.len()
    );
    assert!(missing.is_empty(), "without a glyph:\n{}", list.join("\n"));
}
