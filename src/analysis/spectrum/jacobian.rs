//! The input-output Jacobian of a random MLP at initialization, in f64.
//!
//! `h^l = W^l x^{l-1} + b^l`, `x^l = phi(h^l)`, so
//! `J = dx^L / dx^0 = D^L W^L ... D^1 W^1` with `D^l = diag(phi'(h^l))`,
//! built layer by layer as `J^l = D^l W^l J^{l-1}`, for a random input
//! `x^0 ~ N(0, I)`. Square layers of width `N`.

use crate::nn::Activation;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// How the weights are drawn, all with variance `sigma_w^2 / N` per entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightInit {
    /// `W_ij ~ N(0, sigma_w^2 / N)`.
    Gaussian,
    /// `W = sqrt(sigma_w^2) Q`, `Q` Haar-orthogonal (QR of a Gaussian).
    Orthogonal,
    /// `W_ij ~ U[-a, a]`, `a = sqrt(3 sigma_w^2 / N)` (Glorot & Bengio's
    /// "standard" init is `sigma_w^2 = 1/3`, their normalized one 1).
    Uniform,
}

impl fmt::Display for WeightInit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WeightInit::Gaussian => "gaussian",
            WeightInit::Orthogonal => "orthogonal",
            WeightInit::Uniform => "uniform",
        })
    }
}

impl FromStr for WeightInit {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "gaussian" => Ok(WeightInit::Gaussian),
            "orthogonal" => Ok(WeightInit::Orthogonal),
            "uniform" => Ok(WeightInit::Uniform),
            _ => Err(crate::Error::UnknownName {
                what: "weight init",
                name: s.to_string(),
                expected: "gaussian, orthogonal, uniform".to_string(),
            }),
        }
    }
}

/// A square matrix, row-major.
pub type Square = Vec<f64>;

/// A weight matrix of `n x n` drawn by `init`.
pub fn draw_weights(init: WeightInit, sigma_w2: f64, n: usize, rng: &mut impl Rng) -> Square {
    let mut gauss = || -> f64 { StandardNormal.sample(rng) };
    match init {
        WeightInit::Gaussian => {
            let s = (sigma_w2 / n as f64).sqrt();
            (0..n * n).map(|_| s * gauss()).collect()
        }
        WeightInit::Orthogonal => {
            let g: Square = (0..n * n).map(|_| gauss()).collect();
            let mut q = orthonormal_columns(g, n);
            q.iter_mut().for_each(|x| *x *= sigma_w2.sqrt());
            q
        }
        WeightInit::Uniform => {
            let a = (3.0 * sigma_w2 / n as f64).sqrt();
            (0..n * n).map(|_| rng.gen_range(-a..a)).collect()
        }
    }
}

/// `Q` of the QR factorization of `g` by modified Gram-Schmidt (twice, for
/// orthogonality to rounding): `R`'s diagonal is positive, so `Q` of a
/// Gaussian `g` is Haar-distributed (Mezzadri 2007).
fn orthonormal_columns(mut g: Square, n: usize) -> Square {
    for j in 0..n {
        for _ in 0..2 {
            for k in 0..j {
                let dot: f64 = (0..n).map(|i| g[i * n + j] * g[i * n + k]).sum();
                for i in 0..n {
                    g[i * n + j] -= dot * g[i * n + k];
                }
            }
        }
        let norm = (0..n).map(|i| g[i * n + j].powi(2)).sum::<f64>().sqrt();
        for i in 0..n {
            g[i * n + j] /= norm;
        }
    }
    g
}

/// `a b` for `n x n` matrices (matrixmultiply's f64 kernel).
pub fn matmul(a: &[f64], b: &[f64], n: usize) -> Square {
    product(a, (n as isize, 1), b, (n as isize, 1), n)
}

/// `a a^T` for an `n x n` matrix.
pub fn gram(a: &[f64], n: usize) -> Square {
    product(a, (n as isize, 1), a, (1, n as isize), n)
}

