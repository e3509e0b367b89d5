//! TensorFlow Playground's 2-D classification sets (`dataset.ts`):
//! two features `(x, y)`, two classes, exactly balanced (class counts differ
//! by at most one), rows in a seeded random order.
//!
//! Class 0 is Playground's `+1` (blue), class 1 its `-1` (orange).
//! `noise` is Playground's noise slider divided by 100. The slider stops at
//! 50, so Playground only ever uses `noise <= 0.5`; larger values up to 1
//! extrapolate the same formulas. Per set, with `u(a, b)` a uniform draw:
//!
//! | set | clean points | `noise` |
//! |-----|--------------|---------|
//! | [`spirals`] | arm `k` (class `k`), point `i` of `m`: `r = 5 i / m`, `t = 3.5 pi i / m + k pi`, `(r sin t, r cos t)` | adds `u(-1, 1) * noise` to each coordinate |
//! | [`circles`] | class 0: radius `u(0, 2.5)`; class 1: radius `u(3.5, 5)`; angle `u(0, 2 pi)` | adds `u(-5, 5) * noise` to each coordinate |
//! | [`xor`] | `|x|, |y| = u(0, 5) + 0.3`; class 0 where `x y >= 0` | adds `u(-5, 5) * noise` to each coordinate |
//! | [`gaussians`] | class 0 around `(2, 2)`, class 1 around `(-2, -2)` | variance per coordinate `0.5 + 7 noise` (0.5 to 4 over the slider) |
//!
//! One deliberate difference: for circles and XOR Playground keeps the clean
//! point and labels it by where the *noisy* point falls, which flips labels
//! and unbalances the classes. Here the label is fixed by the clean point
//! and the noisy point is what is returned; the joint law of (clean, noisy)
//! is the same, the classes stay balanced, and noise blurs the boundary just
//! as much. XOR also draws its quadrant from the class rather than the
//! class from the quadrant, for the same reason.
//!
//! ```
//! use gradscope::data::generators::playground::circles;
//! let d = circles(100, 0.0, 7);
//! assert_eq!((d.len(), d.dim(), d.classes), (100, 2, 2));
//! assert_eq!(d.class_counts(), vec![50, 50]);
//! ```
//!
//! # Panics
//! Every generator panics when `noise` is not in `[0, 1]`;
//! [`super::generate`] reports that as an error instead.

use std::f64::consts::PI;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::data::Dataset;
use crate::tensor::Matrix;

/// Two interleaved spirals, 1.75 turns each, radius 0 to 5.
pub fn spirals(n: usize, noise: f64, seed: u64) -> Dataset {
    let mut rng = start(noise, seed);
    let mut points = Vec::with_capacity(n);
    for (class, m) in class_sizes(n).into_iter().enumerate() {
        let delta = class as f64 * PI;
        for i in 0..m {
            let f = i as f64 / m as f64;
            let (r, t) = (5.0 * f, 1.75 * f * 2.0 * PI + delta);
            let x = r * t.sin() + rng.gen_range(-1.0..=1.0) * noise;
            let y = r * t.cos() + rng.gen_range(-1.0..=1.0) * noise;
            points.push(([x, y], class));
        }
    }
    shuffled("spirals", points, &mut rng)
}

/// A disc of radius 2.5 (class 0) inside a ring from 3.5 to 5 (class 1).
pub fn circles(n: usize, noise: f64, seed: u64) -> Dataset {
    let mut rng = start(noise, seed);
    let mut points = Vec::with_capacity(n);
    for (class, m) in class_sizes(n).into_iter().enumerate() {
        let (r_lo, r_hi) = if class == 0 { (0.0, 2.5) } else { (3.5, 5.0) };
        for _ in 0..m {
            let r = rng.gen_range(r_lo..=r_hi);
            let angle = rng.gen_range(0.0..2.0 * PI);
            let x = r * angle.sin() + rng.gen_range(-5.0..=5.0) * noise;
            let y = r * angle.cos() + rng.gen_range(-5.0..=5.0) * noise;
            points.push(([x, y], class));
        }
    }
    shuffled("circles", points, &mut rng)
}

