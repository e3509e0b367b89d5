//! The engine against PyTorch: losses, every parameter gradient, BatchNorm
//! running statistics, optimizer trajectories and learning-rate schedules,
//! compared with numbers PyTorch produced in float64.
//!
//! The fixtures under `tests/fixtures/torch/` come from
//! `scripts/torch_reference.py` (rerun with
//! `/tmp/torch-venv/bin/python scripts/torch_reference.py`); PyTorch is not
//! needed to run these tests. The essential lines of that script:
//!
//! ```python
//! torch.set_default_dtype(torch.float64)
//! # model: a mirror of ModelConfig::build (first hidden layer plain, then
//! # Residual(nn.Sequential(branch), projection) per `residual_every` hidden
//! # layers, projection = nn.Linear(block_in, block_out, bias=False) only
//! # when the width changes), parameters under `layers.*`:
//! layers.append(nn.Linear(fan_in, w)); layers += [norm, act] or [act, norm]
//! norm = nn.BatchNorm1d(w, momentum=0.1, eps=1e-5) or nn.LayerNorm(w, eps=1e-5)
//! act = nn.LeakyReLU(0.1), nn.ELU(0.7), nn.GELU(approximate="tanh"), ...
//!
//! # gradients (x: 4 x 6, randn; labels: randint(0, 3)):
//! model.train(mode == "train")
//! out = model(x)
//! value = F.cross_entropy(out, labels)      # or F.mse_loss(out, target)
//! value.backward()
//! expected = {"loss": value, "grads": {n: p.grad for n, p in model.named_parameters()},
//!             "buffers": running_mean / running_var after the forward}
//!
//! # optimizers (x: 8 x 6), 5 steps from the same start:
//! for _ in range(5):
//!     opt.zero_grad()
//!     loss = F.cross_entropy(model(x), labels); loss.backward()
//!     grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 0.2)  # clip cases
//!     torch.nn.utils.clip_grad_value_(model.parameters(), 0.05)            # only
//!     opt.step()   # SGD(lr=0.05, momentum, nesterov, weight_decay),
//!                  # Adam(lr=0.01, weight_decay), AdamW(lr=0.01, weight_decay=0.1)
//!     record {n: p for n, p in model.named_parameters()}
//!
//! # schedules: opt.param_groups[0]["lr"] before each sched.step() of
//! StepLR(step_size=3, gamma=0.5); CosineAnnealingLR(T_max=10, eta_min=0.001);
//! SequentialLR([LinearLR(start_factor=0.25, total_iters=3), StepLR(2, 0.5)], milestones=[4])
//! ```
//!
//! Tolerance: relative `1e-5` per tensor (max-norm error over max-norm of
//! PyTorch's tensor) and per entry (with an absolute floor of `1e-8`).
//! Both sides compute in f64, so the errors actually seen are near 1e-14.

use gradscope::nn::{Activation, Loss, Mlp, Mode, ModelConfig, Norm, NormPlacement, Targets};
use gradscope::optim::{clip_grad_norm, clip_grad_value, OptimizerConfig, Schedule};
use gradscope::tensor::Matrix;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// Relative tolerance for every comparison.
const RTOL: f64 = 1e-5;
/// Entries smaller than this are compared absolutely (`RTOL * FLOOR`).
const FLOOR: f64 = 1e-8;

const GRADS: &str = include_str!("fixtures/torch/mlp_grads.json");
const OPTIM: &str = include_str!("fixtures/torch/optim.json");

/// A matrix as the script writes it: our shape, row-major data.
#[derive(Deserialize)]
struct Mat {
    shape: [usize; 2],
    data: Vec<f64>,
}

impl Mat {
    fn to_matrix(&self) -> Matrix<f64> {
        Matrix::from_vec(self.shape[0], self.shape[1], self.data.clone()).unwrap()
    }
}

#[derive(Deserialize)]
struct ModelSpec {
    input: usize,
    output: usize,
    widths: Vec<usize>,
    activation: Activation,
    norm: Norm,
    norm_placement: NormPlacement,
    residual_every: usize,
}

