//! The HTML report and its figures, on small hand-built records (no
//! training, so every number is fixed): snapshots of the page, its
//! structure parsed as XML, no reference outside the file, escaped user
//! strings, and PNG export.

use gradscope::analysis::diagnose::{Evidence, Finding, FindingKind, Remedy, Severity};
use gradscope::experiment::trainer::{EvalRecord, StepRecord, Summary};
use gradscope::experiment::{RunRecord, RunStatus, Spec};
use gradscope::nn::recurrent::SATURATED_SUFFIX;
use gradscope::nn::ModelKind;
use gradscope::probe::{
    Axis, HistTensor, Histogram, HistogramRecord, LayerProbe, Series, StepProbe, TensorStats, BINS,
};
use gradscope::report::{
    content_hash, figures, render_html, write_pngs, Figure, ReportRun, PNG_SCALE,
};
use resvg::usvg::roxmltree;

const LAYERS: usize = 3;
const STEPS: usize = 6;

/// Stats with the given L2 norm (n entries, mean 0 so std = l2 / sqrt(n)).
fn stats(l2: f64) -> TensorStats {
    TensorStats {
        n: 100,
        sum: 0.0,
        sum_sq: l2 * l2,
        max_abs: l2,
        ..TensorStats::default()
    }
}

/// A histogram with `count` entries around 10^`decade`.
fn hist(decade: f64, count: u64) -> Histogram {
    let mut h = Histogram {
        neg: vec![0; BINS],
        pos: vec![0; BINS],
        zero: 1,
        non_finite: 0,
    };
    let bin = ((decade - gradscope::probe::LOG10_MIN) / gradscope::probe::BIN_WIDTH) as usize;
    h.pos[bin] = count;
    h.neg[bin] = count / 2;
    h.pos[bin + 1] = count / 3;
    h
}

/// Three layers (two sigmoid hidden, one output), six probed steps: the
/// delta norm falls a decade per layer towards the input; layer 0's delta
/// is exactly zero at step 2, has subnormal entries at steps 3 and 4, and
/// is non-finite at step 5.
fn record(name: &str) -> RunRecord {
    let spec = Spec {
        name: name.to_string(),
        seed: 7,
        steps: STEPS,
        ..Spec::default()
    };
    let mut r = RunRecord::new(spec);
    r.total_steps = STEPS;
    r.status = RunStatus::Finished;
    for s in 0..STEPS {
        let t = s as f64;
        r.steps.push(StepRecord {
            step: s,
            loss: 2.3 - 0.2 * t,
            accuracy: 0.1 + 0.1 * t,
            lr: 0.1,
            grad_norm: 1.0,
        });
        let layers = (0..LAYERS)
            .map(|l| {
                let scale = 10f64.powi(l as i32 - 2) * (1.0 + 0.1 * t);
                let mut pre_grad = stats(scale);
                if l == 0 && s == 2 {
                    pre_grad = TensorStats {
                        n: 100,
                        zeros: 100,
                        ..TensorStats::default()
                    };
                }
                if l == 0 && (s == 3 || s == 4) {
                    pre_grad.subnormal = 40;
                }
                if l == 0 && s == 5 {
                    pre_grad.nan = 3;
                }
                let hidden = l + 1 < LAYERS;
                LayerProbe {
                    layer: l,
                    path: format!("layers.{}", 2 * l),
                    weight: stats(10.0),
                    weight_grad: stats(scale * 2.0),
                    bias_grad: Some(stats(scale)),
                    pre_grad,
                    out_grad: stats(scale),
                    pre: stats(5.0),
                    pre_pct: [-1.0 - 0.1 * t, 0.05 * t, 1.0 + 0.2 * t],
                    out: stats(3.0),
                    saturated: if hidden {
                        0.1 * (l + 1) as f64 + 0.05 * t
                    } else {
                        f64::NAN
                    },
                    dead: f64::NAN,
                    update_ratio: 1e-3 * 10f64.powi(l as i32 - 1) * (1.0 + 0.05 * t),
                    series: Vec::new(),
                }
            })
            .collect();
        let histograms = if s % 4 == 0 {
            (0..LAYERS)
                .map(|l| HistogramRecord {
                    layer: l,
                    tensor: HistTensor::WeightGrad,
                    hist: hist(l as f64 - 4.0, 40 + s as u64),
                })
                .collect()
        } else {
            Vec::new()
        };
        r.probes.push(StepProbe {
            step: s,
            layers,
            histograms,
        });
    }
    for (step, acc) in [(3, 0.4), (6, 0.6)] {
        r.evals.push(EvalRecord {
            step,
            train_loss: 2.0 - acc,
            train_accuracy: acc + 0.05,
            test_loss: 2.1 - acc,
            test_accuracy: acc,
        });
    }
    r.summary = Some(Summary {
        steps: STEPS,
        train_loss: 1.4,
        train_accuracy: 0.65,
        test_loss: 1.5,
        test_accuracy: 0.6,
        grad_norms: vec![0.02, 0.2, 2.0],
        layers: vec!["layers.0".into(), "layers.2".into(), "layers.4".into()],
        train_seconds: 0.5,
        sample: None,
    });
    r
}

