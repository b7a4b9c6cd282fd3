//! What telepty checks about its own process and files before it serves anyone: it is
//! a remote shell, so its state (whose registry names the commands it runs on restore),
//! its token and its memory must be the user's alone.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// Makes this process non-dumpable: same-user processes that are not root — the
/// programs in its sessions among them — can no longer read its `/proc/PID/environ`
/// (where `TELEPTY_TOKEN` may be) or its memory, nor ptrace it. Children are not
/// affected (execve makes them dumpable again).
pub fn not_dumpable() {
    // SAFETY: prctl(2) with PR_SET_DUMPABLE and integer arguments touches no memory.
    let rc = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if rc != 0 {
        tracing::warn!(
            "cannot make telepty non-dumpable ({}): programs running as you could read \
             its environment",
            std::io::Error::last_os_error()
        );
    }
}

/// Creates `dir` (and its parents) with mode 0700 when missing.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Why a directory or file is not the user's alone.
pub fn not_private(path: &Path, what: &str) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    let mode = meta.permissions().mode() & 0o777;
    if meta.uid() != me {
        return Some(format!(
            "{what} {} belongs to uid {}, not to you (uid {me})",
            path.display(),
            meta.uid()
        ));
    }
    let loose = if meta.is_dir() { 0o022 } else { 0o077 };
    if mode & loose != 0 {
        let fix = if meta.is_dir() { "700" } else { "600" };
        return Some(format!(
            "{what} {} has mode {mode:03o}: others can {}; chmod {fix} {}",
            path.display(),
            if meta.is_dir() {
                "change what is in it"
            } else {
                "read it"
            },
            path.display()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_or_world_writable_directories_and_readable_token_files_are_named() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("state");
        create_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(not_private(&dir, "state_dir"), None);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let why = not_private(&dir, "state_dir").unwrap();
        assert!(
            why.contains("state_dir") && why.contains("777") && why.contains("chmod 700"),
            "{why}"
        );
        // Group-readable is fine for a directory, not for the token.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        assert_eq!(not_private(&dir, "state_dir"), None);
        let token = t.path().join("token");
        std::fs::write(&token, "1:x").unwrap();
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
        let why = not_private(&token, "token_file").unwrap();
        assert!(why.contains("chmod 600"), "{why}");
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(not_private(&token, "token_file"), None);
    }
}
