use super::schema::{layer_columns, series_columns};
use super::*;
use crate::analysis::diagnose::{Evidence, Finding, FindingKind, Remedy, Severity};
use crate::experiment::trainer::{EvalRecord, Event, Sink, StepRecord, Summary};
use crate::experiment::{RecordSink, RunRecord, RunStatus, Spec, Tee};
use crate::probe::{
    Axis, HistTensor, Histogram, HistogramRecord, LayerProbe, Series, StepProbe, TensorStats,
};

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gradscope.db");
    (dir, path)
}

fn stats(seed: f64) -> TensorStats {
    TensorStats {
        n: 96,
        sum: 0.1 * seed - 0.37,
        sum_sq: 1.0 / 3.0 * seed,
        max_abs: 0.7 + seed,
        nan: 0,
        inf: 0,
        zeros: 3,
        subnormal: 5,
    }
}

/// Two series along different axes, with NaN and an empty tensor, for a
/// layer of a block that has them (a recurrent cell, a conv layer).
fn two_series(s: f64) -> Vec<Series> {
    vec![
        Series {
            tensor: "hidden_grad".into(),
            axis: Axis::TimeStep,
            stats: (0..4)
                .map(|t| TensorStats {
                    sum: if t == 2 {
                        f64::NAN
                    } else {
                        -0.25 * (t + 1) as f64
                    },
                    subnormal: t,
                    ..stats(s + t as f64)
                })
                .collect(),
        },
        Series {
            tensor: "out".into(),
            axis: Axis::Channel,
            stats: vec![stats(s * 7.0), TensorStats::default(), stats(1e-300)],
        },
    ]
}

/// A probe with the awkward values: NaN, infinities, a layer without bias,
/// percentiles and histograms.
fn probe(step: usize, layers: usize) -> StepProbe {
    let layers = (0..layers)
        .map(|i| {
            let last = i + 1 == layers;
            let s = (step * 31 + i) as f64 + 0.5;
            LayerProbe {
                layer: i,
                path: format!("layers.{}", 3 * i),
                weight: stats(s),
                weight_grad: TensorStats {
                    nan: 2,
                    inf: 1,
                    sum_sq: if i == 1 { f64::INFINITY } else { 1e-61 * s },
                    ..stats(s + 1.0)
                },
                bias_grad: (i % 2 == 0).then(|| stats(s + 2.0)),
                pre_grad: stats(s + 3.0),
                out_grad: stats(s + 4.0),
                pre: stats(s + 5.0),
                pre_pct: [-1.25 * s, f64::NAN, std::f64::consts::PI],
                out: TensorStats {
                    n: 0,
                    ..TensorStats::default()
                },
                saturated: if last { f64::NAN } else { 0.125 },
                dead: f64::NAN,
                update_ratio: 1e-3 / s,
                series: if i == 0 { two_series(s) } else { Vec::new() },
            }
        })
        .collect();
    let histograms = if step.is_multiple_of(10) {
        let mut h = Histogram::of(&[1.0f64, -2e-7, 0.0, f64::NAN, 3e-30]);
        h.pos[7] = step as u64;
        vec![
            HistogramRecord {
                layer: 1,
                tensor: HistTensor::PreGrad,
                hist: h.clone(),
            },
            HistogramRecord {
                layer: 0,
                tensor: HistTensor::WeightGrad,
                hist: h,
            },
        ]
    } else {
        Vec::new()
    };
    StepProbe {
        step,
        layers,
        histograms,
    }
}

fn spec(name: &str) -> Spec {
    Spec {
        name: name.into(),
        seed: 42,
        ..Spec::default()
    }
}

