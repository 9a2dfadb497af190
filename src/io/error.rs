use std::path::{Path, PathBuf};

/// Every failure names the file it is about, so that a user can find and fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: no such file or folder", .0.display())]
    NotFound(PathBuf),
    #[error("{}: the folder is empty", .0.display())]
    EmptyFolder(PathBuf),
    #[error("{}: no images found (looked for {exts} files here and in images/)", .path.display())]
    NoImages { path: PathBuf, exts: String },
    #[error("{}: no usable images: {reason}", .path.display())]
    NoUsableImages { path: PathBuf, reason: String },
    #[error("{}: cannot read image: {reason}", .path.display())]
    Image { path: PathBuf, reason: String },
    #[error("{}:{line}: {reason}", .path.display())]
    Parse { path: PathBuf, line: usize, reason: String },
    #[error("{}: {reason}", .path.display())]
    Format { path: PathBuf, reason: String },
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound(path.to_path_buf())
        } else {
            Error::Io { path: path.to_path_buf(), source }
        }
    }

    pub fn format(path: &Path, reason: impl Into<String>) -> Self {
        Error::Format { path: path.to_path_buf(), reason: reason.into() }
    }

    pub fn parse(path: &Path, line: usize, reason: impl Into<String>) -> Self {
        Error::Parse { path: path.to_path_buf(), line, reason: reason.into() }
    }
}
