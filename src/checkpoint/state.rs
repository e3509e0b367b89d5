//! What a run's state is, and how it maps onto a checkpoint's tensors and
//! metadata. After `step` steps a run is:
//!
//! | what | where in the file |
//! | --- | --- |
//! | every parameter | tensor `<path>` (`layers.0.weight`, `layers.1.bias`) |
//! | BatchNorm running statistics | tensor `<path>` (`layers.1.running_mean`, `layers.1.running_var`) |
//! | the optimizer's slots | tensor `optimizer.<path>.<slot>` (`momentum_buffer`; `exp_avg`, `exp_avg_sq`) |
//! | the optimizer's update count (Adam) | metadata `optimizer.steps` |
//! | this epoch's order of the examples | tensor `data.order` (`I64`) |
//! | the position in it, epochs done | metadata `data.pos`, `data.epoch` |
//! | the shuffling and augmentation generators | metadata `data.rng_word`, `augment.rng_word` (ChaCha8 word positions) |
//! | the probe cadence's running level, spread, count, anomaly window | metadata `probe.level`, `probe.spread`, `probe.seen`, `probe.dense_until` |
//! | the spec (TOML), its dtype, steps done and planned | metadata `spec`, `dtype`, `step`, `total_steps` |
//! | training seconds so far, threads and SIMD level | metadata `train_seconds`, `compute.threads`, `compute.simd` |
//!
//! The learning-rate schedule is a function of the step, and the weights'
//! initial draw is replaced by the saved weights, so neither needs more.
//! Floats in the metadata are written in Rust's shortest form that reads
//! back to the same bits.

use super::format::{Checkpoint, Tensor};
use crate::data::BatchesState;
use crate::error::Result;
use crate::nn::NamedParam;
use crate::optim::{Optimizer, OptimizerState};
use crate::probe::CadenceState;
use crate::tensor::{Matrix, Scalar};
use std::collections::BTreeSet;

/// The `format` metadata of every checkpoint gradscope writes.
pub const FORMAT: &str = "gradscope-checkpoint-1";

/// Where a task is in its data: the batch stream and the augmentation
/// generator (when it augments).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataState {
    /// The batch stream.
    pub batches: BatchesState,
    /// The augmenter's generator position.
    pub augment: Option<u128>,
}

/// What a checkpoint says about its run, besides the tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct RunInfo {
    /// The resolved spec, as TOML.
    pub spec: String,
    /// `f32` or `f64`.
    pub dtype: String,
    /// Steps done.
    pub step: usize,
    /// Steps planned.
    pub total_steps: usize,
    /// Seconds spent in training steps so far.
    pub train_seconds: f64,
    /// The run's thread count.
    pub threads: usize,
    /// The run's SIMD level (`avx512`, `avx2`, `portable`).
    pub simd: String,
    /// Steps between checkpoints.
    pub checkpoint_every: usize,
}

impl RunInfo {
    /// Reads it from `c`'s metadata (an error names a missing or bad key).
    pub fn read(c: &Checkpoint) -> Result<Self> {
        let format = c.meta("format")?;
        if format != FORMAT {
            return Err(c.error(format!(
                "format `{format}`: this gradscope reads `{FORMAT}`"
            )));
        }
        Ok(Self {
            spec: c.meta("spec")?.to_string(),
            dtype: c.meta("dtype")?.to_string(),
            step: c.meta_parsed("step")?,
            total_steps: c.meta_parsed("total_steps")?,
            train_seconds: c.meta_parsed("train_seconds")?,
            threads: c.meta_parsed("compute.threads")?,
            simd: c.meta("compute.simd")?.to_string(),
            checkpoint_every: c.meta_parsed("checkpoint_every")?,
        })
    }
}

