//! Files in and out of a session's directory: safe names for what users send, and the
//! confinement of what `/get` may read.
//!
//! Uploads land in `<session dir>/files/` as `<UTC timestamp>_<safe name>`: the name a
//! user's client gives is untrusted (path separators, `..`, control and bidi-override
//! characters, 500 characters, reserved device names), so only its last component's
//! letters, digits, `.`, `-` and `_` are kept, never leading dots, bounded in length,
//! and the file is created exclusively (never over another).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// The folder of uploads inside a session's directory.
pub const UPLOADS: &str = "files";

/// Longest name kept from a user's file name (characters, extension included).
const NAME_MAX: usize = 80;
/// Longest extension kept (characters, after the dot).
const EXTENSION_MAX: usize = 12;

/// Telegram documents a bot may send.
pub const SEND_LIMIT: u64 = 50 * 1024 * 1024;

/// A user's file name made safe for a directory: one component, no separators, no
/// leading dots, no control, bidi or other invisible characters, at most [`NAME_MAX`]
/// characters with its extension kept; `file` when nothing usable is left.
pub fn safe_name(original: &str) -> String {
    // Only what follows the last separator is a name; the rest would be a path.
    let base = original.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name = String::new();
    for c in base.chars() {
        let keep = c.is_alphanumeric() || matches!(c, '.' | '-' | '_');
        let c = if keep { c } else { '_' };
        // Runs of replacements collapse into one.
        if c == '_' && name.ends_with('_') {
            continue;
        }
        name.push(c);
    }
    let name = name
        .trim_start_matches(['.', '_'])
        .trim_end_matches(['.', '_']);
    if name.chars().all(|c| matches!(c, '.' | '_' | '-')) {
        return "file".into();
    }
    bound(name)
}

/// `name` cut to [`NAME_MAX`] characters, keeping a short extension.
fn bound(name: &str) -> String {
    if name.chars().count() <= NAME_MAX {
        return name.to_string();
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() && e.chars().count() <= EXTENSION_MAX => (s, Some(e)),
        _ => (name, None),
    };
    let room = NAME_MAX - ext.map_or(0, |e| e.chars().count() + 1);
    let mut out: String = stem.chars().take(room).collect();
    if let Some(e) = ext {
        out.push('.');
        out.push_str(e);
    }
    out
}

