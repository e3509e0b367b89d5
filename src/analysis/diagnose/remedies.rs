//! Ranked remedies per kind of finding, each with the command that tests
//! it: the run's own spec with the remedy's change, named for what the new
//! run is: `{run}+{tag}` when the remedy adds to the run (`sigmoid+bn`),
//! `{tag}-from-{run}` when it replaces a part of it (`relu-he-from-sigmoid`:
//! a ReLU net, not a sigmoid one), so runs can be told apart and read
//! right. A change is made to a copy
//! of the spec, and the command written from that copy
//! ([`remedy_command`]), so it carries every setting of the run.

use super::command::{number, remedy_command};
use super::finding::Remedy;
use crate::data::sequence::SeqTask;
use crate::experiment::{Dtype, Spec};
use crate::nn::recurrent::{Nonlinearity, RecurrentInit};
use crate::nn::{Activation, ModelKind, Norm};
use crate::optim::OptimizerName;
use crate::tensor::{FanMode, Init};

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

/// How a remedy's run is named: for what the new run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming {
    /// The remedy adds to the run (a norm, residual connections,
    /// clipping): `{run}+{tag}`.
    Adds,
    /// The remedy replaces a part of it (activation, init, optimizer,
    /// learning rate, dtype): `{tag}-from-{run}`.
    Replaces,
}

impl<'a> Remedies<'a> {
    /// No remedies yet, for `spec`.
    pub fn new(spec: &'a Spec) -> Self {
        Self {
            spec,
            list: Vec::new(),
        }
    }

    /// Adds one (unless the same command is already listed): `change`
    /// applied to a copy of the spec, named as `naming` says (module doc).
    pub fn add(
        mut self,
        naming: Naming,
        tag: &str,
        title: &str,
        why: &str,
        change: impl FnOnce(&mut Spec),
    ) -> Self {
        let mut spec = self.spec.clone();
        spec.name = match naming {
            Naming::Adds => format!("{}+{tag}", self.spec.name),
            Naming::Replaces => format!("{tag}-from-{}", self.spec.name),
        };
        change(&mut spec);
        let command = remedy_command(self.spec, &spec);
        if !self.list.iter().any(|r| r.command == command) {
            self.list.push(Remedy {
                title: title.into(),
                why: why.into(),
                command,
            });
        }
        self
    }

