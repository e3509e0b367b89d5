//! Probes: per-layer statistics at every recorded step, measured by the
//! blocks' taps while forward and backward write them (no second pass;
//! the contract is [`Block`]). For each layer:
//! weight and bias gradients, the backpropagated deltas at the
//! pre-activation and the output, activation statistics and percentiles,
//! saturated and dead fractions, grad:data and update:data ratios, NaN/Inf
//! exact-zero and subnormal counts (norms added up in f64), and on
//! histogram steps fixed-bin histograms of log10|v|. The [`Cadence`] says
//! which steps are probed: every step early and after an anomaly, sparser
//! as a run grows.

mod block;
mod cadence;
mod histogram;
mod prober;
mod record;

pub use crate::tensor::{percentiles, tensor_stats, TensorStats};
pub use block::{measure, Block, Figures, Tap, PERCENTILE_SAMPLE, SATURATION_FRACTION};
pub use cadence::{Cadence, CadenceState, ProbeConfig, ANOMALY_DECADES};
pub use histogram::{Histogram, BINS, BIN_WIDTH, LOG10_MAX, LOG10_MIN};
pub use prober::{Prober, UPDATE_SAMPLE};
pub use record::{pick_steps, Axis, HistTensor, HistogramRecord, LayerProbe, Series, StepProbe};
