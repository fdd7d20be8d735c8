//! The per-stage timelines of a simulated step (every operation's span, for Gantt charts), kept in the
//! schedule's integer ticks and turned into seconds only when someone reads them.
//!
//! A step of Llama 3 405B on 16,384 H100s places 2,048 operations; converting each span to seconds
//! and copying it into [`StageTimeline`]s cost about as much as placing them, and the search, the
//! sweeps and `wanka run` never look at them. [`Timelines`] reads like the `Vec<StageTimeline>` it
//! replaces (it derefs to a slice, compares and serialises as one), built on first access, the same
//! figures to the bit.

use std::sync::OnceLock;

use serde::{Serialize, Serializer};

use crate::engine::{Ticks, secs};
use crate::step::schedule::{Op, OpSpan, StageTimeline};

/// One stage's timeline in ticks, as the schedule placed it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StageTicks {
    /// Compute-stream operations: (operation, start, end).
    pub(crate) spans: Vec<(Op, Ticks, Ticks)>,
    /// Gradient reductions on the communication stream: (start, end).
    pub(crate) dp_comm: Vec<(Ticks, Ticks)>,
    /// Optimizer with the ZeRO parameter gather after it: (start, end); the stage ends with it.
    pub(crate) optimizer: (Ticks, Ticks),
    /// Time the compute stream is busy.
    pub(crate) busy: Ticks,
}

/// Every stage's timeline ([`StageTimeline`]), converted to seconds on first access.
#[derive(Clone)]
pub struct Timelines {
    stages: Vec<StageTicks>,
    seconds: OnceLock<Vec<StageTimeline>>,
}

impl Timelines {
    pub(crate) fn new(stages: Vec<StageTicks>) -> Timelines {
        Timelines { stages, seconds: OnceLock::new() }
    }

    /// The timelines in seconds (built once).
    pub fn get(&self) -> &[StageTimeline] {
        self.seconds.get_or_init(|| {
            self.stages
                .iter()
                .enumerate()
                .map(|(s, t)| StageTimeline {
                    stage: s as u32,
                    ops: t.spans.iter().map(|(op, a, b)| OpSpan { op: *op, start_s: secs(*a), end_s: secs(*b) }).collect(),
                    dp_comm: t.dp_comm.iter().map(|(a, b)| (secs(*a), secs(*b))).collect(),
                    optimizer: (secs(t.optimizer.0), secs(t.optimizer.1)),
                    end_s: secs(t.optimizer.1),
                    busy_s: secs(t.busy),
                })
                .collect()
        })
    }
}

impl std::ops::Deref for Timelines {
    type Target = [StageTimeline];
    fn deref(&self) -> &[StageTimeline] {
        self.get()
    }
}

impl<'a> IntoIterator for &'a Timelines {
    type Item = &'a StageTimeline;
    type IntoIter = std::slice::Iter<'a, StageTimeline>;
    fn into_iter(self) -> Self::IntoIter {
        self.get().iter()
    }
}

impl PartialEq for Timelines {
    fn eq(&self, other: &Timelines) -> bool {
        self.stages == other.stages
    }
}

impl std::fmt::Debug for Timelines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl Serialize for Timelines {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(serializer)
    }
}
