//! `gradscope theory`: what mean-field theory predicts for a net at
//! initialization (the library's `analysis::theory`), as a table or JSON.

use clap::Args;
use gradscope::analysis::theory::{MeanField, Prediction};
use gradscope::nn::Activation;
use serde::Serialize;

/// Depths at which the predicted gradient factor is printed.
const DEPTHS: [u32; 3] = [1, 10, 50];

/// Arguments of `gradscope theory`.
#[derive(Args, Debug)]
pub struct TheoryArgs {
    /// The activation.
    #[arg(long, default_value = "tanh")]
    activation: Activation,
    /// sigma_w^2: weights drawn with variance sigma_w^2 / fan_in.
    #[arg(long, default_value_t = 1.0)]
    sigma_w2: f64,
    /// sigma_b^2: the biases' variance.
    #[arg(long, default_value_t = 0.05)]
    sigma_b2: f64,
    /// One JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// The prediction with the gradient factors over [`DEPTHS`].
#[derive(Serialize)]
struct Report {
    #[serde(flatten)]
    prediction: Prediction,
    /// `(layers, chi_1^layers)`: the factor on the squared gradient norm.
    gradient_factor: Vec<(u32, f64)>,
}

/// Runs `gradscope theory`.
pub fn run(args: TheoryArgs) -> anyhow::Result<()> {
    if !(args.sigma_w2 > 0.0 && args.sigma_b2 >= 0.0) {
        anyhow::bail!("--sigma-w2 must be positive and --sigma-b2 not negative");
    }
    let p = MeanField::new(args.activation, args.sigma_w2, args.sigma_b2).predict();
    let report = Report {
        gradient_factor: DEPTHS.iter().map(|&l| (l, p.gradient_factor(l))).collect(),
        prediction: p,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(())
}

fn or_inf(x: Option<f64>) -> String {
    x.map_or("inf".into(), |x| format!("{x:.4}"))
}

fn table(r: &Report) -> String {
    let p = &r.prediction;
    let mut s = format!(
        "{} sigma_w^2 = {} sigma_b^2 = {} ({})\n",
        p.activation,
        p.sigma_w2,
        p.sigma_b2,
        format!("{:?}", p.phase).to_lowercase()
    );
    let rows = [
        ("q*", or_inf(p.q_star)),
        ("chi_1", format!("{:.4}", p.chi_1)),
        ("c*", format!("{:.4}", p.c_star)),
        ("chi_c", format!("{:.4}", p.chi_c)),
        ("xi_q", or_inf(p.xi_q)),
        ("xi_c", or_inf(p.xi_c)),
        ("xi_grad", or_inf(p.xi_grad)),
        (
            "critical sigma_w^2",
            p.critical_sigma_w2
                .map_or("none".into(), |x| format!("{x:.4}")),
        ),
    ];
    for (k, v) in rows {
        s += &format!("  {k:<20} {v}\n");
    }
    s += "  gradient factor (squared norm, chi_1^L):\n";
    for (l, f) in &r.gradient_factor {
        s += &format!("    L = {l:<3} {f:.3e}\n");
    }
    s
}
