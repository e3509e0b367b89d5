//! `gradscope export`: TensorBoard event files read back by an independent
//! reader (and compared with what TensorBoard's own reader saw, a fixture),
//! the probe table in CSV, JSON and Parquet compared with the store and
//! with what pandas and DuckDB read (a fixture), and the errors for bad
//! input. The fixtures under tests/fixtures/export/ were made by
//! scripts/export_readers.py from the samples that the ignored test
//! `write_samples_for_the_python_readers` writes (docs/EXPORT.md).

#[path = "../support/mod.rs"]
mod support;

mod reader;
mod synthetic;

use assert_cmd::Command;
use gradscope::export::{self, Shape, TableFormat};
use gradscope::store::Store;
use predicates::prelude::*;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn gradscope_in(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("gradscope").unwrap();
    c.env("NO_COLOR", "1").current_dir(dir);
    c
}

/// Trains a short xor run in `dir` (probed every step: 12 steps, 3
/// layers, histograms at step 0 and 10).
fn train(dir: &Path) {
    gradscope_in(dir)
        .args(["train", "--data", "xor", "--depth", "2", "--width", "8"])
        .args(["--steps", "12", "-q", "--set", "probe.histogram_every=10"])
        .assert()
        .success();
}

fn fixture(name: &str) -> Json {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/export")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The one event file under `dir`.
fn event_file(dir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = walk(dir)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains("tfevents")
        })
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.pop().unwrap()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Scalars per tag, `(step, value)` in file order, and histograms.
type Scalars = BTreeMap<String, Vec<(i64, f32)>>;
type Histos = BTreeMap<String, Vec<(i64, reader::Histo)>>;

fn by_tag(events: &[reader::Event]) -> (Scalars, Histos) {
    let (mut s, mut h) = (Scalars::new(), Histos::new());
    for e in events {
        for v in &e.values {
            if let Some(x) = v.simple_value {
                s.entry(v.tag.clone()).or_default().push((e.step, x));
            }
            if let Some(x) = &v.histo {
                h.entry(v.tag.clone())
                    .or_default()
                    .push((e.step, x.clone()));
            }
        }
    }
    (s, h)
}

/// The run's steps and probes as the store holds them, every row (read
/// one at a time, whatever `Store::load` keeps in memory for a long run).
fn stored(store: &Store, id: i64) -> Stored {
    use gradscope::probe::{HistogramRecord, StepProbe};
    let mut steps = Vec::new();
    store
        .each_step(id, |s| {
            steps.push(s.clone());
            Ok(())
        })
        .unwrap();
    let mut probes: Vec<StepProbe> = Vec::new();
    store
        .each_layer_row(id, |step, l| {
            if probes.last().is_none_or(|p| p.step != step) {
                probes.push(StepProbe {
                    step,
                    layers: Vec::new(),
                    histograms: Vec::new(),
                });
            }
            probes.last_mut().unwrap().layers.push(l.clone());
            Ok(())
        })
        .unwrap();
    store
        .each_histogram(id, |h| {
            let p = probes.iter_mut().find(|p| p.step == h.step).unwrap();
            p.histograms.push(HistogramRecord {
                layer: h.layer,
                tensor: h.tensor,
                hist: h.hist.clone(),
            });
            Ok(())
        })
        .unwrap();
    Stored { steps, probes }
}

/// What [`stored`] reads.
struct Stored {
    steps: Vec<gradscope::experiment::trainer::StepRecord>,
    probes: Vec<gradscope::probe::StepProbe>,
}

