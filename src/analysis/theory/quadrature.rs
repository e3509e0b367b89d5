//! Gauss-Hermite quadrature for expectations over standard normals, in f64.
//!
//! `E[f(z)] = (1/sqrt(2 pi)) ∫ f(z) e^{-z^2/2} dz ≈ Σ_i w_i f(z_i)`, exact
//! for polynomials of degree up to `2n - 1`. The nodes `x_i` and weights
//! `v_i` of the physicists' rule (weight `e^{-x^2}`) are found by Newton's
//! method on the orthonormal Hermite polynomials, started from the
//! asymptotic guesses of Numerical Recipes (3rd ed., §4.6, `gauher`); then
//! `z_i = sqrt(2) x_i` and `w_i = v_i / sqrt(pi)`.
//!
//! Two-dimensional expectations (the correlation map) use the product rule
//! over `n x n` nodes. An even `n` has no node at 0, so an activation with
//! a kink there (ReLU) sees the two halves symmetrically: `E[1{z > 0}]` is
//! exactly 1/2.
//!
//! ```
//! use gradscope::analysis::theory::GaussHermite;
//! let gh = GaussHermite::new(20);
//! // E[z^4] = 3 for a standard normal.
//! assert!((gh.expect(|z| z.powi(4)) - 3.0).abs() < 1e-12);
//! ```

/// `pi^(-1/4)`, the value of the first orthonormal Hermite polynomial.
const PI_M4: f64 = 0.751_125_544_464_942_5;
/// Newton stops when a node moves less than this.
const NEWTON_TOL: f64 = 1e-14;
/// The most nodes a rule takes: beyond about 190 the starting guesses
/// of the second node send Newton to the first root (measured: 150 nodes
/// give weights summing to 1 within 1e-15, 200 do not).
pub const MAX_NODES: usize = 150;
/// Newton iterations per node at most (3-4 are needed in practice).
const NEWTON_MAX: usize = 50;

/// A Gauss-Hermite rule for the standard normal: nodes and weights.
#[derive(Clone, Debug)]
pub struct GaussHermite {
    nodes: Vec<f64>,
    weights: Vec<f64>,
}

impl GaussHermite {
    /// The `n`-point rule.
    ///
    /// # Panics
    /// If `n` is 0 or above [`MAX_NODES`].
    pub fn new(n: usize) -> Self {
        assert!(
            (1..=MAX_NODES).contains(&n),
            "a Gauss-Hermite rule takes 1 to {MAX_NODES} nodes, not {n}"
        );
        let nf = n as f64;
        let mut x = vec![0.0; n];
        let mut v = vec![0.0; n];
        let mut z = 0.0_f64;
        for i in 0..n.div_ceil(2) {
            z = match i {
                0 => (2.0 * nf + 1.0).sqrt() - 1.855_75 * (2.0 * nf + 1.0).powf(-0.166_67),
                1 => z - 1.14 * nf.powf(0.426) / z,
                2 => 1.86 * z - 0.86 * x[0],
                3 => 1.91 * z - 0.91 * x[1],
                _ => 2.0 * z - x[i - 2],
            };
            for _ in 0..NEWTON_MAX {
                let (p, p_prev) = hermite(n, z);
                let dp = (2.0 * nf).sqrt() * p_prev;
                let step = p / dp;
                z -= step;
                if step.abs() <= NEWTON_TOL {
                    break;
                }
            }
            // Refresh the derivative at the converged node for the weight.
            let (_, p_prev) = hermite(n, z);
            let dp = (2.0 * nf).sqrt() * p_prev;
            x[i] = z;
            x[n - 1 - i] = -z;
            v[i] = 2.0 / (dp * dp);
            v[n - 1 - i] = v[i];
        }
        let inv_sqrt_pi = 1.0 / std::f64::consts::PI.sqrt();
        // Nodes ascending.
        let mut pairs: Vec<(f64, f64)> = x
            .iter()
            .zip(&v)
            .map(|(&x, &v)| (std::f64::consts::SQRT_2 * x, v * inv_sqrt_pi))
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        Self {
            nodes: pairs.iter().map(|p| p.0).collect(),
            weights: pairs.iter().map(|p| p.1).collect(),
        }
    }