/// Feeds `steps` steps of synthetic events; finishes when `finish`.
fn feed(sink: &mut dyn Sink, spec: &Spec, steps: usize, layers: usize, finish: bool) {
    sink.event(&Event::Started {
        spec,
        total_steps: steps,
        params: 1,
    });
    for step in 0..steps {
        let s = StepRecord {
            step,
            loss: std::f64::consts::LN_10 / (1.0 + step as f64),
            accuracy: 0.1 + 0.01 * step as f64,
            lr: 0.1,
            grad_norm: if step == 3 { f64::INFINITY } else { 0.3 },
        };
        sink.event(&Event::Step(&s));
        sink.event(&Event::Probe(&probe(step, layers)));
        if step % 7 == 6 {
            let e = EvalRecord {
                step: step + 1,
                train_loss: 0.5,
                train_accuracy: 0.75,
                test_loss: f64::NAN,
                test_accuracy: 0.7,
            };
            sink.event(&Event::Eval(&e));
        }
    }
    if finish {
        sink.event(&Event::Finished(&Summary {
            steps,
            train_loss: 0.1 + 0.2,
            train_accuracy: 0.9,
            test_loss: f64::NAN,
            test_accuracy: 0.8,
            grad_norms: vec![1e-7, f64::INFINITY, 0.30000000000000004],
            layers: vec!["layers.0".into(), "layers.3".into()],
            train_seconds: 1.5,
            sample: Some("And he said,\n\"Go\" \u{1b}[2J".into()),
        }));
    }
}

/// Exact (bitwise, NaN-aware) equality through `Debug`, which prints every
/// float's shortest round-trip form and NaN as `NaN`.
pub(crate) fn assert_same(got: &RunRecord, want: &RunRecord) {
    let (g, w) = (format!("{got:#?}"), format!("{want:#?}"));
    if g != w {
        let line = g.lines().zip(w.lines()).position(|(a, b)| a != b);
        let at = line.unwrap_or(g.lines().count().min(w.lines().count()));
        panic!(
            "records differ at line {at}:\n  got:  {:?}\n  want: {:?}",
            g.lines().nth(at),
            w.lines().nth(at)
        );
    }
}

#[test]
fn a_synthetic_run_round_trips_with_nan_and_infinities() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let spec = spec("synthetic");
    let mut writer = store.begin_run(&spec, 25).unwrap();
    let mut memory = RecordSink::new(spec.clone());
    feed(&mut Tee(vec![&mut writer, &mut memory]), &spec, 25, 3, true);
    let id = writer.close().unwrap();
    let mut want = memory.record;
    want.id = Some(id);
    assert_same(&store.load(id).unwrap(), &want);
    assert_eq!(want.status, RunStatus::Finished);
    assert_eq!(want.probes[0].histograms.len(), 2);
    // What the round trip carried: subnormal counts, and two series.
    assert_eq!(want.probes[3].layers[0].weight.subnormal, 5);
    let series = &want.probes[3].layers[0].series;
    assert_eq!(series.len(), 2);
    assert_eq!(
        (series[0].stats.len(), series[0].stats[3].subnormal),
        (4, 3)
    );
}

#[test]
fn series_rows_are_one_per_index_and_answer_the_documented_query() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let spec = spec("series");
    let mut writer = store.begin_run(&spec, 2).unwrap();
    feed(&mut writer, &spec, 2, 3, true);
    let id = writer.close().unwrap();
    let rows: i64 = store
        .conn
        .query_row(
            "SELECT count(*) FROM layer_series WHERE run_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 2 * (4 + 3), "two steps, 4 time steps and 3 channels");
    // docs/STORE.md's query: the hidden-state gradient norm per time step.
    let mut stmt = store
        .conn
        .prepare(
            "SELECT idx AS time_step, l2 FROM layer_series \
             WHERE run_id = ?1 AND step = 1 AND layer = 0 \
               AND tensor = 'hidden_grad' AND axis = 'time_step' ORDER BY idx",
        )
        .unwrap();
    let got: Vec<(i64, f64)> = stmt
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let want: Vec<(i64, f64)> = probe(1, 3).layers[0].series[0]
        .stats
        .iter()
        .enumerate()
        .map(|(t, s)| (t as i64, s.l2()))
        .collect();
    assert_eq!(got, want);
}

