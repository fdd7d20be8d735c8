//! Why one plan beats another, term by term: the step breakdown of each (compute, exposed
//! model-parallel communication, pipeline bubble, exposed data-parallel communication, optimizer and
//! fixed overhead) in seconds per million tokens trained, so that plans with different global batches
//! compare fairly, and the knobs in which the two differ. `wanka compare --explain` prints the top plan
//! of each candidate against its runner-up; `wanka validate --explain` a whole run's searched plan
//! against the published one.
//!
//! The terms are those of the bottleneck stage's timeline (they sum to the step time); they say where
//! the time goes, not which knob caused it: a deeper pipeline, say, moves time from exposed DP
//! communication into the bubble, and the knob list names the change.

use serde::Serialize;

use crate::planning::plan_file::describe;
use crate::planning::search::Ranked;

/// One term of the step, for both plans, seconds per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TermDelta {
    pub term: String,
    pub first_s_per_mtok: f64,
    pub second_s_per_mtok: f64,
}

/// The first plan against the second.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub first: String,
    pub second: String,
    pub first_s_per_mtok: f64,
    pub second_s_per_mtok: f64,
    /// Every term, in breakdown order.
    pub terms: Vec<TermDelta>,
    /// Knobs that differ, as `name: first vs second`.
    pub knobs: Vec<String>,
}

/// Explain `first` against `second` (both trained at `seq_len` tokens per sequence).
pub fn explain(first: &Ranked, second: &Ranked, seq_len: u32) -> Explanation {
    let per_mtok = |r: &Ranked, s: f64| s / (f64::from(r.plan.global_batch) * f64::from(seq_len)) * 1e6;
    let terms = |r: &Ranked| {
        let b = &r.breakdown;
        [
            ("compute", b.compute_s),
            ("exposed TP/CP/EP communication", b.tp_comm_s),
            ("pipeline bubble", b.pp_bubble_s),
            ("exposed DP communication", b.dp_comm_s),
            ("optimizer + other", b.optimizer_other_s),
        ]
    };
    let terms = terms(first)
        .into_iter()
        .zip(terms(second))
        .map(|((name, a), (_, b))| TermDelta {
            term: name.into(),
            first_s_per_mtok: per_mtok(first, a),
            second_s_per_mtok: per_mtok(second, b),
        })
        .collect();
    let (a, b) = (&first.plan, &second.plan);
    let mut knobs = Vec::new();
    let mut knob = |name: &str, x: String, y: String| {
        if x != y {
            knobs.push(format!("{name}: {x} vs {y}"));
        }
    };
    knob("tp", a.tp.to_string(), b.tp.to_string());
    knob("pp", a.pp.to_string(), b.pp.to_string());
    knob("dp", a.dp.to_string(), b.dp.to_string());
    knob("cp", a.cp.to_string(), b.cp.to_string());
    knob("ep", a.ep.to_string(), b.ep.to_string());
    knob("schedule", a.schedule.label().into(), b.schedule.label().into());
    knob("vpp", a.vpp.to_string(), b.vpp.to_string());
    knob("micro_batch", a.micro_batch.to_string(), b.micro_batch.to_string());
    knob("global_batch", a.global_batch.to_string(), b.global_batch.to_string());
    knob("recompute", a.recompute_label(), b.recompute_label());
    knob("zero_stage", a.zero_stage.to_string(), b.zero_stage.to_string());
    knob("sequence_parallel", a.sequence_parallel.to_string(), b.sequence_parallel.to_string());
    knob("rank_order", a.rank_order.label().into(), b.rank_order.label().into());
    knob("memory_gb", format!("{:.1}", first.memory_gb), format!("{:.1}", second.memory_gb));
    Explanation {
        first: describe(&first.spec),
        second: describe(&second.spec),
        first_s_per_mtok: first.s_per_mtok,
        second_s_per_mtok: second.s_per_mtok,
        terms,
        knobs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planning::search::{BatchTarget, SearchSpace, default_space, merge, search};
    use crate::step::cost::FrameworkSpec;

    /// The terms of each plan add up to its step time per million tokens, and the knob list names
    /// exactly the knobs that differ.
    #[test]
    fn terms_sum_to_the_step_and_knobs_name_the_difference() {
        let m = crate::workload::model::preset("llama3-70b").unwrap();
        let c = crate::hardware::topology::test_cluster("h100-sxm", 1024, "ib-ndr", 400.0, "generic-fat-tree");
        let pins = SearchSpace { tp: Some(vec![8]), pp: Some(vec![4, 8]), ..Default::default() };
        let r = search(&m, &c, 8192, &FrameworkSpec::default(), &merge(&pins, default_space(&m, &c, 8192)), BatchTarget::Tokens(16e6), 5);
        let (a, b) = (&r.top[0], &r.top[1]);
        let e = explain(a, b, 8192);
        let sum = |f: fn(&TermDelta) -> f64| e.terms.iter().map(f).sum::<f64>();
        assert!((sum(|t| t.first_s_per_mtok) - a.s_per_mtok).abs() <= 0.02 * a.s_per_mtok, "{e:?}");
        assert!((sum(|t| t.second_s_per_mtok) - b.s_per_mtok).abs() <= 0.02 * b.s_per_mtok, "{e:?}");
        assert!(!e.knobs.is_empty() && e.knobs.iter().all(|k| k.contains(" vs ")), "{:?}", e.knobs);
        assert!(explain(a, a, 8192).knobs.is_empty());
    }
}
