//! The names the result store reserves for its own folders under `results/`: an experiment's
//! report folder takes the experiment's name, so no experiment may be called one of them. A
//! leaf below both the manifest (which refuses such names) and the store (which makes the
//! folders).

/// The folders of `results/` that are the store's own; an experiment's report folder takes
/// its name, so no experiment may be called one of them.
pub(crate) const RESERVED: [&str; 4] = [CELLS, LOGS, SLURM, BASES];
pub(crate) const CELLS: &str = "cells";
pub(crate) const LOGS: &str = "logs";
pub(crate) const SLURM: &str = "slurm";
pub(crate) const BASES: &str = "bases";

/// Why `name` cannot name an experiment because of the store's layout.
pub(crate) fn reserved_reason(name: &str) -> Option<String> {
    RESERVED.contains(&name).then(|| match name {
        SLURM => format!("`results/{name}/` holds the Slurm executor's job logs (and is ignored by git)"),
        BASES => format!("`results/{name}/` holds the quality reference logits (and is ignored by git)"),
        _ => format!("`results/{name}/` holds the result store"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_stores_folders_are_reserved_with_their_reason() {
        assert!(super::reserved_reason("slurm").unwrap().contains("Slurm executor's job logs"));
        assert!(super::reserved_reason("cells").unwrap().contains("holds the result store"));
        assert_eq!(super::reserved_reason("quickstart"), None);
    }
}
