//! The correlation map, its fixed point `c*`, `chi_c` and the depth scale
//! `xi_c`.
//!
//! Two inputs whose pre-activations have length `q` and correlation `c`:
//! `u1 = sqrt(q) z1`, `u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2)` with
//! `z1, z2 ~ N(0, 1)` independent. One layer maps
//!
//! `c -> (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / L(q)`
//!
//! (Poole et al. 2016, eq. 5; at `q = q*`, `L(q*) = q*`). `c = 1` is always
//! a fixed point; its slope there is `chi_1`. When `chi_1 > 1` (chaos) it
//! is unstable and the map has a stable `c* < 1`. The slope at `c*`,
//! `chi_c = sigma_w^2 E[phi'(u1) phi'(u2)]` (Schoenholz et al. 2017,
//! eq. 6), sets `xi_c = -1 / ln chi_c` (eq. 9): how many layers two inputs
//! stay distinguishable over. The two-dimensional expectations use the
//! polar rule of [`super::polar`].

use super::polar::polar_rule;
use super::{value_and_derivative, MeanField};

/// Iterations of the correlation map at most (our choice: the rate is
/// `chi_c`, so only a net within 1% of criticality needs more).
pub const MAX_ITERATIONS: usize = 3_000;
/// Change below which the iteration has converged.
const TOL: f64 = 1e-12;
/// A `c*` this close to 1 is 1 (our choice).
pub const ONE_TOL: f64 = 1e-6;

impl MeanField {
    /// `E[f(phi(u1), phi'(u1), phi(u2), phi'(u2))]` over the polar rule.
    fn expect_pair(&self, q: f64, c: f64, f: impl Fn(f64, f64, f64, f64) -> f64) -> f64 {
        let rule = polar_rule(c);
        let s = q.sqrt();
        let u1: Vec<f64> = rule.iter().map(|p| s * p.2 * p.0).collect();
        let u2: Vec<f64> = rule.iter().map(|p| s * p.2 * p.1).collect();
        let (y1, d1) = value_and_derivative(self.activation, &u1);
        let (y2, d2) = value_and_derivative(self.activation, &u2);
        (0..rule.len())
            .map(|k| rule[k].3 * f(y1[k], d1[k], y2[k], d2[k]))
            .sum()
    }

    /// The correlation map at length `q`: the next layer's correlation.
    pub fn correlation_map(&self, q: f64, c: f64) -> f64 {
        let q12 = self.sigma_w2 * self.expect_pair(q, c, |a, _, b, _| a * b) + self.sigma_b2;
        (q12 / self.length_map(q)).min(1.0)
    }

    /// `chi_c = sigma_w^2 E[phi'(u1) phi'(u2)]`, the slope of the map at `c`.
    pub fn chi_c(&self, q: f64, c: f64) -> f64 {
        self.sigma_w2 * self.expect_pair(q, c, |_, a, _, b| a * b)
    }

    /// The stable fixed point `c*` at length `q`, iterating from `c = 0`.
    pub fn fixed_point_c(&self, q: f64) -> f64 {
        let mut c = 0.0;
        for _ in 0..MAX_ITERATIONS {
            let next = self.correlation_map(q, c);
            let done = (next - c).abs() <= TOL;
            c = next;
            if done {
                break;
            }
        }
        if 1.0 - c < ONE_TOL {
            1.0
        } else {
            c
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Activation;
    use std::f64::consts::PI;

    #[test]
    fn relu_correlation_map_is_the_arc_cosine_kernel() {
        // Cho & Saul 2009: E[relu(u1) relu(u2)] = q/(2 pi) (sqrt(1-c^2) + (pi - acos c) c).
        let mf = MeanField::new(Activation::Relu, 2.0, 0.0);
        for c in [0.0, 0.3, 0.7, 0.95] {
            let want = (f64::sqrt(1.0 - c * c) + (PI - c.acos()) * c) / PI;
            let got = mf.correlation_map(1.0, c);
            assert!((got - want).abs() < 1e-10, "c={c}: {got} vs {want}");
            // chi_c = sigma_w^2 P(u1 > 0, u2 > 0) = 2 (pi - acos c) / (2 pi).
            let chi = mf.chi_c(1.0, c);
            assert!((chi - (PI - c.acos()) / PI).abs() < 1e-10, "c={c}: {chi}");
        }
    }

    #[test]
    fn at_c_one_the_slope_is_chi_1() {
        let mf = MeanField::new(Activation::Tanh, 1.5, 0.05);
        let q = mf.fixed_point_q().finite().unwrap();
        assert!((mf.chi_c(q, 1.0) - mf.chi_1(q)).abs() < 1e-10);
        assert!((mf.correlation_map(q, 1.0) - 1.0).abs() < 1e-10);
    }

    #[test]
    fn ordered_nets_correlate_and_chaotic_ones_do_not() {
        // Ordered (chi_1 < 1): c* = 1. Chaotic (chi_1 > 1): c* < 1 and stable.
        let ordered = MeanField::new(Activation::Tanh, 1.0, 0.05);
        let q = ordered.fixed_point_q().finite().unwrap();
        assert_eq!(ordered.fixed_point_c(q), 1.0);
        let chaotic = MeanField::new(Activation::Tanh, 4.0, 0.05);
        let q = chaotic.fixed_point_q().finite().unwrap();
        let c = chaotic.fixed_point_c(q);
        assert!(c < 0.9, "{c}");
        assert!((chaotic.correlation_map(q, c) - c).abs() < 1e-10);
        assert!(chaotic.chi_c(q, c) < 1.0);
    }
}
