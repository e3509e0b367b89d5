//! What the trainer reports when a run goes wrong: every step that ran has
//! its `Step` event (and so its `steps` row), before its probe.

use gradscope::data::Dataset;
use gradscope::data::Prepared;
use gradscope::error::Error;
use gradscope::experiment::trainer::{train, Event, Sink};
use gradscope::experiment::Spec;
use gradscope::tensor::Matrix;

/// The steps of the `Step` and `Probe` events, in order.
#[derive(Default)]
struct Steps(Vec<(&'static str, usize)>);

impl Sink for Steps {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::Step(s) => self.0.push(("step", s.step)),
            Event::Probe(p) => self.0.push(("probe", p.step)),
            _ => {}
        }
    }
}

/// Identical input rows give every BatchNorm feature zero variance, so
/// backward scales by `1/sqrt(eps)` (316) at each BatchNorm, and by about
/// 7 more through each large weight and sigmoid: over 16 layers the f32
/// gradient overflows, while forward (normalized to `beta` = 0, then
/// sigmoid) and the loss stay finite. Probed as `probe` says.
fn overflowing(probe: &str) -> (Error, Vec<(&'static str, usize)>) {
    let spec = Spec::from_toml(
        &format!(
            r#"
        steps = 5
        batch = 8
        [model]
        depth = 16
        width = 8
        activation = "sigmoid"
        norm = "batch"
        init = "normal(10.0)"
        {probe}
        "#
        ),
        "test",
    )
    .unwrap();
    let rows = 8;
    let set = Dataset {
        name: "constant".into(),
        features: Matrix::filled(rows, 6, 0.5),
        labels: (0..rows).map(|i| i % 3).collect(),
        classes: 3,
        image: None,
    };
    let data = Prepared {
        train: set.clone(),
        test: set,
    };
    let mut steps = Steps::default();
    let err = train(&spec, &data.into(), &mut steps).unwrap_err();
    (err, steps.0)
}

#[test]
fn regression_non_finite_gradient_step_has_its_step_event() {
    let (err, events) = overflowing("");
    assert!(
        matches!(
            err,
            Error::NonFinite {
                what: "gradient",
                step: 0
            }
        ),
        "{err}"
    );
    assert_eq!(events, [("step", 0), ("probe", 0)]);
}

/// A step the prober would not have recorded is measured when its
/// gradient is not finite: run again, tapped, so the probe says where.
#[test]
fn regression_an_untapped_non_finite_gradient_step_is_measured() {
    let (err, events) = overflowing("[probe]\nevery = 0\nhistogram_every = 0");
    assert!(
        matches!(
            err,
            Error::NonFinite {
                what: "gradient",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(events, [("step", 0), ("probe", 0)]);
}

/// The probes a run of `steps` steps on `xor` records, with `more` (a
/// `[probe]` section, a `[schedule]`).
fn probed_steps(steps: usize, more: &str) -> Vec<usize> {
    let spec = Spec::from_toml(
        &format!(
            "steps = {steps}\nbatch = 8\n[optimizer]\nlr = 0.01\n\
             [data]\nname = \"xor\"\ntrain_size = 64\ntest_size = 16\n{more}"
        ),
        "test",
    )
    .unwrap();
    let data = spec.prepare_data().unwrap();
    let mut events = Steps::default();
    let _ = train(&spec, &data, &mut events);
    events
        .0
        .iter()
        .filter(|e| e.0 == "probe")
        .map(|e| e.1)
        .collect()
}

/// The default cadence in a real run: every step, then every 10th, then
/// every 100th, and the last step.
#[test]
fn probes_thin_out_by_decades_and_take_the_last_step() {
    let steps = probed_steps(250, "[probe]\nthin_after = 20\nanomaly_window = 0");
    let expected: Vec<usize> = (0..20)
        .chain((20..200).step_by(10))
        .chain([200, 249])
        .collect();
    assert_eq!(steps, expected);
}

/// The learning rate jumps 600-fold at step 100 and blows the gradient
/// up until the run diverges: once its norm has jumped, every step is
/// probed (the regular stride there is 100). A small batch's noisy norm
/// (swings of a decade and more from step to step) opens no window.
#[test]
fn a_gradient_jump_makes_the_next_steps_probed() {
    let probe = "[probe]\nthin_after = 5\nhistogram_every = 0\nanomaly_window = 50\n";
    let calm = probed_steps(300, probe);
    assert_eq!(calm.len(), 5 + 4 + 2 + 1, "{calm:?}");
    let jump = "[schedule]\nname = \"step\"\nevery = 100\ngamma = 600.0\n";
    let wild = probed_steps(300, &format!("{probe}{jump}"));
    let after: Vec<usize> = wild.iter().copied().filter(|&s| s > 100).collect();
    assert!(after.len() >= 3, "{wild:?}");
    assert!(after.windows(2).all(|w| w[1] == w[0] + 1), "{wild:?}");
}