/// Every ```sql block of docs/STORE.md's sqlite3 examples runs against a
/// store (run 1, twelve steps, a layer with series), and the ones that
/// pick rows of this run find some.
#[test]
fn the_documented_sqlite_queries_run() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/STORE.md")).unwrap();
    let start = doc.find("### sqlite3").expect("a sqlite3 section");
    let end = start + doc[start..].find("### pandas").expect("a pandas section");
    let queries: Vec<&str> = doc[start..end]
        .split("```sql\n")
        .skip(1)
        .map(|b| &b[..b.find("```").expect("closed block")])
        .collect();
    assert!(queries.len() >= 7, "{} queries", queries.len());
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let spec = spec("documented");
    let mut writer = store.begin_run(&spec, 12).unwrap();
    feed(&mut writer, &spec, 12, 3, true);
    assert_eq!(writer.close().unwrap(), 1);
    for q in queries {
        let mut stmt = store.conn.prepare(q).unwrap_or_else(|e| panic!("{e}: {q}"));
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap_or_else(|e| panic!("{e}: {q}"));
        let mut n = 0;
        while let Some(row) = rows.next().unwrap_or_else(|e| panic!("{e}: {q}")) {
            for i in 0..columns {
                let _: rusqlite::types::Value = row.get(i).unwrap();
            }
            n += 1;
        }
        let about_this_run = !q.contains("spec LIKE");
        assert!(n > 0 || !about_this_run, "no rows: {q}");
    }
}

/// A store as schema version 1 wrote it (v1.sql alone, rows without
/// subnormal counts) opens, migrates to the current version and reads
/// back: its tensors with no subnormal entries, its layers with no
/// series, its new columns NULL; a run written after the migration keeps
/// everything.
#[test]
fn a_version_1_store_migrates_and_reads_back() {
    let (_dir, path) = temp_db();
    let spec = spec("from-v1");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(include_str!("v1.sql")).unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    conn.execute(
        "INSERT INTO runs (name, spec, status, created_at, seed, gradscope_version, pid, host, \
         total_steps) VALUES (?1, ?2, 'finished', 0, 42, '0.1.0', 1, 'elsewhere', 1)",
        params![spec.name, spec.to_toml()],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO steps (run_id, step, loss) VALUES (1, 0, 2.5)",
        [],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO layer_steps (run_id, step, layer, path, weight_grad_n, weight_grad_sum, \
         weight_grad_sum_sq, weight_grad_max_abs, weight_grad_nan, weight_grad_inf, \
         weight_grad_zeros, weight_grad_l2, saturated) \
         VALUES (1, 0, 0, 'layers.0', 10, 0.5, 4.0, 1.5, 0, 1, 2, 2.0, 0.25)",
        [],
    )
    .unwrap();
    drop(conn);

    let store = Store::open(&path).unwrap();
    assert_eq!(schema::version(&store.conn, &path).unwrap(), SCHEMA_VERSION);
    let old = store.load(1).unwrap();
    let layer = &old.probes[0].layers[0];
    let want = TensorStats {
        n: 10,
        sum: 0.5,
        sum_sq: 4.0,
        max_abs: 1.5,
        inf: 1,
        zeros: 2,
        ..TensorStats::default()
    };
    assert_eq!(layer.weight_grad, want);
    assert_eq!((layer.saturated, layer.series.len()), (0.25, 0));
    let (subnormal, frac): (Option<i64>, Option<f64>) = store
        .conn
        .query_row(
            "SELECT weight_grad_subnormal, weight_grad_subnormal_frac FROM layer_steps",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((subnormal, frac), (None, None), "not measured in v1");

    let mut writer = store.begin_run(&spec, 3).unwrap();
    let mut memory = RecordSink::new(spec.clone());
    feed(&mut Tee(vec![&mut writer, &mut memory]), &spec, 3, 2, true);
    let id = writer.close().unwrap();
    let mut want = memory.record;
    want.id = Some(id);
    assert_same(&store.load(id).unwrap(), &want);
}

#[test]
fn layer_steps_has_every_column_the_code_writes() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let columns = |table: &str| -> Vec<String> {
        let mut names: Vec<String> = store
            .conn
            .prepare("SELECT name FROM pragma_table_info(?1)")
            .unwrap()
            .query_map([table], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        names.sort();
        names
    };
    // The same set (v2 appended its columns after v1's tail).
    let mut written = layer_columns().to_vec();
    written.sort();
    assert_eq!(columns("layer_steps"), written);
    let mut written: Vec<String> = series_columns().iter().map(|c| c.to_string()).collect();
    written.sort();
    assert_eq!(columns("layer_series"), written);
}

#[test]
fn derived_columns_hold_l2_and_nan_is_null() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let spec = spec("derived");
    let mut writer = store.begin_run(&spec, 1).unwrap();
    feed(&mut writer, &spec, 1, 3, true);
    let id = writer.close().unwrap();
    let p = probe(0, 3);
    let (l2, dead, bias_n, sub, sub_frac): (f64, Option<f64>, Option<i64>, i64, f64) = store
        .conn
        .query_row(
            "SELECT pre_grad_l2, dead, bias_grad_n, pre_grad_subnormal, \
             pre_grad_subnormal_frac FROM layer_steps \
             WHERE run_id = ?1 AND step = 0 AND layer = 1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(l2, p.layers[1].pre_grad.l2());
    assert_eq!((sub, sub_frac), (5, 5.0 / 96.0));
    assert_eq!(dead, None, "NaN is stored as NULL");
    assert_eq!(bias_n, None, "no bias: NULL columns");
}

#[test]
fn an_empty_file_is_migrated_to_the_current_version() {
    let (_dir, path) = temp_db();
    std::fs::write(&path, b"").unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(schema::version(&store.conn, &path).unwrap(), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 3);
    let tables: Vec<String> = store
        .conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        tables,
        [
            "classifications",
            "evals",
            "findings",
            "histograms",
            "layer_series",
            "layer_steps",
            "runs",
            "steps",
            "sweeps"
        ]
    );
    drop(store);
    // Opening again applies nothing and keeps the data.
    assert!(Store::open(&path).unwrap().runs().unwrap().is_empty());
}

