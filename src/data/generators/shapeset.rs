//! Shapeset-3x2 (Glorot & Bengio 2010): 32 x 32 grey images holding one or
//! two shapes among triangle, parallelogram and ellipse, each with random
//! proportions, size, rotation, position and grey level.
//!
//! Features are the 1024 pixels, row-major (row 0 at the top), in `[0, 1]`:
//! background 0, each shape a grey level drawn from `[0.3, 1]`; in a
//! two-shape image the second is painted over the first and differs from it
//! by at least 0.2 in grey. Pixels are 2 x 2 supersampled (a pixel is the
//! mean of the four sub-samples at its quarter points), so edges are
//! anti-aliased and values are multiples of 1/4 of a grey level.
//!
//! Classes name the shapes present, regardless of order:
//!
//! | class | shapes | class | shapes | class | shapes |
//! |---|---|---|---|---|---|
//! | 0 | triangle | 3 | triangle + parallelogram | 6 | triangle + triangle |
//! | 1 | parallelogram | 4 | triangle + ellipse | 7 | parallelogram + parallelogram |
//! | 2 | ellipse | 5 | parallelogram + ellipse | 8 | ellipse + ellipse |
//!
//! Every shape is a convex outline whose longest side or axis is 12 to 20
//! pixels and whose narrowest width is about 6 pixels or more; its bounding
//! box keeps 1 pixel off every edge, so no shape is clipped. The second
//! shape may cover at most half of the smaller shape's area (counted on the
//! sub-sample grid); placements that overlap more are redrawn.
//!
//! ```
//! use gradscope::data::generators::shapeset::shapeset_3x2;
//! let d = shapeset_3x2(18, 1);
//! assert_eq!((d.len(), d.dim(), d.classes), (18, 1024, 9));
//! assert_eq!(d.class_counts(), vec![2; 9]);
//! ```

use std::f64::consts::PI;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::Dataset;
use crate::nn::conv::Image;
use crate::tensor::Matrix;

/// Image side in pixels.
pub const SIDE: usize = 32;
/// Number of classes.
pub const CLASSES: usize = 9;
/// Class names, indexed by class.
pub const CLASS_NAMES: [&str; CLASSES] = [
    "triangle",
    "parallelogram",
    "ellipse",
    "triangle+parallelogram",
    "triangle+ellipse",
    "parallelogram+ellipse",
    "triangle+triangle",
    "parallelogram+parallelogram",
    "ellipse+ellipse",
];

/// Sub-samples per pixel along each axis.
const SS: usize = 2;
/// Sub-sample grid side; one `u64` bit row per grid row.
const GRID: usize = SIDE * SS;
/// Pixels kept free between a shape's bounding box and the image edge.
const MARGIN: f64 = 1.0;
/// Placements of the second shape tried before the first is redrawn.
const TRIES: usize = 100;

/// The three shape categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ShapeKind {
    /// Any non-degenerate triangle.
    Triangle,
    /// Sides in ratio 0.56 to 1, corner angles 65 to 115 degrees.
    Parallelogram,
    /// Axes in ratio 0.5 to 1.
    Ellipse,
}

use ShapeKind::{Ellipse, Parallelogram, Triangle};

/// The shapes of class `class`, in canonical order.
///
/// # Panics
/// When `class >= 9`.
pub fn class_kinds(class: usize) -> &'static [ShapeKind] {
    const KINDS: [&[ShapeKind]; CLASSES] = [
        &[Triangle],
        &[Parallelogram],
        &[Ellipse],
        &[Triangle, Parallelogram],
        &[Triangle, Ellipse],
        &[Parallelogram, Ellipse],
        &[Triangle, Triangle],
        &[Parallelogram, Parallelogram],
        &[Ellipse, Ellipse],
    ];
    KINDS[class]
}

/// `n` Shapeset-3x2 images, classes `i % 9` in a seeded random order (so
/// counts differ by at most one, and are equal when `n % 9 == 0`).
pub fn shapeset_3x2(n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut labels: Vec<usize> = (0..n).map(|i| i % CLASSES).collect();
    labels.shuffle(&mut rng);
    let mut features = Matrix::zeros(n, SIDE * SIDE);
    for (i, &class) in labels.iter().enumerate() {
        Scene::sample(class, &mut rng).render_into(features.row_mut(i));
    }
    Dataset {
        name: "shapeset".to_string(),
        features,
        labels,
        classes: CLASSES,
        image: Some(Image::new(1, SIDE, SIDE)),
    }
}

/// One shape on the image: its kind, grey level and coverage.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Which category.
    pub kind: ShapeKind,
    /// Grey level in `[0.3, 1]`.
    pub grey: f32,
    /// Coverage on the sub-sample grid: bit `x` of row `y`.
    mask: [u64; GRID],
}

