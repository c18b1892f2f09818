//! `bakeoff gc`: remove the records and logs that no experiment in the checkout refers to any
//! more. A record is kept while any current cell has its inputs (on any host), so nothing a
//! report shows is ever removed; an experiment whose inputs cannot all be hashed here keeps
//! every record. Which files go is the store's decision (`store::gc`); this prints and removes.

use std::path::Path;

use super::GcArgs;
use super::outln;
use crate::Error;
use crate::project::Project;
use crate::project::shown;
use crate::store::acquire;
use crate::units::format_bytes;

pub(super) fn run(project: &Project, args: &GcArgs) -> Result<(), Error> {
    let store = project.store.root();
    // A run writes records and logs; gc waits for it, so an orphan log is never a cell in flight.
    let _lock =
        acquire(store).map_err(|source| Error::Io { what: format!("cannot lock `{}`", store.display()), source })?;
    let referenced = project.referenced()?;
    for (experiment, why) in &referenced.unsure {
        crate::console::errln!(
            "keeping every record of `{experiment}`: {why}, so which results it still refers to is unknown"
        );
    }

    let (records, corrupt) = project.store.scan();
    let plan = project.store.gc_plan(&referenced, &records, &corrupt);
    for error in corrupt {
        crate::console::errln!("{:?}", miette::Report::new(error));
    }
    let verb = if args.dry_run { "would remove" } else { "removed" };
    let mut bytes = 0;
    for removal in &plan.removals {
        bytes += std::fs::metadata(&removal.path).map_or(0, |metadata| metadata.len());
        if !args.dry_run {
            std::fs::remove_file(&removal.path)
                .map_err(|source| Error::Io { what: format!("cannot remove `{}`", removal.path.display()), source })?;
        }
        outln!("{verb} {}  ({})", shown(&removal.path).display(), removal.why);
    }
    if !args.dry_run {
        remove_empty_directories(&project.store.cells_dir());
    }
    let records_removed = plan.removals.iter().filter(|removal| removal.record).count();
    outln!(
        "gc: {verb} {records_removed} record(s) and {} other file(s), {}; {} record(s) kept",
        plan.removals.len() - records_removed,
        format_bytes(bytes),
        plan.kept
    );
    for report in &plan.gone_reports {
        let notice = crate::notice::Notice::note(format!(
            "`{}` is the report of an experiment that is in no manifest; remove it by hand if it is not wanted",
            shown(report).display()
        ));
        crate::console::errln!("{notice}");
    }
    Ok(())
}

fn remove_empty_directories(cells: &Path) {
    let Ok(entries) = std::fs::read_dir(cells) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        // Fails, harmlessly, unless the directory is empty.
        let _ = std::fs::remove_dir(entry.path());
    }
}
