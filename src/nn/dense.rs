//! The dense block: `linear -> [norm] -> activation` (or `linear ->
//! activation -> norm`), one layer of an MLP and one probed [`Block`]. The
//! output layer is a dense block with neither norm nor activation (its
//! output is the logits). The linear map is any [`Affine`] layer: a
//! [`Linear`] one by default, or a convolution ([`super::conv::Conv2d`]),
//! whose output is pixel rows, so the norm is per channel and the block's
//! "units" are its channels.
//!
//! ```text
//! forward   x --linear--> z0 [--norm--> z] --f--> h [--norm--> y]
//! backward  dL/dy [--norm--> dL/dh] --*f'(z)--> dL/dz [--norm--> dL/dz0] --linear--> dL/dx, dL/dW, dL/db
//! ```
//!
//! What it measures when tapped (the contract is [`Block`]): its
//! weight right after the forward GEMM read it and its weight gradient
//! right after the backward GEMM wrote it (both in L2), the
//! pre-activation `z`, the output `h`, `dL/dh` and `dL/dz` through its
//! activation's measured passes (in L1), percentiles of `z` from the
//! activation's sample, and histograms when asked.
//!
//! Paths: the parts keep PyTorch's flat `nn.Sequential` numbering, each
//! part one module (`layers.3` the linear layer, `layers.4` the norm,
//! `layers.5` the activation); the block's path is its linear layer's.
//!
//! # Shapes
//! `x`: `batch x in`; `z`, `h`, `y`: `batch x out`.

use super::layer::{join, Affine, Layer, Mode, NamedParam};
use super::{ActivationLayer, Linear, NormPlacement};
use crate::probe::{measure, Axis, Block, Figures, HistTensor, Histogram, Series, Tap};
use crate::tensor::Grads;
use crate::tensor::{column_stats, percentiles, tensor_stats, Matrix, Param, Scalar};

/// `linear -> [norm] -> activation`, measured as one layer.
pub struct Dense<T, A = Linear<T>> {
    /// The linear map (`W`, `b`): a fully connected layer or a convolution.
    pub linear: A,
    /// A norm between the linear layer and the activation.
    pub norm_before: Option<Box<dyn Layer<T>>>,
    /// The nonlinearity; `None` for the output layer.
    pub activation: Option<ActivationLayer<T>>,
    /// A norm after the activation.
    pub norm_after: Option<Box<dyn Layer<T>>>,
    /// Path of the linear layer; the norm and the activation follow it.
    path: String,
    /// Path of the norm (flat numbering).
    norm_path: String,
    tap: Tap,
    figures: Figures,
}

impl<T: Scalar, A: Affine<T>> Dense<T, A> {
    /// A block at `container.index` (`layers`, 3: the linear layer is
    /// `layers.3`, the next parts `layers.4`, `layers.5`), its norm placed
    /// as `placement` says.
    pub fn new(
        linear: A,
        norm: Option<Box<dyn Layer<T>>>,
        placement: NormPlacement,
        activation: Option<ActivationLayer<T>>,
        (container, index): (&str, usize),
    ) -> Self {
        // A norm "after" a missing activation is a norm before it.
        let placement = if activation.is_none() {
            NormPlacement::Before
        } else {
            placement
        };
        let norm_index = match placement {
            NormPlacement::Before => index + 1,
            NormPlacement::After => index + 2,
        };
        let (norm_before, norm_after) = match placement {
            NormPlacement::Before => (norm, None),
            NormPlacement::After => (None, norm),
        };
        Self {
            linear,
            norm_before,
            activation,
            norm_after,
            path: join(container, &index.to_string()),
            norm_path: join(container, &norm_index.to_string()),
            tap: Tap::Off,
            figures: Figures::default(),
        }
    }

    /// Modules this block takes in its container's numbering.
    pub fn parts(&self) -> usize {
        1 + usize::from(self.norm_before.is_some() || self.norm_after.is_some())
            + usize::from(self.activation.is_some())
    }

    /// The pre-activation `z` of the last forward.
    pub fn pre(&self) -> &Matrix<T> {
        pre(&self.linear, &self.norm_before)
    }

