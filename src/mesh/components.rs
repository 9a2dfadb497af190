//! Removing floaters: connected pieces much smaller than the largest one.

use crate::geometry::Mesh;

fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        parent[i as usize] = parent[parent[i as usize] as usize];
        i = parent[i as usize];
    }
    i
}

/// Keeps the connected components with at least `fraction` of the largest one's triangles.
pub fn keep_large_components(mesh: &Mesh, fraction: f32) -> Mesh {
    let mut parent: Vec<u32> = (0..mesh.vertices.len() as u32).collect();
    for t in &mesh.triangles {
        let a = find(&mut parent, t[0]);
        for &v in &t[1..] {
            let b = find(&mut parent, v);
            parent[b as usize] = a;
        }
    }
    let mut count = vec![0u32; mesh.vertices.len()];
    let roots: Vec<u32> = mesh.triangles.iter().map(|t| find(&mut parent, t[0])).collect();
    for &r in &roots {
        count[r as usize] += 1;
    }
    let largest = count.iter().copied().max().unwrap_or(0) as f32;
    mesh.subset(|i, _| count[roots[i] as usize] as f32 >= fraction * largest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::Vec3;

    #[test]
    fn drops_small_pieces_only() {
        let big = super::super::extract(24, &|x, _| Vec3::from(x).length() - 0.6);
        let small = super::super::extract(24, &|x, _| (Vec3::from(x) - Vec3::splat(0.85)).length() - 0.08);
        let mut both = big.clone();
        both.append(&small);
        let kept = keep_large_components(&both, 0.05);
        assert_eq!(kept.triangles.len(), big.triangles.len());
        assert_eq!(keep_large_components(&both, 0.0).triangles.len(), both.triangles.len());
    }
}
