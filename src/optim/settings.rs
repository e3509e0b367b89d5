//! How a run's parameters learn: a spec's `[optimizer]` table. The update
//! rule is the library's own [`OptimizerConfig`] (read by its `name`, with
//! the keys that rule takes), next to the base learning rate and gradient
//! clipping, which every rule shares.
//!
//! ```
//! use gradscope::optim::{OptimizerConfig, OptimizerSettings};
//! let s: OptimizerSettings = toml::from_str("name = \"momentum\"\nlr = 0.01").unwrap();
//! assert_eq!(s.lr, 0.01);
//! assert_eq!(s.rule, OptimizerConfig::Sgd { momentum: 0.9, nesterov: false, weight_decay: 0.0 });
//! ```

use super::OptimizerConfig;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The `[optimizer]` table. Unknown keys are rejected (by the rule, which
/// receives every key but `lr`, `clip_norm` and `clip_value`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptimizerSettings {
    /// The update rule and its hyper-parameters (`name`, `momentum`...).
    #[serde(flatten)]
    pub rule: OptimizerConfig,
    /// Base learning rate (0.1); a schedule scales it per step.
    pub lr: f64,
    /// Clip gradients to this global L2 norm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_norm: Option<f64>,
    /// Clip every gradient entry to `[-v, v]` (after `clip_norm`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_value: Option<f64>,
}

impl Default for OptimizerSettings {
    /// Plain SGD at learning rate 0.1, no clipping.
    fn default() -> Self {
        Self {
            rule: OptimizerConfig::default(),
            lr: 0.1,
            clip_norm: None,
            clip_value: None,
        }
    }
}

impl OptimizerSettings {
    /// Checks the values serde cannot, naming the field
    /// (`optimizer.lr`).
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, reason: &str| {
            Err(Error::InvalidConfig {
                field: format!("optimizer.{field}"),
                reason: reason.into(),
            })
        };
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", "must be a positive number");
        }
        for (field, clip) in [
            ("clip_norm", self.clip_norm),
            ("clip_value", self.clip_value),
        ] {
            if clip.is_some_and(|c| c.is_nan() || c <= 0.0) {
                return bad(field, "must be positive");
            }
        }
        let (OptimizerConfig::Sgd { weight_decay, .. }
        | OptimizerConfig::Adam { weight_decay, .. }
        | OptimizerConfig::AdamW { weight_decay, .. }) = self.rule;
        if !(weight_decay.is_finite() && weight_decay >= 0.0) {
            return bad("weight_decay", "must be zero or positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> std::result::Result<OptimizerSettings, String> {
        toml::from_str(text).map_err(|e| e.message().to_string())
    }

    /// Regression (issue 18, misleading messages): a negative weight
    /// decay was accepted, and grew the weights instead of shrinking them.
    #[test]
    fn negative_weight_decay_is_refused() {
        for name in ["sgd", "adam", "adamw"] {
            let s = parse(&format!("name = \"{name}\"\nweight_decay = -0.1")).unwrap();
            let err = s.validate().unwrap_err().to_string();
            assert!(err.contains("optimizer.weight_decay"), "{name}: {err}");
        }
        let ok = parse("name = \"adamw\"\nweight_decay = 0.0").unwrap();
        assert!(ok.validate().is_ok());
    }

    #[test]
    fn names_set_their_defaults_and_keys_override_them() {
        let sgd = |momentum, nesterov, weight_decay| OptimizerConfig::Sgd {
            momentum,
            nesterov,
            weight_decay,
        };
        assert_eq!(parse("lr = 0.5").unwrap().rule, sgd(0.0, false, 0.0));
        assert_eq!(
            parse("name = \"momentum\"").unwrap().rule,
            sgd(0.9, false, 0.0)
        );
        assert_eq!(
            parse("name = \"nesterov\"").unwrap().rule,
            sgd(0.9, true, 0.0)
        );
        assert_eq!(
            parse("name = \"momentum\"\nmomentum = 0.8\nweight_decay = 1e-4")
                .unwrap()
                .rule,
            sgd(0.8, false, 1e-4)
        );
        let adamw = parse("name = \"adamw\"\nbeta2 = 0.99").unwrap().rule;
        assert_eq!(
            adamw,
            OptimizerConfig::AdamW {
                beta1: 0.9,
                beta2: 0.99,
                eps: 1e-8,
                weight_decay: 0.01
            }
        );
    }

    #[test]
    fn keys_the_rule_does_not_take_are_rejected() {
        let e = parse("name = \"adam\"\nmomentum = 0.9").unwrap_err();
        assert!(e.starts_with("unknown field `momentum`"), "{e}");
        let e = parse("lr = 0.1\nmomentun = 0.9").unwrap_err();
        assert!(e.starts_with("unknown field `momentun`"), "{e}");
        let e = parse("name = \"adagrad\"").unwrap_err();
        assert!(e.starts_with("unknown optimizer `adagrad`"), "{e}");
    }

    #[test]
    fn written_back_the_sgd_family_is_sgd_with_its_keys() {
        let s = parse("name = \"nesterov\"\nlr = 0.01\nclip_norm = 1.0").unwrap();
        let text = toml::to_string(&s).unwrap();
        assert_eq!(
            text,
            "name = \"sgd\"\nmomentum = 0.9\nnesterov = true\nweight_decay = 0.0\nlr = 0.01\nclip_norm = 1.0\n"
        );
        assert_eq!(parse(&text).unwrap(), s);
    }

    #[test]
    fn bad_values_are_named() {
        let s = OptimizerSettings {
            clip_value: Some(-1.0),
            ..OptimizerSettings::default()
        };
        assert_eq!(
            s.validate().unwrap_err().to_string(),
            "invalid value for `optimizer.clip_value`: must be positive"
        );
    }
}
