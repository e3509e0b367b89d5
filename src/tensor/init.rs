//! Weight initializers, seeded and deterministic.
//!
//! A weight is `fan_out x fan_in` (`out_features x in_features`). Unless
//! stated otherwise biases start at zero (Glorot & Bengio 2010 and He et
//! al. 2015 both do so); the mean-field scheme draws them from
//! `N(0, sigma_b^2)`.
//!
//! | name | weight distribution |
//! | --- | --- |
//! | `normal(std)` | `N(0, std^2)` |
//! | `uniform(a)` | `U[-a, a]` |
//! | `standard` | `U[-1/sqrt(fan_in), 1/sqrt(fan_in)]` (Glorot & Bengio's eq. 1) |
//! | `xavier_uniform(gain)` | `U[-a, a]`, `a = gain sqrt(6 / (fan_in + fan_out))` |
//! | `xavier_normal(gain)` | `N(0, gain^2 2 / (fan_in + fan_out))` |
//! | `he_uniform(mode, slope)` | `U[-a, a]`, `a = sqrt(3) g / sqrt(fan)`, `g = sqrt(2 / (1 + slope^2))` |
//! | `he_normal(mode, slope)` | `N(0, g^2 / fan)` |
//! | `lecun_normal` | `N(0, 1 / fan_in)` |
//! | `orthogonal(gain)` | `gain Q`, `Q` from the QR of a Gaussian matrix (Saxe et al. 2014) |
//! | `mean_field(sigma_w, sigma_b)` | `W ~ N(0, sigma_w^2 / fan_in)`, `b ~ N(0, sigma_b^2)` |
//! | `mean_field_var(sigma_w2, sigma_b2)` | the same, given by the variances `sigma_w^2`, `sigma_b^2` as the theory writes them |
//!
//! For He init the mode defaults to `fan_in` and the slope to the model's
//! leaky-ReLU slope (0 for every other activation), so `he_normal` is right
//! for `leaky_relu(0.2)`; `he_normal` is also how that default prints.

use super::{Matrix, Scalar};
use crate::error::{Error, Result};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::fmt;
use std::str::FromStr;

/// Which fan a He initializer scales by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanMode {
    /// Preserve the forward signal's variance (default).
    FanIn,
    /// Preserve the backward gradient's variance.
    FanOut,
}

/// A weight initializer. Parse one with [`str::parse`]: `he_normal`,
/// `normal(0.01)`, `he_uniform(fan_out)`, `orthogonal(1.0)`,
/// `mean_field(1.5, 0.05)`...
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// `N(0, std^2)`.
    Normal {
        /// Standard deviation.
        std: f64,
    },
    /// `U[-a, a]`.
    Uniform {
        /// Half-width of the interval.
        a: f64,
    },
    /// Glorot & Bengio's "standard" `U[-1/sqrt(fan_in), 1/sqrt(fan_in)]`.
    Standard,
    /// Glorot & Bengio's normalized init, uniform:
    /// `U[-g sqrt(6/(fan_in + fan_out)), +...]`.
    XavierUniform {
        /// Gain `g` on the bound (1 for tanh in their paper).
        gain: f64,
    },
    /// Glorot & Bengio's normalized init, Gaussian:
    /// `N(0, g^2 2/(fan_in + fan_out))`.
    XavierNormal {
        /// Gain `g` on the standard deviation.
        gain: f64,
    },
    /// He et al. 2015, uniform, with the same variance as [`Init::HeNormal`].
    HeUniform {
        /// Which fan keeps its variance: the forward signal's or the gradient's.
        mode: FanMode,
        /// Leaky ReLU's negative slope `a` in `2/((1 + a^2) fan)`; `None`
        /// takes the model's.
        slope: Option<f64>,
    },
    /// He et al. 2015, Gaussian: `N(0, 2/((1 + a^2) fan))`.
    HeNormal {
        /// Which fan keeps its variance: the forward signal's or the gradient's.
        mode: FanMode,
        /// Leaky ReLU's negative slope `a`; `None` takes the model's.
        slope: Option<f64>,
    },
    /// LeCun et al. 1998, `N(0, 1/fan_in)`.
    LecunNormal,
    /// A random orthogonal matrix times `gain`.
    Orthogonal {
        /// Scale of the orthogonal matrix.
        gain: f64,
    },
    /// The mean-field parametrization of Poole et al. / Schoenholz et al.:
    /// weights `N(0, sigma_w^2/fan_in)`, biases `N(0, sigma_b^2)`.
    MeanField {
        /// Weight scale `sigma_w`.
        sigma_w: f64,
        /// Bias standard deviation `sigma_b`.
        sigma_b: f64,
    },
    /// [`Init::MeanField`] given by its variances, as Schoenholz et al.
    /// write it (and as a sweep over `sigma_w^2` sets it).
    MeanFieldVar {
        /// Weight variance scale `sigma_w^2`.
        sigma_w2: f64,
        /// Bias variance `sigma_b^2`.
        sigma_b2: f64,
    },
}

