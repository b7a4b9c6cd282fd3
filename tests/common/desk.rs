//! Terminals at the desk: `telepty attach` (or another telepty command) in a PTY of the
//! test's own, read through the same screen model telepty uses.

use std::path::{Path, PathBuf};
use std::time::Duration;

use telepty::term::terminal::Activity;
use telepty::{Command, Size, Terminal};

/// What the desk's shell prints once telepty has returned (after the terminal's modes).
pub const AFTER: &str = "AFTER-TELEPTY";

/// `telepty ARGS` in a PTY of `size`; when telepty returns, the shell prints the
/// terminal's modes (`stty -a`) and [`AFTER`].
pub fn desk(args: &str, size: Size) -> Terminal {
    let script = format!(
        "{} {args}; echo; stty -a; echo {AFTER}",
        env!("CARGO_BIN_EXE_telepty")
    );
    let command = Command::new("/bin/bash", std::env::temp_dir())
        .args(["--norc", "--noprofile", "-c", &script])
        .size(size);
    Terminal::spawn(&command, 200).unwrap()
}

/// Waits until the desk's screen shows `text` (60 s at most), or fails showing it.
pub async fn shows(term: &mut Terminal, text: &str) {
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while !term.screen().text().contains(text) {
            if let Activity::Exited(_) = term.next().await {
                return;
            }
        }
    })
    .await;
    let screen = term.screen().text();
    assert!(
        found.is_ok() && screen.contains(text),
        "the desk never showed {text:?}; it shows:\n{screen}"
    );
}

/// A configuration file in `home` that points telepty at `state_dir` (a child of a PTY
/// gets no TELEPTY_* variable: telepty scrubs them).
pub fn config_for(home: &Path, state_dir: &Path) -> PathBuf {
    let file = home.join("desk.toml");
    std::fs::write(
        &file,
        format!("state_dir = {:?}\n", state_dir.display().to_string()),
    )
    .unwrap();
    file
}
