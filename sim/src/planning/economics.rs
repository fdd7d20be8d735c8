//! Money and energy of a training run: purchase (capital cost amortised over the run's wall clock) or
//! rental per device-hour, electricity, peak facility power.
//!
//! Owning: capex = Σ pools (devices × card price + nodes × per-node overhead) + devices × network cost
//! per port (one NIC port per device) + storage, spare nodes included; the run is charged
//! `capex × wall_days / (amortisation_years × 365.25)` plus electricity. Renting: price per device-hour
//! × devices (spares included) × wall hours; electricity is part of the rental price and reported but
//! not added. Power: devices draw `avg_to_max × TDP` on average (Epoch AI's 0.75 for GPU clusters) plus
//! the host overhead per node, × PUE; peak facility power takes devices at TDP.
//! Not modelled: staff, facility construction, financing, resale value, price changes over the run.

use serde::{Deserialize, Serialize};

use crate::error::WankaError;
use crate::hardware::catalog::Chip;

/// How the hardware is paid for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Money {
    Purchase {
        /// Price per device, USD; `None` = the catalog's street price.
        card_usd: Option<f64>,
        /// Server chassis, CPUs, memory, NICs per node, USD (costs_and_power.md §6: $5,000/GPU HGX-class
        /// host = $40,000 per 8-GPU node; $4,000/NPU for Ascend).
        node_overhead_usd: f64,
        /// Network per device port (switches, optics, cables), USD (§6: IB NDR $6,000, RoCE 400G
        /// $4,500, Ascend RoCE $4,000 per GPU).
        network_usd_per_port: f64,
        /// Storage for checkpoints and data, USD.
        storage_usd: f64,
        /// Amortisation period, years (§6: 4; sensitivity 3–6).
        amortisation_years: f64,
    },
    Rental {
        /// USD per device-hour (§1c/§6: $1.0–4.5 by chip and market).
        usd_per_device_hour: f64,
    },
}

/// Power and electricity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Power {
    /// Host overhead per node, W; `None` = the catalog's figure for the chip.
    #[serde(default)]
    pub host_w_per_node: Option<f64>,
    /// Power usage effectiveness (§3: 1.2 China west hubs, 1.25 east; 1.1 hyperscale).
    pub pue: f64,
    /// Electricity price, USD per kWh (§3: 0.055 China west, 0.09 east, 0.08 US).
    pub usd_per_kwh: f64,
    /// Facility power cap, MW; candidates above it are flagged.
    #[serde(default)]
    pub facility_cap_mw: Option<f64>,
}

/// A pool of one chip type as the economics sees it.
#[derive(Debug, Clone)]
pub struct PoolHw<'a> {
    pub chip: &'a Chip,
    pub devices: u64,
    pub gpus_per_node: u32,
}

/// Cost and energy of one run. In JSON (`compare --json`, each candidate's `economics`) the money
/// totals are million USD under the names of the sweep columns and the text reports (docs/OUTPUTS.md):
/// `cost_musd`, `capex_musd`, `hardware_cost_musd`, `energy_cost_musd`, `usd_per_mtok`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(into = "EconomicsJson")]
pub struct Economics {
    /// Capital cost of the hardware (owning), USD; 0 when renting.
    pub capex_usd: f64,
    /// Hardware cost charged to this run (amortised capex, or rental), USD.
    pub hardware_usd: f64,
    pub energy_mwh: f64,
    pub energy_usd: f64,
    /// Total cost of the run, USD (hardware + electricity when owning; rental only when renting).
    pub total_usd: f64,
    pub usd_per_million_tokens: f64,
    /// Facility power with devices at TDP, MW.
    pub peak_mw: f64,
    pub avg_mw: f64,
}

/// [`Economics`] as written in JSON (schema version 2): money totals in million USD.
#[derive(Serialize)]
struct EconomicsJson {
    capex_musd: f64,
    hardware_cost_musd: f64,
    energy_mwh: f64,
    energy_cost_musd: f64,
    cost_musd: f64,
    usd_per_mtok: f64,
    peak_mw: f64,
    avg_mw: f64,
}

impl From<Economics> for EconomicsJson {
    fn from(e: Economics) -> EconomicsJson {
        EconomicsJson {
            capex_musd: e.capex_usd / 1e6,
            hardware_cost_musd: e.hardware_usd / 1e6,
            energy_mwh: e.energy_mwh,
            energy_cost_musd: e.energy_usd / 1e6,
            cost_musd: e.total_usd / 1e6,
            usd_per_mtok: e.usd_per_million_tokens,
            peak_mw: e.peak_mw,
            avg_mw: e.avg_mw,
        }
    }
}

/// Average device draw relative to TDP during training (Epoch AI `energy.py`: server average = 0.75 ×
/// max for GPU clusters).
pub const AVG_TO_MAX: f64 = 0.75;

