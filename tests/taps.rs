//! Taps (statistics a block takes inside its forward and backward): a
//! tapped step trains bit for bit like an untapped one, every figure is
//! measured, and the output layer's figures are those of the tensors the
//! step left (logits, loss gradient, weights). Shapes are large enough for
//! several row blocks, and the two-thread runs split each pass in halves.
//! Each hidden block's wiring (which tensor is `pre`, `out`, `pre_grad`,
//! `out_grad` with each norm placement) is checked in `src/nn/dense.rs`.

use gradscope::nn::{Activation, Loss, Mlp, Mode, ModelConfig, Norm, NormPlacement, Targets};
use gradscope::probe::{ProbeConfig, Prober, StepProbe, Tap, TensorStats};
use gradscope::tensor::{tensor_stats, with_threads, Matrix, Scalar};

const BATCH: usize = 64;
const WIDTH: usize = 300;

fn batch<T: Scalar>() -> (Matrix<T>, Vec<usize>) {
    let x: Vec<T> = (0..BATCH * 20)
        .map(|i| T::cast((i as f64 * 0.37).sin() * 2.0))
        .collect();
    let labels = (0..BATCH).map(|i| i % 3).collect();
    (Matrix::from_vec(BATCH, 20, x).unwrap(), labels)
}

/// One step of `cfg` with taps on (`tapped`) or off: the probe, the
/// network, and the loss gradient.
fn probe<T: Scalar>(cfg: &ModelConfig, tapped: bool) -> (StepProbe, Mlp<T>, Matrix<T>) {
    let mut mlp = cfg.build::<T>(7).unwrap();
    let (x, labels) = batch::<T>();
    let mut prober = Prober::<T>::new(ProbeConfig::default());
    mlp.set_tap(if tapped { Tap::Scalars } else { Tap::Off });
    let mut g = Matrix::default();
    let out = mlp.forward(&x, Mode::Train).clone();
    Loss::CrossEntropy.compute(&out, Targets::Classes(&labels), &mut g);
    mlp.backward(&x, &g);
    (prober.observe(0, &mlp.blocks()), mlp, g)
}

fn assert_close(a: &TensorStats, b: &TensorStats, what: &str, tol: f64) {
    assert_eq!(
        (a.n, a.nan, a.inf, a.zeros),
        (b.n, b.nan, b.inf, b.zeros),
        "{what}"
    );
    assert_eq!(a.max_abs, b.max_abs, "{what}");
    let rel = |x: f64, y: f64, scale: f64| (x - y).abs() <= tol * scale.max(f64::MIN_POSITIVE);
    assert!(rel(a.sum_sq, b.sum_sq, b.sum_sq), "{what}: {a:?} vs {b:?}");
    assert!(
        rel(a.sum, b.sum, b.l2() * (b.n as f64).sqrt()),
        "{what}: {a:?} vs {b:?}"
    );
}

fn configs() -> Vec<(&'static str, ModelConfig)> {
    let base = || ModelConfig::new(20, 3).depth(3, WIDTH);
    vec![
        ("sigmoid", base().activation(Activation::Sigmoid)),
        ("relu", base().init("he_normal".parse().unwrap())),
        (
            "tanh+bn-before",
            base()
                .activation(Activation::Tanh)
                .norm(Norm::Batch, NormPlacement::Before),
        ),
        (
            "gelu+ln-after",
            base()
                .activation(Activation::Gelu)
                .norm(Norm::Layer, NormPlacement::After),
        ),
        ("relu+residual", base().residual_every(2)),
    ]
}

/// Taps on and off give the same gradients bit for bit; tapped, every
/// figure is measured; untapped, none.
fn compare<T: Scalar>() {
    for (name, cfg) in configs() {
        let ((tapped, mut mt, _), (untapped, mut mu, _)) =
            (probe::<T>(&cfg, true), probe::<T>(&cfg, false));
        for (a, b) in mt.params().iter().zip(mu.params().iter()) {
            assert_eq!(a.param.grad, b.param.grad, "{name} {}", a.path);
        }
        for l in &tapped.layers {
            let at = |t: &str| format!("{name} layer {} {t}", l.layer);
            let figures = [
                ("weight", l.weight),
                ("weight_grad", l.weight_grad),
                ("pre", l.pre),
                ("out", l.out),
                ("pre_grad", l.pre_grad),
                ("out_grad", l.out_grad),
            ];
            for (t, s) in figures {
                assert!(s.n > 0 && s.sum_sq > 0.0, "{}", at(t));
            }
            let [p15, p50, p85] = l.pre_pct;
            assert!(p15 <= p50 && p50 <= p85, "{}", at("percentiles"));
        }
        let nothing = |l: &gradscope::probe::LayerProbe| l.weight.n == 0 && l.pre_grad.n == 0;
        assert!(untapped.layers.iter().all(nothing), "{name}");
    }
}

/// The output layer's figures against its tensors: `z = h =` the logits,
/// `dL/dz = dL/dh =` the loss gradient, every entry of its weight.
fn output_layer_matches<T: Scalar>(tol: f64) {
    for (name, cfg) in configs() {
        let (p, mut mlp, g) = probe::<T>(&cfg, true);
        let out = p.layers.last().unwrap();
        let what = |t: &str| format!("{name} {t}");
        assert_close(
            &out.pre_grad,
            &tensor_stats(g.as_slice()),
            &what("dL/dz"),
            tol,
        );
        assert_eq!((out.pre, out.pre_grad), (out.out, out.out_grad), "{name}");
        let params = mlp.params();
        let w = &params[params.len() - 2];
        assert_eq!(w.path, format!("{}.weight", out.path));
        let (value, grad) = (w.param.value.as_slice(), w.param.grad.as_slice());
        assert_close(&out.weight, &tensor_stats(value), &what("W"), tol);
        assert_close(&out.weight_grad, &tensor_stats(grad), &what("dL/dW"), tol);
    }
}

#[test]
fn taps_change_no_value_and_measure_every_figure() {
    compare::<f64>();
    with_threads(2, compare::<f32>);
}

#[test]
fn the_output_layer_figures_are_its_tensors() {
    output_layer_matches::<f64>(1e-12);
    // f32 blocks are summed in f32 (relative error < 1e-6), split in
    // halves on two threads.
    with_threads(2, || output_layer_matches::<f32>(1e-5));
}

#[test]
fn relu_layers_report_dead_units_and_sigmoid_layers_do_not() {
    let cfgs = configs();
    let (relu, ..) = probe::<f32>(&cfgs[1].1, true);
    let (sigmoid, ..) = probe::<f32>(&cfgs[0].1, true);
    assert!(relu.layers[..3]
        .iter()
        .all(|l| (0.0..0.5).contains(&l.dead)));
    assert!(sigmoid.layers.iter().all(|l| l.dead.is_nan()));
    assert!(sigmoid.layers[..3].iter().all(|l| l.saturated < 0.05));
}
