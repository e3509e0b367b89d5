//! Speed measurement: training steps per second on the benchmark workloads
//! (an MLP, a CNN, a recurrent layer), one core's FMA peak, and the GEMM
//! backends on our shapes. Returns plain data; the CLI (`gradscope bench`)
//! prints it and runs PyTorch beside it. Nothing here asserts on time:
//! these are measurements.

mod backends;
mod conv;
mod peak;
mod probe_cost;
mod recurrent;
pub mod serve_load;
mod workload;

pub use backends::{backend_name, compare_backends, kernel_name, GemmTiming, Product, BACKENDS};
pub use conv::ConvWorkload;
pub use peak::{fma_peak, Peak};
pub use probe_cost::{probe_cost, ProbeCost, Timed};
pub use recurrent::{RecurrentBench, RecurrentWorkload};
pub use workload::{TrainingBench, Trains, Workload, INPUT, LR, OUTPUT};

/// The median of `values` (the mean of the middle two for an even count;
/// NaN when empty).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        0.5 * (v[mid - 1] + v[mid])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
