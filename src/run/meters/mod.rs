//! The run's meters: peak memory of a cell's processes, the energy the host's counters say it
//! used, and the GPU memory it held; plugged into the supervisor as its sampler.

mod energy;
mod gpu_memory;
mod memory;
mod usage;

pub(crate) use energy::EnergyMeter;
pub(crate) use gpu_memory::GpuWatch;
pub(crate) use memory::PeakMemory;
pub(crate) use usage::{CellMeters, Usage};