/// Four quadrants of `[-5.3, 5.3]^2` kept 0.3 off the axes; class 0 where
/// `x` and `y` share a sign.
pub fn xor(n: usize, noise: f64, seed: u64) -> Dataset {
    let mut rng = start(noise, seed);
    let mut points = Vec::with_capacity(n);
    for (class, m) in class_sizes(n).into_iter().enumerate() {
        for _ in 0..m {
            let sx: f64 = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
            let sy = if class == 0 { sx } else { -sx };
            let x = sx * (rng.gen_range(0.0..5.0) + 0.3) + rng.gen_range(-5.0..=5.0) * noise;
            let y = sy * (rng.gen_range(0.0..5.0) + 0.3) + rng.gen_range(-5.0..=5.0) * noise;
            points.push(([x, y], class));
        }
    }
    shuffled("xor", points, &mut rng)
}

/// Two isotropic Gaussians centred at `(2, 2)` (class 0) and `(-2, -2)`.
pub fn gaussians(n: usize, noise: f64, seed: u64) -> Dataset {
    let mut rng = start(noise, seed);
    // Playground: d3.scale.linear().domain([0, .5]).range([0.5, 4]), a variance.
    let std = (0.5 + 7.0 * noise).sqrt();
    let mut points = Vec::with_capacity(n);
    for (class, m) in class_sizes(n).into_iter().enumerate() {
        let c = if class == 0 { 2.0 } else { -2.0 };
        let normal = Normal::new(c, std).expect("finite, positive std");
        for _ in 0..m {
            points.push(([normal.sample(&mut rng), normal.sample(&mut rng)], class));
        }
    }
    shuffled("gaussians", points, &mut rng)
}

/// Checks `noise` and seeds the generator.
fn start(noise: f64, seed: u64) -> ChaCha8Rng {
    assert!(
        (0.0..=1.0).contains(&noise),
        "noise must be in [0, 1], got {noise}"
    );
    ChaCha8Rng::seed_from_u64(seed)
}

/// Examples per class: `[ceil(n / 2), floor(n / 2)]`.
fn class_sizes(n: usize) -> [usize; 2] {
    [n - n / 2, n / 2]
}

