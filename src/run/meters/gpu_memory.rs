//! The GPU memory a cell's run saw in use: amdgpu's `mem_info_vram_used` and
//! `mem_info_gtt_used` under `/sys/class/drm/card*/device/` (bytes, the whole device's, every
//! process's), read while the cell runs, the largest kept. On Strix Halo the model lives in GTT,
//! which the resident set of the cell's processes does not show.
//!
//! `BAKEOFF_DRM_ROOT` points elsewhere (tests give a tree of their own). A machine without
//! such a counter records nothing: there is no GPU memory of that kind to tell.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::memory::SAMPLE_EVERY;

/// The largest readings of a cell's run, in bytes (summed over the cards).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct GpuPeaks {
    pub(crate) vram: Option<u64>,
    pub(crate) gtt: Option<u64>,
}

/// The counters of this machine's amdgpu cards.
#[derive(Debug, Clone, Default)]
struct Counters {
    vram: Vec<PathBuf>,
    gtt: Vec<PathBuf>,
}

impl Counters {
    fn find() -> Self {
        let root = std::env::var_os("BAKEOFF_DRM_ROOT").map_or_else(|| PathBuf::from("/sys/class/drm"), PathBuf::from);
        Self::under(&root)
    }

    fn under(root: &Path) -> Self {
        let mut counters = Self::default();
        let Ok(entries) = std::fs::read_dir(root) else { return counters };
        let mut cards: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|entry| {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                name.starts_with("card") && name[4..].chars().all(|character| character.is_ascii_digit())
            })
            .map(|entry| entry.path().join("device"))
            .collect();
        cards.sort();
        for card in cards {
            for (file, list) in [("mem_info_vram_used", &mut counters.vram), ("mem_info_gtt_used", &mut counters.gtt)] {
                let path = card.join(file);
                if read(&path).is_some() {
                    list.push(path);
                }
            }
        }
        counters
    }

    fn is_empty(&self) -> bool {
        self.vram.is_empty() && self.gtt.is_empty()
    }

    fn sample(&self, peaks: &mut GpuPeaks) {
        let sum = |paths: &[PathBuf]| -> Option<u64> {
            let values: Vec<u64> = paths.iter().filter_map(|path| read(path)).collect();
            (!values.is_empty()).then(|| values.iter().sum())
        };
        if let Some(vram) = sum(&self.vram) {
            peaks.vram = Some(peaks.vram.map_or(vram, |peak| peak.max(vram)));
        }
        if let Some(gtt) = sum(&self.gtt) {
            peaks.gtt = Some(peaks.gtt.map_or(gtt, |peak| peak.max(gtt)));
        }
    }
}

fn read(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Reads the counters every [`SAMPLE_EVERY`] until finished.
pub(crate) struct GpuWatch {
    peaks: Arc<Mutex<GpuPeaks>>,
    counters: Counters,
    sampler: Option<tokio::task::JoinHandle<()>>,
}

impl GpuWatch {
    /// Starts watching (a first reading now); nothing is started where there are no counters.
    pub(crate) fn start() -> Self {
        let counters = Counters::find();
        let peaks = Arc::new(Mutex::new(GpuPeaks::default()));
        let sampler = (!counters.is_empty()).then(|| {
            counters.sample(&mut peaks.lock().expect("peaks lock"));
            let (counters, peaks) = (counters.clone(), Arc::clone(&peaks));
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(SAMPLE_EVERY).await;
                    counters.sample(&mut peaks.lock().expect("peaks lock"));
                }
            })
        });
        Self { peaks, counters, sampler }
    }

    /// The peaks, with a last reading now.
    pub(crate) fn finish(mut self) -> GpuPeaks {
        if let Some(sampler) = self.sampler.take() {
            sampler.abort();
        }
        let mut peaks = *self.peaks.lock().expect("peaks lock");
        self.counters.sample(&mut peaks);
        peaks
    }
}

impl Drop for GpuWatch {
    fn drop(&mut self) {
        if let Some(sampler) = self.sampler.take() {
            sampler.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_use_of_every_card_is_kept() {
        let root = tempfile::tempdir().unwrap();
        for (card, vram, gtt) in [("card0", 100, 1000), ("card1", 5, 50)] {
            let device = root.path().join(card).join("device");
            std::fs::create_dir_all(&device).unwrap();
            std::fs::write(device.join("mem_info_vram_used"), format!("{vram}\n")).unwrap();
            std::fs::write(device.join("mem_info_gtt_used"), format!("{gtt}\n")).unwrap();
        }
        // A connector is no card.
        std::fs::create_dir_all(root.path().join("card0-DP-1")).unwrap();
        let counters = Counters::under(root.path());
        assert_eq!((counters.vram.len(), counters.gtt.len()), (2, 2));
        let mut peaks = GpuPeaks::default();
        counters.sample(&mut peaks);
        std::fs::write(root.path().join("card0/device/mem_info_gtt_used"), "9000").unwrap();
        counters.sample(&mut peaks);
        std::fs::write(root.path().join("card0/device/mem_info_gtt_used"), "10").unwrap();
        counters.sample(&mut peaks);
        assert_eq!(peaks, GpuPeaks { vram: Some(105), gtt: Some(9050) });
        assert!(Counters::default().is_empty());
    }
}
