//! `telepty attach NAME`: this terminal on a live session, beside the chat.
//!
//! The running bot owns the session's PTY; the terminal attaches through the control
//! socket, gets the screen as it is (drawn from the screen model: contents, colours,
//! cursor), then the output as it comes, and sends what is typed. The terminal is put in
//! raw mode on the alternate screen and restored on every way out: detach (Ctrl-\ twice),
//! SIGHUP or SIGTERM, the session's end, telepty going away, an error or a panic.

use std::io::Write;
use std::path::Path;

use tokio::signal::unix::{signal, SignalKind};

use crate::control::socket::{self, Ask, Frame};
use crate::term::raw_mode::RawMode;

/// Ctrl-\ : pressed twice, it detaches. Claude Code gives it no meaning, and a terminal
/// in raw mode does not turn it into SIGQUIT.
pub const DETACH_KEY: u8 = 0x1c;

/// Finds the detach sequence (Ctrl-\ twice) in what is typed. A single Ctrl-\ is held
/// until the next byte shows whether it was meant for the program.
#[derive(Debug, Default)]
pub struct Detacher {
    armed: bool,
}

impl Detacher {
    /// What of `typed` goes to the session, and whether the user detached (what follows
    /// the detach sequence is dropped).
    pub fn feed(&mut self, typed: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(typed.len());
        for &b in typed {
            if std::mem::take(&mut self.armed) {
                if b == DETACH_KEY {
                    return (out, true);
                }
                out.push(DETACH_KEY);
            }
            if b == DETACH_KEY {
                self.armed = true;
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

/// What the terminal gets back on the way out: attributes reset, the alternate screen
/// left, the cursor shown, and every input mode a program may have switched on (bracketed
/// paste, application cursor and keypad, mouse, focus reports, kitty keyboard) off.
pub const RESTORE: &str = "\x1b[0m\x1b[?1049l\x1b[?25h\x1b[?2004l\x1b[?1l\x1b>\x1b[?1000l\
                           \x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1004l\x1b[<u";

/// Raw mode on the alternate screen while it lives; restored when dropped (also while
/// unwinding from a panic) and by the panic hook it installs.
struct TerminalGuard {
    _raw: RawMode,
}

impl TerminalGuard {
    fn enter() -> anyhow::Result<TerminalGuard> {
        let raw = RawMode::enable()?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_modes();
            let _ = crossterm::terminal::disable_raw_mode();
            previous(info);
        }));
        let mut out = std::io::stdout();
        let _ = out.write_all(b"\x1b[?1049h\x1b[H\x1b[2J");
        let _ = out.flush();
        Ok(TerminalGuard { _raw: raw })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // The modes first; raw mode goes when `_raw` is dropped right after.
        restore_modes();
    }
}

/// The terminal's modes back (see [`RESTORE`]).
fn restore_modes() {
    let mut out = std::io::stdout();
    let _ = out.write_all(RESTORE.as_bytes());
    let _ = out.flush();
}

/// Attaches this terminal to session `name` of the telepty using `state_dir`, until the
/// user detaches or the session ends. With `resize` the session takes this terminal's
/// size while it is attached.
pub async fn attach(state_dir: &Path, name: &str, resize: bool) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "telepty attach needs a terminal; from a script, `telepty send {name} TEXT` types \
             a line into the session"
        );
    }
    let ours = crossterm::terminal::size().ok();
    let ask = Ask::Attach {
        name: name.to_string(),
        resize: if resize { ours } else { None },
    };
    let (answer, mut connection) = socket::ask(state_dir, &ask).await?;
    if !answer.ok {
        anyhow::bail!(
            "cannot attach to {name}: {}",
            answer.error.unwrap_or_default()
        );
    }
    let too_small = match (ours, answer.size, resize) {
        (Some((c, r)), Some((sc, sr)), false) if c < sc || r < sr => Some(format!(
            "this terminal is {c}x{r} and the session {sc}x{sr}: its screen does not fit \
             (make the terminal larger, or attach with --resize)"
        )),
        _ => None,
    };
    if let Some(warning) = &too_small {
        // Said before the screen is taken over, and confirmed, or it would go unread.
        eprint!("telepty: {warning}.\nPress Enter to attach anyway, Ctrl-C to leave it: ");
        let mut line = String::new();
        if std::io::stdin().read_line(&mut line)? == 0 {
            return Ok(());
        }
    }

    let guard = TerminalGuard::enter()?;
    let mut typed = crate::term::raw_mode::typed();
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut winch = signal(SignalKind::window_change())?;
    let mut detacher = Detacher::default();
    let mut stdout = std::io::stdout();
    let why = loop {
        tokio::select! {
            frame = Frame::read(&mut connection.read) => match frame {
                Ok(Some(Frame::Output(bytes))) => {
                    stdout.write_all(&bytes)?;
                    stdout.flush()?;
                }
                Ok(Some(Frame::Ended(how))) => break format!("{name} ended: {how}"),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break "telepty went away".to_string(),
            },
            Some(bytes) = typed.recv() => {
                let (send, detached) = detacher.feed(&bytes);
                if !send.is_empty() {
                    Frame::Input(send).write(&mut connection.write).await?;
                }
                if detached {
                    break format!("detached from {name}");
                }
            }
            _ = winch.recv(), if resize => {
                if let Ok((cols, rows)) = crossterm::terminal::size() {
                    Frame::Resize(cols, rows).write(&mut connection.write).await?;
                }
            }
            _ = hangup.recv() => break format!("detached from {name} (hangup)"),
            _ = terminate.recv() => break format!("detached from {name} (terminated)"),
        }
    };
    drop(guard);
    drop(connection);
    eprintln!("[{why}]");
    if let Some(warning) = too_small {
        eprintln!("telepty: {warning}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_backslash_twice_detaches_and_once_is_passed_on() {
        let mut d = Detacher::default();
        assert_eq!(d.feed(b"hello\r"), (b"hello\r".to_vec(), false));
        // One Ctrl-\ is held until the next byte…
        assert_eq!(d.feed(&[DETACH_KEY]), (vec![], false));
        // …which shows it was for the program.
        assert_eq!(d.feed(b"x"), (vec![DETACH_KEY, b'x'], false));
        // Twice, even split across reads, detaches; what follows is not sent.
        assert_eq!(d.feed(&[b'a', DETACH_KEY]), (vec![b'a'], false));
        assert_eq!(d.feed(&[DETACH_KEY, b'z']), (vec![], true));
        let mut d = Detacher::default();
        assert_eq!(d.feed(&[b'q', DETACH_KEY, DETACH_KEY]), (vec![b'q'], true));
    }
}
