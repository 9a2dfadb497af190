//! Compact image descriptors: what a photo and a render of the field at some pose are
//! compared by when poses are looked up in the scene codebook (`codebook`). IR-NeRF learns its
//! codes from VGG features; Weave uses a fixed, cheap descriptor instead, a thumbnail of the
//! image's brightness and of its gradients, which a plain matte object still fills (its
//! outline and shading) where feature points find nothing.

/// The thumbnail's size: coarse enough that views a few degrees apart look alike, fine enough
/// that an object's outline tells its sides apart.
pub const WIDTH: usize = 24;
pub const HEIGHT: usize = 18;

/// Weight of the gradient channels against brightness: outlines place a view better than
/// overall shading.
const GRADIENT_WEIGHT: f32 = 1.5;

#[derive(Clone, Debug, PartialEq)]
pub struct Descriptor(Vec<f32>);

impl Descriptor {
    /// Of an image of `width` × `height` sRGB pixels in [0, 1].
    pub fn of(width: usize, height: usize, rgb: &[[f32; 3]]) -> Descriptor {
        assert_eq!(rgb.len(), width * height, "one colour per pixel");
        let luma = thumbnail(width, height, rgb);
        let mut gx = vec![0.0; WIDTH * HEIGHT];
        let mut gy = vec![0.0; WIDTH * HEIGHT];
        let at = |x: usize, y: usize| luma[y * WIDTH + x];
        for y in 0..HEIGHT {
            for x in 0..WIDTH {
                let (l, r) = (x.saturating_sub(1), (x + 1).min(WIDTH - 1));
                let (u, d) = (y.saturating_sub(1), (y + 1).min(HEIGHT - 1));
                gx[y * WIDTH + x] = at(r, y) - at(l, y);
                gy[y * WIDTH + x] = at(x, d) - at(x, u);
            }
        }
        let mut v = standardized(luma);
        let mut g = standardized([gx, gy].concat());
        g.iter_mut().for_each(|x| *x *= GRADIENT_WEIGHT);
        v.extend(g);
        Descriptor(unit(v))
    }

    /// Cosine similarity: 1 for the same look, about 0 for unrelated images.
    pub fn similarity(&self, other: &Descriptor) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }
}

/// Mean brightness over each thumbnail cell (the nearest pixel where an image is smaller than
/// the thumbnail).
fn thumbnail(width: usize, height: usize, rgb: &[[f32; 3]]) -> Vec<f32> {
    let mut sum = vec![0.0f32; WIDTH * HEIGHT];
    let mut count = vec![0u32; WIDTH * HEIGHT];
    let luma = |p: [f32; 3]| 0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2];
    for y in 0..height {
        for x in 0..width {
            let cell = (y * HEIGHT / height) * WIDTH + x * WIDTH / width;
            sum[cell] += luma(rgb[y * width + x]);
            count[cell] += 1;
        }
    }
    (0..WIDTH * HEIGHT)
        .map(|c| {
            if count[c] > 0 {
                sum[c] / count[c] as f32
            } else {
                let (x, y) = ((c % WIDTH) * width / WIDTH, (c / WIDTH) * height / HEIGHT);
                luma(rgb[y * width + x])
            }
        })
        .collect()
}

/// Zero mean and unit length, so that exposure and contrast do not count.
fn standardized(v: Vec<f32>) -> Vec<f32> {
    let mean = v.iter().sum::<f32>() / v.len().max(1) as f32;
    unit(v.into_iter().map(|x| x - mean).collect())
}

fn unit(v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 1e-12 { v.into_iter().map(|x| x / norm).collect() } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disc(width: usize, height: usize, cx: f32, cy: f32, r: f32, level: f32) -> Vec<[f32; 3]> {
        (0..width * height)
            .map(|i| {
                let (x, y) = ((i % width) as f32 + 0.5, (i / width) as f32 + 0.5);
                let inside = (x - cx).powi(2) + (y - cy).powi(2) < r * r;
                [if inside { level } else { 0.0 }; 3]
            })
            .collect()
    }

    #[test]
    fn alike_images_are_near_and_moved_ones_less_so() {
        let a = Descriptor::of(96, 72, &disc(96, 72, 40.0, 36.0, 15.0, 0.8));
        // Same shape, other exposure and resolution: the same descriptor, nearly.
        let dimmer = Descriptor::of(64, 48, &disc(64, 48, 40.0 * 2.0 / 3.0, 24.0, 10.0, 0.4));
        let nudged = Descriptor::of(96, 72, &disc(96, 72, 44.0, 36.0, 15.0, 0.8));
        let far = Descriptor::of(96, 72, &disc(96, 72, 75.0, 20.0, 12.0, 0.8));
        assert!((a.similarity(&a) - 1.0).abs() < 1e-5);
        assert!(a.similarity(&dimmer) > 0.95, "{}", a.similarity(&dimmer));
        let (near, away) = (a.similarity(&nudged), a.similarity(&far));
        assert!(near > 0.6 && near < 0.99 && away < 0.2, "nudged {near}, far {away}");
    }

    #[test]
    fn images_smaller_than_the_thumbnail() {
        let d = Descriptor::of(8, 6, &disc(8, 6, 3.0, 3.0, 2.0, 1.0));
        assert!((d.similarity(&d) - 1.0).abs() < 1e-5);
    }
}
