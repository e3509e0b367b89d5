//! Convolutional nets trained end to end on the bundled MNIST digits, at
//! sizes that fit the test budget (a few channels, a few hundred steps):
//! they learn, a deep plain sigmoid CNN's gradient vanishes as the MLP's
//! does and BatchNorm removes it, and a residual net without BatchNorm
//! explodes at initialization. Figures in comments are what these seeds
//! gave; the assertions leave room around them.

use gradscope::analysis::diagnose::{compare, diagnose, Finding, FindingKind, Severity};
use gradscope::experiment::trainer::train;
use gradscope::experiment::{RecordSink, RunData, RunRecord, Spec};
use gradscope::probe::{Axis, LayerProbe, TensorStats};
use std::sync::OnceLock;

fn mnist() -> &'static RunData {
    static DATA: OnceLock<RunData> = OnceLock::new();
    DATA.get_or_init(|| Spec::default().prepare_data().unwrap())
}

fn run(model: &str, steps: usize, lr: f64) -> RunRecord {
    run_seeded(model, steps, lr, 0)
}

fn run_seeded(model: &str, steps: usize, lr: f64, seed: u64) -> RunRecord {
    let toml = format!(
        "seed = {seed}\nsteps = {steps}\nbatch = 32\neval_train_size = 500\n[model]\nkind = \"cnn\"\n{model}\n\
         [optimizer]\nname = \"momentum\"\nlr = {lr}\n[probe]\nevery = 5\n"
    );
    let spec = Spec::from_toml(&toml, "test").unwrap();
    let mut sink = RecordSink::new(spec.clone());
    let _ = train(&spec, mnist(), &mut sink);
    sink.record
}

fn find(f: &[Finding], kind: FindingKind) -> Option<&Finding> {
    f.iter()
        .find(|x| x.kind == kind && x.severity >= Severity::Warning)
}

/// A small ResNet (8 and 16 channels, one block per stage: 6 layers)
/// with BatchNorm learns the digits: training loss from 2.3 to 0.5 and
/// 71% held out after 300 steps. PyTorch's same net and hyper-parameters
/// (scripts/torch_cnn_train.py 8,16 1 300 0.05) gives 59-72% at 250-300
/// steps: a net this narrow, pooled globally, is slow to start, and its
/// held-out figure swings with the running BatchNorm statistics.
#[test]
fn a_small_resnet_learns_mnist() {
    let r = run("channels = [8, 16]\nn = 1\nnorm = \"batch\"", 300, 0.05);
    let mean_loss = |s: &[gradscope::experiment::events::StepRecord]| {
        s.iter().map(|x| x.loss).sum::<f64>() / s.len() as f64
    };
    let (first, last) = (mean_loss(&r.steps[..20]), mean_loss(&r.steps[280..]));
    assert!(first > 2.0 && last < 0.9, "training loss {first} -> {last}");
    let acc = r.evals.last().unwrap().test_accuracy;
    assert!(acc > 0.5, "held-out accuracy {acc}");
    assert_eq!(r.probes[0].layers.len(), 6, "stem, 2 x 2 convs, output");
    assert!(find(&diagnose(&r), FindingKind::VanishingGradient).is_none());
}

/// A plain sigmoid CNN with Glorot & Bengio's "standard" init (10 conv
/// layers) vanishes as the MLP does (first/last 1e-9 here), and stalls;
/// BatchNorm in every conv block removes the vanishing.
#[test]
fn a_deep_plain_sigmoid_cnn_vanishes_and_batch_norm_fixes_it() {
    let plain =
        "channels = [4, 8]\nn = 2\nresidual = false\nactivation = \"sigmoid\"\ninit = \"standard\"";
    let r = run(plain, 40, 0.05);
    let f = diagnose(&r);
    let v = find(&f, FindingKind::VanishingGradient).expect("vanishing_gradient");
    assert_eq!(v.severity, Severity::Critical);
    let ratio = v
        .evidence
        .iter()
        .find(|e| e.name == "first_last_ratio")
        .unwrap()
        .value;
    assert!(ratio < 1e-4, "first/last {ratio}");
    let bn = run(&format!("{plain}\nnorm = \"batch\""), 40, 0.05);
    assert!(find(&diagnose(&bn), FindingKind::VanishingGradient).is_none());
}

