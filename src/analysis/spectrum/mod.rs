//! Input-output Jacobian spectra at initialization (Pennington, Schoenholz
//! & Ganguli 2017, "Resurrecting the sigmoid in deep learning through
//! dynamical isometry"; 2018, "The emergence of spectral universality in
//! deep networks").
//!
//! For a random MLP of width `N` and depth `L` ([`jacobian`]), the
//! eigenvalues `lambda_i` of `J J^T` (the squared singular values of `J`)
//! have
//!
//! - mean `tr(J J^T) / N = ||J||_F^2 / N`: `chi_1^L` in the mean-field
//!   limit, 1 at criticality;
//! - variance `tr((J J^T)^2) / N - mean^2`: at criticality, `L` for linear
//!   Gaussian weights, 0 for linear orthogonal ones (isometry), `2L` for
//!   ReLU with Gaussian weights at `sigma_w^2 = 2` and `L` for ReLU with
//!   orthogonal ones (Pennington et al. 2017, §2.4 and Table 1).
//!
//! Both moments are traces, so they cost two products per depth and no
//! eigen-solver; the singular values themselves (for the histogram) come
//! from [`symmetric_eigenvalues`] of `J J^T` at the deepest depth.

pub mod eigen;
pub mod jacobian;

pub use eigen::symmetric_eigenvalues;
pub use jacobian::WeightInit;

use crate::error::{Error, Result};
use crate::nn::{Activation, ModelConfig, ModelKind, Norm};
use crate::tensor::Init;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// What to measure: the net, and over which depths and draws.
#[derive(Clone, Debug, Serialize)]
pub struct SpectrumConfig {
    /// The nonlinearity.
    pub activation: Activation,
    /// How weights are drawn.
    pub init: WeightInit,
    /// `sigma_w^2` (weights' variance times the width).
    pub sigma_w2: f64,
    /// `sigma_b^2` (0: no bias, as in Pennington et al.'s table).
    pub sigma_b2: f64,
    /// The variance of each input unit (1: `x^0 ~ N(0, I)`). The first
    /// pre-activation's length is `sigma_w^2` times it plus `sigma_b^2`;
    /// Pennington et al. start at the fixed point, `(q* - sigma_b^2) /
    /// sigma_w^2`.
    pub input_variance: f64,
    /// Units per layer `N`.
    pub width: usize,
    /// The depths `L` to measure, ascending.
    pub depths: Vec<usize>,
    /// Random nets per depth, averaged.
    pub draws: usize,
    /// The seed of the first draw.
    pub seed: u64,
    /// Also compute the singular values at the deepest depth (an
    /// eigen-solve per draw).
    pub singular_values: bool,
}

impl SpectrumConfig {
    /// The spectrum of a run spec's model at initialization: its
    /// activation, width and init (orthogonal stays orthogonal, the
    /// uniform inits uniform, the rest Gaussian, each at its `sigma_w^2`
    /// and `sigma_b^2`, [`Init::sigma2`]), at `depths`. The hidden layers
    /// must be one width and plain: the Jacobian studied is the square
    /// hidden-to-hidden one of Pennington et al.
    pub fn of_model(
        model: &ModelConfig,
        depths: Vec<usize>,
        draws: usize,
        seed: u64,
    ) -> Result<Self> {
        let refuse = |reason: String| Error::InvalidConfig {
            field: "model".into(),
            reason,
        };
        if model.kind != ModelKind::Mlp || model.norm != Norm::None || model.residual_every != 0 {
            return Err(refuse(format!(
                "the Jacobian spectrum is for plain MLPs (no normalization, no residual \
                 blocks); this model is a {} with norm {} and residual_every {}",
                model.kind, model.norm, model.residual_every
            )));
        }
        let width = *model
            .widths
            .first()
            .ok_or_else(|| refuse("no hidden layer".into()))?;
        if model.widths.iter().any(|&w| w != width) {
            return Err(refuse(format!(
                "the Jacobian spectrum needs one width for every hidden layer, not {:?}",
                model.widths
            )));
        }
        let init = match model.init {
            Init::Orthogonal { .. } => WeightInit::Orthogonal,
            Init::Uniform { .. }
            | Init::Standard
            | Init::XavierUniform { .. }
            | Init::HeUniform { .. } => WeightInit::Uniform,
            _ => WeightInit::Gaussian,
        };
        let (sigma_w2, sigma_b2) = model
            .init
            .sigma2(width, width, model.activation.leaky_slope());
        Ok(Self {
            activation: model.activation,
            init,
            sigma_w2,
            sigma_b2: if model.bias { sigma_b2 } else { 0.0 },
            input_variance: 1.0,
            width,
            depths,
            draws,
            seed,
            singular_values: true,
        })
    }
}

