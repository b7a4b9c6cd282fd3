//! The local control socket: `telepty attach`, `telepty ls` and `telepty send` reach the
//! running bot here.
//!
//! A Unix socket in the state directory (`control.sock`), mode 0600, and every peer's
//! uid is checked against telepty's own with the socket's peer credentials: no TCP, no
//! other user. A client writes one JSON line ([`Ask`]) and reads one JSON line back
//! ([`Answer`]); after an attach the connection carries [`Frame`]s both ways until the
//! client leaves (detach) or the session's program ends.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use crate::session::task::{Request, Session};
use crate::term::screen::Size;

/// The socket's name in the state directory.
pub const SOCKET_NAME: &str = "control.sock";

/// The socket of the telepty that uses `state_dir`.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET_NAME)
}

/// What a client asks, as one JSON line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Ask {
    /// The sessions and their state.
    Ls,
    /// Type a line into a session, as a message from the chat would be.
    Send { name: String, text: String },
    /// Attach a terminal to a session; `resize`: the terminal's size, which the session
    /// takes while it is attached.
    Attach {
        name: String,
        resize: Option<(u16, u16)>,
    },
}

/// The answer line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<SessionInfo>,
    /// The session's terminal size (an attach).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<(u16, u16)>,
}

impl Answer {
    fn refused(error: impl Into<String>) -> Answer {
        Answer {
            ok: false,
            error: Some(error.into()),
            ..Answer::default()
        }
    }
}

/// One session, as `telepty ls` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub name: String,
    pub chat: i64,
    pub state: String,
    pub dir: String,
    /// Terminals attached now.
    pub attached: usize,
    /// The chat's active session.
    pub active: bool,
    /// Seconds since the last input or work.
    pub idle_secs: u64,
}

/// What the control socket asks of the bot, which owns the sessions.
pub enum ToBot {
    List(oneshot::Sender<Vec<SessionInfo>>),
    /// Deliver `text` to session `name` as a message from its chat.
    Send {
        name: String,
        text: String,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// A terminal attaches to session `name`: the bot resumes it if need be and hands
    /// over its running program (and the chat it belongs to).
    Attach {
        name: String,
        reply: oneshot::Sender<Result<(Session, i64), String>>,
    },
    /// The terminal attached to session `name` of `chat` has left.
    Detached {
        chat: i64,
        name: String,
    },
}

/// Frames after an attach: a kind byte, the payload's length (big-endian u32), the
/// payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Bytes for the attached terminal to draw (server → client).
    Output(Vec<u8>),
    /// Bytes typed at the attached terminal (client → server).
    Input(Vec<u8>),
    /// The attached terminal's new size, with `--resize` (client → server).
    Resize(u16, u16),
    /// The session's program ended; why (server → client).
    Ended(String),
}

/// The longest request line a client may send.
pub const MAX_REQUEST: usize = 64 * 1024;

/// The pause after a failed `accept` (it fails again at once while fds are exhausted).
const ACCEPT_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);
/// How long a client may take to send its request: a connection that says nothing
/// holds a file descriptor of the bot.
const REQUEST_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The largest frame either side accepts.
const MAX_FRAME: usize = 1 << 20;

impl Frame {
    pub async fn write(&self, to: &mut (impl AsyncWrite + Unpin)) -> std::io::Result<()> {
        let (kind, payload): (u8, Vec<u8>) = match self {
            Frame::Output(b) => (1, b.clone()),
            Frame::Input(b) => (2, b.clone()),
            Frame::Resize(c, r) => (3, [c.to_be_bytes(), r.to_be_bytes()].concat()),
            Frame::Ended(why) => (4, why.as_bytes().to_vec()),
        };
        let mut bytes = Vec::with_capacity(payload.len() + 5);
        bytes.push(kind);
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&payload);
        to.write_all(&bytes).await?;
        to.flush().await
    }

    /// The next frame; `None` at the end of the stream.
    pub async fn read(from: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Option<Frame>> {
        let mut head = [0u8; 5];
        match from.read_exact(&mut head).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > MAX_FRAME {
            return Err(std::io::Error::other(format!("a frame of {len} bytes")));
        }
        let mut payload = vec![0u8; len];
        from.read_exact(&mut payload).await?;
        Ok(Some(match head[0] {
            1 => Frame::Output(payload),
            2 => Frame::Input(payload),
            3 if len == 4 => Frame::Resize(
                u16::from_be_bytes([payload[0], payload[1]]),
                u16::from_be_bytes([payload[2], payload[3]]),
            ),
            4 => Frame::Ended(String::from_utf8_lossy(&payload).into_owned()),
            kind => {
                return Err(std::io::Error::other(format!(
                    "an unknown frame kind {kind}"
                )))
            }
        }))
    }
}

