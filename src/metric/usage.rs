//! What every cell records about what it used, beside what it measured, whatever it ran.

use super::names::{ENERGY_J, PEAK_GTT_BYTES, PEAK_RSS_BYTES, PEAK_VRAM_BYTES, TOKENS_PER_J};

/// The usage metrics, in the order reports list them after the measured ones.
pub(crate) const USAGE: [&str; 5] = [PEAK_RSS_BYTES, PEAK_VRAM_BYTES, PEAK_GTT_BYTES, ENERGY_J, TOKENS_PER_J];

/// Whether `name` is a usage metric.
pub(crate) fn is_usage(name: &str) -> bool {
    USAGE.contains(&name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_usage_metric_is_a_usage_family() {
        for name in super::USAGE {
            assert_eq!(super::super::Family::named(name).map(|family| family.kind), Some(super::super::Kind::Usage));
        }
        let families =
            super::super::family::FAMILIES.iter().filter(|family| family.kind == super::super::Kind::Usage).count();
        assert_eq!(families, super::USAGE.len());
    }
}
