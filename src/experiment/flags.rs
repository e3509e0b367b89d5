//! The `gradscope train` flags that set spec keys: one list, from which
//! the command line makes its flags and remedy commands are written. Each
//! flag is shorthand for one `--set KEY=VALUE` ([`super::SpecBuilder`]);
//! the help of a flag that takes names prints its type's one list.

use crate::data::{Augment, Scaling};
use crate::nn::recurrent::RECURRENT_INIT_NAMES;
use crate::nn::{Activation, Loss, ModelKind, Norm, NormPlacement};
use crate::optim::OptimizerName;
use crate::tensor::Init;

/// A `gradscope train` flag that sets one spec key.
#[derive(Clone, Copy, Debug)]
pub struct Flag {
    /// The long name, without the dashes.
    pub long: &'static str,
    /// The dotted spec key it sets.
    pub key: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// The names it accepts, from the one parser of its type.
    pub names: Option<&'static str>,
}

const fn flag(long: &'static str, key: &'static str, help: &'static str) -> Flag {
    Flag {
        long,
        key,
        help,
        names: None,
    }
}

const fn named(
    long: &'static str,
    key: &'static str,
    help: &'static str,
    names: &'static str,
) -> Flag {
    Flag {
        long,
        key,
        help,
        names: Some(names),
    }
}

/// Every flag that sets a spec key, in `--help` order (also the order
/// they apply in: `--widths` after `--depth`, `--epochs` after `--steps`).
pub const FLAGS: &[Flag] = &[
    flag("name", "name", "Run label"),
    named(
        "model",
        "model.kind",
        "Network family (the recurrent ones need a sequence task)",
        ModelKind::NAMES,
    ),
    flag("depth", "model.depth", "Hidden layers"),
    flag("width", "model.width", "Units per hidden layer"),
    flag(
        "widths",
        "model.widths",
        "Hidden widths, comma-separated (instead of --depth/--width)",
    ),
    named(
        "activation",
        "model.activation",
        "Hidden activation",
        Activation::NAMES,
    ),
    named(
        "norm",
        "model.norm",
        "Normalization in each hidden layer",
        Norm::NAMES,
    ),
    named(
        "norm-placement",
        "model.norm_placement",
        "Normalization before or after the activation",
        NormPlacement::NAMES,
    ),
    flag(
        "residual-every",
        "model.residual_every",
        "Residual blocks of this many hidden layers (0 = none)",
    ),
    named("init", "model.init", "Weight initializer", Init::NAMES),
    named(
        "optimizer",
        "optimizer.name",
        "Update rule",
        OptimizerName::NAMES,
    ),
    flag("lr", "optimizer.lr", "Base learning rate"),
    flag("momentum", "optimizer.momentum", "Momentum (SGD family)"),
    flag(
        "weight-decay",
        "optimizer.weight_decay",
        "Weight decay (L2; decoupled for adamw)",
    ),
    flag(
        "clip-norm",
        "optimizer.clip_norm",
        "Clip gradients to this global L2 norm",
    ),
    flag(
        "clip-value",
        "optimizer.clip_value",
        "Clip every gradient entry to [-v, v]",
    ),
    flag(
        "hidden",
        "model.hidden",
        "Recurrent nets: hidden units per layer",
    ),
    flag("layers", "model.layers", "Recurrent nets: stacked layers"),
    named(
        "recurrent-init",
        "model.recurrent_init",
        "Recurrent nets: the recurrent weights' init",
        RECURRENT_INIT_NAMES,
    ),
    flag(
        "truncation",
        "model.truncation",
        "Recurrent nets: truncated BPTT in chunks of N steps (0 = full)",
    ),
    flag("steps", "steps", "Optimizer steps"),
    flag(
        "epochs",
        "epochs",
        "Passes over the training set (instead of --steps)",
    ),
    flag("batch", "batch", "Examples per step"),
    flag(
        "seed",
        "seed",
        "Seed for weights, shuffling and generated data",
    ),
    flag(
        "data",
        "data.name",
        "mnist, fashion (bundled 10k each, or --data-dir), cifar10 (`data fetch cifar10`), \
         spirals, circles, xor, gaussians, shapeset",
    ),
    flag(
        "data-dir",
        "data.dir",
        "Folder with canonical MNIST or Fashion-MNIST IDX files, or CIFAR-10's batches",
    ),
    flag(
        "eval-data",
        "data.eval_dir",
        "Evaluate on the canonical test files in this folder (t10k-*; CIFAR-10: test_batch.bin)",
    ),
    named("scaling", "data.scaling", "Input scaling", Scaling::NAMES),
    named(
        "augment",
        "data.augment",
        "Random crop (zero padding) and flip of each training batch of images",
        Augment::NAMES,
    ),
    named(
        "dtype",
        "dtype",
        "Number format (f64 resolves gradients below 1e-45)",
        super::Dtype::NAMES,
    ),
    named("loss", "loss", "Loss", Loss::NAMES),
    flag(
        "eval-every",
        "eval_every",
        "Evaluate every this many steps (0 = at the end only)",
    ),
    flag(
        "eval-train-size",
        "eval_train_size",
        "Training examples each evaluation measures, the first N (0 = all)",
    ),
    flag(
        "probe-every",
        "probe.every",
        "Record per-layer figures every this many steps (0 = never)",
    ),
    flag(
        "sample",
        "sample",
        "Characters to sample from a text model after training (printed, kept in the run)",
    ),
];
