//! Mean-field signal propagation at initialization: what theory predicts
//! for a deep fully connected net before it trains.
//!
//! A net `h^l = W^l phi(h^{l-1}) + b^l` with `W_ij ~ N(0, sigma_w^2 / N)` and
//! `b_i ~ N(0, sigma_b^2)`, in the limit of infinite width, propagates
//! (Poole et al. 2016, "Exponential expressivity in deep neural networks
//! through transient chaos"; Schoenholz et al. 2017, "Deep information
//! propagation"):
//!
//! - the **length** `q^l = E[(h_i^l)^2]` through the length map
//!   `q^l = sigma_w^2 E[phi(sqrt(q^{l-1}) z)^2] + sigma_b^2`, to a fixed
//!   point `q*` ([`length`]);
//! - the **correlation** `c^l` of two inputs through the correlation map,
//!   to a fixed point `c*` ([`correlation`]);
//! - the **gradient**: `E||dL/dh^l||^2 = chi_1 E||dL/dh^{l+1}||^2` with
//!   `chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]`, so over `L` layers the
//!   squared gradient norm scales by `chi_1^L` ([`Prediction`]).
//!
//! `chi_1 = 1` is the edge of chaos (criticality): the depth scales
//! `xi_c = -1 / ln chi_c` and `xi_grad = -1 / ln chi_1` diverge there, and
//! Schoenholz et al. find nets trainable up to about `6 xi_c` layers.
//! [`critical_sigma_w2`] finds that `sigma_w^2` for a given `sigma_b^2`.
//!
//! Expectations over one Gaussian are Gauss-Hermite sums in f64
//! ([`GaussHermite`]); over a correlated pair, a polar rule whose cells
//! end at the activations' kinks ([`polar`]).

pub mod correlation;
pub mod length;
pub mod polar;
pub mod prediction;
pub mod quadrature;

pub use length::FixedPoint;
pub use prediction::{critical_sigma_w2, Phase, Prediction};
pub use quadrature::GaussHermite;

use crate::nn::{Activation, ModelConfig, ModelKind, Norm};

/// Nodes of the one-dimensional rule (even, so a kink at 0 is seen
/// symmetrically and `E[relu(z)^2]`, `E[relu'(z)^2]` are exact; our
/// choice).
pub const NODES_1D: usize = 128;

/// A mean-field net: the activation and the weight and bias variances.
#[derive(Clone, Debug)]
pub struct MeanField {
    /// The nonlinearity `phi`.
    pub activation: Activation,
    /// `sigma_w^2`: weights are drawn with variance `sigma_w^2 / fan_in`.
    pub sigma_w2: f64,
    /// `sigma_b^2`: the biases' variance.
    pub sigma_b2: f64,
    gh1: GaussHermite,
}

impl MeanField {
    /// The net with these variances, with the default quadrature sizes.
    pub fn new(activation: Activation, sigma_w2: f64, sigma_b2: f64) -> Self {
        Self {
            activation,
            sigma_w2,
            sigma_b2,
            gh1: GaussHermite::new(NODES_1D),
        }
    }

    /// The mean-field net a model is at initialization, where the theory
    /// applies: a plain MLP (no normalization, no residual blocks) of at
    /// least two hidden layers, with the `sigma_w^2`, `sigma_b^2` of its
    /// second hidden layer's init ([`crate::tensor::Init::sigma2`]).
    /// `None` for any other model.
    pub fn of_model(model: &ModelConfig) -> Option<Self> {
        let plain = model.kind == ModelKind::Mlp
            && model.norm == Norm::None
            && model.residual_every == 0
            && model.widths.len() >= 2;
        plain.then(|| {
            let slope = model.activation.leaky_slope();
            let (w2, b2) = model.init.sigma2(model.widths[0], model.widths[1], slope);
            let b2 = if model.bias { b2 } else { 0.0 };
            Self::new(model.activation, w2, b2)
        })
    }

    /// The same net at another `sigma_w^2` (the quadrature rules are kept).
    pub fn with_sigma_w2(&self, sigma_w2: f64) -> Self {
        Self {
            sigma_w2,
            ..self.clone()
        }
    }

    /// Everything the theory predicts for this net.
    pub fn predict(&self) -> Prediction {
        Prediction::of(self)
    }
}

/// `phi(x)` and `phi'(x)` over a slice, through the layer's own loops.
fn value_and_derivative(activation: Activation, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut y = vec![0.0; x.len()];
    activation.forward_slice(x, &mut y);
    let ones = vec![1.0; x.len()];
    let mut d = vec![0.0; x.len()];
    activation.backward_slice(x, &y, &ones, &mut d);
    (y, d)
}
