//! Camera poses for a folder of bare photos, by structure from motion: features, matches,
//! incremental registration and bundle adjustment. Today that is COLMAP's, run as the
//! `colmap` program (as nerfstudio and instant-ngp do) when the machine has it; its model
//! goes into the folder's `colmap/sparse/0`, where Weave (and COLMAP, and nerfstudio) then
//! find the poses whenever the folder is opened.

pub mod codebook;
mod colmap;
pub mod descriptor;
pub mod log;
pub mod prior;
pub mod trusted;

pub use colmap::{Colmap, ENV};
pub use log::Stage;

use crate::io::{self, Dataset};
use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Where the model and COLMAP's database go, inside the photo folder.
pub const WORK_DIR: &str = "colmap";

/// COLMAP's whole output, in `WORK_DIR`, for when it fails.
pub const LOG: &str = "colmap.log";

/// Above this many photos, matching every pair (time grows with their square) gives way to
/// matching each photo with its neighbours in name order.
const EXHAUSTIVE_UP_TO: usize = 200;

/// Photos per block of exhaustive matching: COLMAP reports its progress once per block.
const MATCH_BLOCK: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum SfmError {
    #[error(
        "COLMAP is needed to find the camera poses of bare photos, and was not found ({0}). Install it \
         (Debian/Ubuntu: `apt install colmap`; others: https://colmap.github.io/install.html) or set \
         {ENV} to the program"
    )]
    NotFound(String),
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Read(#[from] io::Error),
    #[error("COLMAP's {command} failed ({status}): {reason}. Its log: {}", .log.display())]
    Failed { command: String, status: String, reason: String, log: PathBuf },
    #[error(
        "{}: COLMAP registered none of the {images} photos: no pair of them shares enough features. Photos need \
         to overlap (each scene point in three or more), with texture; small or blurred photos give few features",
        .root.display()
    )]
    NoModel { root: PathBuf, images: usize },
    #[error("cancelled")]
    Cancelled,
}

impl SfmError {
    fn io(path: &Path, source: std::io::Error) -> SfmError {
        SfmError::Io { path: path.to_path_buf(), source }
    }
}

/// How photos are paired for matching.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Matcher {
    /// Every pair up to 200 photos, neighbours in name order beyond.
    #[default]
    Auto,
    /// Every pair: unordered photos.
    Exhaustive,
    /// Each photo with the next ones in name order: video frames, walk-throughs.
    Sequential,
}

/// What a run found.
#[derive(Clone, Debug)]
pub struct Report {
    pub model: PathBuf,
    pub images: usize,
    /// The photos COLMAP could not register, by name.
    pub left_out: Vec<String>,
    /// Separate models COLMAP made (photos that link to no other group form their own);
    /// the largest is kept.
    pub models: usize,
    /// Whether COLMAP's orientation aligner turned the model upright, its axes along the
    /// scene's walls (`align`).
    pub aligned: bool,
    pub seconds: f64,
}

impl Report {
    pub fn registered(&self) -> usize {
        self.images - self.left_out.len()
    }

    pub fn summary(&self) -> String {
        let mut s = format!(
            "COLMAP registered {} of {} photos in {:.0} s; model in {}",
            self.registered(),
            self.images,
            self.seconds,
            self.model.display()
        );
        if !self.left_out.is_empty() {
            const NAMED: usize = 5;
            let mut names = self.left_out[..self.left_out.len().min(NAMED)].join(", ");
            if self.left_out.len() > NAMED {
                names += &format!(" and {} more", self.left_out.len() - NAMED);
            }
            s += &format!(" (left out, as they did not link to the others: {names})");
        }
        if self.models > 1 {
            s += &format!(" (the largest of {} separate models)", self.models);
        }
        if !self.aligned {
            s += " (COLMAP could not turn it upright; it stays in its first photo's frame)";
        }
        s
    }
}