#[test]
fn tensorboard_events_of_a_trained_run_read_back_and_match_the_store() {
    let dir = tempfile::tempdir().unwrap();
    train(dir.path());
    gradscope_in(dir.path())
        .args(["export", "last", "--format", "tensorboard", "tb"])
        .assert()
        .success()
        .stderr(predicate::str::contains("tensorboard --logdir tb"));
    let file = event_file(&dir.path().join("tb"));
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("events.out.tfevents.") && name.ends_with(".gradscope.1"),
        "{name}"
    );
    let events = reader::events(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(events[0].file_version.as_deref(), Some("brain.Event:2"));
    assert!(events[1..].iter().all(|e| e.file_version.is_none()));

    let store = Store::open(dir.path().join("gradscope.db")).unwrap();
    let record = stored(&store, 1);
    let (scalars, histos) = by_tag(&events);
    let loss: Vec<(i64, f32)> = record
        .steps
        .iter()
        .map(|s| (s.step as i64, s.loss as f32))
        .collect();
    assert_eq!(scalars["train/loss"], loss);
    assert_eq!(record.probes.len(), 12);
    for (l, layer) in record.probes[0].layers.iter().enumerate() {
        let norms: Vec<(i64, f32)> = record
            .probes
            .iter()
            .map(|p| (p.step as i64, p.layers[l].weight_grad.l2() as f32))
            .collect();
        assert_eq!(scalars[&format!("grad_norm/{}", layer.path)], norms);
        assert_eq!(scalars[&format!("weight_grad/l2/{}", layer.path)], norms);
        let ratio = record.probes[5].layers[l].update_ratio as f32;
        assert_eq!(
            scalars[&format!("update_ratio/{}", layer.path)][5],
            (5, ratio)
        );
    }
    // Every histogram of the store, its finite entries in the buckets.
    let stored: Vec<_> = record
        .probes
        .iter()
        .flat_map(|p| p.histograms.iter().map(move |h| (p.step, h)))
        .collect();
    assert_eq!(stored.len(), histos.values().map(Vec::len).sum::<usize>());
    assert!(!stored.is_empty());
    for (step, h) in stored {
        let path = &record.probes[0].layers[h.layer].path;
        let tag = format!("hist/{}/{path}", h.tensor.name());
        let (_, got) = histos[&tag]
            .iter()
            .find(|(s, _)| *s == step as i64)
            .unwrap();
        let finite = (h.hist.total() - h.hist.non_finite) as f64;
        assert_eq!(got.num, finite);
        assert_eq!(got.bucket.iter().sum::<f64>(), finite);
        assert!(got.bucket_limit.windows(2).all(|w| w[0] < w[1]));
        assert!(got.min <= got.max);
    }
}

/// The fixture's number: finite, or "inf" / "-inf".
fn number(v: &Json) -> f64 {
    match v {
        Json::String(s) if s == "inf" => f64::INFINITY,
        Json::String(s) if s == "-inf" => f64::NEG_INFINITY,
        Json::Null => f64::NAN,
        v => v.as_f64().unwrap(),
    }
}

#[test]
fn tensorboard_events_match_what_tensorboard_read() {
    let want = fixture("tensorboard.json");
    let dir = tempfile::tempdir().unwrap();
    let (db, id) = synthetic::store(dir.path());
    let store = Store::open(&db).unwrap();
    let files = export::export_tensorboard(&store, &[id], &dir.path().join("tb")).unwrap();
    let events = reader::events(&std::fs::read(&files[0].0).unwrap()).unwrap();
    assert_eq!(
        events[0].file_version.as_deref(),
        want["file_version"].as_str()
    );
    let (scalars, histos) = by_tag(&events);

    let want_scalars = want["scalars"].as_object().unwrap();
    assert_eq!(
        scalars.keys().collect::<Vec<_>>(),
        want_scalars.keys().collect::<Vec<_>>(),
        "scalar tags"
    );
    for (tag, points) in want_scalars {
        let want: Vec<(i64, f32)> = points
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_i64().unwrap(), number(&p[1]) as f32))
            .collect();
        assert_eq!(scalars[tag], want, "{tag}");
    }
    let want_histos = want["histograms"].as_object().unwrap();
    assert_eq!(
        histos.keys().collect::<Vec<_>>(),
        want_histos.keys().collect::<Vec<_>>()
    );
    for (tag, points) in want_histos {
        for (got, p) in histos[tag].iter().zip(points.as_array().unwrap()) {
            let h = &p[1];
            let list =
                |k: &str| -> Vec<f64> { h[k].as_array().unwrap().iter().map(number).collect() };
            let want = reader::Histo {
                min: number(&h["min"]),
                max: number(&h["max"]),
                num: number(&h["num"]),
                sum: number(&h["sum"]),
                sum_squares: number(&h["sum_squares"]),
                bucket_limit: list("bucket_limit"),
                bucket: list("bucket"),
            };
            assert_eq!((got.0, &got.1), (p[0].as_i64().unwrap(), &want), "{tag}");
        }
    }
    // The bits TensorBoard cannot show: the infinite gradient norm is
    // there, a figure below f32's range is 0, NaN is left out.
    assert_eq!(scalars["train/grad_norm"][3], (3, f32::INFINITY));
    assert_eq!(scalars["pre_grad/sum/layers.0"][0], (0, 0.0));
    assert!(!scalars.contains_key("eval/test_accuracy"));
    assert!(scalars.contains_key("eval/test_loss"));
}