impl Shape {
    /// Covered area in pixels (sub-samples / 4).
    pub fn area(&self) -> f64 {
        let count: u32 = self.mask.iter().map(|r| r.count_ones()).sum();
        f64::from(count) / (SS * SS) as f64
    }

    /// Area covered by both shapes, in pixels.
    pub fn overlap(&self, other: &Shape) -> f64 {
        let count: u32 = self
            .mask
            .iter()
            .zip(&other.mask)
            .map(|(a, b)| (a & b).count_ones())
            .sum();
        f64::from(count) / (SS * SS) as f64
    }

    /// Whether the shape covers any sub-sample of pixel `(row, col)`.
    pub fn touches_pixel(&self, row: usize, col: usize) -> bool {
        let bits = ((1u64 << SS) - 1) << (col * SS);
        (0..SS).any(|k| self.mask[row * SS + k] & bits != 0)
    }
}

/// The shapes of one image, in painting order.
#[derive(Clone, Debug)]
pub struct Scene {
    /// The class (see the module doc).
    pub class: usize,
    /// One or two shapes; the second is painted over the first.
    pub shapes: Vec<Shape>,
}

impl Scene {
    /// Draws a scene of class `class`; mixed pairs come in random order.
    ///
    /// # Panics
    /// When `class >= 9`.
    pub fn sample<R: Rng + ?Sized>(class: usize, rng: &mut R) -> Scene {
        let mut kinds = class_kinds(class).to_vec();
        kinds.shuffle(rng);
        let first_grey = rng.gen_range(0.3..=1.0);
        loop {
            let first = place(kinds[0], first_grey, rng);
            let Some(&second_kind) = kinds.get(1) else {
                return Scene {
                    class,
                    shapes: vec![first],
                };
            };
            for _ in 0..TRIES {
                let grey = loop {
                    let g: f32 = rng.gen_range(0.3..=1.0);
                    if (g - first_grey).abs() >= 0.2 {
                        break g;
                    }
                };
                let second = place(second_kind, grey, rng);
                if first.overlap(&second) <= 0.5 * first.area().min(second.area()) {
                    return Scene {
                        class,
                        shapes: vec![first, second],
                    };
                }
            }
        }
    }

    /// The image, row-major, as a new vector of 1024 values.
    pub fn render(&self) -> Vec<f32> {
        let mut out = vec![0.0; SIDE * SIDE];
        self.render_into(&mut out);
        out
    }

    /// Writes the image into `out` (1024 values).
    ///
    /// # Panics
    /// When `out.len() != 1024`.
    pub fn render_into(&self, out: &mut [f32]) {
        assert_eq!(out.len(), SIDE * SIDE, "Shapeset images are 32 x 32");
        for (p, v) in out.iter_mut().enumerate() {
            let (row, col) = (p / SIDE, p % SIDE);
            let mut sum = 0.0;
            for y in row * SS..(row + 1) * SS {
                for x in col * SS..(col + 1) * SS {
                    // The last shape covering the sub-sample is on top.
                    let top = self.shapes.iter().rev().find(|s| s.mask[y] >> x & 1 == 1);
                    sum += top.map_or(0.0, |s| s.grey);
                }
            }
            *v = sum / (SS * SS) as f32;
        }
    }
}

/// A convex outline in pixel coordinates (`x` to the right, `y` down).
enum Outline {
    /// Vertices in counter-clockwise order (cross products >= 0 inside).
    Polygon(Vec<[f64; 2]>),
    /// Centre, semi-axes and the angle of the first axis.
    Ellipse {
        c: [f64; 2],
        a: f64,
        b: f64,
        angle: f64,
    },
}

/// Draws a shape of `kind`, sized, rotated and placed at random, fully
/// inside the image.
fn place<R: Rng + ?Sized>(kind: ShapeKind, grey: f32, rng: &mut R) -> Shape {
    loop {
        let mut outline = Outline::sample(kind, rng);
        let (lo, hi) = outline.bbox();
        let (x0, x1) = (MARGIN - lo[0], SIDE as f64 - MARGIN - hi[0]);
        let (y0, y1) = (MARGIN - lo[1], SIDE as f64 - MARGIN - hi[1]);
        if x0 > x1 || y0 > y1 {
            continue; // too big for the image at this angle
        }
        outline.shift([rng.gen_range(x0..=x1), rng.gen_range(y0..=y1)]);
        return Shape {
            kind,
            grey,
            mask: outline.rasterize(),
        };
    }
}

