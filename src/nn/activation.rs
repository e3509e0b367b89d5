//! Element-wise activations and their derivatives, all in one reviewable
//! place.
//!
//! | name | `f(x)` | `f'(x)` (as computed, from `x` or `y = f(x)`) |
//! | --- | --- | --- |
//! | `identity` | `x` | `1` |
//! | `sigmoid` | `1 / (1 + e^-x)` | `y (1 - y)` (at most 1/4) |
//! | `tanh` | `tanh x` | `1 - y^2` |
//! | `relu` | `max(0, x)` | `1 if x > 0 else 0` |
//! | `leaky_relu(a)` | `x if x > 0 else a x` | `1 if x > 0 else a` (a = 0.01) |
//! | `elu(a)` | `x if x > 0 else a (e^x - 1)` | `1 if x > 0 else y + a` (a = 1) |
//! | `selu` | `s x if x > 0 else s a (e^x - 1)` | `s if x > 0 else y + s a` |
//! | `gelu` | `x Phi(x)` | `Phi(x) + x phi(x)` |
//! | `gelu_tanh` | `x/2 (1 + tanh u)`, `u = sqrt(2/pi)(x + 0.044715 x^3)` | `(1 + t)/2 + x/2 (1 - t^2) u'` |
//! | `silu` | `x sigmoid(x)` | `s (1 + x (1 - s))` |
//! | `softsign` | `x / (1 + |x|)` | `1 / (1 + |x|)^2` |
//! | `softplus` | `ln(1 + e^x)` | `sigmoid(x)` |
//!
//! SELU's constants are Klambauer et al.'s: `s = 1.0507009873554805`,
//! `a = 1.6732632423543772`. At a kink (`x = 0`) the derivative is the
//! left one, as in PyTorch.
//!
//! ```
//! use gradscope::nn::{Activation, ActivationLayer, Layer, Mode};
//! use gradscope::tensor::Matrix;
//! let mut sig = ActivationLayer::<f64>::new(Activation::Sigmoid);
//! let y = sig.forward(&Matrix::from_rows(&[vec![0.0]]), Mode::Train).get(0, 0);
//! assert_eq!(y, 0.5);
//! ```

use crate::error::{Error, Result};
use crate::tensor::Scalar;
use std::fmt;
use std::str::FromStr;

const SELU_SCALE: f64 = 1.050_700_987_355_480_5;
const SELU_ALPHA: f64 = 1.673_263_242_354_377_2;
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_TANH_C: f64 = 0.044_715;
const INV_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// An element-wise nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `x`.
    Identity,
    /// The logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// Rectified linear unit.
    Relu,
    /// ReLU with slope `alpha` for negative inputs.
    LeakyRelu {
        /// Slope for `x <= 0` (a bare `leaky_relu` parses to 0.01).
        alpha: f64,
    },
    /// Exponential linear unit.
    Elu {
        /// Scale of `e^x - 1` for `x <= 0`, so the output tends to `-alpha`
        /// (a bare `elu` parses to 1).
        alpha: f64,
    },
    /// Scaled ELU (self-normalizing networks).
    Selu,
    /// GELU with the exact normal CDF.
    Gelu,
    /// GELU, tanh approximation.
    GeluTanh,
    /// `x sigmoid(x)` (swish).
    Silu,
    /// `x / (1 + |x|)`.
    Softsign,
    /// `ln(1 + e^x)`.
    Softplus,
}

/// The names [`Activation::from_str`] accepts.
pub const ACTIVATION_NAMES: &str = "identity, sigmoid, tanh, relu, leaky_relu(alpha), elu(alpha), \
selu, gelu, gelu_tanh, silu, softsign, softplus";

impl Activation {
    /// Largest value of `f'` over the real line (1/4 for sigmoid), used to
    /// define saturation as "derivative below 5% of its maximum".
    pub fn max_derivative(&self) -> f64 {
        match *self {
            Activation::Sigmoid => 0.25,
            Activation::Selu => SELU_SCALE * SELU_ALPHA,
            Activation::LeakyRelu { alpha } | Activation::Elu { alpha } => alpha.max(1.0),
            Activation::Gelu => 1.128_904_1,
            Activation::GeluTanh => 1.129_203_5,
            Activation::Silu => 1.099_839_3,
            _ => 1.0,
        }
    }

    /// ReLU and its relatives, whose units can die (inactive on every input).
    pub fn is_relu_family(&self) -> bool {
        matches!(
            self,
            Activation::Relu
                | Activation::LeakyRelu { .. }
                | Activation::Elu { .. }
                | Activation::Selu
        )
    }

    /// The negative slope He init should use for this activation.
    pub fn leaky_slope(&self) -> f64 {
        match *self {
            Activation::LeakyRelu { alpha } => alpha,
            _ => 0.0,
        }
    }