    /// The nodes `z_i`, ascending.
    pub fn nodes(&self) -> &[f64] {
        &self.nodes
    }

    /// The weights `w_i` (they sum to 1).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// `E[f(z)]` for `z ~ N(0, 1)`.
    pub fn expect(&self, f: impl Fn(f64) -> f64) -> f64 {
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(&z, &w)| w * f(z))
            .sum()
    }
}

/// The orthonormal Hermite polynomials `p_n(x)` and `p_{n-1}(x)`, by the
/// three-term recurrence `p_j = x sqrt(2/j) p_{j-1} - sqrt((j-1)/j) p_{j-2}`.
fn hermite(n: usize, x: f64) -> (f64, f64) {
    let (mut p1, mut p2) = (PI_M4, 0.0);
    for j in 1..=n {
        let jf = j as f64;
        let p3 = p2;
        p2 = p1;
        p1 = x * (2.0 / jf).sqrt() * p2 - ((jf - 1.0) / jf).sqrt() * p3;
    }
    (p1, p2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(2k - 1)!!`, the moment `E[z^{2k}]` of a standard normal.
    fn double_factorial(k: u32) -> f64 {
        (1..=k).map(|i| (2 * i - 1) as f64).product()
    }

    #[test]
    fn even_moments_are_the_double_factorials_and_odd_ones_vanish() {
        for n in [4, 10, 64, MAX_NODES] {
            let gh = GaussHermite::new(n);
            assert!(
                (gh.weights().iter().sum::<f64>() - 1.0).abs() < 1e-12,
                "n={n}"
            );
            // Exact up to degree 2n - 1; relative tolerance for the large ones.
            for k in 1..(n as u32).min(12) {
                let m = gh.expect(|z| z.powi(2 * k as i32));
                let want = double_factorial(k);
                assert!((m / want - 1.0).abs() < 1e-10, "n={n} k={k}: {m} vs {want}");
                assert!(gh.expect(|z| z.powi(2 * k as i32 - 1)).abs() < 1e-9 * want);
            }
        }
    }

    #[test]
    fn a_four_point_rule_is_exact_to_degree_seven_but_not_eight() {
        let gh = GaussHermite::new(4);
        assert!((gh.expect(|z| z.powi(6)) - 15.0).abs() < 1e-12);
        // E[z^8] = 105; four nodes cannot integrate degree 8.
        assert!((gh.expect(|z| z.powi(8)) - 105.0).abs() > 1.0);
    }

    #[test]
    fn smooth_nonpolynomial_expectations() {
        let gh = GaussHermite::new(64);
        // E[cos z] = e^{-1/2}; E[e^z] = e^{1/2}.
        assert!((gh.expect(f64::cos) - (-0.5f64).exp()).abs() < 1e-13);
        assert!((gh.expect(f64::exp) - 0.5f64.exp()).abs() < 1e-12);
    }

    #[test]
    fn kinked_expectations_of_relu() {
        let gh = GaussHermite::new(128);
        // E[relu(z)^2] = 1/2, E[relu(z)] = 1/sqrt(2 pi), E[1{z>0}] = 1/2:
        // the first and last exact (symmetric nodes), the kink in the
        // first derivative of relu costs accuracy (1.3e-3 at 128 nodes).
        assert!((gh.expect(|z| z.max(0.0).powi(2)) - 0.5).abs() < 1e-12);
        let mean = gh.expect(|z| z.max(0.0));
        assert!((mean - 1.0 / (2.0 * std::f64::consts::PI).sqrt()).abs() < 2e-3);
        assert!((gh.expect(|z| if z > 0.0 { 1.0 } else { 0.0 }) - 0.5).abs() < 1e-14);
    }
}