impl Outline {
    /// A random outline of `kind` centred near the origin.
    fn sample<R: Rng + ?Sized>(kind: ShapeKind, rng: &mut R) -> Outline {
        let s = rng.gen_range(12.0..=20.0);
        let angle = rng.gen_range(0.0..2.0 * PI);
        let local = match kind {
            Triangle => {
                // Base s, apex above a point of the middle 70% of the base.
                let (u, h) = (
                    rng.gen_range(-0.35..=0.35) * s,
                    rng.gen_range(0.6..=1.0) * s,
                );
                vec![[-s / 2.0, 0.0], [s / 2.0, 0.0], [u, h]]
            }
            Parallelogram => {
                let b = rng.gen_range(0.56..=1.0) * s;
                let phi = rng.gen_range(65f64..=115.0).to_radians();
                let (dx, dy) = (b * phi.cos(), b * phi.sin());
                vec![[0.0, 0.0], [s, 0.0], [s + dx, dy], [dx, dy]]
            }
            Ellipse => {
                let b = rng.gen_range(0.5..=1.0) * s / 2.0;
                return Outline::Ellipse {
                    c: [0.0, 0.0],
                    a: s / 2.0,
                    b,
                    angle,
                };
            }
        };
        // Centre on the vertex mean, rotate, and make the order CCW.
        let n = local.len() as f64;
        let m = local
            .iter()
            .fold([0.0, 0.0], |m, p| [m[0] + p[0] / n, m[1] + p[1] / n]);
        let (sin, cos) = angle.sin_cos();
        let mut pts: Vec<[f64; 2]> = local
            .iter()
            .map(|p| {
                let (x, y) = (p[0] - m[0], p[1] - m[1]);
                [x * cos - y * sin, x * sin + y * cos]
            })
            .collect();
        if signed_area(&pts) < 0.0 {
            pts.reverse();
        }
        Outline::Polygon(pts)
    }

    /// Axis-aligned bounding box `(min, max)`.
    fn bbox(&self) -> ([f64; 2], [f64; 2]) {
        match self {
            Outline::Polygon(pts) => {
                pts.iter()
                    .fold(([f64::MAX; 2], [f64::MIN; 2]), |(lo, hi), p| {
                        (
                            [lo[0].min(p[0]), lo[1].min(p[1])],
                            [hi[0].max(p[0]), hi[1].max(p[1])],
                        )
                    })
            }
            &Outline::Ellipse { c, a, b, angle } => {
                let (sin, cos) = angle.sin_cos();
                let hx = (a * a * cos * cos + b * b * sin * sin).sqrt();
                let hy = (a * a * sin * sin + b * b * cos * cos).sqrt();
                ([c[0] - hx, c[1] - hy], [c[0] + hx, c[1] + hy])
            }
        }
    }

    fn shift(&mut self, d: [f64; 2]) {
        match self {
            Outline::Polygon(pts) => pts.iter_mut().for_each(|p| *p = [p[0] + d[0], p[1] + d[1]]),
            Outline::Ellipse { c, .. } => *c = [c[0] + d[0], c[1] + d[1]],
        }
    }

    fn contains(&self, p: [f64; 2]) -> bool {
        match self {
            Outline::Polygon(pts) => (0..pts.len()).all(|i| {
                let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
                (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) >= 0.0
            }),
            &Outline::Ellipse { c, a, b, angle } => {
                let (sin, cos) = angle.sin_cos();
                let (dx, dy) = (p[0] - c[0], p[1] - c[1]);
                let (u, v) = (dx * cos + dy * sin, -dx * sin + dy * cos);
                (u / a).powi(2) + (v / b).powi(2) <= 1.0
            }
        }
    }

    /// Coverage on the sub-sample grid, tested at sub-sample centres.
    fn rasterize(&self) -> [u64; GRID] {
        let mut mask = [0u64; GRID];
        let (lo, hi) = self.bbox();
        let cell = |v: f64| ((v * SS as f64).floor().max(0.0) as usize).min(GRID - 1);
        for (y, row) in mask
            .iter_mut()
            .enumerate()
            .take(cell(hi[1]) + 1)
            .skip(cell(lo[1]))
        {
            for x in cell(lo[0])..=cell(hi[0]) {
                let p = [(x as f64 + 0.5) / SS as f64, (y as f64 + 0.5) / SS as f64];
                if self.contains(p) {
                    *row |= 1 << x;
                }
            }
        }
        mask
    }
}

