//! A small run with fixed numbers, written through the store's own
//! writer: the same bytes on every machine, unlike a trained run (whose
//! last bits depend on the SIMD level), so exports of it can be compared
//! with fixtures. It holds the awkward cases: a layer without bias, NaN
//! (not measured), an infinite figure, a value below f32's range, and
//! histograms with zeros and a non-finite entry.

use gradscope::experiment::trainer::{EvalRecord, Event, Sink, StepRecord, Summary};
use gradscope::experiment::Spec;
use gradscope::probe::{
    HistTensor, Histogram, HistogramRecord, LayerProbe, StepProbe, TensorStats,
};
use gradscope::store::Store;
use std::path::{Path, PathBuf};

/// Steps of the run.
pub const STEPS: usize = 4;
/// Layers of each probe.
pub const LAYERS: usize = 2;

fn stats(s: f64) -> TensorStats {
    TensorStats {
        n: 96,
        sum: 0.1 * s - 0.37,
        sum_sq: s / 3.0,
        max_abs: 0.7 + s,
        nan: 0,
        inf: 0,
        zeros: 3,
        subnormal: 1,
    }
}

fn probe(step: usize) -> StepProbe {
    let layers = (0..LAYERS)
        .map(|i| {
            let s = (step * 31 + i) as f64 + 0.5;
            LayerProbe {
                layer: i,
                path: format!("layers.{}", 2 * i),
                weight: stats(s),
                weight_grad: TensorStats {
                    sum_sq: if step == 2 && i == 1 {
                        f64::INFINITY
                    } else {
                        1e-3 * s
                    },
                    ..stats(s + 1.0)
                },
                bias_grad: (i == 0).then(|| stats(s + 2.0)),
                pre_grad: TensorStats {
                    sum: 1e-300,
                    ..stats(s + 3.0)
                },
                out_grad: stats(s + 4.0),
                pre: stats(s + 5.0),
                pre_pct: [-1.25 * s, if step == 1 { f64::NAN } else { 0.5 }, 2.0],
                out: stats(s + 6.0),
                saturated: if i + 1 == LAYERS { f64::NAN } else { 0.125 },
                dead: if i == 0 { 0.25 } else { f64::NAN },
                update_ratio: 1e-3 / s,
                series: Vec::new(),
            }
        })
        .collect();
    let histograms = if step == 0 || step == 3 {
        let h = Histogram::of(&[0.5f64, -0.02, 0.0, 3e-7, -1.5, f64::NAN, 2e4, 0.7]);
        vec![
            HistogramRecord {
                layer: 0,
                tensor: HistTensor::WeightGrad,
                hist: h.clone(),
            },
            HistogramRecord {
                layer: 1,
                tensor: HistTensor::PreGrad,
                hist: h,
            },
        ]
    } else {
        Vec::new()
    };
    StepProbe {
        step,
        layers,
        histograms,
    }
}

/// A store in `dir` holding the run; its file and the run's id.
pub fn store(dir: &Path) -> (PathBuf, i64) {
    let db = dir.join("synthetic.db");
    let store = Store::open(&db).unwrap();
    let spec = Spec {
        name: "synthetic".into(),
        seed: 7,
        ..Spec::default()
    };
    let mut w = store.begin_run(&spec, STEPS).unwrap();
    w.event(&Event::Started {
        spec: &spec,
        total_steps: STEPS,
        params: 10,
    });
    for step in 0..STEPS {
        let s = StepRecord {
            step,
            loss: std::f64::consts::LN_10 / (1.0 + step as f64),
            accuracy: 0.25 * step as f64,
            lr: 0.1,
            grad_norm: if step == 3 { f64::INFINITY } else { 0.3 },
        };
        w.event(&Event::Step(&s));
        w.event(&Event::Probe(&probe(step)));
        if step % 2 == 1 {
            w.event(&Event::Eval(&EvalRecord {
                step: step + 1,
                train_loss: 0.5 / step as f64,
                train_accuracy: 0.9,
                test_loss: 0.6 / step as f64,
                test_accuracy: f64::NAN,
            }));
        }
    }
    w.event(&Event::Finished(&Summary {
        steps: STEPS,
        train_loss: 0.25,
        train_accuracy: 0.9,
        test_loss: 0.3,
        test_accuracy: 0.85,
        grad_norms: vec![0.1, 0.2],
        layers: vec!["layers.0".into(), "layers.2".into()],
        train_seconds: 1.0,
        sample: None,
    }));
    let id = w.close().unwrap();
    (db, id)
}