    /// `f(x)` for one value, in f64 (reference implementation for tests and
    /// theory; the layer uses the vectorized loops below).
    pub fn value(&self, x: f64) -> f64 {
        let mut y = [0.0];
        self.forward_slice(&[x], &mut y);
        y[0]
    }

    /// `f'(x)` for one value, in f64.
    pub fn derivative(&self, x: f64) -> f64 {
        let y = self.value(x);
        let mut d = [0.0];
        self.backward_slice(&[x], &[y], &[1.0], &mut d);
        d[0]
    }

    /// `y = f(x)` over slices.
    pub fn forward_slice<T: Scalar>(&self, x: &[T], y: &mut [T]) {
        #[cfg(target_arch = "x86_64")]
        match crate::tensor::simd() {
            // SAFETY: the machine runs the current level (`tensor::simd`).
            crate::tensor::Simd::Avx512 => return unsafe { self.forward_slice_avx512(x, y) },
            // SAFETY: as above.
            crate::tensor::Simd::Avx2 => return unsafe { self.forward_slice_avx2(x, y) },
            crate::tensor::Simd::Portable => {}
        }
        self.forward_slice_portable(x, y)
    }

    /// [`Self::forward_slice`] compiled for AVX2: the same code, so the same
    /// results bit for bit (Rust never fuses a multiply and an add), in
    /// 8-lane vectors instead of baseline x86-64's 4.
    ///
    /// # Safety
    /// The machine must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn forward_slice_avx2<T: Scalar>(&self, x: &[T], y: &mut [T]) {
        self.forward_slice_portable(x, y)
    }

    /// [`Self::forward_slice`] compiled for AVX-512: 16 lanes, same results.
    ///
    /// # Safety
    /// The machine must support AVX-512 F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn forward_slice_avx512<T: Scalar>(&self, x: &[T], y: &mut [T]) {
        self.forward_slice_portable(x, y)
    }

    #[inline(always)]
    fn forward_slice_portable<T: Scalar>(&self, x: &[T], y: &mut [T]) {
        let c = T::cast;
        let one = T::one();
        let zero = T::zero();
        let it = y.iter_mut().zip(x);
        match *self {
            Activation::Identity => y.copy_from_slice(x),
            Activation::Sigmoid => it.for_each(|(y, &x)| *y = one / (one + (-x).exp_fast())),
            Activation::Tanh => it.for_each(|(y, &x)| *y = x.tanh()),
            Activation::Relu => it.for_each(|(y, &x)| *y = if x > zero { x } else { zero }),
            Activation::LeakyRelu { alpha } => {
                let a = c(alpha);
                it.for_each(|(y, &x)| *y = if x > zero { x } else { a * x })
            }
            Activation::Elu { alpha } => {
                let a = c(alpha);
                it.for_each(|(y, &x)| *y = if x > zero { x } else { a * x.exp_m1() })
            }
            Activation::Selu => {
                let (s, sa) = (c(SELU_SCALE), c(SELU_SCALE * SELU_ALPHA));
                it.for_each(|(y, &x)| *y = if x > zero { s * x } else { sa * x.exp_m1() })
            }
            Activation::Gelu => {
                let (h, k) = (c(0.5), c(INV_SQRT_2));
                it.for_each(|(y, &x)| *y = h * x * (one + (x * k).erf()))
            }
            Activation::GeluTanh => {
                let (h, k, a) = (c(0.5), c(SQRT_2_OVER_PI), c(GELU_TANH_C));
                it.for_each(|(y, &x)| *y = h * x * (one + (k * (x + a * x * x * x)).tanh()))
            }
            Activation::Silu => it.for_each(|(y, &x)| *y = x / (one + (-x).exp_fast())),
            Activation::Softsign => it.for_each(|(y, &x)| *y = x / (one + x.abs())),
            Activation::Softplus => {
                // ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|), stable for any x.
                it.for_each(|(y, &x)| *y = x.max(zero) + (-x.abs()).exp().ln_1p())
            }
        }
    }

    /// `dx = g * f'(x)` over slices, given `x`, `y = f(x)` and `g = dL/dy`:
    /// `dL/dx`, written straight into `dx` (no copy of `g` first).
    pub fn backward_slice<T: Scalar>(&self, x: &[T], y: &[T], g: &[T], dx: &mut [T]) {
        #[cfg(target_arch = "x86_64")]
        match crate::tensor::simd() {
            crate::tensor::Simd::Avx512 => {
                // SAFETY: the machine runs the current level (`tensor::simd`).
                return unsafe { self.backward_slice_avx512(x, y, g, dx) };
            }
            // SAFETY: as above.
            crate::tensor::Simd::Avx2 => return unsafe { self.backward_slice_avx2(x, y, g, dx) },
            crate::tensor::Simd::Portable => {}
        }
        self.backward_slice_portable(x, y, g, dx)
    }

    /// [`Self::backward_slice`] compiled for AVX2 (same results).
    ///
    /// # Safety
    /// The machine must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn backward_slice_avx2<T: Scalar>(&self, x: &[T], y: &[T], g: &[T], dx: &mut [T]) {
        self.backward_slice_portable(x, y, g, dx)
    }

    /// [`Self::backward_slice`] compiled for AVX-512 (same results).
    ///
    /// # Safety
    /// The machine must support AVX-512 F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn backward_slice_avx512<T: Scalar>(&self, x: &[T], y: &[T], g: &[T], dx: &mut [T]) {
        self.backward_slice_portable(x, y, g, dx)
    }

    #[inline(always)]
    fn backward_slice_portable<T: Scalar>(&self, x: &[T], y: &[T], g: &[T], dx: &mut [T]) {
        let c = T::cast;
        let one = T::one();
        let zero = T::zero();
        let n = dx.len();
        let (x, y, g) = (&x[..n], &y[..n], &g[..n]);
        // dx[i] from g[i], x[i] and y[i], in one vectorizable loop.
        macro_rules! each {
            (|$g:ident, $x:ident, $y:ident| $e:expr) => {
                for (((d, &$g), &$x), &$y) in dx.iter_mut().zip(g).zip(x).zip(y) {
                    *d = $e;
                }
            };
        }
        match *self {
            Activation::Identity => dx.copy_from_slice(g),
            // d/dx sigmoid(x) = s (1 - s)
            Activation::Sigmoid => each!(|g, _x, s| g * s * (one - s)),
            // d/dx tanh(x) = 1 - tanh(x)^2
            Activation::Tanh => each!(|g, _x, t| g * (one - t * t)),
            Activation::Relu => each!(|g, x, _y| if x > zero { g } else { zero }),
            Activation::LeakyRelu { alpha } => {
                let a = c(alpha);
                each!(|g, x, _y| if x > zero { g } else { a * g })
            }
            // for x <= 0: d/dx a (e^x - 1) = a e^x = y + a
            Activation::Elu { alpha } => {
                let a = c(alpha);
                each!(|g, x, y| if x > zero { g } else { g * (y + a) })
            }
            Activation::Selu => {
                let (s, sa) = (c(SELU_SCALE), c(SELU_SCALE * SELU_ALPHA));
                each!(|g, x, y| g * if x > zero { s } else { y + sa })
            }
            // d/dx x Phi(x) = Phi(x) + x phi(x)
            Activation::Gelu => {
                let (h, k, p) = (c(0.5), c(INV_SQRT_2), c(INV_SQRT_2PI));
                each!(|g, x, _y| {
                    let cdf = h * (one + (x * k).erf());
                    let pdf = p * (-h * x * x).exp();
                    g * (cdf + x * pdf)
                })
            }
            Activation::GeluTanh => {
                let (h, k, a) = (c(0.5), c(SQRT_2_OVER_PI), c(GELU_TANH_C));
                let a3 = c(3.0 * GELU_TANH_C);
                each!(|g, x, _y| {
                    let t = (k * (x + a * x * x * x)).tanh();
                    let du = k * (one + a3 * x * x);
                    g * (h * (one + t) + h * x * (one - t * t) * du)
                })
            }
            // d/dx x s(x) = s + x s (1 - s)
            Activation::Silu => each!(|g, x, _y| {
                let s = one / (one + (-x).exp_fast());
                g * s * (one + x * (one - s))
            }),
            // d/dx x/(1+|x|) = 1/(1+|x|)^2
            Activation::Softsign => each!(|g, x, _y| {
                let d = one + x.abs();
                g / (d * d)
            }),
            // d/dx ln(1+e^x) = sigmoid(x)
            Activation::Softplus => each!(|g, x, _y| g / (one + (-x).exp())),
        }
    }
}

