//! Ranked remedies per kind of finding, each with the command that tests
//! it: the run's own spec as flags, with the remedy's changes, under the
//! name `{run}+{tag}` so the runs can be told apart.

use super::command::{number, train_command, unflagged_settings};
use super::finding::Remedy;
use crate::experiment::Spec;
use crate::nn::{Activation, Norm};
use crate::tensor::Init;

/// Activations whose derivative goes to 0 on both sides.
pub fn saturating(a: Activation) -> bool {
    matches!(
        a,
        Activation::Sigmoid | Activation::Tanh | Activation::Softsign
    )
}

/// The initializer made for `a`: Xavier for the symmetric saturating
/// ones and identity (Glorot & Bengio 2010), LeCun for SELU (Klambauer et
/// al. 2017), He for the rest (He et al. 2015).
pub fn suited_init(a: Activation) -> &'static str {
    match a {
        Activation::Sigmoid | Activation::Tanh | Activation::Softsign | Activation::Identity => {
            "xavier_normal"
        }
        Activation::Selu => "lecun_normal",
        _ => "he_normal",
    }
}

/// Whether `spec`'s init is (a variant of) [`suited_init`].
fn init_is_suited(spec: &Spec) -> bool {
    let init = spec.model.init;
    match suited_init(spec.model.activation) {
        "xavier_normal" => matches!(
            init,
            Init::XavierNormal { .. } | Init::XavierUniform { .. } | Init::Orthogonal { .. }
        ),
        "lecun_normal" => matches!(init, Init::LecunNormal),
        _ => matches!(init, Init::HeNormal { .. } | Init::HeUniform { .. }),
    }
}

/// Builds remedies for one spec.
pub struct Remedies<'a> {
    spec: &'a Spec,
    list: Vec<Remedy>,
}

impl<'a> Remedies<'a> {
    /// No remedies yet, for `spec`.
    pub fn new(spec: &'a Spec) -> Self {
        Self {
            spec,
            list: Vec::new(),
        }
    }

    /// Adds one (unless the same command is already listed).
    pub fn add(mut self, tag: &str, title: &str, why: &str, changes: &[(&str, &str)]) -> Self {
        let name = format!("{}+{tag}", self.spec.name);
        let mut all = vec![("name", name.as_str())];
        all.extend_from_slice(changes);
        let command = train_command(self.spec, &all);
        let mut why = why.to_string();
        let missing = unflagged_settings(self.spec);
        if !missing.is_empty() {
            why.push_str(&format!(
                " (the run's {} has no flag: set it in a spec file passed first)",
                missing.join(", ")
            ));
        }
        if !self.list.iter().any(|r| r.command == command) {
            self.list.push(Remedy {
                title: title.into(),
                why,
                command,
            });
        }
        self
    }

    /// Adds one when `cond` holds.
    pub fn add_if(
        self,
        cond: bool,
        tag: &str,
        title: &str,
        why: &str,
        changes: &[(&str, &str)],
    ) -> Self {
        if cond {
            self.add(tag, title, why, changes)
        } else {
            self
        }
    }

    /// The list, ranked as added.
    pub fn done(self) -> Vec<Remedy> {
        self.list
    }

    fn activation(&self) -> Activation {
        self.spec.model.activation
    }

    fn no_norm(&self) -> bool {
        self.spec.model.norm == Norm::None
    }

    fn deep_enough_for_residual(&self) -> bool {
        self.spec.model.residual_every == 0 && self.hidden_layers() >= 4
    }

    fn hidden_layers(&self) -> usize {
        let m = &self.spec.model;
        m.widths.as_ref().map_or(m.depth, |w| w.len())
    }

    fn relu_he(self) -> Self {
        let cond = saturating(self.activation());
        self.add_if(
            cond,
            "relu-he",
            "ReLU with He initialization",
            "ReLU's derivative is 1 on active units and He init keeps the gradient's \
             variance constant across layers (He et al. 2015)",
            &[("activation", "relu"), ("init", "he_normal")],
        )
    }

    fn batch_norm(self) -> Self {
        let cond = self.no_norm();
        self.add_if(
            cond,
            "bn",
            "Batch Normalization",
            "normalizing each pre-activation keeps units out of saturation and the \
             gradient's scale steady with depth (Ioffe & Szegedy 2015)",
            &[("norm", "batch")],
        )
    }

