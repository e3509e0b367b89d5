//! Analysis of networks and runs: the finite-difference gradient check
//! every backward pass is held to, the diagnosis of recorded runs, and what
//! theory predicts at initialization (mean-field signal propagation,
//! input-output Jacobian spectra).

pub mod diagnose;
pub mod gradcheck;
pub mod spectrum;
pub mod theory;