/// A table as the fixture holds it: a row of cells per row.
fn fixture_rows(v: &Json) -> Vec<Vec<Cell>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, c)| Cell::from_json(c, i < 3))
                .collect()
        })
        .collect()
}

/// A cell to compare: integers, text and doubles (NaN is missing; equal
/// when both are NaN).
#[derive(Clone, Debug)]
enum Cell {
    I(i64),
    S(String),
    F(f64),
}

impl PartialEq for Cell {
    fn eq(&self, o: &Cell) -> bool {
        match (self, o) {
            (Cell::I(a), Cell::I(b)) => a == b,
            (Cell::S(a), Cell::S(b)) => a == b,
            (Cell::F(a), Cell::F(b)) => a == b || (a.is_nan() && b.is_nan()),
            _ => false,
        }
    }
}

impl Cell {
    /// A JSON value; `int` for the integer columns (run, step, layer).
    fn from_json(v: &Json, int: bool) -> Cell {
        match v {
            Json::Number(n) if int => Cell::I(n.as_i64().unwrap()),
            Json::String(s) if s != "inf" && s != "-inf" => Cell::S(s.clone()),
            v => Cell::F(number(v)),
        }
    }
}

/// Our CSV, parsed (no field of these tables needs quoting).
fn parse_csv(text: &str, int_columns: usize) -> (Vec<String>, Vec<Vec<Cell>>) {
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| {
            l.split(',')
                .enumerate()
                .map(|(i, f)| match (i, f) {
                    (i, f) if i < int_columns => Cell::I(f.parse().unwrap()),
                    (_, "") => Cell::F(f64::NAN),
                    (_, f) => f.parse().map(Cell::F).unwrap_or_else(|_| Cell::S(f.into())),
                })
                .collect()
        })
        .collect();
    (header, rows)
}

/// Our JSON, parsed: its keys (sorted: serde_json's maps are) and the
/// rows' cells in the order of `columns`.
fn parse_json(bytes: &[u8], columns: &[String]) -> (Vec<String>, Vec<Vec<Cell>>) {
    let v: Json = serde_json::from_slice(bytes).unwrap();
    let rows: Vec<&serde_json::Map<String, Json>> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_object().unwrap())
        .collect();
    let keys = rows[0].keys().cloned().collect();
    let rows = rows
        .iter()
        .map(|r| {
            columns
                .iter()
                .enumerate()
                .map(|(i, c)| Cell::from_json(&r[c], i < 3))
                .collect()
        })
        .collect();
    (keys, rows)
}

/// Our Parquet, read back with the parquet crate's reader.
fn parse_parquet(path: &Path) -> (Vec<String>, Vec<Vec<Cell>>) {
    use parquet::file::reader::SerializedFileReader;
    use parquet::record::Field;
    let reader = SerializedFileReader::try_from(std::fs::File::open(path).unwrap()).unwrap();
    let mut header = Vec::new();
    let mut rows = Vec::new();
    for row in reader {
        let row = row.unwrap();
        if header.is_empty() {
            header = row.get_column_iter().map(|(n, _)| n.clone()).collect();
        }
        rows.push(
            row.get_column_iter()
                .map(|(_, f)| match f {
                    Field::Long(i) => Cell::I(*i),
                    Field::Str(s) => Cell::S(s.clone()),
                    Field::Double(x) => Cell::F(*x),
                    Field::Null => Cell::F(f64::NAN),
                    other => panic!("unexpected {other:?}"),
                })
                .collect(),
        );
    }
    (header, rows)
}

/// Writes the synthetic run's six tables into `dir`: `long.csv`,
/// `wide.parquet`, ...
fn write_tables(dir: &Path) {
    let (db, id) = synthetic::store(dir);
    let store = Store::open(&db).unwrap();
    for (shape, s) in [(Shape::Long, "long"), (Shape::Wide, "wide")] {
        for format in [TableFormat::Csv, TableFormat::Json, TableFormat::Parquet] {
            let path = dir.join(format!("{s}.{}", format.extension()));
            export::export_table(&store, &[id], format, shape, &path).unwrap();
        }
    }
}