/// The program's questions to its terminal — device attributes (`CSI c`, `CSI > c`),
/// status and cursor reports (`CSI 5 n`, `CSI 6 n`), the terminal's version (`CSI > q`)
/// and keyboard protocol (`CSI ? u`) — taken out of what an attached terminal draws:
/// telepty answers (or deliberately leaves unanswered) them itself, and a second answer
/// from the desk's terminal would reach the program as typed keys.
pub fn without_queries(output: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    use std::sync::LazyLock;
    static QUERY: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
        regex::bytes::Regex::new(r"\x1b\[(?:[>=]?0?c|\??[56]n|>0?q|\?u)").expect("a valid regex")
    });
    QUERY.replace_all(output, &b""[..])
}

/// Whether a peer may use the socket: only the user telepty runs as.
pub fn peer_allowed(peer_uid: u32, own_uid: u32) -> bool {
    peer_uid == own_uid
}

/// The user telepty runs as.
pub fn own_uid() -> u32 {
    // SAFETY: geteuid(2) has no preconditions and touches no memory.
    unsafe { libc::geteuid() }
}

/// Why the control socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// Two bots on one registry would undo each other's work: telepty must not start.
    #[error(
        "another telepty is running with the state directory {0} (its control socket \
         answers); stop it first"
    )]
    AlreadyRunning(PathBuf),
    /// The socket cannot be made (a path too long for a socket, a read-only directory):
    /// the bot can run without it.
    #[error("cannot listen on {path}: {source}")]
    Unavailable {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Listens on the control socket of `state_dir` (mode 0600). Fails if another telepty
/// already listens there.
pub async fn listen(state_dir: &Path) -> Result<UnixListener, ListenError> {
    let path = socket_path(state_dir);
    if UnixStream::connect(&path).await.is_ok() {
        return Err(ListenError::AlreadyRunning(state_dir.to_path_buf()));
    }
    let unavailable = |source| ListenError::Unavailable {
        path: path.clone(),
        source,
    };
    // A socket file left by a telepty that was killed.
    let _ = std::fs::remove_file(&path);
    crate::guard::create_private_dir(state_dir).map_err(unavailable)?;
    let listener = UnixListener::bind(&path).map_err(unavailable)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(unavailable)?;
    Ok(listener)
}

/// Accepts clients until the bot goes away; each is served in its own task.
pub async fn serve(listener: UnixListener, bot: mpsc::Sender<ToBot>) {
    let own = own_uid();
    let mut failing = 0u64;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                if failing > 0 {
                    tracing::info!("control socket: accept works again ({failing} failed)");
                    failing = 0;
                }
                stream
            }
            Err(e) => {
                // Out of file descriptors, say: a pause, not a busy loop, and one line
                // in the log, not five a second.
                if failing == 0 {
                    tracing::warn!("control socket: accept failed: {e}; retrying");
                }
                failing += 1;
                tokio::time::sleep(ACCEPT_PAUSE).await;
                continue;
            }
        };
        let uid = stream.peer_cred().map(|c| c.uid()).ok();
        if !uid.is_some_and(|u| peer_allowed(u, own)) {
            tracing::warn!(peer_uid = ?uid, "refused a control connection from another user");
            continue;
        }
        if bot.is_closed() {
            return;
        }
        tokio::spawn(client(stream, bot.clone()));
    }
}