    fn residual(self) -> Self {
        let cond = self.deep_enough_for_residual();
        self.add_if(
            cond,
            "res2",
            "Residual connections",
            "identity shortcuts every two layers give the gradient a path that skips \
             the layers that shrink it (He et al. 2016)",
            &[("residual-every", "2")],
        )
    }

    fn suited_init(self) -> Self {
        let init = suited_init(self.activation());
        let cond = !init_is_suited(self.spec);
        let title = format!("{init} initialization");
        let why = format!(
            "{init} scales each layer's weights to the fan so the signal and the \
             gradient keep their variance from layer to layer with {}",
            self.activation()
        );
        self.add_if(cond, init, &title, &why, &[("init", init)])
    }

    fn lr_times(self, factor: f64, why: &str) -> Self {
        let lr = number(round_sig(self.spec.optimizer.lr * factor));
        let (tag, title) = if factor > 1.0 {
            (
                format!("lr{lr}"),
                format!("Learning rate x{}", number(factor)),
            )
        } else {
            (
                format!("lr{lr}"),
                format!("Learning rate /{}", number(1.0 / factor)),
            )
        };
        self.add(&tag, &title, why, &[("lr", &lr)])
    }

    fn clip(self) -> Self {
        let cond = self.spec.optimizer.clip_norm.is_none_or(|c| c > 1.0);
        self.add_if(
            cond,
            "clip1",
            "Gradient clipping at global norm 1",
            "rescaling the gradient whenever its norm exceeds 1 bounds every update \
             (Pascanu et al. 2013)",
            &[("clip-norm", "1")],
        )
    }
}

/// `x` rounded to one significant digit (`0.0347` -> `0.03`).
pub fn round_sig(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    format!("{x:.0e}").parse().unwrap_or(x)
}

/// For a gradient that vanishes with depth; `underflow` when layers got
/// exactly zero gradient, `subnormal` when the weight gradients the
/// finding rests on had subnormal entries.
pub fn vanishing(spec: &Spec, underflow: bool, subnormal: bool) -> Vec<Remedy> {
    let tanh_like = matches!(
        spec.model.activation,
        Activation::Tanh | Activation::Softsign
    );
    let non_saturating = !saturating(spec.model.activation);
    let r = Remedies::new(spec).relu_he().batch_norm();
    let r = if tanh_like || non_saturating {
        r.suited_init()
    } else {
        r
    };
    r.residual()
        .add_if(
            underflow && spec.dtype == crate::experiment::Dtype::F32,
            "f64",
            "Measure in f64",
            "gradients below f32's smallest value (1.4e-45) were flushed to exact zeros; \
             f64 resolves them (this measures the problem, it does not remove it)",
            &[("dtype", "f64")],
        )
        .add_if(
            subnormal && spec.dtype == crate::experiment::Dtype::F32,
            "f64",
            "Measure in f64",
            "the weight gradients behind this finding have subnormal entries in f32 (below \
             1.2e-38), which keep only some of their significant bits, so their norms are off \
             by more than rounding; f64 measures them exactly (this measures the problem, it \
             does not remove it)",
            &[("dtype", "f64")],
        )
        .done()
}

/// For a gradient that grows with depth or over steps.
pub fn exploding(spec: &Spec) -> Vec<Remedy> {
    Remedies::new(spec)
        .clip()
        .lr_times(
            0.1,
            "smaller steps keep a growing gradient from feeding on itself",
        )
        .batch_norm()
        .suited_init()
        .done()
}

/// For a run that hit NaN or Inf.
pub fn divergence(spec: &Spec) -> Vec<Remedy> {
    Remedies::new(spec)
        .lr_times(
            0.1,
            "most divergences are a step too large for the curvature",
        )
        .clip()
        .batch_norm()
        .done()
}

/// For saturated units.
pub fn saturation(spec: &Spec) -> Vec<Remedy> {
    Remedies::new(spec)
        .batch_norm()
        .suited_init()
        .relu_he()
        .done()
}

