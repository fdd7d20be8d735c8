//! A scenario whose parallelism is searched: `parallelism: (auto: true, tp: 8, …)` in a step scenario
//! file ([`crate::scenario::AutoParallelism`]). The knobs written are pins, the others are searched by
//! the planner's own search ([`search`]: the same default space, the screen and the exact top-k
//! ladder, the [`SearchCache`]) on the scenario's cluster, as a plan file's single-pool candidate
//! with the same pins would be; the best plan becomes the scenario's `parallelism`, and its
//! [`SearchSummary`] says it was searched.

use crate::cancel::Cancel;
use crate::error::WankaError;
use crate::hardware::catalog::Catalog;
use crate::hardware::topology::Cluster;
use crate::planning::plan_file::describe;
use crate::planning::search::{self, BatchTarget, SearchCache, SearchQuery, SearchSpace};
use crate::scenario::{AutoParallelism, DEFAULT_BATCH_TOKENS, Scenario, SearchSummary, Searched};

/// Plans the search keeps (as a plan file's default `settings.top_k`, so both share cached searches).
pub const TOP_K: usize = 5;

/// The pins as a search space (one value per pinned knob; `None`: the default range).
pub fn pins_space(a: &AutoParallelism) -> SearchSpace {
    let one = |v: Option<u32>| v.map(|x| vec![x]);
    SearchSpace {
        tp: one(a.tp),
        pp: one(a.pp),
        cp: one(a.cp),
        ep: one(a.ep),
        etp: one(a.etp),
        micro_batch: one(a.micro_batch),
        vpp: one(a.vpp),
        schedule: a.schedule.map(|s| vec![s]),
        recompute: a.recompute.map(|r| vec![r]),
        zero_stage: a.zero_stage.map(|z| vec![z]),
        sequence_parallel: a.sequence_parallel,
        rank_order: a.rank_order.map(|o| vec![o]),
        ..SearchSpace::default()
    }
}

/// The search an auto scenario runs (`None` for a scenario whose parallelism is written).
pub fn query(s: &Scenario, catalog: &Catalog, file: &str) -> Result<Option<SearchQuery>, WankaError> {
    let Some(a) = &s.auto else { return Ok(None) };
    let model = s.model.resolve().map_err(|e| e.in_field(file, "model"))?;
    let cluster = Cluster::resolve(&s.cluster, catalog, file)?;
    let space = search::merge(&pins_space(a), search::default_space(&model, &cluster, s.training.seq_len));
    let batch = match a.global_batch {
        Some(n) => BatchTarget::Sequences(n),
        None => BatchTarget::Tokens(DEFAULT_BATCH_TOKENS as f64),
    };
    Ok(Some(SearchQuery { model, cluster, seq_len: s.training.seq_len, fw: s.framework.clone(), space, batch, top_k: TOP_K }))
}

