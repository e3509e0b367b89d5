//! Every backward pass against central finite differences in f64, as
//! property tests over random shapes and values (relative error < 1e-6).
//!
//! ReLU-family kinks: inputs are drawn away from 0 (|x| >= 0.05), and the
//! step is 1e-6, so no difference straddles a kink.

use gradscope::analysis::gradcheck::{check_layer, check_mlp, GradCheckReport};
use gradscope::nn::{
    Activation, ActivationLayer, BatchNorm, Layer, LayerNorm, Linear, Loss, Mode, ModelConfig,
    Norm, NormPlacement, Residual, Sequential, Targets,
};
use gradscope::tensor::{Init, Matrix, Scalar};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const TOL: f64 = 1e-6;

const ACTIVATIONS: [&str; 12] = [
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu(0.1)",
    "elu(0.7)",
    "selu",
    "gelu",
    "gelu_tanh",
    "silu",
    "softsign",
    "softplus",
];

/// A `rows x cols` batch with entries in +-[0.05, 2].
fn batch(rows: usize, cols: usize, seed: u64) -> Matrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data = (0..rows * cols)
        .map(|_| {
            let m: f64 = rng.gen_range(0.05..2.0);
            if rng.gen_bool(0.5) {
                m
            } else {
                -m
            }
        })
        .collect();
    Matrix::from_vec(rows, cols, data).unwrap()
}

fn randomize(layer: &mut dyn Layer<f64>, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ps = Vec::new();
    layer.collect_params("", &mut ps);
    for p in ps {
        p.param
            .value
            .as_mut_slice()
            .iter_mut()
            .for_each(|v| *v = rng.gen_range(-1.0..1.0));
    }
}

