//! The prober: gathers, after backward, what each layer measured during
//! forward and backward (its [`Taps`]: no second pass through the network)
//! and turns it into a [`StepProbe`]. What a layer did not measure (an
//! untapped step, probed because its loss was not finite) is read from the
//! buffers forward and backward left behind, with the same samples.
//!
//! Per step: [`Prober::arm`] before forward (taps on for recorded steps),
//! [`Prober::observe`] after backward (gradients before clipping; it also
//! keeps a sample of the weights) and [`Prober::finish`] after the
//! optimizer's update (update:data ratios against that sample).

use super::{
    percentiles, tensor_stats, HistTensor, Histogram, HistogramRecord, LayerProbe, StepProbe,
};
use crate::nn::{tap, Activation, Mlp, Taps};
use crate::tensor::{max_threads, Matrix, Scalar, TensorStats};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Weights sampled (an even stride) for the update:data ratio: the ratio of
/// two standard deviations, which a sample of this size estimates to about
/// 2% (sampling keeps the per-step cost of the ratio negligible).
pub const UPDATE_SAMPLE: usize = 4096;

/// How often to probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeConfig {
    /// Record per-layer scalars every this many steps (0 = never).
    pub every: usize,
    /// Record histograms every this many steps (0 = never).
    pub histogram_every: usize,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            every: 1,
            histogram_every: 100,
        }
    }
}

impl ProbeConfig {
    /// Whether step `step` (0-based) records scalars.
    pub fn scalars_at(&self, step: usize) -> bool {
        self.every > 0 && step.is_multiple_of(self.every)
    }

    /// Whether step `step` records histograms.
    pub fn histograms_at(&self, step: usize) -> bool {
        self.histogram_every > 0 && step.is_multiple_of(self.histogram_every)
    }
}

/// Probes an [`Mlp`] step after step.
pub struct Prober<T> {
    /// The cadence.
    pub config: ProbeConfig,
    snapshots: Vec<Vec<T>>,
}

impl<T: Scalar> Prober<T> {
    /// A prober with `config`.
    pub fn new(config: ProbeConfig) -> Self {
        Self {
            config,
            snapshots: Vec::new(),
        }
    }

    /// Turns `mlp`'s taps on when step `step` records scalars, off
    /// otherwise. Call before forward.
    pub fn arm(&self, step: usize, mlp: &mut Mlp<T>) {
        mlp.set_tap(self.config.scalars_at(step));
    }

    /// Statistics of every layer after backward; `loss_grad` is
    /// `dL/d(logits)`. Copies a sample of every layer's weights (whole
    /// rows, about [`UPDATE_SAMPLE`] entries: the weight statistics are
    /// taken on it) for [`Prober::finish`]; call it before the optimizer's
    /// update. Update ratios are `NaN` until then. With more than one GEMM
    /// thread allowed, layers are probed in parallel on the current rayon
    /// pool.
    pub fn observe(&mut self, step: usize, mlp: &Mlp<T>, loss_grad: &Matrix<T>) -> StepProbe {
        let with_hist = self.config.histograms_at(step);
        self.snapshots.resize_with(mlp.slots.len(), Vec::new);
        let probe = |(i, snap)| probe_layer(i, mlp, loss_grad, with_hist, snap);
        let per_layer: Vec<(LayerProbe, Vec<HistogramRecord>)> = if max_threads() > 1 {
            self.snapshots
                .par_iter_mut()
                .enumerate()
                .map(probe)
                .collect()
        } else {
            self.snapshots.iter_mut().enumerate().map(probe).collect()
        };
        let mut layers = Vec::with_capacity(per_layer.len());
        let mut histograms = Vec::new();
        for (layer, hists) in per_layer {
            layers.push(layer);
            histograms.extend(hists);
        }
        StepProbe {
            step,
            layers,
            histograms,
        }
    }

    /// After the update: each layer's update:data ratio,
    /// `std(W_new - W_old) / std(W_new)` over the sample [`Prober::observe`]
    /// kept.
    pub fn finish(&self, mlp: &Mlp<T>, probe: &mut StepProbe) {
        let ratio = |(layer, snap): (&mut LayerProbe, &Vec<T>)| {
            let slot = &mlp.slots[layer.layer];
            let w = mlp.layer_at(&slot.linear).param("weight").expect("weights");
            layer.update_ratio = update_ratio(&w.value, snap);
        };
        if max_threads() > 1 {
            let pairs = probe.layers.par_iter_mut().zip(self.snapshots.par_iter());
            pairs.for_each(ratio);
        } else {
            probe.layers.iter_mut().zip(&self.snapshots).for_each(ratio);
        }
    }
}

