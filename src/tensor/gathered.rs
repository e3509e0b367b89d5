//! Products whose left operand is gathered: read in place through two
//! tables of offsets instead of laid out as a matrix. A convolution's
//! patches are such an operand (`nn::conv::gather`): entry `(i, p)` of the
//! patch matrix is the input value at the place of output pixel `i` plus
//! the place of kernel entry `p`, so the product reads the input itself
//! and no patch matrix is ever written.
//!
//! Only our f32 kernel reads a gathered operand, at the `avx512` and
//! `avx2` SIMD levels ([`runs_here`]); elsewhere (f64, the `portable`
//! level) the caller lays the operand out and calls [`super::matmul`].

use super::{threads_for, Scalar};

/// An `m x k` matrix read in place: entry `(i, p)` is
/// `data[rows[i] + cols[p]]`.
#[derive(Clone, Copy, Debug)]
pub struct Gathered<'a, T> {
    /// The values the offsets point into.
    pub data: &'a [T],
    /// `m` offsets, one per row.
    pub rows: &'a [usize],
    /// `k` offsets, one per column.
    pub cols: &'a [usize],
}

impl<T> Gathered<'_, T> {
    /// Rows and columns.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows.len(), self.cols.len())
    }

    /// Whether every entry lies inside `data`.
    fn in_bounds(&self) -> bool {
        let last = |o: &[usize]| o.iter().copied().max().unwrap_or(0);
        self.rows.is_empty()
            || self.cols.is_empty()
            || last(self.rows)
                .checked_add(last(self.cols))
                .is_some_and(|end| end < self.data.len())
    }
}

/// Whether [`product`] runs here for `T`: our f32 kernel, at the current
/// SIMD level (`super::simd`: AVX-512 or AVX2).
pub fn runs_here<T: Scalar>() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
            && super::sgemm::Kernel::of_level().is_some()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Which build of our kernel [`product`] runs at the current SIMD level:
/// `avx512`, `avx2`, or `none` (convolutions unfold their patches).
pub fn kernel_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if let Some(kernel) = super::sgemm::Kernel::of_level() {
        return kernel.name();
    }
    "none"
}

/// Where [`product`] writes `C = A B` (`m x n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `C` row-major.
    Rows,
    /// `C^T` row-major (`n x m`).
    Transposed,
}