fn assert_ok(report: &GradCheckReport, what: &str) {
    let worst = report.worst().expect("something checked");
    assert!(
        report.max_rel_error() < TOL,
        "{what}: `{}` relative error {:.3e} (scale {:.3e})",
        worst.name,
        worst.rel_error,
        worst.scale
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn linear(batch_n in 1usize..5, inp in 1usize..6, out in 1usize..6, bias: bool, seed: u64) {
        let mut l = Linear::<f64>::new(inp, out, bias);
        randomize(&mut l, seed);
        assert_ok(&check_layer(&mut l, &batch(batch_n, inp, seed ^ 1), Mode::Train, seed), "linear");
    }

    #[test]
    fn activations(batch_n in 1usize..4, width in 1usize..6, seed: u64) {
        for name in ACTIVATIONS {
            let mut l = ActivationLayer::<f64>::new(name.parse().unwrap());
            assert_ok(&check_layer(&mut l, &batch(batch_n, width, seed), Mode::Train, seed), name);
        }
    }

    #[test]
    fn batch_norm_train_and_eval(batch_n in 3usize..7, width in 1usize..5, seed: u64) {
        let x = batch(batch_n, width, seed);
        let mut bn = BatchNorm::<f64>::new(width, 0.1, 1e-5);
        randomize(&mut bn, seed);
        assert_ok(&check_layer(&mut bn, &x, Mode::Train, seed), "batch_norm train");
        bn.running_var.fill(0.7);
        bn.running_mean.fill(-0.2);
        assert_ok(&check_layer(&mut bn, &x, Mode::Eval, seed), "batch_norm eval");
    }

    #[test]
    fn layer_norm(batch_n in 1usize..4, width in 3usize..7, seed: u64) {
        let mut ln = LayerNorm::<f64>::new(width, 1e-5);
        randomize(&mut ln, seed);
        assert_ok(&check_layer(&mut ln, &batch(batch_n, width, seed), Mode::Train, seed), "layer_norm");
    }

    #[test]
    fn residual_with_and_without_projection(batch_n in 1usize..4, inp in 1usize..5, out in 1usize..5, seed: u64) {
        let branch = Sequential::new(vec![
            Box::new(Linear::<f64>::new(inp, out, true)) as Box<dyn Layer<f64>>,
            Box::new(ActivationLayer::new(Activation::Tanh)),
        ]);
        let projection = (inp != out)
            .then(|| Box::new(Linear::new(inp, out, false)) as Box<dyn Layer<f64>>);
        let mut block = Residual::new(branch, projection);
        randomize(&mut block, seed);
        assert_ok(&check_layer(&mut block, &batch(batch_n, inp, seed), Mode::Train, seed), "residual");
    }

    #[test]
    fn losses(batch_n in 1usize..5, classes in 2usize..6, seed: u64) {
        // A loss is checked through a 1-layer net whose weights we probe:
        // any error in dL/dlogits shows up in dL/dW = (dL/dlogits)^T x.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let labels: Vec<usize> = (0..batch_n).map(|_| rng.gen_range(0..classes)).collect();
        let target = batch(batch_n, classes, seed ^ 7);
        let x = batch(batch_n, 3, seed);
        let mut mlp = ModelConfig::new(3, classes).init(Init::Normal { std: 1.0 }).build::<f64>(seed).unwrap();
        assert_ok(&check_mlp(&mut mlp, &x, Targets::Classes(&labels), Loss::CrossEntropy, 64), "cross_entropy");
        assert_ok(&check_mlp(&mut mlp, &x, Targets::Values(&target), Loss::Mse, 64), "mse");
        assert_ok(&check_mlp(&mut mlp, &x, Targets::Classes(&labels), Loss::Mse, 64), "mse on labels");
    }
}

/// Whole MLPs: every activation, each norm in each placement, residual.
#[test]
fn whole_mlps_with_every_activation_and_norm() {
    let x = batch(6, 5, 11);
    let labels = [0, 2, 1, 3, 3, 0];
    let norms = [
        (Norm::None, NormPlacement::Before),
        (Norm::Batch, NormPlacement::Before),
        (Norm::Batch, NormPlacement::After),
        (Norm::Layer, NormPlacement::Before),
        (Norm::Layer, NormPlacement::After),
    ];
    for name in ACTIVATIONS {
        for (norm, placement) in norms {
            for residual in [0, 2] {
                let cfg = ModelConfig::new(5, 4)
                    .depth(4, 6)
                    .activation(name.parse().unwrap())
                    .norm(norm, placement)
                    .residual_every(residual)
                    .init(Init::XavierNormal { gain: 1.0 });
                let mut mlp = cfg.build::<f64>(3).unwrap();
                randomize_biases(&mut mlp, 5);
                let report = check_mlp(
                    &mut mlp,
                    &x,
                    Targets::Classes(&labels),
                    Loss::CrossEntropy,
                    40,
                );
                assert_ok(
                    &report,
                    &format!("{name} {norm:?} {placement:?} residual {residual}"),
                );
            }
        }
    }
}

/// Biases away from 0, so a hidden row of dead ReLUs does not put the next
/// pre-activation exactly on the kink.
fn randomize_biases(mlp: &mut gradscope::nn::Mlp<f64>, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for p in mlp.params() {
        if p.path.ends_with("bias") {
            for v in p.param.value.as_mut_slice() {
                *v = rng.gen_range(0.05..0.5) * if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
            }
        }
    }
}

/// A 70-layer sigmoid net (standard init) in f64 still resolves the first layers'
/// gradients, which underflow to exactly zero in f32.
#[test]
fn f64_resolves_gradients_that_underflow_in_f32() {
    let cfg = ModelConfig::new(20, 10)
        .depth(70, 64)
        .activation(Activation::Sigmoid)
        .init(Init::Standard);
    let x64 = batch(8, 20, 5).map(|v| v.abs() / 2.0);
    let labels = [1, 2, 3, 4, 5, 6, 7, 8];
    let n32 = weight_grad_norms(&cfg, &x64.cast::<f32>(), &labels);
    let n64 = weight_grad_norms(&cfg, &x64, &labels);
    let zeros32 = n32.iter().filter(|&&n| n == 0.0).count();
    assert!(
        zeros32 >= 5,
        "f32: {zeros32} layers with exactly zero gradient: {n32:?}"
    );
    assert!(
        n64.iter().all(|&n| n > 0.0),
        "f64 gradients all resolved: {n64:?}"
    );
    // Below f32's smallest subnormal, 1.4e-45.
    assert!(n64[0] < 1e-45, "f64 first-layer gradient norm {:e}", n64[0]);
}

/// Weight-gradient norm of every linear layer, input side first.
fn weight_grad_norms<T: Scalar>(cfg: &ModelConfig, x: &Matrix<T>, labels: &[usize]) -> Vec<f64> {
    let mut g = Matrix::default();
    let mut m = cfg.build::<T>(0).unwrap();
    let out = m.forward(x, Mode::Train).clone();
    Loss::CrossEntropy.compute(&out, Targets::Classes(labels), &mut g);
    m.backward(x, &g);
    m.params()
        .iter()
        .filter(|p| p.path.ends_with("weight"))
        .map(|p| p.param.grad.norm_f64())
        .collect()
}
