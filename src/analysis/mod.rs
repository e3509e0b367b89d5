//! Analysis of networks and runs. For now: the finite-difference gradient
//! check every backward pass is held to.

pub mod gradcheck;