/// Time steps of the recurrent records.
const T: usize = 12;

/// A `kind` run on the adding problem (a regression: no accuracy), one
/// recurrent layer of `T` time steps probed at steps 0 to 5. At step `s`,
/// `||dL/dh_t|| = 0.1 (decay + 0.02 s)^(T-1-t)`; steps 0 and 4 are
/// histogram steps with each gate's saturated fraction per time step,
/// rising with `t` and with training.
fn recurrent_record(name: &str, kind: ModelKind, decay: f64) -> RunRecord {
    let mut spec = Spec {
        name: name.to_string(),
        seed: 3,
        steps: STEPS,
        ..Spec::default()
    };
    spec.model.kind = kind;
    spec.data.name = "adding".into();
    let gates = kind.cell().expect("a recurrent kind").gate_names();
    let mut r = RunRecord::new(spec);
    r.total_steps = STEPS;
    r.status = RunStatus::Finished;
    for s in 0..STEPS {
        let t = s as f64;
        r.steps.push(StepRecord {
            step: s,
            loss: 0.17 * decay.powf(t),
            accuracy: f64::NAN,
            lr: 0.003,
            grad_norm: 1.0,
        });
        let factor = decay + 0.02 * t;
        let mut series = vec![Series {
            tensor: "hidden_grad".into(),
            axis: Axis::TimeStep,
            stats: (0..T)
                .map(|i| stats(0.1 * factor.powi((T - 1 - i) as i32)))
                .collect(),
        }];
        if s % 4 == 0 {
            for (g, gate) in gates.iter().enumerate() {
                series.push(Series {
                    tensor: format!("{gate}{SATURATED_SUFFIX}"),
                    axis: Axis::TimeStep,
                    stats: (0..T)
                        .map(|i| {
                            let ones = (10.0 * g as f64 + 2.0 * i as f64 + 5.0 * t).round();
                            TensorStats {
                                n: 100,
                                sum: ones,
                                sum_sq: ones,
                                max_abs: 1.0,
                                ..TensorStats::default()
                            }
                        })
                        .collect(),
                });
            }
        }
        let recurrent = LayerProbe {
            layer: 0,
            path: "recurrent.0".into(),
            weight: stats(3.0),
            weight_grad: stats(0.01 * factor),
            bias_grad: Some(stats(0.001)),
            pre_grad: stats(0.02),
            out_grad: stats(0.02),
            pre: stats(4.0),
            pre_pct: [-1.0, 0.0, 1.0],
            out: stats(2.0),
            saturated: 0.2 + 0.01 * t,
            dead: f64::NAN,
            update_ratio: 1e-3,
            series,
        };
        let readout = LayerProbe {
            layer: 1,
            path: "readout".into(),
            series: Vec::new(),
            saturated: f64::NAN,
            ..recurrent.clone()
        };
        r.probes.push(StepProbe {
            step: s,
            layers: vec![recurrent, readout],
            histograms: Vec::new(),
        });
    }
    r
}

fn findings(summary: &str) -> Vec<Finding> {
    vec![
        Finding {
            kind: FindingKind::VanishingGradient,
            severity: Severity::Critical,
            summary: summary.to_string(),
            layers: vec![0, 1],
            steps: vec![0, 5],
            evidence: vec![Evidence {
                name: "first_last_ratio".into(),
                value: 0.01,
                note: "layer 0 gets 1% of the gradient of the last".into(),
            }],
            remedies: vec![Remedy {
                title: "He initialization".into(),
                why: "keeps the gradient's scale through ReLU layers".into(),
                command: "gradscope train spec.toml --set model.init=he_normal".into(),
            }],
        },
        Finding {
            kind: FindingKind::Saturation,
            severity: Severity::Warning,
            summary: "layer 1 is 35% saturated".into(),
            layers: vec![1],
            steps: vec![5],
            evidence: vec![],
            remedies: vec![],
        },
    ]
}