impl Activation {
    /// The names [`Activation::from_str`] accepts ([`ACTIVATION_NAMES`]).
    pub const NAMES: &'static str = ACTIVATION_NAMES;
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Activation::Identity => f.write_str("identity"),
            Activation::Sigmoid => f.write_str("sigmoid"),
            Activation::Tanh => f.write_str("tanh"),
            Activation::Relu => f.write_str("relu"),
            Activation::LeakyRelu { alpha } => write!(f, "leaky_relu({alpha})"),
            Activation::Elu { alpha } => write!(f, "elu({alpha})"),
            Activation::Selu => f.write_str("selu"),
            Activation::Gelu => f.write_str("gelu"),
            Activation::GeluTanh => f.write_str("gelu_tanh"),
            Activation::Silu => f.write_str("silu"),
            Activation::Softsign => f.write_str("softsign"),
            Activation::Softplus => f.write_str("softplus"),
        }
    }
}

impl FromStr for Activation {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let unknown = || Error::UnknownName {
            what: "activation",
            name: s.to_string(),
            expected: ACTIVATION_NAMES.to_string(),
        };
        let (name, args) = crate::names::split_call(s).ok_or_else(unknown)?;
        let alpha = |default: f64| -> Result<f64> {
            match args.first() {
                None => Ok(default),
                Some(a) => a.parse().map_err(|_| Error::InvalidConfig {
                    field: "activation".into(),
                    reason: format!("`{a}` in `{s}` is not a number"),
                }),
            }
        };
        Ok(match name {
            "identity" | "linear" | "none" => Activation::Identity,
            "sigmoid" | "logistic" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            "leaky_relu" => Activation::LeakyRelu {
                alpha: alpha(0.01)?,
            },
            "elu" => Activation::Elu { alpha: alpha(1.0)? },
            "selu" => Activation::Selu,
            "gelu" => Activation::Gelu,
            "gelu_tanh" => Activation::GeluTanh,
            "silu" | "swish" => Activation::Silu,
            "softsign" => Activation::Softsign,
            "softplus" => Activation::Softplus,
            _ => return Err(unknown()),
        })
    }
}