pub fn check(money: &Money, power: &Power, file: &str, field: &str) -> Result<(), WankaError> {
    use crate::limits::{self as l, in_band};
    let f = |name: &str| format!("{field}.{name}");
    match money {
        Money::Purchase { card_usd, node_overhead_usd, network_usd_per_port, storage_usd, amortisation_years } => {
            if let Some(c) = card_usd {
                in_band(file, &f("money.card_usd"), *c, l::DEVICE_USD, "USD")?;
            }
            in_band(file, &f("money.node_overhead_usd"), *node_overhead_usd, l::NODE_USD, "USD")?;
            in_band(file, &f("money.network_usd_per_port"), *network_usd_per_port, l::DEVICE_USD, "USD")?;
            in_band(file, &f("money.storage_usd"), *storage_usd, l::STORAGE_USD, "USD")?;
            in_band(file, &f("money.amortisation_years"), *amortisation_years, l::AMORTISATION_YEARS, "years")?;
        }
        Money::Rental { usd_per_device_hour } => {
            in_band(file, &f("money.usd_per_device_hour"), *usd_per_device_hour, l::RENTAL_USD_PER_DEVICE_HOUR, "USD")?;
        }
    }
    in_band(file, &f("power.pue"), power.pue, l::PUE, "")?;
    in_band(file, &f("power.usd_per_kwh"), power.usd_per_kwh, l::USD_PER_KWH, "USD")?;
    if let Some(h) = power.host_w_per_node {
        in_band(file, &f("power.host_w_per_node"), h, l::HOST_W_PER_NODE, "W")?;
    }
    if let Some(c) = power.facility_cap_mw {
        in_band(file, &f("power.facility_cap_mw"), c, l::FACILITY_CAP_MW, "MW")?;
    }
    Ok(())
}

