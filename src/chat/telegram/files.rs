//! Files in and out: uploads saved into the session's `files/` and announced to it in
//! one typed line (an album in one line), `/get PATH` and the fetch buttons of written
//! files, `/screen` as a picture. Downloads from Telegram run in their own tasks: a
//! large file never holds up the updates.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use teloxide::net::Download;
use teloxide::prelude::Requester;
use teloxide::types::{FileId, Message};
use tokio::io::AsyncWriteExt;

use super::{escape, Router};
use crate::core::ops::{Attachment, AttachmentKind, Content};
use crate::session::files::{confined, create_upload, read_confined, stamp, upload_line};
use crate::session::{ProgramId, SessionId};

/// How long an album waits for its next file before it is announced.
const ALBUM_GAP: Duration = Duration::from_secs(2);

/// A file a user sent.
pub(super) struct Incoming {
    file_id: String,
    size: u64,
    name: String,
    caption: Option<String>,
    group: Option<String>,
}

impl Incoming {
    /// The file of a document, photo (its largest size), voice message, audio, video or
    /// video note; None for anything else.
    pub(super) fn of(message: &Message) -> Option<Incoming> {
        let (id, size, name) = if let Some(d) = message.document() {
            let name = d.file_name.clone().unwrap_or_else(|| "document".into());
            (&d.file.id, d.file.size, name)
        } else if let Some(p) = message
            .photo()
            .and_then(|p| p.iter().max_by_key(|s| s.width * s.height))
        {
            (&p.file.id, p.file.size, "photo.jpg".to_string())
        } else if let Some(v) = message.voice() {
            (&v.file.id, v.file.size, "voice.ogg".to_string())
        } else if let Some(a) = message.audio() {
            let name = a.file_name.clone().unwrap_or_else(|| "audio.mp3".into());
            (&a.file.id, a.file.size, name)
        } else if let Some(v) = message.video() {
            let name = v.file_name.clone().unwrap_or_else(|| "video.mp4".into());
            (&v.file.id, v.file.size, name)
        } else if let Some(v) = message.video_note() {
            (&v.file.id, v.file.size, "video-note.mp4".to_string())
        } else {
            return None;
        };
        Some(Incoming {
            file_id: id.0.clone(),
            size: u64::from(size),
            name,
            caption: message.caption().map(str::to_string),
            group: message.media_group_id().map(|g| g.0.clone()),
        })
    }
}

/// A finished download, back in the router.
pub(super) struct Saved {
    chat: i64,
    session: String,
    /// The path relative to the session's directory, or why it failed.
    result: Result<PathBuf, String>,
    name: String,
    caption: Option<String>,
    group: Option<String>,
}

/// Uploads this close together are told in one message.
const SAVED_BURST: std::time::Duration = std::time::Duration::from_secs(60);
/// The newest paths a "Saved" message names.
const SAVED_SHOWN: usize = 8;

/// The message telling a burst of saved uploads.
pub(super) struct SavedNote {
    id: u64,
    paths: Vec<String>,
    count: usize,
    last: Instant,
}

/// Files of an album that came so far.
pub(super) struct Album {
    chat: i64,
    session: String,
    paths: Vec<PathBuf>,
    caption: Option<String>,
    last: Instant,
}

impl Router {
    /// A user sent a file: checked against the limits, then downloaded in its own task
    /// into the target session's `files/`.
    pub(super) async fn on_upload(&mut self, chat: i64, reply_to: Option<i32>, incoming: Incoming) {
        let Some(name) = self.target(chat, reply_to) else {
            self.say(
                chat,
                "No session yet: start one with /new NAME, then send the file.",
            );
            return;
        };
        let Some(dir) = self
            .sup
            .get(&SessionId::new(chat, &name))
            .map(|e| e.record.dir.clone())
        else {
            return;
        };
        let limit = self.sup.config().upload_max;
        if incoming.size > limit {
            let text = format!(
                "“{}” is {} — more than telepty takes ({}; Telegram lets bots download 20 MB). \
                 Nothing was saved.",
                escape(&incoming.name),
                megabytes(incoming.size),
                megabytes(limit)
            );
            self.say(chat, &text);
            return;
        }
        let bot = self.bot.clone();
        let done = self.saved.clone();
        tokio::spawn(async move {
            let result = download(&bot, &incoming.file_id, &dir, &incoming.name).await;
            let _ = done
                .send(Saved {
                    chat,
                    session: name,
                    result,
                    name: incoming.name,
                    caption: incoming.caption,
                    group: incoming.group,
                })
                .await;
        });
    }

