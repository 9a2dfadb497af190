//! The scene codebook of implicit pose regularisation (after IR-NeRF): views of the scene at
//! known poses, each with its descriptor. A photo's pose is read off the codebook as the
//! softmax-weighted combination of the poses whose views look like it.
//!
//! IR-NeRF's codebook is a learnt basis of VGG features that a pose-conditioned decoder mixes;
//! Weave's entries are renders of the field being trained (at poses drawn from the trusted
//! poses' distribution, or from a capture prior), so the codebook improves with the field and
//! needs no network of its own. What both share is the estimate: a soft mix of the codebook's
//! poses weighted by how well their views explain the photo, which only poses inside the
//! scene's pose distribution can win.

use super::descriptor::Descriptor;
use crate::geometry::Pose;
use glam::{DMat3, DQuat, DVec3};

/// Entries farther than this from the best match (rotation, degrees) are another mode of the
/// match (the far side of a nearly symmetric object), not part of the estimate.
const MODE_DEGREES: f64 = 30.0;

pub struct Entry {
    pub pose: Pose,
    pub descriptor: Descriptor,
}

#[derive(Default)]
pub struct Codebook {
    pub entries: Vec<Entry>,
}

/// A photo's pose as the codebook sees it.
#[derive(Clone, Copy, Debug)]
pub struct Match {
    pub pose: Pose,
    /// How alike the photo and the best entry are (cosine of their descriptors).
    pub similarity: f32,
    /// Effective number of entries mixed (1 when one entry takes all the weight).
    pub support: f32,
}

impl Codebook {
    /// The photo's pose: entries near the best match weighted by softmax(similarity / T).
    /// A small temperature trusts the best entry alone, a large one averages its neighbours.
    pub fn estimate(&self, photo: &Descriptor, temperature: f32) -> Option<Match> {
        let sims: Vec<f32> = self.entries.iter().map(|e| e.descriptor.similarity(photo)).collect();
        let best = (0..sims.len()).max_by(|&a, &b| sims[a].total_cmp(&sims[b]))?;
        let mode = &self.entries[best].pose;
        let t = temperature.max(1e-4);
        let mut weights: Vec<(usize, f64)> = (0..sims.len())
            .filter(|&i| self.entries[i].pose.rotation_angle_to(mode) < MODE_DEGREES.to_radians())
            .map(|i| (i, (((sims[i] - sims[best]) / t) as f64).exp()))
            .collect();
        let total: f64 = weights.iter().map(|w| w.1).sum();
        weights.iter_mut().for_each(|w| w.1 /= total);
        let poses: Vec<(Pose, f64)> = weights.iter().map(|&(i, w)| (self.entries[i].pose, w)).collect();
        let support = 1.0 / weights.iter().map(|w| w.1 * w.1).sum::<f64>();
        Some(Match { pose: weighted_mean(&poses), similarity: sims[best], support: support as f32 })
    }
}

/// The weighted mean of nearby poses: quaternions summed on one hemisphere and normalised
/// (the chordal mean, exact enough within a mode), centres averaged.
pub fn weighted_mean(poses: &[(Pose, f64)]) -> Pose {
    let reference = DQuat::from_mat3(&poses[0].0.rotation);
    let (mut q, mut c) = (DQuat::from_xyzw(0.0, 0.0, 0.0, 0.0), DVec3::ZERO);
    for (p, w) in poses {
        let mut r = DQuat::from_mat3(&p.rotation);
        if r.dot(reference) < 0.0 {
            r = -r;
        }
        q += r * *w;
        c += p.center * *w;
    }
    let total: f64 = poses.iter().map(|p| p.1).sum();
    Pose::new(DMat3::from_quat(q.normalize()), c / total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(angle_deg: f64, look: [f32; 4]) -> Entry {
        let a = angle_deg.to_radians();
        let pose = Pose::look_at(DVec3::new(3.0 * a.cos(), 3.0 * a.sin(), 1.0), DVec3::ZERO, DVec3::Z);
        let rgb: Vec<[f32; 3]> = (0..16).map(|i| [look[i % 4] * (i as f32 / 16.0); 3]).collect();
        Entry { pose, descriptor: Descriptor::of(4, 4, &rgb) }
    }

    #[test]
    fn the_estimate_mixes_the_matching_entries_and_ignores_other_modes() {
        let looks = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]];
        let mut book = Codebook::default();
        for (i, look) in looks.iter().enumerate() {
            book.entries.push(entry(90.0 * i as f64, *look));
        }
        // Looks like entry 1 exactly: its pose.
        let photo = entry(0.0, looks[1]).descriptor;
        let m = book.estimate(&photo, 0.01).unwrap();
        assert!(m.pose.rotation_angle_to(&book.entries[1].pose) < 1e-6 && m.support < 1.01);
        // Halfway between two entries 20° apart: their mean pose.
        book.entries.push(entry(110.0, looks[1]));
        let m = book.estimate(&photo, 0.05).unwrap();
        let mid = entry(100.0, looks[1]).pose;
        assert!(m.pose.rotation_angle_to(&mid).to_degrees() < 0.5, "{:?}", m.pose);
        assert!((m.support - 2.0).abs() < 0.01);
        // A second mode far away with the same look is not averaged in.
        book.entries.push(entry(280.0, looks[1]));
        let m = book.estimate(&photo, 0.05).unwrap();
        let off = m.pose.rotation_angle_to(&mid).to_degrees();
        assert!(off < 0.5 || (m.pose.rotation_angle_to(&book.entries[5].pose) < 1e-6), "{off}");
    }

    #[test]
    fn an_empty_codebook_has_no_estimate() {
        assert!(Codebook::default().estimate(&entry(0.0, [1.0; 4]).descriptor, 0.1).is_none());
    }
}
