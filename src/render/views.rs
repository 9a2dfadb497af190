//! Training data in memory: photos (sRGB values in [0, 1], as NeRF methods fit them), masks,
//! cameras, and the similarity that maps the scene into the unit sphere and back.

use super::Ray;
use crate::geometry::rig::{self, Layout};
use crate::geometry::{Intrinsics, Pose};
use crate::io::{self, View};
use glam::{DVec2, DVec3};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// `x_normalised = (x_world − center) / scale`: the scene fits in the unit sphere.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    pub center: [f64; 3],
    pub scale: f64,
}

/// Camera distance from the centre, in normalised units, for object captures: the object
/// (which fills the middle of the photos) then sits well inside the unit sphere.
const OBJECT_CAMERA_DISTANCE: f64 = 2.5;
/// Largest camera distance from the centre, in normalised units, for rooms: the walls
/// around the cameras then fit in the unit sphere.
const ROOM_CAMERA_RADIUS: f64 = 0.25;

/// For forward-facing captures with known depth bounds: the unit sphere spans depths from the
/// nearest content to three times as far, in front of the cameras; what lies beyond belongs
/// to the background field. (Cameras nearly parallel have no look-at point to centre on.)
const FORWARD_SPAN: f64 = 3.0;

impl Normalization {
    /// `near`: the scene's nearest depth from the cameras, when known (LLFF's bounds).
    pub fn of(poses: &[Pose], layout: Layout, near: Option<f64>) -> Normalization {
        let centroid = rig::centroid(poses);
        let (center, scale) = match layout {
            Layout::Forward if let Some(near) = near => {
                let mean_dir = poses.iter().map(|p| p.forward()).sum::<DVec3>().normalize_or_zero();
                let radius = 0.5 * (FORWARD_SPAN - 1.0) * near;
                (centroid + mean_dir * (near + radius), radius)
            }
            Layout::Object | Layout::Forward => {
                let mean_dir = poses.iter().map(|p| p.forward()).sum::<DVec3>().normalize_or_zero();
                let target =
                    rig::look_at_point(poses).unwrap_or(centroid + mean_dir * 2.0 * rig::spread(poses).max(1e-6));
                let dist = poses.iter().map(|p| (p.center - target).length()).sum::<f64>() / poses.len() as f64;
                (target, dist / OBJECT_CAMERA_DISTANCE)
            }
            Layout::Room => (centroid, rig::spread(poses).max(1e-6) / ROOM_CAMERA_RADIUS),
        };
        Normalization { center: center.to_array(), scale: scale.max(1e-12) }
    }

    pub fn to_normalized(&self, x: DVec3) -> [f32; 3] {
        ((x - DVec3::from(self.center)) / self.scale).as_vec3().to_array()
    }

    pub fn to_world(&self, x: [f32; 3]) -> DVec3 {
        DVec3::new(x[0] as f64, x[1] as f64, x[2] as f64) * self.scale + DVec3::from(self.center)
    }
}

#[derive(Clone)]
pub struct TrainView {
    pub name: String,
    pub intrinsics: Intrinsics,
    pub pose: Pose,
    pub rgb: Vec<[f32; 3]>,
    /// Per pixel, how much it shows the object (0 empty, 1 object); negative where unknown,
    /// which gets no mask term (`backdrop`; the kernels read it the same way).
    pub mask: Option<Vec<f32>>,
    /// Nearest and farthest scene depth, when the input gives them.
    pub depth_range: Option<(f64, f64)>,
    /// Per pixel, the distance along its central ray (normalised units) to the surface that
    /// multi-view stereo found; 0 where it found none (`depth_prior`).
    pub depth: Option<Vec<f32>>,
}

impl TrainView {
    pub fn width(&self) -> u32 {
        self.intrinsics.width
    }

    pub fn height(&self) -> u32 {
        self.intrinsics.height
    }