/// Creates the file for an upload named `original` in `<dir>/files/`, never over
/// another: `<stamp>_<safe name>`, then `…-2`, `…-3` … Returns the open file and its
/// path relative to `dir`.
pub fn create_upload(dir: &Path, original: &str, stamp: &str) -> io::Result<(File, PathBuf)> {
    let folder = dir.join(UPLOADS);
    std::fs::create_dir_all(&folder)?;
    let name = format!("{stamp}_{}", safe_name(original));
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) => (s.to_string(), format!(".{e}")),
        None => (name.clone(), String::new()),
    };
    for n in 1..10_000 {
        let candidate = if n == 1 {
            name.clone()
        } else {
            format!("{stem}-{n}{ext}")
        };
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            // The user's files, for the user alone.
            .mode(0o600)
            .open(folder.join(&candidate))
        {
            Ok(file) => return Ok((file, Path::new(UPLOADS).join(candidate))),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free name"))
}

/// The time stamp that starts an upload's name (UTC, sortable).
pub fn stamp(now: jiff::Timestamp) -> String {
    now.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// Why `/get` refuses a path.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("give a path inside the session's directory, such as /get files/report.pdf")]
    Empty,
    #[error("absolute paths are refused: give a path inside the session's directory")]
    Absolute,
    #[error("paths with .. are refused: give a path inside the session's directory")]
    Parent,
    #[error("it leads outside the session's directory")]
    Outside,
    #[error("files under /proc, /sys and /dev are never sent (they can hold the bot's secrets)")]
    System,
    #[error("there is no such file")]
    Missing,
    #[error("it is not a regular file")]
    NotAFile,
    #[error("it is {0} bytes; Telegram takes files of up to 50 MB from a bot")]
    TooBig(u64),
}

/// The file `/get asked` names inside `dir`, if it may be sent: relative, no `..`, and —
/// symlinks resolved — still inside `dir`, a regular file, at most [`SEND_LIMIT`].
pub fn confined(dir: &Path, asked: &str) -> Result<PathBuf, Refused> {
    let asked = asked.trim();
    if asked.is_empty() {
        return Err(Refused::Empty);
    }
    let path = Path::new(asked);
    if path.is_absolute() || asked.starts_with('~') {
        return Err(Refused::Absolute);
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(Refused::Parent);
    }
    let root = dir.canonicalize().map_err(|_| Refused::Missing)?;
    let full = root
        .join(path)
        .canonicalize()
        .map_err(|_| Refused::Missing)?;
    if !full.starts_with(&root) {
        return Err(Refused::Outside);
    }
    // A session whose directory is `/` (or `/proc`) must not hand out the kernel's view
    // of processes: the bot's own environment and memory are there.
    if ["/proc", "/sys", "/dev"]
        .iter()
        .any(|p| full.starts_with(p))
    {
        return Err(Refused::System);
    }
    let meta = std::fs::metadata(&full).map_err(|_| Refused::Missing)?;
    if !meta.is_file() {
        return Err(Refused::NotAFile);
    }
    if meta.len() > SEND_LIMIT {
        return Err(Refused::TooBig(meta.len()));
    }
    Ok(full)
}

/// Reads a file `/get` may send (`path` from [`confined`]), safely against a file
/// swapped after that check: opened once, never through a symlink, never blocking (a
/// FIFO put in its place opens at once and is refused), and the opened file itself
/// checked — a regular file of at most [`SEND_LIMIT`] — before reading at most that.
pub fn read_confined(path: &Path) -> Result<Vec<u8>, Refused> {
    use std::io::Read;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => Refused::Outside,
            _ => Refused::Missing,
        })?;
    let meta = file.metadata().map_err(|_| Refused::Missing)?;
    if !meta.is_file() {
        return Err(Refused::NotAFile);
    }
    if meta.len() > SEND_LIMIT {
        return Err(Refused::TooBig(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(SEND_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| Refused::Missing)?;
    if bytes.len() as u64 > SEND_LIMIT {
        return Err(Refused::TooBig(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The line typed into the session for uploaded files: the caption as the instruction,
/// with the paths; one line (a caption's line breaks become spaces).
pub fn upload_line(caption: Option<&str>, paths: &[PathBuf]) -> String {
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let paths = paths.join(", ");
    match caption.map(|c| c.split_whitespace().collect::<Vec<_>>().join(" ")) {
        Some(c) if !c.is_empty() => format!("{c} ({paths})"),
        _ => format!("I uploaded {paths}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names a hostile or careless client may send.
    const HOSTILE: &[&str] = &[
        "../../etc/passwd",
        "..\\..\\windows\\system32\\config",
        "/etc/shadow",
        "C:\\Users\\me\\secret.txt",
        ".",
        "..",
        "...",
        "....",
        ".bashrc",
        "..hidden",
        "",
        " ",
        "a\0b.txt",
        "\0",
        "evil\u{202e}gpj.exe",
        "\u{2066}isolate\u{2069}.txt",
        "line\nbreak.txt",
        "tab\tname.txt",
        "bell\u{7}.txt",
        "del\u{7f}.txt",
        "c1\u{85}control.txt",
        "zero\u{200b}width.txt",
        "CON",
        "con.txt",
        "NUL",
        "PRN.log",
        "AUX",
        "COM1",
        "LPT9.txt",
        "🎉🎉🎉.png",
        "😀",
        "日本語のファイル.pdf",
        "name with spaces.md",
        "quote\"s'and`ticks`.txt",
        "$(rm -rf ~).sh",
        "; rm -rf / #",
        "-rf",
        "--help",
        "report.tar.gz",
        "trailing.dots...",
        "___",
        "-_-",
    ];

    #[test]
    fn every_hostile_name_becomes_one_safe_component() {
        let long = format!("{}.txt", "a".repeat(500));
        let mut names: Vec<&str> = HOSTILE.to_vec();
        names.push(&long);
        assert!(names.len() >= 30);
        for original in names {
            let name = safe_name(original);
            assert!(!name.is_empty(), "{original:?}");
            assert!(!name.starts_with('.'), "{original:?} → {name:?}");
            assert!(!name.contains(['/', '\\', '\0']), "{original:?} → {name:?}");
            assert!(
                name.chars().all(|c| !c.is_control()
                    && !('\u{200b}'..='\u{200f}').contains(&c)
                    && !('\u{202a}'..='\u{202e}').contains(&c)
                    && !('\u{2066}'..='\u{2069}').contains(&c)),
                "{original:?} → {name:?}"
            );
            assert!(name.chars().count() <= NAME_MAX, "{original:?} → {name:?}");
            assert_ne!(name, "..");
        }
        assert_eq!(safe_name(&long).len(), NAME_MAX);
        assert!(safe_name(&long).ends_with(".txt"));
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name(".."), "file");
        assert_eq!(safe_name("evil\u{202e}gpj.exe"), "evil_gpj.exe");
        assert_eq!(safe_name("日本語のファイル.pdf"), "日本語のファイル.pdf");
        assert_eq!(safe_name("report.tar.gz"), "report.tar.gz");
    }

    #[test]
    fn uploads_are_stored_inside_files_and_never_over_another() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        let long = "b".repeat(500);
        let mut names: Vec<&str> = HOSTILE.to_vec();
        names.push(&long);
        names.push("same.txt");
        names.push("same.txt");
        for original in names {
            let (mut file, rel) = create_upload(dir.path(), original, "20261125T100000Z").unwrap();
            std::io::Write::write_all(&mut file, original.as_bytes()).unwrap();
            assert_eq!(rel.components().count(), 2, "{original:?} → {rel:?}");
            assert!(rel.starts_with(UPLOADS));
            let full = dir.path().join(&rel).canonicalize().unwrap();
            assert!(full.starts_with(dir.path().join(UPLOADS).canonicalize().unwrap()));
            assert_eq!(std::fs::read(&full).unwrap(), original.as_bytes());
            paths.push(rel);
        }
        let unique: std::collections::BTreeSet<_> = paths.iter().collect();
        assert_eq!(unique.len(), paths.len(), "every upload has its own file");
        assert!(paths.contains(&PathBuf::from("files/20261125T100000Z_same-2.txt")));
        // Nothing was written outside files/.
        let top: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(top.len(), 1);
    }

    #[test]
    fn get_stays_inside_the_session_directory() {
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join("session");
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/main.rs"), "fn main() {}").unwrap();
        std::fs::write(outer.path().join("secret"), "no").unwrap();
        std::os::unix::fs::symlink(outer.path().join("secret"), dir.join("link")).unwrap();
        std::os::unix::fs::symlink(outer.path(), dir.join("up")).unwrap();
        std::os::unix::fs::symlink(dir.join("src/main.rs"), dir.join("inside")).unwrap();
        assert_eq!(
            confined(&dir, "src/main.rs").unwrap(),
            dir.join("src/main.rs").canonicalize().unwrap()
        );
        assert!(confined(&dir, "./src/../src/main.rs").is_err());
        assert!(confined(&dir, "inside").is_ok(), "a link that stays inside");
        for (asked, why) in [
            ("", Refused::Empty),
            ("/etc/passwd", Refused::Absolute),
            ("~/.ssh/id_rsa", Refused::Absolute),
            ("../secret", Refused::Parent),
            ("src/../../secret", Refused::Parent),
            ("link", Refused::Outside),
            ("up/secret", Refused::Outside),
            ("missing.txt", Refused::Missing),
            ("src", Refused::NotAFile),
        ] {
            assert_eq!(confined(&dir, asked), Err(why), "{asked:?}");
        }
        // A session in `/` (the user may choose any directory) still hands out nothing
        // of the kernel's: the bot's environment is under /proc.
        for asked in ["proc/self/environ", "proc/1/status", "dev/null"] {
            assert_eq!(
                confined(Path::new("/"), asked),
                Err(Refused::System),
                "{asked}"
            );
        }
    }

    #[test]
    fn a_fifo_or_symlink_swapped_in_after_the_check_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo(3) with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // No writer ever comes: a blocking open would wait forever.
        assert_eq!(read_confined(&fifo), Err(Refused::NotAFile));
        std::fs::write(dir.path().join("real"), "data").unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
        assert_eq!(
            read_confined(&dir.path().join("link")),
            Err(Refused::Outside)
        );
        assert_eq!(read_confined(&dir.path().join("real")).unwrap(), b"data");
    }

    #[test]
    fn uploads_are_stored_for_the_user_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (_, rel) = create_upload(dir.path(), "a.txt", "20261201T000000Z").unwrap();
        let mode = std::fs::metadata(dir.path().join(rel))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn the_typed_line_carries_the_caption_and_the_paths() {
        let paths = [PathBuf::from("files/a.jpg"), PathBuf::from("files/b.jpg")];
        assert_eq!(
            upload_line(Some("what is\nwrong here?"), &paths[..1]),
            "what is wrong here? (files/a.jpg)"
        );
        assert_eq!(
            upload_line(None, &paths),
            "I uploaded files/a.jpg, files/b.jpg"
        );
    }
}
