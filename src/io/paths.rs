//! Lexical path arithmetic: camera files name images relative to themselves.

use std::path::{Component, Path, PathBuf};

/// An absolute path with `.` and `..` resolved without touching the file system (the
/// images a camera file names may not exist yet, or be reached through symlinks).
pub fn normalize(p: &Path) -> PathBuf {
    let p = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(p) };
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `target` relative to the folder `base`, with forward slashes.
pub fn relative_path(base: &Path, target: &Path) -> String {
    let (b, t) = (normalize(base), normalize(target));
    let common = b.components().zip(t.components()).take_while(|(x, y)| x == y).count();
    let mut rel: Vec<String> = b.components().skip(common).map(|_| "..".to_string()).collect();
    rel.extend(t.components().skip(common).map(|c| c.as_os_str().to_string_lossy().into_owned()));
    rel.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(relative_path(Path::new("/a/b"), Path::new("/a/b/images/x.png")), "images/x.png");
        assert_eq!(relative_path(Path::new("/a/out"), Path::new("/a/data/images/x.png")), "../data/images/x.png");
        assert_eq!(relative_path(Path::new("/a/./b/../c"), Path::new("/a/c/x.png")), "x.png");
        assert_eq!(normalize(Path::new("/a/b/../c/./d")), PathBuf::from("/a/c/d"));
    }
}
