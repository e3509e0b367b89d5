//! Finite-difference gradient checks in f64.
//!
//! For a layer, the objective is `L = sum(y * R)` with a fixed random `R`,
//! so `dL/dy = R`; for a network it is its loss. Each analytic gradient is
//! compared with central differences `(L(p + h) - L(p - h)) / 2h`,
//! `h = 1e-6`, whose error is `O(h^2)` plus rounding `O(eps L / h)`, about
//! 1e-10 relative here. The reported error of a tensor is
//! `max |analytic - numeric| / max(max |numeric|, 1e-3)` (max-norm relative
//! error, see [`SCALE_FLOOR`]), so entries that are nearly zero do not
//! inflate it.

use crate::nn::{Grads, Layer, Loss, Mlp, Mode, Targets};
use crate::tensor::Matrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Step of the central differences.
pub const STEP: f64 = 1e-6;

/// Below this gradient scale the error is taken relative to the floor, so a
/// gradient that is structurally zero (a bias before BatchNorm) is judged by
/// its absolute error against the differences' rounding noise (~1e-10).
pub const SCALE_FLOOR: f64 = 1e-3;

/// The relative error of one checked tensor.
#[derive(Clone, Debug)]
pub struct TensorCheck {
    /// `input` or the parameter path.
    pub name: String,
    /// Max-norm relative error.
    pub rel_error: f64,
    /// Largest |numeric| entry (to tell a vanished gradient from a bug).
    pub scale: f64,
}

/// Every tensor checked, and the worst error.
#[derive(Clone, Debug, Default)]
pub struct GradCheckReport {
    /// One entry per tensor.
    pub tensors: Vec<TensorCheck>,
}

impl GradCheckReport {
    /// The largest relative error over all tensors.
    pub fn max_rel_error(&self) -> f64 {
        self.tensors.iter().map(|t| t.rel_error).fold(0.0, f64::max)
    }

    /// The worst tensor, for error messages.
    pub fn worst(&self) -> Option<&TensorCheck> {
        self.tensors
            .iter()
            .max_by(|a, b| a.rel_error.total_cmp(&b.rel_error))
    }

    fn push(&mut self, name: String, analytic: &[f64], numeric: &[f64]) {
        let scale = numeric.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let diff = analytic
            .iter()
            .zip(numeric)
            .fold(0.0f64, |m, (a, n)| m.max((a - n).abs()));
        let rel_error = diff / scale.max(SCALE_FLOOR);
        self.tensors.push(TensorCheck {
            name,
            rel_error,
            scale,
        });
    }
}

fn objective(y: &Matrix<f64>, r: &Matrix<f64>) -> f64 {
    y.as_slice()
        .iter()
        .zip(r.as_slice())
        .map(|(a, b)| a * b)
        .sum()
}

/// Checks a layer's input gradient and every parameter gradient at `x`.
pub fn check_layer(
    layer: &mut dyn Layer<f64>,
    x: &Matrix<f64>,
    mode: Mode,
    seed: u64,
) -> GradCheckReport {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let out_shape = layer.forward(x, mode).shape();
    let r_data = (0..out_shape.0 * out_shape.1)
        .map(|_| rng.gen_range(-1.0..1.0))
        .collect();
    let r = Matrix::from_vec(out_shape.0, out_shape.1, r_data).expect("shape");
    for p in params_of(layer) {
        p.param.grad.fill(0.0);
    }
    layer.forward(x, mode);
    layer.backward(x, &r, true, Grads::Accumulate);
    let mut report = GradCheckReport::default();

    let analytic = layer.input_grad().as_slice().to_vec();
    let mut xp = x.clone();
    let mut numeric = vec![0.0; x.len()];
    for (i, n) in numeric.iter_mut().enumerate() {
        let orig = xp.as_slice()[i];
        xp.as_mut_slice()[i] = orig + STEP;
        let plus = objective(layer.forward(&xp, mode), &r);
        xp.as_mut_slice()[i] = orig - STEP;
        let minus = objective(layer.forward(&xp, mode), &r);
        xp.as_mut_slice()[i] = orig;
        *n = (plus - minus) / (2.0 * STEP);
    }
    report.push("input".into(), &analytic, &numeric);

    let count = params_of(layer).len();
    for k in 0..count {
        let (name, analytic, len) = {
            let ps = params_of(layer);
            let p = &ps[k];
            (
                p.path.clone(),
                p.param.grad.as_slice().to_vec(),
                p.param.value.len(),
            )
        };
        let mut numeric = vec![0.0; len];
        for (i, n) in numeric.iter_mut().enumerate() {
            let mut eval = |delta: f64| {
                let orig = nudge(layer, k, i, delta);
                let v = objective(layer.forward(x, mode), &r);
                set(layer, k, i, orig);
                v
            };
            *n = (eval(STEP) - eval(-STEP)) / (2.0 * STEP);
        }
        report.push(name, &analytic, &numeric);
    }
    report
}

/// Checks every parameter gradient of an MLP under `loss`, at most
/// `max_entries` entries per tensor (chosen evenly), with the batch `x`.
pub fn check_mlp(
    mlp: &mut Mlp<f64>,
    x: &Matrix<f64>,
    targets: Targets<'_, f64>,
    loss: Loss,
    max_entries: usize,
) -> GradCheckReport {
    let mut grad = Matrix::default();
    mlp.zero_grad();
    let out = mlp.forward(x, Mode::Train).clone();
    loss.compute(&out, targets, &mut grad);
    mlp.backward(x, &grad);
    let mut report = GradCheckReport::default();
    let mut scratch = Matrix::default();
    let names: Vec<(String, Vec<f64>)> = mlp
        .params()
        .iter()
        .map(|p| (p.path.clone(), p.param.grad.as_slice().to_vec()))
        .collect();
    for (k, (name, analytic)) in names.into_iter().enumerate() {
        let stride = analytic.len().div_ceil(max_entries.max(1));
        let idx: Vec<usize> = (0..analytic.len()).step_by(stride.max(1)).collect();
        let mut numeric = Vec::with_capacity(idx.len());
        for &i in &idx {
            let mut eval = |delta: f64| {
                let orig = {
                    let mut ps = mlp.params();
                    let v = &mut ps[k].param.value.as_mut_slice()[i];
                    let orig = *v;
                    *v = orig + delta;
                    orig
                };
                let out = mlp.forward(x, Mode::Train);
                let l = loss.compute(out, targets, &mut scratch);
                mlp.params()[k].param.value.as_mut_slice()[i] = orig;
                l
            };
            numeric.push((eval(STEP) - eval(-STEP)) / (2.0 * STEP));
        }
        let analytic: Vec<f64> = idx.iter().map(|&i| analytic[i]).collect();
        report.push(name, &analytic, &numeric);
    }
    report
}

fn params_of(layer: &mut dyn Layer<f64>) -> Vec<crate::nn::NamedParam<'_, f64>> {
    let mut out = Vec::new();
    layer.collect_params("", &mut out);
    out
}

fn nudge(layer: &mut dyn Layer<f64>, k: usize, i: usize, delta: f64) -> f64 {
    let mut ps = params_of(layer);
    let v = &mut ps[k].param.value.as_mut_slice()[i];
    let orig = *v;
    *v = orig + delta;
    orig
}

fn set(layer: &mut dyn Layer<f64>, k: usize, i: usize, value: f64) {
    params_of(layer)[k].param.value.as_mut_slice()[i] = value;
}
