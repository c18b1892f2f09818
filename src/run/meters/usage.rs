//! What a cell's run used: the meters that read it while its child runs (plugged into the
//! supervisor as its sampler), and what they read.

use std::time::{Duration, Instant};

use super::busy::{ForeignLoad, HostLoad};
use super::energy::EnergyMeter;
use super::gpu_memory::{GpuPeaks, GpuWatch};
use super::memory::{PeakMemory, SAMPLE_EARLY, SAMPLE_EVERY};
use crate::process::{ExitUsage, Sampler, Tree};

/// What a cell's run used, as its meters read it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Usage {
    /// The high-water mark of its processes.
    pub(crate) peak_rss: Option<u64>,
    /// How busy other processes kept the host while it ran (and, once the walk adds it, just
    /// before).
    pub(crate) load: HostLoad,
    /// Joules, or why the host cannot tell; `None` where nothing was metered.
    pub(crate) energy: Option<Result<f64, String>>,
    /// The GPU memory in use at its largest (amdgpu's VRAM and GTT counters).
    pub(crate) gpu: GpuPeaks,
}

impl Usage {
    /// The same usage, with how busy the host was before the child started (and the threshold
    /// it is judged by).
    #[must_use]
    pub(crate) fn after(self, before: HostLoad) -> Self {
        let load = HostLoad { busiest: self.load.busiest, average: self.load.average, ..before };
        Self { load: HostLoad { cpus: self.load.cpus.max(before.cpus), ..load }, ..self }
    }
}

/// The meters of a cell's child: energy and GPU memory from before it starts, its process
/// tree's peak memory once it has.
pub(crate) struct CellMeters {
    energy: EnergyMeter,
    gpu: GpuWatch,
    memory: Option<PeakMemory>,
    load: ForeignLoad,
    /// The largest resident set the kernel saw in the child or a descendant it waited for:
    /// exact where sampling misses a process that ends between two readings. Only for a child
    /// that is the cell's own command, not a container runner's client.
    exit_peak: Option<u64>,
    /// Whether the child was a command on the host (its usage is the cell's).
    on_host: bool,
    ended: bool,
    started: Instant,
}

impl CellMeters {
    /// Starts the energy and GPU-memory meters: the energy counters are read before the child
    /// starts, as all it uses comes after.
    pub(crate) fn start() -> Self {
        let energy = EnergyMeter::start();
        let gpu = GpuWatch::start();
        Self {
            energy,
            gpu,
            memory: None,
            load: ForeignLoad::start(),
            exit_peak: None,
            on_host: false,
            ended: false,
            started: Instant::now(),
        }
    }

    /// What the meters read, once the child is done. The peak is the larger of the sampled
    /// tree's (processes that ran at once, added up) and the kernel's largest single process
    /// (one that ended between two samples).
    pub(crate) fn finish(mut self) -> Usage {
        if !self.ended {
            self.load.sample();
        }
        let sampled = self.memory.as_ref().and_then(PeakMemory::peak);
        let peak_rss = match (sampled, self.exit_peak) {
            (Some(sampled), Some(exact)) => Some(sampled.max(exact)),
            (sampled, exact) => sampled.or(exact),
        };
        let energy = Some(self.energy.joules());
        let load = self.load.during(HostLoad::default());
        Usage { peak_rss, load, energy, gpu: self.gpu.finish() }
    }
}

impl Sampler for CellMeters {
    fn start(&mut self, tree: Tree) {
        self.on_host = matches!(tree, Tree::Spawned(_));
        self.load.watch(tree.clone());
        self.memory = Some(PeakMemory::new(tree));
        self.started = Instant::now();
    }

    fn sample(&mut self) {
        if let Some(memory) = &mut self.memory {
            memory.sample();
        }
        self.energy.sample();
        self.load.sample();
    }

    fn ended(&mut self, usage: Option<ExitUsage>) {
        // The ended child is still there to read (not reaped): its CPU time is the cell's.
        self.load.sample();
        self.ended = true;
        if self.on_host {
            self.exit_peak = usage.map(|usage| usage.largest_resident).filter(|bytes| *bytes > 0);
        }
    }

    /// Often in the first seconds (a container's processes are being found, a short cell may
    /// already end), then at the steady pace.
    fn pause(&self) -> Duration {
        if self.started.elapsed() < Duration::from_secs(2) { SAMPLE_EARLY } else { SAMPLE_EVERY }
    }
}