/// The names [`Init::from_str`] accepts, with their arguments (`mode` is
/// `fan_in` or `fan_out`; arguments with a default may be left out). The
/// help of `--init` and the error for an unknown name print this list.
pub const INIT_NAMES: &str = "normal(std), uniform(a), standard, xavier_uniform(gain), \
xavier_normal(gain), he_uniform(mode, slope), he_normal(mode, slope), lecun_normal, \
orthogonal(gain), mean_field(sigma_w, sigma_b), mean_field_var(sigma_w2, sigma_b2)";

impl Init {
    /// Fills `weight` (`fan_out x fan_in`) and `bias` (`1 x fan_out`).
    /// `leaky_slope` is the model's negative slope, used by He init when it
    /// gives none.
    pub fn fill<T: Scalar, R: Rng>(
        &self,
        weight: &mut Matrix<T>,
        bias: Option<&mut Matrix<T>>,
        leaky_slope: f64,
        rng: &mut R,
    ) {
        let (fan_out, fan_in) = weight.shape();
        let (fi, fo) = (fan_in as f64, fan_out as f64);
        let w = weight.as_mut_slice();
        match *self {
            Init::Normal { std } => fill_normal(w, std, rng),
            Init::Uniform { a } => fill_uniform(w, a, rng),
            Init::Standard => fill_uniform(w, 1.0 / fi.sqrt(), rng),
            Init::XavierUniform { gain } => fill_uniform(w, gain * (6.0 / (fi + fo)).sqrt(), rng),
            Init::XavierNormal { gain } => fill_normal(w, gain * (2.0 / (fi + fo)).sqrt(), rng),
            Init::HeUniform { mode, slope } => {
                let std = he_std(mode, slope.unwrap_or(leaky_slope), fi, fo);
                fill_uniform(w, 3f64.sqrt() * std, rng)
            }
            Init::HeNormal { mode, slope } => {
                fill_normal(w, he_std(mode, slope.unwrap_or(leaky_slope), fi, fo), rng)
            }
            Init::LecunNormal => fill_normal(w, 1.0 / fi.sqrt(), rng),
            Init::Orthogonal { gain } => fill_orthogonal(weight, gain, rng),
            Init::MeanField { sigma_w, .. } => fill_normal(w, sigma_w / fi.sqrt(), rng),
            Init::MeanFieldVar { sigma_w2, .. } => fill_normal(w, (sigma_w2 / fi).sqrt(), rng),
        }
        if let Some(bias) = bias {
            match *self {
                Init::MeanField { sigma_b, .. } => fill_normal(bias.as_mut_slice(), sigma_b, rng),
                Init::MeanFieldVar { sigma_b2, .. } => {
                    fill_normal(bias.as_mut_slice(), sigma_b2.sqrt(), rng)
                }
                _ => bias.fill(T::zero()),
            }
        }
    }