/// One client: its request, then (an attach) the relay until it leaves.
async fn client(stream: UnixStream, bot: mpsc::Sender<ToBot>) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    // A request is one short line: read no more than its ceiling.
    // (`Take` of the buffered reader reads through its buffer: nothing after the line
    // is consumed, so the frames that follow an attach stay for the relay.)
    let mut limit = (&mut read).take(MAX_REQUEST as u64);
    match tokio::time::timeout(REQUEST_WAIT, limit.read_line(&mut line)).await {
        Ok(Ok(n)) if n > 0 => {}
        _ => return,
    }
    if !line.ends_with('\n') {
        let why = format!("a request is one line of at most {MAX_REQUEST} bytes");
        let _ = answer(&mut write, &Answer::refused(why)).await;
        return;
    }
    let ask: Ask = match serde_json::from_str(&line) {
        Ok(a) => a,
        Err(e) => {
            let _ = answer(&mut write, &Answer::refused(format!("a bad request: {e}"))).await;
            return;
        }
    };
    match ask {
        Ask::Ls => {
            let (tx, rx) = oneshot::channel();
            let _ = bot.send(ToBot::List(tx)).await;
            let sessions = rx.await.unwrap_or_default();
            let _ = answer(
                &mut write,
                &Answer {
                    ok: true,
                    sessions,
                    ..Answer::default()
                },
            )
            .await;
        }
        Ask::Send { name, text } => {
            let (reply, rx) = oneshot::channel();
            let _ = bot.send(ToBot::Send { name, text, reply }).await;
            let result = rx
                .await
                .unwrap_or_else(|_| Err("telepty is shutting down".into()));
            let _ = answer(
                &mut write,
                &match result {
                    Ok(()) => Answer {
                        ok: true,
                        ..Answer::default()
                    },
                    Err(e) => Answer::refused(e),
                },
            )
            .await;
        }
        Ask::Attach { name, resize } => {
            let (reply, rx) = oneshot::channel();
            let _ = bot
                .send(ToBot::Attach {
                    name: name.clone(),
                    reply,
                })
                .await;
            match rx
                .await
                .unwrap_or_else(|_| Err("telepty is shutting down".into()))
            {
                Ok((session, chat)) => {
                    relay(session, resize, read, write).await;
                    let _ = bot.send(ToBot::Detached { chat, name }).await;
                }
                Err(e) => {
                    let _ = answer(&mut write, &Answer::refused(e)).await;
                }
            }
        }
    }
}

async fn answer(write: &mut (impl AsyncWrite + Unpin), answer: &Answer) -> std::io::Result<()> {
    let mut line = serde_json::to_string(answer).map_err(std::io::Error::other)?;
    line.push('\n');
    write.write_all(line.as_bytes()).await?;
    write.flush().await
}

/// Relays an attached terminal: the screen first, then output out and keys in, until
/// the client leaves or the program ends. A terminal that resized the session gives it
/// its own size back when it leaves.
async fn relay(
    session: Session,
    resize: Option<(u16, u16)>,
    mut read: BufReader<tokio::net::unix::OwnedReadHalf>,
    mut write: tokio::net::unix::OwnedWriteHalf,
) {
    if let Some((cols, rows)) = resize {
        session
            .send(Request::Resize(Some(Size::new(cols, rows))))
            .await;
    }
    let Some(mut tap) = session.attach().await else {
        let _ = answer(&mut write, &Answer::refused("the session has just ended")).await;
        return;
    };
    let size = Some((tap.size.cols, tap.size.rows));
    let ok = Answer {
        ok: true,
        size,
        ..Answer::default()
    };
    if answer(&mut write, &ok).await.is_err()
        || Frame::Output(std::mem::take(&mut tap.screen))
            .write(&mut write)
            .await
            .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            output = tap.output.recv() => match output {
                Ok(bytes) => {
                    let shown = without_queries(&bytes).into_owned();
                    if Frame::Output(shown).write(&mut write).await.is_err() {
                        break;
                    }
                }
                // Too slow to follow: the screen is drawn anew from the session.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    let Some(fresh) = session.attach().await else { break };
                    tap = fresh;
                    let screen = std::mem::take(&mut tap.screen);
                    if Frame::Output(screen).write(&mut write).await.is_err() {
                        break;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    let _ = Frame::Ended("the program ended".into()).write(&mut write).await;
                    break;
                }
            },
            frame = Frame::read(&mut read) => match frame {
                Ok(Some(Frame::Input(bytes))) => {
                    session.send(Request::Typed(bytes)).await;
                }
                Ok(Some(Frame::Resize(cols, rows))) if resize.is_some() => {
                    session.send(Request::Resize(Some(Size::new(cols, rows)))).await;
                }
                Ok(Some(_)) => {}
                // Detached (or gone).
                Ok(None) | Err(_) => break,
            },
        }
    }
    if resize.is_some() {
        session.send(Request::Resize(None)).await;
    }
}