/// For dead ReLU units.
pub fn dead_units(spec: &Spec) -> Vec<Remedy> {
    let relu = spec.model.activation == Activation::Relu;
    Remedies::new(spec)
        .add_if(
            relu,
            "leaky",
            "Leaky ReLU",
            "a small negative slope (0.01) lets dead units get a gradient and recover \
             (Maas et al. 2013)",
            &[("activation", "leaky_relu(0.01)")],
        )
        .lr_times(
            0.1,
            "a large update can push a unit's bias so far negative that it never fires again",
        )
        .suited_init()
        .batch_norm()
        .done()
}

/// For update:data ratios too small (`factor` > 1 brings them to 1e-3) or
/// too large (`factor` < 1).
pub fn learning_rate(spec: &Spec, factor: f64) -> Vec<Remedy> {
    let r = Remedies::new(spec);
    if factor > 1.0 {
        r.lr_times(
            factor,
            "scales the updates toward 1e-3 of the weights (Karpathy's rule of thumb)",
        )
        .lr_times(10.0, "one decade at a time, to see the trend")
        .done()
    } else {
        r.lr_times(
            factor,
            "scales the updates toward 1e-3 of the weights (Karpathy's rule of thumb)",
        )
        .lr_times(0.1, "one decade at a time, to see the trend")
        .clip()
        .done()
    }
}

/// For a loss stuck at chance: the vanishing remedies first for
/// saturating activations, a larger step first otherwise.
pub fn stalled(spec: &Spec) -> Vec<Remedy> {
    let r = Remedies::new(spec);
    if saturating(spec.model.activation) {
        r.structural().faster().done()
    } else {
        r.faster().structural().done()
    }
}

impl Remedies<'_> {
    /// ReLU + He, BatchNorm, residual connections.
    fn structural(self) -> Self {
        self.relu_he().batch_norm().residual()
    }

    /// A larger learning rate, Adam.
    fn faster(self) -> Self {
        let adam = self.spec.optimizer.name.starts_with("adam");
        self.lr_times(10.0, "a run stuck at chance may just be moving too slowly")
            .add_if(
                !adam,
                "adam",
                "Adam at 1e-3",
                "Adam scales each parameter's step by its own gradient history, so layers \
                 with small gradients still move (Kingma & Ba 2015)",
                &[("optimizer", "adam"), ("lr", "0.001"), ("momentum", "")],
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Init;

    fn sigmoid_spec() -> Spec {
        let mut s = Spec {
            name: "sig".into(),
            ..Spec::default()
        };
        s.model.depth = 20;
        s.model.activation = Activation::Sigmoid;
        s.model.init = Init::Standard;
        s
    }

    #[test]
    fn vanishing_in_a_sigmoid_net_ranks_relu_he_first() {
        let r = vanishing(&sigmoid_spec(), true, false);
        let cmds: Vec<&str> = r.iter().map(|r| r.command.as_str()).collect();
        assert_eq!(
            cmds,
            vec![
                "gradscope train --name sig+relu-he --depth 20 --activation relu --init he_normal",
                "gradscope train --name sig+bn --depth 20 --activation sigmoid --norm batch --init standard",
                "gradscope train --name sig+res2 --depth 20 --activation sigmoid --residual-every 2 --init standard",
                "gradscope train --name sig+f64 --depth 20 --activation sigmoid --init standard --dtype f64",
            ]
        );
    }

    #[test]
    fn remedies_already_in_the_spec_are_skipped() {
        let mut s = sigmoid_spec();
        s.model.norm = Norm::Batch;
        s.optimizer.clip_norm = Some(0.5);
        let titles: Vec<String> = exploding(&s).into_iter().map(|r| r.title).collect();
        assert_eq!(
            titles,
            vec!["Learning rate /10", "xavier_normal initialization"]
        );
    }

    #[test]
    fn learning_rate_remedies_aim_at_the_target() {
        let mut s = Spec::default();
        s.optimizer.lr = 1e-7;
        let r = learning_rate(&s, 3.7e4);
        assert!(r[0].command.ends_with("--lr 0.004"), "{}", r[0].command);
        assert!(r[1].command.ends_with("--lr 1e-6"), "{}", r[1].command);
    }

    #[test]
    fn settings_without_flags_are_called_out() {
        let mut s = sigmoid_spec();
        s.data.noise = 0.3;
        assert!(divergence(&s)[0].why.contains("data.noise has no flag"));
    }
}
