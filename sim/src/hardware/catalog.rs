//! Hardware catalog: accelerators (chips), interconnect fabrics, cluster topologies and the
//! per-chip calibration profiles.
//!
//! The catalog is data, not code: it lives in RON files under `scenarios/catalog/`, each figure with a
//! source comment. The files are compiled into the binary (`include_str!`) so that `wanka` works from any
//! directory; [`Catalog::load_dir`] reads an edited copy instead.
//!
//! What is modelled: dense peak throughput at 16 and 8 bits, HBM capacity and bandwidth, the scale-up
//! link (NVLink, HCCS, …) bandwidth and domain size, TDP and price; fabric bandwidth, latency and the
//! fraction of link peak that large collectives reach; calibration of achievable GEMM and HBM
//! efficiency. Not modelled: clocks under power capping, sparsity, per-kernel tuning.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{WankaError, closest_ids};
use crate::ron_util::parse_ron;

/// One accelerator SKU.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Chip {
    /// Catalog id used by scenarios, e.g. `h100-sxm`.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    pub vendor: String,
    /// Dense FP16/BF16 tensor throughput, TFLOP/s (no sparsity).
    pub bf16_dense_tflops: f64,
    /// Dense FP8 tensor throughput, TFLOP/s; `None` when the chip has no FP8 (Ampere, Ascend 910B,
    /// TPU v4/v5p …): FP8 scenarios on such a chip are refused.
    pub fp8_dense_tflops: Option<f64>,
    /// Dense INT8 throughput, TOP/s, where published (inference figure; not used for training).
    #[serde(default)]
    pub int8_dense_tops: Option<f64>,
    /// HBM (or device memory) capacity as marketed, "GB". HBM stacks are binary-sized, so the bytes are
    /// `hbm_gb · 2^30` (an "80 GB" H100 holds 85.9e9 bytes); see [`Chip::hbm_capacity_gb`]. `hbm_gib`
    /// in `catalog --json` (units in the names, docs/OUTPUTS.md); `hbm_gb` in `chips.ron`, as marketed.
    #[serde(rename(serialize = "hbm_gib"))]
    pub hbm_gb: f64,
    /// Device memory bandwidth, GB/s.
    pub hbm_gb_per_s: f64,
    /// Fabric id of the scale-up link (NVLink generation, HCCS, PCIe …).
    pub scale_up_fabric: String,
    /// Total scale-up bandwidth per device, GB/s, both directions summed (as vendors quote it).
    pub scale_up_gb_per_s_bidir: f64,
    /// Devices in one scale-up domain (one node for HGX-class servers; 72 for NVL72).
    pub scale_up_domain: u32,
    /// Device-to-host link per device, GB/s in one direction (PCIe, NVLink-C2C): what activation
    /// offloading moves over. `None`: not in the catalog, and offloading on this chip is refused.
    #[serde(default)]
    pub host_link_gb_per_s: Option<f64>,
    /// Thermal design power, W.
    pub tdp_w: f64,
    /// Id of the calibration profile (achievable efficiencies) this chip uses.
    pub calibration: String,
    /// Street price per accelerator, USD (chip or module only).
    pub price_usd: Option<f64>,
    /// Long-term rental price, USD per device-hour.
    pub rental_usd_per_hour: Option<f64>,
    /// Host overhead per 8-device node (CPUs, NICs, fans, switches), average W.
    pub host_w_per_node: Option<f64>,
    /// How sure the figures are: `V`, `S`, `M`, `D` tags of the source notes, plus any caveat.
    pub confidence: String,
}

impl Chip {
    /// Dense tensor peak for GEMMs in `precision`, FLOP/s; an error naming the chip and what it supports
    /// when it has no such unit (FP8 on an A100).
    pub fn peak_flops(&self, precision: crate::step::stack::Precision) -> Result<f64, WankaError> {
        use crate::step::stack::Precision;
        match precision {
            Precision::Bf16 | Precision::Fp16 => Ok(self.bf16_dense_tflops * 1e12),
            Precision::Fp8 => self.fp8_dense_tflops.map(|t| t * 1e12).ok_or_else(|| WankaError::Invalid {
                file: "scenarios/catalog/chips.ron".into(),
                field: "framework.precision".into(),
                msg: format!(
                    "{} ({}) has no FP8 tensor units; it supports BF16 and FP16{}",
                    self.id,
                    self.name,
                    if self.int8_dense_tops.is_some() { " (and INT8 for inference)" } else { "" }
                ),
            }),
        }
    }
    /// The 16-bit dense peak, FLOP/s: the denominator of MFU whatever the GEMM precision (the papers'
    /// convention; an FP8 run's MFU against the FP8 peak is reported beside it).
    pub fn bf16_peak_flops(&self) -> f64 {
        self.bf16_dense_tflops * 1e12
    }
    /// Device memory in 10^9 bytes (the unit memory breakdowns use).
    pub fn hbm_capacity_gb(&self) -> f64 {
        self.hbm_gb * 1_073_741_824.0 / 1e9
    }
}

