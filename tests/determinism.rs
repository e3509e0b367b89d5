//! Same seed, same machine: bitwise identical parameters after N steps,
//! run against itself at one and at two threads, and one thread against
//! two, for SGD and Adam, with and without BatchNorm, in f32 and f64.
//!
//! # Where the code promises the same bits on 1 and 2 threads
//! Parameters after training. Every value a step computes is computed by
//! one thread in the same order whatever the pool's size:
//! - our f32 kernel (AVX-512) computes each entry of a product as one chain
//!   of FMAs over `k`; threads take whole tiles (and halves of the columns
//!   of its transposed copy, an exact copy);
//! - the `gemm` crate (f64 everywhere, f32 without AVX-512) shares out
//!   tiles of the product among threads and cuts `k` into blocks by cache
//!   size alone, never by thread count (gemm-common 0.19,
//!   `gemm_basic_generic`), so it does not split `k` across threads on any
//!   machine;
//! - activations split by rows, BatchNorm its sums by features and its
//!   per-entry passes by rows, SGD and clearing gradients one parameter
//!   per task (Adam runs on one thread): no value is summed across a cut.
//!
//! # Where it does not
//! Probe statistics (not checked here): a tapped pass measures row blocks
//! and adds up their f64 sums (`sum`, `sum_sq`) left to right on one
//! thread, but as the totals of two halves on two threads, which can round
//! differently in the last bits (`tests/taps.rs` checks such figures within
//! a tolerance). They go to the store; no later step reads them, so
//! training is unaffected. And across machines: an AVX-512 machine and one
//! without run different kernels (our kernel against the `gemm` crate's),
//! so their f32 bits differ; the promise is per machine.

use gradscope::nn::{Activation, Loss, Mode, ModelConfig, Norm, NormPlacement, Targets};
use gradscope::optim::OptimizerConfig;
use gradscope::tensor::{threads_for, with_threads, Init, Matrix, Scalar, PARALLEL_MIN_FLOP};

/// Shapes large enough that two threads split every product (above
/// `PARALLEL_MIN_FLOP`), every activation and BatchNorm pass (16,384
/// entries) and the parameter passes (65,536 entries in all).
const BATCH: usize = 128;
const INPUT: usize = 300;
const WIDTH: usize = 256;
const _: () = assert!(2 * BATCH * WIDTH * WIDTH >= PARALLEL_MIN_FLOP);
const _: () = assert!(BATCH * WIDTH >= 1 << 14 && WIDTH * WIDTH >= 1 << 16);

fn batch<T: Scalar>() -> (Matrix<T>, Vec<usize>) {
    let x = (0..BATCH * INPUT)
        .map(|i| T::cast(((i * 7919) % 255) as f64 / 255.0))
        .collect();
    let labels = (0..BATCH).map(|i| (i * 31) % 10).collect();
    (Matrix::from_vec(BATCH, INPUT, x).unwrap(), labels)
}

/// The bits of every parameter after `steps` steps in a pool of `threads`.
fn train<T: Scalar>(cfg: &ModelConfig, optimizer: &str, steps: usize, threads: usize) -> Vec<u64> {
    with_threads(threads, || {
        assert_eq!(threads_for(BATCH, WIDTH, WIDTH), threads, "products split");
        let mut mlp = cfg.build::<T>(42).unwrap();
        let mut opt = OptimizerConfig::from_name(optimizer).unwrap().build::<T>();
        let (x, labels) = batch::<T>();
        let mut grad = Matrix::default();
        for _ in 0..steps {
            mlp.zero_grad();
            let out = mlp.forward(&x, Mode::Train);
            Loss::CrossEntropy.compute(out, Targets::Classes(&labels), &mut grad);
            mlp.backward(&x, &grad);
            opt.step(&mut mlp.params(), 0.01);
        }
        mlp.params()
            .iter()
            .flat_map(|p| {
                p.param
                    .value
                    .as_slice()
                    .iter()
                    .map(|v| v.as_f64().to_bits())
            })
            .collect()
    })
}

fn configs() -> [(ModelConfig, &'static str); 2] {
    let plain = ModelConfig::new(INPUT, 10)
        .depth(4, WIDTH)
        .activation(Activation::Tanh)
        .init(Init::XavierUniform { gain: 1.0 });
    let bn = plain.clone().norm(Norm::Batch, NormPlacement::Before);
    [(plain, "sgd"), (bn, "adam")]
}

#[test]
fn same_seed_gives_bitwise_identical_parameters() {
    for threads in [1, 2] {
        for (cfg, opt) in &configs() {
            let a = train::<f32>(cfg, opt, 5, threads);
            let b = train::<f32>(cfg, opt, 5, threads);
            assert_eq!(a, b, "{opt} at {threads} threads");
        }
    }
}

/// f32: our kernel on AVX-512 machines, the `gemm` crate elsewhere.
#[test]
fn one_and_two_threads_give_bitwise_identical_parameters_in_f32() {
    for (cfg, opt) in &configs() {
        let one = train::<f32>(cfg, opt, 5, 1);
        assert_eq!(one, train::<f32>(cfg, opt, 5, 2), "{opt}");
    }
}

/// f64: the `gemm` crate's path on every machine.
#[test]
fn one_and_two_threads_give_bitwise_identical_parameters_in_f64() {
    for (cfg, opt) in &configs() {
        let one = train::<f64>(cfg, opt, 3, 1);
        assert_eq!(one, train::<f64>(cfg, opt, 3, 2), "{opt}");
    }
}