/// `A B` where `A` and `B` are read from `a` and `b` with (row, column)
/// strides `sa` and `sb`.
fn product(a: &[f64], sa: (isize, isize), b: &[f64], sb: (isize, isize), n: usize) -> Square {
    assert!(a.len() >= n * n && b.len() >= n * n);
    let mut c = vec![0.0; n * n];
    // SAFETY: `a` and `b` hold `n * n` elements (asserted) and every stride
    // pair given here (n, 1) or (1, n) stays inside them for indices below
    // `n`; `c` is a fresh `n x n` row-major buffer.
    unsafe {
        matrixmultiply::dgemm(
            n,
            n,
            n,
            1.0,
            a.as_ptr(),
            sa.0,
            sa.1,
            b.as_ptr(),
            sb.0,
            sb.1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
    c
}

/// The Jacobians `J^1, ..., J^L` of one random net of `depth` layers, at
/// an input of `n` independent `N(0, input_variance)` units.
#[allow(clippy::too_many_arguments)]
pub fn jacobians(
    activation: Activation,
    init: WeightInit,
    sigma_w2: f64,
    sigma_b2: f64,
    input_variance: f64,
    n: usize,
    depth: usize,
    rng: &mut impl Rng,
) -> Vec<Square> {
    let scale = input_variance.sqrt();
    let mut x: Vec<f64> = (0..n)
        .map(|_| {
            let z: f64 = StandardNormal.sample(rng);
            scale * z
        })
        .collect();
    let mut j: Square = (0..n * n)
        .map(|k| if k / n == k % n { 1.0 } else { 0.0 })
        .collect();
    let mut out = Vec::with_capacity(depth);
    for _ in 0..depth {
        let w = draw_weights(init, sigma_w2, n, rng);
        let h: Vec<f64> = (0..n)
            .map(|i| {
                let b: f64 = StandardNormal.sample(rng);
                let wx: f64 = w[i * n..(i + 1) * n]
                    .iter()
                    .zip(&x)
                    .map(|(w, x)| w * x)
                    .sum();
                wx + sigma_b2.sqrt() * b
            })
            .collect();
        let mut y = vec![0.0; n];
        activation.forward_slice(&h, &mut y);
        let mut d = vec![0.0; n];
        activation.backward_slice(&h, &y, &vec![1.0; n], &mut d);
        j = matmul(&w, &j, n);
        for (i, di) in d.iter().enumerate() {
            j[i * n..(i + 1) * n].iter_mut().for_each(|v| *v *= di);
        }
        out.push(j.clone());
        x = y;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn the_products_match_the_naive_loops() {
        let n = 7;
        let a: Vec<f64> = (0..n * n).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..n * n).map(|i| (i as f64 * 0.71).cos()).collect();
        let (ab, aat) = (matmul(&a, &b, n), gram(&a, n));
        for i in 0..n {
            for j in 0..n {
                let want: f64 = (0..n).map(|k| a[i * n + k] * b[k * n + j]).sum();
                assert!((ab[i * n + j] - want).abs() < 1e-12);
                let want: f64 = (0..n).map(|k| a[i * n + k] * a[j * n + k]).sum();
                assert!((aat[i * n + j] - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn orthogonal_weights_are_orthogonal_up_to_their_scale() {
        let n = 40;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let w = draw_weights(WeightInit::Orthogonal, 2.0, n, &mut rng);
        let wwt = gram(&w, n);
        for i in 0..n {
            for j in 0..n {
                let want = if i == j { 2.0 } else { 0.0 };
                assert!((wwt[i * n + j] - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn every_init_has_variance_sigma_w2_over_n() {
        let n = 200;
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for init in [
            WeightInit::Gaussian,
            WeightInit::Orthogonal,
            WeightInit::Uniform,
        ] {
            let w = draw_weights(init, 1.5, n, &mut rng);
            let var = w.iter().map(|x| x * x).sum::<f64>() / (n * n) as f64;
            assert!((var * n as f64 / 1.5 - 1.0).abs() < 0.02, "{init}: {var}");
        }
    }

    #[test]
    fn a_linear_jacobian_is_the_product_of_the_weights() {
        // With identity activations, J^2 = W^2 W^1: check against a
        // second draw from the same seed.
        let n = 6;
        let js = jacobians(
            Activation::Identity,
            WeightInit::Gaussian,
            1.0,
            0.0,
            1.0,
            n,
            2,
            &mut ChaCha8Rng::seed_from_u64(3),
        );
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let _x: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
        let w1 = draw_weights(WeightInit::Gaussian, 1.0, n, &mut rng);
        (0..n).for_each(|_| {
            let _: f64 = StandardNormal.sample(&mut rng);
        });
        let w2 = draw_weights(WeightInit::Gaussian, 1.0, n, &mut rng);
        let want = matmul(&w2, &w1, n);
        assert!(js[1].iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-14));
        assert!(js[0].iter().zip(&w1).all(|(a, b)| (a - b).abs() < 1e-14));
    }
}