    /// The mean-field `(sigma_w^2, sigma_b^2)` of a layer this init fills
    /// (`fan_out x fan_in`): `fan_in` times the weights' variance, and the
    /// biases' variance. Every init has one, orthogonal included (its
    /// entries have variance `gain^2 / fan_in` when `fan_out <= fan_in`);
    /// `leaky_slope` is the model's, for He init.
    pub fn sigma2(&self, fan_in: usize, fan_out: usize, leaky_slope: f64) -> (f64, f64) {
        let (fi, fo) = (fan_in as f64, fan_out as f64);
        let w2 = match *self {
            Init::Normal { std } => std * std * fi,
            Init::Uniform { a } => a * a / 3.0 * fi,
            Init::Standard => 1.0 / 3.0,
            Init::XavierUniform { gain } | Init::XavierNormal { gain } => {
                gain * gain * 2.0 * fi / (fi + fo)
            }
            Init::HeUniform { mode, slope } | Init::HeNormal { mode, slope } => {
                he_std(mode, slope.unwrap_or(leaky_slope), fi, fo).powi(2) * fi
            }
            Init::LecunNormal => 1.0,
            Init::Orthogonal { gain } => gain * gain * fi / fi.max(fo),
            Init::MeanField { sigma_w, .. } => sigma_w * sigma_w,
            Init::MeanFieldVar { sigma_w2, .. } => sigma_w2,
        };
        let b2 = match *self {
            Init::MeanField { sigma_b, .. } => sigma_b * sigma_b,
            Init::MeanFieldVar { sigma_b2, .. } => sigma_b2,
            _ => 0.0,
        };
        (w2, b2)
    }
}

fn he_std(mode: FanMode, slope: f64, fan_in: f64, fan_out: f64) -> f64 {
    let gain = (2.0 / (1.0 + slope * slope)).sqrt();
    let fan = match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    };
    gain / fan.sqrt()
}

fn fill_normal<T: Scalar, R: Rng>(w: &mut [T], std: f64, rng: &mut R) {
    for v in w {
        let z: f64 = StandardNormal.sample(rng);
        *v = T::cast(std * z);
    }
}

fn fill_uniform<T: Scalar, R: Rng>(w: &mut [T], a: f64, rng: &mut R) {
    for v in w {
        *v = T::cast(rng.gen_range(-a..=a));
    }
}

/// `gain * Q` where `Q` has orthonormal rows (if `rows <= cols`) or
/// columns, from a Gaussian matrix by Gram-Schmidt run twice ("twice is
/// enough", Giraud et al. 2005), signs fixed as PyTorch does (`Q diag(sign
/// R)`, which makes `Q` Haar-distributed).
fn fill_orthogonal<T: Scalar, R: Rng>(weight: &mut Matrix<T>, gain: f64, rng: &mut R) {
    let (rows, cols) = weight.shape();
    // Work on the tall orientation: n vectors of length len, n <= len.
    let (n, len) = if rows <= cols {
        (rows, cols)
    } else {
        (cols, rows)
    };
    let mut q: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..len).map(|_| StandardNormal.sample(rng)).collect())
        .collect();
    for i in 0..n {
        let (done, rest) = q.split_at_mut(i);
        let v = &mut rest[0];
        let mut r_ii_sign = 1.0;
        for _pass in 0..2 {
            for u in done.iter() {
                let d: f64 = u.iter().zip(v.iter()).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(x, y)| *x -= d * y);
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 0.0 {
            // The Gaussian vector's component along the new direction is
            // `norm > 0`, so R's diagonal is positive: no sign flip needed.
            r_ii_sign = 1.0 / norm;
        }
        v.iter_mut().for_each(|x| *x *= r_ii_sign);
    }
    for (i, vec) in q.iter().enumerate() {
        for (j, &x) in vec.iter().enumerate() {
            let (r, c) = if rows <= cols { (i, j) } else { (j, i) };
            weight.set(r, c, T::cast(gain * x));
        }
    }
}

impl fmt::Display for FanMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FanMode::FanIn => "fan_in",
            FanMode::FanOut => "fan_out",
        })
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Init::Normal { std } => write!(f, "normal({std})"),
            Init::Uniform { a } => write!(f, "uniform({a})"),
            Init::Standard => write!(f, "standard"),
            Init::XavierUniform { gain } => write!(f, "xavier_uniform({gain})"),
            Init::XavierNormal { gain } => write!(f, "xavier_normal({gain})"),
            Init::HeUniform { mode, slope } | Init::HeNormal { mode, slope } => {
                let name = if matches!(self, Init::HeUniform { .. }) {
                    "he_uniform"
                } else {
                    "he_normal"
                };
                match (mode, slope) {
                    (FanMode::FanIn, None) => write!(f, "{name}"),
                    (_, Some(s)) => write!(f, "{name}({mode}, {s})"),
                    (_, None) => write!(f, "{name}({mode})"),
                }
            }
            Init::LecunNormal => write!(f, "lecun_normal"),
            Init::Orthogonal { gain } => write!(f, "orthogonal({gain})"),
            Init::MeanField { sigma_w, sigma_b } => write!(f, "mean_field({sigma_w}, {sigma_b})"),
            Init::MeanFieldVar { sigma_w2, sigma_b2 } => {
                write!(f, "mean_field_var({sigma_w2}, {sigma_b2})")
            }
        }
    }
}

