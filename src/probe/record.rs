//! What a probe records: plain data keyed by step and layer.

use super::{Histogram, TensorStats};
use serde::{Deserialize, Serialize};

/// One layer at one step. A "layer" is a linear layer with what follows it
/// up to the next one (norm, activation); the output layer has no
/// activation, so its output is its pre-activation (the logits).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerProbe {
    /// Depth index, 0 = first hidden layer; the output layer is last.
    pub layer: usize,
    /// Path of its linear layer (`layers.3`).
    pub path: String,
    /// The weights the step used (before its update).
    pub weight: TensorStats,
    /// `dL/dW`, before clipping.
    pub weight_grad: TensorStats,
    /// `dL/db`, when the layer has a bias.
    pub bias_grad: Option<TensorStats>,
    /// `dL/dz`, the backpropagated delta at the pre-activation.
    pub pre_grad: TensorStats,
    /// `dL/dh`, the gradient arriving at the layer's output.
    pub out_grad: TensorStats,
    /// Pre-activation values `z`.
    pub pre: TensorStats,
    /// 15th, 50th and 85th percentiles of `z` (Ioffe & Szegedy's Fig. 1).
    pub pre_pct: [f64; 3],
    /// Output values `h`.
    pub out: TensorStats,
    /// Fraction of entries whose activation derivative is below 5% of its
    /// maximum (`NaN` for the output layer).
    pub saturated: f64,
    /// Fraction of units inactive (`z <= 0`) for the whole batch, for the
    /// ReLU family; `NaN` for other activations.
    pub dead: f64,
    /// `std(update) / std(weight)` of this step's update (`NaN` if not
    /// measured).
    pub update_ratio: f64,
    /// Figures along the block's own axis (a recurrent cell's time steps,
    /// a conv layer's channels) and, for the first layer of a residual
    /// block's branch, the block's two routes; empty for a plain dense
    /// layer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<Series>,
}

/// The axis a [`Series`] runs along.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Axis {
    /// Time steps of a recurrent cell, first step first.
    TimeStep,
    /// Channels of a convolutional layer.
    Channel,
    /// Heads of an attention block.
    Head,
    /// The two routes through a residual block: 0 the branch `f(x)`, 1 the
    /// shortcut `P x`.
    Route,
}

impl Axis {
    /// The name used in the store and reports.
    pub fn name(self) -> &'static str {
        match self {
            Axis::TimeStep => "time_step",
            Axis::Channel => "channel",
            Axis::Head => "head",
            Axis::Route => "route",
        }
    }

    /// The axis called `name` (see [`Axis::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        [Axis::TimeStep, Axis::Channel, Axis::Head, Axis::Route]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

/// One tensor of one block measured at each index of an axis: a recurrent
/// cell's hidden state at each time step, a conv layer's output per
/// channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// What was measured, in the block's own vocabulary (`hidden`,
    /// `hidden_grad`, `forget_gate`, `out`).
    pub tensor: String,
    /// Along which axis.
    pub axis: Axis,
    /// One entry per index of the axis, in order.
    pub stats: Vec<TensorStats>,
}

impl LayerProbe {
    /// The probed tensors' statistics in the store's column order (its
    /// `TENSORS`: weight, weight_grad, bias_grad, pre_grad, out_grad, pre,
    /// out); `None` for a layer without bias.
    pub fn tensors(&self) -> [Option<&TensorStats>; 7] {
        [
            Some(&self.weight),
            Some(&self.weight_grad),
            self.bias_grad.as_ref(),
            Some(&self.pre_grad),
            Some(&self.out_grad),
            Some(&self.pre),
            Some(&self.out),
        ]
    }

    /// The per-layer figures after the tensors, in the store's column
    /// order: the pre-activation's 15th, 50th and 85th percentiles,
    /// saturated and dead fractions, update ratio, grad:data ratio.
    pub fn tail(&self) -> [f64; 7] {
        [
            self.pre_pct[0],
            self.pre_pct[1],
            self.pre_pct[2],
            self.saturated,
            self.dead,
            self.update_ratio,
            self.grad_data_ratio(),
        ]
    }

