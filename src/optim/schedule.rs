//! Learning-rate schedules: constant, step decay, cosine annealing, each
//! with an optional linear warm-up.
//!
//! With base rate `lr`, warm-up `W` steps and step index `t` (from 0):
//! - warm-up (`t < W`): `lr (t + 1) / W`;
//! - `constant`: `lr`;
//! - `step { every, gamma }`: `lr gamma^floor((t - W) / every)`;
//! - `cosine { total_steps, min_lr }`: `min + (lr - min) (1 + cos(pi s / S)) / 2`
//!   with `s = t - W`, `S = total_steps - W` (and `min` after `S`).

use serde::{Deserialize, Serialize};

/// The shape of the schedule after warm-up.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleKind {
    /// The base rate throughout (default).
    #[default]
    Constant,
    /// Multiply by `gamma` every `every` steps.
    Step {
        /// Steps between decays.
        every: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// Cosine annealing to `min_lr` at `total_steps`.
    Cosine {
        /// The step at which the rate reaches `min_lr`.
        total_steps: usize,
        /// The final rate.
        #[serde(default)]
        min_lr: f64,
    },
}

/// A learning-rate schedule. As a table, `name` may be left out
/// (`constant`), so `warmup_steps` can be set alone.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Default)]
pub struct Schedule {
    /// Shape after warm-up.
    #[serde(flatten)]
    pub kind: ScheduleKind,
    /// Linear warm-up steps (0 for none).
    pub warmup_steps: usize,
}

/// [`Schedule`] as read once `name` is there.
///
/// Not `deny_unknown_fields`: serde does not support it together with
/// `flatten` (every field, `name` included, would be rejected); the
/// flattened [`ScheduleKind`] still rejects unknown fields of its variants.
#[derive(Deserialize)]
struct ScheduleTable {
    #[serde(flatten)]
    kind: ScheduleKind,
    #[serde(default)]
    warmup_steps: usize,
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut table = toml::Table::deserialize(d)?;
        let name = table.entry("name").or_insert_with(|| "constant".into());
        if name.as_str() == Some("constant") {
            // A unit variant would let any other key through unread.
            if let Some(key) = table
                .keys()
                .find(|k| !["name", "warmup_steps"].contains(&k.as_str()))
            {
                return Err(D::Error::custom(format!(
                    "unknown field `{key}`: a constant schedule takes only `warmup_steps` \
                     (`step` takes every, gamma; `cosine` total_steps, min_lr)"
                )));
            }
        }
        let t: ScheduleTable = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| D::Error::custom(e.message()))?;
        Ok(Schedule {
            kind: t.kind,
            warmup_steps: t.warmup_steps,
        })
    }
}

impl Schedule {
    /// The learning rate at step `t` (0-based) for base rate `lr`.
    pub fn lr_at(&self, lr: f64, t: usize) -> f64 {
        let w = self.warmup_steps;
        if t < w {
            return lr * (t + 1) as f64 / w as f64;
        }
        let s = t - w;
        match self.kind {
            ScheduleKind::Constant => lr,
            ScheduleKind::Step { every, gamma } => lr * gamma.powi((s / every.max(1)) as i32),
            ScheduleKind::Cosine {
                total_steps,
                min_lr,
            } => {
                let span = total_steps.saturating_sub(w).max(1);
                if s >= span {
                    return min_lr;
                }
                let phase = std::f64::consts::PI * s as f64 / span as f64;
                min_lr + (lr - min_lr) * (1.0 + phase.cos()) / 2.0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_step_decay() {
        let s = Schedule {
            kind: ScheduleKind::Step {
                every: 10,
                gamma: 0.5,
            },
            warmup_steps: 4,
        };
        assert_eq!(s.lr_at(1.0, 0), 0.25);
        assert_eq!(s.lr_at(1.0, 3), 1.0);
        assert_eq!(s.lr_at(1.0, 13), 1.0);
        assert_eq!(s.lr_at(1.0, 14), 0.5);
        assert_eq!(s.lr_at(1.0, 34), 0.125);
    }

    #[test]
    fn schedule_deserializes_its_own_json() {
        // Regression: `deny_unknown_fields` next to `flatten` rejected `name`.
        let s = Schedule {
            kind: ScheduleKind::Step {
                every: 3,
                gamma: 0.5,
            },
            warmup_steps: 2,
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"name":"step","every":3,"gamma":0.5,"warmup_steps":2}"#
        );
        assert_eq!(serde_json::from_str::<Schedule>(&json).unwrap(), s);
        let bad = r#"{"name":"step","every":3,"gamma":0.5,"evry":1}"#;
        assert!(serde_json::from_str::<Schedule>(bad).is_err());
    }

    #[test]
    fn a_schedule_without_a_name_is_constant() {
        let s: Schedule = toml::from_str("warmup_steps = 10").unwrap();
        assert_eq!(
            s,
            Schedule {
                kind: ScheduleKind::Constant,
                warmup_steps: 10
            }
        );
        assert!(toml::from_str::<Schedule>("every = 10").is_err());
    }

    #[test]
    fn cosine_reaches_min_at_total() {
        let s = Schedule {
            kind: ScheduleKind::Cosine {
                total_steps: 100,
                min_lr: 0.1,
            },
            warmup_steps: 0,
        };
        assert_eq!(s.lr_at(1.0, 0), 1.0);
        assert!((s.lr_at(1.0, 50) - 0.55).abs() < 1e-12);
        assert_eq!(s.lr_at(1.0, 100), 0.1);
        assert_eq!(s.lr_at(1.0, 500), 0.1);
    }
}
