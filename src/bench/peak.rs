//! The FMA peak of one core, measured: a loop of independent fused
//! multiply-adds on register-resident 8-lane f32 vectors, long enough to
//! hide the FMA latency (12 accumulators for 4-cycle latency on 2 pipes),
//! counted as 2 flop per lane per FMA.
//!
//! On Zen 4 the 256-bit loop is the core's peak: its 512-bit FMAs are split
//! over the same two 256-bit pipes, so AVX-512 doubles neither the pipes
//! nor the flop per cycle (32 f32 flop/cycle either way).

use serde::Serialize;
use std::time::{Duration, Instant};

/// A measured peak.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Peak {
    /// GFLOP/s of the FMA loop on one core.
    pub gflop_per_s: f64,
    /// The instruction set the loop used (`avx2+fma` or `scalar`).
    pub isa: &'static str,
}

const ACCUMULATORS: usize = 12;
const LANES: usize = 8;
/// FMAs of one call of the kernel: `ACCUMULATORS x INNER`.
const INNER: usize = 4096;

/// Measures one core's FMA throughput for about `duration` (best of
/// several slices, so a preempted slice does not lower it).
pub fn fma_peak(duration: Duration) -> Peak {
    let (kernel, isa) = kernel();
    // Warm up: bring the core to its clock and the kernel into the cache.
    kernel(INNER);
    let mut best = 0.0f64;
    let slices = 5;
    let per_slice = duration / slices;
    for _ in 0..slices {
        let t0 = Instant::now();
        let mut calls = 0usize;
        while t0.elapsed() < per_slice {
            std::hint::black_box(kernel(INNER));
            calls += 1;
        }
        let secs = t0.elapsed().as_secs_f64();
        let flop = (calls * INNER * ACCUMULATORS * LANES * 2) as f64;
        best = best.max(flop / secs / 1e9);
    }
    Peak {
        gflop_per_s: best,
        isa,
    }
}

type Kernel = fn(usize) -> f32;

#[cfg(target_arch = "x86_64")]
fn kernel() -> (Kernel, &'static str) {
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the features the kernel is compiled for were detected.
        (|n| unsafe { fma_avx2(n) }, "avx2+fma")
    } else {
        (fma_scalar, "scalar")
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn kernel() -> (Kernel, &'static str) {
    (fma_scalar, "scalar")
}

/// `n` rounds of 12 independent 8-lane FMAs `acc = acc * a + b`, which
/// converges to `b / (1 - a)` (no overflow, no subnormals).
///
/// # Safety
/// The machine must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_avx2(n: usize) -> f32 {
    use std::arch::x86_64::*;
    let a = _mm256_set1_ps(std::hint::black_box(0.999_9));
    let b = _mm256_set1_ps(std::hint::black_box(1e-4));
    let mut acc = [_mm256_setzero_ps(); ACCUMULATORS];
    for (i, v) in acc.iter_mut().enumerate() {
        *v = _mm256_set1_ps(i as f32);
    }
    for _ in 0..n {
        for v in acc.iter_mut() {
            *v = _mm256_fmadd_ps(*v, a, b);
        }
    }
    let mut sum = _mm256_setzero_ps();
    for v in acc {
        sum = _mm256_add_ps(sum, v);
    }
    let mut lanes = [0.0f32; LANES];
    // SAFETY: an unaligned store of 8 f32 into `lanes`, `LANES` = 8 long.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    lanes.iter().sum()
}

/// The portable fallback: the same recurrence with `mul_add` on arrays.
fn fma_scalar(n: usize) -> f32 {
    let a = std::hint::black_box(0.999_9f32);
    let b = std::hint::black_box(1e-4f32);
    let mut acc = [[0.0f32; LANES]; ACCUMULATORS];
    for (i, v) in acc.iter_mut().enumerate() {
        v.fill(i as f32);
    }
    for _ in 0..n {
        for v in acc.iter_mut() {
            for x in v.iter_mut() {
                *x = x.mul_add(a, b);
            }
        }
    }
    acc.iter().flatten().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_computes_the_recurrence() {
        // acc_k = a^k acc_0 + b (1 - a^k) / (1 - a), summed over 12 x 8 lanes
        let (kernel, _) = kernel();
        let got = kernel(3) as f64;
        let (a, b) = (0.999_9f32 as f64, 1e-4f32 as f64);
        let a3 = a * a * a;
        let want: f64 = (0..ACCUMULATORS)
            .map(|i| LANES as f64 * (a3 * i as f64 + b * (1.0 - a3) / (1.0 - a)))
            .sum();
        assert!((got - want).abs() < 1e-3 * want, "{got} vs {want}");
    }

    #[test]
    fn a_short_measurement_is_positive() {
        let p = fma_peak(Duration::from_millis(20));
        assert!(p.gflop_per_s > 0.0 && p.gflop_per_s.is_finite());
    }
}
