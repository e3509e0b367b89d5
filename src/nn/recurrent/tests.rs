//! Every recurrent gradient against central finite differences in f64:
//! each cell, stacked, read out at the last step and at every step, the
//! initial state's gradient, and truncated BPTT against its definition
//! (each chunk's loss differentiated with its incoming state held fixed).

use super::*;
use crate::tensor::{Grads, Matrix};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const KINDS: [CellKind; 4] = [
    CellKind::Rnn,
    CellKind::RnnRelu,
    CellKind::Lstm,
    CellKind::Gru,
];

fn random(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Matrix<f64> {
    Matrix::from_vec(
        rows,
        cols,
        (0..rows * cols).map(|_| rng.gen_range(-1.0..1.0)).collect(),
    )
    .unwrap()
}

fn config(kind: CellKind, layers: usize, every_step: bool) -> RnnConfig {
    RnnConfig {
        kind,
        input: 3,
        hidden: 4,
        layers,
        outputs: 2,
        every_step,
        // Larger than PyTorch's default, so gates leave their linear range.
        init: RecurrentInit::Gaussian { radius: 1.5 },
        forget_bias: 1.0,
        truncation: None,
    }
}

/// `sum(out * r)` after a forward of `xs`.
fn loss(model: &mut RnnModel<f64>, xs: &[Matrix<f64>], r: &Matrix<f64>) -> f64 {
    let out = model.forward(xs);
    out.as_slice()
        .iter()
        .zip(r.as_slice())
        .map(|(a, b)| a * b)
        .sum()
}

/// The largest relative error of every parameter's gradient (and of
/// `dL/dh_0`, `dL/dc_0`, `dL/dx`) against central differences.
fn max_error(cfg: &RnnConfig, t_len: usize, with_state: bool) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let batch = 3;
    let xs: Vec<Matrix<f64>> = (0..t_len)
        .map(|_| random(batch, cfg.input, &mut rng))
        .collect();
    let rows = if cfg.every_step { t_len * batch } else { batch };
    let r = random(rows, cfg.outputs, &mut rng);
    let mut model: RnnModel<f64> = cfg.build(3);
    if with_state {
        model.layers[0].h0 = random(batch, cfg.hidden, &mut rng);
        if cfg.kind.has_cell_state() {
            model.layers[0].c0 = random(batch, cfg.hidden, &mut rng);
        }
    }
    loss(&mut model, &xs, &r);
    model.backward(&xs, &r, Grads::Overwrite);
    let analytic: Vec<Vec<f64>> = model
        .params()
        .iter()
        .map(|p| p.param.grad.as_slice().to_vec())
        .collect();
    let (dh0, dc0) = model.layers[0].initial_grads();
    let (dh0, dc0) = (dh0.as_slice().to_vec(), dc0.as_slice().to_vec());
    // Central differences: truncation error O(eps^2), rounding about
    // 1e-16 |L| / eps; relative errors measured against gradients of at
    // least 1e-3 (below that, absolute).
    let eps = 1e-5;
    let mut worst = 0.0f64;
    let mut compare = |a: f64, n: f64| {
        let err = (a - n).abs() / (a.abs() + n.abs()).max(1e-3);
        worst = worst.max(err);
    };
    for (pi, grads) in analytic.iter().enumerate() {
        for (i, &a) in grads.iter().enumerate() {
            let mut at = |delta: f64| {
                let mut params = model.params();
                let v = &mut params[pi].param.value.as_mut_slice()[i];
                *v += delta;
                drop(params);
                loss(&mut model, &xs, &r)
            };
            let plus = at(eps);
            let minus = at(-2.0 * eps);
            at(eps);
            compare(a, (plus - minus) / (2.0 * eps));
        }
    }
    if with_state {
        for (state, analytic) in [(0, &dh0), (1, &dc0)] {
            for (i, &a) in analytic.iter().enumerate() {
                let mut at = |delta: f64| {
                    let m = if state == 0 {
                        &mut model.layers[0].h0
                    } else {
                        &mut model.layers[0].c0
                    };
                    m.as_mut_slice()[i] += delta;
                    loss(&mut model, &xs, &r)
                };
                let plus = at(eps);
                let minus = at(-2.0 * eps);
                at(eps);
                compare(a, (plus - minus) / (2.0 * eps));
            }
        }
    }
    worst
}

