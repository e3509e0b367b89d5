//! Training on the bundled MNIST digits: a healthy net learns, a deep
//! sigmoid net's gradient vanishes. Ratios and accuracies, never times.

use gradscope::experiment::trainer::{train, NullSink};
use gradscope::experiment::Spec;

fn spec(text: &str) -> Spec {
    Spec::from_toml(text, "test").unwrap()
}

/// 784-256-256-10, 16 epochs of the 8,000 training digits: 95.4% on the
/// 2,000 held out (seed 1 gives 95.7%; Adam at lr 1e-3 stays near 94.8%).
#[test]
fn relu_mlp_reaches_95_percent_held_out() {
    let s = spec(
        r#"
        steps = 2000
        batch = 64
        [model]
        widths = [256, 256]
        activation = "relu"
        [optimizer]
        name = "momentum"
        lr = 0.05
        "#,
    );
    let data = s.prepare_data().unwrap();
    let summary = train(&s, &data, &mut NullSink).unwrap();
    assert!(
        summary.test_accuracy >= 0.95,
        "held-out accuracy {:.4}",
        summary.test_accuracy
    );
}

#[test]
fn deep_sigmoid_gradient_vanishes_and_relu_he_does_not() {
    let deep = |activation: &str, init: &str| {
        spec(&format!(
            r#"
            steps = 100
            [model]
            depth = 20
            width = 100
            activation = "{activation}"
            init = "{init}"
            [optimizer]
            name = "momentum"
            lr = 0.01
            "#
        ))
    };
    let sigmoid = deep("sigmoid", "standard");
    let data = sigmoid.prepare_data().unwrap();
    let s = train(&sigmoid, &data, &mut NullSink).unwrap();
    let r = train(&deep("relu", "he_normal"), &data, &mut NullSink).unwrap();
    assert_eq!(s.grad_norms.len(), 21);
    assert!(
        s.first_last_ratio() * 100.0 <= r.first_last_ratio(),
        "sigmoid ratio {:e} vs relu+he ratio {:e}",
        s.first_last_ratio(),
        r.first_last_ratio()
    );
}

#[test]
fn divergence_is_an_error_not_a_panic() {
    let s = spec(
        r#"
        steps = 200
        [model]
        depth = 3
        width = 64
        init = "normal(3.0)"
        [optimizer]
        lr = 1000.0
        "#,
    );
    let data = s.prepare_data().unwrap();
    let err = train(&s, &data, &mut NullSink).unwrap_err().to_string();
    assert!(err.starts_with("non-finite"), "{err}");
}
