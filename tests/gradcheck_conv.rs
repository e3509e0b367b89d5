//! The convolutional layers' backward passes against central finite
//! differences in f64, as property tests over random geometries: the
//! convolution (any kernel, stride, padding, with and without bias), the
//! pools, flattening, the zero-padding shortcut, a residual conv block
//! with BatchNorm, and whole CNNs, plain and residual.

use gradscope::analysis::gradcheck::{check_layer, check_mlp, GradCheckReport};
use gradscope::nn::conv::model::Shortcut;
use gradscope::nn::conv::{
    AvgPool2d, Conv2d, Flatten, GlobalAvgPool, Image, MaxPool2d, Window, ZeroPadShortcut,
};
use gradscope::nn::{
    Activation, ActivationLayer, BatchNorm, Dense, Layer, Loss, Mode, ModelConfig, ModelKind, Norm,
    NormPlacement, Residual, Sequential, Targets,
};
use gradscope::tensor::{Init, Matrix};
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const TOL: f64 = 1e-6;

/// The tolerance for a ResNet block with BatchNorm: the central
/// differences' own rounding reaches 1e-6 there. A conv weight feeding
/// BatchNorm has gradients of about 2e-4 from differences of 3e-10 in an
/// objective of 3.1, through a normalization that cancels digits; on the
/// case proptest found (below), the error goes as 1/h, so it is rounding,
/// not a wrong gradient: 1.4e-6 at h = 1e-6, 9.6e-6 at 1e-7, under 1e-6 at
/// 1e-5. PyTorch's fixtures confirm the same block to 1e-11
/// (tests/torch_conv.rs).
const TOL_BN_BLOCK: f64 = 1e-5;

/// `batch` images of `image`, entries in +-[0.05, 2], as data rows.
fn images(batch: usize, image: Image, seed: u64) -> Matrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data = (0..batch * image.len())
        .map(|_| rng.gen_range(0.05..2.0) * if rng.gen_bool(0.5) { 1.0 } else { -1.0 })
        .collect();
    Matrix::from_vec(batch, image.len(), data).unwrap()
}

/// Distinct values 0.01 apart in random order: no two entries of a max
/// pool's window within a finite difference of each other.
fn distinct(batch: usize, image: Image, seed: u64) -> Matrix<f64> {
    let n = batch * image.len();
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * 0.01 - n as f64 * 0.005).collect();
    v.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    Matrix::from_vec(batch, image.len(), v).unwrap()
}

fn randomize(layer: &mut dyn Layer<f64>, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ps = Vec::new();
    layer.collect_params("", &mut ps);
    for p in ps {
        for v in p.param.value.as_mut_slice() {
            *v = rng.gen_range(-1.0..1.0);
        }
    }
}

fn assert_ok(report: &GradCheckReport, what: &str) {
    assert_within(report, what, TOL);
}

