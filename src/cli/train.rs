//! `weave train PATH --out DIR`: the same training session as the window's, drawn as a
//! progress bar, then everything written to the output folder.

use crate::backend::Choice;
use crate::io::Dataset;
use crate::sfm::Matcher;
use crate::train::posefree::PoseSettings;
use crate::train::session::{Command, Event, Session};
use crate::train::{Overrides, Trainer, checkpoint, outputs};
use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// Photo folder: with poses (COLMAP model or transforms.json), or bare photos, whose poses
    /// COLMAP finds first (as `weave sfm`), and Weave's own pose stage where COLMAP cannot.
    path: PathBuf,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    settings: Overrides,
    /// Weave's own pose stage, for bare photos COLMAP cannot pose (or without COLMAP).
    #[command(flatten)]
    poses: PoseSettings,
    /// Compute backend: CUDA when a usable GPU is found, else the CPU.
    #[arg(long, value_enum, default_value_t = Choice::Auto)]
    backend: Choice,
    /// Continue from this checkpoint (its settings are kept; --iterations may extend them).
    #[arg(long, value_name = "CHECKPOINT")]
    resume: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let mut ds = super::open(&args.path)?;
    // Photos COLMAP cannot pose (or no COLMAP) get Weave's own stage, which trains the field.
    let mut pose_free = false;
    // The bare photos, when COLMAP poses them: those it leaves out are recovered.
    let mut bare = None;
    if !ds.has_poses() {
        println!(
            "{}: no camera poses; finding them with COLMAP first (`weave poses` does only that)",
            ds.root.display()
        );
        match super::sfm::find_poses(&ds, Matcher::Auto) {
            Ok(posed) => bare = Some(std::mem::replace(&mut ds, posed)),
            Err(e) if args.resume.is_none() => {
                println!("{e:#}\nWeave's own pose stage takes over");
                pose_free = true;
            }
            Err(e) => return Err(e),
        }
    }
    // A resumed run holds out what its checkpoint held out.
    let probe = args.resume.as_ref().map(|ckpt| checkpoint::load(ckpt, Vec::new())).transpose()?;
    if let Some(every) = probe.as_ref().map_or(args.settings.holdout, |p| p.cfg.holdout) {
        if pose_free {
            println!("note: --holdout is not used on photos Weave poses itself: every photo helps pose the others");
        } else {
            ds.hold_out(every)?;
        }
    }
    if ds.views.len() < 3 {
        bail!("{}: only {} usable images; training needs at least 3", ds.root.display(), ds.views.len());
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let trainer = match (&args.resume, probe) {
        (Some(ckpt), Some(probe)) => resumed(&args, &ds, ckpt, probe.cfg.image_scale)?,
        _ if pose_free => {
            let cfg = args.settings.config(|| crate::render::views::auto_scale(&ds.views).0);
            super::poses::find(&ds, &cfg, &args.poses, args.backend)?.trainer
        }
        _ => match fresh(&args, &ds)? {
            Some(mut t) => {
                if let Some(bare) = &bare {
                    super::poses::recover(&mut t, bare, &mut ds, &args.poses, args.backend)?;
                }
                t
            }
            None => {
                println!("stopped during multi-view stereo, before training: nothing written");
                return Ok(());
            }
        },
    };
    let trainer = start_backend(trainer, args.backend, &args.out)?;
    let (trainer, mut metrics) = train(trainer)?;
    println!("trained {} steps in {:.1} s; writing outputs", trainer.step, metrics.seconds);
    if let Some(note) = outputs::write_results(&trainer, &ds, &args.out, &mut metrics)? {
        eprintln!("warning: {note}");
    }
    let held_out = metrics.test_psnr.map_or("n/a".into(), |p| format!("{p:.2} dB"));
    println!("mesh {} triangles; held-out PSNR {held_out}; wrote {}", metrics.mesh_triangles, args.out.display());
    Ok(())
}

/// The trainer a checkpoint holds, on the folder's photos at the checkpoint's scale.
fn resumed(args: &Args, ds: &Dataset, ckpt: &Path, image_scale: f64) -> Result<Trainer> {
    let mut t = checkpoint::load(ckpt, crate::render::views::load(&ds.views, image_scale)?)?;
    args.settings.resume(&mut t.cfg);
    println!("resuming from {} at step {}", ckpt.display(), t.step);
    Ok(t)
}

