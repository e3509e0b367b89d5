//! What a run will take, known before anything is built or recorded: the
//! spec checked against its data (the batch fits, the model suits the
//! task), the steps it plans, and an estimate of the memory it needs.
//!
//! The estimate counts what the run must hold at once: every parameter
//! with its gradient and optimizer state, and one batch's activations
//! (each layer's output and the gradient flowing back through it) at
//! the larger of the training batch and the evaluation chunk. It is a
//! floor, not a ceiling (scratch buffers, the probes and the data come on
//! top), so a spec it refuses could never have run. [`Plan::fits`]
//! refuses a spec whose estimate exceeds a [`MemoryLimit`]: the memory
//! the machine has available, or a bound the user gives (`--max-memory`).
//! Without it, a depth of 100,000 took 9.5 GB before failing and a width
//! of 10,000,000 aborted the process.

use super::task::EVAL_CHUNK;
use super::{RunData, Spec};
use crate::data::sequence::{SeqPrepared, SeqTargets, SeqTask};
use crate::data::Prepared;
use crate::error::{Error, Result};
use crate::nn::recurrent::CellKind;
use crate::nn::{ModelConfig, ModelKind};
use crate::optim::OptimizerConfig;

/// A run's plan: its steps and the memory it needs at least.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Optimizer steps.
    pub total_steps: usize,
    /// Parameters (weights and biases).
    pub params: f64,
    /// Bytes the run needs at least (see the module's doc).
    pub memory: f64,
    /// Of those, the parameters with their gradients and optimizer state.
    pub param_memory: f64,
    /// Bytes of activations per row (example, sequence, image).
    pub row_memory: f64,
    /// Rows whose activations are held at once: the batch, or more for an
    /// evaluation chunk.
    pub rows: f64,
    /// Rows held at once with a batch of 1 (an MLP's evaluation chunk).
    pub min_rows: f64,
}

/// A bound on a run's memory, and where it comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryLimit {
    /// Bytes.
    pub bytes: f64,
    /// What set it, for the error: `available memory`, `--max-memory`.
    pub from: String,
}

impl MemoryLimit {
    /// The memory the machine has available now (`MemAvailable` of
    /// `/proc/meminfo`), or the process's control group's limit
    /// (`memory.max`, cgroup v2: a container's) where that is lower;
    /// `None` where neither can be read.
    pub fn available() -> Option<MemoryLimit> {
        let meminfo = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|info| {
                let kib: f64 = info
                    .lines()
                    .find_map(|l| l.strip_prefix("MemAvailable:"))?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()?;
                Some(MemoryLimit {
                    bytes: kib * 1024.0,
                    from: "the memory available".into(),
                })
            });
        let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
            .ok()
            .and_then(|max| max.trim().parse::<f64>().ok())
            .map(|bytes| MemoryLimit {
                bytes,
                from: "the control group's memory.max".into(),
            });
        match (meminfo, cgroup) {
            (Some(m), Some(c)) if c.bytes < m.bytes => Some(c),
            (m, c) => m.or(c),
        }
    }

    /// `bytes` given by the user (`--max-memory`), in place of
    /// [`MemoryLimit::available`].
    pub fn given(bytes: f64) -> MemoryLimit {
        MemoryLimit {
            bytes,
            from: "--max-memory".into(),
        }
    }
}

impl Plan {
    /// The plan, or the error that names what does not fit: `self` if its
    /// memory estimate is within `limit`.
    pub fn fits(self, limit: Option<&MemoryLimit>) -> Result<Plan> {
        let Some(limit) = limit else {
            return Ok(self);
        };
        if self.memory <= limit.bytes {
            return Ok(self);
        }
        // The model is what does not fit when the smallest batch would
        // not fit either.
        let floor = self.param_memory + self.row_memory * self.min_rows;
        let (field, fix) = if floor > limit.bytes {
            ("model", "make the net smaller")
        } else {
            ("batch", "lower the batch")
        };
        Err(Error::InvalidConfig {
            field: field.into(),
            reason: format!(
                "the run needs at least {} ({} for {} parameters with their gradients and \
                 optimizer state, {} for the activations of {} rows), more than {} ({}): {fix}",
                bytes(self.memory),
                bytes(self.param_memory),
                count(self.params),
                bytes(self.row_memory * self.rows),
                count(self.rows),
                limit.from,
                bytes(limit.bytes),
            ),
        })
    }
}

