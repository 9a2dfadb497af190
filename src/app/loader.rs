//! Opening a folder off the UI thread: the dataset first, then its photos' thumbnails, sent
//! as messages the UI drains each frame. A newer load makes older ones stop early.

use crate::io::Dataset;
use crate::io::mesh::MeshFormat;
use crate::sfm::{self, Matcher, SfmError, Stage};
use crate::train::{TrainConfig, Trainer, outputs};
use image::RgbaImage;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;

/// Longest side of the thumbnails shown in the photo strip and on the frusta.
pub const THUMBNAIL_SIZE: u32 = 256;

pub enum Message {
    /// The folder was read: cameras are known, photos follow.
    Opened {
        generation: u64,
        dataset: Box<Dataset>,
    },
    OpenFailed {
        generation: u64,
        error: String,
    },
    Thumbnail {
        generation: u64,
        index: usize,
        image: RgbaImage,
    },
    /// A photo that decoded at load time but not now (changed on disk).
    ThumbnailFailed {
        generation: u64,
        error: String,
    },
    /// The folder dialog returned a choice.
    Picked(PathBuf),
    /// The folder dialog closed at once without a choice: no dialog service is running.
    DialogUnavailable,
    /// The GPU's kernels are being compiled (the first start on this GPU: seconds).
    CompilingKernels,
    /// Multi-view stereo has matched this many of the photos (while the trainer is built).
    StereoProgress {
        done: usize,
        total: usize,
    },
    /// Preparing training was cancelled while stereo ran.
    TrainingCancelled,
    /// Photos decoded and the trainer built: training can start.
    /// A trainer on its backend, and why CUDA was not used when it was not.
    TrainerReady(Box<Trainer>, Option<String>),
    /// Where to save an image of the viewport was chosen.
    PickedViewportImage(PathBuf),
    /// Where to export a finished run was chosen.
    PickedExport(Export, PathBuf),
    /// An export finished: what was written, or why not. The trainer comes back for more.
    Saved {
        trainer: Box<Trainer>,
        result: crate::io::Result<String>,
    },
    /// COLMAP's version, or why it cannot run: looked for when a folder without poses opens.
    ColmapFound {
        generation: u64,
        status: Result<sfm::Colmap, Arc<SfmError>>,
    },
    /// COLMAP run `run` has done this much of a stage of finding the camera poses.
    SfmProgress {
        run: u64,
        stage: Stage,
        done: usize,
        total: usize,
    },
    /// COLMAP run `run`, on the folder at `root`, ended: what it found, or why not.
    SfmDone {
        run: u64,
        root: PathBuf,
        result: Result<String, SfmError>,
    },
    /// Weave's own pose stage, run `run`: what it is doing and how far it is.
    PoseStage {
        run: u64,
        what: String,
        done: u32,
        total: u32,
    },
    /// Weave's own pose stage, run `run`: every photo's pose as found so far.
    PosesSoFar {
        run: u64,
        poses: Vec<crate::geometry::Pose>,
    },
    /// Weave's own pose stage, run `run`, ended: the trainer with the poses found and the
    /// stage's summary; None when cancelled.
    WeavePosed {
        run: u64,
        result: Option<(Box<Trainer>, String)>,
    },
    /// Something failed in the background; the text says what and where.
    Failed(String),
}

/// What a folder dialog is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Open,
    Export(Export),
    ViewportImage,
}

fn with_note(msg: String, note: Option<String>) -> String {
    match note {
        Some(n) => format!("{msg}; {n}"),
        None => msg,
    }
}

/// What a finished training run can be saved as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// Everything `weave train` writes, into a folder.
    Results,
    /// The mesh, in the format its file name says (PLY, OBJ, glTF binary).
    Mesh,
    /// The refined cameras: a transforms.json, or a COLMAP text model in a folder.
    Poses,
}

#[derive(Clone)]
pub struct Loader {
    generation: Arc<AtomicU64>,
    tx: Sender<Message>,
    pub wake: Arc<dyn Fn() + Send + Sync>,
}

impl Loader {
    pub fn new(tx: Sender<Message>, wake: Arc<dyn Fn() + Send + Sync>) -> Self {
        Self { generation: Arc::new(AtomicU64::new(0)), tx, wake }
    }

    pub fn is_current(&self, generation: u64) -> bool {
        self.generation.load(Ordering::SeqCst) == generation
    }