/// `std(W_new - W_old) / std(W_new)` over the sampled rows of `w` (now
/// `W_new`), given their values `before` the update.
fn update_ratio<T: Scalar>(w: &Matrix<T>, before: &[T]) -> f64 {
    let mut after = Vec::with_capacity(before.len());
    sampled_rows(w).for_each(|row| after.extend_from_slice(row));
    let std_after = tensor_stats(&after).std();
    after
        .iter_mut()
        .zip(before)
        .for_each(|(new, &old)| *new = *new - old);
    tensor_stats(&after).std() / std_after
}

/// Every layer's figures: from its taps where it was tapped, else from the
/// buffers forward and backward left. The weights' sample goes to `snap`.
fn probe_layer<T: Scalar>(
    i: usize,
    mlp: &Mlp<T>,
    loss_grad: &Matrix<T>,
    with_hist: bool,
    snap: &mut Vec<T>,
) -> (LayerProbe, Vec<HistogramRecord>) {
    let slot = &mlp.slots[i];
    let linear = mlp.layer_at(&slot.linear);
    let w = linear.param("weight").expect("linear layer has weights");
    let pre = mlp.layer_at(&slot.pre).output();
    let (out, out_grad, pre_grad, activation, taps) = match (&slot.activation, &slot.next) {
        (Some(a), Some(n)) => {
            let act = mlp.layer_at(a);
            (
                act.output(),
                mlp.layer_at(n).input_grad(),
                act.input_grad(),
                act.activation(),
                act.taps(),
            )
        }
        _ => (pre, loss_grad, loss_grad, None, None),
    };
    let empty = Taps::default();
    let taps = taps.unwrap_or(&empty);
    let tapped = taps.input.is_some();
    let stats = |measured: Option<TensorStats>, m: &Matrix<T>| {
        measured.unwrap_or_else(|| tensor_stats(m.as_slice()))
    };
    let stride = tap::sample_stride(pre.len(), pre.cols());
    let untapped_samples;
    let (z_sample, h_sample) = if tapped {
        (&taps.input_sample, &taps.output_sample)
    } else {
        untapped_samples = (
            tap::sample(pre.as_slice(), stride),
            tap::sample(out.as_slice(), stride),
        );
        (&untapped_samples.0, &untapped_samples.1)
    };
    let [p15, p50, p85] = percentiles(z_sample, &[0.15, 0.5, 0.85], usize::MAX)
        .try_into()
        .expect("three percentiles");
    let (saturated, dead) = match activation {
        Some(_) if tapped => (
            taps.saturated.unwrap_or(f64::NAN),
            taps.dead.unwrap_or(f64::NAN),
        ),
        Some(a) => (
            tap::saturated_fraction(a, z_sample, h_sample).unwrap_or(f64::NAN),
            dead_fraction(a, pre),
        ),
        None => (f64::NAN, f64::NAN),
    };
    let mut histograms = Vec::new();
    if with_hist {
        for (tensor, values) in [
            (HistTensor::WeightGrad, w.grad.as_slice()),
            (HistTensor::PreGrad, pre_grad.as_slice()),
            (HistTensor::Output, out.as_slice()),
        ] {
            histograms.push(HistogramRecord {
                layer: i,
                tensor,
                hist: Histogram::of(values),
            });
        }
    }
    snap.clear();
    sampled_rows(&w.value).for_each(|row| snap.extend_from_slice(row));
    let probe = LayerProbe {
        layer: i,
        path: mlp.linear_paths[i].clone(),
        weight: tensor_stats(snap),
        weight_grad: stats(linear.taps().and_then(|t| t.weight_grad), &w.grad),
        bias_grad: linear
            .param("bias")
            .map(|b| tensor_stats(b.grad.as_slice())),
        pre_grad: stats(taps.input_grad, pre_grad),
        out_grad: stats(taps.grad_output, out_grad),
        pre: stats(taps.input, pre),
        pre_pct: [p15, p50, p85],
        out: stats(taps.output, out),
        saturated,
        dead,
        update_ratio: f64::NAN,
        series: Vec::new(),
    };
    (probe, histograms)
}

