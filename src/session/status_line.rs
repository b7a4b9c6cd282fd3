//! The status line telepty gives Claude Code, to learn a session's vitals.
//!
//! Claude Code pipes its session as JSON to the command of its status line
//! ([`crate::core::vitals`]). A session starts with the profile's settings flag
//! (`--settings`) naming `telepty status-line --keep FILE [--then CMD]` as that command:
//! it writes the payload to FILE (in the state directory, replaced whole, mode 0600) and
//! then runs the status line the user configured (CMD, read from their settings files at
//! the start) with the same payload, printing what it prints. Without one it prints
//! nothing, as Claude Code without a status line shows nothing.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};

use serde_json::Value;

use crate::core::vitals::{self, Vitals, VitalsSpec, PAYLOAD_LIMIT};
use crate::session::SessionId;

/// The largest settings file read for the user's own status line.
const SETTINGS_LIMIT: u64 = 1024 * 1024;

/// Where session `id`'s newest payload is kept.
pub fn file(state_dir: &Path, id: &SessionId) -> PathBuf {
    state_dir
        .join("vitals")
        .join(format!("{}.{}.json", id.chat, id.name))
}

/// The arguments that give the program telepty's status line (the flag and a settings
/// object), keeping the user's own after it. `None` when `args` already carry the flag
/// (the user's command passes settings of its own: those win, the vitals stay unknown).
pub fn settings_args(
    spec: &VitalsSpec,
    args: &[String],
    home: &Path,
    dir: &Path,
    keep: &Path,
) -> Option<Vec<String>> {
    if args.iter().any(|a| a == &spec.settings_flag) {
        return None;
    }
    let exe = own_executable()?;
    let documents: Vec<Value> = spec
        .settings_paths(home, dir)
        .iter()
        .filter_map(|p| read_settings(p))
        .collect();
    let user = vitals::user_status_line(&spec.settings_key, &documents);
    let mut command = vec![
        exe.to_string_lossy().into_owned(),
        "status-line".to_string(),
        "--keep".to_string(),
        keep.to_string_lossy().into_owned(),
    ];
    if let Some(theirs) = vitals::user_command(user.as_ref()) {
        command.extend(["--then".to_string(), theirs]);
    }
    let command = shell_words::join(&command);
    let settings = vitals::settings_with(&spec.settings_key, &command, user.as_ref());
    Some(vec![spec.settings_flag.clone(), settings.to_string()])
}

/// A settings file as JSON, if it is there and readable.
fn read_settings(path: &Path) -> Option<Value> {
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(SETTINGS_LIMIT).read_to_string(&mut text).ok()?;
    match serde_json::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(
                "{}: not JSON ({e}); its status line is not kept",
                path.display()
            );
            None
        }
    }
}

/// This very program, for the program to run (the path a replaced binary had).
fn own_executable() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let text = exe.to_string_lossy();
    Some(match text.strip_suffix(" (deleted)") {
        Some(path) => PathBuf::from(path),
        None => exe,
    })
}

/// Session vitals as last kept in `path` (mode unknown: the screen has it).
pub fn read(spec: &VitalsSpec, path: &Path) -> Option<Vitals> {
    let text = std::fs::read(path).ok()?;
    let payload: Value = serde_json::from_slice(&text).ok()?;
    Some(spec.read(&payload))
}

/// `telepty status-line`: keeps the payload on standard input in `keep`, then runs
/// `then` (the user's status line) with it.
pub fn run(keep: &Path, then: Option<&str>) -> std::io::Result<ExitCode> {
    let mut payload = Vec::new();
    std::io::stdin()
        .take(PAYLOAD_LIMIT as u64 + 1)
        .read_to_end(&mut payload)?;
    if payload.len() <= PAYLOAD_LIMIT {
        if let Err(e) = write_whole(keep, &payload) {
            eprintln!("telepty status-line: cannot keep {}: {e}", keep.display());
        }
    }
    let Some(command) = then else {
        return Ok(ExitCode::SUCCESS);
    };
    let mut child = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        // A line that does not read its input is no error.
        let _ = stdin.write_all(&payload);
    }
    let status = child.wait()?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(c.clamp(1, 255) as u8),
        None => ExitCode::FAILURE,
    })
}

/// Replaces `path` with `bytes` at once (a temporary file beside it, then a rename), so
/// a reader never sees half a payload.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    file.write_all(bytes)?;
    drop(file);
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_kept_whole_and_read_back_as_vitals() {
        let dir = tempfile::tempdir().unwrap();
        let keep = dir.path().join("vitals/42.notes.json");
        write_whole(&keep, br#"{"model": {"display_name": "Opus 5.5"}}"#).unwrap();
        write_whole(&keep, br#"{"model": {"display_name": "Sonnet 4.6"}}"#).unwrap();
        let spec = crate::core::profile::Profile::claude()
            .vitals
            .clone()
            .unwrap();
        assert_eq!(
            read(&spec, &keep).unwrap().model.as_deref(),
            Some("Sonnet 4.6")
        );
        // Nothing but the file itself is left in the folder.
        assert_eq!(
            std::fs::read_dir(keep.parent().unwrap()).unwrap().count(),
            1
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keep).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn the_users_own_status_line_runs_after_telepty_keeps_the_payload() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let project = dir.path().join("project");
        std::fs::create_dir_all(home.join(".claude")).unwrap();
        std::fs::create_dir_all(project.join(".claude")).unwrap();
        std::fs::write(
            home.join(".claude/settings.json"),
            r#"{"statusLine": {"type": "command", "command": "echo 'mine'", "padding": 2}}"#,
        )
        .unwrap();
        std::fs::write(project.join(".claude/settings.local.json"), "not json").unwrap();
        let spec = crate::core::profile::Profile::claude()
            .vitals
            .clone()
            .unwrap();
        let keep = dir.path().join("keep.json");
        let args = settings_args(&spec, &["claude".into()], &home, &project, &keep).unwrap();
        assert_eq!(args[0], "--settings");
        let settings: Value = serde_json::from_str(&args[1]).unwrap();
        assert_eq!(settings["statusLine"]["padding"], 2);
        let command = settings["statusLine"]["command"].as_str().unwrap();
        let words = shell_words::split(command).unwrap();
        assert_eq!(
            &words[1..4],
            ["status-line", "--keep", &keep.to_string_lossy()]
        );
        assert_eq!(&words[4..], ["--then", "echo 'mine'"]);
        // The user's own settings flag wins: telepty adds none.
        let theirs = ["claude".into(), "--settings".into(), "x.json".into()];
        assert_eq!(settings_args(&spec, &theirs, &home, &project, &keep), None);
    }
}
