//! `bakeoff init`: a project skeleton that runs at once.

use super::{GlobalArgs, InitArgs, outln};
use crate::Error;
use crate::project::{Project, Written, init};

pub(super) fn run(project: &Project, global: &GlobalArgs, args: &InitArgs) -> Result<(), Error> {
    let directory = args.dir.clone().unwrap_or_else(|| global.project.clone());
    let outcome = init(&directory, &project.roots, args.bin_dir.as_deref())?;
    let shown = |path: &std::path::Path| path.strip_prefix(".").unwrap_or(path).display().to_string();
    for file in &outcome.files {
        match file {
            Written::Created(path) => outln!("created  {}", shown(path)),
            Written::Kept { path, would_add } if would_add.is_empty() => {
                outln!("kept     {} (it exists)", shown(path));
            }
            Written::Kept { path, would_add } => {
                outln!("kept     {} (it exists); these files under the model roots are not in it:", shown(path));
                for line in would_add {
                    outln!("           {line}");
                }
            }
        }
    }
    for note in &outcome.notes {
        crate::console::errln!("{note}");
    }
    Ok(())
}
