//! HelixSurf's intertwined loop past its first round: at evenly spaced steps, the surface
//! trained so far is drawn into every photo, its depths and normals seed stereo, and the depth
//! maps stereo then finds replace the prior the surface trains on. Stereo fixes the surface
//! where the photos are textured; the surface starts stereo near the right depth where random
//! planes rarely land.

use super::trainer::{Rollback, Trainer};
use std::sync::atomic::AtomicBool;

/// Most cells across the cube of the surface drawn into the photos (HelixSurf's marching
/// cubes: 256; fewer when the mesh itself has fewer): a few centimetres in a room, finer than
/// stereo's pixels.
const SEED_RESOLUTION: usize = 256;

impl Trainer {
    /// Rounds of stereo the depth prior has had: 0 without one.
    pub fn stereo_rounds_done(&self) -> u32 {
        self.depth_prior.as_ref().map_or(0, |s| s.round)
    }

    /// Whether the next round of stereo is due before the next step.
    pub fn stereo_round_due(&self) -> bool {
        let (done, rounds) = (self.stereo_rounds_done(), self.cfg.stereo_rounds);
        done > 0 && done < rounds && self.step >= self.cfg.iterations * done / rounds
    }

    /// Runs the next round of stereo from the current surface and trains on its depths from
    /// now on; returns its note for the user, or None when `cancel` was set (training stops;
    /// the prior stays as it was). `progress` hears how many photos have been matched. Err when
    /// the device failed: training goes on on the CPU, with the new depths if the device
    /// failed only to take them, and the round still due if it failed before (reading the
    /// surface back).
    pub fn stereo_round(
        &mut self,
        progress: &(dyn Fn(usize) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Option<String>, Rollback> {
        self.sync()?;
        let mut surface = crate::mesh::surface(&self.queries(), &[], self.cfg.mesh_resolution.min(SEED_RESOLUTION));
        for v in &mut surface.vertices {
            *v = self.norm.to_world(v.to_array()).as_vec3();
        }
        let round = self.stereo_rounds_done() + 1;
        let norm = self.norm;
        let Some(stats) = super::depth_prior::refresh(&mut self.views, &norm, &surface, round, progress, cancel) else {
            return Ok(None);
        };
        let note = stats.note();
        self.depth_prior = Some(stats);
        self.upload_pixels()?;
        Ok(Some(note))
    }
}

#[cfg(test)]
mod tests {
    use crate::geometry::rig::Layout;
    use crate::nn::hashgrid::HashGridConfig;
    use crate::train::{Preset, TrainConfig, Trainer};
    use std::sync::atomic::AtomicBool;

    /// Three rounds over 30 steps come before steps 10 and 20, once each, and each replaces
    /// the prior the views train on; a cancelled round changes nothing.
    #[test]
    fn rounds_come_evenly_and_replace_the_prior() {
        let mut cfg = TrainConfig::preset(Preset::Fast);
        cfg.grid = HashGridConfig { levels: 4, log2_table: 12, base_resolution: 8.0, max_resolution: 64.0 };
        (cfg.iterations, cfg.rays, cfg.mesh_resolution, cfg.stereo_rounds) = (30, 128, 48, 3);
        (cfg.layout, cfg.depth_prior) = (Some(Layout::Forward), Some(true));
        let mut t = Trainer::new(cfg, crate::train::depth_prior::testing::plane_views());
        assert_eq!(t.stereo_rounds_done(), 1);
        let mut rounds_at = Vec::new();
        while t.step < t.cfg.iterations {
            if t.stereo_round_due() && rounds_at.is_empty() {
                // Cancelled first: nothing changes, and the round stays due.
                let before: Vec<_> = t.views.iter().map(|v| v.depth.clone()).collect();
                assert_eq!(t.stereo_round(&|_| {}, &AtomicBool::new(true)).ok(), Some(None));
                assert!(t.views.iter().zip(&before).all(|(v, d)| v.depth == *d));
                assert!(t.stereo_round_due() && t.stereo_rounds_done() == 1);
            }
            if t.stereo_round_due() {
                for v in &mut t.views {
                    v.depth = None;
                }
                let note = t.stereo_round(&|_| {}, &AtomicBool::new(false)).unwrap_or_else(|r| panic!("{}", r.why));
                let note = note.expect("not cancelled");
                rounds_at.push(t.step);
                assert!(note.contains(&format!("round {}", t.stereo_rounds_done())), "{note}");
                assert!(
                    t.views.iter().all(|v| v.depth.is_some()),
                    "round {} left views without a prior",
                    rounds_at.len()
                );
                continue;
            }
            t.step().unwrap_or_else(|r| panic!("{}", r.why));
        }
        assert_eq!(rounds_at, [10, 20]);
        assert_eq!(t.stereo_rounds_done(), 3);
    }
}