impl ModelSpec {
    fn build(&self) -> Mlp<f64> {
        let mut cfg = ModelConfig::new(self.input, self.output)
            .activation(self.activation)
            .norm(self.norm, self.norm_placement)
            .residual_every(self.residual_every);
        cfg.widths = self.widths.clone();
        cfg.build::<f64>(0).unwrap()
    }
}

#[derive(Deserialize)]
struct GradFile {
    torch: String,
    cases: Vec<GradCase>,
}

#[derive(Deserialize)]
struct GradCase {
    name: String,
    model: ModelSpec,
    mode: String,
    loss: Loss,
    params: BTreeMap<String, Mat>,
    buffers: BTreeMap<String, Mat>,
    input: Mat,
    labels: Option<Vec<usize>>,
    target: Option<Mat>,
    expected: Expected,
}

#[derive(Deserialize)]
struct Expected {
    loss: f64,
    grads: BTreeMap<String, Mat>,
    buffers: BTreeMap<String, Mat>,
}

#[derive(Deserialize)]
struct OptimFile {
    torch: String,
    model: ModelSpec,
    params: BTreeMap<String, Mat>,
    input: Mat,
    labels: Vec<usize>,
    cases: Vec<OptimCase>,
    schedules: Vec<ScheduleCase>,
}

#[derive(Deserialize)]
struct OptimCase {
    name: String,
    optimizer: OptimizerConfig,
    lr: f64,
    clip: Option<Clip>,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Clip {
    Norm(f64),
    Value(f64),
}

#[derive(Deserialize)]
struct Step {
    loss: f64,
    grad_norm: Option<f64>,
    params: BTreeMap<String, Mat>,
}

#[derive(Deserialize)]
struct ScheduleCase {
    name: String,
    schedule: Schedule,
    lr: f64,
    lrs: Vec<f64>,
}

/// The worst relative errors seen, and where: tensor-wise (max-norm) and
/// entry-wise (entries below `FLOOR` measured against `FLOOR`).
#[derive(Default)]
struct Worst {
    tensor: (f64, String),
    entry: (f64, String),
}

impl Worst {
    fn note(slot: &mut (f64, String), rel: f64, at: impl FnOnce() -> String) {
        if rel > slot.0 {
            *slot = (rel, at());
        }
    }

    fn report(&self, what: &str) {
        eprintln!(
            "{what}: worst tensor-wise relative error {:.3e} ({}), worst entry {:.3e} ({})",
            self.tensor.0, self.tensor.1, self.entry.0, self.entry.1
        );
    }
}

/// Checks `got` against PyTorch's `want`: tensor-wise max-norm relative
/// error and entry-wise relative error (absolute below `FLOOR`), both
/// within `RTOL`. Panics naming `what` and the worst entry.
fn check(what: &str, got: &Matrix<f64>, want: &Mat, worst: &mut Worst) {
    assert_eq!(
        [got.rows(), got.cols()],
        want.shape,
        "{what}: shape differs from PyTorch's"
    );
    let scale = want.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut max_err = 0.0f64;
    let mut worst_entry = (0, 0.0f64);
    for (i, (&a, &b)) in got.as_slice().iter().zip(&want.data).enumerate() {
        assert!(a.is_finite(), "{what}[{i}]: got {a}, PyTorch {b}");
        let err = (a - b).abs();
        max_err = max_err.max(err);
        let rel = err / b.abs().max(FLOOR);
        if rel > worst_entry.1 {
            worst_entry = (i, rel);
        }
    }
    let tensor_rel = max_err / scale.max(FLOOR);
    let (i, entry_rel) = worst_entry;
    let (r, c) = (i / want.shape[1], i % want.shape[1]);
    assert!(
        tensor_rel <= RTOL && entry_rel <= RTOL,
        "{what}: tensor relative error {tensor_rel:.3e}, worst entry [{r}, {c}] \
         got {} vs PyTorch {} (relative {entry_rel:.3e}), tolerance {RTOL:e}",
        got.as_slice()[i],
        want.data[i],
    );
    Worst::note(&mut worst.tensor, tensor_rel, || what.to_string());
    Worst::note(&mut worst.entry, entry_rel, || format!("{what} [{r}, {c}]"));
}

/// Checks one scalar against PyTorch's.
fn check_scalar(what: &str, got: f64, want: f64, worst: &mut Worst) {
    let rel = (got - want).abs() / want.abs().max(FLOOR);
    assert!(
        rel <= RTOL,
        "{what}: got {got} vs PyTorch {want} (relative {rel:.3e}), tolerance {RTOL:e}"
    );
    Worst::note(&mut worst.tensor, rel, || what.to_string());
    Worst::note(&mut worst.entry, rel, || what.to_string());
}

/// Fails unless the fixture's paths and the model's are the same set.
fn assert_same_paths(what: &str, ours: &[String], fixture: &BTreeMap<String, Mat>) {
    let ours: BTreeSet<&str> = ours.iter().map(String::as_str).collect();
    let theirs: BTreeSet<&str> = fixture.keys().map(String::as_str).collect();
    let only_ours: Vec<_> = ours.difference(&theirs).collect();
    let only_theirs: Vec<_> = theirs.difference(&ours).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "{what}: paths only in our model {only_ours:?}, only in the fixture {only_theirs:?}"
    );
}