fn assert_within(report: &GradCheckReport, what: &str, tol: f64) {
    let worst = report.worst().expect("something checked");
    assert!(
        report.max_rel_error() < tol,
        "{what}: `{}` relative error {:.3e} (scale {:.3e})",
        worst.name,
        worst.rel_error,
        worst.scale
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn conv2d(
        batch in 1usize..3, c_in in 1usize..4, c_out in 1usize..4, h in 3usize..7, w in 3usize..7,
        kernel in prop::sample::select(vec![1usize, 2, 3]), stride in 1usize..3, pad in 0usize..2,
        bias: bool, seed: u64,
    ) {
        let image = Image::new(c_in, h, w);
        let mut conv = Conv2d::<f64>::new(image, c_out, Window::new(kernel, stride, pad), bias).unwrap();
        randomize(&mut conv, seed);
        let what = format!("conv {image} -> {c_out} k{kernel} s{stride} p{pad} bias {bias}");
        assert_ok(&check_layer(&mut conv, &images(batch, image, seed), Mode::Train, seed), &what);
    }

    #[test]
    fn pools_flatten_and_shortcut(
        batch in 1usize..3, c in 1usize..4, h in 2usize..7, w in 2usize..7,
        kernel in 1usize..4, stride in 1usize..3, seed: u64,
    ) {
        let image = Image::new(c, h, w);
        let window = Window::new(kernel.min(h).min(w), stride, 0);
        let x = distinct(batch, image, seed);
        let mut max = MaxPool2d::<f64>::new(image, window).unwrap();
        assert_ok(&check_layer(&mut max, &x, Mode::Train, seed), "max_pool");
        let mut avg = AvgPool2d::<f64>::new(image, Window::new(window.kernel, stride, window.kernel / 2)).unwrap();
        assert_ok(&check_layer(&mut avg, &x, Mode::Train, seed), "avg_pool");
        assert_ok(&check_layer(&mut GlobalAvgPool::<f64>::new(image), &x, Mode::Train, seed), "gap");
        assert_ok(&check_layer(&mut Flatten::<f64>::new(image), &x, Mode::Train, seed), "flatten");
        let mut short = ZeroPadShortcut::<f64>::new(image, c + 2, stride).unwrap();
        assert_ok(&check_layer(&mut short, &x, Mode::Train, seed), "zero-pad shortcut");
    }

    /// A ResNet basic block: two 3x3 conv blocks with BatchNorm (over
    /// pixel rows: per channel), a projection or option A shortcut.
    #[test]
    fn residual_conv_block_with_batch_norm(
        batch in 2usize..4, c_in in 1usize..3, grow in 0usize..2, stride in 1usize..3,
        projection: bool, seed: u64,
    ) {
        check_residual_block(batch, c_in, grow, stride, projection, seed);
    }
}

fn check_residual_block(
    batch: usize,
    c_in: usize,
    grow: usize,
    stride: usize,
    projection: bool,
    seed: u64,
) {
    let image = Image::new(c_in, 5, 4);
    let c_out = c_in + grow;
    let conv_block = |input: Image, stride: usize, act: bool, at: usize| {
        let conv = Conv2d::<f64>::new(input, c_out, Window::new(3, stride, 1), false).unwrap();
        let out = conv.output_image();
        let norm = Some(Box::new(BatchNorm::new(c_out, 0.1, 1e-5)) as Box<dyn Layer<f64>>);
        let act = act.then(|| ActivationLayer::new(Activation::Tanh));
        (
            Dense::new(conv, norm, NormPlacement::Before, act, ("b", at)),
            out,
        )
    };
    let (a, mid) = conv_block(image, stride, true, 0);
    let (b, out) = conv_block(mid, 1, false, 3);
    let shortcut: Option<Box<dyn Layer<f64>>> = match (out == image, projection) {
        (true, _) => None,
        (false, true) => Some(Box::new(
            Conv2d::<f64>::new(image, c_out, Window::new(1, stride, 0), false).unwrap(),
        )),
        (false, false) => Some(Box::new(
            ZeroPadShortcut::<f64>::new(image, c_out, stride).unwrap(),
        )),
    };
    let mut block = Residual::new(Sequential::new(vec![Box::new(a), Box::new(b)]), shortcut);
    randomize(&mut block, seed);
    let report = check_layer(&mut block, &images(batch, image, seed), Mode::Train, seed);
    assert_within(&report, "residual conv block", TOL_BN_BLOCK);
}

/// The cases proptest found at the edge of [`TOL`] (one channel, so one
/// BatchNorm over 40 and 60 pixel rows).
#[test]
fn residual_block_case_found_by_proptest() {
    check_residual_block(2, 1, 0, 1, false, 17582539712369667346);
    check_residual_block(3, 1, 0, 1, false, 17582539712369667346);
}

/// Whole CNNs, plain and residual, with and without BatchNorm, both
/// shortcuts: every parameter through the loss.
#[test]
fn whole_cnns() {
    let image = Image::new(2, 6, 6);
    let x = images(4, image, 3);
    let labels = [0, 2, 1, 2];
    for residual in [false, true] {
        for norm in [Norm::None, Norm::Batch] {
            for shortcut in [Shortcut::Zeros, Shortcut::Projection] {
                let mut cfg = ModelConfig::new(image.len(), 3)
                    .activation(Activation::Tanh)
                    .norm(norm, NormPlacement::Before)
                    .init(Init::XavierNormal { gain: 1.0 });
                cfg.kind = ModelKind::Cnn;
                cfg.conv.channels = vec![2, 3];
                cfg.conv.n = 1;
                cfg.conv.residual = residual;
                cfg.conv.shortcut = shortcut;
                cfg.conv.image = vec![2, 6, 6];
                let mut cnn = cfg.build::<f64>(5).unwrap();
                let report = check_mlp(
                    &mut cnn,
                    &x,
                    Targets::Classes(&labels),
                    Loss::CrossEntropy,
                    64,
                );
                assert_ok(
                    &report,
                    &format!("cnn residual {residual} {norm:?} {shortcut}"),
                );
            }
        }
    }
}