/// Cost and energy of a run of `wall_days` that trains `tokens` on `pools` (+ `spare_nodes` spare
/// nodes of the first pool's type).
pub fn economics(
    money: &Money,
    power: &Power,
    pools: &[PoolHw],
    spare_nodes: u32,
    wall_days: f64,
    tokens: f64,
) -> Result<Economics, String> {
    let hours = wall_days * 24.0;
    let mut capex = 0.0;
    let mut devices_total = 0.0;
    let mut avg_w = 0.0;
    let mut peak_w = 0.0;
    for (i, p) in pools.iter().enumerate() {
        let spare = if i == 0 { f64::from(spare_nodes) } else { 0.0 };
        let nodes = (p.devices as f64 / f64::from(p.gpus_per_node)).ceil() + spare;
        let devices = nodes * f64::from(p.gpus_per_node);
        devices_total += devices;
        let host_w = power
            .host_w_per_node
            .or(p.chip.host_w_per_node)
            .ok_or_else(|| format!("{}: no host power in the catalog; set power.host_w_per_node", p.chip.id))?;
        // Spares idle: count them at host power only.
        let active_nodes = nodes - spare;
        avg_w += active_nodes * (f64::from(p.gpus_per_node) * p.chip.tdp_w * AVG_TO_MAX + host_w) + spare * host_w;
        peak_w += nodes * (f64::from(p.gpus_per_node) * p.chip.tdp_w + host_w / AVG_TO_MAX);
        if let Money::Purchase { card_usd, node_overhead_usd, network_usd_per_port, .. } = money {
            let card =
                card_usd.or(p.chip.price_usd).ok_or_else(|| format!("{}: no price in the catalog; set money.card_usd", p.chip.id))?;
            capex += devices * (card + network_usd_per_port) + nodes * node_overhead_usd;
        }
    }
    let energy_mwh = avg_w * power.pue * hours / 1e6;
    let energy_usd = energy_mwh * 1000.0 * power.usd_per_kwh;
    let (hardware_usd, total_usd) = match money {
        Money::Purchase { storage_usd, amortisation_years, .. } => {
            capex += storage_usd;
            let hw = capex * wall_days / (amortisation_years * 365.25);
            (hw, hw + energy_usd)
        }
        Money::Rental { usd_per_device_hour } => {
            let hw = usd_per_device_hour * devices_total * hours;
            (hw, hw)
        }
    };
    let e = Economics {
        capex_usd: capex,
        hardware_usd,
        energy_mwh,
        energy_usd,
        total_usd,
        usd_per_million_tokens: total_usd / (tokens / 1e6),
        peak_mw: peak_w * power.pue / 1e6,
        avg_mw: avg_w * power.pue / 1e6,
    };
    // Every input is bounded ([`check`], the catalog's bands), so this holds; a non-finite or negative
    // figure is refused rather than ranked (an infinite cost must never reach the Pareto front).
    for (name, v) in [
        ("capex_usd", e.capex_usd),
        ("hardware_usd", e.hardware_usd),
        ("energy_mwh", e.energy_mwh),
        ("energy_usd", e.energy_usd),
        ("total_usd", e.total_usd),
        ("usd_per_million_tokens", e.usd_per_million_tokens),
        ("peak_mw", e.peak_mw),
        ("avg_mw", e.avg_mw),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(format!("the run's {name} comes out as {v} (wall clock {wall_days} days): a price, power or size is out of range"));
        }
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::catalog::Catalog;

    /// costs_and_power.md §6 worked check: H100, 4-year amortisation, $39,500 per GPU all-in ⇒
    /// $1.13 per GPU-hour of capital.
    #[test]
    fn worked_check_capex_per_gpu_hour() {
        let chip = Catalog::builtin().chip("h100-sxm").unwrap();
        let pools = [PoolHw { chip, devices: 8000, gpus_per_node: 8 }];
        let money = Money::Purchase {
            card_usd: Some(27_500.0),
            node_overhead_usd: 40_000.0,
            network_usd_per_port: 6_000.0,
            storage_usd: 8_000_000.0,
            amortisation_years: 4.0,
        };
        let power = Power { host_w_per_node: Some(3000.0), pue: 1.2, usd_per_kwh: 0.08, facility_cap_mw: None };
        let e = economics(&money, &power, &pools, 0, 365.25, 1e12).unwrap();
        let per_gpu_hour = e.hardware_usd / (8000.0 * 365.25 * 24.0);
        assert!((per_gpu_hour - 39_500.0 / (4.0 * 8766.0)).abs() < 0.01, "{per_gpu_hour}");
        // Average draw: 8 x 700 W x 0.75 + 3 kW = 7.2 kW per node, x PUE 1.2.
        assert!((e.avg_mw - 1000.0 * 7.2e3 * 1.2 / 1e6).abs() < 1e-9);
        let rent = economics(&Money::Rental { usd_per_device_hour: 2.0 }, &power, &pools, 0, 1.0, 1e12).unwrap();
        assert!((rent.total_usd - 2.0 * 8000.0 * 24.0).abs() < 1e-6);
    }

    #[test]
    fn negative_prices_are_rejected() {
        let money = Money::Rental { usd_per_device_hour: -1.0 };
        let power = Power { host_w_per_node: None, pue: 1.2, usd_per_kwh: 0.08, facility_cap_mw: None };
        let e = check(&money, &power, "p.ron", "candidates[0]").unwrap_err().to_string();
        assert!(e.contains("p.ron") && e.contains("candidates[0].money.usd_per_device_hour") && e.contains("[0, 100000]"), "{e}");
    }

    #[test]
    fn huge_prices_are_refused_and_totals_stay_finite() {
        let power = Power { host_w_per_node: None, pue: 1.2, usd_per_kwh: 0.08, facility_cap_mw: None };
        let money = |storage: f64| Money::Purchase {
            card_usd: None,
            node_overhead_usd: 0.0,
            network_usd_per_port: 0.0,
            storage_usd: storage,
            amortisation_years: 4.0,
        };
        let e = check(&money(1e308), &power, "p.ron", "candidates[2]").unwrap_err().to_string();
        assert!(e.contains("candidates[2].money.storage_usd") && e.contains("1e308") && e.contains("[0, 1000000000000] USD"), "{e}");
        for bad in [f64::NAN, f64::INFINITY, -1.0] {
            assert!(check(&money(bad), &power, "p.ron", "c").is_err(), "storage {bad} accepted");
        }
        // At every bound at once the totals are finite.
        let chip = Catalog::builtin().chip("h100-sxm").unwrap();
        let pools = [PoolHw { chip, devices: u64::from(u32::MAX), gpus_per_node: 8 }];
        let max = Money::Purchase {
            card_usd: Some(1e7),
            node_overhead_usd: 1e8,
            network_usd_per_port: 1e7,
            storage_usd: 1e12,
            amortisation_years: 1.0 / 12.0,
        };
        let top = Power { host_w_per_node: Some(1e6), pue: 10.0, usd_per_kwh: 100.0, facility_cap_mw: None };
        check(&max, &top, "p.ron", "c").unwrap();
        let e = economics(&max, &top, &pools, 1000, crate::limits::MAX_DAYS, 1.0).unwrap();
        assert!(e.total_usd.is_finite() && e.total_usd > 0.0, "{e:?}");
        // A non-finite total (an unchecked caller) is refused, not returned.
        let inf = Money::Rental { usd_per_device_hour: f64::MAX };
        assert!(economics(&inf, &power, &pools, 0, 10.0, 1e12).unwrap_err().contains("comes out as inf"));
    }
}
