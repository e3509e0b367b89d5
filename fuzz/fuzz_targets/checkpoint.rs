//! The checkpoint loader on a mutated safetensors file:
//! `Checkpoint::from_bytes`, then what a resume or `--init-from` reads
//! next (every tensor as a matrix, the weights for a model of the file's
//! own shapes, `RunInfo`, the data and probe-cadence state, the spec).
//! Each step may fail with an error; none may panic or hang. A checkpoint
//! that parses and holds only dtypes gradscope writes writes back and
//! reads back to the same tensors, bit for bit.
#![no_main]

use gradscope::checkpoint::state::{load_cadence, load_data_state};
use gradscope::checkpoint::{Checkpoint, RunInfo, Tensor, TensorData};
use gradscope::experiment::Spec;
use libfuzzer_sys::fuzz_target;

/// The tensor's elements as bits (NaN compares equal to itself).
fn bits(t: &Tensor) -> (String, Vec<usize>, Vec<u64>) {
    let b = match &t.data {
        TensorData::F32(v) => v.iter().map(|x| x.to_bits() as u64).collect(),
        TensorData::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
        TensorData::I64(v) => v.iter().map(|&x| x as u64).collect(),
        TensorData::Other { bytes, .. } => bytes.iter().map(|&x| x as u64).collect(),
    };
    (t.dtype().to_string(), t.shape.clone(), b)
}

/// The `rows x cols` a 1-D or 2-D tensor holds.
fn matrix_shape(t: &Tensor) -> Option<(usize, usize)> {
    match t.shape[..] {
        [n] => Some((1, n)),
        [r, c] => Some((r, c)),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(c) = Checkpoint::from_bytes(data) else {
        return;
    };
    let mut params = Vec::new();
    for (name, t) in &c.tensors {
        let count = match &t.data {
            TensorData::F32(v) => Some(v.len()),
            TensorData::F64(v) => Some(v.len()),
            TensorData::I64(v) => Some(v.len()),
            TensorData::Other { .. } => None,
        };
        if let Some(count) = count {
            assert_eq!(count, t.len(), "`{name}`: elements against shape");
        }
        let _ = t.floats();
        if let Some((rows, cols)) = matrix_shape(t) {
            let float = matches!(t.data, TensorData::F32(_) | TensorData::F64(_));
            let m = t.to_matrix::<f64>(rows, cols, false);
            assert_eq!(m.is_ok(), float, "`{name}`: {:?}", m.err());
            let _ = t.to_matrix::<f32>(rows, cols, true);
            params.push((name.clone(), (rows, cols)));
        }
    }
    // A model whose parameters are the file's own matrices.
    let _ = gradscope::checkpoint::state::weights_to_load::<f32>(&c, &params, &[], false);
    let _ = gradscope::checkpoint::state::weights_to_load::<f64>(&c, &[], &params, true);
    if let Ok(info) = RunInfo::read(&c) {
        let _ = gradscope::checkpoint::check_resumable(&c, &info.spec);
        let _ = Spec::from_stored_toml(&info.spec, "checkpoint");
    }
    let _ = load_data_state(&c);
    let _ = load_cadence(&c);
    for key in c.metadata.keys() {
        let _ = c.meta_parsed::<f64>(key);
        let _ = c.meta_parsed::<u128>(key);
    }

    // Write back, read back: the same metadata and tensors.
    let Ok(bytes) = c.to_bytes() else {
        assert!(c
            .tensors
            .values()
            .any(|t| matches!(t.data, TensorData::Other { .. })));
        return;
    };
    let back = Checkpoint::from_bytes(&bytes).expect("a written checkpoint reads back");
    assert_eq!(back.metadata, c.metadata);
    let a: Vec<_> = c.tensors.iter().map(|(n, t)| (n, bits(t))).collect();
    let b: Vec<_> = back.tensors.iter().map(|(n, t)| (n, bits(t))).collect();
    assert_eq!(a, b);
});
