//! `bakeoff check`: validate manifests.

use super::TargetArgs;
use super::outln;
use crate::Error;
use crate::matrix::expand;
use crate::project::Project;

pub(super) fn run(project: &Project, args: &TargetArgs) -> Result<(), Error> {
    let loaded = project.load(&args.targets)?;
    let experiments = loaded.experiments();
    let cells: usize = experiments.iter().map(|experiment| expand(experiment).len()).sum();
    let manifests = &loaded.manifests;
    outln!(
        "ok: {} experiment(s) with {cells} cell(s), {} toolbox(es), {} model(s), {} warning(s)",
        experiments.len(),
        manifests.toolboxes.len(),
        manifests.models.len(),
        manifests.warnings.len()
    );
    Ok(())
}
