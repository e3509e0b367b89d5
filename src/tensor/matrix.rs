//! A dense row-major matrix, the one tensor type of the engine.
//!
//! A batch of activations is a `batch x features` matrix; a weight is
//! `out_features x in_features` (PyTorch's layout). Buffers are reused from
//! step to step: [`Matrix::resize`] keeps the allocation when the shape
//! changes, so a training step allocates nothing once warmed up.

use super::Scalar;
use crate::error::{Error, Result};

/// A dense, row-major `rows x cols` matrix.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Matrix<T> {
    rows: usize,
    cols: usize,
    data: Vec<T>,
}

impl<T: Scalar> Matrix<T> {
    /// A `rows x cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self::filled(rows, cols, T::zero())
    }

    /// A `rows x cols` matrix with every entry `value`.
    pub fn filled(rows: usize, cols: usize, value: T) -> Self {
        Self {
            rows,
            cols,
            data: vec![value; rows * cols],
        }
    }

    /// Wraps row-major `data`; fails when its length is not `rows * cols`.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<T>) -> Result<Self> {
        if data.len() != rows * cols {
            return Err(Error::ShapeMismatch {
                op: "Matrix::from_vec",
                expected: (rows, cols),
                got: (data.len(), 1),
            });
        }
        Ok(Self { rows, cols, data })
    }

    /// Builds a matrix from nested rows.
    ///
    /// # Panics
    /// When the rows have different lengths.
    pub fn from_rows(rows: &[Vec<T>]) -> Self {
        let cols = rows.first().map_or(0, Vec::len);
        assert!(rows.iter().all(|r| r.len() == cols), "ragged rows");
        Self {
            rows: rows.len(),
            cols,
            data: rows.concat(),
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the matrix has no entries.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The entries in row-major order.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The entries in row-major order, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Consumes the matrix, returning its row-major entries.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }

    /// Row `r`.
    pub fn row(&self, r: usize) -> &[T] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// Row `r`, mutably.
    pub fn row_mut(&mut self, r: usize) -> &mut [T] {
        &mut self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// Entry `(r, c)`.
    pub fn get(&self, r: usize, c: usize) -> T {
        self.data[r * self.cols + c]
    }

    /// Sets entry `(r, c)`.
    pub fn set(&mut self, r: usize, c: usize, value: T) {
        self.data[r * self.cols + c] = value;
    }

    /// Reshapes to `rows x cols`, keeping the allocation. Entries are left
    /// unspecified (callers overwrite them).
    pub fn resize(&mut self, rows: usize, cols: usize) {
        self.rows = rows;
        self.cols = cols;
        self.data.resize(rows * cols, T::zero());
    }

    /// Sets every entry to `value`.
    pub fn fill(&mut self, value: T) {
        self.data.fill(value);
    }

    /// Copies `other` into `self`, reshaping `self`.
    pub fn copy_from(&mut self, other: &Matrix<T>) {
        self.resize(other.rows, other.cols);
        self.data.copy_from_slice(&other.data);
    }

    /// A new matrix with `f` applied to each entry.
    pub fn map(&self, f: impl Fn(T) -> T) -> Self {
        Self {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(|&v| f(v)).collect(),
        }
    }

    /// Converts every entry to another scalar type.
    pub fn cast<U: Scalar>(&self) -> Matrix<U> {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(|&v| U::cast(v.as_f64())).collect(),
        }
    }

    /// The transpose, as a new matrix.
    pub fn transpose(&self) -> Self {
        let mut out = Self::zeros(self.cols, self.rows);
        for r in 0..self.rows {
            for c in 0..self.cols {
                out.data[c * self.rows + r] = self.data[r * self.cols + c];
            }
        }
        out
    }

    /// `self += scale * other`, entry by entry.
    ///
    /// # Panics
    /// When the shapes differ.
    pub fn add_scaled(&mut self, other: &Matrix<T>, scale: T) {
        assert_eq!(self.shape(), other.shape(), "add_scaled shape");
        for (a, &b) in self.data.iter_mut().zip(&other.data) {
            *a = *a + scale * b;
        }
    }

    /// Sum of squares, accumulated in f64 so tiny values are not lost.
    pub fn sum_sq_f64(&self) -> f64 {
        self.data.iter().map(|&v| v.as_f64() * v.as_f64()).sum()
    }

    /// L2 (Frobenius) norm, accumulated in f64.
    pub fn norm_f64(&self) -> f64 {
        self.sum_sq_f64().sqrt()
    }

    /// Column sums, added into `out` (length `cols`).
    pub fn add_col_sums_into(&self, out: &mut [T]) {
        assert_eq!(out.len(), self.cols, "column-sum length");
        for row in self.data.chunks_exact(self.cols.max(1)) {
            for (o, &v) in out.iter_mut().zip(row) {
                *o = *o + v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_vec_checks_length() {
        assert!(Matrix::<f32>::from_vec(2, 3, vec![0.0; 5]).is_err());
        let m = Matrix::<f32>::from_vec(2, 3, (0..6).map(|v| v as f32).collect()).unwrap();
        assert_eq!(m.get(1, 0), 3.0);
        assert_eq!(m.row(1), &[3.0, 4.0, 5.0]);
    }

    #[test]
    fn transpose_and_col_sums() {
        let m = Matrix::<f64>::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]]);
        let t = m.transpose();
        assert_eq!(t.shape(), (2, 3));
        assert_eq!(t.row(0), &[1.0, 3.0, 5.0]);
        let mut sums = vec![0.0; 2];
        m.add_col_sums_into(&mut sums);
        assert_eq!(sums, vec![9.0, 12.0]);
    }

    #[test]
    fn norm_accumulates_in_f64() {
        // 1e-30^2 = 1e-60 underflows in f32 but not in the f64 accumulator.
        let m = Matrix::<f32>::filled(1, 4, 1e-30);
        assert!((m.norm_f64() - 2e-30).abs() < 1e-36);
    }
}
