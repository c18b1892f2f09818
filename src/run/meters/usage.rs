//! What a cell's run used: the meters that read it while its child runs (plugged into the
//! supervisor as its sampler), and what they read.

use std::time::{Duration, Instant};

use super::energy::EnergyMeter;
use super::gpu_memory::{GpuPeaks, GpuWatch};
use super::memory::{PeakMemory, SAMPLE_EARLY, SAMPLE_EVERY};
use crate::process::{Sampler, Tree};

/// What a cell's run used, as its meters read it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Usage {
    /// The high-water mark of its processes.
    pub(crate) peak_rss: Option<u64>,
    /// Joules, or why the host cannot tell; `None` where nothing was metered.
    pub(crate) energy: Option<Result<f64, String>>,
    /// The GPU memory in use at its largest (amdgpu's VRAM and GTT counters).
    pub(crate) gpu: GpuPeaks,
}

/// The meters of a cell's child: energy and GPU memory from before it starts, its process
/// tree's peak memory once it has.
pub(crate) struct CellMeters {
    energy: EnergyMeter,
    gpu: GpuWatch,
    memory: Option<PeakMemory>,
    started: Instant,
}

impl CellMeters {
    /// Starts the energy and GPU-memory meters: the energy counters are read before the child
    /// starts, as all it uses comes after.
    pub(crate) fn start() -> Self {
        let energy = EnergyMeter::start();
        let gpu = GpuWatch::start();
        Self { energy, gpu, memory: None, started: Instant::now() }
    }

    /// What the meters read, once the child is done.
    pub(crate) fn finish(mut self) -> Usage {
        let peak_rss = self.memory.as_ref().and_then(PeakMemory::peak);
        let energy = Some(self.energy.joules());
        Usage { peak_rss, energy, gpu: self.gpu.finish() }
    }
}

impl Sampler for CellMeters {
    fn start(&mut self, tree: Tree) {
        self.memory = Some(PeakMemory::new(tree));
        self.started = Instant::now();
    }

    fn sample(&mut self) {
        if let Some(memory) = &mut self.memory {
            memory.sample();
        }
        self.energy.sample();
    }

    /// Often in the first seconds (a container's processes are being found, a short cell may
    /// already end), then at the steady pace.
    fn pause(&self) -> Duration {
        if self.started.elapsed() < Duration::from_secs(2) { SAMPLE_EARLY } else { SAMPLE_EVERY }
    }
}