/// Achievable-efficiency calibration shared by a family of chips.
///
/// GEMM efficiency for an `m×k · k×n` product is
/// `gemm_max_fraction · g(m)·g(n)·g(k)` with `g(d) = d / (d + gemm_half_dim)`: large GEMMs approach the
/// ceiling, thin shards (large TP, small micro-batch, small head dimension) fall further below peak.
/// Memory-bound work runs at `hbm_fraction` of HBM bandwidth.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    pub id: String,
    /// Ceiling on achieved/peak for very large dense GEMMs.
    pub gemm_max_fraction: f64,
    /// Matrix dimension at which a GEMM dimension halves the efficiency factor.
    pub gemm_half_dim: f64,
    /// Achieved/peak HBM bandwidth for streaming elementwise kernels.
    pub hbm_fraction: f64,
    /// Fixed cost per kernel launch gap, microseconds (launch latency, synchronisation).
    pub kernel_overhead_us: f64,
    /// Achieved/peak of fused (Flash) attention kernels on executed FLOPs, if measured; `None` = treat
    /// attention as batched GEMMs.
    #[serde(default)]
    pub attention_fraction: Option<f64>,
    /// Achieved/peak of the architecture-specific fused attention (FlashAttention-3, cuDNN fused
    /// attention on Hopper/Blackwell), used when the stack sets `native_attention`; `None` = the chip
    /// has none beyond `attention_fraction`.
    #[serde(default)]
    pub native_attention_fraction: Option<f64>,
    /// Ceiling on achieved/FP8-peak for very large FP8 GEMMs (Transformer Engine, per-tensor or
    /// block scaling incl. its quantisation kernels); `None` = the BF16 ceiling applied to the FP8 peak.
    #[serde(default)]
    pub fp8_gemm_max_fraction: Option<f64>,
    /// The calibrated profile this one starts from (uncalibrated profiles must name one; their figures
    /// may not exceed the parent's without a cited source, which the test suite checks).
    #[serde(default)]
    pub parent: Option<String>,
    /// `true` when the figures were fitted to published runs (named in `basis`), `false` when carried
    /// over from a related chip; reports flag uncalibrated chips.
    pub calibrated: bool,
    /// What the figures rest on.
    pub basis: String,
    /// Chip ids whose published runs the profile was fitted on; other chips of the family use it by
    /// extrapolation and reports say so.
    #[serde(default)]
    pub fitted_on: Vec<String>,
    /// Leave-one-out step-time errors from a calibration overlay's step rows (signed fractions); empty
    /// for the built-in profiles, whose errors are the case files' (`scenarios/validation/accuracy_errors.csv`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loo_step_errors: Vec<f64>,
    /// The calibration overlay that changed this profile (`--calibration FILE`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay: Option<String>,
}

impl Calibration {
    /// A caveat for using this profile on `chip`, if any.
    pub fn caveat(&self, chip: &str) -> Option<String> {
        if !self.calibrated {
            Some(format!(
                "{chip}: efficiency profile `{}` is not fitted to published runs ({}); treat figures as an estimate",
                self.id, self.basis
            ))
        } else if !self.fitted_on.iter().any(|c| c == chip) {
            Some(format!(
                "{chip}: efficiency profile `{}` was fitted on {} and is applied to this chip by family",
                self.id,
                self.fitted_on.join(", ")
            ))
        } else {
            None
        }
    }
}

/// Kind of link a fabric provides.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum FabricKind {
    /// Inside a scale-up domain: NVLink/NVSwitch, HCCS, Infinity Fabric, ICI.
    ScaleUp,
    /// Between domains: InfiniBand, RoCE Ethernet.
    ScaleOut,
    /// Host bus used as the only device-to-device path (PCIe cards).
    HostBus,
}

