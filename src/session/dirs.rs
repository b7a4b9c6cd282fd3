//! Where a session's directory is, and whether telepty may ever offer to delete it.
//!
//! `/delete` offers "also delete the directory", and the press runs `remove_dir_all`: a
//! mistake here destroys the user's files. So the offer is made only for a directory
//! telepty itself created for that session (remembered in the registry) whose canonical
//! path is exactly `<canonical sessions root>/<name>` — never by comparing path text
//! (`<root>/..` has the root as its textual parent and is the user's home).

use std::path::{Component, Path, PathBuf};

/// A session directory chosen at `/new`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen {
    /// The directory, canonical (symlinks and `..` resolved).
    pub path: PathBuf,
    /// telepty created it just now, for this session.
    pub created: bool,
    /// It lies inside the sessions root.
    pub inside_root: bool,
}

/// The directory `/new NAME [DIR]` means: `DIR` with `~` expanded (`home`), a relative
/// one under the sessions root (never the bot's working directory); without `DIR`,
/// `<root>/<name>`. It is created when missing, then canonicalized.
pub fn choose(
    root: &Path,
    name: &str,
    dir: Option<&str>,
    home: Option<&Path>,
) -> std::io::Result<Chosen> {
    let wanted = match dir {
        None => root.join(name),
        Some(d) => expand(d, root, home)?,
    };
    let existed = std::fs::symlink_metadata(&wanted).is_ok();
    std::fs::create_dir_all(&wanted)?;
    let path = std::fs::canonicalize(&wanted)?;
    if !path.is_dir() {
        return Err(std::io::Error::other(format!(
            "{} is not a directory",
            path.display()
        )));
    }
    let root = std::fs::canonicalize(root)?;
    let inside_root = path.starts_with(&root);
    Ok(Chosen {
        created: !existed && path == root.join(name),
        path,
        inside_root,
    })
}

/// `DIR` as typed: `~` and `~/…` are the home directory; relative paths are under `root`.
fn expand(dir: &str, root: &Path, home: Option<&Path>) -> std::io::Result<PathBuf> {
    let home_of = || {
        home.map(Path::to_path_buf).ok_or_else(|| {
            std::io::Error::other("~ cannot be expanded: HOME is not set for telepty")
        })
    };
    let path = if dir == "~" {
        home_of()?
    } else if let Some(rest) = dir.strip_prefix("~/") {
        home_of()?.join(rest)
    } else if dir.starts_with('~') {
        // `~user` is another user's home: not telepty's to guess.
        return Err(std::io::Error::other(format!(
            "{dir}: only ~ and ~/… are expanded"
        )));
    } else {
        let p = PathBuf::from(dir);
        if p.is_absolute() {
            p
        } else {
            root.join(p)
        }
    };
    Ok(path)
}

/// The directory `/delete` may offer to remove for session `name`: only when telepty
/// created it (`created`), it is not a symlink, and it is exactly
/// `<canonical root>/<name>` now (checked again when the button is pressed).
pub fn deletable(dir: &Path, name: &str, created: bool, root: &Path) -> Option<PathBuf> {
    if !created || !is_plain_name(name) {
        return None;
    }
    let meta = std::fs::symlink_metadata(dir).ok()?;
    if !meta.is_dir() {
        return None;
    }
    let canonical = std::fs::canonicalize(dir).ok()?;
    let root = std::fs::canonicalize(root).ok()?;
    (canonical == root.join(name) && canonical != root).then_some(canonical)
}

/// A session name that is one normal path component (never `..`, `.`, or a path).
fn is_plain_name(name: &str) -> bool {
    let mut parts = Path::new(name).components();
    matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_directory_is_created_under_the_root_and_deletable() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("sessions");
        std::fs::create_dir(&root).unwrap();
        let c = choose(&root, "alpha", None, None).unwrap();
        assert!(c.created && c.inside_root);
        assert_eq!(c.path, std::fs::canonicalize(root.join("alpha")).unwrap());
        assert!(deletable(&c.path, "alpha", c.created, &root).is_some());
        // Not created by telepty: never offered.
        assert!(deletable(&c.path, "alpha", false, &root).is_none());
    }

    #[test]
    fn the_roots_parent_is_never_deletable_even_when_named_through_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("sessions");
        std::fs::create_dir(&root).unwrap();
        let up = format!("{}/..", root.display());
        let c = choose(&root, "foo", Some(&up), None).unwrap();
        assert_eq!(c.path, std::fs::canonicalize(t.path()).unwrap());
        assert!(!c.created && !c.inside_root);
        // Even a registry that claims telepty created it: the canonical path decides.
        assert!(deletable(&root.join(".."), "foo", true, &root).is_none());
        assert!(deletable(&root, "foo", true, &root).is_none());
        assert!(deletable(&root.join("foo/.."), "..", true, &root).is_none());
    }

    #[test]
    fn an_existing_directory_and_a_symlink_are_never_deletable() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("sessions");
        std::fs::create_dir_all(root.join("old")).unwrap();
        let c = choose(&root, "old", None, None).unwrap();
        assert!(!c.created, "it was there before");
        let project = t.path().join("project");
        std::fs::create_dir(&project).unwrap();
        std::os::unix::fs::symlink(&project, root.join("link")).unwrap();
        assert!(deletable(&root.join("link"), "link", true, &root).is_none());
    }

    #[test]
    fn tilde_and_relative_directories() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("sessions");
        let home = t.path().join("home");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        let c = choose(&root, "p", Some("~/proj"), Some(&home)).unwrap();
        assert_eq!(c.path, std::fs::canonicalize(home.join("proj")).unwrap());
        assert!(!c.inside_root && !c.created);
        let c = choose(&root, "r", Some("sub/r"), Some(&home)).unwrap();
        assert_eq!(c.path, std::fs::canonicalize(root.join("sub/r")).unwrap());
        assert!(c.inside_root && !c.created, "not <root>/<name>");
        let c = choose(&root, "q", Some("q"), Some(&home)).unwrap();
        assert!(c.inside_root && c.created, "the same as the default");
        assert!(choose(&root, "x", Some("~bob/x"), Some(&home)).is_err());
        assert!(choose(&root, "x", Some("~/x"), None).is_err());
    }
}