impl Init {
    /// The names [`Init::from_str`] accepts ([`INIT_NAMES`]).
    pub const NAMES: &'static str = INIT_NAMES;
}

impl FromStr for Init {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let unknown = || Error::UnknownName {
            what: "init",
            name: s.to_string(),
            expected: INIT_NAMES.to_string(),
        };
        let (name, args) = crate::names::split_call(s).ok_or_else(unknown)?;
        let num = |i: usize, default: Option<f64>| -> Result<f64> {
            match args.get(i) {
                Some(a) => a.parse::<f64>().map_err(|_| Error::InvalidConfig {
                    field: "init".into(),
                    reason: format!("`{a}` in `{s}` is not a number"),
                }),
                None => default.ok_or_else(|| Error::InvalidConfig {
                    field: "init".into(),
                    reason: format!("`{name}` needs argument {} (e.g. `{name}(0.1)`)", i + 1),
                }),
            }
        };
        let he = |uniform: bool| -> Result<Init> {
            let mut mode = FanMode::FanIn;
            let mut slope = None;
            for a in &args {
                match *a {
                    "fan_in" => mode = FanMode::FanIn,
                    "fan_out" => mode = FanMode::FanOut,
                    other => {
                        slope = Some(other.parse::<f64>().map_err(|_| Error::InvalidConfig {
                            field: "init".into(),
                            reason: format!("`{other}` in `{s}` is neither a fan mode nor a slope"),
                        })?)
                    }
                }
            }
            Ok(if uniform {
                Init::HeUniform { mode, slope }
            } else {
                Init::HeNormal { mode, slope }
            })
        };
        let init = match name {
            "normal" => Init::Normal { std: num(0, None)? },
            "uniform" => Init::Uniform { a: num(0, None)? },
            "standard" => Init::Standard,
            "xavier_uniform" | "glorot_uniform" => Init::XavierUniform {
                gain: num(0, Some(1.0))?,
            },
            "xavier_normal" | "glorot_normal" => Init::XavierNormal {
                gain: num(0, Some(1.0))?,
            },
            "he_uniform" | "kaiming_uniform" => he(true)?,
            "he_normal" | "kaiming_normal" | "he" => he(false)?,
            "lecun_normal" | "lecun" => Init::LecunNormal,
            "orthogonal" => Init::Orthogonal {
                gain: num(0, Some(1.0))?,
            },
            "mean_field" => Init::MeanField {
                sigma_w: num(0, None)?,
                sigma_b: num(1, Some(0.0))?,
            },
            "mean_field_var" => {
                let (sigma_w2, sigma_b2) = (num(0, None)?, num(1, Some(0.0))?);
                if sigma_w2 < 0.0 || sigma_b2 < 0.0 {
                    return Err(Error::InvalidConfig {
                        field: "init".into(),
                        reason: format!("variances in `{s}` cannot be negative"),
                    });
                }
                Init::MeanFieldVar { sigma_w2, sigma_b2 }
            }
            _ => return Err(unknown()),
        };
        Ok(init)
    }
}

