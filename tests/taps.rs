//! Taps (statistics taken inside forward and backward) against the
//! prober's untapped path, which reads the same tensors after backward:
//! the figures agree, and a tapped step trains bit for bit like an
//! untapped one. Shapes are large enough for several row blocks, and the
//! two-thread runs split each pass in halves.

use gradscope::nn::{Activation, Loss, Mlp, MlpConfig, Mode, Norm, NormPlacement, Targets};
use gradscope::probe::{ProbeConfig, Prober, StepProbe, TensorStats};
use gradscope::tensor::{with_threads, Matrix, Scalar};

const BATCH: usize = 64;
const WIDTH: usize = 300;

fn batch<T: Scalar>() -> (Matrix<T>, Vec<usize>) {
    let x: Vec<T> = (0..BATCH * 20)
        .map(|i| T::cast((i as f64 * 0.37).sin() * 2.0))
        .collect();
    let labels = (0..BATCH).map(|i| i % 3).collect();
    (Matrix::from_vec(BATCH, 20, x).unwrap(), labels)
}

/// One step of `cfg`, probed with taps on (`tapped`) or read afterwards.
fn probe<T: Scalar>(cfg: &MlpConfig, tapped: bool) -> (StepProbe, Mlp<T>) {
    let mut mlp = cfg.build::<T>(7).unwrap();
    let (x, labels) = batch::<T>();
    let prober = Prober::<T>::new(ProbeConfig::default());
    mlp.set_tap(tapped);
    let mut g = Matrix::default();
    let out = mlp.forward(&x, Mode::Train).clone();
    Loss::CrossEntropy.compute(&out, Targets::Classes(&labels), &mut g);
    mlp.backward(&x, &g);
    let mut prober = prober;
    (prober.observe(0, &mlp, &g), mlp)
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

fn configs() -> Vec<(&'static str, MlpConfig)> {
    let base = || MlpConfig::new(20, 3).depth(3, WIDTH);
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

fn compare<T: Scalar>(threads: usize, tol: f64) {
    for (name, cfg) in configs() {
        let ((tapped, mlp_t), (read, mlp_r)) = with_threads(threads, || {
            (probe::<T>(&cfg, true), probe::<T>(&cfg, false))
        });
        // Training is unchanged by taps, bit for bit.
        let (mut mt, mut mr) = (mlp_t, mlp_r);
        for (a, b) in mt.params().iter().zip(mr.params().iter()) {
            assert_eq!(a.param.grad, b.param.grad, "{name} {}", a.path);
        }
        assert_eq!(tapped.layers.len(), read.layers.len());
        for (a, b) in tapped.layers.iter().zip(&read.layers) {
            let at = |t: &str| format!("{name} layer {} {t}", a.layer);
            assert_close(&a.weight_grad, &b.weight_grad, &at("weight_grad"), tol);
            assert_close(&a.pre, &b.pre, &at("pre"), tol);
            assert_close(&a.out, &b.out, &at("out"), tol);
            assert_close(&a.pre_grad, &b.pre_grad, &at("pre_grad"), tol);
            assert_close(&a.out_grad, &b.out_grad, &at("out_grad"), tol);
            // Same sample positions: identical percentiles and fractions.
            assert_eq!(a.pre_pct, b.pre_pct, "{}", at("percentiles"));
            assert!(
                a.saturated == b.saturated || (a.saturated.is_nan() && b.saturated.is_nan()),
                "{}",
                at("saturated")
            );
            assert!(
                a.dead == b.dead || (a.dead.is_nan() && b.dead.is_nan()),
                "{}",
                at("dead")
            );
        }
    }
}

#[test]
fn tapped_figures_equal_the_untapped_ones_in_f64() {
    compare::<f64>(1, 1e-12);
}

#[test]
fn tapped_figures_equal_the_untapped_ones_in_f32_on_two_threads() {
    // f32 blocks are summed in f32 (relative error < 1e-6), in another
    // order than the untapped whole-tensor pass.
    compare::<f32>(2, 1e-5);
}

#[test]
fn relu_layers_report_dead_units_and_sigmoid_layers_do_not() {
    let cfgs = configs();
    let (relu, _) = probe::<f32>(&cfgs[1].1, true);
    let (sigmoid, _) = probe::<f32>(&cfgs[0].1, true);
    assert!(relu.layers[..3]
        .iter()
        .all(|l| (0.0..0.5).contains(&l.dead)));
    assert!(sigmoid.layers.iter().all(|l| l.dead.is_nan()));
    assert!(sigmoid.layers[..3].iter().all(|l| l.saturated < 0.05));
}
