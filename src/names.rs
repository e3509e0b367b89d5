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