    fn send(&self, m: Message) {
        // The receiver only goes away when the app is closing.
        let _ = self.tx.send(m);
        (self.wake)();
    }

    /// Starts reading `path`; returns the generation its messages carry.
    pub fn open(&self, path: PathBuf) -> u64 {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let this = self.clone();
        std::thread::spawn(move || match Dataset::open(&path) {
            Err(e) => this.send(Message::OpenFailed { generation, error: e.to_string() }),
            Ok(dataset) => {
                let images: Vec<PathBuf> = dataset.views.iter().map(|v| v.image.clone()).collect();
                if !dataset.has_poses() {
                    // Asking COLMAP (three short runs of it) takes a moment: beside the photos.
                    let that = this.clone();
                    std::thread::spawn(move || {
                        let status = sfm::Colmap::find().map_err(Arc::new);
                        that.send(Message::ColmapFound { generation, status });
                    });
                }
                this.send(Message::Opened { generation, dataset: Box::new(dataset) });
                for (index, path) in images.into_iter().enumerate() {
                    if !this.is_current(generation) {
                        return;
                    }
                    match crate::io::images::decode_rgb(&path) {
                        Ok(img) => {
                            let (w, h) = img.dimensions();
                            let scale = THUMBNAIL_SIZE as f64 / w.max(h) as f64;
                            let (tw, th) = (
                                (w as f64 * scale).round().max(1.0) as u32,
                                (h as f64 * scale).round().max(1.0) as u32,
                            );
                            let thumb = image::imageops::thumbnail(&img, tw, th);
                            let image = image::DynamicImage::ImageRgb8(thumb).into_rgba8();
                            this.send(Message::Thumbnail { generation, index, image });
                        }
                        Err(e) => this.send(Message::ThumbnailFailed { generation, error: e.to_string() }),
                    }
                }
            }
        });
        generation
    }

    /// Finds the camera poses of a folder of bare photos with COLMAP, off the UI thread; its
    /// messages carry `run`.
    pub fn find_poses(&self, run: u64, dataset: Dataset, cancel: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
        let this = self.clone();
        std::thread::spawn(move || {
            let progress = |stage, done, total| this.send(Message::SfmProgress { run, stage, done, total });
            let result = sfm::Colmap::find()
                .and_then(|colmap| sfm::estimate(&colmap, &dataset, Matcher::Auto, &progress, &cancel))
                .map(|report| report.summary());
            this.send(Message::SfmDone { run, root: dataset.root, result });
        })
    }

    /// Weave's own pose stage on the folder's photos (`posefree::bootstrap`, their poses
    /// ignored), training with `cfg`, off the UI thread; its messages carry `run`.
    pub fn pose_with_weave(
        &self,
        run: u64,
        dataset: Dataset,
        cfg: TrainConfig,
        settings: crate::train::posefree::PoseSettings,
        cancel: Arc<AtomicBool>,
    ) -> std::thread::JoinHandle<()> {
        use crate::train::posefree::{self, Progress};
        let this = self.clone();
        std::thread::spawn(move || {
            let placeholders: Vec<crate::io::View> = dataset
                .views
                .iter()
                .cloned()
                .map(|v| crate::io::View { pose: Some(crate::geometry::Pose::IDENTITY), ..v })
                .collect();
            let views = match crate::render::views::load(&placeholders, cfg.image_scale) {
                Ok(v) => v,
                Err(e) => return this.send(Message::Failed(e.to_string())),
            };
            let what = std::cell::RefCell::new("Trying first guesses".to_string());
            let progress = |p: Progress| match p {
                Progress::Start { start, starts } => *what.borrow_mut() = format!("First guess {start} of {starts}"),
                Progress::Round { round, rounds, reestimated } => {
                    *what.borrow_mut() =
                        format!("Round {} of {rounds} ({reestimated} re-estimated through the codebook)", round + 1)
                }
                // Every few steps: each message wakes the window.
                Progress::Step { step, total } if step % 5 == 0 || step == total => {
                    let what = what.borrow().clone();
                    this.send(Message::PoseStage { run, what, done: step, total });
                }
                Progress::Step { .. } => {}
                Progress::Poses(poses) => this.send(Message::PosesSoFar { run, poses }),
            };
            let found = posefree::bootstrap(&cfg, views, &settings, crate::backend::Choice::Auto, &progress, &cancel);
            let result = found.map(|f| {
                let summary = f.summary();
                (Box::new(f.trainer), summary)
            });
            this.send(Message::WeavePosed { run, result });
        })
    }