/// Finds the poses of `ds`'s photos and writes them as a COLMAP model into
/// `ds.root/colmap/sparse/0` (replacing one there), with COLMAP's database beside it.
pub fn estimate(
    colmap: &Colmap,
    ds: &Dataset,
    matcher: Matcher,
    progress: &dyn Fn(Stage, usize, usize),
    cancel: &AtomicBool,
) -> Result<Report, SfmError> {
    let started = Instant::now();
    let work = ds.root.join(WORK_DIR);
    std::fs::create_dir_all(&work).map_err(|e| SfmError::io(&work, e))?;
    // A fresh database: one left by a cancelled run may hold other settings; a fresh log.
    let db = work.join("database.db");
    let log = work.join(LOG);
    for f in [db.clone(), work.join("database.db-shm"), work.join("database.db-wal"), log.clone()] {
        if f.exists() {
            std::fs::remove_file(&f).map_err(|e| SfmError::io(&f, e))?;
        }
    }
    // Exactly the dataset's photos: COLMAP would otherwise also take masks/ and the like.
    let list = work.join("image_list.txt");
    let names: Vec<&str> = ds.views.iter().map(|v| v.name.as_str()).collect();
    io::atomic::write_bytes(&list, (names.join("\n") + "\n").as_bytes())?;
    let n = names.len();
    let same_size = ds
        .views
        .windows(2)
        .all(|w| (w[0].intrinsics.width, w[0].intrinsics.height) == (w[1].intrinsics.width, w[1].intrinsics.height));
    // On the GPU when COLMAP was built with CUDA; a machine whose GPU it cannot use makes it
    // fail at once, and the stage runs again on the CPU.
    let on_gpu_or_cpu = |mut args: Vec<OsString>, group: &str, stage: Stage, total: usize| {
        args.push(arg(&format!("--{group}.use_gpu")));
        if colmap.cuda {
            args.push(arg("1"));
            progress(stage, 0, total);
            match colmap.run(&args, stage, n, progress, cancel, &log) {
                Err(SfmError::Failed { .. }) => {
                    args.pop();
                }
                other => return other,
            }
        }
        args.push(arg("0"));
        progress(stage, 0, total);
        colmap.run(&args, stage, n, progress, cancel, &log)
    };

    let extract = vec![
        arg("feature_extractor"),
        arg("--database_path"),
        path(&db),
        arg("--image_path"),
        path(&ds.images_dir),
        arg("--image_list_path"),
        path(&list),
        arg("--ImageReader.camera_model"),
        arg("SIMPLE_RADIAL"),
        // One camera for photos of one size: the usual capture, and a better-posed problem.
        arg("--ImageReader.single_camera"),
        arg(if same_size { "1" } else { "0" }),
    ];
    on_gpu_or_cpu(extract, colmap.extraction, Stage::Features, n)?;

    let sequential = matcher == Matcher::Sequential || (matcher == Matcher::Auto && n > EXHAUSTIVE_UP_TO);
    let mut matching = vec![arg(if sequential { "sequential_matcher" } else { "exhaustive_matcher" })];
    // Guided matching (nerfstudio's setting) finds the matches the two views' geometry
    // predicts: the Middlebury temple's photos of a small object on black cloth register 16 of
    // 16 with it, 13 without.
    matching.extend([
        arg("--database_path"),
        path(&db),
        arg(&format!("--{}.guided_matching", colmap.matching)),
        arg("1"),
    ]);
    let pairs = if sequential {
        n
    } else {
        // Blocks smaller than COLMAP's 50 photos, so that progress shows on small sets too.
        matching.extend([arg("--ExhaustiveMatching.block_size"), arg(&MATCH_BLOCK.to_string())]);
        n.div_ceil(MATCH_BLOCK).pow(2)
    };
    on_gpu_or_cpu(matching, colmap.matching, Stage::Matching, pairs)?;

    let models_dir = empty_dir(work.join("sparse.new"))?;
    let map = vec![
        arg("mapper"),
        arg("--database_path"),
        path(&db),
        arg("--image_path"),
        path(&ds.images_dir),
        arg("--output_path"),
        path(&models_dir),
        // nerfstudio's setting: global bundle adjustment stops earlier, at no visible cost.
        arg("--Mapper.ba_global_function_tolerance"),
        arg("0.000001"),
    ];
    progress(Stage::Mapping, 0, n);
    colmap.run(&map, Stage::Mapping, n, progress, cancel, &log)?;

    let (best, registered, models) = largest_model(&models_dir)?;
    let Some(best) = best else {
        return Err(SfmError::NoModel { root: ds.root.clone(), images: n });
    };
    let model = empty_dir(work.join("sparse"))?.join("0");
    std::fs::rename(&best, &model).map_err(|e| SfmError::io(&model, e))?;
    std::fs::remove_dir_all(&models_dir).map_err(|e| SfmError::io(&models_dir, e))?;
    let aligned = align(colmap, &ds.images_dir, &model, &work, n, progress, cancel)?;
    let left_out = names.iter().filter(|n| !registered.contains(**n)).map(|n| n.to_string()).collect();
    let seconds = started.elapsed().as_secs_f64();
    Ok(Report { model, images: n, left_out, models, aligned, seconds })
}

