//! The prober: turns the blocks' taps on for the steps it records, and
//! gathers after backward what each block measured during forward and
//! backward (its [`Figures`]: no second pass through the network) into a
//! [`StepProbe`]. It iterates blocks ([`Block`]); it never reaches into one.
//!
//! Per step: [`Prober::arm`] before forward (taps on for recorded steps),
//! [`Prober::observe`] after backward (gradients before clipping; it also
//! keeps a sample of each block's weight) and [`Prober::finish`] after the
//! optimizer's update (update:data ratios against that sample).

use super::{Block, Cadence, Figures, HistogramRecord, LayerProbe, ProbeConfig, StepProbe, Tap};
use crate::tensor::{tensor_stats, Matrix, Scalar, TensorStats};

/// Weights sampled (an even stride) for the update:data ratio: the ratio of
/// two standard deviations, which a sample of this size estimates to about
/// 2% (sampling keeps the per-step cost of the ratio negligible).
pub const UPDATE_SAMPLE: usize = 4096;

/// Probes a network's blocks step after step.
pub struct Prober<T> {
    cadence: Cadence,
    snapshots: Vec<Vec<T>>,
}

impl<T: Scalar> Prober<T> {
    /// A prober on `config`'s cadence, in a run of unknown length.
    pub fn new(config: ProbeConfig) -> Self {
        Self {
            cadence: Cadence::new(config),
            snapshots: Vec::new(),
        }
    }

    /// The same, for a run of `total` steps (its last step is probed).
    pub fn with_total(mut self, total: usize) -> Self {
        self.cadence = self.cadence.with_total(total);
        self
    }

    /// The cadence.
    pub fn cadence(&self) -> &Cadence {
        &self.cadence
    }

    /// The cadence, to restore its state ([`Cadence::set_state`]).
    pub fn cadence_mut(&mut self) -> &mut Cadence {
        &mut self.cadence
    }

    /// Tells the cadence step `step`'s global gradient norm (before
    /// clipping): an anomaly makes the next steps probed. Returns whether
    /// the step was an anomaly.
    pub fn note(&mut self, step: usize, grad_norm: f64) -> bool {
        self.cadence.note(step, grad_norm)
    }

    /// What the blocks measure at step `step`: histograms on their
    /// cadence (with the scalars: a histogram step is a recorded step),
    /// scalars on theirs.
    pub fn tap_at(&self, step: usize) -> Tap {
        match (
            self.cadence.scalars_at(step),
            self.cadence.histograms_at(step),
        ) {
            (_, true) => Tap::Histograms,
            (true, false) => Tap::Scalars,
            (false, false) => Tap::Off,
        }
    }

    /// Sets every block's tap for step `step`. Call before forward.
    pub fn arm(&self, step: usize, blocks: Vec<&mut dyn Block<T>>) {
        let tap = self.tap_at(step);
        blocks.into_iter().for_each(|b| b.set_tap(tap));
    }

    /// Every block's figures after backward, one [`LayerProbe`] each, input
    /// side first. Copies a sample of every block's weight (whole rows,
    /// about [`UPDATE_SAMPLE`] entries) for [`Prober::finish`]; call it
    /// before the optimizer's update. Update ratios are `NaN` until then.
    pub fn observe(&mut self, step: usize, blocks: &[&dyn Block<T>]) -> StepProbe {
        self.snapshots.resize_with(blocks.len(), Vec::new);
        let mut layers = Vec::with_capacity(blocks.len());
        let mut histograms = Vec::new();
        for (i, (block, snap)) in blocks.iter().zip(&mut self.snapshots).enumerate() {
            let figures = block.figures();
            layers.push(layer_probe(i, block.path(), figures));
            let mut hists: Vec<_> = figures.histograms.iter().collect();
            hists.sort_by_key(|(tensor, _)| *tensor);
            histograms.extend(hists.into_iter().map(|(tensor, hist)| HistogramRecord {
                layer: i,
                tensor: *tensor,
                hist: hist.clone(),
            }));
            snap.clear();
            sampled_rows(&block.weight().value).for_each(|row| snap.extend_from_slice(row));
        }
        StepProbe {
            step,
            layers,
            histograms,
        }
    }

    /// After the update: each block's update:data ratio,
    /// `std(W_new - W_old) / std(W_new)` over the sample [`Prober::observe`]
    /// kept.
    pub fn finish(&self, blocks: &[&dyn Block<T>], probe: &mut StepProbe) {
        for (layer, snap) in probe.layers.iter_mut().zip(&self.snapshots) {
            layer.update_ratio = update_ratio(&blocks[layer.layer].weight().value, snap);
        }
    }
}

