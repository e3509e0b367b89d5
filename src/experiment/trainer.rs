//! The trainer: runs a [`Spec`] and reports through a [`Sink`].
//!
//! One step: gather a batch, forward, loss, backward (parameter gradients
//! written over the last step's: no zeroing pass), clip (optional),
//! optimizer update at the scheduled rate. Evaluation runs
//! in eval mode (BatchNorm running statistics) on the whole training and
//! held-out sets. A non-finite loss ends the run with
//! [`Error::NonFinite`]; what was reported before stays with the sink.
//!
//! With [`train_with`] a run takes checkpoints (every `every` steps, at
//! the end, and at a graceful stop) and starts fresh, from a checkpoint
//! (a resume: the run goes on as if never interrupted) or from given
//! weights ([`Checkpointing`], docs/CHECKPOINTS.md).

pub use super::events::{EvalRecord, Event, NullSink, RunStatus, Sink, StepRecord, Summary};
use super::plan::{plan_rows, plan_sequences};
use super::rnn_task::RnnTask;
pub use super::task::{accuracy, evaluate, MlpTask, Task};
use super::RunData;
use super::{Dtype, Spec};
use crate::checkpoint::state::{
    add_buffers, capture, load_cadence, load_data_state, load_optimizer, weights_to_load,
};
use crate::checkpoint::{
    check_resumable, Checkpoint, CheckpointSaver, Checkpointing, RunInfo, Start,
};
use crate::data::sequence::{SeqPrepared, SeqTargets};
use crate::data::Prepared;
use crate::error::{Error, Result};
use crate::nn::Mlp;
use crate::optim::{clip_grad_norm, clip_grad_value, global_grad_norm, Optimizer};
use crate::probe::{Prober, Tap};
use crate::tensor::Scalar;
use std::time::Instant;

pub use super::plan::total_steps;

/// Runs `spec` on `data` in the spec's dtype.
pub fn train(spec: &Spec, data: &RunData, sink: &mut dyn Sink) -> Result<Summary> {
    train_with(spec, data, sink, Checkpointing::default())
}

/// [`train`], taking checkpoints and starting as `checkpoints` says.
pub fn train_with(
    spec: &Spec,
    data: &RunData,
    sink: &mut dyn Sink,
    checkpoints: Checkpointing<'_>,
) -> Result<Summary> {
    match spec.dtype {
        Dtype::F32 => train_typed::<f32>(spec, data, sink, checkpoints),
        Dtype::F64 => train_typed::<f64>(spec, data, sink, checkpoints),
    }
}

fn train_typed<T: Scalar>(
    spec: &Spec,
    data: &RunData,
    sink: &mut dyn Sink,
    checkpoints: Checkpointing<'_>,
) -> Result<Summary> {
    let run = |task: &mut dyn Task<T>, total| run_task_with(spec, task, total, sink, checkpoints);
    let result = with_task::<T, _>(spec, data, run);
    if let Err(error) = &result {
        let status = match error {
            Error::NonFinite { .. } => RunStatus::Diverged,
            Error::Stopped { .. } => RunStatus::Interrupted,
            _ => RunStatus::Failed,
        };
        sink.event(&Event::Failed { status, error });
    }
    result
}

/// Builds the task of `spec` on `data` and loads `start` into it as a
/// run would, without training: what a run would refuse to start from
/// (weights that do not fit the model, a checkpoint of another spec or
/// data) is refused here, before anything is recorded.
pub fn check_start(spec: &Spec, data: &RunData, start: Start<'_>) -> Result<()> {
    fn typed<T: Scalar>(spec: &Spec, data: &RunData, start: Start<'_>) -> Result<()> {
        with_task::<T, _>(spec, data, |task, total| {
            let mut optimizer = spec.optimizer_config().build::<T>();
            let mut prober = Prober::<T>::new(spec.probe).with_total(total);
            match start {
                Start::Fresh => Ok(()),
                Start::Weights(c) => load_weights_into(task, c, false),
                Start::Resume(c) => {
                    resume_into(spec, task, optimizer.as_mut(), &mut prober, total, c).map(drop)
                }
            }
        })
    }
    match spec.dtype {
        Dtype::F32 => typed::<f32>(spec, data, start),
        Dtype::F64 => typed::<f64>(spec, data, start),
    }
}

/// Builds the task of `spec` on `data` (rows or sequences) and hands it,
/// with the steps planned, to `f`.
fn with_task<T: Scalar, R>(
    spec: &Spec,
    data: &RunData,
    f: impl FnOnce(&mut dyn Task<T>, usize) -> Result<R>,
) -> Result<R> {
    match data {
        RunData::Rows(rows) => rows_task::<T, R>(spec, rows, f),
        RunData::Sequences(seqs) => sequences_task::<T, R>(spec, seqs, f),
    }
}