#[test]
fn a_newer_schema_is_refused() {
    let (_dir, path) = temp_db();
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let err = Store::open(&path).err().expect("newer schema must fail");
    assert!(matches!(err, Error::Store { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("schema version 4 is newer") && msg.contains("version 3"),
        "{msg}"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_a_clear_error() {
    let (_dir, path) = temp_db();
    std::fs::write(&path, "name = \"not sqlite\"\n".repeat(200)).unwrap();
    let err = Store::open(&path).err().expect("garbage must fail");
    assert!(err.to_string().contains("not a database"), "{err}");
}

#[test]
fn a_missing_run_is_named() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let err = store.load(7).unwrap_err();
    assert_eq!(err.to_string(), format!("no run 7 in {}", path.display()));
    assert!(matches!(
        store.findings(7).unwrap_err(),
        Error::NoSuchRun { id: 7, .. }
    ));
}

#[test]
fn findings_are_replaced_and_keep_non_finite_evidence() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let spec = spec("findings");
    let id = store.begin_run(&spec, 1).unwrap().close().unwrap();
    let finding = |kind, value: f64| Finding {
        kind,
        severity: Severity::Critical,
        summary: "first layers get 1e-7 of the gradient".into(),
        layers: vec![0, 1],
        steps: vec![0, 29],
        evidence: vec![Evidence {
            name: "first_last_ratio".into(),
            value,
            note: "tiny".into(),
        }],
        remedies: vec![Remedy {
            title: "He initialization".into(),
            why: "keeps the variance".into(),
            command: "gradscope train --init he".into(),
        }],
    };
    store
        .save_findings(id, &[finding(FindingKind::Saturation, 1.0)])
        .unwrap();
    let want = vec![
        finding(FindingKind::VanishingGradient, 1.2345678901234567e-7),
        finding(FindingKind::ExplodingGradient, f64::INFINITY),
        finding(FindingKind::Divergence, f64::NEG_INFINITY),
    ];
    store.save_findings(id, &want).unwrap();
    let got = store.findings(id).unwrap();
    assert_eq!(got, want);
    let mut with_nan = finding(FindingKind::Stalled, f64::NAN);
    store.save_findings(id, &[with_nan.clone()]).unwrap();
    let got = store.findings(id).unwrap();
    assert!(got[0].evidence[0].value.is_nan());
    with_nan.evidence[0].value = 0.0;
    let mut got0 = got[0].clone();
    got0.evidence[0].value = 0.0;
    assert_eq!(got0, with_nan);
    let kind: String = store
        .conn
        .query_row("SELECT kind FROM findings WHERE run_id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(kind, "stalled");
}

#[test]
fn a_writer_closed_before_the_end_marks_its_run_interrupted() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let spec = spec("abandoned");
    let mut writer = store.begin_run(&spec, 10).unwrap();
    feed(&mut writer, &spec, 4, 2, false);
    drop(writer); // no close: Drop still flushes
    let runs = store.runs().unwrap();
    assert_eq!(runs[0].status, RunStatus::Interrupted);
    assert_eq!(runs[0].steps, 4);
    assert_eq!(runs[0].last_loss, Some(std::f64::consts::LN_10 / 4.0));
}

#[test]
fn running_runs_of_dead_processes_on_this_host_become_interrupted() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let spec = spec("live");
    let live = store.begin_run(&spec, 10).unwrap();
    // Above Linux's largest pid_max (2^22): no such process.
    let dead_pid = 1i64 << 30;
    for (name, host) in [
        ("dead", host::hostname()),
        ("elsewhere", "other-host".into()),
    ] {
        store
            .conn
            .execute(
                "INSERT INTO runs (name, spec, status, created_at, seed, gradscope_version, \
                 pid, host, total_steps) VALUES (?1, ?2, 'running', 0, 0, '0', ?3, ?4, 5)",
                params![name, spec.to_toml(), dead_pid, host],
            )
            .unwrap();
    }
    drop(store);
    let store = Store::open(&path).unwrap();
    let status: Vec<(String, RunStatus)> = store
        .runs()
        .unwrap()
        .into_iter()
        .map(|r| (r.name, r.status))
        .collect();
    let want = [
        ("live", RunStatus::Running),
        ("dead", RunStatus::Interrupted),
        ("elsewhere", RunStatus::Running),
    ];
    assert_eq!(
        status,
        want.map(|(n, s)| (n.to_string(), s)).to_vec(),
        "only the dead process of this host is interrupted"
    );
    drop(live);
}

#[test]
fn a_large_run_lands_in_batches() {
    // 1000 steps x 20 layers: more than FLUSH_ROWS rows, so several commits.
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let spec = spec("large");
    let mut writer = store.begin_run(&spec, 1000).unwrap();
    feed(&mut writer, &spec, 1000, 20, true);
    let id = writer.close().unwrap();
    let rows: i64 = store
        .conn
        .query_row(
            "SELECT count(*) FROM layer_steps WHERE run_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 20_000);
    let run = &store.runs().unwrap()[0];
    assert_eq!((run.steps, run.status), (1000, RunStatus::Finished));
    assert_eq!(run.test_accuracy, Some(0.7));
    assert_eq!(run.test_loss, None, "a NaN loss reads back as NULL");
}

/// Runs begun under a tag are the sweep's, with their cell and class;
/// the same name and hash find the same sweep; untagged runs are in none.
#[test]
fn a_sweeps_runs_carry_their_cell_and_class() {
    use crate::experiment::sweep::{Class, Classification};
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let id = store
        .sweep_id("s", "00ff", "[sweep]\nname = \"s\"\n")
        .unwrap();
    assert_eq!(store.sweep_id("s", "00ff", "ignored").unwrap(), id);
    assert_ne!(store.sweep_id("s", "0100", "other").unwrap(), id);
    store.begin_run(&spec("alone"), 1).unwrap().close().unwrap();
    store.set_tag(Some(SweepTag {
        sweep_id: id,
        cell: r#"{"model.depth":2}"#.into(),
    }));
    let run = store
        .begin_run(&spec("s/depth=2,seed=0"), 1)
        .unwrap()
        .close()
        .unwrap();
    let c = Classification {
        class: Class::Vanishes,
        rule: "vanishing_gradient".into(),
        evidence: serde_json::json!({"severity": "critical"}),
        test_accuracy: Some(0.5),
        test_loss: Some(f64::NAN),
    };
    store.save_classification(run, &c).unwrap();
    let rows = store.sweep_runs(id).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].cell, r#"{"model.depth":2}"#);
    let stored = rows[0].classification.clone().unwrap();
    assert_eq!(
        (stored.class, stored.test_accuracy),
        (Class::Vanishes, Some(0.5))
    );
    assert_eq!(stored.test_loss, None, "NaN is stored as NULL");
    assert_eq!(stored.evidence, c.evidence);
    assert_eq!(store.find_sweep(&id.to_string()).unwrap().unwrap().runs, 1);
    assert_eq!(
        store.find_sweep("s").unwrap().unwrap().runs,
        0,
        "the latest named s"
    );
    assert!(store.find_sweep("t").unwrap().is_none());
}

/// Merging copies a finished sweep run over an unfinished one of the same
/// name, never copies an unfinished one, and refuses the store itself.
#[test]
fn a_merge_keeps_one_finished_run_per_sweep_run() {
    use crate::experiment::sweep::{classify, Class};
    let (dir, path) = temp_db();
    let other = dir.path().join("other.db");
    let begin = |db: &Path, finish: bool| {
        let mut store = Store::open(db).unwrap();
        let sweep_id = store.sweep_id("s", "00ff", "spec").unwrap();
        store.set_tag(Some(SweepTag {
            sweep_id,
            cell: "{}".into(),
        }));
        let spec = spec("s/seed=0");
        let mut w = store.begin_run(&spec, 2).unwrap();
        feed(&mut w, &spec, 2, 1, finish);
        let id = w.close().unwrap();
        if finish {
            let c = classify(RunStatus::Finished, &[]);
            store.save_classification(id, &c).unwrap();
        }
    };
    begin(&path, false);
    begin(&other, true);
    let mut store = Store::open(&path).unwrap();
    // The unfinished run here is replaced by the finished one there.
    let m = store.merge_from(&other).unwrap();
    assert_eq!((m.runs, m.replaced, m.skipped), (1, 1, 0));
    let rows = store.sweep_runs(1).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, RunStatus::Finished);
    assert_eq!(
        rows[0].classification.as_ref().unwrap().class,
        Class::Trains
    );
    assert_eq!(store.load(rows[0].id).unwrap().steps.len(), 2);
    // The other way, the unfinished run is not copied.
    let third = dir.path().join("third.db");
    begin(&third, false);
    let m = store.merge_from(&third).unwrap();
    assert_eq!((m.runs, m.skipped), (0, 1));
    assert!(store.merge_from(&path).is_err(), "not into itself");
}