/// The moments of `J J^T`'s eigenvalues at one depth, averaged over draws.
#[derive(Clone, Debug, Serialize)]
pub struct DepthMoments {
    /// `L`.
    pub depth: usize,
    /// Mean eigenvalue of `J J^T`.
    pub mean: f64,
    /// Variance of the eigenvalues of `J J^T`.
    pub variance: f64,
}

/// A measured spectrum.
#[derive(Clone, Debug, Serialize)]
pub struct Spectrum {
    /// What was measured.
    pub config: SpectrumConfig,
    /// Per depth.
    pub moments: Vec<DepthMoments>,
    /// Least-squares slope of the variance against depth, through the
    /// origin: `sum(L v) / sum(L^2)`.
    pub variance_slope: f64,
    /// The singular values of `J` at the deepest depth, all draws, ascending
    /// (empty unless asked for).
    pub singular_values: Vec<f64>,
    /// Their mean (`None` when not computed).
    pub mean_singular_value: Option<f64>,
}

/// Measures the spectrum `config` describes.
///
/// # Panics
/// If `depths` is empty or `width` or `draws` is 0.
pub fn measure(config: &SpectrumConfig) -> Spectrum {
    assert!(!config.depths.is_empty() && config.width > 0 && config.draws > 0);
    let n = config.width;
    let deepest = *config.depths.iter().max().unwrap();
    let mut sums = vec![(0.0, 0.0); config.depths.len()];
    let mut singular = Vec::new();
    for draw in 0..config.draws {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(draw as u64));
        let js = jacobian::jacobians(
            config.activation,
            config.init,
            config.sigma_w2,
            config.sigma_b2,
            config.input_variance,
            n,
            deepest,
            &mut rng,
        );
        for (k, &depth) in config.depths.iter().enumerate() {
            let j = &js[depth - 1];
            let m = jacobian::gram(j, n);
            let mean = m.iter().step_by(n + 1).sum::<f64>() / n as f64;
            let second = m.iter().map(|x| x * x).sum::<f64>() / n as f64;
            sums[k].0 += mean;
            sums[k].1 += second - mean * mean;
            if depth == deepest && config.singular_values && k == config.depths.len() - 1 {
                let eig = symmetric_eigenvalues(&m, n);
                singular.extend(eig.into_iter().map(|l| l.max(0.0).sqrt()));
            }
        }
    }
    let d = config.draws as f64;
    let moments: Vec<DepthMoments> = config
        .depths
        .iter()
        .zip(&sums)
        .map(|(&depth, &(m, v))| DepthMoments {
            depth,
            mean: m / d,
            variance: v / d,
        })
        .collect();
    let lv: f64 = moments.iter().map(|m| m.depth as f64 * m.variance).sum();
    let ll: f64 = moments.iter().map(|m| (m.depth as f64).powi(2)).sum();
    singular.sort_by(f64::total_cmp);
    let mean_singular_value =
        (!singular.is_empty()).then(|| singular.iter().sum::<f64>() / singular.len() as f64);
    Spectrum {
        config: config.clone(),
        moments,
        variance_slope: lv / ll,
        singular_values: singular,
        mean_singular_value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(activation: Activation, init: WeightInit, sigma_w2: f64) -> SpectrumConfig {
        SpectrumConfig {
            activation,
            init,
            sigma_w2,
            sigma_b2: 0.0,
            input_variance: 1.0,
            width: 200,
            depths: vec![1, 2, 4, 8],
            draws: 32,
            seed: 0,
            singular_values: false,
        }
    }

    /// Fits the variance's slope and checks every depth's mean.
    fn check_law(activation: Activation, init: WeightInit, sigma_w2: f64, slope: f64) {
        let s = measure(&config(activation, init, sigma_w2));
        let label = format!("{activation} {init}");
        if slope == 0.0 {
            assert!(
                s.variance_slope.abs() < 1e-12,
                "{label}: {}",
                s.variance_slope
            );
        } else {
            let ratio = s.variance_slope / slope;
            assert!(
                (ratio - 1.0).abs() < 0.25,
                "{label}: slope {}",
                s.variance_slope
            );
        }
        for m in &s.moments {
            assert!((m.mean - 1.0).abs() < 0.15, "{label}: {m:?}");
        }
    }

    #[test]
    fn a_models_spectrum_config_keeps_its_init_family_and_variance() {
        let model = ModelConfig::new(784, 10)
            .depth(5, 300)
            .activation(Activation::Tanh)
            .init(Init::Standard);
        let c = SpectrumConfig::of_model(&model, vec![1, 5], 2, 0).unwrap();
        assert_eq!(
            (c.init, c.width, c.activation),
            (WeightInit::Uniform, 300, Activation::Tanh)
        );
        assert!((c.sigma_w2 - 1.0 / 3.0).abs() < 1e-12 && c.sigma_b2 == 0.0);
        let ortho = model.clone().init(Init::Orthogonal { gain: 1.0 });
        let c = SpectrumConfig::of_model(&ortho, vec![1], 2, 0).unwrap();
        assert_eq!((c.init, c.sigma_w2), (WeightInit::Orthogonal, 1.0));
        let mut uneven = model.clone();
        uneven.widths[2] = 50;
        let e = SpectrumConfig::of_model(&uneven, vec![1], 2, 0).unwrap_err();
        assert!(e.to_string().contains("one width"), "{e}");
        let bn = model.norm(Norm::Batch, crate::nn::NormPlacement::Before);
        assert!(SpectrumConfig::of_model(&bn, vec![1], 2, 0).is_err());
    }

    // Width 200, 32 draws (width 400 is in docs/THEORY.md). Fitted slopes
    // over seeds 0, 1000, ..., 4000: linear Gaussian 1.01-1.05, ReLU
    // Gaussian 1.98-2.39, ReLU orthogonal 1.01-1.14; seed 0 below.

    #[test]
    fn linear_gaussian_variance_grows_like_depth() {
        check_law(Activation::Identity, WeightInit::Gaussian, 1.0, 1.0);
    }

    #[test]
    fn linear_orthogonal_is_an_isometry() {
        check_law(Activation::Identity, WeightInit::Orthogonal, 1.0, 0.0);
    }

    #[test]
    fn relu_gaussian_variance_grows_like_twice_depth() {
        check_law(Activation::Relu, WeightInit::Gaussian, 2.0, 2.0);
    }

    #[test]
    fn relu_orthogonal_variance_grows_like_depth() {
        check_law(Activation::Relu, WeightInit::Orthogonal, 2.0, 1.0);
    }

    #[test]
    fn relu_at_sigma_w2_one_loses_half_the_mean_per_layer() {
        // chi_1 = sigma_w^2 / 2: the mean is 2^-L, not 1, off criticality.
        let s = measure(&SpectrumConfig {
            draws: 4,
            ..config(Activation::Relu, WeightInit::Orthogonal, 1.0)
        });
        for m in &s.moments {
            let want = 0.5f64.powi(m.depth as i32);
            assert!((m.mean / want - 1.0).abs() < 0.15, "{m:?}");
        }
    }

    #[test]
    fn glorot_standard_init_shrinks_singular_values_more_than_normalized() {
        // One tanh layer, width 200, input N(0, I): uniform with
        // sigma_w^2 = 1/3 ("standard") against 1 (normalized). The weights
        // alone would give sqrt(sigma_w^2) 8 / (3 pi) = 0.49 and 0.85; tanh'
        // shrinks both, the wider pre-activations of the normalized init
        // more. Measured 0.395 and 0.547 (Glorot & Bengio: about 0.5 and
        // 0.8 at width 1000, inside their trained-from-data net).
        let one = |sigma_w2: f64| {
            let c = SpectrumConfig {
                activation: Activation::Tanh,
                init: WeightInit::Uniform,
                depths: vec![1],
                draws: 1,
                singular_values: true,
                ..config(Activation::Tanh, WeightInit::Uniform, sigma_w2)
            };
            measure(&c).mean_singular_value.unwrap()
        };
        let (standard, normalized) = (one(1.0 / 3.0), one(1.0));
        assert!(standard > 0.35 && standard < 0.45, "{standard}");
        assert!(normalized > 0.5 && normalized < 0.6, "{normalized}");
    }
}