/// Whole rows of `w`, evenly spaced, about [`UPDATE_SAMPLE`] entries in all
/// (all rows of a small matrix).
fn sampled_rows<T: Scalar>(w: &Matrix<T>) -> impl Iterator<Item = &[T]> {
    let rows_wanted = UPDATE_SAMPLE.div_ceil(w.cols().max(1)).max(1);
    let stride = w.rows().div_ceil(rows_wanted).max(1);
    (0..w.rows()).step_by(stride).map(move |r| w.row(r))
}

/// Fraction of units with `z <= 0` on every row, for the ReLU family.
fn dead_fraction<T: Scalar>(act: Activation, z: &Matrix<T>) -> f64 {
    if !act.is_relu_family() || z.cols() == 0 {
        return f64::NAN;
    }
    let mut alive = vec![false; z.cols()];
    tap::mark_alive(&mut alive, z.as_slice());
    tap::dead_fraction(&alive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Loss, MlpConfig, Mode, Norm, NormPlacement, Targets};
    use crate::optim::OptimizerConfig;
    use crate::tensor::Init;

    fn step(cfg: &MlpConfig) -> StepProbe {
        let mut mlp = cfg.build::<f64>(1).unwrap();
        let x = Matrix::from_vec(6, 5, (0..30).map(|i| (i as f64 * 0.7).sin()).collect()).unwrap();
        let labels = [0, 1, 2, 0, 1, 2];
        let mut g = Matrix::default();
        let out = mlp.forward(&x, Mode::Train).clone();
        Loss::CrossEntropy.compute(&out, Targets::Classes(&labels), &mut g);
        mlp.backward(&x, &g);
        let mut prober = Prober::new(ProbeConfig::default());
        let mut probe = prober.observe(0, &mlp, &g);
        let mut opt = OptimizerConfig::from_name("sgd").unwrap().build::<f64>();
        opt.step(&mut mlp.params(), 0.1);
        prober.finish(&mlp, &mut probe);
        probe
    }

    #[test]
    fn probes_read_the_tensors_backward_left_behind() {
        let cfg = MlpConfig::new(5, 3)
            .depth(2, 4)
            .activation(Activation::Tanh);
        let probe = step(&cfg);
        assert_eq!(probe.layers.len(), 3);
        let out = &probe.layers[2];
        // Output layer: z = h = logits, dL/dz = dL/dh = loss gradient, whose
        // rows each sum to 0.
        assert_eq!(out.pre, out.out);
        assert_eq!(out.pre_grad, out.out_grad);
        assert!(out.pre_grad.sum.abs() < 1e-12);
        assert!(out.saturated.is_nan() && out.dead.is_nan());
        // Hidden layer 1: dL/dz = dL/dh * tanh'(z), so |dL/dz| <= |dL/dh|.
        let h = &probe.layers[1];
        assert!(h.pre_grad.l2() <= h.out_grad.l2());
        assert!(h.pre_grad.l2() > 0.0);
        // The last hidden layer's dL/dh is the output layer's dL/dx = g W,
        // not the loss gradient itself.
        assert_ne!(h.out_grad, out.pre_grad);
        // Plain SGD: the update is -lr * grad, so update:data = lr * grad:data.
        for l in &probe.layers {
            assert!(
                (l.update_ratio - 0.1 * l.weight_grad.std() / l.weight.std()).abs()
                    < 0.02 * l.update_ratio
            );
        }
        assert!(probe.histograms.len() == 9 && probe.histograms[0].hist.total() == 20);
    }

    #[test]
    fn saturation_and_dead_units_are_measured() {
        // Huge weights saturate every sigmoid unit.
        let sat = MlpConfig::new(5, 3)
            .depth(2, 4)
            .activation(Activation::Sigmoid)
            .init(Init::Normal { std: 50.0 });
        assert!(step(&sat).layers[1].saturated > 0.9);
        // Negative biases after BatchNorm kill every ReLU: dead fraction 1
        // would need z <= 0 for all rows; with BN (mean 0) units are alive.
        let bn = MlpConfig::new(5, 3)
            .depth(2, 4)
            .norm(Norm::Batch, NormPlacement::Before);
        let p = step(&bn);
        assert_eq!(p.layers[0].dead, 0.0);
        assert!(
            p.layers[0].saturated > 0.2 && p.layers[0].saturated < 0.8,
            "{}",
            p.layers[0].saturated
        );
    }
}
