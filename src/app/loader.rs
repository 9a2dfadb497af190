//! Opening a folder off the UI thread: the dataset first, then its photos' thumbnails, sent
//! as messages the UI drains each frame. A newer load makes older ones stop early.

use crate::io::Dataset;
use crate::train::{TrainConfig, Trainer, checkpoint, outputs};
use image::RgbaImage;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Photos decoded and the trainer built: training can start.
    TrainerReady(Box<Trainer>),
    /// A folder to save training results into was chosen.
    PickedSaveFolder(PathBuf),
    /// Results were written (or not); the trainer comes back for further saves.
    Saved {
        trainer: Box<Trainer>,
        result: Result<PathBuf, String>,
    },
    /// Something failed in the background; the text says what and where.
    Failed(String),
}

/// What a folder dialog is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Open,
    SaveResults,
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

    /// Decodes the dataset's photos and builds a trainer, off the UI thread.
    pub fn prepare_training(&self, dataset: Dataset, cfg: TrainConfig) {
        let this = self.clone();
        std::thread::spawn(move || match crate::train::data::load(&dataset.views, cfg.image_scale) {
            Ok(views) => this.send(Message::TrainerReady(Box::new(Trainer::new(cfg, views)))),
            Err(e) => this.send(Message::Failed(e.to_string())),
        });
    }

    /// Writes checkpoint, mesh, poses, test renders and metrics into `dir`.
    pub fn save_results(&self, trainer: Box<Trainer>, dataset: Dataset, dir: PathBuf) {
        let this = self.clone();
        std::thread::spawn(move || {
            let mut metrics = outputs::Metrics {
                iterations: trainer.step,
                layout: format!("{:?}", trainer.layout),
                rays_per_step: trainer.cfg.rays,
                ..Default::default()
            };
            let result = checkpoint::save(&trainer, &dir.join("checkpoint.weave"))
                .and_then(|_| outputs::write_all(&trainer, &dataset, &dir, &mut metrics))
                .map(|_| dir)
                .map_err(|e| e.to_string());
            this.send(Message::Saved { trainer, result });
        });
    }

    /// Shows the system folder dialog without blocking the event loop.
    pub fn pick_folder(&self, purpose: Purpose) {
        let this = self.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let title = match purpose {
                Purpose::Open => "Open a photo folder",
                Purpose::SaveResults => "Save training results into a folder",
            };
            match rfd::FileDialog::new().set_title(title).pick_folder() {
                Some(dir) if purpose == Purpose::Open => this.send(Message::Picked(dir)),
                Some(dir) => this.send(Message::PickedSaveFolder(dir)),
                // Nobody cancels a dialog within a fraction of a second: it never opened.
                None if started.elapsed().as_millis() < 300 => this.send(Message::DialogUnavailable),
                None => {}
            }
        });
    }
}
