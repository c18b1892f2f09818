//! A cell: one assignment of the matrix axes × one workload, named by a readable id.

use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub experiment: String,
    /// Axis name and value, in the order the axes are declared.
    pub axes: Vec<(String, String)>,
    /// `bench`, `command`, `quality`, or the name of a server workload.
    pub workload: String,
    /// Which block of the experiment the cell runs: taken from the block, never from a name (a
    /// server workload may be called `bench`).
    pub block: Block,
}

/// The block of an experiment a cell runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    Bench,
    Command,
    Server,
    Quality,
}

/// What a cell runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind<'a> {
    /// llama-bench.
    Bench,
    /// Any program, with regex metrics.
    Command,
    /// A named server workload, sent to a llama-server.
    Server(&'a str),
    /// llama-perplexity against the reference configuration's base logits.
    Quality,
}

impl Cell {
    pub fn kind(&self) -> WorkloadKind<'_> {
        match self.block {
            Block::Bench => WorkloadKind::Bench,
            Block::Command => WorkloadKind::Command,
            Block::Server => WorkloadKind::Server(&self.workload),
            Block::Quality => WorkloadKind::Quality,
        }
    }

    /// `glm-flash-quant/model=glm-4.7-flash-q8,toolbox=llama-vulkan-radv,depth=0,fa=1/bench`.
    pub fn id(&self) -> String {
        let mut id = String::with_capacity(64);
        id.push_str(&self.experiment);
        id.push('/');
        for (index, (axis, value)) in self.axes.iter().enumerate() {
            if index > 0 {
                id.push(',');
            }
            let _ = write!(id, "{axis}={value}");
        }
        id.push('/');
        id.push_str(&self.workload);
        id
    }

    pub fn value(&self, axis: &str) -> Option<&str> {
        self.axes.iter().find(|(name, _)| name == axis).map(|(_, value)| value.as_str())
    }

    /// A request file's path as this cell reads it: its `{axis}` placeholders filled with the
    /// cell's values (the path as written where it cannot be, which `check` reports).
    pub fn request_path(&self, path: &str) -> String {
        crate::manifest::fill_path(path, |axis| self.value(axis).map(str::to_owned)).unwrap_or_else(|| path.to_owned())
    }
}