#[test]
fn every_cell_matches_finite_differences_read_out_at_the_last_step() {
    for kind in KINDS {
        let err = max_error(&config(kind, 1, false), 5, true);
        assert!(err < 1e-6, "{kind:?}: {err:e}");
    }
}

#[test]
fn stacked_cells_read_out_at_every_step_match_finite_differences() {
    for kind in KINDS {
        let err = max_error(&config(kind, 2, true), 4, false);
        assert!(err < 1e-6, "{kind:?}: {err:e}");
    }
}

/// Truncated BPTT (chunks of 2 of 5 steps) is the sum over chunks of each
/// chunk's loss differentiated with its incoming state held fixed.
#[test]
fn truncated_bptt_is_the_sum_of_each_chunks_gradient_with_its_state_fixed() {
    for kind in KINDS {
        let mut cfg = config(kind, 1, true);
        let (t_len, batch, k) = (5, 2, 2);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let xs: Vec<Matrix<f64>> = (0..t_len)
            .map(|_| random(batch, cfg.input, &mut rng))
            .collect();
        let r = random(t_len * batch, cfg.outputs, &mut rng);
        cfg.truncation = Some(k);
        let mut model: RnnModel<f64> = cfg.build(5);
        loss(&mut model, &xs, &r);
        model.backward(&xs, &r, Grads::Overwrite);
        let analytic: Vec<f64> = model.layers[0].weight_hh.grad.as_slice().to_vec();
        // The states entering each chunk, from the full forward.
        let states: Vec<(Matrix<f64>, Matrix<f64>)> = (0..t_len)
            .step_by(k)
            .map(|start| {
                if start == 0 {
                    (Matrix::default(), Matrix::default())
                } else {
                    let l = &model.layers[0];
                    let c = if kind.has_cell_state() {
                        cell_state(l, start - 1)
                    } else {
                        Matrix::default()
                    };
                    (l.outputs()[start - 1].clone(), c)
                }
            })
            .collect();
        let chunk_loss = |model: &mut RnnModel<f64>| -> f64 {
            let mut total = 0.0;
            for (c, start) in (0..t_len).step_by(k).enumerate() {
                let end = (start + k).min(t_len);
                model.layers[0].h0 = states[c].0.clone();
                model.layers[0].c0 = states[c].1.clone();
                let out = model.forward(&xs[start..end]);
                let rr = &r.as_slice()[start * batch * cfg.outputs..end * batch * cfg.outputs];
                total += out
                    .as_slice()
                    .iter()
                    .zip(rr)
                    .map(|(a, b)| a * b)
                    .sum::<f64>();
            }
            total
        };
        let eps = 1e-6;
        for (i, &a) in analytic.iter().enumerate() {
            model.layers[0].weight_hh.value.as_mut_slice()[i] += eps;
            let plus = chunk_loss(&mut model);
            model.layers[0].weight_hh.value.as_mut_slice()[i] -= 2.0 * eps;
            let minus = chunk_loss(&mut model);
            model.layers[0].weight_hh.value.as_mut_slice()[i] += eps;
            let n = (plus - minus) / (2.0 * eps);
            assert!(
                (a - n).abs() <= 1e-6 * (a.abs() + n.abs()).max(1e-7),
                "{kind:?} entry {i}: {a} vs {n}"
            );
        }
        // And it is not the full gradient.
        let mut full_cfg = cfg.clone();
        full_cfg.truncation = None;
        let mut full: RnnModel<f64> = full_cfg.build(5);
        loss(&mut full, &xs, &r);
        full.backward(&xs, &r, Grads::Overwrite);
        assert_ne!(
            full.layers[0].weight_hh.grad.as_slice(),
            &analytic[..],
            "{kind:?}"
        );
    }
}

/// `c_t` of layer `l` after the last forward.
fn cell_state(l: &Recurrent<f64>, t: usize) -> Matrix<f64> {
    l.cell_states()[t].clone()
}

