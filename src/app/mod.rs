use std::path::PathBuf;
pub fn run(_path: Option<PathBuf>, _shot: Option<PathBuf>) -> anyhow::Result<()> {
    Ok(())
}
