//! The block contract takes a block that is not an MLP layer: a tanh cell
//! unrolled over two time steps, which reports its hidden state and its
//! gradient per time step. It is gradient-checked, probed by the same
//! prober as the dense blocks, stored, and read back.
//!
//! ```text
//! x = [x1 | x2]            (batch x 2n: the two time steps' inputs)
//! h1 = tanh(x1 W^T + b)
//! h2 = tanh(x2 W^T + h1 U^T + b)          output: h2 (batch x n)
//! backward, g = dL/dh2:
//!   dz2 = g (1 - h2^2);  dh1 = dz2 U;  dz1 = dh1 (1 - h1^2)
//!   dW = dz2^T x2 + dz1^T x1;  dU = dz2^T h1;  db = sum dz2 + sum dz1
//!   dL/dx = [dz1 W | dz2 W]
//! ```

use gradscope::analysis::gradcheck::check_layer;
use gradscope::experiment::{Event, Sink, Spec};
use gradscope::nn::{
    join, Dense, Layer, Linear, Loss, Mode, NamedParam, NormPlacement, Sequential, Targets,
};
use gradscope::probe::{Axis, Block, Figures, ProbeConfig, Prober, Series, Tap};
use gradscope::store::Store;
use gradscope::tensor::{tensor_stats, Grads, Matrix, Param};

/// The two-step tanh cell.
struct TwoStepCell {
    n: usize,
    w: Param<f64>,
    u: Param<f64>,
    b: Param<f64>,
    h1: Matrix<f64>,
    h2: Matrix<f64>,
    input_grad: Matrix<f64>,
    tap: Tap,
    figures: Figures,
}

/// `a b^T` (rows of `a` against rows of `b`).
fn mul_t(a: &Matrix<f64>, b: &Matrix<f64>) -> Matrix<f64> {
    let v = (0..a.rows())
        .flat_map(|i| (0..b.rows()).map(move |j| (i, j)))
        .map(|(i, j)| a.row(i).iter().zip(b.row(j)).map(|(x, y)| x * y).sum())
        .collect();
    Matrix::from_vec(a.rows(), b.rows(), v).unwrap()
}

/// `a^T` as a new matrix.
fn t(a: &Matrix<f64>) -> Matrix<f64> {
    let v = (0..a.cols())
        .flat_map(|j| (0..a.rows()).map(move |i| a.get(i, j)))
        .collect();
    Matrix::from_vec(a.cols(), a.rows(), v).unwrap()
}

/// Columns `from..from + n` of `x`.
fn cols(x: &Matrix<f64>, from: usize, n: usize) -> Matrix<f64> {
    let v = (0..x.rows())
        .flat_map(|i| x.row(i)[from..from + n].to_vec())
        .collect();
    Matrix::from_vec(x.rows(), n, v).unwrap()
}

fn zip(a: &Matrix<f64>, b: &Matrix<f64>, f: impl Fn(f64, f64) -> f64) -> Matrix<f64> {
    let v = a
        .as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(x, y)| f(*x, *y))
        .collect();
    Matrix::from_vec(a.rows(), a.cols(), v).unwrap()
}

fn stats(m: &Matrix<f64>) -> Option<gradscope::probe::TensorStats> {
    Some(tensor_stats(m.as_slice()))
}

impl TwoStepCell {
    fn new(n: usize) -> Self {
        let wave = |rows: usize, f: f64| {
            let v = (0..rows * n).map(|i| (i as f64 * f).sin() * 0.8).collect();
            Param::new(Matrix::from_vec(rows, n, v).unwrap())
        };
        Self {
            n,
            w: wave(n, 0.61),
            u: wave(n, 1.37),
            b: wave(1, 0.29),
            h1: Matrix::default(),
            h2: Matrix::default(),
            input_grad: Matrix::default(),
            tap: Tap::Off,
            figures: Figures::default(),
        }
    }