/// Puts the points in a seeded random order and packs them.
fn shuffled(name: &str, mut points: Vec<([f64; 2], usize)>, rng: &mut ChaCha8Rng) -> Dataset {
    points.shuffle(rng);
    let features = points
        .iter()
        .flat_map(|(p, _)| p.map(|v| v as f32))
        .collect();
    Dataset {
        name: name.to_string(),
        features: Matrix::from_vec(points.len(), 2, features).expect("n x 2"),
        labels: points.iter().map(|&(_, l)| l).collect(),
        classes: 2,
        image: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Generator = fn(usize, f64, u64) -> Dataset;
    const ALL: [(&str, Generator); 4] = [
        ("spirals", spirals),
        ("circles", circles),
        ("xor", xor),
        ("gaussians", gaussians),
    ];

    fn bits(d: &Dataset) -> Vec<u32> {
        d.features.as_slice().iter().map(|v| v.to_bits()).collect()
    }

    fn radius(d: &Dataset, i: usize) -> f32 {
        let r = d.features.row(i);
        r[0].hypot(r[1])
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        for (name, g) in ALL {
            let (a, b, c) = (g(200, 0.2, 1), g(200, 0.2, 1), g(200, 0.2, 2));
            assert_eq!(bits(&a), bits(&b), "{name}");
            assert_eq!(a.labels, b.labels, "{name}");
            assert_ne!(bits(&a), bits(&c), "{name}");
        }
    }

    #[test]
    fn classes_are_balanced_and_shuffled() {
        for (name, g) in ALL {
            for (n, want) in [
                (0, [0, 0]),
                (1, [1, 0]),
                (301, [151, 150]),
                (1000, [500, 500]),
            ] {
                let d = g(n, 0.3, 5);
                assert_eq!((d.len(), d.dim(), d.classes), (n, 2, 2), "{name}");
                assert_eq!(d.class_counts(), want, "{name} n={n}");
            }
            // Not all of class 0 first: the first 100 rows hold both classes.
            let d = g(1000, 0.0, 5);
            let ones = d.labels[..100].iter().sum::<usize>();
            assert!((20..80).contains(&ones), "{name}: {ones} of 100");
        }
    }

    #[test]
    fn values_stay_in_documented_ranges() {
        for noise in [0.0, 0.5, 1.0] {
            // Max |coordinate|: clean extent + noise amplitude.
            let s = spirals(500, noise, 3);
            let c = circles(500, noise, 3);
            let x = xor(500, noise, 3);
            for (d, bound) in [
                (&s, 5.0 + noise),
                (&c, 5.0 + 5.0 * noise),
                (&x, 5.3 + 5.0 * noise),
            ] {
                let max = d
                    .features
                    .as_slice()
                    .iter()
                    .fold(0f32, |m, v| m.max(v.abs()));
                assert!(max <= bound as f32 + 1e-5, "{}: {max} > {bound}", d.name);
                assert!(d.features.as_slice().iter().all(|v| v.is_finite()));
            }
        }
        // XOR keeps off the axes without noise.
        let x = xor(500, 0.0, 3);
        assert!(x.features.as_slice().iter().all(|v| v.abs() >= 0.3));
    }

    #[test]
    fn circles_without_noise_separate_at_the_radius() {
        let d = circles(1000, 0.0, 11);
        for i in 0..d.len() {
            let r = radius(&d, i);
            match d.labels[i] {
                0 => assert!(r <= 2.5 + 1e-5, "class 0 at r={r}"),
                _ => assert!((3.5 - 1e-5..=5.0 + 1e-5).contains(&r), "class 1 at r={r}"),
            }
        }
    }

    #[test]
    fn xor_without_noise_labels_by_quadrant() {
        let d = xor(400, 0.0, 4);
        for i in 0..d.len() {
            let r = d.features.row(i);
            assert_eq!(d.labels[i], usize::from(r[0] * r[1] < 0.0));
        }
    }

    #[test]
    fn spirals_interleave_yet_nearest_neighbour_separates_them() {
        let d = spirals(600, 0.0, 9);
        // Radii of both classes cover nearly the same range [0, 5).
        let range = |class| {
            (0..d.len())
                .filter(|&i| d.labels[i] == class)
                .map(|i| radius(&d, i))
                .fold((f32::MAX, f32::MIN), |(lo, hi), r| (lo.min(r), hi.max(r)))
        };
        let ((lo0, hi0), (lo1, hi1)) = (range(0), range(1));
        assert!(lo0 < 0.1 && lo1 < 0.1 && hi0 > 4.9 && hi1 > 4.9);
        // Along the positive y axis the classes alternate with the radius.
        let mut ray: Vec<(f32, usize)> = (0..d.len())
            .filter(|&i| d.features.get(i, 1) > 0.0 && d.features.get(i, 0).abs() < 0.3)
            .map(|i| (radius(&d, i), d.labels[i]))
            .collect();
        ray.sort_by(|a, b| a.0.total_cmp(&b.0));
        let switches = ray.windows(2).filter(|w| w[0].1 != w[1].1).count();
        assert!(
            switches >= 3,
            "only {switches} class switches along the ray"
        );
        // Leave-one-out 1-NN: only the centre, where both arms start at
        // (0, 0), can be wrong.
        let correct = (0..d.len())
            .filter(|&i| {
                let p = d.features.row(i);
                let nn = (0..d.len())
                    .filter(|&j| j != i)
                    .min_by(|&a, &b| {
                        let da = dist2(p, d.features.row(a));
                        da.total_cmp(&dist2(p, d.features.row(b)))
                    })
                    .unwrap();
                d.labels[nn] == d.labels[i]
            })
            .count();
        assert!(correct >= d.len() - 4, "1-NN {correct} / {}", d.len());
    }

    #[test]
    fn gaussian_spread_follows_the_slider() {
        // Sample variance of x in class 0 against 0.5 + 7 noise.
        for (noise, var) in [(0.0, 0.5), (0.5, 4.0)] {
            let d = gaussians(20_000, noise, 8);
            let xs: Vec<f64> = (0..d.len())
                .filter(|&i| d.labels[i] == 0)
                .map(|i| f64::from(d.features.get(i, 0)))
                .collect();
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            let v = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
            assert!((mean - 2.0).abs() < 0.1, "mean {mean}");
            assert!((v / var - 1.0).abs() < 0.05, "variance {v} vs {var}");
        }
    }

    #[test]
    #[should_panic(expected = "noise must be in [0, 1]")]
    fn noise_above_one_panics() {
        spirals(10, 1.5, 0);
    }

    fn dist2(a: &[f32], b: &[f32]) -> f32 {
        (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
    }
}
