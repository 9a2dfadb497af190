//! What COLMAP's log says about its progress: the lines each stage prints as it goes.

/// A stage of structure from motion, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Features,
    Matching,
    Mapping,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Features => "finding features",
            Stage::Matching => "matching photos",
            Stage::Mapping => "registering cameras",
        }
    }

    /// Work done of the stage's total, from one line of COLMAP's output, when it says.
    /// `images` is the number of photos, which the mapper's lines do not repeat. COLMAP 3.9
    /// and later put glog's prefix (`I20240112 10:44:55.1 1234 file.cc:258] `) before them.
    pub fn progress(self, line: &str, images: usize) -> Option<(usize, usize)> {
        let after = |marker: &str| line.find(marker).map(|at| &line[at + marker.len()..]);
        match self {
            // "Processed file [12/32]"
            Stage::Features => fraction(after("Processed file [")?),
            // Exhaustive: "Matching block [2/3, 1/3]" (blocks of image pairs, row by row);
            // sequential: "Matching image [5/120]".
            Stage::Matching => {
                if let Some(rest) = after("Matching block [") {
                    let (row, col) = rest.split_once(", ")?;
                    let (i, n) = fraction(row)?;
                    let (j, m) = fraction(col)?;
                    (n == m && i >= 1).then(|| ((i - 1) * n + j, n * n))
                } else {
                    fraction(after("Matching image [")?)
                }
            }
            // "Registering image #7 (9)": the 9th registered ("(num_reg_frames=8)" in newer
            // versions: those before it). The first pair is "Initializing with image pair".
            Stage::Mapping => {
                let inside = after("Registering image #")?.split_once('(')?.1.split_once(')')?.0;
                let (before, n) = inside.rsplit_once('=').map_or((false, inside), |(_, n)| (true, n));
                let n: usize = n.trim().parse().ok()?;
                Some((n + before as usize, images))
            }
        }
    }
}

/// "i/n]…" as (i, n).
fn fraction(s: &str) -> Option<(usize, usize)> {
    let (i, rest) = s.split_once('/')?;
    let n = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    Some((i.trim().parse().ok()?, n.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_reads_its_own_progress_lines() {
        assert_eq!(Stage::Features.progress("Processed file [12/32]", 32), Some((12, 32)));
        assert_eq!(Stage::Matching.progress("Matching block [2/3, 1/3] in 4.200s", 32), Some((4, 9)));
        assert_eq!(Stage::Matching.progress("Matching block [1/1, 1/1] in 4.200s", 32), Some((1, 1)));
        assert_eq!(Stage::Matching.progress("Matching image [5/120] in 0.1s", 120), Some((5, 120)));
        assert_eq!(Stage::Mapping.progress("Registering image #7 (9)", 24), Some((9, 24)));
        // COLMAP 3.9 and later: glog's prefix, and the mapper's count named.
        let glog = "I20240112 10:44:55.123 1234 feature_extraction.cc:258] Processed file [12/32]";
        assert_eq!(Stage::Features.progress(glog, 32), Some((12, 32)));
        let glog = "I20240112 10:45:01.5 99 incremental_pipeline.cc:400] Registering image #7 (num_reg_frames=8)";
        assert_eq!(Stage::Mapping.progress(glog, 24), Some((9, 24)));
        for line in ["  Name:            031.png", "Elapsed time: 0.012 [minutes]", "Processed file [", ""] {
            for stage in [Stage::Features, Stage::Matching, Stage::Mapping] {
                assert_eq!(stage.progress(line, 5), None, "{line:?}");
            }
        }
        assert_eq!(Stage::Features.progress("Matching image [5/120]", 5), None);
    }
}
