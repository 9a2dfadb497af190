//! The `colmap` program: where it is, which options this version names, and running one of
//! its commands with its progress read from the log, cancellable at any line.

use super::SfmError;
use super::log::Stage;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// The environment variable that names the program, when it is not `colmap` on the PATH.
pub const ENV: &str = "WEAVE_COLMAP";

/// Lines of the log kept to explain a failure.
const TAIL: usize = 25;

#[derive(Clone, Debug)]
pub struct Colmap {
    pub exe: PathBuf,
    /// The first line of its help: "COLMAP 3.8 -- Structure-from-Motion and Multi-View Stereo".
    pub version: String,
    /// Built with CUDA: its SIFT runs on the GPU without a display (the OpenGL SIFT of a
    /// build without CUDA needs one, so Weave keeps that on the CPU).
    pub cuda: bool,
    /// Option groups of feature extraction and matching: `SiftExtraction`/`SiftMatching`
    /// up to COLMAP 3.11, `FeatureExtraction`/`FeatureMatching` after.
    pub extraction: &'static str,
    pub matching: &'static str,
}

impl Colmap {
    /// `$WEAVE_COLMAP`, else `colmap` on the PATH.
    pub fn find() -> Result<Colmap, SfmError> {
        let exe = match std::env::var_os(ENV) {
            Some(p) => {
                let p = PathBuf::from(p);
                if !p.is_file() {
                    return Err(SfmError::NotFound(format!("{ENV}={}: no such file", p.display())));
                }
                p
            }
            None => on_path("colmap").ok_or_else(|| SfmError::NotFound("no `colmap` on the PATH".into()))?,
        };
        Colmap::at(exe)
    }

    /// The program at `exe`, asked for its version and option names.
    pub fn at(exe: PathBuf) -> Result<Colmap, SfmError> {
        let help = |args: &[&str]| -> Result<String, SfmError> {
            let out = command(&exe).args(args).output().map_err(|e| SfmError::io(&exe, e))?;
            Ok(String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
        };
        let top = help(&["-h"])?;
        let version = top.lines().find(|l| l.contains("COLMAP")).map(str::trim).map(str::to_string);
        let Some(version) = version else {
            return Err(SfmError::NotFound(format!("{} does not say it is COLMAP", exe.display())));
        };
        let extraction = help(&["feature_extractor", "-h"])?;
        let matching = help(&["exhaustive_matcher", "-h"])?;
        Ok(Colmap {
            cuda: top.contains("with CUDA"),
            extraction: if extraction.contains("FeatureExtraction.") { "FeatureExtraction" } else { "SiftExtraction" },
            matching: if matching.contains("FeatureMatching.") { "FeatureMatching" } else { "SiftMatching" },
            exe,
            version,
        })
    }

    /// Runs `colmap <args>`, reporting `stage`'s progress from its log, until it ends, fails
    /// (with the end of its log) or `cancel` is set (then it is killed).
    pub fn run(
        &self,
        args: &[OsString],
        stage: Stage,
        images: usize,
        progress: &dyn Fn(Stage, usize, usize),
        cancel: &AtomicBool,
        log: &Path,
    ) -> Result<(), SfmError> {
        let mut log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map(std::io::BufWriter::new)
            .map_err(|e| SfmError::io(log, e))?;
        let args_line: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let _ = writeln!(log_file, "$ colmap {}", args_line.join(" "));
        let mut cmd = command(&self.exe);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // A group of its own, so that cancelling stops what a wrapper script started too.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| SfmError::io(&self.exe, e))?;
        let (tx, rx) = mpsc::channel();
        let readers = [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        ];
        for pipe in readers.into_iter().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut tail = VecDeque::with_capacity(TAIL);
        loop {
            if cancel.load(Ordering::Relaxed) {
                #[cfg(unix)]
                if let Ok(group) = libc::pid_t::try_from(child.id()) {
                    // SAFETY: sends a signal to the group the child leads (process_group(0)
                    // above); it touches no memory of this process.
                    unsafe { libc::killpg(group, libc::SIGKILL) };
                }
                let _ = child.kill();
                let _ = child.wait();
                return Err(SfmError::Cancelled);
            }
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let _ = writeln!(log_file, "{line}");
                    if let Some((done, total)) = stage.progress(line.trim(), images) {
                        progress(stage, done, total);
                    }
                    if tail.len() == TAIL {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let status = child.wait().map_err(|e| SfmError::io(&self.exe, e))?;
        let _ = log_file.flush();
        if status.success() {
            return Ok(());
        }
        let command = args.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
        Err(SfmError::Failed { command, status: status.to_string(), reason: reason(&tail), log: log.to_path_buf() })
    }
}

/// Why COLMAP stopped, in Weave's words where the log's last lines say something known, else
/// its last line.
fn reason(tail: &VecDeque<String>) -> String {
    if tail.iter().any(|l| l.contains("No good initial image pair found")) {
        return "no two photos share enough matched features to start the model from (plain, textureless or \
                dark photos give too few)"
            .into();
    }
    let said = |l: &&String| l.contains("rror") || l.trim_start().starts_with("=>");
    let line = tail.iter().rev().find(said).or_else(|| tail.iter().rev().find(|l| !l.trim().is_empty()));
    line.map_or_else(|| "it printed nothing".into(), |l| l.trim().trim_start_matches("=>").trim().to_string())
}

/// A COLMAP command with no window system: COLMAP's command line still starts Qt.
fn command(exe: &Path) -> Command {
    let mut c = Command::new(exe);
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        c.env("QT_QPA_PLATFORM", "offscreen");
    }
    c
}

fn on_path(name: &str) -> Option<PathBuf> {
    let exts: Vec<String> = if cfg!(windows) { vec![".exe".into(), ".bat".into()] } else { vec![String::new()] };
    std::env::split_paths(&std::env::var_os("PATH")?)
        .flat_map(|dir| exts.iter().map(move |e| dir.join(format!("{name}{e}"))))
        .find(|p| p.is_file())
}
