//! gradscope: a laboratory for gradient flow in deep networks.
//!
//! It trains small and medium networks (MLPs, CNNs, recurrent nets) on
//! CPU, measures every layer's gradients, activations and updates while
//! forward and backward compute them (the *probes*), records the run in
//! a SQLite store, and diagnoses it: vanishing or exploding gradients,
//! saturation, dead units, a learning rate off by orders of magnitude,
//! each *finding* with its evidence and the remedies worth testing.
//! `gradscope` the binary is a thin CLI over this library; everything it
//! does, a program can do with the entry points below.
//!
//! Data flows one way:
//!
//! ```text
//! spec (TOML or code) -> data + model -> training loop -> events -> sinks
//!                                        (the trainer's     (memory, store,
//!                                         or yours)          your own)
//! ```
//!
//! [`prelude`] re-exports the types these examples use. docs/LIBRARY.md
//! says which parts of the surface are stable; docs/ARCHITECTURE.md how
//! the modules fit; the `examples/` folder holds runnable programs
//! (`cargo run --release --example custom_loop`).
//!
//! # 1. A model from its config
//!
//! [`nn::ModelConfig`] describes an MLP (or, through its `kind`, a CNN or a
//! recurrent net: [`nn::recurrent::RnnConfig`]) and builds it, seeded.
//! Parameters are walked by path (`layers.0.weight`); the probed blocks,
//! one per layer of the depth profile, by [`nn::Mlp::blocks`].
//!
//! ```
//! use gradscope::prelude::*;
//!
//! let config = ModelConfig::new(2, 3).depth(4, 16).activation(Activation::Tanh);
//! let mut mlp: Mlp<f64> = config.build(7)?;
//! let x = Matrix::from_rows(&[vec![0.5, -1.0], vec![1.0, 2.0]]);
//! let logits = mlp.forward(&x, Mode::Eval);
//! assert_eq!((logits.rows(), logits.cols()), (2, 3));
//! assert_eq!(mlp.blocks().len(), 5); // four hidden layers and the output layer
//! assert_eq!(mlp.params()[0].path, "layers.0.weight");
//! # Ok::<(), gradscope::Error>(())
//! ```
//!
//! # 2. Training a spec
//!
//! An [`experiment::Spec`] is the whole experiment (the keys of a spec
//! file, docs/SPEC.md); [`experiment::Spec::prepare_data`] loads or
//! generates its data, and [`experiment::trainer::train`] runs it,
//! reporting every step, probe and evaluation to a [`experiment::Sink`].
//! [`experiment::RecordSink`] keeps them in memory as a
//! [`experiment::RunRecord`].
//!
//! ```
//! use gradscope::prelude::*;
//!
//! let spec = Spec::from_toml(
//!     r#"
//!     steps = 20
//!     batch = 16
//!     [data]
//!     name = "xor"
//!     train_size = 128
//!     test_size = 64
//!     [model]
//!     widths = [16, 16]
//!     activation = "tanh"
//!     "#,
//!     "inline spec",
//! )?;
//! let data = spec.prepare_data()?;
//! let mut sink = RecordSink::new(spec.clone());
//! let summary = train(&spec, &data, &mut sink)?;
//! assert_eq!(summary.steps, 20);
//! let record = sink.record;
//! assert_eq!(record.steps.len(), 20);
//! assert_eq!(record.depth(), 3); // two hidden layers and the output layer
//! # Ok::<(), gradscope::Error>(())
//! ```
//!
//! # 3. Probes from your own training loop
//!
//! The trainer is one loop among possible ones. A [`probe::Prober`] turns
//! the blocks' taps on for the steps it records ([`probe::Prober::arm`],
//! before forward) and gathers what they measured into a
//! [`probe::StepProbe`] ([`probe::Prober::observe`], after backward, and
//! [`probe::Prober::finish`] after your update, for the update:data
//! ratios). Send it to any sink as an [`experiment::Event::Probe`].
//! `examples/custom_loop.rs` is the whole program.
//!
//! ```
//! use gradscope::prelude::*;
//!
//! let mut mlp: Mlp<f64> = ModelConfig::new(2, 2).depth(3, 8).build(1)?;
//! let x = Matrix::from_rows(&[vec![1.0, -1.0], vec![-1.0, 1.0]]);
//! let labels = [0, 1];
//! let mut prober = Prober::<f64>::new(ProbeConfig::every_step());
//! let mut grad = Matrix::default();
//! for step in 0..3 {
//!     prober.arm(step, mlp.blocks_mut());
//!     let logits = mlp.forward(&x, Mode::Train).clone();
//!     let loss = Loss::CrossEntropy.compute(&logits, Targets::Classes(&labels), &mut grad);
//!     assert!(loss.is_finite());
//!     mlp.backward_overwrite(&x, &grad);
//!     let mut probe = prober.observe(step, &mlp.blocks());
//!     for p in mlp.params() {
//!         // Your update rule: plain SGD here.
//!         let g = p.param.grad.as_slice().to_vec();
//!         for (w, g) in p.param.value.as_mut_slice().iter_mut().zip(g) {
//!             *w -= 0.1 * g;
//!         }
//!     }
//!     prober.finish(&mlp.blocks(), &mut probe);
//!     assert_eq!(probe.layers.len(), 4);
//!     assert!(probe.layers[0].weight_grad.l2() > 0.0);
//!     assert!(probe.layers[0].update_ratio > 0.0);
//! }
//! # Ok::<(), gradscope::Error>(())
//! ```
//!
//! # 4. A recorded run: store and diagnosis
//!
//! [`run::run_recorded`] is what `gradscope train` does: train with your
//! sink attached, record into a [`store::Store`] (through a
//! [`store::RunWriter`], itself a sink: [`store::Store::begin_run`]),
//! diagnose the record ([`analysis::diagnose::diagnose`]) and save the
//! findings. [`store::Store::load`] reads a run back as a `RunRecord`.
//!
//! ```
//! use gradscope::prelude::*;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path().join("runs.db"))?;
//! let mut spec = Spec::default();
//! spec.data.name = "xor".into();
//! (spec.data.train_size, spec.data.test_size) = (128, 64);
//! (spec.steps, spec.batch) = (10, 16);
//! let data = spec.prepare_data()?;
//! let outcome = run_recorded(&spec, &data, Some(&store), Compute::threads(1), &mut NullSink)?;
//! assert!(outcome.result.is_ok());
//!
//! let id = outcome.run_id.unwrap();
//! let stored = store.load(id)?;
//! assert_eq!(stored.status, RunStatus::Finished);
//! assert_eq!(stored.steps.len(), 10);
//! // Diagnosis is a pure function of the record: stored or in memory.
//! assert_eq!(diagnose(&stored), outcome.findings);
//! assert_eq!(store.findings(id)?, outcome.findings);
//! # Ok::<(), gradscope::Error>(())
//! ```
//!
//! # Modules
//!
//! Bottom up: [`tensor`] (matrices, GEMM, statistics), [`probe`] (what is
//! measured, the block contract, the prober), [`nn`] (layers, losses, the
//! model builders), [`optim`], [`data`], [`experiment`] (spec, trainer,
//! events and sinks, sweeps), [`analysis`] (gradient check, diagnosis,
//! theory, spectra), [`store`], [`report`] (HTML and SVG), [`bench`](mod@bench),
//! [`run`] (one run end to end). Errors are one enum, [`Error`].

pub mod analysis;
pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod error;
pub mod experiment;
pub mod export;
mod names;
pub mod nn;
pub mod optim;
pub mod prelude;
pub mod probe;
pub mod report;
pub mod reproduce;
pub mod run;
pub mod serve;
pub mod store;
pub mod tensor;

pub use error::{Error, Result};
