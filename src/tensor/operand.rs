//! How a product's operands are given and who multiplies them: [`Op`]
//! (an operand as stored or transposed), the shape and strides it implies,
//! and [`Backend`] (which GEMM computes the product).
//!
//! Both the product front end (`super::gemm`) and our kernel's adapter
//! (`super::own_gemm`) import these; neither imports the other's types,
//! so imports run one way: `gemm -> own_gemm -> operand`.

use super::{Matrix, Scalar};

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// As stored.
    N,
    /// Transposed.
    T,
}

impl Op {
    /// The other orientation.
    pub fn flip(self) -> Self {
        match self {
            Op::N => Op::T,
            Op::T => Op::N,
        }
    }
}

/// Which GEMM multiplies. Chosen where a product is called: training uses
/// the default ([`Backend::Gradscope`]) through `matmul`/`affine`; only
/// the benchmark (`gradscope bench --gemm`) picks another, through
/// `matmul_with`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// Our own kernel's AVX-512 build for f32 and f64 at the `avx512`
    /// SIMD level (`super::simd`), else the `gemm` crate (the default).
    #[default]
    Gradscope,
    /// Our own kernel's AVX2 build (AVX2 and FMA), also where AVX-512
    /// runs (to test and measure it on any machine), else the `gemm`
    /// crate. Dense products do not use it by default: at the `avx2`
    /// level the `gemm` crate's own AVX2 code trained faster
    /// (docs/PERFORMANCE.md); gathered convolutions do.
    GradscopeAvx2,
    /// The `gemm` crate.
    Gemm,
    /// The `matrixmultiply` crate.
    MatrixMultiply,
}

impl Backend {
    /// Whether our kernel is asked for (it runs where the machine allows).
    pub fn is_ours(self) -> bool {
        matches!(self, Self::Gradscope | Self::GradscopeAvx2)
    }
}

/// The shape of `op(a)`.
pub(super) fn oriented<T: Scalar>(a: &Matrix<T>, op: Op) -> (usize, usize) {
    match op {
        Op::N => a.shape(),
        Op::T => (a.cols(), a.rows()),
    }
}

/// `(row stride, column stride)` of `op(a)` in `a`'s storage.
pub(super) fn strides<T: Scalar>(a: &Matrix<T>, op: Op) -> (isize, isize) {
    let c = a.cols() as isize;
    match op {
        Op::N => (c, 1),
        Op::T => (1, c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transposed_operand_swaps_its_shape_and_strides() {
        let a = Matrix::<f32>::zeros(2, 5);
        assert_eq!((oriented(&a, Op::N), strides(&a, Op::N)), ((2, 5), (5, 1)));
        assert_eq!((oriented(&a, Op::T), strides(&a, Op::T)), ((5, 2), (1, 5)));
        assert_eq!((Op::N.flip(), Op::T.flip()), (Op::T, Op::N));
        assert_eq!(Backend::default(), Backend::Gradscope);
    }
}