/// Checks `spec` against `data` and plans the run, building nothing.
pub fn plan(spec: &Spec, data: &RunData) -> Result<Plan> {
    match data {
        RunData::Rows(rows) => plan_rows(spec, rows),
        RunData::Sequences(seqs) => plan_sequences(spec, seqs),
    }
}

/// Steps the spec asks for on `n` training examples.
///
/// With `epochs`, every epoch is `floor(n / batch)` full batches.
/// (Saturating: the plan refuses a product past `usize`.)
pub fn total_steps(spec: &Spec, n: usize) -> usize {
    if spec.epochs > 0 {
        spec.epochs.saturating_mul((n / spec.batch.max(1)).max(1))
    } else {
        spec.steps
    }
}

/// Checks `spec` against `n` training `what` (examples, sequences): the
/// steps it plans, or the field that is wrong.
fn planned_steps(spec: &Spec, n: usize, what: &str) -> Result<usize> {
    spec.validate()?;
    if spec.batch > n {
        return Err(Error::InvalidConfig {
            field: "batch".into(),
            reason: format!("{} is larger than the {n} training {what}", spec.batch),
        });
    }
    match total_steps(spec, n) {
        usize::MAX => Err(Error::InvalidConfig {
            field: "epochs".into(),
            reason: format!(
                "{} epochs of {n} {what} are more steps than can be counted",
                spec.epochs
            ),
        }),
        steps => Ok(steps),
    }
}

/// [`plan`] for rows (an MLP or a CNN).
pub(super) fn plan_rows(spec: &Spec, data: &Prepared) -> Result<Plan> {
    let train = &data.train;
    let total_steps = planned_steps(spec, train.len(), "examples")?;
    if spec.model.kind.is_recurrent() {
        return Err(Error::InvalidConfig {
            field: "data.name".into(),
            reason: format!(
                "a {} net reads a sequence task ({}), not `{}`",
                spec.model.kind,
                SeqTask::NAMES,
                spec.data.name
            ),
        });
    }
    let config = spec.model_config(train.dim(), train.classes);
    config.validate()?;
    let (params, per_row, rows, min_rows) = if spec.model.kind == ModelKind::Cnn {
        // A CNN evaluates a batch at a time.
        let image = match train.image.filter(|_| config.conv.image.is_empty()) {
            Some(image) => [image.c, image.h, image.w],
            None => {
                let image = config.conv.image_for(train.dim())?;
                [image.c, image.h, image.w]
            }
        };
        let (params, per_image) = cnn_sizes(&config, image);
        (params, per_image, spec.batch as f64, 1.0)
    } else {
        // Evaluation runs forward only, on chunks of up to EVAL_CHUNK rows.
        let (params, per_row) = mlp_sizes(&config);
        let eval = EVAL_CHUNK.min(train.len()) as f64 / 2.0;
        (params, per_row, (spec.batch as f64).max(eval), eval)
    };
    let mut plan = sized(spec, total_steps, params, per_row, rows);
    plan.min_rows = min_rows;
    Ok(plan)
}

/// [`plan`] for sequences (a recurrent net).
pub(super) fn plan_sequences(spec: &Spec, data: &SeqPrepared) -> Result<Plan> {
    let train = &data.train;
    let total_steps = planned_steps(spec, train.len(), "sequences")?;
    let every_step = matches!(train.targets, SeqTargets::PerStep { .. });
    let config = spec
        .model
        .rnn_config(train.input_dim(), train.output_dim(), every_step)
        .ok_or_else(|| Error::InvalidConfig {
            field: "model.kind".into(),
            reason: format!(
                "`{}` is a sequence task: it needs a recurrent model (rnn, lstm, gru)",
                spec.data.name
            ),
        })?;
    let gates = match config.kind {
        CellKind::Rnn | CellKind::RnnRelu => 1.0,
        CellKind::Lstm => 4.0,
        CellKind::Gru => 3.0,
    };
    let (d, h, layers) = (
        config.input as f64,
        config.hidden as f64,
        config.layers as f64,
    );
    let inputs = d + (layers - 1.0) * h;
    // Each gate's input and recurrent weights and their two biases.
    let params = gates * h * (inputs + layers * (h + 2.0)) + (h + 1.0) * config.outputs as f64;
    // Every time step's gates, state and their gradients, kept for BPTT.
    let per_row = train.length as f64 * layers * h * (gates + 2.0) * 2.0;
    Ok(sized(spec, total_steps, params, per_row, spec.batch as f64))
}