    /// A download ended: the session is told (an album once all its files are in).
    pub(super) async fn on_saved(&mut self, saved: Saved) {
        let path = match saved.result {
            Ok(p) => p,
            Err(e) => {
                let text = format!("Could not save “{}”: {}", escape(&saved.name), escape(&e));
                self.say_for(saved.chat, &saved.session, &text);
                return;
            }
        };
        self.note_saved(saved.chat, &saved.session, &path);
        match saved.group {
            Some(group) => {
                let album = self
                    .albums
                    .entry((saved.chat, group))
                    .or_insert_with(|| Album {
                        chat: saved.chat,
                        session: saved.session.clone(),
                        paths: Vec::new(),
                        caption: None,
                        last: Instant::now(),
                    });
                album.paths.push(path);
                album.last = Instant::now();
                if album.caption.is_none() {
                    album.caption = saved.caption;
                }
            }
            None => {
                let line = upload_line(saved.caption.as_deref(), &[path]);
                let id = SessionId::new(saved.chat, saved.session);
                self.sup.deliver(&id, line, false).await;
            }
        }
    }

    /// Says that a file was saved — in one message per burst of uploads, edited as more
    /// come ("📎 Saved 42 files in alpha: …"), so that 42 uploads are not 42 messages
    /// ahead of the answers the user asked for.
    fn note_saved(&mut self, chat: i64, session: &str, path: &std::path::Path) {
        let key = SessionId::new(chat, session);
        let fresh = self
            .saved_notes
            .get(&key)
            .is_none_or(|n| n.last.elapsed() >= SAVED_BURST);
        if fresh {
            self.note_serial += 1;
            self.saved_notes.insert(
                key.clone(),
                SavedNote {
                    id: self.note_serial,
                    paths: Vec::new(),
                    count: 0,
                    last: Instant::now(),
                },
            );
        }
        let Some(note) = self.saved_notes.get_mut(&key) else {
            return;
        };
        note.count += 1;
        note.last = Instant::now();
        note.paths.push(path.display().to_string());
        if note.paths.len() > SAVED_SHOWN {
            note.paths.remove(0);
        }
        let names: Vec<String> = note
            .paths
            .iter()
            .map(|p| format!("<code>{}</code>", escape(p)))
            .collect();
        let text = if note.count == 1 {
            format!("📎 Saved {} in <b>{}</b>.", names[0], escape(session))
        } else {
            format!(
                "📎 Saved {} files in <b>{}</b>: {}{}.",
                note.count,
                escape(session),
                if note.count > names.len() {
                    "…, "
                } else {
                    ""
                },
                names.join(", ")
            )
        };
        let id = note.id;
        // Its own message of the session (replies to it go to the session), edited.
        self.outbox.push(
            self.place_of(chat, session),
            &ProgramId {
                session: key,
                run: 0,
            },
            crate::core::ops::Operation::Send(
                id,
                Content {
                    live: false,
                    text,
                    buttons: Vec::new(),
                    silent: true,
                    attachment: None,
                },
            ),
        );
    }

    /// Albums whose last file came a while ago go to their session, one line each.
    pub(super) async fn flush_albums(&mut self) {
        let ready: Vec<_> = self
            .albums
            .iter()
            .filter(|(_, a)| a.last.elapsed() >= ALBUM_GAP)
            .map(|(k, _)| k.clone())
            .collect();
        for key in ready {
            if let Some(album) = self.albums.remove(&key) {
                let line = upload_line(album.caption.as_deref(), &album.paths);
                let id = SessionId::new(album.chat, album.session);
                self.sup.deliver(&id, line, false).await;
            }
        }
    }

