//! A warmed-up convolution allocates nothing (issue 15): the forward and
//! backward passes of `Conv2d`, gathered or unfolded, on the chunked
//! paths (ResNet-20's first stage at batch 64: 29 MB of patches) and the
//! whole one, in training and evaluation, reuse the buffers of the first
//! step; so does a whole CNN's step, BatchNorm included.
//!
//! A counting global allocator counts the allocations made on the test's
//! own thread while counting is switched on (the harness's other threads
//! allocate as they please).

use gradscope::nn::conv::{Conv2d, Image, Window};
use gradscope::nn::{Layer, Mode};
use gradscope::tensor::{with_threads, Grads, Matrix};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// `Some(n)`: counting on this thread, `n` allocations so far.
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

fn note() {
    let _ = COUNT.try_with(|c| {
        if let Some(n) = c.get() {
            c.set(Some(n + 1));
        }
    });
}

// SAFETY: every call is passed to the system allocator unchanged; the
// count is a const-initialized thread-local without a destructor.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(Some(0)));
    f();
    COUNT.with(|c| c.replace(None)).unwrap()
}

fn wave(rows: usize, cols: usize, a: f32) -> Matrix<f32> {
    let data = (0..rows * cols).map(|i| (i as f32 * a).sin()).collect();
    Matrix::from_vec(rows, cols, data).unwrap()
}

#[test]
fn a_warmed_up_convolution_allocates_nothing() {
    let batch = 64;
    for (input, c_out, stride) in [
        (Image::new(16, 28, 28), 16, 1),
        (Image::new(16, 28, 28), 32, 2),
        (Image::new(1, 28, 28), 16, 1),
    ] {
        for gathered in [true, false] {
            let conv = Conv2d::<f32>::new(input, c_out, Window::new(3, stride, 1), true).unwrap();
            let mut conv = if gathered { conv } else { conv.unfolded() };
            conv.weight.value = wave(c_out, 9 * input.c, 0.7);
            let out = conv.output_image();
            let x = wave(batch, input.len(), 0.37);
            let g = wave(batch * out.pixels(), c_out, 0.11);
            let mut step = || {
                conv.forward(&x, Mode::Train);
                conv.backward(&x, &g, true, Grads::Overwrite);
                conv.forward(&x, Mode::Eval);
            };
            let counted = with_threads(1, || {
                step();
                allocations(step)
            });
            let path = if conv.gathers() {
                "gathered"
            } else {
                "unfolded"
            };
            assert_eq!(counted, 0, "{input} -> {c_out}, stride {stride}, {path}");
        }
    }
}

/// A whole residual CNN (the builder's: stem, blocks with both kinds of
/// shortcut, pooling, output layer) and its plain counterpart, with and
/// without BatchNorm, train a warmed-up, unrecorded step without
/// allocating, on one thread and two (there the count covers the thread
/// that runs the step and its halves of every split pass, not the other
/// worker's).
#[test]
fn a_warmed_up_cnn_step_allocates_nothing() {
    for net in [
        "residual = true\nshortcut = \"zeros\"",
        "residual = true\nshortcut = \"projection\"",
        "residual = false",
        "residual = true\nnorm = \"batch\"",
        "residual = false\nnorm = \"batch\"",
    ] {
        let toml = format!("[model]\nkind = \"cnn\"\nchannels = [4, 8]\nn = 2\n{net}");
        let spec = gradscope::experiment::Spec::from_toml(&toml, "test").unwrap();
        let mut config = spec.model.clone();
        (config.input, config.output) = (28 * 28, 10);
        let mut model = config.build::<f32>(0).unwrap();
        let x = wave(16, 28 * 28, 0.37);
        let g = wave(16, 10, 0.11);
        let mut step = || {
            model.forward(&x, Mode::Train);
            model.backward_overwrite(&x, &g);
        };
        for threads in [1, 2] {
            let counted = with_threads(threads, || {
                step();
                allocations(&mut step)
            });
            assert_eq!(counted, 0, "{net}, {threads} threads");
        }
    }
}
