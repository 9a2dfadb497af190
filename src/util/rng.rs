//! SplitMix64: small, fast, seedable random numbers, the same on the host and in
//! `kernels/rays.cu` (both backends draw the same training rays from it).

/// The golden-ratio increment of SplitMix64's state.
pub const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output mix.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The top 24 bits of a random word as a uniform in [0, 1).
pub fn unit_f32(bits: u64) -> f32 {
    (bits >> 40) as f32 / (1u64 << 24) as f32
}

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(GOLDEN) ^ 0xD1B5_4A32_D192_ED03)
    }
    /// Ray i's stream of a batch drawn with `seed` (`rng_for_ray` in kernels/rays.cu).
    pub fn for_ray(seed: u64, i: usize) -> Self {
        Rng::new(seed ^ mix64(i as u64))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix64(self.0)
    }
    pub fn uniform(&mut self) -> f32 {
        unit_f32(self.next_u64())
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
