//! Recurrent nets, trained as a user trains them (spec -> data -> trainer
//! -> probes): the gradient through time at initialization, vanilla RNN
//! against LSTM on the adding problem, and an exploding RNN with and
//! without clipping. Outcomes and ratios only, never times.

use gradscope::data::sequence::adding::MEAN_PREDICTOR_MSE;
use gradscope::experiment::trainer::train;
use gradscope::experiment::{RecordSink, RunRecord, Spec};
use gradscope::probe::Axis;

/// `spec` (TOML) trained and recorded in memory.
fn run(spec: &str) -> (RunRecord, Result<f64, String>) {
    let spec = Spec::from_toml(spec, "test").unwrap();
    let data = spec.prepare_data().unwrap();
    let mut sink = RecordSink::new(spec.clone());
    let result = train(&spec, &data, &mut sink)
        .map(|s| s.test_loss)
        .map_err(|e| e.to_string());
    (sink.record, result)
}

/// `||dL/dh_t||` per time step of layer 0 at probe `i`.
fn through_time(record: &RunRecord, i: usize) -> Vec<f64> {
    let layer = &record.probes[i].layers[0];
    let series = layer
        .series
        .iter()
        .find(|s| s.tensor == "hidden_grad" && s.axis == Axis::TimeStep)
        .expect("a hidden_grad series");
    series.stats.iter().map(|s| s.l2()).collect()
}

/// The adding problem (T = 50) for `model` with 50 hidden units, plus
/// `model_keys` in `[model]`, trained by `optimizer` (`[optimizer]` keys).
fn adding(model: &str, steps: usize, model_keys: &str, optimizer: &str) -> String {
    format!(
        "name = \"{model}\"\nsteps = {steps}\nbatch = 32\nseed = 1\n\
         [data]\nname = \"adding\"\nlength = 50\n\
         [model]\nkind = \"{model}\"\nhidden = 50\n{model_keys}\n\
         [optimizer]\n{optimizer}\n"
    )
}

const ADAM: &str = "name = \"adam\"\nlr = 0.003";

/// At initialization the vanilla RNN's gradient at the first step is
/// orders of magnitude below its gradient at the last step; the LSTM's
/// (forget gate open) is not.
#[test]
fn at_initialization_the_rnn_gradient_fades_through_time_and_the_lstm_gradient_does_not() {
    let ratio = |model: &str| {
        let (record, _) = run(&adding(model, 1, "", ADAM));
        let g = through_time(&record, 0);
        assert_eq!(g.len(), 50);
        g[0] / g[49]
    };
    let (rnn, lstm) = (ratio("rnn"), ratio("lstm"));
    assert!(rnn < 1e-6, "rnn: ||dL/dh_1|| / ||dL/dh_T|| = {rnn:e}");
    assert!(lstm > 1e3 * rnn, "lstm {lstm:e} against rnn {rnn:e}");
}

/// A recurrent weight of spectral radius 3 makes the gradient through time
/// explode: unclipped, the global norm spikes orders of magnitude above its
/// typical value (or the run diverges, marked as such with its first
/// non-finite step: never a crash); clipped to 1, every update is bounded.
#[test]
fn an_exploding_rnn_spikes_and_clipping_bounds_its_updates() {
    let spec = |clip: &str| {
        adding(
            "rnn",
            200,
            "recurrent_init = \"gaussian(3.0)\"",
            &format!("name = \"sgd\"\nlr = 0.01\n{clip}"),
        )
    };
    let (wild, result) = run(&spec(""));
    let norms: Vec<f64> = wild.steps.iter().map(|s| s.grad_norm).collect();
    match result {
        Ok(_) => {
            let mut sorted: Vec<f64> = norms.iter().copied().filter(|n| n.is_finite()).collect();
            sorted.sort_by(f64::total_cmp);
            let (median, peak) = (sorted[sorted.len() / 2], sorted[sorted.len() - 1]);
            assert!(peak > 100.0 * median, "peak {peak:e}, median {median:e}");
        }
        Err(e) => assert!(e.contains("not finite") || e.contains("non-finite"), "{e}"),
    }
    let (_, clipped) = run(&spec("clip_norm = 1.0"));
    assert!(clipped.is_ok(), "{clipped:?}");
}

/// On the adding problem (T = 50) the LSTM learns what the vanilla RNN
/// cannot: its held-out MSE falls below a tenth of the mean predictor's
/// (19/480 for Hochreiter & Schmidhuber's definition), the RNN's stays
/// near it. The LSTM's forget gate starts at bias 3 (95% kept per step):
/// with the default 1 (73% per step, 1e-7 over 50 steps) neither net left
/// the mean predictor in 6,000 steps (see the issue note), which the
/// vanishing-through-time finding's remedies point to.
#[test]
fn on_the_adding_problem_the_lstm_learns_and_the_rnn_does_not() {
    let wider = |model: &str, keys: &str| {
        adding(model, 1200, keys, ADAM).replace("hidden = 50", "hidden = 64")
    };
    let (_, rnn) = run(&wider("rnn", ""));
    let (_, lstm) = run(&wider("lstm", "forget_bias = 3.0"));
    let (rnn, lstm) = (rnn.unwrap(), lstm.unwrap());
    assert!(rnn > 0.8 * MEAN_PREDICTOR_MSE, "rnn {rnn}");
    assert!(lstm < 0.1 * MEAN_PREDICTOR_MSE, "lstm {lstm}");
}
