//! The length map, its fixed point `q*`, `chi_1` and the depth scale `xi_q`.
//!
//! - length map: `L(q) = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2`,
//!   `z ~ N(0, 1)` (Poole et al. 2016, eq. 3);
//! - `q*` is the stable fixed point `L(q*) = q*`, reached by iterating the
//!   map from `q = 1` (as a net does layer by layer);
//! - `chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]` (Poole et al. 2016, eq. 7;
//!   Schoenholz et al. 2017, eq. 5);
//! - the slope of the map at `q*` is
//!   `L'(q*) = sigma_w^2 E[phi(sqrt(q*) z) phi'(sqrt(q*) z) z] / sqrt(q*)`,
//!   which by Gaussian integration by parts equals Schoenholz et al.'s
//!   `chi_1 + sigma_w^2 E[phi'' phi]` (eq. 4) without needing `phi''`;
//!   `q^l - q*` decays like `e^{-l / xi_q}` with `xi_q = -1 / ln L'(q*)`.
//!
//! Where `q*` is 0 (no bias, `sigma_w^2` below critical) the quantities are
//! taken in the limit `q -> 0+` (at [`Q_FLOOR`]); where the map has no
//! finite fixed point (ReLU above `sigma_w^2 = 2`), at the last iterate.

use super::{value_and_derivative, MeanField};

/// The length below which `q*` is taken as 0 and quantities are evaluated
/// in the limit (our choice: far below any float32 activation).
pub const Q_FLOOR: f64 = 1e-12;
/// The length beyond which the map is taken to have no finite fixed point
/// (our choice: `sqrt(q)` of 1e5 pre-activations saturate every bounded
/// activation, and unbounded ones have diverged).
pub const Q_CEIL: f64 = 1e10;
/// Iterations of the length map at most (near criticality without bias
/// `q^l` decays like `1/l`, so this bounds the work there).
pub const MAX_ITERATIONS: usize = 20_000;
/// Relative change below which the iteration has converged.
const TOL: f64 = 1e-13;

/// The fixed point of the length map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FixedPoint {
    /// A finite `q*` (0 when the signal dies out).
    Finite(f64),
    /// No finite fixed point: the length grows without bound; `last` is
    /// the iterate where iteration stopped (beyond [`Q_CEIL`]).
    Unbounded {
        /// The last iterate.
        last: f64,
    },
}

impl FixedPoint {
    /// `q*` if finite.
    pub fn finite(self) -> Option<f64> {
        match self {
            FixedPoint::Finite(q) => Some(q),
            FixedPoint::Unbounded { .. } => None,
        }
    }

    /// The length at which to evaluate `chi_1` and the slopes.
    pub fn eval_at(self) -> f64 {
        match self {
            FixedPoint::Finite(q) => q.max(Q_FLOOR),
            FixedPoint::Unbounded { last } => last,
        }
    }
}

impl MeanField {
    /// `L(q) = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2`.
    pub fn length_map(&self, q: f64) -> f64 {
        let x: Vec<f64> = self.gh1.nodes().iter().map(|z| q.sqrt() * z).collect();
        let (y, _) = value_and_derivative(self.activation, &x);
        let e: f64 = y
            .iter()
            .zip(self.gh1.weights())
            .map(|(y, w)| w * y * y)
            .sum();
        self.sigma_w2 * e + self.sigma_b2
    }

    /// The stable fixed point of the length map, iterating from `q = 1`.
    pub fn fixed_point_q(&self) -> FixedPoint {
        let mut q = 1.0;
        for _ in 0..MAX_ITERATIONS {
            let next = self.length_map(q);
            if next > Q_CEIL || !next.is_finite() {
                return FixedPoint::Unbounded { last: q };
            }
            if next < Q_FLOOR {
                return FixedPoint::Finite(0.0);
            }
            let done = (next - q).abs() <= TOL * q.max(1.0);
            q = next;
            if done {
                break;
            }
        }
        FixedPoint::Finite(q)
    }

