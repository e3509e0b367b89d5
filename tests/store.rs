//! The run store against real training: what goes in comes back bit for
//! bit, concurrent writers share one file, and a diverged run says so.

use gradscope::experiment::trainer::train;
use gradscope::experiment::{RecordSink, RunRecord, RunStatus, Spec, Tee};
use gradscope::store::Store;
use gradscope::Error;

fn tiny_spec(name: &str, seed: u64) -> Spec {
    let mut spec = Spec {
        name: name.into(),
        seed,
        steps: 30,
        batch: 32,
        eval_every: 10,
        ..Spec::default()
    };
    spec.data.name = "spirals".into();
    spec.data.train_size = 256;
    spec.data.test_size = 128;
    spec.model.widths = vec![16; 2];
    spec.probe.histogram_every = 10;
    spec
}

/// Trains `spec` through the store and a [`RecordSink`] at once; returns
/// the trainer's result, the run id and the in-memory record.
fn train_both(store: &Store, spec: &Spec) -> (gradscope::Result<()>, i64, RunRecord) {
    let data = spec.prepare_data().unwrap();
    let mut writer = store.begin_run(spec, spec.steps).unwrap();
    let mut memory = RecordSink::new(spec.clone());
    let result = train(spec, &data, &mut Tee(vec![&mut writer, &mut memory])).map(|_| ());
    let id = writer.close().unwrap();
    let mut record = memory.record;
    record.id = Some(id);
    (result, id, record)
}

/// Exact (NaN-aware) equality through `Debug`, which prints each float's
/// shortest round-trip form; the first differing line is shown.
fn assert_same(got: &RunRecord, want: &RunRecord) {
    let (g, w) = (format!("{got:#?}"), format!("{want:#?}"));
    for (i, (a, b)) in g.lines().zip(w.lines()).enumerate() {
        assert_eq!(a, b, "records differ at line {i} (got left, want right)");
    }
    assert_eq!(
        g.lines().count(),
        w.lines().count(),
        "record lengths differ"
    );
}

#[test]
fn a_trained_run_round_trips_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("gradscope.db")).unwrap();
    let spec = tiny_spec("roundtrip", 3);
    let (result, id, want) = train_both(&store, &spec);
    result.unwrap();
    assert_eq!(want.steps.len(), 30);
    assert_eq!(want.probes.len(), 30);
    assert_eq!(want.depth(), 3, "two hidden layers and the output layer");
    assert_eq!(want.probes[10].histograms.len(), 9, "3 tensors x 3 layers");
    // The output layer has no activation: NaN saturation must survive.
    assert!(want.probes[0].layers[2].saturated.is_nan());
    let got = store.load(id).unwrap();
    assert_same(&got, &want);
    assert_eq!(got.status, RunStatus::Finished);
    assert_eq!(got.spec, spec);

    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 1);
    let row = &runs[0];
    assert_eq!(
        (row.id, row.name.as_str(), row.steps),
        (id, "roundtrip", 30)
    );
    assert_eq!(row.last_loss, Some(want.steps[29].loss));
    let summary = want.summary.as_ref().unwrap();
    assert_eq!(row.test_accuracy, Some(summary.test_accuracy));
    assert!(row.finished_at.unwrap() >= row.created_at);
}

#[test]
fn two_concurrent_writers_both_land() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gradscope.db");
    // Both open a fresh file at once: migrations must not collide either.
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let store = Store::open(&path).unwrap();
                let mut spec = tiny_spec(&format!("worker-{i}"), i);
                spec.steps = 200;
                let (result, id, record) = train_both(&store, &spec);
                result.unwrap();
                (id, record)
            })
        })
        .collect();
    let done: Vec<(i64, RunRecord)> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.runs().unwrap().len(), 2);
    assert_ne!(done[0].0, done[1].0);
    for (id, want) in &done {
        let got = store.load(*id).unwrap();
        assert_eq!(got.steps.len(), 200);
        assert_same(&got, want);
    }
}

#[test]
fn a_diverged_run_is_stored_as_diverged_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("gradscope.db")).unwrap();
    let mut spec = tiny_spec("diverges", 0);
    spec.optimizer.lr = 1e30;
    let (result, id, want) = train_both(&store, &spec);
    let err = result.expect_err("lr 1e30 must diverge");
    assert!(matches!(err, Error::NonFinite { .. }), "{err:?}");
    let got = store.load(id).unwrap();
    assert_eq!(got.status, RunStatus::Diverged);
    assert_eq!(got.error.as_deref(), Some(err.to_string().as_str()));
    assert!(got.summary.is_none());
    assert_same(&got, &want);
}