/// The row of block `i` at `path`: what it measured, `NaN` (or an empty
/// tensor's statistics) where it measured nothing.
fn layer_probe(i: usize, path: &str, f: &Figures) -> LayerProbe {
    let stats = |s: Option<TensorStats>| s.unwrap_or_default();
    LayerProbe {
        layer: i,
        path: path.to_string(),
        weight: stats(f.weight),
        weight_grad: stats(f.weight_grad),
        bias_grad: f.bias_grad,
        pre_grad: stats(f.pre_grad),
        out_grad: stats(f.out_grad),
        pre: stats(f.pre),
        pre_pct: f.pre_pct.unwrap_or([f64::NAN; 3]),
        out: stats(f.out),
        saturated: f.saturated.unwrap_or(f64::NAN),
        dead: f.dead.unwrap_or(f64::NAN),
        update_ratio: f64::NAN,
        series: f.series.clone(),
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

/// Whole rows of `w`, evenly spaced, about [`UPDATE_SAMPLE`] entries in all
/// (all rows of a small matrix).
fn sampled_rows<T: Scalar>(w: &Matrix<T>) -> impl Iterator<Item = &[T]> {
    let rows_wanted = UPDATE_SAMPLE.div_ceil(w.cols().max(1)).max(1);
    let stride = w.rows().div_ceil(rows_wanted).max(1);
    (0..w.rows()).step_by(stride).map(move |r| w.row(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Activation, Loss, Mode, ModelConfig, Norm, NormPlacement, Targets};
    use crate::optim::OptimizerConfig;
    use crate::probe::HistTensor;
    use crate::tensor::Init;

    fn step(cfg: &ModelConfig) -> StepProbe {
        let mut mlp = cfg.build::<f64>(1).unwrap();
        let x = Matrix::from_vec(6, 5, (0..30).map(|i| (i as f64 * 0.7).sin()).collect()).unwrap();
        let labels = [0, 1, 2, 0, 1, 2];
        let mut g = Matrix::default();
        let mut prober = Prober::new(ProbeConfig::default());
        prober.arm(0, mlp.blocks_mut());
        let out = mlp.forward(&x, Mode::Train).clone();
        Loss::CrossEntropy.compute(&out, Targets::Classes(&labels), &mut g);
        mlp.backward(&x, &g);
        let mut probe = prober.observe(0, &mlp.blocks());
        let mut opt = OptimizerConfig::from_name("sgd").unwrap().build::<f64>();
        opt.step(&mut mlp.params(), 0.1);
        prober.finish(&mlp.blocks(), &mut probe);
        probe
    }

    #[test]
    fn probes_measure_every_layer() {
        let cfg = ModelConfig::new(5, 3)
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
        // Every weight entry, not a sample: 4 x 5, 4 x 4, 3 x 4.
        let n: Vec<u64> = probe.layers.iter().map(|l| l.weight.n).collect();
        assert_eq!(n, [20, 16, 12]);
        // Plain SGD: the update is -lr * grad, so update:data = lr * grad:data.
        for l in &probe.layers {
            assert!(
                (l.update_ratio - 0.1 * l.weight_grad.std() / l.weight.std()).abs()
                    < 0.02 * l.update_ratio
            );
        }
        assert!(probe.histograms.len() == 9 && probe.histograms[0].hist.total() == 20);
        let order: Vec<_> = probe.histograms[..3].iter().map(|h| h.tensor).collect();
        assert_eq!(
            order,
            [
                HistTensor::WeightGrad,
                HistTensor::PreGrad,
                HistTensor::Output
            ]
        );
    }

    #[test]
    fn saturation_and_dead_units_are_measured() {
        // Huge weights saturate every sigmoid unit.
        let sat = ModelConfig::new(5, 3)
            .depth(2, 4)
            .activation(Activation::Sigmoid)
            .init(Init::Normal { std: 50.0 });
        assert!(step(&sat).layers[1].saturated > 0.9);
        // After BatchNorm (mean 0 per unit) every ReLU unit is positive on
        // some row: none dead.
        let bn = ModelConfig::new(5, 3)
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

    #[test]
    fn an_untapped_step_measures_nothing() {
        let mut mlp = ModelConfig::new(5, 3).depth(1, 4).build::<f64>(1).unwrap();
        let prober = Prober::<f64>::new(ProbeConfig {
            every: 2,
            ..ProbeConfig::every_step()
        });
        prober.arm(1, mlp.blocks_mut());
        mlp.forward(&Matrix::filled(2, 5, 0.5), Mode::Train);
        assert!(mlp
            .blocks()
            .iter()
            .all(|b| b.figures() == &Figures::default()));
        assert_eq!(prober.tap_at(2), Tap::Scalars);
        // Histograms keep their own cadence, recorded steps or not.
        let sparse = Prober::<f64>::new(ProbeConfig {
            every: 3,
            histogram_every: 100,
            ..ProbeConfig::every_step()
        });
        let taps: Vec<Tap> = [0, 3, 100, 101].iter().map(|&s| sparse.tap_at(s)).collect();
        assert_eq!(
            taps,
            [Tap::Histograms, Tap::Scalars, Tap::Histograms, Tap::Off]
        );
    }
}
