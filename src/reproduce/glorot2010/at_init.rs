//! Glorot & Bengio's measurements at initialization, per hidden layer of a
//! tanh MLP fed with a batch of real inputs (their section 4.2.2, Figures
//! 6 and 7):
//!
//! - the standard deviation of each layer's activations `h_l`, over every
//!   unit and example of the batch;
//! - the standard deviation of the back-propagated gradient at each
//!   layer's pre-activation, `dL/dz_l` (the probe's `pre_grad`), for the
//!   cross-entropy of the untrained net on the batch's labels;
//! - the mean singular value of each layer's Jacobian at the activations
//!   the data drive, `J_l = dh_l / dh_{l-1} = diag(f'(z_l)) W_l`, averaged
//!   over a few examples. Its singular values are the square roots of the
//!   eigenvalues of `J_l J_l^T = D (W_l W_l^T) D` with `D = diag(f'(z_l))`,
//!   so `W_l W_l^T` is formed once per layer and each example costs one
//!   scaling and one `O(n^3)` eigen-solve.
//!
//! The two standard deviations come from the net's own probe (one tapped
//! forward and backward); the Jacobians from a forward pass in f64 of the
//! same weights, one example at a time.

use crate::analysis::spectrum::symmetric_eigenvalues;
use crate::error::{Error, Result};
use crate::nn::{Activation, Loss, Mode, ModelConfig, Targets};
use crate::probe::Tap;
use crate::tensor::{matmul, Init, Matrix, Op};

/// One hidden layer's figures at initialization.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerAtInit {
    /// Standard deviation of the activations `h_l`.
    pub activation_std: f64,
    /// Standard deviation of `dL/dz_l`.
    pub pre_grad_std: f64,
    /// Mean singular value of `dh_l / dh_{l-1}`; `None` for the first
    /// layer, whose input is the data, not a layer.
    pub jacobian: Option<f64>,
}

/// What to measure: the net and how many examples the Jacobians average.
#[derive(Clone, Debug)]
pub struct AtInitConfig {
    /// Hidden layers.
    pub depth: usize,
    /// Units per hidden layer.
    pub width: usize,
    /// The nonlinearity.
    pub activation: Activation,
    /// Examples (the batch's first) whose Jacobians are averaged.
    pub jacobian_examples: usize,
    /// The weights' seed.
    pub seed: u64,
}

/// Measures every hidden layer of the net `config` describes, initialized
/// with `init`, on the batch `x` (`n x features`) with `labels`.
///
/// # Errors
/// A model that does not build (a width of 0), or a batch with fewer rows
/// than `jacobian_examples`.
pub fn measure(
    config: &AtInitConfig,
    init: Init,
    x: &Matrix<f32>,
    labels: &[usize],
    classes: usize,
) -> Result<Vec<LayerAtInit>> {
    if x.rows() < config.jacobian_examples || x.rows() != labels.len() {
        return Err(Error::InvalidConfig {
            field: "glorot2010 batch".into(),
            reason: format!(
                "{} rows and {} labels for {} Jacobian examples",
                x.rows(),
                labels.len(),
                config.jacobian_examples
            ),
        });
    }
    let model = ModelConfig::new(x.cols(), classes)
        .depth(config.depth, config.width)
        .activation(config.activation)
        .init(init);
    let mut mlp = model.build::<f32>(config.seed)?;
    mlp.set_tap(Tap::Scalars);
    let logits = mlp.forward(x, Mode::Train).clone();
    let mut grad = Matrix::default();
    Loss::CrossEntropy.compute(&logits, Targets::Classes(labels), &mut grad);
    mlp.backward(x, &grad);
    let stds: Vec<(f64, f64)> = mlp
        .blocks()
        .iter()
        .take(config.depth)
        .map(|b| {
            let f = b.figures();
            let std =
                |s: &Option<crate::probe::TensorStats>| s.as_ref().map_or(f64::NAN, |s| s.std());
            (std(&f.out), std(&f.pre_grad))
        })
        .collect();
    let layers = hidden_layers(&mut mlp, config.depth);
    let jacobians = mean_singular_values(&layers, config.activation, x, config.jacobian_examples);
    Ok(stds
        .into_iter()
        .zip(jacobians)
        .map(|((activation_std, pre_grad_std), jacobian)| LayerAtInit {
            activation_std,
            pre_grad_std,
            jacobian,
        })
        .collect())
}

/// A hidden layer's weight (`out x in`) and bias, in f64.
struct Affine64 {
    weight: Matrix<f64>,
    bias: Vec<f64>,
}

/// The first `depth` layers' weights and biases, found by their paths
/// (`layers.0.weight`, ...).
fn hidden_layers(mlp: &mut crate::nn::Mlp<f32>, depth: usize) -> Vec<Affine64> {
    let paths: Vec<String> = mlp.layer_paths().into_iter().take(depth).collect();
    let params = mlp.params();
    let find = |name: String| {
        params
            .iter()
            .find(|p| p.path == name)
            .map(|p| p.param.value.cast::<f64>())
    };
    paths
        .into_iter()
        .map(|path| {
            let weight = find(format!("{path}.weight")).expect("a hidden layer has a weight");
            let bias = find(format!("{path}.bias"))
                .map_or_else(|| vec![0.0; weight.rows()], |b| b.as_slice().to_vec());
            Affine64 { weight, bias }
        })
        .collect()
}

