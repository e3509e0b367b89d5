//! Training-speed benchmark (placeholder, filled in below).