/// One interconnect technology.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Fabric {
    pub id: String,
    pub name: String,
    pub kind: FabricKind,
    /// Per-port (scale-out) or per-device (scale-up reference) bandwidth, Gbit/s per direction.
    pub gbit_per_s_per_direction: f64,
    /// One-way latency of a small message across one hop incl. software, microseconds.
    pub latency_us: f64,
    /// Fraction of link peak that large collectives reach (NCCL bus bandwidth ÷ link rate).
    pub collective_efficiency: f64,
    /// Switch can reduce in the network (SHARP, NVLS).
    pub in_network_reduction: bool,
    /// Largest scale-up domain the fabric builds, devices (72 for an NVL72 rack, 384 for CloudMatrix);
    /// `None` where not recorded (and for scale-out fabrics). A chip on this fabric may not claim a
    /// larger `scale_up_domain`.
    #[serde(default)]
    pub domain_devices: Option<u32>,
}

/// A scale-out topology template: leaf/spine(/core) with oversubscription.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TopologyTemplate {
    pub id: String,
    pub name: String,
    /// Rail-optimised: NIC *r* of every node attaches to leaf switch *r* of its group.
    pub rails: bool,
    /// Nodes under one leaf (or one set of rail leaves).
    pub nodes_per_leaf: u32,
    /// Nodes in one full-bisection pod (spine tier).
    pub nodes_per_pod: u32,
    /// Downlink:uplink ratio at the leaf→spine tier (1.0 = non-blocking).
    pub leaf_oversubscription: f64,
    /// Downlink:uplink ratio at the spine→core tier, i.e. between pods.
    pub core_oversubscription: f64,
    /// Extra latency per switch hop, microseconds.
    pub switch_hop_latency_us: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChipFile {
    calibrations: Vec<Calibration>,
    chips: Vec<Chip>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FabricFile {
    fabrics: Vec<Fabric>,
    topologies: Vec<TopologyTemplate>,
}

/// The whole catalog, indexed by id.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub chips: BTreeMap<String, Chip>,
    pub calibrations: BTreeMap<String, Calibration>,
    pub fabrics: BTreeMap<String, Fabric>,
    pub topologies: BTreeMap<String, TopologyTemplate>,
}

const CHIPS_RON: &str = include_str!("../../../scenarios/catalog/chips.ron");
const FABRICS_RON: &str = include_str!("../../../scenarios/catalog/fabrics.ron");