    /// The statistics of the series of `tensor` along `axis`, if the
    /// layer recorded one.
    pub fn series(&self, tensor: &str, axis: Axis) -> Option<&[TensorStats]> {
        let s = self
            .series
            .iter()
            .find(|s| s.tensor == tensor && s.axis == axis)?;
        Some(&s.stats)
    }

    /// `std(dL/dW) / std(W)`.
    pub fn grad_data_ratio(&self) -> f64 {
        self.weight_grad.std() / self.weight.std()
    }
}

/// Which tensor a histogram is of (ordered as stored: `weight_grad`,
/// `pre_grad`, `output`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistTensor {
    /// `dL/dW`.
    WeightGrad,
    /// `dL/dz`.
    PreGrad,
    /// The output `h`.
    Output,
}

impl HistTensor {
    /// The name used in the store and reports.
    pub fn name(self) -> &'static str {
        match self {
            HistTensor::WeightGrad => "weight_grad",
            HistTensor::PreGrad => "pre_grad",
            HistTensor::Output => "output",
        }
    }
}

/// A histogram of one tensor of one layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistogramRecord {
    /// Depth index.
    pub layer: usize,
    /// Which tensor.
    pub tensor: HistTensor,
    /// The counts.
    pub hist: Histogram,
}

/// Everything probed at one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepProbe {
    /// 0-based step.
    pub step: usize,
    /// One entry per layer, input side first.
    pub layers: Vec<LayerProbe>,
    /// Histograms, on histogram steps only.
    pub histograms: Vec<HistogramRecord>,
}

impl StepProbe {
    /// The first layer (input side first) with a non-finite value in any
    /// probed tensor.
    pub fn first_non_finite_layer(&self) -> Option<usize> {
        self.layers.iter().find_map(|l| {
            let any = [
                l.weight,
                l.weight_grad,
                l.pre_grad,
                l.out_grad,
                l.pre,
                l.out,
            ]
            .iter()
            .chain(l.bias_grad.iter())
            .any(|s| s.non_finite() > 0);
            any.then_some(l.layer)
        })
    }
}

/// Indices of the `steps` (ascending) nearest to each of `fractions` of
/// their span (0 the first step, 1 the last: fractions of training, not of
/// the probes, which are denser early), without repeats.
pub fn pick_steps(steps: &[usize], fractions: &[f64]) -> Vec<usize> {
    let (Some(&first), Some(&last)) = (steps.first(), steps.last()) else {
        return Vec::new();
    };
    let span = (last - first) as f64;
    let mut v: Vec<usize> = fractions
        .iter()
        .map(|f| {
            let target = first as f64 + f * span;
            let after = steps.partition_point(|&s| (s as f64) < target);
            // The nearer of the steps on either side of the target (the later
            // one on a tie, as rounding half up).
            match after {
                0 => 0,
                i if i == steps.len() => i - 1,
                i if target - (steps[i - 1] as f64) < steps[i] as f64 - target => i - 1,
                i => i,
            }
        })
        .collect();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_quarters_without_repeats() {
        const Q: &[f64] = &[0.0, 0.25, 0.5, 1.0];
        let every: Vec<usize> = (0..=100).collect();
        assert_eq!(pick_steps(&[], Q), Vec::<usize>::new());
        assert_eq!(pick_steps(&[7], Q), vec![0]);
        assert_eq!(pick_steps(&[0, 1], Q), vec![0, 1]);
        assert_eq!(pick_steps(&every, Q), vec![0, 25, 50, 100]);
        // Dense early, sparse late: quarters of the steps, not of the list.
        let thinned: Vec<usize> = (0..100).chain((100..=1000).step_by(100)).collect();
        let steps: Vec<usize> = pick_steps(&thinned, Q)
            .iter()
            .map(|&i| thinned[i])
            .collect();
        assert_eq!(steps, [0, 300, 500, 1000]);
    }
}