/// The page as XML (it is written well-formed; `<!DOCTYPE html>` is a DTD
/// to the parser).
fn parse(text: &str) -> Result<roxmltree::Document<'_>, roxmltree::Error> {
    let opt = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(text, opt)
}

fn element_by_id<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
    id: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    doc.descendants().find(|n| n.attribute("id") == Some(id))
}

fn descendants_named<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    node.descendants().filter(move |n| n.has_tag_name(name))
}

#[test]
fn single_run_page_snapshot() {
    let r = record("deep-sigmoid");
    let f = findings("the first layer gets 1% of the last layer's gradient");
    let html = render_html(&[ReportRun {
        record: &r,
        findings: &f,
    }]);
    insta::assert_snapshot!("single_run_page", html);
}

#[test]
fn two_run_comparison_figures_snapshot() {
    let (a, b) = (record("sigmoid"), record("relu"));
    let runs = [
        ReportRun {
            record: &a,
            findings: &[],
        },
        ReportRun {
            record: &b,
            findings: &[],
        },
    ];
    let figs: Vec<Figure> = figures(&runs)
        .into_iter()
        .filter(|f| f.id.starts_with("compare-"))
        .collect();
    assert_eq!(figs.len(), 3);
    for f in figs {
        insta::assert_snapshot!(
            format!("compare_{}", f.id.trim_start_matches("compare-")),
            f.svg
        );
    }
}

/// RNN against LSTM on the adding problem: the gradient through time
/// overlaid (the RNN's falls faster), the regression loss overlaid, no
/// accuracy; and the LSTM's own lag and gate-saturation charts.
#[test]
fn recurrent_comparison_figures_snapshot() {
    let rnn = recurrent_record("adding-rnn", ModelKind::Rnn, 0.5);
    let lstm = recurrent_record("adding-lstm", ModelKind::Lstm, 0.9);
    let runs = [
        ReportRun {
            record: &rnn,
            findings: &[],
        },
        ReportRun {
            record: &lstm,
            findings: &[],
        },
    ];
    let figs = figures(&runs);
    let compare: Vec<&str> = figs
        .iter()
        .map(|f| f.id.as_str())
        .filter(|id| id.starts_with("compare-"))
        .collect();
    assert_eq!(
        compare,
        ["compare-depth", "compare-loss", "compare-through-time"],
        "a regression has no accuracy to compare"
    );
    let svg = |id: &str| &figs.iter().find(|f| f.id == id).expect(id).svg;
    // 0.5 and 0.9 per step back at step 0, 0.02 more per step: 0.60 and
    // 1.00 at the last step, 5.
    assert!(svg("compare-through-time").contains(">#1 adding-rnn: ×0.60 per<"));
    assert!(svg("compare-through-time").contains(">#2 adding-lstm: ×1.000 per<"));
    for want in [">#1 adding-rnn<", ">#2 adding-lstm<"] {
        assert!(svg("compare-loss").contains(want), "{want}");
    }
    insta::assert_snapshot!(
        "recurrent_compare_through_time",
        svg("compare-through-time")
    );
    insta::assert_snapshot!("recurrent_compare_loss", svg("compare-loss"));
    insta::assert_snapshot!("lstm_lag", svg("run2-lag"));
    insta::assert_snapshot!("lstm_gate_saturation", svg("run2-gate-saturation"));
    // The page: well-formed, each recurrent chart with its caption, and
    // the through-time finding linked to the lag chart.
    let horizon = Finding {
        kind: FindingKind::VanishingGradient,
        severity: Severity::Critical,
        summary: "through time".into(),
        layers: vec![0],
        steps: vec![0, 5],
        evidence: vec![Evidence {
            name: "horizon_steps".into(),
            value: 3.0,
            note: String::new(),
        }],
        remedies: vec![],
    };
    let f = [horizon];
    let page = render_html(&[
        ReportRun {
            record: &rnn,
            findings: &f,
        },
        runs[1],
    ]);
    let doc = parse(&page).expect("well-formed");
    for id in [
        "fig-compare-through-time",
        "fig-run1-lag",
        "fig-run1-gate-saturation",
        "fig-run2-lag",
        "fig-run2-gate-saturation",
    ] {
        let node = element_by_id(&doc, id).unwrap_or_else(|| panic!("{id} missing"));
        assert!(
            descendants_named(node, "figcaption").next().is_some(),
            "{id}"
        );
    }
    assert!(page.contains("href=\"#fig-run1-lag\""));
    // The exploding-through-time finding links the same charts, not the
    // depth charts of an MLP.
    let spikes = Finding {
        kind: FindingKind::ExplodingGradient,
        evidence: vec![Evidence {
            name: "spike_steps".into(),
            value: 2.0,
            note: String::new(),
        }],
        ..f[0].clone()
    };
    let page = render_html(&[ReportRun {
        record: &rnn,
        findings: &[spikes],
    }]);
    assert!(page.contains("href=\"#fig-run1-through-time\""));
    assert!(!page.contains("href=\"#fig-run1-depth\""));
}