/// `config`'s MLP: parameters, and activation values per row (each
/// layer's pre-activation, output and their gradients).
fn mlp_sizes(config: &ModelConfig) -> (f64, f64) {
    let mut dims = vec![config.input as f64];
    dims.extend(config.widths.iter().map(|&w| w as f64));
    dims.push(config.output as f64);
    let params: f64 = dims.windows(2).map(|w| (w[0] + 1.0) * w[1]).sum();
    let units: f64 = dims[1..].iter().sum();
    (params, units * 4.0)
}

/// `config`'s CNN on `image` (`[c, h, w]`): parameters, and activation
/// values per image (each conv layer's output and gradient, before and
/// after its normalization and activation).
fn cnn_sizes(config: &ModelConfig, image: [usize; 3]) -> (f64, f64) {
    let s = &config.conv;
    let (mut c_in, mut side) = (image[0] as f64, (image[1] * image[2]) as f64);
    // A conv layer's parameters and activation values per image.
    let conv =
        |c_in: f64, c_out: f64, pixels: f64| (9.0 * c_in * c_out + c_out, pixels * c_out * 4.0);
    let first = s.channels[0] as f64;
    let (mut params, mut values) = conv(c_in, first, side);
    c_in = first;
    // Each stage's first block widens from the last stage's channels;
    // its other `n - 1` blocks are alike (counted at once: `n` may be
    // absurd, and the plan is what refuses it).
    let n = s.n as f64;
    for (stage, &c) in s.channels.iter().enumerate() {
        let c = c as f64;
        if stage > 0 {
            side /= 4.0;
        }
        let (wide, same) = (conv(c_in, c, side), conv(c, c, side));
        params += wide.0 + same.0 + (n - 1.0) * 2.0 * same.0;
        values += wide.1 + same.1 + (n - 1.0) * 2.0 * same.1;
        c_in = c;
    }
    params += (c_in + 1.0) * config.output as f64;
    (params, values)
}

/// The plan of `params` parameters and `per_row` activation values for
/// each of `rows` rows, in the spec's dtype, with its optimizer's state.
fn sized(spec: &Spec, total_steps: usize, params: f64, per_row: f64, rows: f64) -> Plan {
    let bytes = match spec.dtype {
        super::Dtype::F32 => 4.0,
        super::Dtype::F64 => 8.0,
    };
    let state = match spec.optimizer_config() {
        OptimizerConfig::Sgd { momentum: 0.0, .. } => 0.0,
        OptimizerConfig::Sgd { .. } => 1.0,
        _ => 2.0,
    };
    // The value and its gradient, and the optimizer's state.
    let param_memory = params * (2.0 + state) * bytes;
    Plan {
        total_steps,
        params,
        memory: param_memory + per_row * rows * bytes,
        param_memory,
        row_memory: per_row * bytes,
        rows,
        min_rows: 1.0,
    }
}