/// Overwrites every parameter (and buffer) of `mlp` by path.
fn load(
    what: &str,
    mlp: &mut Mlp<f64>,
    params: &BTreeMap<String, Mat>,
    buffers: &BTreeMap<String, Mat>,
) {
    let paths: Vec<String> = mlp.params().into_iter().map(|p| p.path).collect();
    assert_same_paths(&format!("{what}: parameters"), &paths, params);
    for p in mlp.params() {
        let want = &params[&p.path];
        assert_eq!(
            p.param.value.shape(),
            (want.shape[0], want.shape[1]),
            "{what}: shape of {}",
            p.path
        );
        p.param.value = want.to_matrix();
    }
    let paths: Vec<String> = mlp.buffers().into_iter().map(|(p, _)| p).collect();
    assert_same_paths(&format!("{what}: buffers"), &paths, buffers);
    for (path, buf) in mlp.buffers() {
        *buf = buffers[&path].to_matrix();
    }
}

/// Every parameter of `mlp` against `want`, by path.
fn check_params(what: &str, mlp: &mut Mlp<f64>, want: &BTreeMap<String, Mat>, worst: &mut Worst) {
    let params = mlp.params();
    let paths: Vec<String> = params.iter().map(|p| p.path.clone()).collect();
    assert_same_paths(what, &paths, want);
    for p in params {
        check(
            &format!("{what} {}", p.path),
            &p.param.value,
            &want[&p.path],
            worst,
        );
    }
}

#[test]
fn losses_and_gradients_match_pytorch() {
    let file: GradFile = serde_json::from_str(GRADS).unwrap();
    assert!(file.cases.len() >= 20, "fixture lost cases");
    let mut worst = Worst::default();
    for case in &file.cases {
        let name = &case.name;
        let mut mlp = case.model.build();
        load(name, &mut mlp, &case.params, &case.buffers);
        let mode = match case.mode.as_str() {
            "train" => Mode::Train,
            "eval" => Mode::Eval,
            other => panic!("{name}: unknown mode {other}"),
        };
        let x = case.input.to_matrix();
        let target = case.target.as_ref().map(Mat::to_matrix);
        let targets = match (&case.labels, &target) {
            (Some(labels), _) => Targets::Classes(labels),
            (None, Some(t)) => Targets::Values(t),
            (None, None) => panic!("{name}: no targets"),
        };
        mlp.zero_grad();
        let out = mlp.forward(&x, mode);
        let mut grad = Matrix::default();
        let loss = case.loss.compute(out, targets, &mut grad);
        mlp.backward(&x, &grad);

        check_scalar(
            &format!("{name}: loss"),
            loss,
            case.expected.loss,
            &mut worst,
        );
        let params = mlp.params();
        let paths: Vec<String> = params.iter().map(|p| p.path.clone()).collect();
        assert_same_paths(&format!("{name}: gradients"), &paths, &case.expected.grads);
        for p in params {
            check(
                &format!("{name}: d loss / d {}", p.path),
                &p.param.grad,
                &case.expected.grads[&p.path],
                &mut worst,
            );
        }
        let buffers = mlp.buffers();
        let paths: Vec<String> = buffers.iter().map(|(p, _)| p.clone()).collect();
        assert_same_paths(&format!("{name}: buffers"), &paths, &case.expected.buffers);
        for (path, buf) in buffers {
            check(
                &format!("{name}: {path} after the forward"),
                buf,
                &case.expected.buffers[&path],
                &mut worst,
            );
        }
    }
    worst.report(&format!(
        "{} gradient cases vs torch {}",
        file.cases.len(),
        file.torch
    ));
}

