//! Seeded dataset generators: TensorFlow Playground's 2-D sets
//! ([`playground`]) and Glorot & Bengio's Shapeset-3x2 ([`shapeset`]).
//!
//! The same `(n, noise, seed)` always gives the same bytes, on any machine:
//! every generator draws from one `ChaCha8Rng` seeded with `seed`.
//!
//! ```
//! use gradscope::data::generators::generate;
//! let d = generate("xor", 200, 0.1, 42).unwrap();
//! assert_eq!(d.class_counts(), vec![100, 100]);
//! assert!(generate("moons", 200, 0.1, 42).is_err());
//! ```

pub mod playground;
pub mod shapeset;

pub use playground::{circles, gaussians, spirals, xor};
pub use shapeset::shapeset_3x2;

use crate::data::Dataset;
use crate::error::{Error, Result};

/// The names [`generate`] knows.
pub const GENERATOR_NAMES: &str = "spirals, circles, xor, gaussians, shapeset";

/// Generates `n` examples of the set `name` from `seed`.
///
/// `noise` is Playground's noise slider / 100, in `[0, 1]` (see
/// [`playground`] for what it does per set); `shapeset` ignores it.
pub fn generate(name: &str, n: usize, noise: f64, seed: u64) -> Result<Dataset> {
    let playground: fn(usize, f64, u64) -> Dataset = match name {
        "spirals" => spirals,
        "circles" => circles,
        "xor" => xor,
        "gaussians" => gaussians,
        "shapeset" => return Ok(shapeset_3x2(n, seed)),
        _ => {
            return Err(Error::UnknownName {
                what: "dataset",
                name: name.to_string(),
                expected: GENERATOR_NAMES.to_string(),
            })
        }
    };
    if !(0.0..=1.0).contains(&noise) {
        return Err(Error::InvalidConfig {
            field: "data.noise".into(),
            reason: format!("{noise} is not in [0, 1] (Playground's noise slider / 100)"),
        });
    }
    Ok(playground(n, noise, seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is wrong with `d` as the `n`-row output of `name`, if anything:
    /// rows match labels, labels are in range, features are finite.
    fn defect(d: &Dataset, name: &str, n: usize) -> Option<String> {
        if d.name != name {
            return Some(format!("named `{}`", d.name));
        }
        if d.features.rows() != n || d.len() != n {
            return Some(format!("{} rows, {} labels", d.features.rows(), d.len()));
        }
        if let Some(l) = d.labels.iter().find(|&&l| l >= d.classes) {
            return Some(format!("label {l} of {} classes", d.classes));
        }
        if d.features.as_slice().iter().any(|v| !v.is_finite()) {
            return Some("non-finite feature".into());
        }
        None
    }

    #[test]
    fn every_listed_name_generates_a_well_formed_set() {
        for name in GENERATOR_NAMES.split(", ") {
            let d = generate(name, 36, 0.2, 1).unwrap();
            assert_eq!(defect(&d, name, 36), None, "{name}");
            let classes = if name == "shapeset" { 9 } else { 2 };
            assert_eq!(d.class_counts(), vec![36 / classes; classes], "{name}");
        }
    }

    #[test]
    fn defect_check_catches_bad_sets() {
        let good = generate("xor", 4, 0.0, 1).unwrap();
        assert_eq!(defect(&good, "xor", 4), None);
        assert!(defect(&good, "xor", 5).is_some());
        let mut bad = good.clone();
        bad.labels[0] = 2;
        assert_eq!(
            defect(&bad, "xor", 4).as_deref(),
            Some("label 2 of 2 classes")
        );
        let mut bad = good;
        bad.features.set(3, 1, f32::NAN);
        assert!(defect(&bad, "xor", 4).is_some());
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        match generate("moons", 10, 0.0, 0) {
            Err(Error::UnknownName {
                what,
                name,
                expected,
            }) => {
                assert_eq!((what, name.as_str()), ("dataset", "moons"));
                assert_eq!(expected, GENERATOR_NAMES);
            }
            other => panic!("expected UnknownName, got {other:?}"),
        }
    }

    #[test]
    fn noise_out_of_range_is_an_error_not_a_panic() {
        for noise in [-0.1, 1.5, f64::NAN] {
            assert!(matches!(
                generate("spirals", 10, noise, 0),
                Err(Error::InvalidConfig { .. })
            ));
        }
        // Shapeset ignores noise.
        assert!(generate("shapeset", 9, 5.0, 0).is_ok());
    }

    #[test]
    fn dispatch_matches_the_direct_call() {
        let a = generate("circles", 50, 0.3, 9).unwrap();
        let b = circles(50, 0.3, 9);
        assert_eq!(a.features, b.features);
        assert_eq!(a.labels, b.labels);
    }
}
