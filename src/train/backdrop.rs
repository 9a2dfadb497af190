//! Masks for photos taken against a plain black or white backdrop (a studio cloth, a light
//! box). Without them nothing tells the field that the backdrop is empty: a sphere painted
//! black explains every photo of an object on black cloth as well as the object does.
//!
//! The backdrop is the backdrop-coloured region connected to the photo's border. It is marked
//! empty (mask 0). Pixels of clearly another colour are the object (mask 1): without them,
//! the background field beyond the unit sphere learns to paint the object and the sphere
//! empties. Backdrop-coloured pixels the border does not reach (shadows on the object, gaps
//! it encloses) are left unknown (negative): neither carved nor filled.

use crate::render::views::TrainView;

/// Largest channel difference from the backdrop's colour that still counts as backdrop: a
/// black cloth's folds catch light up to about 0.25.
const TOLERANCE: f32 = 0.3;
/// A backdrop is near black (every channel below this) or near white (every channel above
/// 1 − this). Mid-tone borders are tables and walls, which are scene, not backdrop.
const EXTREME: f32 = 0.15;
/// Share of border pixels within the tolerance for a photo's border to count as uniform.
const UNIFORM_BORDER: f64 = 0.9;
/// Share of the photos that must show the backdrop for the capture to be a backdrop capture.
const BACKDROP_VIEWS: f64 = 0.75;
/// Both regions stop this many pixels short of the silhouette, whose pixels blend the two.
const MARGIN: usize = 2;
/// A photo whose backdrop covers less than this (or all but this) is not masked: either
/// the object fills the frame or there is no object.
const MIN_COVER: f64 = 0.05;

/// Masks the backdrop of every view that shows one, when most views do and none has a mask
/// of its own. Returns how many views were masked.
pub fn mask_views(views: &mut [TrainView]) -> usize {
    if views.is_empty() || views.iter().any(|v| v.mask.is_some()) {
        return 0;
    }
    let masks: Vec<Option<Vec<f32>>> =
        views.iter().map(|v| backdrop_mask(&v.rgb, v.width() as usize, v.height() as usize)).collect();
    let found = masks.iter().filter(|m| m.is_some()).count();
    if (found as f64) < BACKDROP_VIEWS * views.len() as f64 {
        return 0;
    }
    for (v, m) in views.iter_mut().zip(masks) {
        v.mask = m;
    }
    found
}

