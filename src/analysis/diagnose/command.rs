//! The `gradscope train ...` command that reproduces a run's spec: each
//! setting that differs from the defaults ([`spec_settings`]) as its flag,
//! or as `--set KEY=VALUE` where it has none, quoted for a POSIX shell so
//! the line can be pasted. Parsing the command gives the spec back.
//!
//! ```
//! use gradscope::analysis::diagnose::train_command;
//! use gradscope::experiment::Spec;
//! let mut spec = Spec::default();
//! spec.model.widths = vec![100; 20];
//! spec.model.bn_momentum = 0.05;
//! spec.model.activation = "leaky_relu(0.01)".parse().unwrap();
//! assert_eq!(
//!     train_command(&spec),
//!     "gradscope train --depth 20 --activation 'leaky_relu(0.01)' --set model.bn_momentum=0.05"
//! );
//! ```

use crate::experiment::{spec_settings, spec_settings_against, Setting, Spec};

/// The command that reproduces `spec`.
pub fn train_command(spec: &Spec) -> String {
    command(spec_settings(spec))
}

/// The command that runs `remedy`, a changed copy of `run`'s spec: as
/// [`train_command`], and it also writes each key the remedy changed to
/// its default (`--activation relu`), so the line shows the change.
pub fn remedy_command(run: &Spec, remedy: &Spec) -> String {
    command(spec_settings_against(remedy, run))
}

/// `gradscope train` with `settings`: flags first, then `--set`.
fn command(settings: Vec<Setting>) -> String {
    let mut line = String::from("gradscope train");
    let (flags, others): (Vec<_>, Vec<_>) = settings.iter().partition(|s| s.flag().is_some());
    for s in flags {
        let long = s.flag().map_or("", |f| f.long);
        if s.value.starts_with('-') {
            line.push_str(&format!(
                " {}",
                shell_quote(&format!("--{long}={}", s.value))
            ));
        } else {
            line.push_str(&format!(" --{long} {}", shell_quote(&s.value)));
        }
    }
    for s in others {
        line.push_str(&format!(
            " --set {}",
            shell_quote(&format!("{}={}", s.key, s.value))
        ));
    }
    line
}

/// A number rounded to 6 significant digits, written short: plain
/// decimals from 1e-4 to 1e6 (`0.001`, not `0.0010000000000000002`),
/// exponent form outside (`1e-7`). For titles and tags; commands write
/// values exactly.
pub fn number(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return x.to_string();
    }
    let rounded: f64 = format!("{x:.5e}").parse().unwrap_or(x);
    if (1e-4..1e6).contains(&rounded.abs()) {
        rounded.to_string()
    } else {
        format!("{rounded:e}")
    }
}

/// `s` as one word of a POSIX shell: bare when it is only safe
/// characters, otherwise in single quotes.
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-.,:/=+@%".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Dtype;
    use crate::nn::{Activation, Norm};
    use crate::optim::{OptimizerName, ScheduleKind};
    use crate::tensor::Init;

    #[test]
    fn the_default_spec_needs_no_flags() {
        assert_eq!(train_command(&Spec::default()), "gradscope train");
    }

    #[test]
    fn every_setting_that_differs_becomes_a_flag_in_help_order_then_set() {
        let mut s = Spec {
            name: "sigmoid-20".into(),
            steps: 3000,
            dtype: Dtype::F64,
            ..Spec::default()
        };
        s.model.widths = vec![100; 20];
        s.model.activation = Activation::Sigmoid;
        s.model.init = Init::Standard;
        s.model.norm = Norm::Batch;
        s.model.bias = false;
        s.optimizer.rule = OptimizerName::Momentum.config();
        s.optimizer.lr = 0.01;
        s.optimizer.clip_norm = Some(1.0);
        s.data.dir = Some("/data/my mnist".into());
        s.schedule.kind = ScheduleKind::Step {
            every: 100,
            gamma: 0.5,
        };
        assert_eq!(
            train_command(&s),
            "gradscope train --name sigmoid-20 --depth 20 --activation sigmoid --norm batch \
             --init standard --lr 0.01 --momentum 0.9 --clip-norm 1 --steps 3000 \
             --data-dir '/data/my mnist' --dtype f64 --set model.bias=false \
             --set schedule.every=100 --set schedule.gamma=0.5 --set schedule.name=step"
        );
    }

    #[test]
    fn a_remedy_command_shows_the_keys_it_sets_back_to_their_default() {
        let mut run = Spec::default();
        run.model.activation = Activation::Sigmoid;
        run.optimizer.lr = 0.03;
        let mut remedy = run.clone();
        remedy.model.activation = Activation::Relu;
        remedy.model.residual_every = 2;
        assert_eq!(
            train_command(&remedy),
            "gradscope train --residual-every 2 --lr 0.03"
        );
        assert_eq!(
            remedy_command(&run, &remedy),
            "gradscope train --activation relu --residual-every 2 --lr 0.03"
        );
    }

    #[test]
    fn values_that_look_like_flags_are_attached() {
        let s = Spec {
            name: "-x".into(),
            ..Spec::default()
        };
        assert_eq!(train_command(&s), "gradscope train --name=-x");
    }

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("he_normal"), "he_normal");
        assert_eq!(shell_quote("he_normal(fan_in)"), "'he_normal(fan_in)'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(0.1 * 3.0), "0.3");
        assert_eq!(number(1e-7), "1e-7");
        assert_eq!(number(3.7e-5 * 1.0000001), "3.7e-5");
        assert_eq!(number(0.03 / 10.0), "0.003");
        assert_eq!(number(1.0), "1");
    }
}
