//! Checkpoints: everything needed to resume training, re-extract a mesh or render views.
//!
//! Layout: magic, format version, a JSON header (settings, normalisation, step, array
//! lengths), the arrays as little-endian f32, the occupancy grid a byte a cell, the photos'
//! silhouettes eight pixels a byte, and an FNV-1a checksum of all that precedes it,
//! so that a truncated or corrupted file is refused with a clear message.

use super::config::TrainConfig;
use super::trainer::{Optimizer, Trainer};
use crate::field::{Field, FieldConfig, GROUPS, Occupancy, POSE_GROUP, Params};
use crate::geometry::Camera;
use crate::geometry::rig::Layout;
use crate::io::{self, Error, atomic};
use crate::mesh::Silhouette;
use crate::nn::adam::Adam;
use crate::render::views::{Normalization, TrainView};
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &[u8; 8] = b"WEAVECKP";
/// 2: background field and pose corrections joined the parameters.
pub const FORMAT_VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Header {
    weave_version: String,
    config: TrainConfig,
    field: FieldConfig,
    layout: Layout,
    normalization: Normalization,
    step: u32,
    lr_scale: f32,
    variance: f32,
    occupancy_resolution: usize,
    /// Lengths of the parameter arrays, in the order of `Params::arrays`.
    lengths: Vec<usize>,
    /// Adam steps of each array, then of the variance.
    adam_steps: Vec<u32>,
    variance_moments: [f32; 2],
    /// The training cameras, refined (absent from older checkpoints).
    #[serde(default)]
    cameras: Vec<Camera>,
    /// Per camera, the size of its photo's silhouette, or none (absent from older checkpoints).
    #[serde(default)]
    silhouettes: Vec<Option<[u32; 2]>>,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

fn push_f32s(out: &mut Vec<u8>, v: &[f32]) {
    out.reserve(v.len() * 4);
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

pub fn save(t: &Trainer, path: &Path) -> io::Result<()> {
    let o = &t.optimizer;
    let silhouettes = t.silhouettes();
    let header = Header {
        weave_version: env!("CARGO_PKG_VERSION").into(),
        config: t.cfg.clone(),
        field: t.field.cfg.clone(),
        layout: t.layout,
        normalization: t.norm,
        step: t.step,
        lr_scale: t.lr_scale,
        variance: t.params.variance,
        occupancy_resolution: t.occupancy.res,
        lengths: t.params.arrays().map(|a| a.len()).to_vec(),
        adam_steps: o.groups.iter().chain([&o.variance]).map(|a| a.step).collect(),
        variance_moments: [o.variance.m[0], o.variance.v[0]],
        cameras: t.cameras(),
        silhouettes: silhouettes.iter().map(|s| s.as_ref().map(|s| [s.width, s.height])).collect(),
    };
    let json = serde_json::to_vec(&header).expect("header serialises");
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for (i, a) in t.params.arrays().into_iter().enumerate() {
        push_f32s(&mut out, a);
        push_f32s(&mut out, &o.groups[i].m);
        push_f32s(&mut out, &o.groups[i].v);
    }
    out.extend(t.occupancy.cells.iter().map(|&c| c as u8));
    for s in silhouettes.iter().flatten() {
        out.extend(s.to_bits());
    }
    let sum = fnv1a(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    atomic::write_bytes(path, &out)
}

/// Reads a checkpoint into a trainer over `views` (empty to only export or render).
pub fn load(path: &Path, views: Vec<TrainView>) -> io::Result<Trainer> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |why: &str| Error::format(path, format!("not a usable Weave checkpoint: {why}"));
    if bytes.len() < 28 || &bytes[..8] != MAGIC {
        return Err(bad("wrong file type"));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(bad(&format!("format version {version}, this Weave reads version {FORMAT_VERSION}")));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    if fnv1a(body) != u64::from_le_bytes(sum.try_into().expect("8 bytes")) {
        return Err(bad("checksum mismatch (truncated or corrupted)"));
    }
    let json_len = u64::from_le_bytes(body[12..20].try_into().expect("8 bytes")) as usize;
    let json = body.get(20..20 + json_len).ok_or_else(|| bad("header runs past the end"))?;
    let h: Header = serde_json::from_slice(json).map_err(|e| bad(&format!("header: {e}")))?;
    if h.lengths.len() != GROUPS || h.adam_steps.len() != GROUPS + 1 {
        return Err(bad("header lists the wrong number of arrays"));
    }
    let mut pos = 20 + json_len;
    let mut take = |n: usize| -> io::Result<Vec<f32>> {
        let end = pos + n * 4;
        let chunk = body.get(pos..end).ok_or_else(|| bad("arrays run past the end"))?;
        pos = end;
        Ok(chunk.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
    };
    let mut arrays = Vec::new();
    let mut groups = Vec::new();
    for (i, &n) in h.lengths.iter().enumerate() {
        arrays.push(take(n)?);
        groups.push(Adam { m: take(n)?, v: take(n)?, step: h.adam_steps[i] });
    }
    let cells_n = h.occupancy_resolution.pow(3);
    let cells = body.get(pos..pos + cells_n).ok_or_else(|| bad("occupancy runs past the end"))?;
    let occupancy = Occupancy { res: h.occupancy_resolution, cells: cells.iter().map(|&b| b != 0).collect() };
    pos += cells_n;
    if !h.silhouettes.is_empty() && h.silhouettes.len() != h.cameras.len() {
        return Err(bad("silhouettes do not match the cameras"));
    }
    let mut silhouettes = Vec::with_capacity(h.silhouettes.len());
    for size in &h.silhouettes {
        silhouettes.push(match *size {
            Some([width, height]) => {
                let n = Silhouette::bits_len(width, height);
                let bits = body.get(pos..pos + n).ok_or_else(|| bad("silhouettes run past the end"))?;
                pos += n;
                Some(Silhouette::from_bits(width, height, bits).expect("sized by bits_len"))
            }
            None => None,
        });
    }
    let field = Field::new(h.field);
    let expected = field.init_params(0);
    let params = Params::from_arrays(arrays.try_into().expect("checked count"), h.variance);
    let sizes_match = (0..GROUPS).all(|i| i == POSE_GROUP || params.arrays()[i].len() == expected.arrays()[i].len());
    if !sizes_match {
        return Err(bad("array sizes do not match its own settings"));
    }
    let groups: [Adam; GROUPS] = groups.try_into().expect("checked count");
    let variance = Adam { m: vec![h.variance_moments[0]], v: vec![h.variance_moments[1]], step: h.adam_steps[GROUPS] };
    let mut t = Trainer::from_state(
        h.config,
        h.layout,
        h.normalization,
        field,
        params,
        Some(Optimizer { groups, variance }),
        Some(occupancy),
        h.step,
        views,
    );
    t.lr_scale = h.lr_scale;
    t.recorded_cameras = h.cameras;
    t.recorded_silhouettes = silhouettes;
    // A resumed room trains on the same prior (stereo is deterministic).
    t.attach_depth_prior(&|_| {}, &std::sync::atomic::AtomicBool::new(false));
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::hashgrid::HashGridConfig;
    use crate::train::Preset;

    fn small_trainer() -> Trainer {
        let mut cfg = TrainConfig::preset(Preset::Fast);
        cfg.grid = HashGridConfig { levels: 4, log2_table: 10, base_resolution: 4.0, max_resolution: 32.0 };
        cfg.occupancy_resolution = 8;
        let field = Field::new(FieldConfig {
            grid: cfg.grid,
            hidden: 8,
            orientation: 1.0,
            init_radius: 0.5,
            ..FieldConfig::tiny()
        });
        let mut params = field.init_params(5);
        params.sdf.iter_mut().enumerate().for_each(|(i, v)| *v = i as f32 * 1e-3);
        let norm = Normalization { center: [1.0, 2.0, 3.0], scale: 0.5 };
        let mut t = Trainer::from_state(cfg, Layout::Object, norm, field, params, None, None, 42, Vec::new());
        t.occupancy.cells[3] = false;
        t.recorded_cameras = vec![Camera {
            intrinsics: crate::geometry::Intrinsics::centered(64, 48, 50.0),
            pose: crate::geometry::Pose::look_at(glam::DVec3::new(1.0, 2.0, 0.0), glam::DVec3::ZERO, glam::DVec3::Z),
        }];
        let mask: Vec<f32> = (0..64 * 48).map(|i| ((i % 64) > 40) as u8 as f32).collect();
        t.recorded_silhouettes = vec![Silhouette::from_mask(64, 48, &mask)];
        t
    }

    #[test]
    fn round_trip_and_corruption_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.weave");
        let t = small_trainer();
        save(&t, &path).unwrap();
        let back = load(&path, Vec::new()).unwrap();
        assert_eq!(back.params, t.params);
        assert_eq!((back.step, back.layout, back.norm), (42, Layout::Object, t.norm));
        assert_eq!(back.occupancy.cells, t.occupancy.cells);
        assert_eq!(back.cfg, t.cfg);
        assert_eq!(back.cameras(), t.cameras());
        assert!(t.silhouettes()[0].is_some());
        assert_eq!(back.silhouettes(), t.silhouettes());

        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let msg = load(&path, Vec::new()).err().unwrap().to_string();
        assert!(msg.contains("c.weave") && msg.contains("checksum"), "{msg}");
        std::fs::write(&path, &bytes[..100]).unwrap();
        assert!(load(&path, Vec::new()).is_err());
        std::fs::write(&path, b"not a checkpoint at all, just text").unwrap();
        assert!(load(&path, Vec::new()).err().unwrap().to_string().contains("wrong file type"));
    }
}
