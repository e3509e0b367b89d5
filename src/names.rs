//! Names with arguments, as users write them in specs and flags:
//! `leaky_relu(0.2)`, `he_normal(fan_out)`, `mean_field(1.5, 0.05)`.
//! Such types parse with `FromStr`, print with `Display`, and serialize as
//! that same string.

/// Splits `name(a, b)` into `("name", ["a", "b"])`; `None` when the
/// parenthesis is not closed.
pub(crate) fn split_call(s: &str) -> Option<(&str, Vec<&str>)> {
    let s = s.trim();
    match s.find('(') {
        None => Some((s, Vec::new())),
        Some(open) => {
            let inner = s[open + 1..].strip_suffix(')')?;
            let args = inner
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .collect();
            Some((s[..open].trim(), args))
        }
    }
}

/// Implements `Serialize`/`Deserialize` through `Display`/`FromStr`.
macro_rules! serde_via_str {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_via_str;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_calls() {
        assert_eq!(split_call("relu"), Some(("relu", vec![])));
        assert_eq!(split_call(" elu( 0.5 ) "), Some(("elu", vec!["0.5"])));
        assert_eq!(split_call("a(1, b)"), Some(("a", vec!["1", "b"])));
        assert_eq!(split_call("a(1"), None);
    }
}

/// Every name list agrees with its one parser: each listed name (and alias
/// in parentheses) is known to it, and each variant prints a listed name.
#[cfg(test)]
mod lists {
    use crate::data::Scaling;
    use crate::error::Error;
    use crate::experiment::Dtype;
    use crate::nn::{Activation, Loss, Norm, NormPlacement};
    use crate::optim::OptimizerName;
    use crate::tensor::{FanMode, Init};
    use std::fmt::Display;
    use std::str::FromStr;

    /// The entries of a list: `a, b(x, y), c (alias)`.
    fn entries(list: &str) -> Vec<&str> {
        let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
        for (i, c) in list.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(list[start..i].trim());
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(list[start..].trim());
        out
    }

    /// The names an entry gives: `batch (bn)` gives batch and bn,
    /// `he_normal(mode, slope)` gives he_normal.
    fn names(entry: &str) -> Vec<&str> {
        match entry.split_once(" (") {
            Some((name, alias)) => vec![name, alias.trim_end_matches(')')],
            None => vec![entry.split('(').next().unwrap()],
        }
    }

    fn check<T: FromStr<Err = Error> + Display>(list: &str, variants: &[T]) {
        let listed: Vec<&str> = entries(list).into_iter().flat_map(names).collect();
        for name in &listed {
            if let Err(e @ Error::UnknownName { .. }) = name.parse::<T>() {
                panic!("`{name}` is listed but not parsed: {e}");
            }
        }
        for v in variants {
            let shown = v.to_string();
            let base = shown.split('(').next().unwrap();
            assert!(
                listed.contains(&base),
                "`{shown}` prints a name not in `{list}`"
            );
            assert_eq!(shown.parse::<T>().unwrap().to_string(), shown);
        }
    }

    #[test]
    fn each_list_agrees_with_its_parser() {
        use Activation as A;
        check(
            Activation::NAMES,
            &[
                A::Identity,
                A::Sigmoid,
                A::Tanh,
                A::Relu,
                A::LeakyRelu { alpha: 0.1 },
                A::Elu { alpha: 1.0 },
                A::Selu,
                A::Gelu,
                A::GeluTanh,
                A::Silu,
                A::Softsign,
                A::Softplus,
            ],
        );
        let he = (FanMode::FanOut, Some(0.2));
        check(
            Init::NAMES,
            &[
                Init::Normal { std: 0.1 },
                Init::Uniform { a: 0.1 },
                Init::Standard,
                Init::XavierUniform { gain: 1.0 },
                Init::XavierNormal { gain: 2.0 },
                Init::HeUniform {
                    mode: he.0,
                    slope: he.1,
                },
                Init::HeNormal {
                    mode: he.0,
                    slope: None,
                },
                Init::LecunNormal,
                Init::Orthogonal { gain: 1.0 },
                Init::MeanField {
                    sigma_w: 1.5,
                    sigma_b: 0.05,
                },
                Init::MeanFieldVar {
                    sigma_w2: 1.76,
                    sigma_b2: 0.05,
                },
            ],
        );
        check(Norm::NAMES, &[Norm::None, Norm::Batch, Norm::Layer]);
        check(
            NormPlacement::NAMES,
            &[NormPlacement::Before, NormPlacement::After],
        );
        check(Loss::NAMES, &[Loss::CrossEntropy, Loss::Mse]);
        check(Dtype::NAMES, &[Dtype::F32, Dtype::F64]);
        check(
            Scaling::NAMES,
            &[Scaling::Unit, Scaling::Standardize, Scaling::Binarize(0.3)],
        );
        use OptimizerName as O;
        check(
            O::NAMES,
            &[O::Sgd, O::Momentum, O::Nesterov, O::Adam, O::AdamW],
        );
    }
}
