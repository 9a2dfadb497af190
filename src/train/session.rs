//! Training on its own thread, steered over a channel: the app sends commands, the trainer
//! sends typed events and publishes snapshots that a viewer reads without blocking it.

use super::trainer::{StepStats, Trainer};
use crate::field::{FieldConfig, Occupancy, Params};
use crate::render::RenderSettings;
use crate::render::views::Normalization;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};

pub enum Command {
    Pause,
    Resume,
    Stop,
}

pub enum Event {
    Step(StepStats),
    /// A non-finite loss: the state went back and the learning rate was halved.
    RolledBack {
        failed_step: u32,
        restored_step: u32,
        /// What happened and what was done, for the user.
        why: String,
    },
    /// A round of stereo from the surface so far (`Trainer::stereo_round`) has matched `done`
    /// of `total` photos.
    Stereo {
        round: u32,
        done: usize,
        total: usize,
    },
    /// That round is over; what it found, for the user.
    StereoDone(String),
    /// Training ended (finished, or stopped by a command) at this step.
    Finished {
        step: u32,
        stopped: bool,
    },
}

/// The state a viewer needs to draw the current reconstruction.
pub struct Snapshot {
    pub step: u32,
    pub field: FieldConfig,
    pub params: Params,
    pub occupancy: Occupancy,
    pub norm: Normalization,
    /// How the trainer renders at this step (the viewer draws the same way).
    pub settings: RenderSettings,
    /// Per training view, its current photometric error.
    pub view_errors: Vec<f32>,
    /// The training views' current poses (refined when poses are optimised), input frame.
    pub poses: Vec<crate::geometry::Pose>,
    pub stats: StepStats,
}

/// The latest snapshot, swapped in whole so readers never wait on training.
#[derive(Clone, Default)]
pub struct SnapshotSlot(Arc<Mutex<Option<Arc<Snapshot>>>>);

impl SnapshotSlot {
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.0.lock().ok().and_then(|s| s.clone())
    }
    fn publish(&self, s: Snapshot) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(Arc::new(s));
        }
    }
}

pub struct Session {
    pub commands: Sender<Command>,
    /// Set by a Stop, so that a round of stereo under way ends between photos rather than after.
    cancel: Arc<AtomicBool>,
    pub events: Receiver<Event>,
    pub snapshots: SnapshotSlot,
    thread: Option<std::thread::JoinHandle<Trainer>>,
}

/// Steps between published snapshots.
const SNAPSHOT_INTERVAL: u32 = 25;

impl Session {
    /// Starts training `trainer` on a new thread for a viewer: `wake` is called after each
    /// event, and snapshots are published every `SNAPSHOT_INTERVAL` steps.
    pub fn start(trainer: Trainer, wake: Arc<dyn Fn() + Send + Sync>) -> Session {
        Self::spawn(trainer, wake, true)
    }

    /// Starts training `trainer` on a new thread with nobody to draw it (the command line):
    /// events only, no snapshots (reading the state back from a device costs time).
    pub fn headless(trainer: Trainer) -> Session {
        Self::spawn(trainer, Arc::new(|| {}), false)
    }

    fn spawn(mut trainer: Trainer, wake: Arc<dyn Fn() + Send + Sync>, publishes: bool) -> Session {
        let (cmd_tx, cmd_rx) = std::sync::mpsc::channel();
        let (ev_tx, ev_rx) = std::sync::mpsc::channel();
        let snapshots = SnapshotSlot::default();
        let slot = snapshots.clone();
        let cancel = Arc::new(AtomicBool::new(false));
        let cancelled = cancel.clone();
        let thread = std::thread::spawn(move || {
            let send = |e: Event| {
                let _ = ev_tx.send(e);
                wake();
            };
            let mut paused = false;
            let mut stopped = false;
            while trainer.step < trainer.cfg.iterations {
                let cmd =
                    if paused { cmd_rx.recv().map_err(|_| TryRecvError::Disconnected) } else { cmd_rx.try_recv() };
                match cmd {
                    Ok(Command::Pause) => paused = true,
                    Ok(Command::Resume) => paused = false,
                    Ok(Command::Stop) | Err(TryRecvError::Disconnected) => {
                        stopped = true;
                        break;
                    }
                    Err(TryRecvError::Empty) => {}
                }
                if paused {
                    continue;
                }
                if trainer.stereo_round_due() {
                    let (round, total) = (trainer.stereo_rounds_done() + 1, trainer.views.len());
                    send(Event::Stereo { round, done: 0, total });
                    match trainer.stereo_round(&|done| send(Event::Stereo { round, done, total }), &cancelled) {
                        Ok(Some(note)) => send(Event::StereoDone(note)),
                        // Stopped: the next command read ends training.
                        Ok(None) => {}
                        Err(r) => send(Event::RolledBack {
                            failed_step: r.failed_step,
                            restored_step: r.restored_step,
                            why: r.why,
                        }),
                    }
                    continue;
                }
                match trainer.step() {
                    Ok(stats) => {
                        let publish = publishes
                            && (stats.step.is_multiple_of(SNAPSHOT_INTERVAL) || stats.step == trainer.cfg.iterations);
                        if publish && let Err(r) = trainer.sync() {
                            let (failed_step, restored_step) = (r.failed_step, r.restored_step);
                            send(Event::RolledBack { failed_step, restored_step, why: r.why });
                            continue;
                        }
                        if publish {
                            slot.publish(Snapshot {
                                step: stats.step,
                                field: trainer.field.cfg.clone(),
                                params: trainer.params.clone(),
                                norm: trainer.norm,
                                settings: trainer.render_settings(),
                                view_errors: trainer.view_errors.clone(),
                                occupancy: trainer.occupancy.clone(),
                                poses: trainer.refined_poses(),
                                stats,
                            });
                        }
                        send(Event::Step(stats));
                    }
                    Err(r) => send(Event::RolledBack {
                        failed_step: r.failed_step,
                        restored_step: r.restored_step,
                        why: r.why,
                    }),
                }
            }
            // What the thread hands back is up to date on the host, for export.
            if let Err(r) = trainer.sync() {
                send(Event::RolledBack { failed_step: r.failed_step, restored_step: r.restored_step, why: r.why });
            }
            send(Event::Finished { step: trainer.step, stopped });
            trainer
        });
        Session { commands: cmd_tx, cancel, events: ev_rx, snapshots, thread: Some(thread) }
    }

    pub fn send(&self, c: Command) {
        if matches!(c, Command::Stop) {
            self.cancel.store(true, Ordering::SeqCst);
        }
        let _ = self.commands.send(c);
    }

    /// Waits for the training thread and returns the trainer (for export).
    pub fn join(mut self) -> Option<Trainer> {
        self.thread.take().and_then(|t| t.join().ok())
    }
}
