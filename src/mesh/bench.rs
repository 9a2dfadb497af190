//! Timing of surface extraction (`weave bench mesh`): marching cubes and simplification on a
//! fixed analytic field, beside scikit-image's marching cubes on the very same grid when the
//! machine's `python3` has it (the extraction most Python pipelines, NeuS's among them, use).

use super::{Budget, ERROR_CELLS, corner, from_values, simplify};
use rayon::prelude::*;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

pub struct Timing {
    pub marching_s: f64,
    pub triangles: usize,
    pub simplify_s: f64,
    pub simplified: usize,
    /// scikit-image's seconds and triangles on the same grid, or why it did not run.
    pub skimage: Result<(f64, usize), String>,
}

/// A ball with bumps a few cells across, through a thin ring: curvature of every scale.
fn field(p: [f32; 3]) -> f32 {
    let [x, y, z] = p;
    let ball = (x * x + y * y + z * z).sqrt() - 0.55 + 0.03 * (9.0 * x).sin() * (9.0 * y).sin() * (9.0 * z).sin();
    let ring = (((x * x + z * z).sqrt() - 0.7).powi(2) + y * y).sqrt() - 0.1;
    ball.min(ring)
}

/// Extraction at `cells` per side, the grid written into `scratch` for scikit-image.
pub fn run(cells: usize, scratch: &Path) -> std::io::Result<Timing> {
    let n = cells + 1;
    let values: Vec<f32> = (0..n * n * n).into_par_iter().map(|i| field(corner(cells, i))).collect();
    let started = Instant::now();
    let mesh = from_values(cells, &values);
    let marching_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let simple = simplify(&mesh, Budget::Error(ERROR_CELLS * 2.0 / cells as f32));
    let simplify_s = started.elapsed().as_secs_f64();
    let grid = scratch.join(format!("grid{cells}.f32"));
    let mut w = std::io::BufWriter::new(std::fs::File::create(&grid)?);
    for v in &values {
        w.write_all(&v.to_le_bytes())?;
    }
    w.flush()?;
    drop(w);
    let skimage = skimage(&grid, n);
    std::fs::remove_file(&grid)?;
    Ok(Timing { marching_s, triangles: mesh.triangles.len(), simplify_s, simplified: simple.triangles.len(), skimage })
}

/// `skimage.measure.marching_cubes` on the grid file, timed inside Python (loading excluded).
fn skimage(grid: &Path, n: usize) -> Result<(f64, usize), String> {
    const SCRIPT: &str = "import sys, time, numpy as np\n\
        from skimage.measure import marching_cubes\n\
        n = int(sys.argv[2])\n\
        v = np.fromfile(sys.argv[1], dtype='<f4').reshape(n, n, n)\n\
        t = time.perf_counter()\n\
        _, faces, _, _ = marching_cubes(v, 0.0)\n\
        print(time.perf_counter() - t, len(faces))\n";
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(grid)
        .arg(n.to_string())
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let said = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().last().unwrap_or("python3 failed").to_string());
    }
    let mut words = said.split_whitespace();
    let seconds = words.next().and_then(|w| w.parse().ok());
    let faces = words.next().and_then(|w| w.parse().ok());
    seconds.zip(faces).ok_or_else(|| format!("python3 printed `{}`", said.trim()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_small_grid_is_extracted_simplified_and_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let t = super::run(32, dir.path()).unwrap();
        assert!(
            t.triangles > 1000 && t.simplified > 100 && t.simplified < t.triangles,
            "{} {}",
            t.triangles,
            t.simplified
        );
        // scikit-image, where it ran, found a surface of the same size.
        if let Ok((_, theirs)) = t.skimage {
            assert!(theirs.abs_diff(t.triangles) * 10 < t.triangles, "{theirs} vs {}", t.triangles);
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