/// A run longer than the record's caps: the in-memory record stays
/// bounded (with the first and last step), the store keeps every step,
/// and reading the run back gives the same thinned record.
#[test]
fn a_long_run_is_bounded_in_memory_and_reads_back_thinned_the_same() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let spec = spec("long");
    let steps = 2 * RunRecord::STEPS.cap + 123;
    let mut writer = store.begin_run(&spec, steps).unwrap();
    let mut memory = RecordSink::new(spec.clone());
    let mut sinks = Tee(vec![&mut writer, &mut memory]);
    for step in 0..steps {
        let s = StepRecord {
            step,
            loss: 1.0 / (1.0 + step as f64),
            accuracy: 0.5,
            lr: 0.1,
            grad_norm: 0.3,
        };
        sinks.event(&Event::Step(&s));
        if step % 8 == 0 || step + 1 == steps {
            sinks.event(&Event::Probe(&probe(step, 1)));
        }
    }
    drop(sinks);
    let id = writer.close().unwrap();
    let mut want = memory.record;
    want.id = Some(id);
    want.status = RunStatus::Interrupted;
    want.total_steps = steps;
    assert!(want.steps.len() <= RunRecord::STEPS.cap + 1);
    assert!(want.probes.len() <= RunRecord::PROBES.cap + 1);
    assert_eq!(want.steps[0].step, 0);
    assert_eq!(want.steps_done(), steps, "the last step is kept");
    assert_eq!(want.probes.last().unwrap().step, steps - 1);
    assert_eq!(store.runs().unwrap()[0].steps, steps, "the store has all");
    assert_same(&store.load(id).unwrap(), &want);
}
