//! The run's meters: peak memory of a cell's processes, the energy the host's counters say it
//! used, the GPU memory it held, and how busy other processes kept the host; plugged into the
//! supervisor as its sampler.

mod busy;
mod energy;
mod gpu_memory;
mod memory;
mod usage;

pub(crate) use busy::{BEFORE_CELL, DEFAULT_THRESHOLD, ForeignLoad, HostLoad};
pub(crate) use energy::EnergyMeter;
pub(crate) use gpu_memory::GpuWatch;
pub(crate) use memory::PeakMemory;
pub(crate) use usage::{CellMeters, Usage};