fn rows_task<T: Scalar, R>(
    spec: &Spec,
    data: &Prepared,
    f: impl FnOnce(&mut dyn Task<T>, usize) -> Result<R>,
) -> Result<R> {
    let (train, test) = (&data.train, &data.test);
    let total = plan_rows(spec, data)?.total_steps;
    let cnn = spec.model.kind == crate::nn::ModelKind::Cnn;
    let mut config = spec.model_config(train.dim(), train.classes);
    if let Some(image) = train.image.filter(|_| cnn && config.conv.image.is_empty()) {
        // A CNN's input shape comes with the data (3 x 32 x 32 for CIFAR-10).
        config.conv.image = vec![image.c, image.h, image.w];
    }
    let mlp: Mlp<T> = config.build(spec.seed)?;
    let augment = spec.data.augment.build(train.image, spec.seed)?;
    let mut task = MlpTask::new(mlp, spec.loss, (train, test), spec.batch, spec.seed)
        .with_augment(augment)
        .with_eval_train_size(spec.eval_train_size);
    if cnn {
        task = task.with_eval_chunk(spec.batch);
    }
    f(&mut task, total)
}

fn sequences_task<T: Scalar, R>(
    spec: &Spec,
    data: &SeqPrepared,
    f: impl FnOnce(&mut dyn Task<T>, usize) -> Result<R>,
) -> Result<R> {
    let (train, test) = (&data.train, &data.test);
    let total = plan_sequences(spec, data)?.total_steps;
    let every_step = matches!(train.targets, SeqTargets::PerStep { .. });
    let config = spec
        .model
        .rnn_config(train.input_dim(), train.output_dim(), every_step)
        .expect("the plan checked the model is recurrent");
    let mut task = RnnTask::new(
        config.build::<T>(spec.seed),
        (train, test),
        spec.batch,
        spec.seed,
    )
    .with_symbols(data.symbols.as_deref());
    f(&mut task, total)
}

/// The step loop, for any [`Task`]: `total` steps, evaluating every
/// `spec.eval_every` steps and at the end.
pub fn run_task<T: Scalar>(
    spec: &Spec,
    task: &mut dyn Task<T>,
    total: usize,
    sink: &mut dyn Sink,
) -> Result<Summary> {
    run_task_with(spec, task, total, sink, Checkpointing::default())
}

/// [`run_task`], taking checkpoints and starting as `checkpoints` says.
pub fn run_task_with<T: Scalar>(
    spec: &Spec,
    task: &mut dyn Task<T>,
    total: usize,
    sink: &mut dyn Sink,
    mut checkpoints: Checkpointing<'_>,
) -> Result<Summary> {
    let mut optimizer = spec.optimizer_config().build::<T>();
    let mut prober = Prober::<T>::new(spec.probe).with_total(total);
    let (mut start, mut train_seconds) = (0, 0.0);
    match checkpoints.start {
        Start::Fresh => {}
        Start::Weights(c) => load_weights_into(task, c, false)?,
        Start::Resume(c) => {
            let info = resume_into(spec, task, optimizer.as_mut(), &mut prober, total, c)?;
            (start, train_seconds) = (info.step, info.train_seconds);
        }
    }
    let params = task.num_params();
    sink.event(&Event::Started {
        spec,
        total_steps: total,
        params,
    });
    if start > 0 && start < total && spec.eval_every > 0 && start % spec.eval_every == 0 {
        // The evaluation the interrupted run sent just before its checkpoint.
        let record = task.evaluate(start);
        sink.event(&Event::Eval(&record));
    }
    let mut grad_norms = Vec::new();
    for step in start..total {
        let t0 = Instant::now();
        task.next_batch();
        prober.arm(step, task.blocks_mut());
        let (loss, accuracy) = task.forward_backward();
        let tapped = prober.tap_at(step).is_on();
        if !loss.is_finite() && !tapped {
            // Measure the failing step: the same forward and backward again,
            // tapped (a tap changes no value; the run ends here, so the
            // second update of BatchNorm's running statistics is never used).
            task.set_tap(Tap::Scalars);
            task.forward_backward();
        }
        let probing = tapped || !loss.is_finite();
        let mut probe = probing.then(|| prober.observe(step, &task.blocks()));
        let lr = spec.schedule.lr_at(spec.optimizer.lr, step);
        let mut record = StepRecord {
            step,
            loss,
            accuracy,
            lr,
            grad_norm: f64::NAN,
        };
        if !loss.is_finite() {
            // Record the step and where the non-finite values are, then stop.
            sink.event(&Event::Step(&record));
            if let Some(p) = &probe {
                sink.event(&Event::Probe(p));
            }
            return Err(Error::NonFinite { what: "loss", step });
        }
        if step + 1 == total {
            // Before clipping, as the probes' gradients.
            grad_norms = task.weight_grad_norms();
        }
        let grad_norm = {
            let mut ps = task.params();
            let norm = match spec.optimizer.clip_norm {
                Some(max) => clip_grad_norm(&mut ps, max),
                None => global_grad_norm(&ps),
            };
            if let Some(v) = spec.optimizer.clip_value {
                clip_grad_value(&mut ps, v);
            }
            norm
        };
        record.grad_norm = grad_norm;
        prober.note(step, grad_norm);
        if !grad_norm.is_finite() {
            if probe.is_none() {
                // Measure the failing step as for a non-finite loss: the
                // same forward and backward again, tapped (the gradients
                // are written over, clipped or not).
                task.set_tap(Tap::Scalars);
                task.forward_backward();
                probe = Some(prober.observe(step, &task.blocks()));
            }
            // The step ran: its row, then where the non-finite values are.
            sink.event(&Event::Step(&record));
            if let Some(p) = &probe {
                sink.event(&Event::Probe(p));
            }
            return Err(Error::NonFinite {
                what: "gradient",
                step,
            });
        }
        optimizer.step(&mut task.params(), lr);
        if let Some(p) = &mut probe {
            prober.finish(&task.blocks(), p);
        }
        train_seconds += t0.elapsed().as_secs_f64();
        sink.event(&Event::Step(&record));
        if let Some(p) = &probe {
            sink.event(&Event::Probe(p));
        }
        let done = step + 1;
        if spec.eval_every > 0 && done % spec.eval_every == 0 && done < total {
            let record = task.evaluate(done);
            sink.event(&Event::Eval(&record));
        }
        let stopping = done < total && sink.stop_requested();
        let every = checkpoints.every;
        if let Some(saver) = checkpoints.saver.as_deref_mut() {
            if every > 0 && (done % every == 0 || stopping || done == total) {
                let info = RunInfo {
                    spec: spec.to_toml(),
                    dtype: T::NAME.into(),
                    step: done,
                    total_steps: total,
                    train_seconds,
                    threads: rayon::current_num_threads(),
                    simd: crate::tensor::simd().to_string(),
                    checkpoint_every: every,
                };
                save(&info, task, optimizer.as_ref(), &prober, saver)?;
            }
        }
        if stopping {
            return Err(Error::Stopped { steps: done, total });
        }
    }
    let last = task.evaluate(total);
    sink.event(&Event::Eval(&last));
    let summary = Summary {
        steps: total,
        train_loss: last.train_loss,
        train_accuracy: last.train_accuracy,
        test_loss: last.test_loss,
        test_accuracy: last.test_accuracy,
        grad_norms,
        layers: task.layer_paths(),
        train_seconds,
        sample: (spec.sample > 0)
            .then(|| task.sample(spec.sample, spec.seed))
            .flatten(),
    };
    sink.event(&Event::Finished(&summary));
    Ok(summary)
}