    /// The activation's output `h` of the last forward (`z` without one).
    pub fn out(&self) -> &Matrix<T> {
        self.activation.as_ref().map_or(self.pre(), |a| a.output())
    }
}

impl<T: Scalar, A: Affine<T>> Dense<T, A> {
    /// Whether this step measures the layer per channel: a conv layer's
    /// histogram steps. A pass over every pixel row per tensor cost 15 to
    /// 30% of a CNN's step when taken on every recorded step (`bench --cnn
    /// --probes`), against a few percent at the histograms' cadence.
    fn channels_tapped(&self) -> bool {
        self.tap == Tap::Histograms && self.linear.per_channel()
    }

    /// The weight gradient of each output channel's filter (a row of
    /// `dL/dW`) and, under BatchNorm, each channel's scale `gamma`.
    fn per_channel_parameters(&mut self) {
        let w = &self.linear.weight().grad;
        let rows = w.as_slice().chunks(w.cols().max(1)).map(tensor_stats);
        self.figures.series.push(Series {
            tensor: "weight_grad".into(),
            axis: Axis::Channel,
            stats: rows.collect(),
        });
        let norm = self.norm_before.as_mut().or(self.norm_after.as_mut());
        if let Some(norm) = norm {
            let mut params = Vec::new();
            norm.collect_params("", &mut params);
            if let Some(scale) = params.iter().find(|p| p.path == "weight") {
                let stats = scale.param.value.as_slice().iter();
                self.figures.series.push(Series {
                    tensor: "bn_scale".into(),
                    axis: Axis::Channel,
                    stats: stats.map(|v| tensor_stats(&[*v])).collect(),
                });
            }
        }
    }
}

/// `m`'s columns (a conv layer's channels) measured one by one.
fn channels<T: Scalar>(tensor: &str, m: &Matrix<T>) -> Series {
    Series {
        tensor: tensor.into(),
        axis: Axis::Channel,
        stats: column_stats(m),
    }
}

/// `z`: the norm-before's output, else the linear layer's.
fn pre<'a, T: Scalar, A: Affine<T>>(
    linear: &'a A,
    norm: &'a Option<Box<dyn Layer<T>>>,
) -> &'a Matrix<T> {
    norm.as_ref().map_or(linear.output(), |n| n.output())
}

impl<T: Scalar, A: Affine<T>> Layer<T> for Dense<T, A> {
    fn kind(&self) -> String {
        match &self.activation {
            Some(a) => format!("dense({})", a.activation),
            None => "dense".into(),
        }
    }

    fn forward(&mut self, x: &Matrix<T>, mode: Mode) -> &Matrix<T> {
        let tapped = self.tap.is_on();
        let per_channel = self.channels_tapped();
        if tapped {
            self.figures = Figures::default();
        }
        self.linear.forward(x, mode);
        if tapped {
            // Right after the GEMM read it: the weight as this step uses it.
            self.figures.weight = Some(measure(self.linear.weight().value.as_slice()));
        }
        if let Some(norm) = &mut self.norm_before {
            norm.forward(self.linear.output(), mode);
        }
        let z = pre(&self.linear, &self.norm_before);
        let Some(act) = &mut self.activation else {
            if tapped {
                let stats = measure(z.as_slice());
                self.figures.pre = Some(stats);
                self.figures.out = Some(stats);
                self.figures.pre_pct = Some(quantiles(&sample(z)));
                if per_channel {
                    self.figures.series.push(channels("out", z));
                }
            }
            if self.tap == Tap::Histograms {
                let hist = Histogram::of(z.as_slice());
                self.figures.histograms.push((HistTensor::Output, hist));
            }
            return z;
        };
        act.forward(z, mode);
        let act = &*act;
        let h = act.output();
        if let Some(m) = act.figures() {
            self.figures.pre = m.input;
            self.figures.out = m.output;
            self.figures.pre_pct = Some(quantiles(&m.input_sample));
            self.figures.saturated = m.saturated;
            self.figures.dead = m.dead;
            if per_channel {
                self.figures.series.push(channels("out", h));
            }
        }
        if self.tap == Tap::Histograms {
            let hist = Histogram::of(h.as_slice());
            self.figures.histograms.push((HistTensor::Output, hist));
        }
        match &mut self.norm_after {
            Some(norm) => norm.forward(h, mode),
            None => h,
        }
    }