    /// The ray through pixel position (x, y) (pixel centres at +0.5), in normalised space.
    pub fn ray(&self, norm: &Normalization, x: f64, y: f64) -> Ray {
        self.ray_with_focal(norm, x, y, 1.0)
    }

    /// As [`TrainView::ray`], with the focal length scaled by `s`: each pixel's direction 1/s
    /// as far off the optical axis.
    pub fn ray_with_focal(&self, norm: &Normalization, x: f64, y: f64, s: f64) -> Ray {
        let cam = self.intrinsics.unproject(DVec2::new(x, y));
        let d = (self.pose.rotation * DVec3::new(cam.x / s, cam.y / s, cam.z)).normalize();
        Ray { origin: norm.to_normalized(self.pose.center), dir: d.as_vec3().to_array() }
    }
}

/// Longest side, in pixels, that photos train at unless asked otherwise: nerfstudio's
/// default. A phone's 12-megapixel photos at full size would take 144 MB each as training
/// floats (14 GB for a hundred), and their detail is finer than the field resolves.
pub const MAX_TRAINING_SIDE: u32 = 1600;

/// The scale that brings the views' longest side down to `MAX_TRAINING_SIDE` (1 for photos
/// within it), and a note for the user when it shrinks them.
pub fn auto_scale(views: &[View]) -> (f64, Option<String>) {
    let longest_side = |v: &&View| v.intrinsics.width.max(v.intrinsics.height);
    let Some(v) = views.iter().max_by_key(longest_side) else {
        return (1.0, None);
    };
    let longest = longest_side(&v);
    if longest <= MAX_TRAINING_SIDE {
        return (1.0, None);
    }
    let scale = MAX_TRAINING_SIDE as f64 / longest as f64;
    let k = v.intrinsics.scaled(scale);
    let note = format!(
        "the photos ({}×{}) train at {}×{}, the longest side at {MAX_TRAINING_SIDE} px",
        v.intrinsics.width, v.intrinsics.height, k.width, k.height
    );
    (scale, Some(note))
}

