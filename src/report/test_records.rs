//! Hand-built recurrent records for the report's unit tests: every number
//! fixed, so a chart's lines, legends and fits can be checked exactly.

use crate::experiment::{RunRecord, Spec};
use crate::nn::recurrent::SATURATED_SUFFIX;
use crate::nn::ModelKind;
use crate::probe::{Axis, LayerProbe, Series, StepProbe, TensorStats};

/// Stats of 100 entries with L2 norm `l2`.
pub fn norm(l2: f64) -> TensorStats {
    TensorStats {
        n: 100,
        sum_sq: l2 * l2,
        max_abs: l2,
        ..TensorStats::default()
    }
}

/// Stats of a 0/1 indicator over 100 entries whose mean is `frac`.
pub fn fraction(frac: f64) -> TensorStats {
    let ones = (frac * 100.0).round();
    TensorStats {
        n: 100,
        sum: ones,
        sum_sq: ones,
        max_abs: 1.0,
        ..TensorStats::default()
    }
}

/// The saturated fraction of gate `g` at time step `t` of probe `step`:
/// `0.1 (g + 1) + 0.01 t + 0.1 step / 4`.
pub fn saturated(g: usize, t: usize, step: usize) -> f64 {
    0.1 * (g + 1) as f64 + 0.01 * t as f64 + 0.1 * (step / 4) as f64
}

/// A `kind` (`rnn`, `lstm`, `gru`) run on the adding problem, one
/// recurrent layer probed at steps `0..=last`, `t_len` time steps. At step
/// `s`, `||dL/dh_t|| = (0.5 + 0.05 s)^(T-1-t)`: the factor per step back is
/// `0.5 + 0.05 s`. Every fourth step is a histogram step with each gate's
/// saturated fraction per time step ([`saturated`]).
pub fn recurrent(kind: &str, t_len: usize, last: usize) -> RunRecord {
    let kind: ModelKind = kind.parse().expect("a model kind");
    let mut spec = Spec {
        name: format!("adding-{kind}"),
        ..Spec::default()
    };
    spec.model.kind = kind;
    spec.data.name = "adding".into();
    let gates = kind.cell().map_or(&[][..], |c| c.gate_names());
    let mut r = RunRecord::new(spec);
    for step in 0..=last {
        let factor = 0.5 + 0.05 * step as f64;
        let mut series = vec![Series {
            tensor: "hidden_grad".into(),
            axis: Axis::TimeStep,
            stats: (0..t_len)
                .map(|t| norm(factor.powi((t_len - 1 - t) as i32)))
                .collect(),
        }];
        if step % 4 == 0 {
            for (g, name) in gates.iter().enumerate() {
                series.push(Series {
                    tensor: format!("{name}{SATURATED_SUFFIX}"),
                    axis: Axis::TimeStep,
                    stats: (0..t_len)
                        .map(|t| fraction(saturated(g, t, step)))
                        .collect(),
                });
            }
        }
        r.probes.push(StepProbe {
            step,
            layers: vec![layer(series)],
            histograms: Vec::new(),
        });
    }
    r
}

/// `r` with its data set named `data`.
pub fn with_data(mut r: RunRecord, data: &str) -> RunRecord {
    r.spec.data.name = data.into();
    r
}

/// A layer whose tensors all have norm 1 or 0.1, carrying `series`.
pub fn layer(series: Vec<Series>) -> LayerProbe {
    LayerProbe {
        layer: 0,
        path: "recurrent.0".into(),
        weight: norm(1.0),
        weight_grad: norm(0.1),
        bias_grad: None,
        pre_grad: norm(0.1),
        out_grad: norm(0.1),
        pre: norm(1.0),
        pre_pct: [f64::NAN; 3],
        out: norm(1.0),
        saturated: f64::NAN,
        dead: f64::NAN,
        update_ratio: f64::NAN,
        series,
    }
}