/// A run's whole state after `info.step` steps, as a checkpoint; its
/// buffers follow with [`add_buffers`] (they borrow the same net).
pub fn capture<T: Scalar>(
    info: &RunInfo,
    params: &[NamedParam<'_, T>],
    optimizer: &OptimizerState<T>,
    data: &DataState,
    cadence: CadenceState,
) -> Checkpoint {
    let mut c = Checkpoint::default();
    let mut meta = |k: &str, v: String| c.metadata.insert(k.to_string(), v);
    meta("format", FORMAT.into());
    meta("gradscope_version", env!("CARGO_PKG_VERSION").into());
    meta("spec", info.spec.clone());
    meta("dtype", info.dtype.clone());
    meta("step", info.step.to_string());
    meta("total_steps", info.total_steps.to_string());
    meta("train_seconds", info.train_seconds.to_string());
    meta("compute.threads", info.threads.to_string());
    meta("compute.simd", info.simd.clone());
    meta("checkpoint_every", info.checkpoint_every.to_string());
    meta("optimizer.steps", optimizer.steps.to_string());
    meta("data.pos", data.batches.pos.to_string());
    meta("data.epoch", data.batches.epoch.to_string());
    meta("data.rng_word", data.batches.rng_word.to_string());
    if let Some(word) = data.augment {
        meta("augment.rng_word", word.to_string());
    }
    meta("probe.level", cadence.level.to_string());
    meta("probe.spread", cadence.spread.to_string());
    meta("probe.seen", cadence.seen.to_string());
    meta("probe.dense_until", cadence.dense_until.to_string());
    for p in params {
        c.put(&p.path, &p.param.value);
    }
    for (slot, per_param) in &optimizer.slots {
        for (p, m) in params.iter().zip(per_param) {
            c.put(&format!("optimizer.{}.{slot}", p.path), m);
        }
    }
    let order = data.batches.order.iter().map(|&i| i as i64).collect();
    let n = data.batches.order.len();
    c.tensors
        .insert("data.order".into(), Tensor::i64(vec![n], order));
    c
}

/// Adds a net's buffers (BatchNorm's running statistics) to `c`.
pub fn add_buffers<T: Scalar>(c: &mut Checkpoint, buffers: &[(String, &mut Matrix<T>)]) {
    for (path, m) in buffers {
        c.put(path, m);
    }
}

/// Whether `name` is run state a weights-only load passes over: the
/// optimizer's, the data order's, or PyTorch's BatchNorm batch counter.
fn is_not_a_weight(name: &str) -> bool {
    name.starts_with("optimizer.")
        || name.starts_with("data.")
        || name.ends_with(".num_batches_tracked")
}

/// Each parameter's matrix, and each buffer's where there is one.
pub type Loaded<T> = (Vec<Matrix<T>>, Vec<Option<Matrix<T>>>);

/// The weights to load from `c`, checked before anything is loaded:
/// for each of `params` (path and shape) its matrix, and for each of
/// `buffers` its matrix or `None` where the file has none (with `exact`,
/// a resume, every buffer is required and every tensor must have the
/// run's dtype; otherwise `F32` and `F64` are both read). The error
/// lists every tensor that is missing, of the wrong shape or dtype, or
/// not in the model.
pub fn weights_to_load<T: Scalar>(
    c: &Checkpoint,
    params: &[(String, (usize, usize))],
    buffers: &[(String, (usize, usize))],
    exact: bool,
) -> Result<Loaded<T>> {
    let mut problems = Vec::new();
    let mut loaded = Vec::new();
    let targets = params
        .iter()
        .map(|(path, shape)| (path, *shape, true))
        .chain(buffers.iter().map(|(path, shape)| (path, *shape, exact)));
    for (path, (rows, cols), required) in targets {
        match c.tensors.get(path) {
            None if required => problems.push(format!(
                "`{path}`: missing (the model's is [{rows}, {cols}])"
            )),
            None => loaded.push(None),
            Some(t) => match t.to_matrix::<T>(rows, cols, exact) {
                Ok(m) => loaded.push(Some(m)),
                Err(reason) => problems.push(format!("`{path}`: {reason}")),
            },
        }
    }
    let known: BTreeSet<&str> = params
        .iter()
        .chain(buffers)
        .map(|(p, _)| p.as_str())
        .collect();
    for name in c.tensors.keys() {
        if !known.contains(name.as_str()) && !is_not_a_weight(name) {
            problems.push(format!("`{name}`: not in the model"));
        }
    }
    if !problems.is_empty() {
        return Err(c.error(format!(
            "{} tensor(s) do not fit the spec's model:\n  {}",
            problems.len(),
            problems.join("\n  ")
        )));
    }
    let buffers = loaded.split_off(params.len());
    Ok((loaded.into_iter().flatten().collect(), buffers))
}

/// Restores `optimizer`'s state for `params` from `c`: each of its slots
/// either for every parameter (shapes and dtype checked) or for none (no
/// update yet).
pub fn load_optimizer<T: Scalar>(
    c: &Checkpoint,
    params: &[NamedParam<'_, T>],
    optimizer: &mut dyn Optimizer<T>,
) -> Result<()> {
    let mut slots = Vec::new();
    for &slot in optimizer.slot_names() {
        let mut per_param = Vec::new();
        let mut missing = Vec::new();
        for p in params {
            let name = format!("optimizer.{}.{slot}", p.path);
            let (rows, cols) = p.param.value.shape();
            match c.tensors.get(&name) {
                None => missing.push(name),
                Some(t) => per_param.push(
                    t.to_matrix::<T>(rows, cols, true)
                        .map_err(|reason| c.error(format!("`{name}`: {reason}")))?,
                ),
            }
        }
        if !per_param.is_empty() && !missing.is_empty() {
            return Err(c.error(format!(
                "optimizer slot `{slot}` is saved for some parameters only: missing {}",
                missing.join(", ")
            )));
        }
        slots.push((slot, per_param));
    }
    let steps = c.meta_parsed("optimizer.steps")?;
    optimizer
        .set_state(OptimizerState { steps, slots })
        .map_err(|e| c.error(e.to_string()))
}

/// The data state saved in `c` (checked against the data by
/// [`Batches::restore`](crate::data::Batches::restore)).
pub fn load_data_state(c: &Checkpoint) -> Result<DataState> {
    let order = c
        .tensors
        .get("data.order")
        .ok_or_else(|| c.error("no `data.order` tensor".into()))?;
    let order = match &order.data {
        super::TensorData::I64(v) if order.shape.len() == 1 => v
            .iter()
            .map(|&i| usize::try_from(i))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| c.error("`data.order` holds a negative index".into()))?,
        _ => {
            return Err(c.error(format!(
                "`data.order` is {} {:?}, not a 1-D I64 tensor",
                order.dtype(),
                order.shape
            )))
        }
    };
    let augment = match c.metadata.contains_key("augment.rng_word") {
        true => Some(c.meta_parsed("augment.rng_word")?),
        false => None,
    };
    Ok(DataState {
        batches: BatchesState {
            order,
            pos: c.meta_parsed("data.pos")?,
            epoch: c.meta_parsed("data.epoch")?,
            rng_word: c.meta_parsed("data.rng_word")?,
        },
        augment,
    })
}

/// The probe cadence's state saved in `c`.
pub fn load_cadence(c: &Checkpoint) -> Result<CadenceState> {
    Ok(CadenceState {
        level: c.meta_parsed("probe.level")?,
        spread: c.meta_parsed("probe.spread")?,
        seen: c.meta_parsed("probe.seen")?,
        dense_until: c.meta_parsed("probe.dense_until")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Param;
    use crate::optim::Adam;

    fn named<'a>(params: &'a mut [Param<f32>]) -> Vec<NamedParam<'a, f32>> {
        params
            .iter_mut()
            .enumerate()
            .map(|(i, param)| NamedParam {
                path: format!("layers.{i}.weight"),
                param,
            })
            .collect()
    }

    fn params() -> Vec<Param<f32>> {
        vec![
            Param::new(Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0]])),
            Param::new(Matrix::from_rows(&[vec![5.0, 6.0, 7.0]])),
        ]
    }

    #[test]
    fn weights_that_do_not_fit_are_named_one_by_one_and_nothing_is_loaded() {
        let mut src = params();
        let mut c = Checkpoint::default();
        for p in named(&mut src) {
            c.tensors
                .insert(p.path.clone(), Tensor::from_matrix(&p.path, &p.param.value));
        }
        c.tensors.insert(
            "layers.1.weight".into(),
            Tensor::f32(vec![3, 1], vec![0.0; 3]),
        );
        c.tensors
            .insert("layers.7.bias".into(), Tensor::f32(vec![2], vec![0.0; 2]));
        let shapes = [
            ("layers.0.weight".to_string(), (2, 2)),
            ("layers.1.weight".to_string(), (1, 3)),
        ];
        let e = weights_to_load::<f32>(&c, &shapes, &[], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 tensor(s)"), "{e}");
        assert!(
            e.contains("`layers.1.weight`: shape [3, 1], the model's is [1, 3]"),
            "{e}"
        );
        assert!(e.contains("`layers.7.bias`: not in the model"), "{e}");
        // A buffer the file lacks is fine for weights alone, not for a resume.
        c.tensors.remove("layers.7.bias");
        c.tensors.insert(
            "layers.1.weight".into(),
            Tensor::f32(vec![1, 3], vec![9.0; 3]),
        );
        let running = [("layers.2.running_mean".to_string(), (1, 3))];
        let (p, b) = weights_to_load::<f64>(&c, &shapes, &running, false).unwrap();
        assert_eq!((p[1].as_slice(), b[0].is_none()), (&[9.0; 3][..], true));
        let e = weights_to_load::<f32>(&c, &shapes, &running, true).unwrap_err();
        assert!(
            e.to_string().contains("`layers.2.running_mean`: missing"),
            "{e}"
        );
        c.tensors.remove("layers.1.weight");
        let e = weights_to_load::<f32>(&c, &shapes, &[], false).unwrap_err();
        assert!(e.to_string().contains("`layers.1.weight`: missing"), "{e}");
    }

    #[test]
    fn adam_state_round_trips_through_a_checkpoint() {
        let mut ps = params();
        let mut adam = Adam::<f32>::new(0.9, 0.999, 1e-8, 0.0, false);
        for p in &mut ps {
            p.grad.fill(0.5);
        }
        adam.step(&mut named(&mut ps), 0.1);
        let state = adam.state();
        let info = RunInfo {
            spec: String::new(),
            dtype: "f32".into(),
            step: 1,
            total_steps: 2,
            train_seconds: 0.1,
            threads: 1,
            simd: "portable".into(),
            checkpoint_every: 1,
        };
        let data = DataState {
            batches: BatchesState {
                order: vec![1, 0],
                pos: 1,
                epoch: 0,
                rng_word: u128::MAX,
            },
            augment: Some(7),
        };
        let cadence = CadenceState {
            level: -1.0 / 3.0,
            spread: 1e-300,
            seen: 1,
            dense_until: 0,
        };
        let c = capture(&info, &named(&mut ps), &state, &data, cadence);
        let c = Checkpoint::from_bytes(&c.to_bytes().unwrap()).unwrap();
        assert_eq!(RunInfo::read(&c).unwrap(), info);
        assert_eq!(load_data_state(&c).unwrap(), data);
        assert_eq!(load_cadence(&c).unwrap(), cadence);
        let mut fresh = Adam::<f32>::new(0.9, 0.999, 1e-8, 0.0, false);
        load_optimizer(&c, &named(&mut ps), &mut fresh).unwrap();
        assert_eq!(fresh.state(), state);
        // A slot saved for one parameter only is refused.
        let mut partial = c.clone();
        partial.tensors.remove("optimizer.layers.1.weight.exp_avg");
        let e = load_optimizer(&partial, &named(&mut ps), &mut fresh).unwrap_err();
        assert!(e.to_string().contains("`exp_avg` is saved for some"), "{e}");
    }
}
