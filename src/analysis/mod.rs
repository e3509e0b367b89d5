//! Analysis of networks and runs: the finite-difference gradient check
//! every backward pass is held to, and the diagnosis of recorded runs.

pub mod diagnose;
pub mod gradcheck;
