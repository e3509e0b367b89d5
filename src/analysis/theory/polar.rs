//! Expectations over a pair of correlated Gaussians, in polar coordinates
//! so that kinks at 0 (ReLU's) fall between quadrature cells, not inside.
//!
//! With `z1, z2 ~ N(0, 1)` independent, `z = rho (cos t, sin t)`:
//!
//! `E[F(z1, z2)] = (1/(2 pi)) ∫_0^{2pi} dt ∫_0^∞ rho e^{-rho^2/2} F dr`.
//!
//! The pair `u1 = sqrt(q) z1`, `u2 = sqrt(q) (c z1 + sqrt(1-c^2) z2)` is
//! `sqrt(q) rho (cos t, cos(t - a))` with `a = acos c`: each is 0 on two
//! rays (`t = pi/2, 3pi/2` and `t = a + pi/2, a + 3pi/2`). Between those
//! rays every activation here is smooth, so a Gauss-Legendre rule per
//! angular sector and one on `rho` in `[0, RHO_MAX]` converge fast where
//! the Cartesian product of Gauss-Hermite rules loses two digits to the
//! slanted kink (`E[1{u1 > 0} 1{u2 > 0}]`: off by 0.025 with 64 x 64
//! Hermite nodes at `c = 0.3`, 1e-12 here).

use std::f64::consts::{FRAC_PI_2, PI};

/// Radius where the radial integral is cut: the tail beyond holds
/// `e^{-RHO_MAX^2 / 2}` = 2.6e-23 of the mass.
pub const RHO_MAX: f64 = 10.0;
/// Gauss-Legendre nodes on the radius (our choice).
pub const RADIAL_NODES: usize = 64;
/// Gauss-Legendre nodes per angular sector (our choice; at most 5 sectors).
pub const ANGULAR_NODES: usize = 24;

/// Gauss-Legendre nodes and weights on `[-1, 1]` (Newton on the Legendre
/// recurrence, Numerical Recipes' `gauleg`).
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    let nf = n as f64;
    for i in 0..n.div_ceil(2) {
        let mut z = (PI * (i as f64 + 0.75) / (nf + 0.5)).cos();
        let mut pp = 1.0;
        for _ in 0..100 {
            let (mut p1, mut p2) = (1.0, 0.0);
            for j in 1..=n {
                let jf = j as f64;
                let p3 = p2;
                p2 = p1;
                p1 = ((2.0 * jf - 1.0) * z * p2 - (jf - 1.0) * p3) / jf;
            }
            pp = nf * (z * p1 - p2) / (z * z - 1.0);
            let step = p1 / pp;
            z -= step;
            if step.abs() < 1e-15 {
                break;
            }
        }
        x[i] = -z;
        x[n - 1 - i] = z;
        w[i] = 2.0 / ((1.0 - z * z) * pp * pp);
        w[n - 1 - i] = w[i];
    }
    (x, w)
}

/// The points `(cos t, cos(t - a), rho)` of the polar rule for
/// correlation `c`, with their weights (summing to 1).
pub fn polar_rule(c: f64) -> Vec<(f64, f64, f64, f64)> {
    let a = c.clamp(-1.0, 1.0).acos();
    let two_pi = 2.0 * PI;
    let mut cuts = vec![0.0, FRAC_PI_2, 3.0 * FRAC_PI_2, two_pi];
    cuts.extend([(a + FRAC_PI_2) % two_pi, (a + 3.0 * FRAC_PI_2) % two_pi]);
    cuts.sort_by(f64::total_cmp);
    cuts.dedup_by(|x, y| (*x - *y).abs() < 1e-15);
    let (xr, wr) = gauss_legendre(RADIAL_NODES);
    let (xt, wt) = gauss_legendre(ANGULAR_NODES);
    let mut rule = Vec::new();
    for sector in cuts.windows(2) {
        let (t0, t1) = (sector[0], sector[1]);
        for (&x, &w) in xt.iter().zip(&wt) {
            let t = 0.5 * (t0 + t1) + 0.5 * (t1 - t0) * x;
            let wt = 0.5 * (t1 - t0) * w / two_pi;
            for (&y, &v) in xr.iter().zip(&wr) {
                let rho = 0.5 * RHO_MAX * (y + 1.0);
                let wr = 0.5 * RHO_MAX * v * rho * (-0.5 * rho * rho).exp();
                rule.push((t.cos(), (t - a).cos(), rho, wt * wr));
            }
        }
    }
    rule
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legendre_integrates_polynomials_exactly() {
        let (x, w) = gauss_legendre(10);
        // ∫_{-1}^{1} x^18 dx = 2/19.
        let s: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(18)).sum();
        assert!((s - 2.0 / 19.0).abs() < 1e-14);
    }

    #[test]
    fn the_polar_rule_has_the_gaussian_moments_and_the_orthant_probability() {
        use std::f64::consts::PI;
        for c in [-0.5, 0.0, 0.3, 0.9] {
            let rule = polar_rule(c);
            let e = |f: &dyn Fn(f64, f64) -> f64| -> f64 {
                rule.iter().map(|&(a, b, r, w)| w * f(r * a, r * b)).sum()
            };
            assert!((e(&|_, _| 1.0) - 1.0).abs() < 1e-12);
            // E[v1 v2] = c for the standardized pair.
            assert!((e(&|x, y| x * y) - c).abs() < 1e-12);
            // Sheppard: P(v1 > 0, v2 > 0) = (pi - acos c) / (2 pi).
            let p = e(&|x, y| if x > 0.0 && y > 0.0 { 1.0 } else { 0.0 });
            assert!(
                (p - (PI - c.acos()) / (2.0 * PI)).abs() < 1e-12,
                "c={c}: {p}"
            );
        }
    }
}