crate::names::serde_via_str!(Init);

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn draw(init: Init, rows: usize, cols: usize) -> Matrix<f64> {
        let mut w = Matrix::zeros(rows, cols);
        init.fill(&mut w, None, 0.0, &mut ChaCha8Rng::seed_from_u64(7));
        w
    }

    fn std_of(m: &Matrix<f64>) -> f64 {
        let n = m.len() as f64;
        let mean = m.as_slice().iter().sum::<f64>() / n;
        (m.as_slice().iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
    }

    #[test]
    fn variances_match_their_formulas() {
        let (out, inp) = (300, 400);
        let cases = [
            (Init::Normal { std: 0.05 }, 0.05),
            (Init::Standard, 1.0 / (3.0 * inp as f64).sqrt()),
            (Init::XavierNormal { gain: 1.0 }, (2.0 / 700.0f64).sqrt()),
            (Init::XavierUniform { gain: 1.0 }, (2.0 / 700.0f64).sqrt()),
            (
                Init::HeNormal {
                    mode: FanMode::FanIn,
                    slope: None,
                },
                (2.0 / 400.0f64).sqrt(),
            ),
            (
                Init::HeUniform {
                    mode: FanMode::FanOut,
                    slope: None,
                },
                (2.0 / 300.0f64).sqrt(),
            ),
            (Init::LecunNormal, (1.0 / 400.0f64).sqrt()),
        ];
        for (init, want) in cases {
            let got = std_of(&draw(init, out, inp));
            assert!(
                (got / want - 1.0).abs() < 0.02,
                "{init}: std {got}, want {want}"
            );
        }
    }

    #[test]
    fn sigma2_is_fan_in_times_the_drawn_variance() {
        let he = Init::HeUniform {
            mode: FanMode::FanOut,
            slope: Some(0.2),
        };
        let inits = [
            Init::Normal { std: 0.05 },
            Init::Uniform { a: 0.1 },
            Init::Standard,
            Init::XavierUniform { gain: 1.0 },
            he,
            Init::LecunNormal,
            Init::Orthogonal { gain: 1.5 },
            Init::MeanField {
                sigma_w: 1.5,
                sigma_b: 0.3,
            },
            Init::MeanFieldVar {
                sigma_w2: 1.76,
                sigma_b2: 0.05,
            },
        ];
        for (out, inp) in [(300, 400), (400, 300)] {
            for init in inits {
                let mut w = Matrix::<f64>::zeros(out, inp);
                let mut b = Matrix::<f64>::zeros(1, 4000);
                init.fill(&mut w, Some(&mut b), 0.0, &mut ChaCha8Rng::seed_from_u64(3));
                let (w2, b2) = init.sigma2(inp, out, 0.0);
                let got_w2 = std_of(&w).powi(2) * inp as f64;
                let got_b2 = std_of(&b).powi(2);
                assert!((got_w2 / w2 - 1.0).abs() < 0.02, "{init}: {got_w2} vs {w2}");
                assert!(
                    (got_b2 - b2).abs() < 0.05 * b2.max(1e-3),
                    "{init}: {got_b2} vs {b2}"
                );
            }
        }
    }

    #[test]
    fn orthogonal_rows_or_columns_are_orthonormal() {
        for (r, c) in [(20, 50), (50, 20), (30, 30)] {
            let w = draw(Init::Orthogonal { gain: 2.0 }, r, c);
            let wwt = if r <= c {
                crate::tensor::product(&w, crate::tensor::Op::N, &w, crate::tensor::Op::T)
            } else {
                crate::tensor::product(&w, crate::tensor::Op::T, &w, crate::tensor::Op::N)
            };
            for i in 0..wwt.rows() {
                for j in 0..wwt.cols() {
                    let want = if i == j { 4.0 } else { 0.0 };
                    assert!((wwt.get(i, j) - want).abs() < 1e-10, "({r},{c}) at {i},{j}");
                }
            }
        }
    }

    #[test]
    fn same_seed_same_weights() {
        let a = draw(Init::Standard, 10, 10);
        let b = draw(Init::Standard, 10, 10);
        assert_eq!(a, b);
    }

    #[test]
    fn parse_round_trips_and_rejects_unknown() {
        for s in [
            "normal(0.01)",
            "standard",
            "he_normal(fan_out)",
            "he_uniform(fan_in, 0.2)",
            "orthogonal(1.5)",
            "mean_field(1.5, 0.05)",
            "mean_field_var(1.76, 0.05)",
        ] {
            let init: Init = s.parse().unwrap();
            assert_eq!(init.to_string().parse::<Init>().unwrap(), init, "{s}");
        }
        let err = "glorious".parse::<Init>().unwrap_err().to_string();
        assert!(err.contains("unknown init `glorious`"), "{err}");
        let err = "normal".parse::<Init>().unwrap_err().to_string();
        assert!(err.contains("needs argument 1"), "{err}");
    }
}