#[test]
fn inits_give_the_named_recurrent_weights() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut layer = Recurrent::<f64>::new(CellKind::Lstm, 3, 64, "layers.0");
    RecurrentInit::Identity { scale: 1.0 }.fill(&mut layer, 1.0, &mut rng);
    let w = &layer.weight_hh.value;
    assert_eq!(
        (w.get(5, 5), w.get(64 + 5, 5), w.get(5, 6)),
        (1.0, 1.0, 0.0)
    );
    // Forget gate bias: 1.0 in bias_ih's second slice, 0 in bias_hh's.
    assert_eq!(layer.bias_ih.value.get(0, 64), 1.0);
    assert_eq!(layer.bias_hh.value.get(0, 64), 0.0);
    RecurrentInit::Orthogonal { gain: 2.0 }.fill(&mut layer, 1.0, &mut rng);
    // Each gate's block: W^T W = 4 I.
    let w = &layer.weight_hh.value;
    let dot = |a: usize, b: usize| {
        (0..64)
            .map(|r| w.get(64 + r, a) * w.get(64 + r, b))
            .sum::<f64>()
    };
    assert!((dot(3, 3) - 4.0).abs() < 1e-9 && dot(3, 4).abs() < 1e-9);
    // Gaussian: the spectral radius about the one asked for (power
    // iteration on W^T W gives the largest singular value, which bounds
    // it from above; the circular law puts the radius near 0.9).
    let mut rnn = Recurrent::<f64>::new(CellKind::Rnn, 3, 200, "layers.0");
    RecurrentInit::Gaussian { radius: 0.9 }.fill(&mut rnn, 1.0, &mut rng);
    let w = &rnn.weight_hh.value;
    let frob = w.as_slice().iter().map(|v| v * v).sum::<f64>() / 200.0;
    assert!((frob.sqrt() - 0.9).abs() < 0.05, "{}", frob.sqrt());
    let parsed: Vec<RecurrentInit> = ["uniform", "gaussian(1.2)", "orthogonal", "identity(0.5)"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(parsed[3], RecurrentInit::Identity { scale: 0.5 });
    assert_eq!(parsed[1].to_string(), "gaussian(1.2)");
    assert!("gaussian".parse::<RecurrentInit>().is_err());
}

#[test]
fn gate_saturation_per_time_step_adds_up_to_the_layers_saturated_fraction() {
    use crate::probe::{Block, Tap};
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut layer = Recurrent::<f64>::new(CellKind::Lstm, 3, 8, "layers.0");
    RecurrentInit::Gaussian { radius: 4.0 }.fill(&mut layer, 1.0, &mut rng);
    // Large inputs: many gates pinned at 0 or 1.
    let xs: Vec<Matrix<f64>> = (0..6)
        .map(|_| random(5, 3, &mut rng).map(|v| 20.0 * v))
        .collect();
    layer.set_tap(Tap::Histograms);
    layer.forward(&xs);
    let f = layer.figures();
    let saturated: Vec<_> = f
        .series
        .iter()
        .filter(|s| s.tensor.ends_with(SATURATED_SUFFIX))
        .collect();
    let names: Vec<&str> = saturated.iter().map(|s| s.tensor.as_str()).collect();
    assert_eq!(
        names,
        [
            "input_gate_saturated",
            "forget_gate_saturated",
            "cell_gate_saturated",
            "output_gate_saturated"
        ]
    );
    let (hits, total) = saturated
        .iter()
        .flat_map(|s| s.stats.iter())
        .fold((0.0, 0u64), |(h, n), st| (h + st.sum, n + st.n));
    assert_eq!(total, 4 * 6 * 5 * 8);
    let overall = f.saturated.unwrap();
    assert!(overall > 0.05, "{overall}");
    assert!((hits / total as f64 - overall).abs() < 1e-12);
    // Each entry's mean is a fraction.
    let st = saturated[1].stats[5];
    assert!((0.0..=1.0).contains(&st.mean()) && st.sum == st.sum_sq);
    // Not on plain probed steps: they keep only dL/dh_t.
    layer.set_tap(Tap::Scalars);
    layer.forward(&xs);
    assert!(layer.figures().series.is_empty());
}

/// The f32 path (fast `exp` and `tanh`, vector width chosen at run time)
/// against f64 on the same weights and inputs: every output and gradient
/// within f32 rounding of the f64 values.
#[test]
fn f32_cells_agree_with_f64_to_f32_precision() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for kind in KINDS {
        let mut cfg = config(kind, 2, false);
        cfg.hidden = 37; // not a multiple of any vector width
        let xs: Vec<Matrix<f64>> = (0..9).map(|_| random(5, 3, &mut rng)).collect();
        let r = random(5, 2, &mut rng);
        let mut m64: RnnModel<f64> = cfg.build(2);
        let mut m32: RnnModel<f32> = cfg.build(2);
        for (a, b) in m32.params().iter_mut().zip(m64.params()) {
            a.param.value = b.param.value.cast();
        }
        let out64 = m64.forward(&xs).clone();
        m64.backward(&xs, &r, Grads::Overwrite);
        let xs32: Vec<Matrix<f32>> = xs.iter().map(|x| x.cast()).collect();
        let out32 = m32.forward(&xs32).cast::<f64>();
        m32.backward(&xs32, &r.cast(), Grads::Overwrite);
        let close = |what: &str, a: &[f64], b: &[f64]| {
            let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() <= 2e-5 * scale, "{kind:?} {what}: {x} vs {y}");
            }
        };
        close("output", out32.as_slice(), out64.as_slice());
        for (a, b) in m32.params().iter().zip(m64.params()) {
            let g32: Vec<f64> = a.param.grad.as_slice().iter().map(|&v| v as f64).collect();
            close(&b.path, &g32, b.param.grad.as_slice());
        }
    }
}