/// Without BatchNorm each residual sum adds the branch's variance to the
/// identity's, so a deep ResNet's signal and gradient grow block after
/// block (why He et al. always normalize): the first step diverges or the
/// gradient explodes.
#[test]
fn a_deep_resnet_without_batch_norm_explodes() {
    let r = run("channels = [8, 16]\nn = 5", 3, 0.05);
    let f = diagnose(&r);
    let exploded = find(&f, FindingKind::ExplodingGradient).is_some()
        || find(&f, FindingKind::Divergence).is_some();
    assert!(
        exploded,
        "{:?}",
        f.iter().map(|f| f.kind).collect::<Vec<_>>()
    );
}

fn series<'a>(l: &'a LayerProbe, tensor: &str, axis: Axis) -> &'a [TensorStats] {
    l.series(tensor, axis)
        .unwrap_or_else(|| panic!("{} has no {tensor} series", l.path))
}

/// Every conv layer is measured per channel (its output, its delta, its
/// filters' gradients, its BatchNorm scales), the channels adding up to
/// the layer's own figures; each residual block's first layer carries the
/// block's two routes, which add up to what the layer before it sees.
#[test]
fn conv_layers_are_measured_per_channel_and_blocks_per_route() {
    let r = run("channels = [4, 8]\nn = 1\nnorm = \"batch\"", 2, 0.05);
    let p = &r.probes[0];
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-4 * b.abs().max(1e-3);
    for (l, channels) in p.layers[..5].iter().zip([4, 4, 4, 8, 8]) {
        for tensor in ["out", "pre_grad", "weight_grad", "bn_scale"] {
            let s = series(l, tensor, Axis::Channel);
            assert_eq!(s.len(), channels, "{} {tensor}", l.path);
        }
        let out = series(l, "out", Axis::Channel);
        assert_eq!(out.iter().map(|s| s.n).sum::<u64>(), l.out.n);
        let sum: f64 = out.iter().map(|s| s.sum).sum();
        // Relative to the norm: BatchNorm's outputs sum to about zero.
        let err = (sum - l.out.sum).abs() / l.out.l2();
        assert!(err < 1e-5, "{}: {sum} vs {}", l.path, l.out.sum);
        let sq: f64 = series(l, "weight_grad", Axis::Channel)
            .iter()
            .map(|s| s.sum_sq)
            .sum();
        assert!(close(sq, l.weight_grad.sum_sq), "{}", l.path);
        // Fresh BatchNorm scales are 1.
        assert!(series(l, "bn_scale", Axis::Channel)
            .iter()
            .all(|s| s.sum == 1.0));
    }
    assert!(p.layers[5].series.is_empty(), "the output layer is dense");
    // Block 1 (identity shortcut): its shortcut carries the stem's output,
    // and its two routes' gradients add up to the stem's dL/dh.
    let (stem, first) = (&p.layers[0], &p.layers[1]);
    let out = series(first, "block_out", Axis::Route);
    assert_eq!(out[1], stem.out);
    let grad = series(first, "block_input_grad", Axis::Route);
    let err = (grad[0].sum + grad[1].sum - stem.out_grad.sum).abs() / stem.out_grad.l2();
    assert!(err < 1e-5, "{grad:?} vs {:?}", stem.out_grad);
    assert!(grad[1].l2() > 0.0 && grad[0].l2() > 0.0);
    // Only a block's first layer carries routes.
    assert!(p.layers[2].series.iter().all(|s| s.axis != Axis::Route));
}

/// Mean training-batch loss over the last tenth of the run.
fn final_train_loss(r: &RunRecord) -> f64 {
    let tail = &r.steps[r.steps.len() - r.steps.len().div_ceil(10)..];
    tail.iter().map(|s| s.loss).sum::<f64>() / tail.len() as f64
}

