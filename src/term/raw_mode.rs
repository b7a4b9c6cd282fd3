//! The user's own terminal, for the commands that take it over (`telepty record`,
//! `telepty attach`): raw mode that is always given back, and what is typed, read on a
//! thread of its own (reading stdin blocks).

use anyhow::Context;
use tokio::sync::mpsc;

/// Raw mode while it lives: every key goes to the program as it is. Dropped — however
/// the command ends, a panic's unwinding included — the terminal is cooked again.
pub struct RawMode;

impl RawMode {
    pub fn enable() -> anyhow::Result<RawMode> {
        crossterm::terminal::enable_raw_mode().context("cannot put the terminal into raw mode")?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// What is typed, chunk by chunk, until stdin ends (a thread blocks on it; it ends with
/// the process, or when the receiver is gone and one more key comes).
pub fn typed() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(64);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut stdin, &mut buf) {
            if n == 0 || tx.blocking_send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}