    /// Decodes the dataset's photos and builds a trainer, off the UI thread; `cancel` stops
    /// its stereo between photos.
    pub fn prepare_training(&self, dataset: Dataset, cfg: TrainConfig, cancel: Arc<AtomicBool>) {
        let this = self.clone();
        std::thread::spawn(move || match crate::render::views::load(&dataset.views, cfg.image_scale) {
            Ok(views) => {
                let total = views.len();
                let progress = |done| this.send(Message::StereoProgress { done, total });
                let Some(mut trainer) = Trainer::with_progress(cfg, views, &progress, &cancel) else {
                    return this.send(Message::TrainingCancelled);
                };
                if crate::backend::cuda::first_start().is_some() {
                    this.send(Message::CompilingKernels);
                }
                // Auto never fails: without a usable GPU it keeps the CPU and says why.
                let note = trainer.choose_backend(crate::backend::Choice::Auto).ok().and_then(|(_, note)| note);
                this.send(Message::TrainerReady(Box::new(trainer), note))
            }
            Err(e) => this.send(Message::Failed(e.to_string())),
        });
    }

    /// Writes an export of a finished run, off the UI thread.
    pub fn export(&self, trainer: Box<Trainer>, dataset: Dataset, what: Export, path: PathBuf) {
        let this = self.clone();
        std::thread::spawn(move || {
            let result = match what {
                Export::Results => {
                    let mut metrics = outputs::Metrics::of(&trainer);
                    outputs::write_results(&trainer, &dataset, &path, &mut metrics).map(|note| {
                        with_note(format!("Saved mesh, poses, renders and checkpoint to {}", path.display()), note)
                    })
                }
                Export::Mesh => {
                    // Some file dialogs return the typed name without the chosen filter's extension.
                    let path = if path.extension().is_none() { path.with_extension("ply") } else { path };
                    let (cells, budget) = (trainer.cfg.mesh_resolution, trainer.cfg.triangles);
                    outputs::write_mesh(&trainer, &path, cells, budget, None).map(|m| {
                        m.note.unwrap_or_else(|| {
                            format!("Saved the mesh ({} triangles) to {}", m.triangles, path.display())
                        })
                    })
                }
                Export::Poses => outputs::write_poses(&trainer, &dataset, &path)
                    .map(|_| format!("Saved {} camera poses to {}", trainer.views.len(), path.display())),
            };
            this.send(Message::Saved { trainer, result });
        });
    }

    /// Shows the system folder or file dialog without blocking the event loop.
    pub fn pick_folder(&self, purpose: Purpose) {
        let this = self.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let dialog = rfd::FileDialog::new();
            let picked = match purpose {
                Purpose::Open => dialog.set_title("Open a photo folder").pick_folder(),
                Purpose::Export(Export::Results) => {
                    dialog.set_title("Save training results into a folder").pick_folder()
                }
                Purpose::Export(Export::Mesh) => dialog
                    .set_title("Export the mesh")
                    .add_filter("Mesh (PLY, OBJ, glTF binary)", &MeshFormat::EXTENSIONS)
                    .add_filter("PLY", &["ply"])
                    .add_filter("OBJ", &["obj"])
                    .add_filter("glTF binary", &["glb"])
                    .set_file_name("mesh.ply")
                    .save_file(),
                Purpose::ViewportImage => dialog
                    .set_title("Save the viewport as PNG")
                    .add_filter("PNG image", &["png"])
                    .set_file_name("viewport.png")
                    .save_file(),
                Purpose::Export(Export::Poses) => dialog
                    .set_title("Export camera poses (a .json name writes transforms.json, another a COLMAP folder)")
                    .set_file_name("transforms.json")
                    .save_file(),
            };
            match (picked, purpose) {
                (Some(dir), Purpose::Open) => this.send(Message::Picked(dir)),
                (Some(path), Purpose::Export(what)) => this.send(Message::PickedExport(what, path)),
                (Some(path), Purpose::ViewportImage) => this.send(Message::PickedViewportImage(path)),
                // Nobody cancels a dialog within a fraction of a second: it never opened.
                (None, _) if started.elapsed().as_millis() < 300 => this.send(Message::DialogUnavailable),
                (None, _) => {}
            }
        });
    }
}
