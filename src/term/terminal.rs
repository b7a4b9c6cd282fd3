//! A program in a PTY together with its screen: the unit the rest of telepty drives.
//!
//! Every output chunk goes through the screen, and the screen's answers to terminal
//! queries go straight back to the program, so programs that ask (`CSI c`, `CSI 6n`)
//! never stall. Keys and text are encoded for the modes the program set.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::term::keys::{paste_bytes, Key};
use crate::term::pty::{Command, ExitInfo, Pty};
use crate::term::screen::{Fed, Screen, Size};

pub struct Terminal {
    pty: Pty,
    output: mpsc::Receiver<Vec<u8>>,
    screen: Screen,
    /// The output channel reached end of file.
    is_eof: bool,
}

/// One step of a running terminal.
#[derive(Debug)]
pub enum Activity {
    /// The program wrote these bytes (already applied to the screen).
    Output(Vec<u8>, Fed),
    /// The program ended; no output is pending any more.
    Exited(ExitInfo),
}

impl Terminal {
    pub fn spawn(command: &Command, scrollback: usize) -> anyhow::Result<Terminal> {
        let (pty, output) = Pty::spawn(command)?;
        Ok(Terminal {
            pty,
            output,
            screen: Screen::new(command.size, scrollback),
            is_eof: false,
        })
    }

    /// Waits for the next output chunk or, once the output is drained, for the exit.
    /// After the program exits, output still in flight is delivered first; a background
    /// process that keeps the terminal open is not waited for.
    pub async fn next(&mut self) -> Activity {
        loop {
            if self.is_eof {
                return Activity::Exited(self.pty.wait().await);
            }
            if self.pty.exit_info().is_some() {
                // Drain what the reader thread still has, without waiting on descendants.
                match tokio::time::timeout(Duration::from_millis(100), self.output.recv()).await {
                    Ok(Some(bytes)) => return self.apply(bytes),
                    _ => self.is_eof = true,
                }
                continue;
            }
            tokio::select! {
                chunk = self.output.recv() => match chunk {
                    Some(bytes) => return self.apply(bytes),
                    None => self.is_eof = true,
                },
                _ = self.pty.wait() => {}
            }
        }
    }

    fn apply(&mut self, bytes: Vec<u8>) -> Activity {
        let fed = self.screen.feed(&bytes);
        if !fed.replies.is_empty() {
            self.pty.write(&fed.replies);
        }
        Activity::Output(bytes, fed)
    }

    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    pub fn screen_mut(&mut self) -> &mut Screen {
        &mut self.screen
    }

    pub fn pid(&self) -> u32 {
        self.pty.pid()
    }

    /// Raw bytes to the program.
    pub fn write(&self, bytes: &[u8]) {
        self.pty.write(bytes);
    }

    /// Presses a key, encoded for the program's current cursor mode.
    pub fn key(&self, key: Key) -> Vec<u8> {
        let bytes = key.bytes(self.screen.application_cursor());
        self.pty.write(&bytes);
        bytes
    }

    /// Types text: as a bracketed paste when the program turned that on.
    pub fn paste(&self, text: &str) -> Vec<u8> {
        let bytes = paste_bytes(text, self.screen.bracketed_paste());
        self.pty.write(&bytes);
        bytes
    }

    /// Resizes the PTY and the screen together.
    pub fn resize(&mut self, size: Size) -> anyhow::Result<()> {
        self.pty.resize(size)?;
        self.screen.resize(size);
        Ok(())
    }

    pub fn exit_info(&self) -> Option<ExitInfo> {
        self.pty.exit_info()
    }

    /// Stops the program (SIGTERM, `grace`, SIGKILL) and reports how it ended.
    pub async fn stop(&mut self, grace: Duration) -> ExitInfo {
        self.pty.stop(grace).await
    }
}
