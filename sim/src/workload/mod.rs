//! What is trained and how it is split: the transformer [`model`] (dense, MoE, MLA; FLOPs and
//! parameters per token) and the [`parallelism`] plan (TP, PP, DP, CP, EP, micro-batching,
//! recomputation) with its defaults and constraint checks.
//!
//! Depends only on `error`; knows nothing of hardware, time or runs.

pub mod model;
pub mod parallelism;