/// `dst = (accumulate ? dst : 0) + A B` with `A` gathered and `B` a
/// row-major `k x n` matrix in `b`; `dst` holds `C` in `layout`. Each entry is one chain of
/// FMAs over `k` in order, on any thread count (the threads of the current
/// pool above [`super::PARALLEL_MIN_FLOP`]).
///
/// # Panics
/// When [`runs_here`] is false for `T`, when the shapes disagree, or when
/// an entry of `A` lies outside its data.
pub fn product<T: Scalar>(
    dst: &mut [T],
    layout: Layout,
    accumulate: bool,
    a: Gathered<'_, T>,
    b: &[T],
    n: usize,
) {
    assert!(runs_here::<T>(), "gathered products need our f32 kernel");
    let (m, k) = a.shape();
    assert_eq!(b.len(), k * n, "gathered product inner dimensions");
    assert_eq!(dst.len(), m * n, "gathered product destination");
    assert!(a.in_bounds(), "gathered operand reads outside its data");
    if super::gemm::empty_product(dst, accumulate, (m, n, k)) {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        use super::sgemm::{self, Kernel, Out, Problem};
        // T is f32 (`runs_here` compared the types).
        let (data, bp) = (a.data.as_ptr() as *const f32, b.as_ptr() as *const f32);
        let out_ptr = dst.as_mut_ptr() as *mut f32;
        let problem = Problem {
            m,
            n,
            k,
            a: data,
            a_rs: 0,
            a_cs: 0,
            a_rows: a.rows.as_ptr(),
            a_cols: a.cols.as_ptr(),
            b: bp,
            ldb: n,
            out: match layout {
                Layout::Rows => Out::Rows {
                    ptr: out_ptr,
                    ld: n,
                },
                Layout::Transposed => Out::Transposed {
                    ptr: out_ptr,
                    ld: m,
                },
            },
            alpha: 1.0,
            bias: std::ptr::null(),
            accumulate,
        };
        let kernel = Kernel::of_level().expect("checked by runs_here");
        // SAFETY: `kernel` runs here (`Kernel::of_level`); every entry of `A` is
        // inside `data` (asserted), `B` is k x n with k >= 1, `dst` holds
        // m x n entries and, borrowed mutably, aliases neither operand.
        unsafe { sgemm::run(&problem, kernel, threads_for(m, n, k)) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::testing::{skip, NO_AVX2, NO_AVX512};
    use crate::tensor::{simd, with_pool, Matrix, Simd};

    /// A gathered operand with repeated and shuffled offsets, on every
    /// tile shape's edges, both layouts, with and without accumulation,
    /// one and two threads, on the kernel's AVX-512 and AVX2 builds:
    /// equal to the f64 product of the matrix it reads, within f32
    /// rounding.
    #[test]
    fn gathered_product_equals_the_product_of_the_matrix_it_reads() {
        for (level, missing) in [(Simd::Avx512, NO_AVX512), (Simd::Avx2, NO_AVX2)] {
            if !level.runs_here() {
                skip(missing);
                continue;
            }
            gathered_product_at(level);
        }
    }

    fn gathered_product_at(level: Simd) {
        let data: Vec<f32> = (0..5000).map(|i| ((i as f32) * 0.37).sin()).collect();
        for (m, n, k) in [
            (1, 1, 1),
            (7, 17, 9),
            (13, 64, 30),
            (6, 65, 144),
            (200, 16, 50),
        ] {
            let rows: Vec<usize> = (0..m).map(|i| (i * 37) % 2000).collect();
            let cols: Vec<usize> = (0..k).map(|p| (p * 13 + p / 3 * 100) % 2900).collect();
            let a = Gathered {
                data: &data,
                rows: &rows,
                cols: &cols,
            };
            let b = Matrix::from_vec(k, n, (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect())
                .unwrap();
            let base: Vec<f32> = (0..m * n).map(|i| i as f32 * 0.01).collect();
            for layout in [Layout::Rows, Layout::Transposed] {
                for accumulate in [false, true] {
                    for threads in [1, 2] {
                        let mut dst = base.clone();
                        with_pool(threads, level, || {
                            product(&mut dst, layout, accumulate, a, b.as_slice(), n)
                        });
                        for i in 0..m {
                            for j in 0..n {
                                let at = match layout {
                                    Layout::Rows => i * n + j,
                                    Layout::Transposed => j * m + i,
                                };
                                let mut want = if accumulate { base[at] as f64 } else { 0.0 };
                                let mut scale = want.abs();
                                for p in 0..k {
                                    let t = data[rows[i] + cols[p]] as f64
                                        * b.as_slice()[p * n + j] as f64;
                                    want += t;
                                    scale += t.abs();
                                }
                                let got = dst[at] as f64;
                                assert!(
                                    (got - want).abs() <= 1e-6 * (k as f64 + 2.0) * scale.max(1e-30),
                                    "{level} {m}x{n}x{k} {layout:?} acc {accumulate} threads {threads} at ({i}, {j}): {got} vs {want}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// An offset past the data is refused before the kernel reads it
    /// (where our kernel runs; elsewhere every gathered product is
    /// refused, which the last assertion checks).
    #[test]
    fn an_operand_reading_past_its_data_is_refused() {
        let data = [1.0f32; 10];
        let b = [0.0f32; 6];
        let mut dst = [0.0f32; 3];
        let a = Gathered {
            data: &data,
            rows: &[5],
            cols: &[0, 5],
        };
        let refused = std::panic::catch_unwind(move || {
            product(&mut dst, Layout::Rows, false, a, &b, 3);
        });
        let message = refused.expect_err("the product ran");
        let message = message.downcast_ref::<&str>().copied().unwrap_or_default();
        if runs_here::<f32>() {
            assert!(message.contains("outside its data"), "{message}");
        } else {
            skip(NO_AVX2);
            assert!(message.contains("need our f32 kernel"), "{message}");
        }
    }

    /// At the portable level (and for f64) the product is not offered,
    /// and asking for it anyway is refused.
    #[test]
    fn the_portable_level_and_f64_do_not_gather() {
        assert!(!runs_here::<f64>());
        let refused = with_pool(1, Simd::Portable, || {
            assert_eq!(simd(), Simd::Portable);
            assert!(!runs_here::<f32>());
            std::panic::catch_unwind(|| {
                let a = Gathered {
                    data: &[1.0f32; 4],
                    rows: &[0],
                    cols: &[0],
                };
                product(&mut [0.0f32], Layout::Rows, false, a, &[1.0], 1);
            })
        });
        assert!(refused.is_err());
    }
}
