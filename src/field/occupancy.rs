//! Which cells of the normalised cube may hold surface: ray marching skips the others.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Occupancy {
    pub res: usize,
    pub cells: Vec<bool>,
}

impl Occupancy {
    pub fn full(res: usize) -> Self {
        Self { res, cells: vec![true; res * res * res] }
    }

    /// This grid, or every cell when it has none. An empty grid is a dead end: no samples,
    /// so no gradient could ever bring a surface back. Training reaches it when the field turns
    /// into a fog that the background explains (seen on the procedural room on a GPU, 1800
    /// steps in); with every cell sampled, the field can form a surface again.
    pub fn or_full(self) -> Occupancy {
        if self.cells.contains(&true) { self } else { Occupancy::full(self.res) }
    }

    pub fn cell_size(&self) -> f32 {
        2.0 / self.res as f32
    }

    pub fn index(&self, x: [f32; 3]) -> Option<usize> {
        let mut i = [0usize; 3];
        for a in 0..3 {
            let u = (x[a] + 1.0) * 0.5 * self.res as f32;
            if !(0.0..self.res as f32).contains(&u) {
                return None;
            }
            i[a] = u as usize;
        }
        Some(i[0] + self.res * (i[1] + self.res * i[2]))
    }

    pub fn occupied(&self, x: [f32; 3]) -> bool {
        self.index(x).is_some_and(|i| self.cells[i])
    }

    pub fn center(&self, index: usize) -> [f32; 3] {
        let r = self.res;
        let ijk = [index % r, (index / r) % r, index / (r * r)];
        std::array::from_fn(|a| (ijk[a] as f32 + 0.5) / r as f32 * 2.0 - 1.0)
    }

    pub fn fraction(&self) -> f32 {
        self.cells.iter().filter(|&&c| c).count() as f32 / self.cells.len() as f32
    }
}