/// The mask of one photo (row-major `w × h`): 0 on the backdrop, 1 on the object, −1 where
/// unknown; None when its border is not a uniform black or white backdrop.
pub fn backdrop_mask(rgb: &[[f32; 3]], w: usize, h: usize) -> Option<Vec<f32>> {
    if w <= 2 * MARGIN || h <= 2 * MARGIN {
        return None;
    }
    let border: Vec<usize> =
        (0..w).flat_map(|x| [x, (h - 1) * w + x]).chain((1..h - 1).flat_map(|y| [y * w, y * w + w - 1])).collect();
    let colour: [f32; 3] = std::array::from_fn(|c| {
        let mut v: Vec<f32> = border.iter().map(|&i| rgb[i][c]).collect();
        v.sort_by(f32::total_cmp);
        v[v.len() / 2]
    });
    let dark = colour.iter().all(|&c| c < EXTREME);
    let light = colour.iter().all(|&c| c > 1.0 - EXTREME);
    if !dark && !light {
        return None;
    }
    let near = |i: usize| (0..3).all(|c| (rgb[i][c] - colour[c]).abs() < TOLERANCE);
    let uniform = border.iter().filter(|&&i| near(i)).count();
    if (uniform as f64) < UNIFORM_BORDER * border.len() as f64 {
        return None;
    }
    // Flood from the border through backdrop-coloured pixels (4-connected).
    let mut backdrop = vec![false; w * h];
    let mut stack: Vec<usize> = border.into_iter().filter(|&i| near(i)).collect();
    for &i in &stack {
        backdrop[i] = true;
    }
    while let Some(i) = stack.pop() {
        let (x, y) = (i % w, i / w);
        let neighbours = [
            (x > 0).then(|| i - 1),
            (x + 1 < w).then_some(i + 1),
            (y > 0).then(|| i - w),
            (y + 1 < h).then_some(i + w),
        ];
        for n in neighbours.into_iter().flatten() {
            if !backdrop[n] && near(n) {
                backdrop[n] = true;
                stack.push(n);
            }
        }
    }
    let object: Vec<bool> = (0..w * h).map(|i| !backdrop[i] && !near(i)).collect();
    let backdrop = erode(&backdrop, w, h, MARGIN);
    let object = erode(&object, w, h, MARGIN);
    let cover = backdrop.iter().filter(|&&b| b).count() as f64 / (w * h) as f64;
    if !(MIN_COVER..=1.0 - MIN_COVER).contains(&cover) {
        return None;
    }
    Some(
        (0..w * h)
            .map(|i| {
                if backdrop[i] {
                    0.0
                } else if object[i] {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect(),
    )
}

/// Keeps the pixels whose whole (2r+1)² neighbourhood is set; the image's outside counts as
/// set, so the backdrop reaches the border.
fn erode(set: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let rows: Vec<bool> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            (x.saturating_sub(r)..(x + r + 1).min(w)).all(|xx| set[y * w + xx])
        })
        .collect();
    (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            (y.saturating_sub(r)..(y + r + 1).min(h)).all(|yy| rows[yy * w + x])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w × h` photo of `backdrop` colour with a bright ring (an object enclosing a gap of
    /// backdrop colour) and a dark spot on the ring.
    fn ring_photo(w: usize, h: usize, backdrop: [f32; 3]) -> Vec<[f32; 3]> {
        (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32 - w as f32 / 2.0, (i / w) as f32 - h as f32 / 2.0);
                let r = (x * x + y * y).sqrt();
                if (8.0..16.0).contains(&r) {
                    if (x - 12.0).abs() < 2.0 && y.abs() < 2.0 { [0.05; 3] } else { [0.7, 0.6, 0.4] }
                } else {
                    backdrop
                }
            })
            .collect()
    }

    #[test]
    fn masks_the_backdrop_the_border_reaches_and_nothing_it_does_not() {
        let (w, h) = (48, 40);
        let m = backdrop_mask(&ring_photo(w, h, [0.02, 0.01, 0.03]), w, h).expect("a black backdrop");
        let at = |x: usize, y: usize| m[y * w + x];
        assert_eq!(at(0, 0), 0.0, "corner is backdrop");
        assert_eq!(at(w / 2 + 20, h / 2), 0.0, "outside the ring, past the margin");
        assert_eq!(at(w / 2, h / 2), -1.0, "the enclosed gap is left unknown");
        assert_eq!(at(w / 2 + 12, h / 2), -1.0, "a dark spot on the object is left unknown");
        assert_eq!(at(w / 2 + 17, h / 2), -1.0, "within the margin of the silhouette");
        assert_eq!(at(w / 2 + 19, h / 2), 0.0, "just past the margin");
        assert_eq!(at(w / 2, h / 2 + 12), 1.0, "the object, away from its edges");
        assert_eq!(at(w / 2, h / 2 + 14), -1.0, "the object, within the margin");
        let white = backdrop_mask(&ring_photo(w, h, [0.97, 0.98, 0.96]), w, h).expect("a white backdrop");
        let empty = |m: &[f32]| m.iter().map(|&v| v == 0.0).collect::<Vec<_>>();
        assert!(empty(&white) == empty(&m), "the same backdrop on white");
        assert_eq!(white[h / 2 * w + w / 2 + 12], 1.0, "the dark spot stands out from white");
    }

    #[test]
    fn mid_tone_or_busy_borders_are_not_backdrops() {
        let (w, h) = (48, 40);
        assert!(backdrop_mask(&ring_photo(w, h, [0.5, 0.35, 0.2]), w, h).is_none(), "a table");
        let mut busy = ring_photo(w, h, [0.0; 3]);
        for (i, p) in busy.iter_mut().enumerate().filter(|(i, _)| i % 3 == 0) {
            *p = [0.4 + 0.001 * (i % 7) as f32; 3];
        }
        assert!(backdrop_mask(&busy, w, h).is_none(), "a textured border");
        assert!(backdrop_mask(&vec![[0.0; 3]; w * h], w, h).is_none(), "no object at all");
    }

    fn view(rgb: Vec<[f32; 3]>, mask: Option<Vec<f32>>) -> TrainView {
        TrainView {
            name: String::new(),
            intrinsics: crate::geometry::Intrinsics::centered(48, 40, 40.0),
            pose: crate::geometry::Pose::IDENTITY,
            rgb,
            mask,
            depth_range: None,
            depth: None,
        }
    }

    #[test]
    fn a_capture_is_masked_only_when_most_views_show_a_backdrop_and_none_has_masks() {
        let black = || view(ring_photo(48, 40, [0.0; 3]), None);
        let table = || view(ring_photo(48, 40, [0.5, 0.35, 0.2]), None);
        let mut views = vec![black(), black(), black(), table()];
        assert_eq!(mask_views(&mut views), 3);
        assert!(views[..3].iter().all(|v| v.mask.is_some()) && views[3].mask.is_none());
        let mut views = vec![black(), black(), table(), table()];
        assert_eq!(mask_views(&mut views), 0, "half the views show a table");
        assert!(views.iter().all(|v| v.mask.is_none()));
        let mut views = vec![black(), black(), view(ring_photo(48, 40, [0.0; 3]), Some(vec![1.0; 48 * 40]))];
        assert_eq!(mask_views(&mut views), 0, "the dataset's own masks win");
        assert_eq!(views[2].mask.as_deref(), Some(&[1.0; 48 * 40][..]));
    }
}
