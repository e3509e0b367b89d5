//! The flags that say where a training command computes: `--threads`
//! and `--simd` (`gradscope::tensor::Compute`).

use gradscope::tensor::{default_threads, Compute, Simd};

/// `--threads` and `--simd`, shared by `train` and `demo`.
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub struct ComputeArgs {
    /// Threads of the run's thread pool: matrix products, element-wise
    /// layers and the probe's statistics (default: the machine's cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// The widest SIMD instruction set gradscope's own code uses:
    /// `avx512`, `avx2` (with FMA) or `portable` (default: the machine's
    /// widest). A lower level runs what a machine without the wider set
    /// runs: the same results up to rounding (below `avx512` dense
    /// products run on the `gemm` crate, which picks its own instructions).
    #[arg(long, value_name = "LEVEL")]
    pub simd: Option<Simd>,
}

impl ComputeArgs {
    /// The pool to train in; a level this machine lacks is refused.
    pub fn resolve(&self) -> anyhow::Result<Compute> {
        if self.threads == Some(0) {
            anyhow::bail!("--threads must be at least 1");
        }
        let compute = Compute::threads(self.threads.unwrap_or_else(default_threads));
        Ok(compute.at(simd_level(self.simd)?))
    }
}

/// `level`, or the machine's widest when `None`; a level the machine
/// lacks is refused with the one it has.
pub fn simd_level(level: Option<Simd>) -> anyhow::Result<Simd> {
    let here = Simd::detected();
    match level {
        None => Ok(here),
        Some(l) if l.runs_here() => Ok(l),
        Some(l) => anyhow::bail!("--simd {l}: this machine's widest SIMD level is {here}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_above_the_machines_is_refused_and_none_is_the_machines() {
        assert_eq!(simd_level(None).unwrap(), Simd::detected());
        assert_eq!(simd_level(Some(Simd::Portable)).unwrap(), Simd::Portable);
        let args = ComputeArgs {
            threads: Some(3),
            simd: Some(Simd::Portable),
        };
        let c = args.resolve().unwrap();
        assert_eq!((c.threads, c.simd), (3, Simd::Portable));
        // Regression (issue 18): `bench --threads 0` was refused while
        // `train --threads 0` was accepted.
        let zero = ComputeArgs {
            threads: Some(0),
            simd: None,
        };
        assert!(zero
            .resolve()
            .unwrap_err()
            .to_string()
            .contains("--threads"));
        if Simd::detected() < Simd::Avx512 {
            let err = simd_level(Some(Simd::Avx512)).unwrap_err().to_string();
            assert!(err.contains("--simd avx512"), "{err}");
        }
    }
}
