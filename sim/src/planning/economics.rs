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

/// Cost and energy of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
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

/// Average device draw relative to TDP during training (Epoch AI `energy.py`: server average = 0.75 ×
/// max for GPU clusters).
pub const AVG_TO_MAX: f64 = 0.75;

pub fn check(money: &Money, power: &Power, file: &str, field: &str) -> Result<(), WankaError> {
    let bad = |f: &str, msg: String| Err(WankaError::Invalid { file: file.into(), field: format!("{field}.{f}"), msg });
    let nonneg = |v: f64| v >= 0.0 && v.is_finite();
    match money {
        Money::Purchase { card_usd, node_overhead_usd, network_usd_per_port, storage_usd, amortisation_years } => {
            if let Some(c) = card_usd
                && !nonneg(*c)
            {
                return bad("money.card_usd", format!("price must be >= 0 USD, got {c}"));
            }
            for (n, v) in
                [("node_overhead_usd", *node_overhead_usd), ("network_usd_per_port", *network_usd_per_port), ("storage_usd", *storage_usd)]
            {
                if !nonneg(v) {
                    return bad(&format!("money.{n}"), format!("price must be >= 0 USD, got {v}"));
                }
            }
            if !(*amortisation_years > 0.0 && amortisation_years.is_finite()) {
                return bad("money.amortisation_years", format!("must be positive, got {amortisation_years}"));
            }
        }
        Money::Rental { usd_per_device_hour } => {
            if !nonneg(*usd_per_device_hour) {
                return bad("money.usd_per_device_hour", format!("price must be >= 0 USD, got {usd_per_device_hour}"));
            }
        }
    }
    if !(power.pue >= 1.0 && power.pue.is_finite()) {
        return bad("power.pue", format!("must be >= 1.0, got {}", power.pue));
    }
    if !nonneg(power.usd_per_kwh) {
        return bad("power.usd_per_kwh", format!("price must be >= 0, got {}", power.usd_per_kwh));
    }
    if let Some(h) = power.host_w_per_node
        && !nonneg(h)
    {
        return bad("power.host_w_per_node", format!("must be >= 0 W, got {h}"));
    }
    if let Some(c) = power.facility_cap_mw
        && !(c > 0.0 && c.is_finite())
    {
        return bad("power.facility_cap_mw", format!("must be positive, got {c}"));
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
    Ok(Economics {
        capex_usd: capex,
        hardware_usd,
        energy_mwh,
        energy_usd,
        total_usd,
        usd_per_million_tokens: total_usd / (tokens / 1e6),
        peak_mw: peak_w * power.pue / 1e6,
        avg_mw: avg_w * power.pue / 1e6,
    })
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
        assert!(e.contains("candidates[0].money.usd_per_device_hour"), "{e}");
    }
}
