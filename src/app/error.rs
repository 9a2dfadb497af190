//! What the window reports when it cannot show something it was asked to.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    View(#[from] crate::view::Error),
    #[error(transparent)]
    Io(#[from] crate::io::Error),
    #[error("this photo has no camera pose")]
    NoPose,
}
