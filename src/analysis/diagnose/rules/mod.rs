//! The rules, one function each: a run's record in, at most one finding
//! out. Thresholds live in [`super::thresholds`], remedies in
//! [`super::remedies`].

mod divergence;
mod exploding_through_time;
mod gradient;
mod progress;
mod through_time;
mod units;

pub use divergence::divergence;
pub use exploding_through_time::exploding_through_time;
pub use gradient::{exploding_gradient, vanishing_gradient};
pub use progress::{learning_rate, stalled};
pub use through_time::vanishing_through_time;
pub use units::{dead_units, saturation};

use super::finding::Evidence;

/// One figure with its meaning.
fn evidence(name: &str, value: f64, note: impl Into<String>) -> Evidence {
    Evidence {
        name: name.into(),
        value,
        note: note.into(),
    }
}

/// A figure for a sentence: `3.2e-11`, `0` for zero.
fn sci(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        format!("{x:.1e}")
    }
}

/// A fraction as a percentage: `93%`.
fn pct(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}