#[test]
fn tables_match_what_pandas_and_duckdb_read() {
    let want = fixture("tables.json");
    let dir = tempfile::tempdir().unwrap();
    write_tables(dir.path());
    for (shape, ints) in [("long", 3), ("wide", 3)] {
        let columns: Vec<String> = want[shape]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        let rows = fixture_rows(&want[shape]["rows"]);
        let csv = std::fs::read_to_string(dir.path().join(format!("{shape}.csv"))).unwrap();
        let json = std::fs::read(dir.path().join(format!("{shape}.json"))).unwrap();
        let ours = [
            ("csv", parse_csv(&csv, ints)),
            ("json", parse_json(&json, &columns)),
            (
                "parquet",
                parse_parquet(&dir.path().join(format!("{shape}.parquet"))),
            ),
        ];
        for (format, (mut header, got)) in ours {
            let mut want_columns = columns.clone();
            if format == "json" {
                want_columns.sort();
                header.sort();
            }
            assert_eq!(header, want_columns, "{shape} {format}: columns");
            assert_eq!(got.len(), rows.len(), "{shape} {format}: rows");
            for (i, (g, w)) in got.iter().zip(&rows).enumerate() {
                // JSON has no infinities: null there.
                let w: Vec<Cell> = w
                    .iter()
                    .map(|c| match c {
                        Cell::F(x) if format == "json" && x.is_infinite() => Cell::F(f64::NAN),
                        c => c.clone(),
                    })
                    .collect();
                assert_eq!(g, &w, "{shape} {format}: row {i}");
            }
        }
        // What each reader made of each file: the same columns, the
        // numeric types, and the same values as the canonical read.
        for format in ["csv", "json", "parquet"] {
            for tool in ["pandas", "duckdb"] {
                let r = &want["readers"][format!("{tool} {format} {shape}")];
                assert_eq!(
                    r["rows"].as_u64(),
                    Some(rows.len() as u64),
                    "{tool} {format} {shape}"
                );
                assert_eq!(r["columns"].as_array().unwrap().len(), columns.len());
                assert_eq!(
                    r["max_rel_diff"].as_f64(),
                    Some(0.0),
                    "{tool} {format} {shape}"
                );
                let types = r["types"].as_object().unwrap();
                let step = types["step"].as_str().unwrap().to_lowercase();
                assert!(
                    step.contains("int"),
                    "{tool} {format} {shape}: step is {step}"
                );
                let value = if shape == "long" {
                    "value"
                } else {
                    "weight_grad_l2"
                };
                let value = types[value].as_str().unwrap().to_lowercase();
                assert!(
                    value.contains("float") || value.contains("double"),
                    "{tool} {format} {shape}: {value}"
                );
            }
        }
    }
}

