//! The training workloads the benchmark times, and [`TrainingBench`],
//! which trains any of them: a [`Trains`] says which network (an MLP or a
//! CNN, both an [`Mlp`] of blocks), which optimizer, the batch and the
//! FLOP count; the bench builds it, draws one fixed synthetic batch of
//! `INPUT` features (a 1 x 28 x 28 image for a CNN), and times steps.
//!
//! The MLP workload, [`Workload`], is identical to `scripts/torch_mlp.py`:
//! input 784, `depth` hidden layers of `width` units, 10 outputs, softmax
//! cross-entropy, plain SGD (lr 0.01), f32, one fixed synthetic batch
//! (inputs uniform in `[0, 1)`, labels uniform in `0..10`, fixed seed).
//! The CNN workload is [`super::ConvWorkload`].
//!
//! FLOP count of the MLP, as the torch script counts it: every linear
//! layer does three GEMMs per step (forward, weight gradient, input
//! gradient) of `batch x MACs` multiply-adds, 2 flop each, so
//! `GFLOP/step = 6 batch MACs / 1e9` with
//! `MACs = 784 W + (D - 1) W^2 + 10 W`.

use crate::error::Result;
use crate::nn::{Activation, Loss, Mlp, Mode, ModelConfig, Norm, NormPlacement, Targets};
use crate::optim::{Optimizer, OptimizerConfig};
use crate::probe::{ProbeConfig, Prober};
use crate::tensor::{Compute, Init, Matrix, Scalar};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// Input features (MNIST's 28 x 28).
pub const INPUT: usize = 784;
/// Output classes.
pub const OUTPUT: usize = 10;
/// The SGD learning rate.
pub const LR: f64 = 0.01;

/// One benchmark shape.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Workload {
    /// Hidden layers.
    pub depth: usize,
    /// Units per hidden layer.
    pub width: usize,
    /// Rows per batch.
    pub batch: usize,
    /// Hidden activation.
    #[serde(serialize_with = "as_display")]
    pub activation: Activation,
    /// Normalization in each hidden layer.
    pub norm: Norm,
}

fn as_display<S: serde::Serializer>(a: &Activation, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(a)
}

impl Workload {
    /// A sigmoid MLP without normalization.
    pub fn new(depth: usize, width: usize, batch: usize) -> Self {
        Self {
            depth,
            width,
            batch,
            activation: Activation::Sigmoid,
            norm: Norm::None,
        }
    }

    /// The shapes the issue asks for: (3, 100, 60), (10, 256, 128),
    /// (50, 256, 128), (20, 1000, 64), and (10, 256, 128) with BatchNorm.
    pub fn table() -> Vec<Self> {
        vec![
            Self::new(3, 100, 60),
            Self::new(10, 256, 128),
            Self::new(50, 256, 128),
            Self::new(20, 1000, 64),
            Self {
                norm: Norm::Batch,
                ..Self::new(10, 256, 128)
            },
        ]
    }

    /// Multiply-adds per example in the linear layers (forward only).
    ///
    /// # Panics
    /// When `depth` is 0 (the torch script's formula needs a hidden layer).
    pub fn macs(&self) -> usize {
        assert!(self.depth >= 1, "the benchmark needs a hidden layer");
        INPUT * self.width + (self.depth - 1) * self.width * self.width + self.width * OUTPUT
    }

    /// GEMM GFLOP per training step: `6 batch MACs / 1e9`.
    pub fn gflop_per_step(&self) -> f64 {
        6.0 * self.batch as f64 * self.macs() as f64 / 1e9
    }

    /// The model config (torch's default `nn.Linear` init: standard uniform).
    pub fn mlp_config(&self) -> ModelConfig {
        ModelConfig::new(INPUT, OUTPUT)
            .depth(self.depth, self.width)
            .activation(self.activation)
            .norm(self.norm, NormPlacement::Before)
            .init(Init::Standard)
    }
}

/// What a [`TrainingBench`] trains: a network, its optimizer, the batch.
pub trait Trains {
    /// The network (its `input` is [`INPUT`], its `output` [`OUTPUT`]).
    fn model_config(&self) -> ModelConfig;
    /// The optimizer (stepped with [`LR`]).
    fn optimizer(&self) -> OptimizerConfig;
    /// Examples per batch.
    fn batch(&self) -> usize;
    /// GEMM GFLOP per training step, as the matching torch script counts.
    fn gflop_per_step(&self) -> f64;
}

impl Trains for Workload {
    fn model_config(&self) -> ModelConfig {
        self.mlp_config()
    }

    /// Plain SGD.
    fn optimizer(&self) -> OptimizerConfig {
        OptimizerConfig::default()
    }

    fn batch(&self) -> usize {
        self.batch
    }

    fn gflop_per_step(&self) -> f64 {
        Workload::gflop_per_step(self)
    }
}

/// A model, its optimizer and one fixed batch: everything a timed step
/// touches, allocated once.
///
/// [`Self::time`] runs the steps inside the bench's rayon pool of
/// `threads` threads: the pool's size is the thread count the step's code
/// reads (`tensor::max_threads`), and the thread that drives the step is
/// one of the GEMM's workers (calling from outside a pool would park it
/// and wake two others for every product).
pub struct TrainingBench<T: Scalar = f32> {
    pool: Arc<rayon::ThreadPool>,
    mlp: Mlp<T>,
    opt: Box<dyn Optimizer<T>>,
    x: Matrix<T>,
    labels: Vec<usize>,
    grad: Matrix<T>,
    last_loss: f64,
    prober: Option<Prober<T>>,
    step: usize,
}