/// Turns `model` upright with COLMAP's orientation aligner (gravity from the photos' level
/// horizontal axes, then the walls' directions from vanishing lines: the Manhattan world
/// HelixSurf aligns rooms to), as the models of scanned rooms come; the stereo prior fills
/// flat walls only in such a frame (`mvs::planar`). Whether it did: where the aligner fails,
/// the model stays as the mapper left it.
fn align(
    colmap: &Colmap,
    images: &Path,
    model: &Path,
    work: &Path,
    n: usize,
    progress: &dyn Fn(Stage, usize, usize),
    cancel: &AtomicBool,
) -> Result<bool, SfmError> {
    let out = empty_dir(work.join("sparse.aligned"))?;
    let args = vec![
        arg("model_orientation_aligner"),
        arg("--image_path"),
        path(images),
        arg("--input_path"),
        path(model),
        arg("--output_path"),
        path(&out),
        arg("--method"),
        arg("MANHATTAN-WORLD"),
    ];
    let ran = match colmap.run(&args, Stage::Mapping, n, progress, cancel, &work.join(LOG)) {
        Err(SfmError::Failed { .. }) => false,
        other => other.map(|_| true)?,
    };
    let aligned = ran && io::colmap::is_model(&out);
    if aligned {
        std::fs::remove_dir_all(model).map_err(|e| SfmError::io(model, e))?;
        std::fs::rename(&out, model).map_err(|e| SfmError::io(model, e))?;
    } else {
        std::fs::remove_dir_all(&out).map_err(|e| SfmError::io(&out, e))?;
    }
    Ok(aligned)
}

/// A command-line argument for COLMAP.
fn arg(s: &str) -> OsString {
    OsString::from(s)
}

fn path(p: &Path) -> OsString {
    p.as_os_str().to_owned()
}

/// `dir`, emptied of what an earlier run left there.
fn empty_dir(dir: PathBuf) -> Result<PathBuf, SfmError> {
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| SfmError::io(&dir, e))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| SfmError::io(&dir, e))?;
    Ok(dir)
}

