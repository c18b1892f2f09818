//! `bakeoff why CELL`: a cell's fingerprint and its differences from the nearest earlier result.

use super::WhyArgs;
use super::{out, outln};
use crate::Error;
use crate::project::Project;

pub(super) fn run(project: &Project, args: &WhyArgs) -> Result<(), Error> {
    let loaded = project.load(&args.targets)?;
    let host = project.host()?;
    let text = project.why(&loaded, &host, &args.cell)?.render(args.json);
    if args.json {
        outln!("{text}");
    } else {
        out!("{text}");
    }
    Ok(())
}
