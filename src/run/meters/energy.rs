//! Energy a cell used, from the counters the host exposes: RAPL's cumulative `energy_uj` under
//! `/sys/class/powercap` (each package zone once, not its sub-zones, which it already counts),
//! and amdgpu's hwmon power (`power1_average` or `power1_input`, µW) integrated over the cell's
//! samples. Where neither can be read the cell says why: never a made-up number.
//!
//! `BAKEOFF_POWERCAP_ROOT` and `BAKEOFF_HWMON_ROOT` point elsewhere (tests give a tree of their
//! own).

use std::path::{Path, PathBuf};
use std::time::Instant;

/// A RAPL zone's counter as it was when the cell started.
#[derive(Debug)]
struct Counter {
    path: PathBuf,
    /// Where the counter wraps to 0 (`max_energy_range_uj`).
    range: u64,
    start: u64,
}

/// What a cell has used so far.
#[derive(Debug)]
pub(crate) struct EnergyMeter {
    counters: Vec<Counter>,
    gpus: Vec<PathBuf>,
    gpu_microjoules: f64,
    last: Instant,
    last_gpu_microwatts: Option<f64>,
    /// Why nothing can be measured, when nothing can.
    unavailable: Option<String>,
}

impl EnergyMeter {
    /// Reads every counter now.
    pub(crate) fn start() -> Self {
        let powercap = root("BAKEOFF_POWERCAP_ROOT", "/sys/class/powercap");
        let hwmon = root("BAKEOFF_HWMON_ROOT", "/sys/class/hwmon");
        let counters: Vec<Counter> = zones(&powercap)
            .into_iter()
            .filter_map(|zone| {
                let start = read_number(&zone.join("energy_uj"))?;
                let range = read_number(&zone.join("max_energy_range_uj")).unwrap_or(u64::MAX);
                Some(Counter { path: zone.join("energy_uj"), range, start })
            })
            .collect();
        let gpus = amdgpu_power(&hwmon);
        let unavailable = (counters.is_empty() && gpus.is_empty()).then(|| {
            format!(
                "no readable RAPL counter under `{}` (reading `energy_uj` may need root) and no amdgpu power \
                 sensor under `{}`",
                powercap.display(),
                hwmon.display()
            )
        });
        let mut meter =
            Self { counters, gpus, gpu_microjoules: 0.0, last: Instant::now(), last_gpu_microwatts: None, unavailable };
        meter.sample();
        meter
    }

    /// Adds the GPU's power since the last sample (the mean of the two readings over the time
    /// between them); RAPL counts by itself.
    pub(crate) fn sample(&mut self) {
        if self.gpus.is_empty() {
            return;
        }
        #[expect(clippy::cast_precision_loss, reason = "microwatts are far below 2^52")]
        let now: f64 = self.gpus.iter().filter_map(|path| read_number(path)).map(|microwatts| microwatts as f64).sum();
        let elapsed = self.last.elapsed().as_secs_f64();
        if let Some(before) = self.last_gpu_microwatts {
            self.gpu_microjoules += f64::midpoint(before, now) * elapsed;
        }
        self.last = Instant::now();
        self.last_gpu_microwatts = Some(now);
    }

    /// Joules used since `start`, or why there is no number.
    pub(crate) fn joules(&mut self) -> Result<f64, String> {
        if let Some(reason) = &self.unavailable {
            return Err(reason.clone());
        }
        self.sample();
        let mut microjoules = self.gpu_microjoules;
        for counter in &self.counters {
            let Some(now) = read_number(&counter.path) else {
                return Err(format!("`{}` could no longer be read", counter.path.display()));
            };
            #[expect(clippy::cast_precision_loss, reason = "microjoule counters are far below 2^52")]
            let used = wrapped_difference(counter.start, now, counter.range) as f64;
            microjoules += used;
        }
        Ok(microjoules / 1e6)
    }
}

/// `now − start` for a counter that wraps to 0 after `range`.
fn wrapped_difference(start: u64, now: u64, range: u64) -> u64 {
    if now >= start { now - start } else { range.saturating_sub(start) + now }
}

fn root(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// The top-level RAPL zones (`intel-rapl:0`, not `intel-rapl:0:0`, whose energy the package
/// zone already includes); AMD's CPUs show theirs under the same names.
fn zones(powercap: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(powercap) else { return Vec::new() };
    let mut zones: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_prefix("intel-rapl:").is_some_and(|rest| !rest.contains(':'))
        })
        .map(|entry| entry.path())
        .collect();
    zones.sort();
    zones
}

/// The power readings of amdgpu's hwmon sensors.
fn amdgpu_power(hwmon: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(hwmon) else { return Vec::new() };
    let mut sensors: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| std::fs::read_to_string(path.join("name")).is_ok_and(|name| name.trim() == "amdgpu"))
        .filter_map(|path| {
            ["power1_average", "power1_input"]
                .iter()
                .map(|file| path.join(file))
                .find(|file| read_number(file).is_some())
        })
        .collect();
    sensors.sort();
    sensors
}

fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_that_wrapped_counts_what_it_ran_past() {
        assert_eq!(wrapped_difference(100, 250, 1000), 150);
        assert_eq!(wrapped_difference(900, 50, 1000), 150);
    }
}