/// The model folder (`0`, `1`, … under `dir`) with the most registered photos, their names,
/// and how many models there are.
fn largest_model(dir: &Path) -> Result<(Option<PathBuf>, HashSet<String>, usize), SfmError> {
    let mut best = (None, HashSet::new(), 0);
    for entry in std::fs::read_dir(dir).map_err(|e| SfmError::io(dir, e))? {
        let p = entry.map_err(|e| SfmError::io(dir, e))?.path();
        if !io::colmap::is_model(&p) {
            continue;
        }
        let images: HashSet<String> = io::colmap::read(&p)?.images.into_iter().map(|i| i.name).collect();
        best.2 += 1;
        if images.len() > best.1.len() {
            best = (Some(p), images, best.2);
        }
    }
    Ok(best)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::Ordering;

    /// A folder of `n` small photos, and a stand-in `colmap` script with `body` as its
    /// commands' behaviour (after answering `-h` the way a COLMAP with CUDA and the newer
    /// option names does).
    fn setup(n: usize, body: &str) -> (std::sync::MutexGuard<'static, ()>, tempfile::TempDir, Dataset, Colmap) {
        // One at a time: a script being written while another test starts a process is held
        // open for writing by that process until it execs, and running it then fails ("text
        // file busy").
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("photos/images");
        std::fs::create_dir_all(&images).unwrap();
        for i in 0..n {
            image::RgbImage::from_pixel(8, 6, image::Rgb([i as u8 * 40, 90, 200]))
                .save(images.join(format!("{i}.png")))
                .unwrap();
        }
        let ds = Dataset::open(&dir.path().join("photos")).unwrap();
        let exe = dir.path().join("colmap");
        let script = format!(
            "#!/bin/sh\necho \"$@\" >> \"$(dirname \"$0\")/calls\"\n\
             case \"$1 $2\" in\n\
             '-h '*) echo 'COLMAP 9.9 -- Structure-from-Motion (Commit x with CUDA)'; exit 0;;\n\
             *' -h') echo '  --FeatureExtraction.use_gpu arg  --FeatureMatching.use_gpu arg'; exit 0;;\n\
             esac\n{body}\n"
        );
        std::fs::write(&exe, script).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let colmap = Colmap::at(exe).unwrap();
        (guard, dir, ds, colmap)
    }

    /// Shell lines that write a text model of the photos named in $@ into `out`.
    fn model_writer() -> &'static str {
        r#"model() { mkdir -p "$1"; echo '1 SIMPLE_PINHOLE 8 6 10 4 3' > "$1/cameras.txt"; : > "$1/images.txt"; : > "$1/points3D.txt"
  d="$1"; shift; i=1
  for name in "$@"; do echo "$i 1 0 0 0 0 0 $i 1 $name" >> "$d/images.txt"; echo >> "$d/images.txt"; i=$((i+1)); done; }"#
    }

    #[test]
    fn the_largest_model_is_kept_and_the_photos_and_options_are_passed() {
        let body = format!(
            "{}\ncase \"$1\" in\n\
             feature_extractor) echo 'Processed file [1/4]'; echo 'Processed file [4/4]';;\n\
             exhaustive_matcher) echo 'Matching block [1/1, 1/1] in 0.1s';;\n\
             mapper) out=$7; model \"$out/0\" 0.png 1.png; model \"$out/1\" 0.png 1.png 2.png; echo 'Registering image #3 (3)';;\n\
             model_orientation_aligner) cp \"$5\"/* \"$7\"; : > \"$7/aligned\";;\n\
             esac",
            model_writer()
        );
        let (_one, dir, ds, colmap) = setup(4, &body);
        assert!(colmap.cuda && colmap.version.starts_with("COLMAP 9.9"));
        assert_eq!((colmap.extraction, colmap.matching), ("FeatureExtraction", "FeatureMatching"));
        let seen = std::sync::Mutex::new(Vec::new());
        let report = estimate(
            &colmap,
            &ds,
            Matcher::Auto,
            &|s, d, t| seen.lock().unwrap().push((s, d, t)),
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!((report.registered(), report.images, report.models), (3, 4, 2));
        assert_eq!(report.left_out, ["3.png"]);
        assert!(report.summary().contains("left out, as they did not link to the others: 3.png"));
        assert_eq!(report.model, ds.root.join("colmap/sparse/0"));
        assert_eq!(io::colmap::read(&report.model).unwrap().images.len(), 3);
        assert!(!ds.root.join("colmap/sparse.new").exists());
        // The aligner's model replaced the mapper's.
        assert!(
            report.aligned && report.model.join("aligned").exists() && !ds.root.join("colmap/sparse.aligned").exists()
        );
        assert!(calls_of(&dir).contains(&format!(
            "model_orientation_aligner --image_path {} --input_path {}",
            ds.images_dir.display(),
            report.model.display()
        )));
        assert_eq!(
            *seen.lock().unwrap(),
            [
                (Stage::Features, 0, 4),
                (Stage::Features, 1, 4),
                (Stage::Features, 4, 4),
                (Stage::Matching, 0, 1),
                (Stage::Matching, 1, 1),
                (Stage::Mapping, 0, 4),
                (Stage::Mapping, 3, 4)
            ]
        );
        let calls = calls_of(&dir);
        let extract = calls.lines().find(|l| l.starts_with("feature_extractor --")).unwrap();
        assert!(extract.contains("--FeatureExtraction.use_gpu 1") && extract.contains("--ImageReader.single_camera 1"));
        assert!(calls.contains("exhaustive_matcher --database_path") && calls.contains("--FeatureMatching.use_gpu 1"));
        assert!(calls.contains("--FeatureMatching.guided_matching 1"));
        let list = std::fs::read_to_string(ds.root.join("colmap/image_list.txt")).unwrap();
        assert_eq!(list, "0.png\n1.png\n2.png\n3.png\n");

        // The folder now opens with the poses, and a second run replaces the model.
        let posed = Dataset::open(&ds.root).unwrap();
        assert!(posed.has_poses() && posed.views.len() == 3);
        estimate(&colmap, &ds, Matcher::Sequential, &|_, _, _| {}, &AtomicBool::new(false)).unwrap();
        assert!(std::fs::read_to_string(dir.path().join("calls")).unwrap().contains("sequential_matcher"));
    }

    fn calls_of(dir: &tempfile::TempDir) -> String {
        std::fs::read_to_string(dir.path().join("calls")).unwrap()
    }

    #[test]
    fn a_gpu_colmap_cannot_use_runs_again_on_the_cpu() {
        let body = format!(
            "{}\ncase \"$*\" in *use_gpu\\ 1*) echo 'no CUDA device' >&2; exit 1;; esac\n\
             case \"$1\" in mapper) model \"$7/0\" 0.png 1.png;; esac",
            model_writer()
        );
        let (_one, dir, ds, colmap) = setup(2, &body);
        let report = estimate(&colmap, &ds, Matcher::Auto, &|_, _, _| {}, &AtomicBool::new(false)).unwrap();
        assert_eq!(report.registered(), 2);
        // This stand-in's aligner writes nothing: the mapper's model stays, and says so.
        assert!(!report.aligned && io::colmap::is_model(&report.model));
        assert!(report.summary().contains("could not turn it upright"));
        let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
        for (command, group) in [("feature_extractor", "FeatureExtraction"), ("exhaustive_matcher", "FeatureMatching")]
        {
            let tries: Vec<&str> = calls.lines().filter(|l| l.starts_with(&format!("{command} --"))).collect();
            assert_eq!(tries.len(), 2, "{calls}");
            assert!(
                tries[0].ends_with(&format!("--{group}.use_gpu 1"))
                    && tries[1].ends_with(&format!("--{group}.use_gpu 0"))
            );
        }
    }

    #[test]
    fn failures_say_what_colmap_said_and_an_empty_result_says_why() {
        let (one, _dir, ds, colmap) =
            setup(2, "echo 'E20261204 feature_extractor.cc:12] Camera model does not exist' >&2; exit 3");
        let err = estimate(&colmap, &ds, Matcher::Auto, &|_, _, _| {}, &AtomicBool::new(false)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("feature_extractor failed") && msg.contains("Camera model does not exist"), "{msg}");

        drop(one);
        let (_one, _dir, ds, colmap) = setup(2, "exit 0");
        let err = estimate(&colmap, &ds, Matcher::Auto, &|_, _, _| {}, &AtomicBool::new(false)).unwrap_err();
        assert!(matches!(err, SfmError::NoModel { images: 2, .. }), "{err}");
        assert!(err.to_string().contains("registered none of the 2 photos"));

        let missing = Colmap::at(ds.root.join("no-such-colmap")).unwrap_err();
        assert!(missing.to_string().contains("no-such-colmap"), "{missing}");
    }

    #[test]
    fn cancelling_stops_colmap_and_what_it_started() {
        // A wrapper script (as snap's): COLMAP itself runs as its child.
        let body = "sleep 30 & echo $! > \"$(dirname \"$0\")/pid\"; echo 'Processed file [1/2]'; wait";
        let (_one, dir, ds, colmap) = setup(2, body);
        let cancel = AtomicBool::new(false);
        let err =
            estimate(&colmap, &ds, Matcher::Auto, &|_, done, _| cancel.store(done > 0, Ordering::Relaxed), &cancel)
                .unwrap_err();
        assert!(matches!(err, SfmError::Cancelled), "{err}");
        let pid = std::fs::read_to_string(dir.path().join("pid")).unwrap();
        // Killed, it may linger as a zombie until init reaps it: that counts as stopped.
        let running = || {
            std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
        };
        let mut checks = 0;
        while running() && checks < 100 {
            std::thread::sleep(std::time::Duration::from_millis(20));
            checks += 1;
        }
        assert!(!running(), "COLMAP's child was left running");
    }
}