#[test]
fn every_figure_is_on_the_page_with_data() {
    let r = record("run");
    let f = findings("vanishing");
    let runs = [ReportRun {
        record: &r,
        findings: &f,
    }];
    let html = render_html(&runs);
    let doc = parse(&html).expect("the page is well-formed XML");
    let figs = figures(&runs);
    assert_eq!(figs.len(), 9);
    for fig in &figs {
        let node = element_by_id(&doc, &format!("fig-{}", fig.id))
            .unwrap_or_else(|| panic!("figure {} missing", fig.id));
        let svg = descendants_named(node, "svg").next().expect("inline svg");
        assert!(
            descendants_named(node, "figcaption").next().is_some(),
            "{} has no caption",
            fig.id
        );
        let texts = descendants_named(svg, "text").count();
        assert!(texts >= 5, "{} has {texts} texts (axes, labels)", fig.id);
        if fig.id.contains("flow-") {
            let cells = svg
                .descendants()
                .find(|n| n.attribute("class") == Some("cells"))
                .expect("heatmap cells");
            assert_eq!(
                descendants_named(cells, "rect").count(),
                LAYERS * STEPS,
                "{}: one cell per layer and step",
                fig.id
            );
        } else if fig.id.ends_with("ridge") {
            let ridges = descendants_named(svg, "polygon").count();
            assert_eq!(ridges, LAYERS * 2, "a ridge per layer at 2 histogram steps");
        } else {
            let lines: Vec<_> = descendants_named(svg, "polyline")
                .map(|p| p.attribute("points").unwrap_or(""))
                .collect();
            assert!(!lines.is_empty(), "{} draws no line", fig.id);
            assert!(
                lines.iter().all(|p| p.split(' ').count() >= 2),
                "{}: {lines:?}",
                fig.id
            );
        }
    }
    // The flow map's legend greys appear for the zero and the NaN cell, and
    // its dots (two cells and the legend's) for the subnormal ones, only in
    // the delta's map.
    let flow = &figs[0].svg;
    assert!(flow.contains("fill=\"#d4d4d4\"") && flow.contains("fill=\"#5a5a5a\""));
    assert_eq!(flow.matches("fill=\"#ffffff\" stroke").count(), 3);
    assert!(flow.contains("subnormal entries"));
    assert!(
        !figs[1].svg.contains("subnormal"),
        "the weight map has none"
    );
    // Findings link to figures that exist.
    let hrefs: Vec<&str> = doc
        .descendants()
        .filter_map(|n| n.attribute("href"))
        .collect();
    assert!(hrefs.contains(&"#fig-run1-flow-delta"));
    assert!(hrefs.contains(&"#fig-run1-depth"));
    assert!(hrefs.contains(&"#fig-run1-saturation"));
    for h in &hrefs {
        let target = h.strip_prefix('#').expect("only in-page links");
        assert!(element_by_id(&doc, target).is_some(), "dangling link {h}");
    }
    // Provenance.
    assert!(html.contains(&content_hash(&r)));
    assert!(html.contains(env!("CARGO_PKG_VERSION")));
    assert!(html.contains("seed = 7"));
}

#[test]
fn the_page_references_nothing_outside_itself() {
    let (a, b) = (record("a"), record("b"));
    let f = findings("x");
    let html = render_html(&[
        ReportRun {
            record: &a,
            findings: &f,
        },
        ReportRun {
            record: &b,
            findings: &[],
        },
    ]);
    let lower = html.to_lowercase();
    for banned in [
        "http:", "https:", "<script", "<link", "url(", "src=", "@import", "xlink:",
    ] {
        assert!(!lower.contains(banned), "the page contains {banned:?}");
    }
    let doc = parse(&html).unwrap();
    for n in doc.descendants() {
        if let Some(h) = n.attribute("href") {
            assert!(h.starts_with('#'), "external href {h}");
        }
    }
    // The comparison: a row per run and the overlaid figures.
    let table = descendants_named(element_by_id(&doc, "comparison").unwrap(), "tr").count();
    assert_eq!(table, 3, "header and two runs");
    for id in [
        "fig-compare-depth",
        "fig-compare-loss",
        "fig-compare-accuracy",
    ] {
        assert!(element_by_id(&doc, id).is_some(), "{id}");
    }
}