    /// `chi_1 = sigma_w^2 E[phi'(sqrt(q) z)^2]` at length `q`.
    pub fn chi_1(&self, q: f64) -> f64 {
        let x: Vec<f64> = self.gh1.nodes().iter().map(|z| q.sqrt() * z).collect();
        let (_, d) = value_and_derivative(self.activation, &x);
        let e: f64 = d
            .iter()
            .zip(self.gh1.weights())
            .map(|(d, w)| w * d * d)
            .sum();
        self.sigma_w2 * e
    }

    /// `L'(q) = sigma_w^2 E[phi(sqrt(q) z) phi'(sqrt(q) z) z] / sqrt(q)`.
    pub fn length_slope(&self, q: f64) -> f64 {
        let s = q.sqrt();
        let x: Vec<f64> = self.gh1.nodes().iter().map(|z| s * z).collect();
        let (y, d) = value_and_derivative(self.activation, &x);
        let e: f64 = (0..x.len())
            .map(|i| self.gh1.weights()[i] * y[i] * d[i] * self.gh1.nodes()[i])
            .sum();
        self.sigma_w2 * e / s
    }
}

/// `-1 / ln(rate)`: the depth over which a quantity decaying by `rate`
/// per layer falls by `e`; `None` (infinite) when `rate >= 1` up to
/// rounding ([`RATE_ROUNDING`]), so ReLU at `sigma_w^2 = 2`, whose `chi_1`
/// comes out as `1 - 6e-16`, has no finite depth scale.
pub fn depth_scale(rate: f64) -> Option<f64> {
    (rate < 1.0 - RATE_ROUNDING && rate > 0.0).then(|| -1.0 / rate.ln())
}

/// Rates within this of 1 are 1: a sum of 128 quadrature terms carries a
/// few ulps of rounding (our choice; it caps a finite depth scale at 1e12).
pub const RATE_ROUNDING: f64 = 1e-12;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Activation;

    #[test]
    fn relu_length_map_is_half_the_weight_variance_analytically() {
        // E[relu(sqrt(q) z)^2] = q/2, E[relu'(.)^2] = 1/2.
        let mf = MeanField::new(Activation::Relu, 1.5, 0.1);
        assert!((mf.length_map(2.0) - (1.5 * 1.0 + 0.1)).abs() < 1e-12);
        assert!((mf.chi_1(3.0) - 0.75).abs() < 1e-12);
        // q* = sigma_b^2 / (1 - sigma_w^2 / 2) = 0.1 / 0.25.
        let q = mf.fixed_point_q().finite().unwrap();
        assert!((q - 0.4).abs() < 1e-10, "{q}");
        // The map is linear with slope sigma_w^2 / 2.
        assert!((mf.length_slope(q) - 0.75).abs() < 1e-10);
    }

    #[test]
    fn relu_above_two_has_no_finite_fixed_point() {
        let mf = MeanField::new(Activation::Relu, 2.5, 0.0);
        assert!(matches!(mf.fixed_point_q(), FixedPoint::Unbounded { .. }));
        let mf = MeanField::new(Activation::Relu, 1.5, 0.0);
        assert_eq!(mf.fixed_point_q(), FixedPoint::Finite(0.0));
    }

    #[test]
    fn the_fixed_point_is_a_fixed_point_and_the_slope_matches_finite_differences() {
        let mf = MeanField::new(Activation::Tanh, 1.5, 0.05);
        let q = mf.fixed_point_q().finite().unwrap();
        assert!((mf.length_map(q) - q).abs() < 1e-12);
        let h = 1e-5;
        let fd = (mf.length_map(q + h) - mf.length_map(q - h)) / (2.0 * h);
        assert!(
            (mf.length_slope(q) - fd).abs() < 1e-8,
            "{} vs {fd}",
            mf.length_slope(q)
        );
        // A stable fixed point: slope below 1.
        assert!(mf.length_slope(q) < 1.0);
    }

    #[test]
    fn depth_scales_diverge_at_one() {
        assert_eq!(depth_scale(1.0), None);
        assert_eq!(depth_scale(1.2), None);
        assert!((depth_scale((-0.5f64).exp()).unwrap() - 2.0).abs() < 1e-12);
    }
}