impl<T: Scalar> TrainingBench<T> {
    /// Builds the workload's model and batch from `seed`, to train in a
    /// pool of `compute`'s threads at its SIMD level.
    ///
    /// # Panics
    /// When the thread pool cannot be created.
    pub fn new(workload: &impl Trains, compute: Compute, seed: u64) -> Result<Self> {
        let pool = Arc::new(compute.pool());
        let mlp = workload.model_config().build::<T>(seed)?;
        let opt = workload.optimizer().build::<T>();
        let batch = workload.batch();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        // The same values in f32 and f64 (each f32 widens exactly).
        let data = (0..batch * INPUT)
            .map(|_| T::cast(rng.gen::<f32>() as f64))
            .collect();
        let x = Matrix::from_vec(batch, INPUT, data)?;
        let labels = (0..batch).map(|_| rng.gen_range(0..OUTPUT)).collect();
        Ok(Self {
            pool,
            mlp,
            opt,
            x,
            labels,
            grad: Matrix::default(),
            last_loss: f64::NAN,
            prober: None,
            step: 0,
        })
    }

    /// Probes every step as `config` says, as the trainer does (`None`:
    /// no probes), to measure what recording costs.
    pub fn set_probes(&mut self, config: Option<ProbeConfig>) {
        self.prober = config.map(Prober::new);
    }

    /// One training step: forward, loss, backward writing the gradients over
    /// the last step's (`Mlp::backward_overwrite`, no zeroing pass), SGD,
    /// with the trainer's probe calls when probes are set. It runs on the
    /// calling thread, with the threads of the caller's pool;
    /// [`Self::time`] runs steps in the bench's own pool.
    pub fn step(&mut self) {
        let step = self.step;
        if let Some(p) = &self.prober {
            p.arm(step, self.mlp.blocks_mut());
        }
        let out = self.mlp.forward(&self.x, Mode::Train);
        self.last_loss =
            Loss::CrossEntropy.compute(out, Targets::Classes(&self.labels), &mut self.grad);
        self.mlp.backward_overwrite(&self.x, &self.grad);
        self.step += 1;
        let mut probe = match &mut self.prober {
            Some(p) if p.tap_at(step).is_on() => Some(p.observe(step, &self.mlp.blocks())),
            _ => None,
        };
        self.opt.step(&mut self.mlp.params(), LR);
        if let (Some(p), Some(probe)) = (&mut self.prober, &mut probe) {
            p.finish(&self.mlp.blocks(), probe);
            std::hint::black_box(probe);
        }
    }

    /// Runs `steps` steps in the bench's pool (products and passes on up
    /// to its `threads` threads); returns steps per second.
    pub fn time(&mut self, steps: usize) -> f64 {
        // A second handle, so the steps can borrow `self` mutably.
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

impl<T: Scalar> super::Timed for TrainingBench<T> {
    fn set_probes(&mut self, config: Option<ProbeConfig>) {
        TrainingBench::set_probes(self, config);
    }

    fn time(&mut self, steps: usize) -> f64 {
        TrainingBench::time(self, steps)
    }

    fn last_loss(&self) -> f64 {
        self.last_loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flop_formula_matches_the_torch_script() {
        // torch_mlp.py: macs = 784*w + (d-1)*w*w + w*10; gflop = 6*b*macs/1e9
        let w = Workload::new(10, 256, 128);
        assert_eq!(w.macs(), 784 * 256 + 9 * 256 * 256 + 256 * 10);
        assert_eq!(w.macs(), 793_088);
        assert_eq!(w.gflop_per_step(), 6.0 * 128.0 * 793_088.0 / 1e9);
        // (3, 100, 60): 784*100 + 2*100*100 + 1000 = 99_400 MACs
        assert_eq!(Workload::new(3, 100, 60).macs(), 99_400);
    }

    #[test]
    fn a_tiny_run_trains_and_reports_a_positive_rate() {
        let w = Workload::new(2, 16, 8);
        let mut b = TrainingBench::<f32>::new(&w, Compute::threads(2), 0).unwrap();
        let rate = b.time(3);
        assert!(rate > 0.0 && rate.is_finite());
        assert!(b.last_loss().is_finite());
    }

    /// `bench --dtype f64` trains the same model on the same batch: its
    /// losses follow the f32 run's to f32 rounding.
    #[test]
    fn the_f64_bench_trains_the_same_workload() {
        let w = Workload::new(3, 32, 16);
        let mut b32 = TrainingBench::<f32>::new(&w, Compute::threads(1), 7).unwrap();
        let mut b64 = TrainingBench::<f64>::new(&w, Compute::threads(1), 7).unwrap();
        for _ in 0..5 {
            b32.time(1);
            b64.time(1);
            let (l32, l64) = (b32.last_loss(), b64.last_loss());
            assert!((l32 - l64).abs() < 1e-5 * l64, "{l32} vs {l64}");
        }
    }
}
