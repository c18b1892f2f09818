//! `bakeoff run`: run every cell that has no result yet, recording each as it finishes.

use std::time::Duration;

use super::plan::selection;
use super::{Project, RunArgs};
use crate::Error;
use crate::run::{Executor, Mounts, RunOptions, acquire};

pub(super) fn run(project: &Project, args: &RunArgs) -> Result<(), Error> {
    let selection = selection(&args.selection)?;
    let loaded = project.load(&args.targets.targets)?;
    let host = project.host()?;
    // Two runs on one store take turns; the plan is made once the lock is held, so the
    // second run sees the first one's results.
    let _lock = acquire(project.store.root())
        .map_err(|source| Error::Io { what: format!("cannot lock `{}`", project.store.root().display()), source })?;
    let cells = project.resolve(&loaded, &host)?;
    let planned = project.plan(cells, &selection)?;
    let mut mounts = Mounts { paths: project.roots.roots.clone() };
    mounts.paths.push(project.root.canonicalize().unwrap_or_else(|_| project.root.clone()));
    let executor = Executor {
        manifests: &loaded.manifests,
        host: &host,
        store: &project.store,
        mounts,
        options: RunOptions { grace: Duration::from_secs(args.grace), progress_bars: !args.no_progress },
    };
    let summary = executor.run(&planned)?;
    println!("{summary}");
    if summary.interrupted {
        return Err(Error::Interrupted);
    }
    if summary.failed > 0 {
        return Err(Error::CellsFailed {
            count: summary.failed,
            logs: project.store.root().join("logs").display().to_string(),
        });
    }
    Ok(())
}