/// Decodes the views' photos (and masks), resized by `scale`, in parallel. Images with an
/// alpha channel are composited on white and their alpha becomes the mask.
pub fn load(views: &[View], scale: f64) -> io::Result<Vec<TrainView>> {
    views
        .par_iter()
        .map(|v| {
            let pose = v.pose.ok_or_else(|| {
                io::Error::format(&v.image, "has no camera pose (`weave sfm` finds the poses of bare photos)")
            })?;
            let (photo, alpha) = io::images::decode_photo(&v.image)?;
            let intrinsics = v.intrinsics.scaled(scale);
            let (w, h) = (intrinsics.width, intrinsics.height);
            let photo = image::imageops::resize(&photo, w, h, image::imageops::FilterType::Triangle);
            let rgb = photo.pixels().map(|p| p.0.map(|c| c as f32 / 255.0)).collect();
            let mask = if let Some(alpha) = alpha {
                let alpha = image::imageops::resize(&alpha, w, h, image::imageops::FilterType::Triangle);
                Some(alpha.pixels().map(|p| p[0] as f32 / 255.0).collect())
            } else if let Some(m) = &v.mask {
                let mi = image::open(m).map_err(|e| io::Error::Image { path: m.clone(), reason: e.to_string() })?;
                let mi = image::imageops::resize(&mi.to_luma8(), w, h, image::imageops::FilterType::Triangle);
                Some(mi.pixels().map(|p| p[0] as f32 / 255.0).collect())
            } else {
                None
            };
            Ok(TrainView { name: v.name.clone(), intrinsics, pose, rgb, mask, depth_range: v.depth_range, depth: None })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_photos_train_at_the_longest_side_allowed() {
        let view = |w: u32, h: u32| View {
            name: "a.jpg".into(),
            image: "a.jpg".into(),
            mask: None,
            intrinsics: Intrinsics::centered(w, h, 0.8 * w as f64),
            intrinsics_source: io::IntrinsicsSource::Guess,
            pose: None,
            depth_range: None,
        };
        assert_eq!(auto_scale(&[view(800, 600), view(1600, 1200)]), (1.0, None));
        assert_eq!(auto_scale(&[]), (1.0, None));
        let (scale, note) = auto_scale(&[view(1000, 750), view(3000, 4000)]);
        assert_eq!(scale, 0.4);
        let note = note.unwrap();
        assert!(note.contains("3000×4000") && note.contains("1200×1600"), "{note}");
    }

    #[test]
    fn normalization_round_trips_and_fits_object_cameras() {
        let poses: Vec<Pose> = (0..12)
            .map(|i| {
                let a = i as f64 * 0.5;
                Pose::look_at(
                    DVec3::new(10.0 * a.cos() + 1.0, 10.0 * a.sin() + 2.0, 3.0),
                    DVec3::new(1.0, 2.0, 0.0),
                    DVec3::Z,
                )
            })
            .collect();
        let n = Normalization::of(&poses, Layout::Object, None);
        let c = n.to_normalized(poses[0].center);
        let r = (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt() as f64;
        assert!((r - OBJECT_CAMERA_DISTANCE).abs() < 1e-4);
        let x = DVec3::new(0.3, -0.2, 1.1);
        assert!((n.to_world(n.to_normalized(x)) - x).length() < 1e-5);
    }

    /// Forward-facing cameras with known bounds: the unit sphere spans depths from `near` to
    /// three times `near` straight ahead, with the cameras outside it.
    #[test]
    fn forward_captures_fit_their_near_content() {
        let poses: Vec<Pose> = (0..5)
            .map(|i| {
                let c = DVec3::new(0.1 * i as f64, 0.05 * (i % 2) as f64, 0.0);
                Pose::look_at(c, c + DVec3::new(0.0, 10.0, 0.0), DVec3::Z)
            })
            .collect();
        let centroid = rig::centroid(&poses);
        let n = Normalization::of(&poses, Layout::Forward, Some(10.0));
        let depth = |d: f64| {
            let x = n.to_normalized(centroid + DVec3::new(0.0, d, 0.0));
            (x[0] * x[0] + x[1] * x[1] + x[2] * x[2]).sqrt() as f64
        };
        assert!((depth(10.0) - 1.0).abs() < 1e-3 && (depth(30.0) - 1.0).abs() < 1e-3);
        assert!(depth(20.0) < 1e-3 && (depth(0.0) - 2.0).abs() < 1e-3);
    }

    /// A photo with alpha, halved: opaque red beside transparent black averages to red over
    /// white, (1, ½, ½), with half coverage; resized before compositing it went dark, (¾, ½, ½).
    #[test]
    fn photos_with_alpha_are_composited_on_white_before_resizing() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("a.png");
        image::RgbaImage::from_fn(2, 2, |x, _| image::Rgba(if x == 0 { [255, 0, 0, 255] } else { [0; 4] }))
            .save(&image)
            .unwrap();
        let view = View {
            name: "a.png".into(),
            image,
            mask: None,
            intrinsics: Intrinsics::centered(2, 2, 2.0),
            intrinsics_source: io::IntrinsicsSource::PoseFile,
            pose: Some(Pose::look_at(DVec3::new(0.0, -3.0, 0.0), DVec3::ZERO, DVec3::Z)),
            depth_range: None,
        };
        let loaded = load(&[view], 0.5).unwrap();
        let (rgb, mask) = (loaded[0].rgb[0], loaded[0].mask.as_ref().unwrap()[0]);
        for (got, want) in rgb.iter().zip([1.0, 0.5, 0.5]) {
            assert!((got - want).abs() < 0.01, "target {rgb:?}");
        }
        assert!((mask - 0.5).abs() < 0.01, "mask {mask}");
    }
}