#[test]
fn fixture_covers_every_activation_norm_and_block() {
    let file: GradFile = serde_json::from_str(GRADS).unwrap();
    let acts: BTreeSet<String> = file
        .cases
        .iter()
        .map(|c| c.model.activation.to_string())
        .collect();
    assert_eq!(acts.len(), 12, "{acts:?}");
    let has = |f: &dyn Fn(&GradCase) -> bool| file.cases.iter().any(f);
    assert!(has(
        &|c| c.model.norm == Norm::Batch && c.model.norm_placement == NormPlacement::After
    ));
    assert!(has(&|c| c.model.norm == Norm::Layer));
    assert!(has(&|c| c.mode == "eval"));
    assert!(has(&|c| c.loss == Loss::Mse));
    assert!(has(&|c| c.params.keys().any(|p| p.contains("projection"))));
}

#[test]
fn optimizer_trajectories_match_pytorch() {
    let file: OptimFile = serde_json::from_str(OPTIM).unwrap();
    let x = file.input.to_matrix();
    let mut worst = Worst::default();
    for case in &file.cases {
        let name = &case.name;
        let mut mlp = file.model.build();
        load(name, &mut mlp, &file.params, &BTreeMap::new());
        let mut opt = case.optimizer.build::<f64>();
        let mut grad = Matrix::default();
        for (t, step) in case.steps.iter().enumerate() {
            let at = format!("{name}, step {}", t + 1);
            mlp.zero_grad();
            let out = mlp.forward(&x, Mode::Train);
            let loss = Loss::CrossEntropy.compute(out, Targets::Classes(&file.labels), &mut grad);
            check_scalar(&format!("{at}: loss"), loss, step.loss, &mut worst);
            mlp.backward(&x, &grad);
            match case.clip {
                Some(Clip::Norm(max)) => {
                    let norm = clip_grad_norm(&mut mlp.params(), max);
                    let want = step.grad_norm.expect("clip case records the norm");
                    check_scalar(&format!("{at}: pre-clip norm"), norm, want, &mut worst);
                }
                Some(Clip::Value(v)) => clip_grad_value(&mut mlp.params(), v),
                None => {}
            }
            opt.step(&mut mlp.params(), case.lr);
            check_params(&at, &mut mlp, &step.params, &mut worst);
        }
    }
    worst.report(&format!(
        "{} optimizer cases vs torch {}",
        file.cases.len(),
        file.torch
    ));
}

#[test]
fn schedules_match_pytorch_schedulers() {
    let file: OptimFile = serde_json::from_str(OPTIM).unwrap();
    let mut worst = Worst::default();
    for case in &file.schedules {
        for (t, &want) in case.lrs.iter().enumerate() {
            let got = case.schedule.lr_at(case.lr, t);
            check_scalar(
                &format!("{}: lr at step {t}", case.name),
                got,
                want,
                &mut worst,
            );
        }
    }
    worst.report(&format!("{} schedules", file.schedules.len()));
}
