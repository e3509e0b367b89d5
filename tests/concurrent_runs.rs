//! Two trainings at once in one process, as a sweep or a server will run
//! them: one on an OS thread inside a 1-thread pool, one on another inside
//! a 2-thread pool (`with_threads`). Each must see its own pool's thread
//! count at every step and end with, bit for bit, the parameters it gives
//! when it runs alone. (With a process-wide thread setting, one run would
//! read the other's count.)
//!
//! The net is large enough that the 2-thread pool really splits its work:
//! width 256 and batch 128 put every product above `PARALLEL_MIN_FLOP` and
//! every activation and BatchNorm pass above its 16,384-entry threshold.

use gradscope::nn::{Activation, Loss, Mode, ModelConfig, Norm, NormPlacement, Targets};
use gradscope::optim::OptimizerConfig;
use gradscope::tensor::{max_threads, threads_for, with_threads, Matrix, PARALLEL_MIN_FLOP};
use std::sync::Barrier;

const BATCH: usize = 128;
const INPUT: usize = 64;
const WIDTH: usize = 256;
const STEPS: usize = 4;
const _: () = assert!(2 * BATCH * WIDTH * WIDTH >= PARALLEL_MIN_FLOP && BATCH * WIDTH >= 1 << 14);

/// One run: its model seed and optimizer.
struct Run {
    seed: u64,
    optimizer: &'static str,
}

/// What a run ends with: the bits of every parameter, and the thread count
/// it read at each step.
struct Outcome {
    params: Vec<u32>,
    threads_seen: Vec<usize>,
}

fn config() -> ModelConfig {
    ModelConfig::new(INPUT, 10)
        .depth(3, WIDTH)
        .activation(Activation::Tanh)
        .norm(Norm::Batch, NormPlacement::Before)
}

/// Trains `run` for [`STEPS`] steps in a pool of `threads`; with `meet`,
/// waits there before every step, so two runs started together step in
/// lockstep.
fn train(run: &Run, threads: usize, meet: Option<&Barrier>) -> Outcome {
    with_threads(threads, || {
        let mut mlp = config().build::<f32>(run.seed).unwrap();
        let mut opt = OptimizerConfig::from_name(run.optimizer)
            .unwrap()
            .build::<f32>();
        let x = Matrix::from_vec(
            BATCH,
            INPUT,
            (0..BATCH * INPUT)
                .map(|i| ((i as u64 * 7919 + run.seed) % 255) as f32 / 127.0 - 1.0)
                .collect(),
        )
        .unwrap();
        let labels: Vec<usize> = (0..BATCH).map(|i| (i * 31) % 10).collect();
        let mut grad = Matrix::default();
        let mut threads_seen = Vec::new();
        for _ in 0..STEPS {
            if let Some(meet) = meet {
                meet.wait();
            }
            threads_seen.push(max_threads());
            let out = mlp.forward(&x, Mode::Train);
            Loss::CrossEntropy.compute(out, Targets::Classes(&labels), &mut grad);
            mlp.backward_overwrite(&x, &grad);
            opt.step(&mut mlp.params(), 0.05);
            threads_seen.push(threads_for(BATCH, WIDTH, WIDTH));
        }
        let params = mlp
            .params()
            .iter()
            .flat_map(|p| p.param.value.as_slice().iter().map(|v| v.to_bits()))
            .collect();
        Outcome {
            params,
            threads_seen,
        }
    })
}

/// `got` equals `want`: the same thread counts, and the same bits in every
/// parameter (naming the first that differs, not printing them all).
fn assert_same(got: &Outcome, want: &Outcome, what: &str) {
    assert_eq!(got.threads_seen, want.threads_seen, "{what}: threads seen");
    assert_eq!(got.params.len(), want.params.len(), "{what}");
    let first = got
        .params
        .iter()
        .zip(&want.params)
        .position(|(a, b)| a != b);
    assert_eq!(first, None, "{what}: first parameter entry that differs");
}

#[test]
fn two_runs_at_once_in_pools_of_one_and_two_threads_train_as_each_alone() {
    let sgd = Run {
        seed: 3,
        optimizer: "sgd",
    };
    let adam = Run {
        seed: 4,
        optimizer: "adam",
    };
    let alone_one = train(&sgd, 1, None);
    let alone_two = train(&adam, 2, None);
    assert_eq!(alone_one.threads_seen, [1; 2 * STEPS]);
    assert_eq!(alone_two.threads_seen, [2; 2 * STEPS]);

    let meet = Barrier::new(2);
    let (together_one, together_two) = std::thread::scope(|s| {
        let one = s.spawn(|| train(&sgd, 1, Some(&meet)));
        let two = s.spawn(|| train(&adam, 2, Some(&meet)));
        (one.join().unwrap(), two.join().unwrap())
    });
    assert_same(&together_one, &alone_one, "the run in the 1-thread pool");
    assert_same(&together_two, &alone_two, "the run in the 2-thread pool");
    // And the two runs did train differently (the comparison means
    // something).
    assert_ne!(alone_one.params, alone_two.params);
}
