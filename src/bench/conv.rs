//! The CNN training workload the benchmark times (`bench --cnn`),
//! identical to `scripts/torch_cnn_bench.py`: He et al. 2016's CIFAR
//! family as the builder makes it ([`crate::nn::conv::model`]) on
//! 1 x 28 x 28 images — a 3x3 stem, `n` basic blocks per stage with
//! BatchNorm and ReLU, option A shortcuts when residual — global average
//! pooling, 10 classes, softmax cross-entropy, SGD with momentum 0.9
//! (lr 0.01), f32, one fixed synthetic batch (inputs uniform in `[0, 1)`).
//!
//! FLOP count, as the torch script counts it: a 3x3 conv of `c_in` to
//! `c_out` channels with `p` output pixels does `p c_out 9 c_in`
//! multiply-adds per example in each of its products — forward, weight
//! gradient and input gradient, except the stem's input gradient, which
//! neither side computes — and the linear layer three products of
//! `c 10`; 2 flop per multiply-add. BatchNorm, ReLU, pooling and the
//! im2col copies are not counted.

use super::workload::{Trains, INPUT, OUTPUT};
use crate::nn::{Activation, ModelConfig, ModelKind, Norm, NormPlacement};
use crate::optim::OptimizerConfig;
use serde::Serialize;

/// The side of the benchmark's square images (MNIST's).
pub const SIDE: usize = 28;

/// One CNN benchmark shape.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConvWorkload {
    /// Channels of each stage.
    pub channels: Vec<usize>,
    /// Blocks per stage.
    pub n: usize,
    /// Identity (option A) shortcuts, or a plain net.
    pub residual: bool,
    /// Images per batch.
    pub batch: usize,
}

impl ConvWorkload {
    /// ResNet-20 (16/32/64 channels, `n = 3`) or its plain counterpart,
    /// batch 64.
    pub fn resnet20(residual: bool) -> Self {
        Self {
            channels: vec![16, 32, 64],
            n: 3,
            residual,
            batch: 64,
        }
    }

    /// The table `bench --cnn` runs: ResNet-20, plain-20, and a small
    /// ResNet (8/16 channels, `n = 1`: 6 layers).
    pub fn table() -> Vec<Self> {
        vec![
            Self::resnet20(true),
            Self::resnet20(false),
            Self {
                channels: vec![8, 16],
                n: 1,
                ..Self::resnet20(true)
            },
        ]
    }

    /// Weighted layers: `2 n stages + 2` (20 for ResNet-20).
    pub fn layers(&self) -> usize {
        2 * self.n * self.channels.len() + 2
    }

    /// `resnet-20 16/32/64` or `plain-20 16/32/64`.
    pub fn name(&self) -> String {
        let kind = if self.residual { "resnet" } else { "plain" };
        let channels: Vec<String> = self.channels.iter().map(|c| c.to_string()).collect();
        format!("{kind}-{} {}", self.layers(), channels.join("/"))
    }

    /// Multiply-adds per example of one forward pass: the stem's and the
    /// rest's (convolutions and the linear layer).
    pub fn macs(&self) -> (usize, usize) {
        let mut side = SIDE;
        let stem = side * side * self.channels[0] * 9;
        let (mut rest, mut c) = (0, self.channels[0]);
        for (stage, &width) in self.channels.iter().enumerate() {
            for j in 0..self.n {
                if stage > 0 && j == 0 {
                    side = side.div_ceil(2);
                }
                rest += side * side * width * 9 * (c + width);
                c = width;
            }
        }
        (stem, rest + c * OUTPUT)
    }
}

impl Trains for ConvWorkload {
    /// The builder's CNN: BatchNorm, ReLU, He init, option A shortcuts.
    fn model_config(&self) -> ModelConfig {
        let mut cfg = ModelConfig::new(INPUT, OUTPUT)
            .activation(Activation::Relu)
            .norm(Norm::Batch, NormPlacement::Before);
        cfg.kind = ModelKind::Cnn;
        cfg.conv.channels = self.channels.clone();
        cfg.conv.n = self.n;
        cfg.conv.residual = self.residual;
        cfg.conv.image = vec![1, SIDE, SIDE];
        cfg
    }

    /// SGD with momentum 0.9.
    fn optimizer(&self) -> OptimizerConfig {
        OptimizerConfig::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        }
    }

    fn batch(&self) -> usize {
        self.batch
    }

    /// `2 batch (2 stem + 3 rest) / 1e9` ([`ConvWorkload::macs`]).
    fn gflop_per_step(&self) -> f64 {
        let (stem, rest) = self.macs();
        2.0 * self.batch as f64 * (2 * stem + 3 * rest) as f64 / 1e9
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::TrainingBench;

    #[test]
    fn flop_formula_matches_the_torch_script() {
        // torch_cnn_bench.py prints gflop_per_step 11.820909 for ResNet-20.
        let w = ConvWorkload::resnet20(true);
        assert_eq!(w.layers(), 20);
        let (stem, rest) = w.macs();
        assert_eq!(stem, 784 * 16 * 9);
        // 6 convs 16 -> 16 at 28 x 28; 16 -> 32, then 5 x 32 -> 32 at
        // 14 x 14; 32 -> 64, then 5 x 64 -> 64 at 7 x 7; the linear layer.
        let convs =
            6 * 784 * 16 * 9 * 16 + 196 * 32 * 9 * (16 + 5 * 32) + 49 * 64 * 9 * (32 + 5 * 64);
        assert_eq!(rest, convs + 64 * 10);
        assert_eq!(convs, 30_707_712);
        assert!((w.gflop_per_step() - 11.820909).abs() < 1e-6);
    }

    #[test]
    fn a_tiny_cnn_trains_and_reports_a_positive_rate() {
        let w = ConvWorkload {
            channels: vec![2, 4],
            n: 1,
            residual: true,
            batch: 4,
        };
        let mut b = TrainingBench::<f32>::new(&w, crate::tensor::Compute::threads(2), 0).unwrap();
        let rate = b.time(2);
        assert!(rate > 0.0 && rate.is_finite());
        assert!(b.last_loss().is_finite());
    }
}
