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
    };
    let data = Prepared {
        train: set.clone(),
        test: set,
    };
    let mut steps = Steps::default();
    let err = train(&spec, &data, &mut steps).unwrap_err();
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