/// Takes the run's checkpoint after `info.step` steps and hands it to
/// `saver`.
fn save<T: Scalar>(
    info: &RunInfo,
    task: &mut dyn Task<T>,
    optimizer: &dyn Optimizer<T>,
    prober: &Prober<T>,
    saver: &mut dyn CheckpointSaver,
) -> Result<()> {
    let data = task.data_state();
    let state = optimizer.state();
    let cadence = prober.cadence().state();
    let mut c = capture(info, &task.params(), &state, &data, cadence);
    add_buffers(&mut c, &task.buffers());
    saver.save(&mut c)
}

/// Loads `c`'s weights into `task` (see
/// [`weights_to_load`](crate::checkpoint::state::weights_to_load)): all or
/// nothing.
fn load_weights_into<T: Scalar>(task: &mut dyn Task<T>, c: &Checkpoint, exact: bool) -> Result<()> {
    let params: Vec<_> = task
        .params()
        .iter()
        .map(|p| (p.path.clone(), p.param.value.shape()))
        .collect();
    let buffers: Vec<_> = task
        .buffers()
        .iter()
        .map(|(path, m)| (path.clone(), m.shape()))
        .collect();
    let (p_values, b_values) = weights_to_load::<T>(c, &params, &buffers, exact)?;
    for (p, m) in task.params().iter_mut().zip(p_values) {
        p.param.value = m;
    }
    for ((_, b), m) in task.buffers().iter_mut().zip(b_values) {
        if let Some(m) = m {
            **b = m;
        }
    }
    Ok(())
}

/// Restores the whole state of checkpoint `c` (of this spec) into the
/// task, the optimizer and the prober's cadence; returns what it says
/// about the run.
fn resume_into<T: Scalar>(
    spec: &Spec,
    task: &mut dyn Task<T>,
    optimizer: &mut dyn Optimizer<T>,
    prober: &mut Prober<T>,
    total: usize,
    c: &Checkpoint,
) -> Result<RunInfo> {
    let info = check_resumable(c, &spec.to_toml())?;
    if info.dtype != T::NAME || info.total_steps != total {
        return Err(c.error(format!(
            "{} steps of {} planned in {}; this run plans {total} in {}",
            info.step,
            info.total_steps,
            info.dtype,
            T::NAME
        )));
    }
    load_weights_into(task, c, true)?;
    load_optimizer(c, &task.params(), optimizer)?;
    let data = load_data_state(c)?;
    task.restore_data_state(data)
        .map_err(|e| c.error(e.to_string()))?;
    prober.cadence_mut().set_state(load_cadence(c)?);
    Ok(info)
}
