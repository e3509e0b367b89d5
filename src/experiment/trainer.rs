//! The trainer: runs a [`Spec`] and reports through a [`Sink`].
//!
//! One step: gather a batch, forward, loss, backward (parameter gradients
//! written over the last step's: no zeroing pass), clip (optional),
//! optimizer update at the scheduled rate. Evaluation runs
//! in eval mode (BatchNorm running statistics) on the whole training and
//! held-out sets. A non-finite loss ends the run with
//! [`Error::NonFinite`]; what was reported before stays with the sink.

pub use super::events::{EvalRecord, Event, NullSink, RunStatus, Sink, StepRecord, Summary};
use super::plan::{plan_rows, plan_sequences};
use super::rnn_task::RnnTask;
pub use super::task::{accuracy, evaluate, MlpTask, Task};
use super::RunData;
use super::{Dtype, Spec};
use crate::data::sequence::{SeqPrepared, SeqTargets};
use crate::data::Prepared;
use crate::error::{Error, Result};
use crate::nn::Mlp;
use crate::optim::{clip_grad_norm, clip_grad_value, global_grad_norm};
use crate::probe::{Prober, Tap};
use crate::tensor::Scalar;
use std::time::Instant;

pub use super::plan::total_steps;

/// Runs `spec` on `data` in the spec's dtype.
pub fn train(spec: &Spec, data: &RunData, sink: &mut dyn Sink) -> Result<Summary> {
    match spec.dtype {
        Dtype::F32 => train_typed::<f32>(spec, data, sink),
        Dtype::F64 => train_typed::<f64>(spec, data, sink),
    }
}

fn train_typed<T: Scalar>(spec: &Spec, data: &RunData, sink: &mut dyn Sink) -> Result<Summary> {
    let result = match data {
        RunData::Rows(rows) => run_steps::<T>(spec, rows, sink),
        RunData::Sequences(seqs) => run_sequences::<T>(spec, seqs, sink),
    };
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

fn run_steps<T: Scalar>(spec: &Spec, data: &Prepared, sink: &mut dyn Sink) -> Result<Summary> {
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
    run_task(spec, &mut task, total, sink)
}

fn run_sequences<T: Scalar>(
    spec: &Spec,
    data: &SeqPrepared,
    sink: &mut dyn Sink,
) -> Result<Summary> {
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
    run_task(spec, &mut task, total, sink)
}

/// The step loop, for any [`Task`]: `total` steps, evaluating every
/// `spec.eval_every` steps and at the end.
pub fn run_task<T: Scalar>(
    spec: &Spec,
    task: &mut dyn Task<T>,
    total: usize,
    sink: &mut dyn Sink,
) -> Result<Summary> {
    let mut optimizer = spec.optimizer_config().build::<T>();
    let params = task.num_params();
    sink.event(&Event::Started {
        spec,
        total_steps: total,
        params,
    });
    let mut prober = Prober::<T>::new(spec.probe).with_total(total);
    let mut train_seconds = 0.0;
    let mut grad_norms = Vec::new();
    for step in 0..total {
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
        if done < total && sink.stop_requested() {
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