impl Catalog {
    /// The catalog compiled into the binary (the repository's `scenarios/catalog/`).
    pub fn builtin() -> &'static Catalog {
        static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
        CATALOG.get_or_init(|| {
            Catalog::from_sources(CHIPS_RON, "scenarios/catalog/chips.ron", FABRICS_RON, "scenarios/catalog/fabrics.ron")
                .expect("the built-in catalog is validated by the test suite")
        })
    }

    /// Read `chips.ron` and `fabrics.ron` from a directory.
    pub fn load_dir(dir: &Path) -> Result<Catalog, WankaError> {
        let chips_path = dir.join("chips.ron");
        let fabrics_path = dir.join("fabrics.ron");
        let chips = crate::ron_util::read_file(&chips_path)?;
        let fabrics = crate::ron_util::read_file(&fabrics_path)?;
        Catalog::from_sources(&chips, &chips_path.display().to_string(), &fabrics, &fabrics_path.display().to_string())
    }

    /// Parse and cross-check catalog sources.
    pub fn from_sources(chips_src: &str, chips_name: &str, fabrics_src: &str, fabrics_name: &str) -> Result<Catalog, WankaError> {
        let chip_file: ChipFile = parse_ron(chips_src, chips_name)?;
        let fabric_file: FabricFile = parse_ron(fabrics_src, fabrics_name)?;
        let mut cat = Catalog::default();
        for c in chip_file.calibrations {
            insert_unique(&mut cat.calibrations, c.id.clone(), c, chips_name, "calibrations")?;
        }
        for c in chip_file.chips {
            insert_unique(&mut cat.chips, c.id.clone(), c, chips_name, "chips")?;
        }
        for f in fabric_file.fabrics {
            insert_unique(&mut cat.fabrics, f.id.clone(), f, fabrics_name, "fabrics")?;
        }
        for t in fabric_file.topologies {
            insert_unique(&mut cat.topologies, t.id.clone(), t, fabrics_name, "topologies")?;
        }
        cat.check(chips_name, fabrics_name)?;
        Ok(cat)
    }

    /// Every figure within its band of [`crate::limits`] (named with the file, the entry and the field),
    /// and every reference resolved.
    pub(crate) fn check(&self, chips_name: &str, fabrics_name: &str) -> Result<(), WankaError> {
        use crate::limits::{self as l, fraction, in_band};
        let bad = |file: &str, field: String, msg: String| WankaError::Invalid { file: file.to_string(), field, msg };
        for cal in self.calibrations.values() {
            let f = format!("calibrations[{}]", cal.id);
            fraction(chips_name, &format!("{f}.gemm_max_fraction"), cal.gemm_max_fraction)?;
            fraction(chips_name, &format!("{f}.hbm_fraction"), cal.hbm_fraction)?;
            for (name, v) in [
                ("attention_fraction", cal.attention_fraction),
                ("native_attention_fraction", cal.native_attention_fraction),
                ("fp8_gemm_max_fraction", cal.fp8_gemm_max_fraction),
            ] {
                if let Some(v) = v {
                    fraction(chips_name, &format!("{f}.{name}"), v)?;
                }
            }
            in_band(chips_name, &format!("{f}.gemm_half_dim"), cal.gemm_half_dim, l::GEMM_HALF_DIM, "")?;
            in_band(chips_name, &format!("{f}.kernel_overhead_us"), cal.kernel_overhead_us, l::KERNEL_OVERHEAD_US, "us")?;
        }
        for chip in self.chips.values() {
            let f = format!("chips[{}]", chip.id);
            let field = |name: &str| format!("{f}.{name}");
            in_band(chips_name, &field("bf16_dense_tflops"), chip.bf16_dense_tflops, l::CHIP_TFLOPS, "TFLOP/s")?;
            if let Some(v) = chip.fp8_dense_tflops {
                in_band(chips_name, &field("fp8_dense_tflops"), v, l::CHIP_TFLOPS, "TFLOP/s")?;
            }
            if let Some(v) = chip.host_link_gb_per_s {
                in_band(chips_name, &field("host_link_gb_per_s"), v, l::CHIP_GB_PER_S, "GB/s")?;
            }
            if let Some(v) = chip.int8_dense_tops {
                in_band(chips_name, &field("int8_dense_tops"), v, l::CHIP_TFLOPS, "TOP/s")?;
            }
            in_band(chips_name, &field("hbm_gb"), chip.hbm_gb, l::CHIP_MEMORY_GB, "GB")?;
            in_band(chips_name, &field("hbm_gb_per_s"), chip.hbm_gb_per_s, l::CHIP_GB_PER_S, "GB/s")?;
            in_band(chips_name, &field("scale_up_gb_per_s_bidir"), chip.scale_up_gb_per_s_bidir, l::CHIP_GB_PER_S, "GB/s")?;
            in_band(chips_name, &field("tdp_w"), chip.tdp_w, l::CHIP_TDP_W, "W")?;
            if let Some(v) = chip.price_usd {
                in_band(chips_name, &field("price_usd"), v, l::DEVICE_USD, "USD")?;
            }
            if let Some(v) = chip.rental_usd_per_hour {
                in_band(chips_name, &field("rental_usd_per_hour"), v, l::RENTAL_USD_PER_DEVICE_HOUR, "USD per device-hour")?;
            }
            if let Some(v) = chip.host_w_per_node {
                in_band(chips_name, &field("host_w_per_node"), v, l::HOST_W_PER_NODE, "W")?;
            }
            let (lo, hi) = l::CHIP_SCALE_UP_DOMAIN;
            if !(lo..=hi).contains(&chip.scale_up_domain) {
                return Err(bad(
                    chips_name,
                    field("scale_up_domain"),
                    format!("must be between {lo} and {hi} devices, got {}", chip.scale_up_domain),
                ));
            }
            if !self.calibrations.contains_key(&chip.calibration) {
                return Err(bad(
                    chips_name,
                    format!("{f}.calibration"),
                    unknown_msg("calibration", &chip.calibration, self.calibrations.keys()),
                ));
            }
            let Some(fabric) = self.fabrics.get(&chip.scale_up_fabric) else {
                return Err(bad(
                    chips_name,
                    format!("{f}.scale_up_fabric"),
                    unknown_msg("fabric", &chip.scale_up_fabric, self.fabrics.keys()),
                ));
            };
            if let Some(max) = fabric.domain_devices
                && chip.scale_up_domain > max
            {
                return Err(bad(
                    chips_name,
                    format!("{f}.scale_up_domain"),
                    format!(
                        "{} exceeds the {} devices fabric `{}` builds (fabrics.ron domain_devices)",
                        chip.scale_up_domain, max, fabric.id
                    ),
                ));
            }
        }
        for fab in self.fabrics.values() {
            let f = format!("fabrics[{}]", fab.id);
            in_band(fabrics_name, &format!("{f}.gbit_per_s_per_direction"), fab.gbit_per_s_per_direction, l::FABRIC_GBIT, "Gbit/s")?;
            in_band(fabrics_name, &format!("{f}.latency_us"), fab.latency_us, l::LATENCY_US, "us")?;
            fraction(fabrics_name, &format!("{f}.collective_efficiency"), fab.collective_efficiency)?;
            if fab.domain_devices == Some(0) {
                return Err(bad(fabrics_name, format!("{f}.domain_devices"), "must be at least 1 (or left out)".into()));
            }
        }
        for t in self.topologies.values() {
            let f = format!("topologies[{}]", t.id);
            if t.nodes_per_leaf == 0 || t.nodes_per_pod < t.nodes_per_leaf {
                return Err(bad(
                    fabrics_name,
                    format!("{f}.nodes_per_pod"),
                    format!(
                        "needs nodes_per_leaf >= 1 and nodes_per_pod >= nodes_per_leaf, got {} and {}",
                        t.nodes_per_leaf, t.nodes_per_pod
                    ),
                ));
            }
            in_band(fabrics_name, &format!("{f}.leaf_oversubscription"), t.leaf_oversubscription, l::OVERSUBSCRIPTION, "")?;
            in_band(fabrics_name, &format!("{f}.core_oversubscription"), t.core_oversubscription, l::OVERSUBSCRIPTION, "")?;
            in_band(fabrics_name, &format!("{f}.switch_hop_latency_us"), t.switch_hop_latency_us, l::LATENCY_US, "us")?;
        }
        Ok(())
    }

    /// Look a chip up, or fail listing the closest ids.
    pub fn chip(&self, id: &str) -> Result<&Chip, WankaError> {
        self.chips.get(id).ok_or_else(|| WankaError::Unknown {
            kind: "chip",
            id: id.to_string(),
            closest: closest_ids(id, self.chips.keys()),
        })
    }
    /// The calibration profile of a chip.
    pub fn calibration(&self, chip: &Chip) -> &Calibration {
        &self.calibrations[&chip.calibration]
    }
    pub fn fabric(&self, id: &str) -> Result<&Fabric, WankaError> {
        self.fabrics.get(id).ok_or_else(|| WankaError::Unknown {
            kind: "fabric",
            id: id.to_string(),
            closest: closest_ids(id, self.fabrics.keys()),
        })
    }
    pub fn topology(&self, id: &str) -> Result<&TopologyTemplate, WankaError> {
        self.topologies.get(id).ok_or_else(|| WankaError::Unknown {
            kind: "topology",
            id: id.to_string(),
            closest: closest_ids(id, self.topologies.keys()),
        })
    }
}