    /// `tanh(x W^T + r + b)` with `r` the recurrent term.
    fn step(&self, x: &Matrix<f64>, r: Option<&Matrix<f64>>) -> Matrix<f64> {
        let mut z = mul_t(x, &self.w.value);
        if let Some(r) = r {
            z = zip(&z, r, |a, b| a + b);
        }
        let b = self.b.value.row(0);
        let v = (0..z.len())
            .map(|k| (z.as_slice()[k] + b[k % self.n]).tanh())
            .collect();
        Matrix::from_vec(z.rows(), z.cols(), v).unwrap()
    }
}

impl Layer<f64> for TwoStepCell {
    fn kind(&self) -> String {
        "two_step_tanh".into()
    }

    fn forward(&mut self, x: &Matrix<f64>, _mode: Mode) -> &Matrix<f64> {
        let (x1, x2) = (cols(x, 0, self.n), cols(x, self.n, self.n));
        self.h1 = self.step(&x1, None);
        let r = mul_t(&self.h1, &self.u.value);
        self.h2 = self.step(&x2, Some(&r));
        if self.tap.is_on() {
            self.figures = Figures {
                weight: stats(&self.w.value),
                out: stats(&self.h2),
                series: vec![Series {
                    tensor: "hidden".into(),
                    axis: Axis::TimeStep,
                    stats: vec![
                        tensor_stats(self.h1.as_slice()),
                        tensor_stats(self.h2.as_slice()),
                    ],
                }],
                ..Figures::default()
            };
        }
        &self.h2
    }

    fn output(&self) -> &Matrix<f64> {
        &self.h2
    }

    fn backward(&mut self, x: &Matrix<f64>, g: &Matrix<f64>, _need: bool, grads: Grads) {
        let (x1, x2) = (cols(x, 0, self.n), cols(x, self.n, self.n));
        // dz = dL/dh (1 - h^2)
        let dz2 = zip(g, &self.h2, |g, h| g * (1.0 - h * h));
        let dh1 = mul_t(&dz2, &t(&self.u.value));
        let dz1 = zip(&dh1, &self.h1, |g, h| g * (1.0 - h * h));
        let dw = zip(
            &mul_t(&t(&dz2), &t(&x2)),
            &mul_t(&t(&dz1), &t(&x1)),
            |a, b| a + b,
        );
        let du = mul_t(&t(&dz2), &t(&self.h1));
        let sum = |m: &Matrix<f64>, j: usize| (0..m.rows()).map(|i| m.get(i, j)).sum::<f64>();
        let db: Vec<f64> = (0..self.n).map(|j| sum(&dz2, j) + sum(&dz1, j)).collect();
        for (p, d) in [
            (&mut self.w, dw),
            (&mut self.u, du),
            (&mut self.b, Matrix::from_vec(1, self.n, db).unwrap()),
        ] {
            p.start_grad(grads);
            p.grad = zip(&p.grad, &d, |a, b| a + b);
        }
        let (dx1, dx2) = (
            mul_t(&dz1, &t(&self.w.value)),
            mul_t(&dz2, &t(&self.w.value)),
        );
        let v = (0..x.rows())
            .flat_map(|i| [dx1.row(i), dx2.row(i)].concat())
            .collect();
        self.input_grad = Matrix::from_vec(x.rows(), 2 * self.n, v).unwrap();
        if self.tap.is_on() {
            self.figures.weight_grad = stats(&self.w.grad);
            self.figures.out_grad = stats(g);
            self.figures.pre_grad = stats(&dz2);
            self.figures.series.push(Series {
                tensor: "hidden_grad".into(),
                axis: Axis::TimeStep,
                stats: vec![tensor_stats(dh1.as_slice()), tensor_stats(g.as_slice())],
            });
        }
    }

    fn input_grad(&self) -> &Matrix<f64> {
        &self.input_grad
    }

    fn collect_params<'a>(&'a mut self, prefix: &str, out: &mut Vec<NamedParam<'a, f64>>) {
        for (name, param) in [
            ("weight_ih", &mut self.w),
            ("weight_hh", &mut self.u),
            ("bias", &mut self.b),
        ] {
            out.push(NamedParam {
                path: join(prefix, name),
                param,
            });
        }
    }

    fn collect_blocks<'a>(&'a self, out: &mut Vec<&'a dyn Block<f64>>) {
        out.push(self);
    }

    fn collect_blocks_mut<'a>(&'a mut self, out: &mut Vec<&'a mut dyn Block<f64>>) {
        out.push(self);
    }
}