/// A client's connection to the running telepty.
pub struct Connection {
    pub read: BufReader<tokio::net::unix::OwnedReadHalf>,
    pub write: tokio::net::unix::OwnedWriteHalf,
}

/// Asks the telepty of `state_dir`; its answer, and the connection (for an attach).
pub async fn ask(state_dir: &Path, what: &Ask) -> anyhow::Result<(Answer, Connection)> {
    let path = socket_path(state_dir);
    let stream = UnixStream::connect(&path).await.map_err(|e| {
        anyhow::anyhow!(
            "telepty is not running with the state directory {} (no control socket at {}: \
             {e}); start it with `telepty run`",
            state_dir.display(),
            path.display()
        )
    })?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(what)?;
    line.push('\n');
    write.write_all(line.as_bytes()).await?;
    let mut read = BufReader::new(read);
    let mut reply = String::new();
    read.read_line(&mut reply).await?;
    if reply.is_empty() {
        anyhow::bail!(
            "telepty closed the control connection without an answer (another user's \
             telepty?)"
        );
    }
    let answer: Answer = serde_json::from_str(&reply)
        .map_err(|e| anyhow::anyhow!("telepty answered something unreadable: {e}"))?;
    Ok((answer, Connection { read, write }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_user_may_connect() {
        assert!(peer_allowed(1000, 1000));
        assert!(!peer_allowed(1001, 1000));
        assert!(!peer_allowed(0, 1000), "not even root's client");
    }

    #[test]
    fn the_programs_questions_to_its_terminal_do_not_reach_the_desk() {
        let out =
            without_queries(b"\x1b[?1049h\x1b[c\x1b[>0cHi\x1b[6n\x1b[5n\x1b[>q\x1b[?u\x1b[31mred");
        assert_eq!(&*out, b"\x1b[?1049hHi\x1b[31mred");
        // Drawing is untouched (a colour ending in `c`-less sequences, a cursor move).
        assert_eq!(
            &*without_queries(b"\x1b[2;5H\x1b[1;32m"),
            b"\x1b[2;5H\x1b[1;32m"
        );
    }

    #[tokio::test]
    async fn frames_go_through_as_they_were_written() {
        let frames = vec![
            Frame::Output(b"\x1b[2J hello".to_vec()),
            Frame::Input(vec![0x1c, b'a']),
            Frame::Resize(120, 40),
            Frame::Ended("exited with code 0".into()),
            Frame::Output(Vec::new()),
        ];
        let mut bytes = Vec::new();
        for f in &frames {
            f.write(&mut bytes).await.unwrap();
        }
        let mut read = bytes.as_slice();
        let mut back = Vec::new();
        while let Some(f) = Frame::read(&mut read).await.unwrap() {
            back.push(f);
        }
        assert_eq!(back, frames);
        // A frame that claims too much is an error, not an allocation.
        let mut huge: &[u8] = &[1, 0xff, 0xff, 0xff, 0xff];
        assert!(Frame::read(&mut huge).await.is_err());
    }

    #[test]
    fn requests_are_one_json_line() {
        let ask = Ask::Attach {
            name: "alpha".into(),
            resize: Some((120, 40)),
        };
        let line = serde_json::to_string(&ask).unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(serde_json::from_str::<Ask>(&line).unwrap(), ask);
        assert_eq!(
            serde_json::from_str::<Ask>(r#"{"op":"ls"}"#).unwrap(),
            Ask::Ls
        );
    }
}
