//! The machine cells run on: its facts and the toolbox requirements they satisfy.

mod constraint;
mod cpu;
mod facts;
mod print;
mod vulkan;

pub use constraint::{Condition, Fact, Requirement, compare_versions};
pub use facts::{HostFacts, HostFactsError};
pub use print::HostPrint;
pub(crate) use vulkan::{VulkanDevice, devices as vulkan_devices};
