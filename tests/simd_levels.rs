//! The same training at every SIMD level this machine runs (`portable`,
//! `avx2`, `avx512`; `tensor::simd`): what a machine without AVX-512, or
//! without AVX2, computes. A dense net with BatchNorm, a small residual
//! CNN and an LSTM each train a few steps per level; their losses must
//! agree step by step (the levels differ only in rounding: which GEMM
//! sums the products, and the order of a few reductions) and fall.
//!
//! Also checked: each level's pool really runs its level (a pass that
//! reads it sees it), so forcing the portable fallback tests it.

use gradscope::experiment::trainer::NullSink;
use gradscope::experiment::{RunRecord, Spec};
use gradscope::run::run_recorded;
use gradscope::tensor::{simd, Compute, Simd, SIMD_LEVELS};

mod support;
use support::skip;

/// The levels this machine runs, narrowest first.
fn levels() -> Vec<Simd> {
    let here: Vec<Simd> = SIMD_LEVELS.into_iter().filter(|l| l.runs_here()).collect();
    for l in SIMD_LEVELS.into_iter().filter(|l| !l.runs_here()) {
        // Counted as skipped in the test output (`support::skip`); the
        // narrower levels, portable always among them, still run.
        skip(&format!("the {l} level: this machine lacks it"));
    }
    here
}

fn train_at(toml: &str, level: Simd) -> RunRecord {
    let spec = Spec::from_toml(toml, "test").unwrap();
    let data = spec.prepare_data().unwrap();
    let compute = Compute::threads(2).at(level);
    let out = run_recorded(&spec, &data, None, compute, &mut NullSink).unwrap();
    out.result.unwrap();
    out.record
}

/// Trains `toml` at every level; the losses agree within `tol`
/// (relative) at every step, and the last tenth's mean is below the
/// first tenth's.
fn agrees_across_levels(what: &str, toml: &str, tol: f64) {
    let levels = levels();
    let runs: Vec<(Simd, Vec<f64>)> = levels
        .iter()
        .map(|&l| (l, train_at(toml, l).steps.iter().map(|s| s.loss).collect()))
        .collect();
    let (first_level, reference) = &runs[0];
    let n = reference.len();
    let tenth = (n / 10).max(1);
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    for (level, losses) in &runs {
        assert_eq!(losses.len(), n, "{what} at {level}: steps");
        let (start, end) = (mean(&losses[..tenth]), mean(&losses[n - tenth..]));
        assert!(end < start, "{what} at {level}: loss {start} -> {end}");
        for (step, (a, b)) in losses.iter().zip(reference).enumerate() {
            assert!(
                (a - b).abs() <= tol * b.abs().max(1e-3),
                "{what}: step {step}: {a} at {level}, {b} at {first_level}"
            );
        }
    }
}

#[test]
fn each_pool_runs_its_level() {
    for level in levels() {
        let seen = Compute::threads(2).at(level).install(|| {
            let (a, b) = rayon::join(simd, simd);
            [a, b]
        });
        assert_eq!(seen, [level, level]);
    }
}

#[test]
fn a_dense_net_with_batch_norm_trains_alike_at_every_level() {
    agrees_across_levels(
        "mlp",
        "steps = 40\nbatch = 64\nseed = 3\n[data]\ntrain_size = 512\ntest_size = 64\n\
         [model]\ndepth = 4\nwidth = 64\nactivation = \"sigmoid\"\nnorm = \"batch\"\n\
         [optimizer]\nname = \"adam\"\nlr = 0.003\n",
        1e-3,
    );
}

#[test]
fn a_residual_cnn_trains_alike_at_every_level() {
    agrees_across_levels(
        "cnn",
        "steps = 12\nbatch = 16\nseed = 1\neval_train_size = 64\n[data]\ntrain_size = 256\n\
         test_size = 64\n[model]\nkind = \"cnn\"\nchannels = [4, 8]\nn = 1\nnorm = \"batch\"\n\
         [optimizer]\nname = \"momentum\"\nlr = 0.05\n",
        1e-3,
    );
}

#[test]
fn an_lstm_trains_alike_at_every_level() {
    agrees_across_levels(
        "lstm",
        "steps = 40\nbatch = 32\nseed = 1\n[data]\nname = \"adding\"\nlength = 20\n\
         [model]\nkind = \"lstm\"\nhidden = 32\n[optimizer]\nname = \"adam\"\nlr = 0.01\n",
        1e-3,
    );
}