#[test]
fn user_strings_are_escaped() {
    let r = record("<script>alert('x')</script>");
    let f = findings("summary with <b>tags</b> & \"quotes\"");
    let runs = [ReportRun {
        record: &r,
        findings: &f,
    }];
    let html = render_html(&runs);
    assert!(!html.contains("<script"));
    assert!(!html.contains("<b>tags"));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("&lt;b&gt;tags&lt;/b&gt; &amp; &quot;quotes&quot;"));
    parse(&html).expect("still well-formed");
    // Legends carry run names in the comparison figures.
    let two = [runs[0], runs[0]];
    for fig in figures(&two) {
        assert!(!fig.svg.contains("<script"), "{}", fig.id);
        roxmltree::Document::parse(&fig.svg).expect("each SVG is well-formed");
    }
}

#[test]
fn output_is_deterministic() {
    let r = record("run");
    let runs = [ReportRun {
        record: &r,
        findings: &[],
    }];
    assert_eq!(render_html(&runs), render_html(&runs));
    assert_eq!(content_hash(&r), content_hash(&r.clone()));
    assert_eq!(content_hash(&r).len(), 64);
}

#[test]
fn an_empty_record_still_renders() {
    let r = RunRecord::new(Spec::default());
    let runs = [ReportRun {
        record: &r,
        findings: &[],
    }];
    let html = render_html(&runs);
    parse(&html).unwrap();
    assert!(html.contains("no probes recorded"));
    assert_eq!(figures(&runs).len(), 9);
}

#[test]
fn pngs_are_written_and_decode_at_their_size() {
    let r = record("run");
    let runs = [ReportRun {
        record: &r,
        findings: &[],
    }];
    let mut figs: Vec<Figure> = figures(&runs)
        .into_iter()
        .filter(|f| f.id.ends_with("flow-delta") || f.id.ends_with("depth"))
        .collect();
    // The recurrent charts and their overlay render too.
    let (rnn, lstm) = (
        recurrent_record("rnn", ModelKind::Rnn, 0.5),
        recurrent_record("lstm", ModelKind::Lstm, 0.9),
    );
    let recurrent = [
        ReportRun {
            record: &rnn,
            findings: &[],
        },
        ReportRun {
            record: &lstm,
            findings: &[],
        },
    ];
    figs.extend(figures(&recurrent).into_iter().filter(|f| {
        ["compare-through-time", "run2-lag", "run2-gate-saturation"].contains(&f.id.as_str())
    }));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("figures");
    let paths = write_pngs(&figs, &out).unwrap();
    assert_eq!(paths.len(), 5);
    for (p, f) in paths.iter().zip(&figs) {
        assert_eq!(p, &out.join(format!("{}.png", f.id)));
        let bytes = std::fs::read(p).unwrap();
        let img = resvg::tiny_skia::Pixmap::decode_png(&bytes).unwrap();
        let (w, h) = ((640.0 * PNG_SCALE) as u32, (360.0 * PNG_SCALE) as u32);
        assert_eq!((img.width(), img.height()), (w, h), "{}", f.id);
        // Not blank: viridis cells or lines, and dark text.
        let dark = img.pixels().iter().filter(|c| c.red() < 80).count();
        assert!(dark > 1000, "{}: {dark} dark pixels", f.id);
    }
}

/// The comparison table names the ReLU net's low-slope units for what
/// they are (inactive), not saturated like a sigmoid's.
#[test]
fn relu_units_are_inactive_not_saturated() {
    let mut sigmoid = record("sigmoid");
    sigmoid.spec.model.activation = gradscope::nn::Activation::Sigmoid;
    let relu = record("relu");
    assert!(relu.spec.model.activation.is_relu_family());
    let runs = [
        ReportRun {
            record: &sigmoid,
            findings: &[],
        },
        ReportRun {
            record: &relu,
            findings: &[],
        },
    ];
    let page = render_html(&runs);
    assert!(page.contains("<th>max saturated / inactive units</th>"));
    let cells: Vec<&str> = page
        .split("<td class=\"num\">")
        .filter_map(|c| c.split('<').next())
        .filter(|c| c.ends_with(" saturated") || c.ends_with(" inactive"))
        .collect();
    assert_eq!(cells.len(), 2, "{cells:?}");
    assert!(
        cells[0].ends_with(" saturated") && cells[1].ends_with(" inactive"),
        "{cells:?}"
    );
}
