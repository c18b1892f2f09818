//! `bakeoff lock`: pin every model, declared file and toolbox image in bakeoff.lock.

use super::TargetArgs;
use super::outln;
use crate::Error;
use crate::project::Project;

pub(super) fn run(project: &Project, args: &TargetArgs) -> Result<(), Error> {
    let loaded = project.load(&args.targets)?;
    let update = project.update_lock(&loaded)?;
    for warning in &update.warnings {
        crate::console::errln!("{warning}");
    }
    if !update.written {
        outln!("bakeoff.lock is up to date");
        return Ok(());
    }
    for change in &update.changes {
        outln!("{change}");
    }
    outln!("wrote {} ({} change(s))", project.lock_path.display(), update.changes.len());
    Ok(())
}