/// `n` with thousands separated: `1,000,000`.
fn count(n: f64) -> String {
    let digits = format!("{n:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in the unit that reads best: `12.3 GB`.
fn bytes(b: f64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = b;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < units.len() {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml: &str) -> Spec {
        Spec::from_toml(toml, "test").unwrap()
    }

    fn limit(gb: f64) -> MemoryLimit {
        MemoryLimit {
            bytes: gb * 1e9,
            from: "a test bound".into(),
        }
    }

    /// Parameters of the model the trainer would build, counted.
    fn built_params(spec: &Spec, data: &RunData) -> usize {
        match data {
            RunData::Rows(rows) => {
                let mut config = spec.model_config(rows.train.dim(), rows.train.classes);
                if let Some(image) = rows.train.image {
                    config.conv.image = vec![image.c, image.h, image.w];
                }
                let mut mlp = config.build::<f32>(1).unwrap();
                mlp.params().iter().map(|p| p.param.value.len()).sum()
            }
            RunData::Sequences(seqs) => {
                let t = &seqs.train;
                let every = matches!(t.targets, SeqTargets::PerStep { .. });
                let config = spec.model.rnn_config(t.input_dim(), t.output_dim(), every);
                let mut model = config.unwrap().build::<f32>(1);
                model.num_params()
            }
        }
    }

    /// The plan counts the parameters the trainer builds: exactly for an
    /// MLP, within 2% for a CNN (normalization's scales and shifts) and a
    /// recurrent net.
    #[test]
    fn the_plan_counts_the_parameters_the_model_has() {
        let cases = [
            ("steps = 1\n[data]\nname = \"spirals\"\n", 0.0),
            (
                "steps = 1\n[model]\nkind = \"cnn\"\nchannels = [4, 8]\nn = 1\n\
                 [data]\nname = \"mnist\"\ntrain_size = 64\ntest_size = 64\n",
                0.02,
            ),
            (
                "steps = 1\nbatch = 8\n[model]\nkind = \"lstm\"\nhidden = 16\nlayers = 2\n\
                 [data]\nname = \"adding\"\ntrain_size = 64\ntest_size = 64\n",
                0.02,
            ),
        ];
        for (toml, tolerance) in cases {
            let spec = spec(toml);
            let data = spec.prepare_data().unwrap();
            let planned = plan(&spec, &data).unwrap().params;
            let built = built_params(&spec, &data) as f64;
            let error = (planned - built).abs() / built;
            assert!(
                error <= tolerance,
                "{toml}: planned {planned}, built {built}"
            );
        }
    }

    /// The sizes that used to exhaust memory (depth 100,000 reached 9.5
    /// GB; width 10,000,000 aborted) are refused before anything is built,
    /// naming the model and the estimate; the default spec fits in 1 GB.
    #[test]
    fn a_model_larger_than_the_memory_is_refused_before_it_is_built() {
        let data = |s: &Spec| s.prepare_data().unwrap();
        for (key, value) in [("depth", "100000"), ("width", "10000000")] {
            let s = spec(&format!(
                "steps = 1\n[model]\n{key} = {value}\n[data]\nname = \"xor\"\n"
            ));
            let err = plan(&s, &data(&s)).unwrap().fits(Some(&limit(16.0)));
            let message = err.unwrap_err().to_string();
            assert!(message.contains("`model`"), "{message}");
            assert!(message.contains("parameters"), "{message}");
            assert!(
                message.contains("more than a test bound (16.0 GB)"),
                "{message}"
            );
        }
        let s = spec("steps = 1\n[data]\nname = \"mnist\"\n");
        let planned = plan(&s, &data(&s)).unwrap();
        assert!(
            planned.memory > 0.5e6 && planned.memory < 1e9,
            "{planned:?}"
        );
        assert!(planned.fits(Some(&limit(1.0))).is_ok());
    }

    /// A batch whose activations are what does not fit is blamed on the
    /// batch; a batch larger than the data is refused by name.
    #[test]
    fn a_batch_too_large_is_named() {
        let s = spec("steps = 1\nbatch = 4000\n[model]\nwidth = 4000\n[data]\nname = \"mnist\"\n");
        let planned = plan(&s, &s.prepare_data().unwrap()).unwrap();
        let message = planned.fits(Some(&limit(0.5))).unwrap_err().to_string();
        assert!(message.contains("`batch`"), "{message}");
        assert!(message.contains("lower the batch"), "{message}");
        let s = spec("steps = 1\nbatch = 100000\n[data]\nname = \"xor\"\n");
        let message = plan(&s, &s.prepare_data().unwrap())
            .unwrap_err()
            .to_string();
        assert!(message.contains("larger than the"), "{message}");
    }

    #[test]
    fn sizes_print_in_the_unit_that_reads_best() {
        assert_eq!(bytes(999.0), "999 B");
        assert_eq!(bytes(12.34e9), "12.3 GB");
        assert_eq!(count(1234567.0), "1,234,567");
    }
}