/// Each layer's mean singular value of `diag(f'(z_l)) W_l` over the first
/// `examples` rows of `x` (`None` for the first layer).
fn mean_singular_values(
    layers: &[Affine64],
    f: Activation,
    x: &Matrix<f32>,
    examples: usize,
) -> Vec<Option<f64>> {
    let grams: Vec<Option<Matrix<f64>>> = layers
        .iter()
        .enumerate()
        .map(|(l, a)| (l > 0 && examples > 0).then(|| gram(&a.weight)))
        .collect();
    let mut sums = vec![0.0; layers.len()];
    for r in 0..examples {
        let mut h: Vec<f64> = x.row(r).iter().map(|&v| f64::from(v)).collect();
        for (l, a) in layers.iter().enumerate() {
            let z = affine(a, &h);
            if let Some(g) = &grams[l] {
                let d: Vec<f64> = z.iter().map(|&v| f.derivative(v)).collect();
                sums[l] += mean_singular_value(g, &d);
            }
            h = z.iter().map(|&v| f.value(v)).collect();
        }
    }
    grams
        .iter()
        .zip(sums)
        .map(|(g, s)| g.as_ref().map(|_| s / examples as f64))
        .collect()
}

/// `W h + b`.
fn affine(a: &Affine64, h: &[f64]) -> Vec<f64> {
    (0..a.weight.rows())
        .map(|i| {
            let row = a.weight.row(i);
            a.bias[i] + row.iter().zip(h).map(|(w, v)| w * v).sum::<f64>()
        })
        .collect()
}

/// `W W^T` (`out x out`).
fn gram(w: &Matrix<f64>) -> Matrix<f64> {
    let mut g = Matrix::zeros(w.rows(), w.rows());
    matmul(&mut g, false, 1.0, w, Op::N, w, Op::T);
    g
}

/// The mean singular value of `diag(d) W`, given `W W^T`: the mean square
/// root of the eigenvalues of `diag(d) W W^T diag(d)`.
pub fn mean_singular_value(gram: &Matrix<f64>, d: &[f64]) -> f64 {
    let n = gram.rows();
    assert_eq!(
        (gram.cols(), d.len()),
        (n, n),
        "a square Gram matrix per unit"
    );
    let mut m = gram.as_slice().to_vec();
    for i in 0..n {
        for j in 0..n {
            m[i * n + j] *= d[i] * d[j];
        }
    }
    let eig = symmetric_eigenvalues(&m, n);
    eig.iter().map(|l| l.max(0.0).sqrt()).sum::<f64>() / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_values_of_a_scaled_diagonal_and_a_rotation() {
        // W = diag(3, 4): singular values of diag(d) W are |d_i| w_i.
        let g = Matrix::from_rows(&[vec![9.0, 0.0], vec![0.0, 16.0]]);
        let s = mean_singular_value(&g, &[0.5, 0.25]);
        assert!((s - (1.5 + 1.0) / 2.0).abs() < 1e-12, "{s}");
        // W a rotation by 30 degrees: W W^T = I, so diag(d) W has the
        // singular values |d_i| whatever the rotation.
        let g = Matrix::from_rows(&[vec![1.0, 0.0], vec![0.0, 1.0]]);
        let s = mean_singular_value(&g, &[0.8, -0.2]);
        assert!((s - 0.5).abs() < 1e-12, "{s}");
    }

    #[test]
    fn the_gram_matrix_holds_the_singular_values_of_a_full_matrix() {
        // W = [[1, 1], [0, 1]]: W W^T = [[2, 1], [1, 1]], eigenvalues
        // (3 +- sqrt 5) / 2, singular values (sqrt 5 +- 1) / 2, mean sqrt(5)/2.
        let w = Matrix::from_rows(&[vec![1.0, 1.0], vec![0.0, 1.0]]);
        let g = gram(&w);
        assert_eq!(g.as_slice(), &[2.0, 1.0, 1.0, 1.0]);
        let s = mean_singular_value(&g, &[1.0, 1.0]);
        assert!((s - 5f64.sqrt() / 2.0).abs() < 1e-12, "{s}");
    }

    fn batch(n: usize, d: usize) -> (Matrix<f32>, Vec<usize>) {
        let x = Matrix::from_vec(
            n,
            d,
            (0..n * d)
                .map(|i| ((i * 37 % 101) as f32) / 101.0)
                .collect(),
        )
        .unwrap();
        (x, (0..n).map(|i| i % 3).collect())
    }

    #[test]
    fn standard_init_shrinks_the_activations_and_normalized_keeps_them() {
        let (x, labels) = batch(32, 64);
        let config = AtInitConfig {
            depth: 4,
            width: 64,
            activation: Activation::Tanh,
            jacobian_examples: 2,
            seed: 0,
        };
        let standard = measure(&config, Init::Standard, &x, &labels, 3).unwrap();
        let normalized =
            measure(&config, Init::XavierUniform { gain: 1.0 }, &x, &labels, 3).unwrap();
        let ratio = |m: &[LayerAtInit]| m[3].activation_std / m[0].activation_std;
        // sigma_w^2 = 1/3 per layer: about sqrt(1/3)^3 = 0.19 over 3 layers.
        assert!(ratio(&standard) < 0.4, "{standard:?}");
        assert!(ratio(&normalized) > 0.6, "{normalized:?}");
        assert_eq!(standard[0].jacobian, None);
        let (js, jn) = (
            standard[2].jacobian.unwrap(),
            normalized[2].jacobian.unwrap(),
        );
        assert!(js < jn && js > 0.2 && jn < 1.0, "{js} {jn}");
        // The gradient shrinks toward the input with the standard init.
        assert!(
            standard[0].pre_grad_std < standard[3].pre_grad_std,
            "{standard:?}"
        );
    }

    #[test]
    fn too_few_rows_for_the_jacobians_is_refused() {
        let (x, labels) = batch(2, 8);
        let config = AtInitConfig {
            depth: 2,
            width: 8,
            activation: Activation::Tanh,
            jacobian_examples: 3,
            seed: 0,
        };
        assert!(measure(&config, Init::Standard, &x, &labels, 3).is_err());
    }
}
