//! How the reproductions write their figures in tables and checks: one
//! format per kind of figure, and `-` for a figure a run does not have (a
//! diverged run's accuracy, an empty cell).

/// A fraction as a percentage with one decimal (`0.9426` -> `94.3`).
pub fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}", 100.0 * x)
    } else {
        "-".into()
    }
}

/// The mean of fractions as a percentage ([`pct`]); `-` when empty.
pub fn mean_pct(xs: impl Iterator<Item = f64>) -> String {
    let v: Vec<f64> = xs.collect();
    if v.is_empty() {
        return "-".into();
    }
    pct(v.iter().sum::<f64>() / v.len() as f64)
}

/// A ratio or norm over many decades, in scientific notation (`4.5e-12`).
pub fn sci(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1e}")
    } else {
        "-".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_and_missing_figures() {
        assert_eq!(pct(0.9426), "94.3");
        assert_eq!(pct(f64::NAN), "-");
        assert_eq!(mean_pct([0.5, 1.0].into_iter()), "75.0");
        assert_eq!(mean_pct(std::iter::empty()), "-");
        assert_eq!(sci(4.5e-12), "4.5e-12");
        assert_eq!(sci(f64::INFINITY), "-");
    }
}