pub(crate) fn unknown_msg<'a>(kind: &str, id: &str, ids: impl Iterator<Item = &'a String>) -> String {
    format!("unknown {kind} `{id}`; closest: {}", closest_ids(id, ids).join(", "))
}

fn insert_unique<T>(map: &mut BTreeMap<String, T>, id: String, v: T, file: &str, list: &str) -> Result<(), WankaError> {
    if map.contains_key(&id) {
        return Err(WankaError::Invalid { file: file.to_string(), field: format!("{list}[{id}]"), msg: "duplicate id".into() });
    }
    map.insert(id, v);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_has_required_chips_and_fabrics() {
        let cat = Catalog::builtin();
        for id in [
            "v100-sxm2-32gb",
            "a100-sxm-40gb",
            "a100-sxm-80gb",
            "a800-sxm-80gb",
            "h100-sxm",
            "h100-pcie",
            "h800-sxm",
            "h20",
            "h200-sxm",
            "b200",
            "mi300x",
            "gaudi2",
            "gaudi3",
            "tpu-v4",
            "tpu-v5p",
            "ascend-910b",
            "mlu370-x8",
            "br100",
            "tiangai-100",
            "mtt-s4000",
            "hygon-k100",
        ] {
            assert!(cat.chips.contains_key(id), "missing chip {id}");
        }
        for id in [
            "nvlink2",
            "nvlink3",
            "nvlink4",
            "nvlink5",
            "hccs",
            "pcie4",
            "pcie5",
            "ib-hdr",
            "ib-ndr",
            "ib-xdr",
            "roce-200g",
            "roce-400g",
            "roce-800g",
        ] {
            assert!(cat.fabrics.contains_key(id), "missing fabric {id}");
        }
    }

    #[test]
    fn export_skus_have_capped_nvlink() {
        let cat = Catalog::builtin();
        let a100 = cat.chip("a100-sxm-80gb").unwrap();
        let a800 = cat.chip("a800-sxm-80gb").unwrap();
        let h100 = cat.chip("h100-sxm").unwrap();
        let h800 = cat.chip("h800-sxm").unwrap();
        assert!(a800.scale_up_gb_per_s_bidir < a100.scale_up_gb_per_s_bidir);
        assert!(h800.scale_up_gb_per_s_bidir < h100.scale_up_gb_per_s_bidir);
        assert_eq!(a800.bf16_dense_tflops, a100.bf16_dense_tflops);
    }

    #[test]
    fn uncalibrated_profiles_are_never_more_optimistic_than_their_parent() {
        let cat = Catalog::builtin();
        for cal in cat.calibrations.values() {
            let Some(pid) = &cal.parent else {
                assert!(cal.calibrated, "{}: an uncalibrated profile must name its calibrated parent", cal.id);
                continue;
            };
            let p = &cat.calibrations[pid];
            assert!(p.calibrated, "{}: parent {pid} is not calibrated", cal.id);
            if cal.calibrated {
                continue; // fitted on its own runs
            }
            let le = |name: &str, a: Option<f64>, b: Option<f64>| {
                if let (Some(a), Some(b)) = (a, b) {
                    assert!(a <= b + 1e-12, "{}: {name} {a} exceeds parent {pid}'s {b}", cal.id);
                }
            };
            le("gemm_max_fraction", Some(cal.gemm_max_fraction), Some(p.gemm_max_fraction));
            le("hbm_fraction", Some(cal.hbm_fraction), Some(p.hbm_fraction));
            le("attention_fraction", cal.attention_fraction, p.attention_fraction);
            le("native_attention_fraction", cal.native_attention_fraction, p.native_attention_fraction);
            le("fp8_gemm_max_fraction", cal.fp8_gemm_max_fraction, p.fp8_gemm_max_fraction);
            assert!(
                cal.gemm_half_dim >= p.gemm_half_dim,
                "{}: gemm_half_dim below parent {pid}'s (more optimistic on small GEMMs)",
                cal.id
            );
            assert!(cal.kernel_overhead_us >= p.kernel_overhead_us, "{}: launch gap below parent {pid}'s", cal.id);
        }
    }

    #[test]
    fn fp8_on_a_chip_without_fp8_is_an_error_naming_the_chip() {
        let cat = Catalog::builtin();
        let a100 = cat.chip("a100-sxm-80gb").unwrap();
        let e = a100.peak_flops(crate::step::stack::Precision::Fp8).unwrap_err().to_string();
        assert!(e.contains("a100-sxm-80gb") && e.contains("no FP8") && e.contains("BF16"), "{e}");
        let h100 = cat.chip("h100-sxm").unwrap();
        assert_eq!(h100.peak_flops(crate::step::stack::Precision::Fp8).unwrap(), 1979e12);
        // FP16 and BF16 share the 16-bit peak.
        assert_eq!(a100.peak_flops(crate::step::stack::Precision::Fp16).unwrap(), a100.bf16_peak_flops());
    }

    /// Lines of a catalog file that set a number (`field: 1.0,` or `field: Some(1.0),`) without a `//`
    /// comment carrying a confidence tag: `V`, `S`, `M`, `D` (the reference notes' tags) or a word saying
    /// what the figure is when it has no source (fitted, carried, assumption, estimate, placeholder,
    /// illustrative, limitation, derived).
    fn figures_without_source(src: &str) -> Vec<String> {
        const WORDS: [&str; 8] = ["fitted", "carried", "assumption", "estimate", "placeholder", "illustrative", "limitation", "derived"];
        let mut missing = Vec::new();
        for (i, line) in src.lines().enumerate() {
            let (code, comment) = line.split_once("//").unwrap_or((line, ""));
            let Some((key, value)) = code.trim().split_once(':') else { continue };
            let value = value.trim().trim_start_matches("Some(");
            let is_field = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !is_field || !value.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                continue;
            }
            let tagged = comment.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| matches!(w, "V" | "S" | "M" | "D"))
                || WORDS.iter().any(|w| comment.to_lowercase().contains(w));
            if !tagged {
                missing.push(format!("line {}: {}", i + 1, line.trim()));
            }
        }
        missing
    }

    #[test]
    fn every_catalog_figure_has_a_source_comment_and_a_confidence_tag() {
        let failures = include_str!("../../../scenarios/catalog/failures.ron");
        for (name, src) in [("chips.ron", CHIPS_RON), ("fabrics.ron", FABRICS_RON), ("failures.ron", failures)] {
            let missing = figures_without_source(src);
            assert!(missing.is_empty(), "scenarios/catalog/{name}: figures without a tagged source comment:\n{}", missing.join("\n"));
        }
        for chip in Catalog::builtin().chips.values() {
            let first = chip.confidence.split(|c: char| !c.is_ascii_alphanumeric()).next().unwrap_or("");
            assert!(
                matches!(first, "V" | "S" | "M" | "D") || chip.confidence.starts_with("estimate"),
                "{}: confidence `{}` does not start with a tag (V, S, M, D or estimate)",
                chip.id,
                chip.confidence
            );
        }
    }

    #[test]
    fn the_source_check_flags_untagged_and_uncommented_figures() {
        let src = "(\n  tdp_w: 700.0,\n  hbm_gb: 80.0, // from a blog\n  price_usd: Some(1.0), // S: list price\n  \
                   latency_us: 2.0, // assumption\n  name: \"x\",\n  price_usd: None,\n  id: \"DSV3\", // M\n)";
        let missing = figures_without_source(src);
        assert_eq!(missing.len(), 2, "{missing:?}");
        assert!(missing[0].starts_with("line 2: tdp_w") && missing[1].starts_with("line 3: hbm_gb"), "{missing:?}");
    }

    #[test]
    fn new_2026_parts_are_in_the_catalog_with_their_domains() {
        let cat = Catalog::builtin();
        for (id, domain) in [
            ("ascend-910c", 384),
            ("ascend-910a", 4),
            ("kunlunxin-p800", 8),
            ("enflame-t20", 8),
            ("mlu590", 8),
            ("gb300", 72),
            ("b300", 8),
            ("mi325x", 8),
            ("mi355x", 8),
            ("tpu-v6e", 256),
            ("h100-nvl", 2),
        ] {
            let chip = cat.chip(id).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(chip.scale_up_domain, domain, "{id}");
        }
        for (id, devices) in [("nvlink5-nvl72", 72), ("ub-cloudmatrix", 384), ("infinity-fabric-cdna4", 8), ("tpu-ici-v6e", 256)] {
            assert_eq!(cat.fabric(id).unwrap().domain_devices, Some(devices), "{id}");
        }
        assert_eq!(cat.chip("gb200").unwrap().scale_up_fabric, "nvlink5-nvl72");
    }

    #[test]
    fn a_chip_domain_larger_than_its_fabric_builds_is_an_error_naming_the_field() {
        let chips = CHIPS_RON.replace("scale_up_domain: 384,", "scale_up_domain: 512,");
        let e = Catalog::from_sources(&chips, "chips.ron", FABRICS_RON, "fabrics.ron").unwrap_err().to_string();
        assert!(e.contains("chips[ascend-910c].scale_up_domain") && e.contains("384") && e.contains("ub-cloudmatrix"), "{e}");
    }

    #[test]
    fn unknown_chip_lists_closest() {
        let err = Catalog::builtin().chip("h100-sxm5").unwrap_err().to_string();
        assert!(err.contains("h100-sxm"), "{err}");
    }
}
