//! The widest SIMD instruction set gradscope's own code uses: its GEMM
//! kernel, activations, recurrent cells and probe statistics each come in
//! an AVX-512 build, an AVX2 (with FMA) build and a portable one, and run
//! the build of the current [`Simd`] level ([`simd`]).
//!
//! The level is the machine's ([`Simd::detected`]) unless a rayon pool
//! was built with a lower one (`super::pool::with_pool`,
//! `gradscope train --simd avx2`): like the thread count, it belongs to
//! the pool a computation runs in, not to the process, so two runs in one
//! process may use different levels. Lowering it is how an AVX-512
//! machine runs, tests and measures exactly the code an AVX2-only (or
//! pre-AVX2) machine runs. The `gemm` crate, where it serves, detects
//! the machine's instruction sets itself and is not lowered.
//!
//! The builds of one pass give the same results bit for bit wherever
//! the code says so (the GEMM kernel's entries are one chain of FMAs over
//! `k` in any build; the element-wise passes are the same Rust code
//! compiled three times, and Rust never fuses a multiply and an add).

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;

/// An instruction-set level, ordered from narrowest to widest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Simd {
    /// Baseline code for the target (SSE2 on x86-64, NEON on aarch64):
    /// the compiler's vectorization, and the `gemm` crate for products.
    Portable,
    /// AVX2 with FMA: 8 f32 lanes, 16 registers.
    Avx2,
    /// AVX-512 F: 16 f32 lanes, 32 registers.
    Avx512,
}

/// The levels, narrowest first.
pub const SIMD_LEVELS: [Simd; 3] = [Simd::Portable, Simd::Avx2, Simd::Avx512];

impl Simd {
    /// The widest level this machine runs (`std` caches the detection).
    pub fn detected() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            // Each level includes the ones below it (AVX-512 code calls
            // AVX2 and FMA code at the `avx2` level), so a machine counts
            // as AVX-512 only with AVX2 and FMA too.
            if !(has!("avx2") && has!("fma")) {
                Self::Portable
            } else if has!("avx512f") {
                Self::Avx512
            } else {
                Self::Avx2
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Self::Portable
    }

    /// The name `--simd` takes and `gradscope bench` prints.
    pub fn name(self) -> &'static str {
        match self {
            Self::Portable => "portable",
            Self::Avx2 => "avx2",
            Self::Avx512 => "avx512",
        }
    }

    /// Whether this machine runs the level.
    pub fn runs_here(self) -> bool {
        self <= Self::detected()
    }
}

impl fmt::Display for Simd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Simd {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        SIMD_LEVELS
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| format!("unknown SIMD level {s:?} (expected portable, avx2 or avx512)"))
    }
}

thread_local! {
    /// The level of the pool this thread works in: set once when a pool's
    /// worker starts (`super::pool`), `None` outside any such pool.
    static LEVEL: Cell<Option<Simd>> = const { Cell::new(None) };
}

/// The level code on this thread uses: its pool's, else the machine's.
pub fn simd() -> Simd {
    LEVEL.get().unwrap_or_else(Simd::detected)
}

/// Makes `level` (at most the machine's) this thread's: called on each
/// worker of a pool as it starts.
pub(super) fn set_thread_level(level: Simd) {
    LEVEL.set(Some(level.min(Simd::detected())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_levels_are_ordered() {
        for l in SIMD_LEVELS {
            assert_eq!(l.name().parse::<Simd>(), Ok(l));
            assert_eq!(l.to_string(), l.name());
        }
        assert!(Simd::Portable < Simd::Avx2 && Simd::Avx2 < Simd::Avx512);
        let err = "sse9".parse::<Simd>().unwrap_err();
        assert!(err.contains("sse9") && err.contains("avx2"), "{err}");
        assert!(Simd::Portable.runs_here());
        assert!(Simd::detected().runs_here());
    }
}
