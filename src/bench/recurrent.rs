//! The recurrent training workload the benchmark times, identical to
//! `scripts/torch_rnn_bench.py`: one recurrent layer (LSTM, GRU or tanh
//! RNN) of `hidden` units over `T` steps of `input` features, a linear
//! read-out of 10 classes at the last step, softmax cross-entropy, plain
//! SGD (lr 0.01), full BPTT, f32, one fixed synthetic batch (inputs uniform
//! in `[-1, 1)`, labels uniform in `0..10`, fixed seed).
//!
//! FLOP count, as the torch script counts it: per time step, the gates'
//! two products (`x W_ih^T`, `h W_hh^T`) forward, both weight gradients
//! and `dL/dh_{t-1}` backward (not `dL/dx_t`: the inputs need no
//! gradient, and neither side computes it): `2 batch G H (2D + 3H)` flop,
//! plus the read-out's `6 batch H O` once, where `G` is the cell's gates.
//! The element-wise gate arithmetic is not counted.

use crate::error::Result;
use crate::nn::recurrent::{CellKind, RecurrentInit, RnnConfig, RnnModel};
use crate::nn::{Loss, Targets};
use crate::optim::{Optimizer, OptimizerConfig};
use crate::probe::{ProbeConfig, Prober};
use crate::tensor::{Compute, Grads, Matrix};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

use super::workload::{LR, OUTPUT};

/// One recurrent benchmark shape.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RecurrentWorkload {
    /// The cell.
    pub cell: CellKind,
    /// Inputs per time step `D`.
    pub input: usize,
    /// Hidden units `H`.
    pub hidden: usize,
    /// Time steps `T` (a sequence's length).
    pub length: usize,
    /// Sequences per batch.
    pub batch: usize,
}

impl RecurrentWorkload {
    /// The shape: input 32, hidden 128, `T` = 100, batch 32.
    pub fn new(cell: CellKind) -> Self {
        Self {
            cell,
            input: 32,
            hidden: 128,
            length: 100,
            batch: 32,
        }
    }

    /// GFLOP per training step (see the module doc).
    pub fn gflop_per_step(&self) -> f64 {
        let g = self.cell.gates();
        let per_t = 2 * self.batch * g * self.hidden * (2 * self.input + 3 * self.hidden);
        (self.length * per_t + 6 * self.batch * self.hidden * OUTPUT) as f64 / 1e9
    }

    fn config(&self) -> RnnConfig {
        RnnConfig {
            kind: self.cell,
            input: self.input,
            hidden: self.hidden,
            layers: 1,
            outputs: OUTPUT,
            every_step: false,
            init: RecurrentInit::Uniform,
            forget_bias: 0.0,
            truncation: None,
        }
    }
}

/// A recurrent model, its optimizer and one fixed batch, allocated once;
/// the recurrent counterpart of [`super::TrainingBench`].
pub struct RecurrentBench {
    pool: Arc<rayon::ThreadPool>,
    model: RnnModel<f32>,
    opt: Box<dyn Optimizer<f32>>,
    xs: Vec<Matrix<f32>>,
    labels: Vec<usize>,
    grad: Matrix<f32>,
    last_loss: f64,
    prober: Option<Prober<f32>>,
    step: usize,
}

impl RecurrentBench {
    /// Builds the workload's model and batch from `seed`, to train in a
    /// pool of `compute`'s threads at its SIMD level.
    ///
    /// # Panics
    /// When the thread pool cannot be created.
    pub fn new(workload: &RecurrentWorkload, compute: Compute, seed: u64) -> Result<Self> {
        let pool = compute.pool();
        let model = workload.config().build::<f32>(seed);
        let opt = OptimizerConfig::from_name("sgd")?.build::<f32>();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        let xs = (0..workload.length)
            .map(|_| {
                let data = (0..workload.batch * workload.input)
                    .map(|_| rng.gen_range(-1.0f32..1.0))
                    .collect();
                Matrix::from_vec(workload.batch, workload.input, data)
            })
            .collect::<Result<_>>()?;
        let labels = (0..workload.batch)
            .map(|_| rng.gen_range(0..OUTPUT))
            .collect();
        Ok(Self {
            pool: Arc::new(pool),
            model,
            opt,
            xs,
            labels,
            grad: Matrix::default(),
            last_loss: f64::NAN,
            prober: None,
            step: 0,
        })
    }

    /// Probes every step as `config` says, as the trainer does (`None`:
    /// no probes).
    pub fn set_probes(&mut self, config: Option<ProbeConfig>) {
        self.prober = config.map(Prober::new);
    }

    /// One training step: forward over the sequence, loss, BPTT writing the
    /// gradients over the last step's, SGD, with the trainer's probe calls
    /// when probes are set.
    pub fn step(&mut self) {
        let step = self.step;
        if let Some(p) = &self.prober {
            p.arm(step, self.model.blocks_mut());
        }
        let out = self.model.forward(&self.xs);
        self.last_loss =
            Loss::CrossEntropy.compute(out, Targets::Classes(&self.labels), &mut self.grad);
        self.model.backward(&self.xs, &self.grad, Grads::Overwrite);
        self.step += 1;
        let mut probe = match &mut self.prober {
            Some(p) if p.tap_at(step).is_on() => Some(p.observe(step, &self.model.blocks())),
            _ => None,
        };
        self.opt.step(&mut self.model.params(), LR);
        if let (Some(p), Some(probe)) = (&mut self.prober, &mut probe) {
            p.finish(&self.model.blocks(), probe);
            std::hint::black_box(probe);
        }
    }

    /// Runs `steps` steps in the bench's pool; returns steps per second.
    pub fn time(&mut self, steps: usize) -> f64 {
        let pool = Arc::clone(&self.pool);
        pool.install(|| {
            let t0 = Instant::now();
            for _ in 0..steps {
                self.step();
            }
            steps as f64 / t0.elapsed().as_secs_f64()
        })
    }

    /// The loss of the last step (NaN before the first).
    pub fn last_loss(&self) -> f64 {
        self.last_loss
    }
}

impl super::Timed for RecurrentBench {
    fn set_probes(&mut self, config: Option<ProbeConfig>) {
        RecurrentBench::set_probes(self, config);
    }

    fn time(&mut self, steps: usize) -> f64 {
        RecurrentBench::time(self, steps)
    }

    fn last_loss(&self) -> f64 {
        RecurrentBench::last_loss(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flop_formula_matches_the_torch_script() {
        // torch_rnn_bench.py: 2*b*T*G*H*(2D+3H) + 6*b*H*O
        let w = RecurrentWorkload::new(CellKind::Lstm);
        assert_eq!(
            w.gflop_per_step(),
            (2.0 * 32.0 * 100.0 * 4.0 * 128.0 * 448.0 + 6.0 * 32.0 * 1280.0) / 1e9
        );
        assert!((w.gflop_per_step() - 1.4683).abs() < 1e-4);
        let gru = RecurrentWorkload::new(CellKind::Gru).gflop_per_step();
        assert!((gru / w.gflop_per_step() - 0.75).abs() < 1e-3);
    }

    #[test]
    fn a_short_run_lowers_the_loss_on_its_fixed_batch() {
        let w = RecurrentWorkload {
            length: 5,
            ..RecurrentWorkload::new(CellKind::Gru)
        };
        let mut b = RecurrentBench::new(&w, Compute::threads(1), 0).unwrap();
        b.time(1);
        let first = b.last_loss();
        let rate = b.time(30);
        assert!(rate > 0.0 && rate.is_finite());
        assert!(b.last_loss() < first, "{} -> {}", first, b.last_loss());
    }
}