/// Shoelace area, positive for counter-clockwise order.
fn signed_area(pts: &[[f64; 2]]) -> f64 {
    let n = pts.len();
    (0..n)
        .map(|i| {
            let (a, b) = (pts[i], pts[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum::<f64>()
        / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(image: &[f32]) -> usize {
        image.iter().filter(|&&v| v > 0.0).count()
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let bits = |d: &Dataset| {
            d.features
                .as_slice()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        };
        let (a, b, c) = (
            shapeset_3x2(60, 4),
            shapeset_3x2(60, 4),
            shapeset_3x2(60, 5),
        );
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(a.labels, b.labels);
        assert_ne!(bits(&a), bits(&c));
        assert_ne!(a.labels, c.labels);
    }

    #[test]
    fn classes_are_balanced_over_nine() {
        assert_eq!(shapeset_3x2(900, 1).class_counts(), vec![100; 9]);
        let counts = shapeset_3x2(905, 1).class_counts();
        assert_eq!(counts, [vec![101; 5], vec![100; 4]].concat());
        // In a random order, not 0, 1, 2, ...
        let d = shapeset_3x2(90, 2);
        assert!(
            d.labels
                .iter()
                .enumerate()
                .filter(|&(i, &l)| l == i % 9)
                .count()
                < 45
        );
    }

    #[test]
    fn pixels_are_in_unit_range_and_never_blank() {
        let d = shapeset_3x2(450, 3);
        assert_eq!(d.dim(), 1024);
        assert!(d
            .features
            .as_slice()
            .iter()
            .all(|v| (0.0..=1.0).contains(v)));
        for i in 0..d.len() {
            // The smallest shape (a 12 x 7.2 triangle) covers over 40 pixels.
            assert!(lit(d.features.row(i)) >= 40, "image {i} nearly blank");
        }
    }

    #[test]
    fn second_shape_covers_at_most_half_the_smaller_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let mut touching = 0;
        for i in 0..2000 {
            let scene = Scene::sample(3 + i % 6, &mut rng);
            let [a, b] = &scene.shapes[..] else {
                panic!("pair class with one shape")
            };
            let overlap = a.overlap(b);
            assert!(overlap <= 0.5 * a.area().min(b.area()), "overlap {overlap}");
            touching += usize::from(overlap > 0.0);
        }
        // The bound is exercised: shapes do overlap, just not too much.
        assert!(touching > 200, "only {touching} overlapping pairs");
    }

    #[test]
    fn scenes_hold_the_shapes_their_class_names() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for i in 0..900 {
            let class = i % 9;
            let scene = Scene::sample(class, &mut rng);
            let mut kinds: Vec<ShapeKind> = scene.shapes.iter().map(|s| s.kind).collect();
            kinds.sort();
            assert_eq!(kinds, class_kinds(class), "class {class}");
            for s in &scene.shapes {
                assert!(s.area() >= 40.0, "{:?} of {} px", s.kind, s.area());
                assert!((0.3..=1.0).contains(&s.grey));
                // Inside the image with a 1-pixel margin: border pixels unlit.
                for k in 0..SIDE {
                    for (r, c) in [(0, k), (SIDE - 1, k), (k, 0), (k, SIDE - 1)] {
                        assert!(!s.touches_pixel(r, c), "{:?} clipped at ({r}, {c})", s.kind);
                    }
                }
            }
        }
    }

    #[test]
    fn two_shapes_light_more_pixels_than_one() {
        let d = shapeset_3x2(900, 8);
        let mean_lit = |pairs: bool| {
            let rows: Vec<usize> = (0..d.len())
                .filter(|&i| (d.labels[i] >= 3) == pairs)
                .collect();
            rows.iter().map(|&i| lit(d.features.row(i))).sum::<usize>() as f64 / rows.len() as f64
        };
        let (one, two) = (mean_lit(false), mean_lit(true));
        assert!(two > 1.3 * one, "one shape {one:.1} px, two {two:.1} px");
    }

    #[test]
    fn rasterized_areas_match_the_geometry() {
        // A 16 x 8 axis-aligned rectangle and a circle of radius 6.
        let rect = Outline::Polygon(vec![[8.0, 12.0], [24.0, 12.0], [24.0, 20.0], [8.0, 20.0]]);
        let disc = Outline::Ellipse {
            c: [16.0, 16.0],
            a: 6.0,
            b: 6.0,
            angle: 0.3,
        };
        let area = |o: &Outline| {
            Shape {
                kind: Ellipse,
                grey: 1.0,
                mask: o.rasterize(),
            }
            .area()
        };
        assert_eq!(area(&rect), 128.0);
        assert!(
            (area(&disc) / (PI * 36.0) - 1.0).abs() < 0.03,
            "{}",
            area(&disc)
        );
    }

    #[test]
    fn painting_order_and_antialiasing() {
        // Left half of pixel (0, 0) under a, right half under b on top.
        let mut a = Shape {
            kind: Triangle,
            grey: 0.4,
            mask: [0; GRID],
        };
        let mut b = Shape {
            kind: Ellipse,
            grey: 0.8,
            mask: [0; GRID],
        };
        a.mask[0] = 0b11;
        b.mask[0] = 0b10;
        let image = Scene {
            class: 4,
            shapes: vec![a, b],
        }
        .render();
        // Sub-samples: 0.4, 0.8 (top row), 0, 0 (bottom row).
        assert!((image[0] - 0.3).abs() < 1e-6, "{}", image[0]);
        assert!(image[1..].iter().all(|&v| v == 0.0));
    }
}
