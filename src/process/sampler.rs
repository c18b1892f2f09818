//! What watches a supervised child while it runs: the run's meters plug in here, so that the
//! supervisor knows nothing of what they read, and a short question is watched by nothing.

use std::time::Duration;

use super::exit_usage::ExitUsage;
use super::tree::Tree;

/// Reads a child's processes (or the machine) at the pace it asks for while the child runs.
pub(crate) trait Sampler {
    /// The child has started; `tree` says where its processes are.
    fn start(&mut self, tree: Tree);
    /// Reads now: the supervisor calls it at once, then after each [`Sampler::pause`].
    fn sample(&mut self);
    /// How long to wait before the next reading.
    fn pause(&self) -> Duration;
    /// The child has ended: what the kernel says it and the descendants it waited for used,
    /// `None` when that could not be read.
    fn ended(&mut self, usage: Option<ExitUsage>);
}