    /// Adds one when `cond` holds.
    pub fn add_if(
        self,
        cond: bool,
        naming: Naming,
        tag: &str,
        title: &str,
        why: &str,
        change: impl FnOnce(&mut Spec),
    ) -> Self {
        if cond {
            self.add(naming, tag, title, why, change)
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
        let m = &self.spec.model;
        match m.kind {
            ModelKind::Cnn => !m.conv.residual,
            _ => m.residual_every == 0 && self.hidden_layers() >= 4,
        }
    }

    fn hidden_layers(&self) -> usize {
        self.spec.model.widths.len()
    }

    /// Whether the run is a feed-forward net (an MLP or a CNN): the
    /// remedies that change its hidden layers (activation, norm, residual
    /// blocks, init) apply to nothing in a recurrent net.
    fn mlp(&self) -> bool {
        !self.spec.model.kind.is_recurrent()
    }

    fn relu_he(self) -> Self {
        let cond = self.mlp() && saturating(self.activation());
        self.add_if(
            cond,
            Naming::Replaces,
            "relu-he",
            "ReLU with He initialization",
            "ReLU's derivative is 1 on active units and He init keeps the gradient's \
             variance constant across layers (He et al. 2015)",
            |s| {
                s.model.activation = Activation::Relu;
                s.model.init = Init::HeNormal {
                    mode: FanMode::FanIn,
                    slope: None,
                };
            },
        )
    }

    fn batch_norm(self) -> Self {
        let cond = self.mlp() && self.no_norm();
        self.add_if(
            cond,
            Naming::Adds,
            "bn",
            "Batch Normalization",
            "normalizing each pre-activation keeps units out of saturation and the \
             gradient's scale steady with depth (Ioffe & Szegedy 2015)",
            |s| s.model.norm = Norm::Batch,
        )
    }

    fn residual(self) -> Self {
        let cond = self.mlp() && self.deep_enough_for_residual();
        if self.spec.model.kind == ModelKind::Cnn {
            return self.add_if(
                cond,
                Naming::Adds,
                "res",
                "Residual connections",
                "an identity shortcut around each pair of convolutions gives the gradient \
                 a path that skips the layers that shrink it (He et al. 2016)",
                |s| s.model.conv.residual = true,
            );
        }
        self.add_if(
            cond,
            Naming::Adds,
            "res2",
            "Residual connections",
            "identity shortcuts every two layers give the gradient a path that skips \
             the layers that shrink it (He et al. 2016)",
            |s| s.model.residual_every = 2,
        )
    }

    fn suited_init(self) -> Self {
        let init = suited_init(self.activation());
        let cond = self.mlp() && !init_is_suited(self.spec);
        let title = format!("{init} initialization");
        let why = format!(
            "{init} scales each layer's weights to the fan so the signal and the \
             gradient keep their variance from layer to layer with {}",
            self.activation()
        );
        let parsed: Init = init.parse().expect("suited_init names parse");
        self.add_if(cond, Naming::Replaces, init, &title, &why, |s| {
            s.model.init = parsed
        })
    }

    fn lr_times(self, factor: f64, why: &str) -> Self {
        let new_lr = round_sig(self.spec.optimizer.lr * factor);
        let lr = number(new_lr);
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
        self.add(Naming::Replaces, &tag, &title, why, |s| {
            s.optimizer.lr = new_lr
        })
    }

    fn clip(self) -> Self {
        let cond = self.spec.optimizer.clip_norm.is_none_or(|c| c > 1.0);
        self.add_if(
            cond,
            Naming::Adds,
            "clip1",
            "Gradient clipping at global norm 1",
            "rescaling the gradient whenever its norm exceeds 1 bounds every update \
             (Pascanu et al. 2013)",
            |s| s.optimizer.clip_norm = Some(1.0),
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

/// Whether a recurrent init grows the state (and the gradient) from step
/// to step by itself: a spectral radius, gain or scale above 1.
fn expanding(init: RecurrentInit) -> bool {
    match init {
        RecurrentInit::Uniform => false,
        RecurrentInit::Gaussian { radius } => radius > 1.0,
        RecurrentInit::Orthogonal { gain } => gain > 1.0,
        RecurrentInit::Identity { scale } => scale > 1.0,
    }
}

/// Makes `s` a gated net of `kind`: an LSTM with its forget gate open
/// (bias 3, see [`vanishing_through_time`]); and an expanding recurrent
/// init back to the default (PyTorch's uniform), as gates driven by
/// `W_hh` of spectral radius 3 saturate from the first step.
fn to_gated(s: &mut Spec, kind: ModelKind) {
    s.model.kind = kind;
    if kind == ModelKind::Lstm {
        s.model.recurrent.forget_bias = 3.0;
    }
    if expanding(s.model.recurrent.init) {
        s.model.recurrent.init = RecurrentInit::Uniform;
    }
}

/// Shorter truncation: backpropagation through at most this many steps
/// when a remedy shortens it (or half of the current horizon, when that is
/// shorter; our choice, the length at which the vanilla RNN still learns
/// the adding problem).
pub const SHORTER_TRUNCATION: usize = 20;

/// The steps of `spec`'s sequences (`data.length`, or its task's
/// default); `None` for a data set that is not a sequence task.
fn sequence_length(spec: &Spec) -> Option<usize> {
    SeqTask::from_name(&spec.data.name)?
        .resolve_length(spec.data.length)
        .ok()
}

/// Remedies for a recurrent net whose gradient vanishes through time:
/// gated cells (their memory carries the gradient across steps), then,
/// for a vanilla RNN, a recurrent weight that keeps norms (orthogonal)
/// or the IRNN (ReLU and the identity); for an LSTM, a forget gate that
/// starts more open.
pub fn vanishing_through_time(spec: &Spec) -> Vec<Remedy> {
    let vanilla = spec.model.kind == ModelKind::Rnn;
    Remedies::new(spec)
        .add_if(
            vanilla,
            Naming::Replaces,
            "lstm",
            "LSTM, forget gate open",
            "the LSTM's memory cell carries the gradient across time steps through the \
             forget gate, additively, instead of through a product of Jacobians at every \
             step (Hochreiter & Schmidhuber 1997); a forget-gate bias of 3 keeps 95% of it \
             per step at the start (with the usual 1, 73%: 1e-7 over 50 steps, and on the \
             adding problem at T = 50 the LSTM then stayed at the mean predictor)",
            |s| to_gated(s, ModelKind::Lstm),
        )
        .add_if(
            vanilla,
            Naming::Replaces,
            "gru",
            "GRU",
            "the GRU's update gate lets the state, and its gradient, pass a step unchanged \
             (Cho et al. 2014)",
            |s| to_gated(s, ModelKind::Gru),
        )
        .add_if(
            vanilla,
            Naming::Replaces,
            "orthogonal",
            "Orthogonal recurrent init",
            "every singular value of an orthogonal W_hh is 1, so the product through time \
             neither shrinks nor grows the gradient by itself (Saxe et al. 2014)",
            |s| s.model.recurrent.init = RecurrentInit::Orthogonal { gain: 1.0 },
        )
        .add_if(
            vanilla,
            Naming::Replaces,
            "irnn",
            "IRNN: ReLU and the identity",
            "with W_hh = I and ReLU, the state is copied forward and the gradient backward \
             unchanged where units are active (Le et al. 2015)",
            |s| {
                s.model.recurrent.nonlinearity = Nonlinearity::Relu;
                s.model.recurrent.init = RecurrentInit::Identity { scale: 1.0 };
            },
        )
        .add_if(
            spec.model.kind == ModelKind::Lstm && spec.model.recurrent.forget_bias < 3.0,
            Naming::Replaces,
            "forget3",
            "Forget-gate bias 3",
            "sigmoid(3) = 0.95 keeps 95% of the memory cell, and of its gradient, per step at \
             the start, against 73% with a bias of 1",
            |s| s.model.recurrent.forget_bias = 3.0,
        )
        .done()
}

/// Remedies for a recurrent net whose gradient explodes through time:
/// clipping first where it is missing (or above 1: it bounds every update
/// at once), then for a vanilla RNN the gated cells and an orthogonal
/// recurrent weight (the product of Jacobians no longer grows by itself);
/// for a gated net with an expanding init, the default one; then a
/// shorter truncation of backpropagation through time, and a smaller
/// learning rate.
pub fn exploding_through_time(spec: &Spec) -> Vec<Remedy> {
    let vanilla = spec.model.kind == ModelKind::Rnn;
    let init = spec.model.recurrent.init;
    let orthogonal = matches!(init, RecurrentInit::Orthogonal { gain } if gain <= 1.0);
    let horizon = match spec.model.recurrent.truncation {
        0 => sequence_length(spec),
        k => Some(k),
    };
    let shorter = horizon.map_or(0, |h| (h / 2).min(SHORTER_TRUNCATION));
    let reset = if expanding(init) {
        format!(
            "; with the default recurrent init instead of {init}, which would saturate the gates"
        )
    } else {
        String::new()
    };
    let lstm = format!(
        "the LSTM's memory cell carries the gradient back through the forget gate, whose \
         factor is at most 1 per step, instead of through a product of Jacobians of W_hh that \
         grows when its spectral radius is above 1 (Hochreiter & Schmidhuber 1997){reset}"
    );
    let gru = format!(
        "the GRU's update gate passes part of the old state on unchanged and its reset gate \
         can cut W_hh out of the new one, so a step's Jacobian need not be W_hh's, and the \
         gates learn to keep the product in check (Cho et al. 2014){reset}"
    );
    let r = Remedies::new(spec)
        .clip()
        .add_if(
            vanilla,
            Naming::Replaces,
            "lstm",
            "LSTM, forget gate open",
            &lstm,
            |s| to_gated(s, ModelKind::Lstm),
        )
        .add_if(vanilla, Naming::Replaces, "gru", "GRU", &gru, |s| {
            to_gated(s, ModelKind::Gru)
        })
        .add_if(
            vanilla && !orthogonal,
            Naming::Replaces,
            "orthogonal",
            "Orthogonal recurrent init",
            "every singular value of an orthogonal W_hh is 1 (spectral radius 1), so the \
             product through time does not grow the gradient by itself (Saxe et al. 2014)",
            |s| s.model.recurrent.init = RecurrentInit::Orthogonal { gain: 1.0 },
        )
        .add_if(
            !vanilla && expanding(init),
            Naming::Replaces,
            "uniform",
            "Default recurrent init",
            "PyTorch's U[-1/sqrt(H), 1/sqrt(H)] keeps W_hh's spectral radius below 1, so the \
             gates are not driven into saturation and the gradient not multiplied up",
            |s| s.model.recurrent.init = RecurrentInit::Uniform,
        );
    let why = format!(
        "backpropagating through at most {shorter} steps bounds the product of Jacobians that \
         blows the gradient up to {shorter} factors (Williams & Peng 1990); the price: \
         dependencies longer than {shorter} steps are no longer learned"
    );
    r.add_if(
        shorter >= 2,
        Naming::Replaces,
        &format!("tbptt{shorter}"),
        &format!("Truncated BPTT, {shorter} steps"),
        &why,
        |s| s.model.recurrent.truncation = shorter,
    )
    .lr_times(
        0.1,
        "a smaller step keeps one spike from throwing the weights where the gradient explodes \
         further",
    )
    .done()
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
    let why = match (underflow, subnormal) {
        (true, _) => {
            "gradients below f32's smallest value (1.4e-45) were flushed to exact zeros; \
             f64 resolves them (this measures the problem, it does not remove it)"
        }
        _ => {
            "the weight gradients behind this finding have subnormal entries in f32 (below \
             1.2e-38), which keep only some of their significant bits, so their norms are off \
             by more than rounding; f64 measures them exactly (this measures the problem, it \
             does not remove it)"
        }
    };
    r.residual()
        .add_if(
            (underflow || subnormal) && spec.dtype == Dtype::F32,
            Naming::Replaces,
            "f64",
            "Measure in f64",
            why,
            |s| s.dtype = Dtype::F64,
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

/// For a run that hit NaN or Inf at `step`. At step 0 no update has run,
/// so neither the learning rate nor clipping is the cure: the initial
/// weights (or the data) are.
pub fn divergence(spec: &Spec, step: usize) -> Vec<Remedy> {
    if step == 0 {
        return Remedies::new(spec).suited_init().batch_norm().done();
    }
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
            Naming::Replaces,
            "leaky",
            "Leaky ReLU",
            "a small negative slope (0.01) lets dead units get a gradient and recover \
             (Maas et al. 2013)",
            |s| s.model.activation = Activation::LeakyRelu { alpha: 0.01 },
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

/// For a deeper plain net that trains worse than a shallower one:
/// residual connections first (what He et al. 2016 built for it), then
/// BatchNorm where there is none.
pub fn degradation(spec: &Spec) -> Vec<Remedy> {
    Remedies::new(spec).residual().batch_norm().done()
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
        let adam = self.spec.optimizer.rule.is_adam();
        self.lr_times(10.0, "a run stuck at chance may just be moving too slowly")
            .add_if(
                !adam,
                Naming::Replaces,
                "adam",
                "Adam at 1e-3",
                "Adam scales each parameter's step by its own gradient history, so layers \
                 with small gradients still move (Kingma & Ba 2015)",
                |s| {
                    let decay = s.optimizer.rule.weight_decay();
                    s.optimizer.rule = OptimizerName::Adam.config();
                    s.optimizer.rule.set_weight_decay(decay);
                    s.optimizer.lr = 1e-3;
                },
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::SpecBuilder;
    use crate::optim::ScheduleKind;

    fn sigmoid_spec() -> Spec {
        let mut s = Spec {
            name: "sig".into(),
            ..Spec::default()
        };
        s.model.widths = vec![100; 20];
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
                "gradscope train --name relu-he-from-sig --depth 20 --activation relu --init he_normal",
                "gradscope train --name sig+bn --depth 20 --activation sigmoid --norm batch --init standard",
                "gradscope train --name sig+res2 --depth 20 --activation sigmoid --residual-every 2 --init standard",
                "gradscope train --name f64-from-sig --depth 20 --activation sigmoid --init standard --dtype f64",
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

    /// A vanilla RNN of spectral radius 3 on the adding problem (T = 50).
    fn exploding_rnn() -> Spec {
        let mut s = Spec {
            name: "wild".into(),
            ..Spec::default()
        };
        s.data.name = "adding".into();
        s.model.kind = ModelKind::Rnn;
        s.model.recurrent.init = RecurrentInit::Gaussian { radius: 3.0 };
        s
    }

    #[test]
    fn exploding_through_time_ranks_clipping_then_gated_cells_then_truncation() {
        let cmds: Vec<String> = exploding_through_time(&exploding_rnn())
            .into_iter()
            .map(|r| r.command)
            .collect();
        assert_eq!(
            cmds,
            vec![
                "gradscope train --name wild+clip1 --model rnn --clip-norm 1 --recurrent-init 'gaussian(3)' --data adding",
                "gradscope train --name lstm-from-wild --model lstm --recurrent-init uniform --data adding --set model.forget_bias=3",
                "gradscope train --name gru-from-wild --model gru --recurrent-init uniform --data adding",
                "gradscope train --name orthogonal-from-wild --model rnn --recurrent-init 'orthogonal(1)' --data adding",
                "gradscope train --name tbptt20-from-wild --model rnn --recurrent-init 'gaussian(3)' --truncation 20 --data adding",
                "gradscope train --name lr0.01-from-wild --model rnn --lr 0.01 --recurrent-init 'gaussian(3)' --data adding",
            ]
        );
        // A clipped LSTM with that init, truncated at 20: the default init,
        // truncation 10, a smaller step; no cell change, no clipping.
        let mut s = exploding_rnn();
        s.model.kind = ModelKind::Lstm;
        s.model.recurrent.truncation = 20;
        s.optimizer.clip_norm = Some(1.0);
        let titles: Vec<String> = exploding_through_time(&s)
            .into_iter()
            .map(|r| r.title)
            .collect();
        assert_eq!(
            titles,
            vec![
                "Default recurrent init",
                "Truncated BPTT, 10 steps",
                "Learning rate /10"
            ]
        );
    }

    /// Regression: remedies could not carry a run's schedule, clip_value,
    /// scaling or probe cadence (they had no flag); now every setting
    /// travels, and parsing the command gives the run's spec back with
    /// only the remedy's change.
    #[test]
    fn a_recurrent_run_gets_no_remedy_for_hidden_layers_it_does_not_have() {
        let mut s = Spec::default();
        s.model.kind = ModelKind::Gru;
        let commands: Vec<String> = exploding(&s).into_iter().map(|r| r.command).collect();
        assert!(
            commands.iter().any(|c| c.contains("--clip-norm")),
            "{commands:?}"
        );
        assert!(
            commands
                .iter()
                .all(|c| !c.contains("--norm") && !c.contains("--init")),
            "{commands:?}"
        );
    }

    #[test]
    fn a_remedy_carries_every_setting_of_its_run() {
        let mut s = sigmoid_spec();
        s.schedule.kind = ScheduleKind::Cosine {
            total_steps: 500,
            min_lr: 1e-4,
        };
        s.optimizer.clip_value = Some(0.5);
        s.data.scaling = "standardize".parse().unwrap();
        s.probe.every = 10;
        s.model.bn_momentum = 0.05;
        let r = &divergence(&s, 7)[0];
        assert_eq!(r.title, "Learning rate /10");
        let mut want = s.clone();
        want.name = "lr0.01-from-sig".into();
        want.optimizer.lr = 0.01;
        assert_eq!(parse_command(&r.command), want);
    }

    /// Regression (issue 18): a divergence at step 0, before any update,
    /// was answered with "Learning rate /10"; the init is the cure there.
    #[test]
    fn a_divergence_before_any_update_does_not_blame_the_learning_rate() {
        let s = sigmoid_spec();
        let titles: Vec<String> = divergence(&s, 0).into_iter().map(|r| r.title).collect();
        assert!(
            !titles.iter().any(|t| t.contains("Learning rate")),
            "{titles:?}"
        );
        assert!(
            titles.iter().any(|t| t.contains("initialization")),
            "{titles:?}"
        );
        let later: Vec<String> = divergence(&s, 1).into_iter().map(|r| r.title).collect();
        assert_eq!(later[0], "Learning rate /10");
    }

    /// The spec a `gradscope train` line (as written here: no quotes
    /// inside values but whole words) gives.
    fn parse_command(line: &str) -> Spec {
        let words: Vec<String> = line
            .split(' ')
            .map(|w| w.trim_matches('\'').to_string())
            .collect();
        assert_eq!(&words[..2], ["gradscope", "train"]);
        let mut b = SpecBuilder::new();
        let mut sets = Vec::new();
        let mut flags = Vec::new();
        for pair in words[2..].chunks(2) {
            let key = pair[0].trim_start_matches("--");
            if key == "set" {
                let (k, v) = pair[1].split_once('=').unwrap();
                sets.push((k.to_string(), v.to_string()));
            } else {
                let flag = crate::experiment::FLAGS
                    .iter()
                    .find(|f| f.long == key)
                    .unwrap();
                flags.push((flag.key.to_string(), pair[1].clone()));
            }
        }
        for (k, v) in sets.iter().chain(&flags) {
            b.set(k, v, "test").unwrap();
        }
        b.build().unwrap()
    }
}