crate::names::serde_via_str!(Activation);

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Activation; 12] = [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.1 },
        Activation::Elu { alpha: 0.7 },
        Activation::Selu,
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::Silu,
        Activation::Softsign,
        Activation::Softplus,
    ];

    #[test]
    fn derivatives_match_central_differences() {
        // Points away from the kink at 0 of the ReLU family.
        for act in ALL {
            for &x in &[-3.1, -0.7, -0.05, 0.03, 0.4, 2.9] {
                let h = 1e-6;
                let fd = (act.value(x + h) - act.value(x - h)) / (2.0 * h);
                let an = act.derivative(x);
                assert!(
                    (fd - an).abs() < 1e-8,
                    "{act} at {x}: fd {fd}, analytic {an}"
                );
            }
        }
    }

    #[test]
    fn hand_derived_values() {
        // sigmoid'(0) = 1/4, tanh'(0) = 1, selu(1) = scale, softplus(0) = ln 2
        assert_eq!(Activation::Sigmoid.derivative(0.0), 0.25);
        assert_eq!(Activation::Tanh.derivative(0.0), 1.0);
        assert_eq!(Activation::Selu.value(1.0), SELU_SCALE);
        assert!((Activation::Softplus.value(0.0) - 2f64.ln()).abs() < 1e-15);
        assert_eq!(Activation::Relu.derivative(0.0), 0.0);
        assert!((Activation::Gelu.value(1.0) - 0.841_344_746_068_542_9).abs() < 1e-12);
        // softplus stays finite far out: ln(1 + e^800) = 800
        assert_eq!(Activation::Softplus.value(800.0), 800.0);
    }

    #[test]
    fn max_derivative_bounds_the_derivative() {
        for act in ALL {
            let m = (-400..400)
                .map(|i| act.derivative(i as f64 / 50.0 + 0.001))
                .fold(0.0f64, f64::max);
            assert!(m <= act.max_derivative() + 1e-6, "{act}: {m}");
            assert!(m >= act.max_derivative() * 0.97, "{act}: {m}");
        }
    }

    #[test]
    fn names_round_trip() {
        for act in ALL {
            assert_eq!(act.to_string().parse::<Activation>().unwrap(), act);
        }
        let err = "sigmoidal".parse::<Activation>().unwrap_err().to_string();
        assert!(err.starts_with("unknown activation `sigmoidal`"), "{err}");
    }

    #[test]
    fn dispatched_loops_match_the_portable_ones_bit_for_bit() {
        let x: Vec<f32> = (-300..300).map(|i| i as f32 * 0.37 - 0.05).collect();
        for act in ALL {
            let (mut y, mut y0) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
            act.forward_slice(&x, &mut y);
            act.forward_slice_portable(&x, &mut y0);
            let g: Vec<f32> = x.iter().map(|v| (v * 1.7).sin()).collect();
            let (mut d, mut d0) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
            act.backward_slice(&x, &y, &g, &mut d);
            act.backward_slice_portable(&x, &y0, &g, &mut d0);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&y), bits(&y0), "{act} forward");
            assert_eq!(bits(&d), bits(&d0), "{act} backward");
        }
    }

    #[test]
    fn f32_sigmoid_matches_f64() {
        let x: Vec<f32> = (-200..200).map(|i| i as f32 * 0.11).collect();
        let mut y = vec![0.0f32; x.len()];
        Activation::Sigmoid.forward_slice(&x, &mut y);
        for (&xi, &yi) in x.iter().zip(&y) {
            let want = 1.0 / (1.0 + (-(xi as f64)).exp());
            assert!(((yi as f64) - want).abs() <= 5e-7 * want.max(1e-30), "{xi}");
        }
    }
}