/// A new trainer on the folder's photos, with a bar for multi-view stereo when it runs; None
/// when Ctrl-C stopped stereo.
fn fresh(args: &Args, ds: &Dataset) -> Result<Option<Trainer>> {
    let cfg = args.settings.config(|| {
        let (scale, note) = crate::render::views::auto_scale(&ds.views);
        if let Some(note) = note {
            println!("note: {note} (--scale 1 trains them whole)");
        }
        scale
    });
    let views = crate::render::views::load(&ds.views, cfg.image_scale)?;
    // Shown once stereo starts (rooms; --stereo on).
    let bar = std::sync::OnceLock::new();
    let total = views.len() as u64;
    let progress = |done| {
        bar.get_or_init(|| super::bar(total, "multi-view stereo {bar:30} {pos}/{len} photos, ETA {eta}"))
            .set_position(done as u64);
    };
    let t = Trainer::with_progress(cfg, views, &progress, super::ctrl_c()?);
    if let Some(b) = bar.get() {
        b.finish_and_clear();
    }
    Ok(t)
}

/// Puts the trainer on its backend and says what it will do.
fn start_backend(mut trainer: Trainer, choice: Choice, out: &Path) -> Result<Trainer> {
    if choice != Choice::Cpu
        && let Some(d) = crate::backend::cuda::first_start()
    {
        eprintln!("Compiling the CUDA kernels for {} ({}): the first start only, then cached.", d.name, d.arch());
    }
    let (backend, note) = trainer.choose_backend(choice).context("--backend cuda")?;
    if let Some(note) = note {
        eprintln!("note: {note}; training on the CPU");
    }
    if let Some(note) = trainer.backdrop_note() {
        println!("{note} --no-auto-masks keeps them whole.");
    }
    if let Some(stats) = &trainer.depth_prior {
        let path = out.join(outputs::STEREO_POINTS);
        outputs::write_stereo_points(&trainer, &path)?;
        println!("{} Its points: {}. --stereo off trains without it.", stats.note(), path.display());
    }
    let (views, layout, rays, steps) = (trainer.views.len(), trainer.layout, trainer.cfg.rays, trainer.cfg.iterations);
    println!("training on {views} views ({backend}; {layout:?} layout, {rays} rays/step, {steps} steps)");
    Ok(trainer)
}

/// Runs the training session to its end (or Ctrl-C) with a progress bar over its events.
fn train(trainer: Trainer) -> Result<(Trainer, outputs::Metrics)> {
    let stop = super::ctrl_c()?;
    let (total, first_step) = (trainer.cfg.iterations, trainer.step);
    let mut metrics = outputs::Metrics::of(&trainer);
    let bar = super::bar(total as u64, "{bar:30} {pos}/{len} steps  {msg}  [{elapsed} < {eta}]");
    bar.set_position(first_step as u64);
    let started = Instant::now();
    let session = Session::headless(trainer);
    let mut stopping = false;
    loop {
        if stop.load(Ordering::SeqCst) && !stopping {
            super::say(&bar, "stopping: writing what has been trained so far");
            session.send(Command::Stop);
            stopping = true;
        }
        let event = match session.events.recv_timeout(Duration::from_millis(100)) {
            Ok(e) => e,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match event {
            Event::Step(s) => {
                metrics.final_loss = s.loss;
                metrics.train_psnr = s.psnr;
                show_step(&bar, &s, total, first_step, started);
            }
            Event::RolledBack { why, .. } => {
                metrics.rollbacks += 1;
                super::say(&bar, &format!("warning: {why}"));
            }
            Event::Stereo { round, done, total } => {
                bar.set_message(format!("multi-view stereo, round {round}: {done}/{total} photos"))
            }
            Event::StereoDone(note) => super::say(&bar, &note),
            Event::Finished { stopped, .. } => {
                metrics.stopped_early = stopped;
                break;
            }
        }
    }
    bar.finish_and_clear();
    let trainer = session.join().context("the training thread failed")?;
    metrics.iterations = trainer.step;
    metrics.seconds = started.elapsed().as_secs_f64();
    Ok((trainer, metrics))
}

/// A step on the bar; without a terminal (a log file, CI), where the bar is hidden, a line
/// every 5 % instead.
fn show_step(bar: &ProgressBar, s: &crate::train::StepStats, total: u32, first_step: u32, started: Instant) {
    bar.set_position(s.step as u64);
    let status =
        || format!("loss {:.4}  psnr {:.2}  s {:.0}  {:.0} samples/ray", s.loss, s.psnr, s.inv_s, s.samples_per_ray);
    if s.step.is_multiple_of(10) {
        bar.set_message(status());
    }
    if bar.is_hidden() && s.step.is_multiple_of((total / 20).max(1)) {
        let secs = started.elapsed().as_secs_f64();
        let eta = secs / (s.step - first_step).max(1) as f64 * (total - s.step) as f64;
        println!("step {}/{total}  {}  {secs:.0} s, ETA {eta:.0} s", s.step, status());
    }
}