    fn output(&self) -> &Matrix<T> {
        match &self.norm_after {
            Some(norm) => norm.output(),
            None => self.out(),
        }
    }

    fn backward(
        &mut self,
        x: &Matrix<T>,
        grad_output: &Matrix<T>,
        need_input_grad: bool,
        grads: Grads,
    ) {
        let per_channel = self.channels_tapped();
        // dL/dh: through the norm after the activation, if any.
        let mut g = grad_output;
        if let (Some(norm), Some(act)) = (&mut self.norm_after, &self.activation) {
            norm.backward(act.output(), g, true, grads);
            g = norm.input_grad();
        }
        // dL/dz = dL/dh * f'(z)
        let z = pre(&self.linear, &self.norm_before);
        match &mut self.activation {
            Some(act) => {
                act.backward(z, g, true, grads);
                if let Some(m) = act.figures() {
                    self.figures.out_grad = m.grad_output;
                    self.figures.pre_grad = m.input_grad;
                }
                g = act.input_grad();
            }
            None if self.tap.is_on() => {
                let stats = measure(g.as_slice());
                self.figures.out_grad = Some(stats);
                self.figures.pre_grad = Some(stats);
            }
            None => {}
        }
        if per_channel {
            self.figures.series.push(channels("pre_grad", g));
        }
        if self.tap == Tap::Histograms {
            let hist = Histogram::of(g.as_slice());
            self.figures.histograms.push((HistTensor::PreGrad, hist));
        }
        // dL/dz0: through the norm before the activation, if any.
        if let Some(norm) = &mut self.norm_before {
            norm.backward(self.linear.output(), g, true, grads);
            g = norm.input_grad();
        }
        self.linear.backward(x, g, need_input_grad, grads);
        if self.tap.is_on() {
            // Right after the GEMM wrote it, while it is in cache.
            let w = &self.linear.weight().grad;
            self.figures.weight_grad = Some(measure(w.as_slice()));
            let b = self.linear.bias();
            self.figures.bias_grad = b.map(|b| tensor_stats(b.grad.as_slice()));
            if per_channel {
                self.per_channel_parameters();
            }
        }
        if self.tap == Tap::Histograms {
            let hist = Histogram::of(self.linear.weight().grad.as_slice());
            self.figures.histograms.push((HistTensor::WeightGrad, hist));
        }
    }

    fn input_grad(&self) -> &Matrix<T> {
        self.linear.input_grad()
    }

    fn collect_params<'a>(&'a mut self, _prefix: &str, out: &mut Vec<NamedParam<'a, T>>) {
        // The block names its parts itself (module doc), whatever the
        // container's prefix.
        self.linear.collect_params(&self.path, out);
        let norm = self.norm_before.as_mut().or(self.norm_after.as_mut());
        if let Some(norm) = norm {
            norm.collect_params(&self.norm_path, out);
        }
    }

    fn collect_buffers<'a>(
        &'a mut self,
        _prefix: &str,
        out: &mut Vec<(String, &'a mut Matrix<T>)>,
    ) {
        let norm = self.norm_before.as_mut().or(self.norm_after.as_mut());
        if let Some(norm) = norm {
            norm.collect_buffers(&self.norm_path, out);
        }
    }

    fn collect_blocks<'a>(&'a self, out: &mut Vec<&'a dyn Block<T>>) {
        out.push(self);
    }

    fn collect_blocks_mut<'a>(&'a mut self, out: &mut Vec<&'a mut dyn Block<T>>) {
        out.push(self);
    }

    fn first_block_mut(&mut self) -> Option<&mut dyn Block<T>> {
        Some(self)
    }
}

impl<T: Scalar, A: Affine<T>> Block<T> for Dense<T, A> {
    fn path(&self) -> &str {
        &self.path
    }

    fn set_tap(&mut self, tap: Tap) {
        self.tap = tap;
        if !tap.is_on() {
            // No stale figures from an earlier tapped step.
            self.figures = Figures::default();
        }
        if let Some(act) = &mut self.activation {
            act.measure(tap.is_on());
        }
    }

