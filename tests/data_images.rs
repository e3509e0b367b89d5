//! Image data end to end: the bundled Fashion-MNIST subset through the
//! binary, an image's shape travelling from the data to a CNN's stem,
//! seeded augmentation in the training loop, and `data fetch cifar10`
//! against a local server.

use assert_cmd::Command;
use gradscope::data::idx::{encode, IdxArray};
use gradscope::experiment::trainer::train;
use gradscope::experiment::{RecordSink, RunRecord, Spec};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

fn gradscope_in(dir: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("gradscope").unwrap();
    c.env("NO_COLOR", "1")
        .env("GRADSCOPE_CACHE", dir.join("cache"))
        .current_dir(dir);
    c
}

fn run(toml: &str) -> RunRecord {
    let spec = Spec::from_toml(toml, "test").unwrap();
    let data = spec.prepare_data().unwrap();
    let mut sink = RecordSink::new(spec.clone());
    train(&spec, &data, &mut sink).unwrap();
    sink.record
}

fn losses(r: &RunRecord) -> Vec<f64> {
    r.steps.iter().map(|s| s.loss).collect()
}

/// `--data fashion` trains on the bundled clothes, no download: a small
/// MLP gets well above chance (10%) on the held-out 2,000 in 200 steps
/// (this seed: 74%).
#[test]
fn bundled_fashion_trains_from_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let out = gradscope_in(dir.path())
        .args(["train", "--no-record", "--json", "--data", "fashion"])
        .args([
            "--depth", "1", "--width", "64", "--steps", "200", "--batch", "32",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let accuracy = json["test_accuracy"]
        .as_f64()
        .unwrap_or_else(|| panic!("{json}"));
    assert!(accuracy > 0.5, "held-out accuracy {accuracy}");
    assert!(!dir.path().join("cache").exists(), "nothing was fetched");
}

/// Regression guard for the shape travelling with the data: 20 x 30 grey
/// images are not square, so a CNN could not guess its stem from the 600
/// features; read from an IDX folder, the data says 1 x 20 x 30.
#[test]
fn a_cnn_takes_its_input_shape_from_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let n = 16;
    let images: Vec<u8> = (0..n * 600).map(|i| (i * 7 % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    for prefix in ["train", "t10k"] {
        let img = IdxArray {
            dims: vec![n, 20, 30],
            data: images.clone(),
        };
        let lab = IdxArray {
            dims: vec![n],
            data: labels.clone(),
        };
        std::fs::write(
            dir.path().join(format!("{prefix}-images-idx3-ubyte")),
            encode(&img),
        )
        .unwrap();
        std::fs::write(
            dir.path().join(format!("{prefix}-labels-idx1-ubyte")),
            encode(&lab),
        )
        .unwrap();
    }
    let toml = format!(
        "steps = 2\nbatch = 8\n[data]\ndir = {:?}\naugment = \"crop+flip\"\n\
         [model]\nkind = \"cnn\"\nchannels = [2]\nn = 1\n",
        dir.path().display().to_string()
    );
    let record = run(&toml);
    assert_eq!(record.steps.len(), 2);
    assert!(record.steps.iter().all(|s| s.loss.is_finite()));
}

/// Augmentation is drawn from the run's seed: the same seed trains the
/// same, step for step; `crop+flip` changes the batches, so the losses;
/// evaluation is not augmented (the held-out loss of an unaugmented and
/// an augmented net differ only through their weights: equal at step 0).
#[test]
fn augmentation_is_seeded_and_only_touches_training_batches() {
    let spec = |augment: &str, seed: u64| {
        format!(
            "steps = 12\nbatch = 32\nseed = {seed}\neval_every = 100\n\
             [data]\nname = \"fashion\"\naugment = \"{augment}\"\n\
             [model]\ndepth = 1\nwidth = 32\n"
        )
    };
    let a = run(&spec("crop+flip", 5));
    let b = run(&spec("crop+flip", 5));
    assert_eq!(losses(&a), losses(&b));
    let c = run(&spec("crop+flip", 6));
    assert_ne!(losses(&a), losses(&c));
    let plain = run(&spec("none", 5));
    assert_ne!(losses(&a), losses(&plain));
    // Same weights at step 0 (the seed), different batch contents.
    assert_ne!(a.steps[0].loss, plain.steps[0].loss);
    assert_eq!(a.spec.data.augment.to_string(), "crop+flip");
}

/// The real binary fetches `cifar-10-binary.tar.gz` from a mirror and
/// refuses bytes that are not the published MD5's, keeping nothing.
#[test]
fn data_fetch_cifar10_checks_the_published_md5() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request = String::new();
        reader.read_line(&mut request).unwrap();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 2 {
            line.clear();
        }
        let body = b"not the CIFAR-10 archive";
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(body).unwrap();
        request
    });
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    let out = gradscope_in(dir.path())
        .args(["data", "fetch", "cifar10", "--mirror", &url, "--cache"])
        .arg(&cache)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let request = server.join().unwrap();
    assert!(
        request.starts_with("GET /cifar-10-binary.tar.gz "),
        "{request}"
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "cifar-10-binary.tar.gz: MD5 checksum mismatch: expected c32a1d4ab5d03f1284b67883e8d87530"
        ),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(cache.join("cifar10")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