/// He et al. 2016's degradation at test scale (4/8/16 channels, BatchNorm,
/// the same budget and optimizer for all): the 32-layer plain net (n = 5)
/// ends with a higher training loss than the 8-layer one (n = 1), and the
/// comparison finds it; the 32-layer residual net trains at least as well
/// as the 8-layer plain one. At 300 steps one seed's losses are noisy:
/// final training loss (plain 8 / plain 32 / residual 32) 0.383 / 0.404 /
/// 0.247 on seed 0, 0.334 / 0.481 / 0.251 on seed 1, and 1.42x and 1.64x
/// the plain 8's on seeds 2 and 3; the test takes the mean of seeds 0 and
/// 1 (1.24x).
#[test]
fn a_deeper_plain_cnn_trains_worse_and_the_residual_one_does_not() {
    let net = |n: usize, residual: bool| {
        format!("channels = [4, 8, 16]\nn = {n}\nresidual = {residual}\nnorm = \"batch\"")
    };
    let runs = |n: usize, residual: bool| {
        [0, 1].map(|seed| run_seeded(&net(n, residual), 300, 0.05, seed))
    };
    let (p8, p32, r32) = (runs(1, false), runs(5, false), runs(5, true));
    let mean = |r: &[RunRecord; 2]| r.iter().map(final_train_loss).sum::<f64>() / 2.0;
    let (l8, l32, lr32) = (mean(&p8), mean(&p32), mean(&r32));
    assert!(l32 > 1.1 * l8, "plain 32 {l32} vs plain 8 {l8}");
    assert!(lr32 <= l8, "residual 32 {lr32} vs plain 8 {l8}");
    // Seed 1's runs, where the gap is clear, through the report's rule.
    let found = compare(&[&p8[1], &p32[1], &r32[1]]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0, found[0].1.kind), (1, FindingKind::Degradation));
}

/// At initialization, without BatchNorm, a deep plain CNN's early layers
/// get orders of magnitude less *delta* than its last ones only under an
/// init that shrinks the signal: Glorot & Bengio's `standard` init
/// (variance 1/(3 fan_in): a sixth of the variance kept per ReLU layer)
/// loses 12 decades of `dL/dz` over 30 layers (first/last 1e-12), He init
/// (the default) about one (0.056). The weight gradients do not show it:
/// `dL/dW_l = h_(l-1)^T dL/dz_l`, and the activations shrink toward the
/// output as fast as the deltas toward the input, so every layer's weight
/// gradient is equally tiny (first/last 0.20, each about 1e-13; He init:
/// 0.74, about 3e-3). The issue's "early layers' gradients orders of
/// magnitude below the last layers'" holds for the deltas, not for the
/// weight gradients, and not under He init at all: He et al. 2016's plain
/// nets (He init and BN) do not degrade because the gradient vanishes.
#[test]
fn a_deep_plain_cnn_loses_decades_of_delta_under_standard_init_not_under_he_init() {
    let probe = |init: &str| {
        let net = format!("channels = [4, 8, 16]\nn = 5\nresidual = false\ninit = \"{init}\"");
        let r = run(&net, 1, 0.01);
        let l = r.probes[0].layers.clone();
        let last = l.len() - 2;
        let delta = l[0].pre_grad.l2() / l[last].pre_grad.l2();
        let weight = l[0].weight_grad.l2() / l[last].weight_grad.l2();
        (delta, weight, l[last].weight_grad.l2())
    };
    let (standard, he) = (probe("standard"), probe("he_normal"));
    assert!(
        standard.0 < 1e-8,
        "standard init: delta first/last {}",
        standard.0
    );
    assert!(
        standard.1 > 1e-2,
        "standard init: weight grads balanced, {}",
        standard.1
    );
    assert!(
        standard.2 < 1e-6 * he.2,
        "standard init: every weight gradient tiny"
    );
    assert!(
        he.0 > 1e-2 && he.0 < 10.0,
        "He init: delta first/last {}",
        he.0
    );
}