#[test]
fn long_and_wide_tables_hold_the_store_figures() {
    let dir = tempfile::tempdir().unwrap();
    train(dir.path());
    let run = |args: &[&str]| {
        let out = gradscope_in(dir.path())
            .arg("export")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let long = run(&["1", "--format", "csv", "-o", "-"]);
    let wide = run(&["1", "--format", "csv", "--wide", "-"]);
    let (lh, long) = parse_csv(&long, 3);
    let (wh, wide) = parse_csv(&wide, 3);
    assert_eq!(
        lh,
        ["run", "step", "layer", "path", "tensor", "metric", "value"]
    );
    let record = stored(&Store::open(dir.path().join("gradscope.db")).unwrap(), 1);
    let layers = record.probes[0].layers.len();
    assert_eq!(wide.len(), record.probes.len() * layers);
    let col = |name: &str| wh.iter().position(|c| c == name).unwrap();
    for (r, row) in wide.iter().enumerate() {
        let l = &record.probes[r / layers].layers[r % layers];
        assert_eq!(row[1], Cell::I(record.probes[r / layers].step as i64));
        assert_eq!(row[col("weight_grad_l2")], Cell::F(l.weight_grad.l2()));
        assert_eq!(row[col("pre_p50")], Cell::F(l.pre_pct[1]));
        assert_eq!(row[col("update_ratio")], Cell::F(l.update_ratio));
        assert_eq!(row[col("saturated")], Cell::F(l.saturated));
    }
    // Every measured figure of the wide table is one long row, the same value.
    let measured: usize = wide
        .iter()
        .map(|r| r[4..].iter().filter(|c| **c != Cell::F(f64::NAN)).count())
        .sum();
    assert_eq!(long.len(), measured);
    let last = &record.probes.last().unwrap().layers[layers - 1];
    let want = Cell::F(last.out.std());
    let got = long
        .iter()
        .rev()
        .find(|r| r[4] == Cell::S("out".into()) && r[5] == Cell::S("std".into()))
        .unwrap();
    assert_eq!(got[6], want);
}

#[test]
fn several_runs_go_into_one_table_and_one_folder_each() {
    let dir = tempfile::tempdir().unwrap();
    train(dir.path());
    train(dir.path());
    gradscope_in(dir.path())
        .args(["export", "1-2", "--format", "json", "--wide", "."])
        .assert()
        .success()
        .stdout(predicate::str::contains("runs-1-2-wide.json"));
    let file = std::fs::read(dir.path().join("runs-1-2-wide.json")).unwrap();
    let (_, rows) = parse_json(&file, &["run".to_string()]);
    let runs: std::collections::BTreeSet<i64> = rows
        .iter()
        .map(|r| match r[0] {
            Cell::I(i) => i,
            _ => panic!(),
        })
        .collect();
    assert_eq!(runs, [1, 2].into());
    gradscope_in(dir.path())
        .args(["export", "1,last", "--format", "tensorboard", "tb"])
        .assert()
        .success();
    let folders: Vec<_> = std::fs::read_dir(dir.path().join("tb"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(folders.len(), 2, "{folders:?}");
    // A second export replaces the first file, not adds to it.
    gradscope_in(dir.path())
        .args(["export", "1", "--format", "tensorboard", "tb"])
        .assert()
        .success();
    assert_eq!(walk(&dir.path().join("tb")).len(), 2);
}

#[test]
fn bad_input_is_refused_naming_the_flag_or_path() {
    let dir = tempfile::tempdir().unwrap();
    let fails = |args: &[&str], code: i32, text: &str| {
        gradscope_in(dir.path())
            .arg("export")
            .args(args)
            .assert()
            .code(code)
            .stderr(predicate::str::contains(text));
    };
    fails(&["1", "--format", "csv", "x.csv"], 1, "no such store");
    train(dir.path());
    fails(
        &["9", "--format", "csv", "x.csv"],
        1,
        "no run 9 in gradscope.db",
    );
    fails(
        &["first", "--format", "csv", "x.csv"],
        1,
        "`first` is not a run id",
    );
    fails(
        &["1", "--format", "xml", "x"],
        2,
        "invalid value 'xml' for '--format <FORMAT>'",
    );
    fails(&["1", "x.csv"], 2, "--format <FORMAT>");
    std::fs::write(dir.path().join("file"), "").unwrap();
    fails(
        &["1", "--format", "tensorboard", "file"],
        1,
        "file: is a file; --format tensorboard writes a folder",
    );
    fails(
        &["1", "--format", "tensorboard", "--wide", "tb"],
        1,
        "--wide: applies to csv, json and parquet",
    );
    fails(
        &["1", "--format", "parquet", "-"],
        1,
        "--format parquet writes a binary file; give a file, not `-`",
    );
    fails(
        &["1", "--format", "csv", "no/such/x.csv"],
        1,
        "no/such/x.csv: no folder no/such",
    );
    fails(
        &["1", "--format", "csv", "file/x.csv"],
        1,
        "file/x.csv: no folder file",
    );
    assert!(!dir.path().join("x.csv").exists());
    // A folder no one may write into: /proc refuses even root.
    if !Path::new("/proc/self").exists() {
        return support::skip("no /proc here to refuse a write");
    }
    fails(&["1", "--format", "csv", "/proc/x.csv"], 1, "/proc/x.csv:");
    fails(&["1", "--format", "tensorboard", "/proc/tb"], 1, "/proc/tb");
}

/// Not a check: writes the synthetic run's exports for
/// scripts/export_readers.py into `$GRADSCOPE_EXPORT_SAMPLES`.
#[test]
#[ignore]
fn write_samples_for_the_python_readers() {
    let Some(dir) = std::env::var_os("GRADSCOPE_EXPORT_SAMPLES") else {
        panic!("set GRADSCOPE_EXPORT_SAMPLES to the folder to write");
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    write_tables(&dir);
    std::fs::create_dir_all(dir.join("tbsource")).unwrap();
    let (db, id) = synthetic::store(&dir.join("tbsource"));
    let store = Store::open(&db).unwrap();
    export::export_tensorboard(&store, &[id], &dir.join("tb")).unwrap();
}