    /// `/get PATH` (or a fetch button): the file from inside session `name`'s directory,
    /// as a document.
    pub(super) async fn send_file(&mut self, chat: i64, name: &str, asked: &str) {
        let Some(dir) = self
            .sup
            .get(&SessionId::new(chat, name))
            .map(|e| e.record.dir.clone())
        else {
            self.say(chat, "No session yet: /new NAME starts one.");
            return;
        };
        // A fetch button may carry the absolute path Claude Code showed.
        let asked = relative_to(&dir, asked);
        let path = match confined(&dir, &asked) {
            Ok(p) => p,
            Err(why) => {
                let text = format!("Cannot send <code>{}</code>: {why}.", escape(&asked));
                self.say(chat, &text);
                return;
            }
        };
        let file_name = path
            .file_name()
            .map_or_else(|| "file".into(), |n| n.to_string_lossy().to_string());
        let (outbox, place) = (self.outbox.clone(), self.place(chat));
        // Read off the update loop: a slow disk or a swapped-in FIFO never holds it up.
        tokio::spawn(async move {
            let read = tokio::task::spawn_blocking(move || read_confined(&path)).await;
            match read {
                Ok(Ok(bytes)) => outbox.send_file(
                    place,
                    Content {
                        live: false,
                        text: format!("<code>{}</code>", escape(&asked)),
                        buttons: Vec::new(),
                        silent: false,
                        attachment: Some(Attachment {
                            kind: AttachmentKind::Document,
                            name: file_name,
                            bytes: Arc::new(bytes),
                        }),
                    },
                ),
                Ok(Err(why)) => {
                    outbox.say(
                        place,
                        &format!("Cannot send <code>{}</code>: {why}.", escape(&asked)),
                    );
                }
                Err(e) => tracing::error!("reading a file for /get failed: {e}"),
            }
        });
    }

    /// `/screen`: the active session's screen as a picture.
    pub(super) async fn send_picture(&mut self, chat: i64, name: &str) {
        let Some(session) = self.live(chat, name) else {
            let text = format!(
                "<b>{}</b> is not running; its next message resumes it.",
                escape(name)
            );
            self.say(chat, &text);
            return;
        };
        let png = session.picture().await;
        if png.is_empty() {
            self.say(chat, "The session has just ended.");
            return;
        }
        self.outbox.send_file(
            self.place(chat),
            Content {
                live: false,
                text: format!("<b>{}</b> · /screen text for the text", escape(name)),
                buttons: Vec::new(),
                silent: true,
                attachment: Some(Attachment {
                    kind: AttachmentKind::Photo,
                    name: "screen.png".into(),
                    bytes: Arc::new(png),
                }),
            },
        );
    }
}

/// Downloads Telegram's file `file_id` into a new upload file in `dir`; the path
/// relative to `dir`. A failed download leaves no file behind.
async fn download(
    bot: &teloxide::Bot,
    file_id: &str,
    dir: &Path,
    name: &str,
) -> Result<PathBuf, String> {
    let file = bot
        .get_file(FileId(file_id.to_string()))
        .await
        .map_err(|e| format!("Telegram did not give the file ({e})"))?;
    let (out, relative) = create_upload(dir, name, &stamp(jiff::Timestamp::now()))
        .map_err(|e| format!("cannot create it in {}: {e}", dir.display()))?;
    let full = dir.join(&relative);
    let mut out = tokio::fs::File::from_std(out);
    let result = async {
        bot.download_file(&file.path, &mut out)
            .await
            .map_err(|e| format!("the download failed ({e})"))?;
        out.flush().await.map_err(|e| e.to_string())?;
        out.sync_all().await.map_err(|e| e.to_string())
    }
    .await;
    match result {
        Ok(()) => Ok(relative),
        Err(e) => {
            let _ = tokio::fs::remove_file(&full).await;
            Err(e)
        }
    }
}

/// `asked` relative to `dir` when it is an absolute path inside it (as Claude Code shows
/// the files it wrote); otherwise as it is.
fn relative_to(dir: &Path, asked: &str) -> String {
    let path = Path::new(asked.trim());
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    match path.strip_prefix(&dir) {
        Ok(rest) if path.is_absolute() => rest.display().to_string(),
        _ => asked.trim().to_string(),
    }
}

/// A size for people: `3.2 MB`.
fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}