impl Block<f64> for TwoStepCell {
    fn path(&self) -> &str {
        "layers.0"
    }

    fn set_tap(&mut self, tap: Tap) {
        self.tap = tap;
    }

    fn tap(&self) -> Tap {
        self.tap
    }

    fn figures(&self) -> &Figures {
        &self.figures
    }

    fn add_series(&mut self, series: Series) {
        self.figures.series.push(series);
    }

    fn weight(&self) -> &Param<f64> {
        &self.w
    }
}

fn batch(rows: usize, n: usize) -> Matrix<f64> {
    let v = (0..rows * 2 * n).map(|i| (i as f64 * 0.43).cos()).collect();
    Matrix::from_vec(rows, 2 * n, v).unwrap()
}

#[test]
fn the_cell_backward_matches_finite_differences() {
    let mut cell = TwoStepCell::new(3);
    let report = check_layer(&mut cell, &batch(4, 3), Mode::Train, 5);
    assert!(
        report.max_rel_error() < 1e-6,
        "{:?}",
        report.worst().map(|w| &w.name)
    );
}

/// A cell and a dense output layer: the prober gives two layers, the
/// cell's with its per-time-step series, the output layer's as always.
fn probed_step() -> gradscope::probe::StepProbe {
    let n = 4;
    let mut out = Linear::<f64>::new(n, 3, true);
    out.weight.value = Matrix::filled(3, n, 0.3);
    let dense = Dense::new(out, None, NormPlacement::Before, None, ("layers", 1));
    let mut net = Sequential::new(vec![Box::new(TwoStepCell::new(n)), Box::new(dense)]);
    let mut prober = Prober::<f64>::new(ProbeConfig::default());
    let mut blocks = Vec::new();
    net.collect_blocks_mut(&mut blocks);
    prober.arm(0, blocks);
    let x = batch(5, n);
    let logits = net.forward(&x, Mode::Train).clone();
    let mut g = Matrix::default();
    Loss::CrossEntropy.compute(&logits, Targets::Classes(&[0, 1, 2, 0, 1]), &mut g);
    net.backward(&x, &g, false, Grads::Overwrite);
    let mut blocks = Vec::new();
    net.collect_blocks(&mut blocks);
    prober.observe(0, &blocks)
}

#[test]
fn a_recurrent_cell_is_probed_per_time_step() {
    let probe = probed_step();
    assert_eq!(probe.layers.len(), 2);
    let cell = &probe.layers[0];
    assert_eq!(cell.path, "layers.0");
    let names: Vec<_> = cell
        .series
        .iter()
        .map(|s| (s.tensor.as_str(), s.axis, s.stats.len()))
        .collect();
    assert_eq!(
        names,
        [
            ("hidden", Axis::TimeStep, 2),
            ("hidden_grad", Axis::TimeStep, 2)
        ]
    );
    // The gradient reaching h1 went through U and tanh': it differs from
    // the one arriving at h2, which is the output layer's dL/dx.
    let grads = &cell.series[1].stats;
    assert_ne!(grads[0].l2(), grads[1].l2());
    assert_eq!(grads[1], cell.out_grad);
    assert!(probe.layers[1].series.is_empty());
}

#[test]
fn the_cells_series_are_stored_and_read_back() {
    let probe = probed_step();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("runs.db")).unwrap();
    let spec = Spec::default();
    let mut writer = store.begin_run(&spec, 1).unwrap();
    writer.event(&Event::Started {
        spec: &spec,
        total_steps: 1,
        params: 0,
    });
    writer.event(&Event::Probe(&probe));
    let id = writer.close().unwrap();
    let back = store.load(id).unwrap();
    assert_eq!(back.probes.len(), 1);
    let (cell, stored) = (&probe.layers[0], &back.probes[0].layers[0]);
    assert_eq!(stored.path, "layers.0");
    assert_eq!(stored.series, cell.series);
    assert_eq!(stored.series[1].stats[0].l2(), cell.series[1].stats[0].l2());
}