/// The scenario with its searched plan as `parallelism` (and the search's summary in
/// `auto.searched`); a scenario whose parallelism is written comes back as it is. No feasible plan
/// is an error on `parallelism.auto` naming the most common rejections.
pub fn search_scenario(s: &Scenario, catalog: &Catalog, file: &str, cache: &SearchCache, cancel: &Cancel) -> Result<Scenario, WankaError> {
    let Some(q) = query(s, catalog, file)? else { return Ok(s.clone()) };
    let r = cache.search(&q.as_search(), cancel)?;
    let Some(best) = r.top.first() else {
        let mut why: Vec<(&String, &u64)> = r.rejected.iter().collect();
        why.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let why: Vec<String> = why.iter().take(3).map(|(k, v)| format!("{k}: {v}")).collect();
        return Err(WankaError::Invalid {
            file: file.to_string(),
            field: "parallelism.auto".into(),
            msg: format!(
                "no parallelism fits {} on {} {}: all {} plans searched were rejected (most common: {}); \
                 pin fewer knobs, add devices or choose a smaller model",
                match &s.model {
                    crate::workload::model::ModelRef::Preset(id) => id.as_str(),
                    crate::workload::model::ModelRef::Custom(m) => m.name.as_str(),
                },
                s.cluster.gpus,
                s.cluster.chip,
                r.enumerated,
                if why.is_empty() { "none enumerated".into() } else { why.join(", ") }
            ),
        });
    };
    let mut out = s.clone();
    out.parallelism = best.spec.clone();
    out.cluster.gpus = (u64::from(s.cluster.gpus) - best.idle_devices) as u32;
    if let Some(a) = &mut out.auto {
        a.searched = Searched(Some(SearchSummary {
            parallelism: describe(&best.spec),
            search_enumerated: r.enumerated,
            search_feasible: r.feasible,
            search_simulated: r.simulated,
            screen_rank: best.screen_rank,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planning::plan_file::PlanFile;

    const AUTO: &str = r#"(model: Preset("llama3-8b"), cluster: (chip: "h100-sxm", gpus: 64, network: (fabric: "roce-400g", nic_gbit_per_s_per_gpu: 400.0, topology: "generic-fat-tree")), parallelism: (auto: true PINS), training: (seq_len: 8192, tokens: 1e12))"#;

    /// The planner's answer for the same cluster: a one-candidate plan file's search, searched
    /// through `PlanFile::search_queries` (what `compare` runs).
    fn planner_best(pins: &str) -> crate::workload::parallelism::ParallelismSpec {
        let plan = format!(
            r#"(name: "p", goal: (model: Preset("llama3-8b"), tokens: 1e12, seq_len: 8192, batch_tokens: {DEFAULT_BATCH_TOKENS}.0),
            candidates: [(name: "c", pools: [(chip: "h100-sxm", count: 64, gpus_per_node: 8)],
                network: (fabric: "roce-400g", nic_gbit_per_s_per_gpu: 400.0, topology: "generic-fat-tree"),
                parallelism: ({pins}),
                money: Purchase(card_usd: None, node_overhead_usd: 40000.0, network_usd_per_port: 4500.0, storage_usd: 1e6, amortisation_years: 4.0),
                power: (pue: 1.25, usd_per_kwh: 0.09))])"#
        );
        let p = PlanFile::parse(&plan, "p.ron").unwrap();
        let qs = p.search_queries(&Catalog::builtin(), "p.ron").unwrap();
        assert_eq!(qs.len(), 1);
        let r = search::search_cancellable(&qs[0].as_search(), &Cancel::new()).unwrap();
        r.top.first().expect("the planner finds a plan").spec.clone()
    }

    #[test]
    fn auto_scenario_takes_the_planners_plan() {
        let cat = Catalog::builtin();
        for (scenario_pins, plan_pins) in [("", ""), (", tp: 4", "tp: Some([4])")] {
            let s = Scenario::parse(&AUTO.replace("PINS", scenario_pins), "a.ron").unwrap();
            assert!(s.auto.is_some());
            // Not searched yet: simulating it is refused with the field named, never the stand-in.
            let e = s.simulate_step(&cat, "a.ron").unwrap_err().to_string();
            assert!(e.contains("parallelism.auto") && e.contains("a.ron"), "{e}");
            let searched = search_scenario(&s, &cat, "a.ron", &SearchCache::new(), &Cancel::new()).unwrap();
            assert_eq!(searched.parallelism, planner_best(plan_pins), "pins {scenario_pins:?}");
            if !scenario_pins.is_empty() {
                assert_eq!(searched.parallelism.tp, 4);
            }
            let sum = searched.auto.as_ref().and_then(|a| a.searched.0.clone()).expect("a summary");
            assert!(sum.search_feasible >= 1 && sum.search_enumerated >= sum.search_feasible && sum.screen_rank >= 1, "{sum:?}");
            assert_eq!(sum.parallelism, describe(&searched.parallelism));
            searched.simulate_step(&cat, "a.ron").unwrap();
        }
    }

    #[test]
    fn auto_round_trips_with_its_pins_only() {
        let s = Scenario::parse(&AUTO.replace("PINS", ", tp: 8, micro_batch: Some(2), recompute: None"), "a.ron").unwrap();
        let text = crate::ron_util::to_ron_pretty(&s).unwrap();
        assert!(text.contains("auto: true") && !text.contains("dp:"), "{text}");
        let back = Scenario::parse(&text, "back.ron").unwrap();
        assert_eq!(back.auto, s.auto);
        let a = back.auto.unwrap();
        assert_eq!((a.tp, a.micro_batch, a.recompute, a.pp), (Some(8), Some(2), Some(crate::workload::parallelism::Recompute::None), None));
    }

    #[test]
    fn an_auto_scenario_that_fits_nowhere_names_the_file_and_field() {
        let cat = Catalog::builtin();
        // 405B parameters on 8 devices: no layout holds it.
        let text = AUTO.replace("llama3-8b", "llama3-405b").replace("gpus: 64", "gpus: 8").replace("PINS", "");
        let s = Scenario::parse(&text, "big.ron").unwrap();
        let e = search_scenario(&s, &cat, "big.ron", &SearchCache::new(), &Cancel::new()).unwrap_err().to_string();
        assert!(e.contains("big.ron") && e.contains("parallelism.auto") && e.contains("no parallelism fits"), "{e}");
        // DP with auto is refused at reading, naming the field.
        let e = Scenario::parse(&AUTO.replace("PINS", ", dp: 8"), "dp.ron").unwrap_err().to_string();
        assert!(e.contains("parallelism.dp") && e.contains("auto"), "{e}");
    }
}