/// The cell's arithmetic compiled for the machine's widest vectors (what
/// training runs), for AVX2 and for baseline x86-64 gives the same bits.
#[test]
fn cell_passes_give_the_same_bits_on_every_vector_width() {
    use super::cell::{
        backward_avx2, backward_rows, forward_avx2, forward_rows, step_backward, step_forward,
        CellTap, StepGrad, StepGradOut, StepIn, StepOut,
    };
    // Dispatched (AVX-512 here where present), baseline, and AVX2 forced
    // where the machine has it.
    let passes = if std::arch::is_x86_feature_detected!("avx2") {
        3
    } else {
        crate::tensor::testing::skip("the AVX2 build: no AVX2 on this machine");
        2
    };
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let (rows, n) = (3, 21);
    let vec32 = |len: usize, rng: &mut ChaCha8Rng| -> Vec<f32> {
        (0..len).map(|_| rng.gen_range(-3.0f32..3.0)).collect()
    };
    for kind in KINDS {
        let w = kind.gates() * n;
        let (gx, gh, h_prev) = (
            vec32(rows * w, &mut rng),
            vec32(rows * w, &mut rng),
            vec32(rows * n, &mut rng),
        );
        let c_prev = vec32(rows * n, &mut rng);
        // (act, h, c, the tap's figures)
        type Forward = (Vec<f32>, Vec<f32>, Vec<f32>, String);
        let outs: Vec<Forward> = (0..passes)
            .map(|pass| {
                let (mut act, mut h, mut c) = (
                    vec![0.0; rows * w],
                    vec![0.0; rows * n],
                    vec![0.0; rows * n],
                );
                let mut tap = CellTap::default();
                let i = StepIn {
                    gx: &gx,
                    gh: &gh,
                    h_prev: &h_prev,
                    c_prev: &c_prev,
                };
                let o = StepOut {
                    act: &mut act,
                    h: &mut h,
                    c: &mut c,
                    tap: Some(&mut tap),
                };
                match pass {
                    0 => step_forward(kind, n, i, o),
                    1 => forward_rows(kind, n, i, o),
                    // SAFETY: pass 2 runs only where AVX2 was detected.
                    _ => unsafe { forward_avx2(kind, n, i, o) },
                }
                (act, h, c, format!("{tap:?}"))
            })
            .collect();
        for o in &outs[1..] {
            assert_eq!(&outs[0], o, "{kind:?} forward");
        }
        let (act, _, c, _) = &outs[0];
        let (dh, dc) = (vec32(rows * n, &mut rng), vec32(rows * n, &mut rng));
        let grads: Vec<Vec<Vec<f32>>> = (0..passes)
            .map(|pass| {
                let mut bufs = [rows * w, rows * w, rows * n, rows * n].map(|l| vec![0.0f32; l]);
                let [dgx, dgh, direct, dc_prev] = &mut bufs;
                let g = StepGrad {
                    dh: &dh,
                    dc: &dc,
                    act,
                    gh: &gh,
                    h_prev: &h_prev,
                    c_prev: &c_prev,
                    c,
                };
                let o = StepGradOut {
                    dgx,
                    dgh,
                    direct,
                    dc_prev,
                };
                match pass {
                    0 => step_backward(kind, n, g, o),
                    1 => backward_rows(kind, n, g, o),
                    // SAFETY: pass 2 runs only where AVX2 was detected.
                    _ => unsafe { backward_avx2(kind, n, g, o) },
                }
                bufs.to_vec()
            })
            .collect();
        for g in &grads[1..] {
            assert_eq!(&grads[0], g, "{kind:?} backward");
        }
        assert!(grads[0][0].iter().any(|v| *v != 0.0), "{kind:?}");
    }
}