    fn tap(&self) -> Tap {
        self.tap
    }

    fn figures(&self) -> &Figures {
        &self.figures
    }

    fn add_series(&mut self, series: Series) {
        self.figures.series.push(series);
    }

    fn weight(&self) -> &Param<T> {
        self.linear.weight()
    }
}

/// `z` at the activation's sample positions (for a block without one).
fn sample<T: Scalar>(z: &Matrix<T>) -> Vec<f64> {
    let stride = super::activation_layer::sample_stride(z.len(), z.cols());
    z.as_slice()
        .iter()
        .step_by(stride)
        .map(|v| v.as_f64())
        .collect()
}

/// The 15th, 50th and 85th percentiles (Ioffe & Szegedy's Figure 1).
fn quantiles(sample: &[f64]) -> [f64; 3] {
    percentiles(sample, &[0.15, 0.5, 0.85], usize::MAX)
        .try_into()
        .expect("three percentiles")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Activation, BatchNorm};

    fn wave(rows: usize, cols: usize, f: f64) -> Matrix<f64> {
        let v = (0..rows * cols).map(|i| (i as f64 * f).sin()).collect();
        Matrix::from_vec(rows, cols, v).unwrap()
    }

    /// Each figure is the statistics of the tensor it names, with the norm
    /// before the activation, after it, or absent; histograms in the
    /// stored order.
    #[test]
    fn figures_are_the_tensors_they_name() {
        for placement in [
            None,
            Some(NormPlacement::Before),
            Some(NormPlacement::After),
        ] {
            let mut linear = Linear::<f64>::new(5, 4, true);
            linear.weight.value = wave(4, 5, 0.9);
            let norm =
                placement.map(|_| Box::new(BatchNorm::new(4, 0.1, 1e-5)) as Box<dyn Layer<f64>>);
            let act = Some(ActivationLayer::new(Activation::Tanh));
            let at = placement.unwrap_or(NormPlacement::Before);
            let mut d = Dense::new(linear, norm, at, act, ("layers", 3));
            d.set_tap(Tap::Histograms);
            let (x, g) = (wave(6, 5, 0.37), wave(6, 4, 0.71));
            d.forward(&x, Mode::Train);
            d.backward(&x, &g, true, Grads::Overwrite);
            let f = d.figures().clone();
            let stats = |m: &Matrix<f64>| Some(tensor_stats(m.as_slice()));
            let act = d.activation.as_ref().unwrap();
            let dh = match &d.norm_after {
                Some(n) => n.input_grad(),
                None => &g,
            };
            let what = format!("{placement:?}");
            assert_eq!(f.pre, stats(d.pre()), "{what}");
            assert_eq!(f.out, stats(d.out()), "{what}");
            assert_eq!(f.out_grad, stats(dh), "{what}");
            assert_eq!(f.pre_grad, stats(act.input_grad()), "{what}");
            assert_eq!(f.weight, stats(&d.linear.weight.value), "{what}");
            assert_eq!(f.weight_grad, stats(&d.linear.weight.grad), "{what}");
            let bias = &d.linear.bias.as_ref().unwrap().grad;
            assert_eq!(f.bias_grad, stats(bias), "{what}");
            // z = tanh^-1(h) and BatchNorm's output differ: the norm sits
            // where the placement says.
            let bn_first = placement == Some(NormPlacement::Before);
            assert_eq!(d.pre() == d.linear.output(), !bn_first, "{what}");
            let kinds: Vec<_> = f.histograms.iter().map(|(t, _)| *t).collect();
            assert!(kinds.contains(&HistTensor::WeightGrad) && kinds.len() == 3);
            let names: Vec<_> = {
                let mut p = Vec::new();
                d.collect_params("ignored", &mut p);
                p.into_iter().map(|p| p.path).collect()
            };
            let mut want = vec!["layers.3.weight", "layers.3.bias"];
            match placement {
                Some(NormPlacement::Before) => want.extend(["layers.4.weight", "layers.4.bias"]),
                Some(NormPlacement::After) => want.extend(["layers.5.weight", "layers.5.bias"]),
                None => {}
            }
            assert_eq!(names, want);
        }
    }
}
