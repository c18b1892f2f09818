//! `bakeoff plan`: what would run, and why.

use super::out;
use super::{PlanArgs, SelectionArgs};
use crate::Error;
use crate::plan::{PlanGraph, Selection, render_json, render_text, schedule, settle_searches, tested_models};
use crate::project::Project;

pub(super) fn run(project: &Project, args: &PlanArgs) -> Result<(), Error> {
    let selection = selection(&args.selection)?;
    let loaded = project.load(&args.targets.targets)?;
    for notice in project.check_storage(&loaded)? {
        crate::console::errln!("{notice}");
    }
    let host = project.host_and_containers(&loaded)?;
    let cells = project.resolve(&loaded, &host)?;
    let (planned, history) = project.plan_with_history(cells, &selection)?;
    // A search's next probes, and the values it measured before; not the rest of its grid.
    let (planned, searches) =
        settle_searches(planned, &loaded.manifests, |hash| project.store.read(hash).ok().flatten());
    let output = if args.dot {
        let work = schedule(&planned, &tested_models(&history, &planned, &host.id), true);
        PlanGraph::build(&planned, &work).to_dot(&planned, &work)
    } else if args.json {
        render_json(&planned)
    } else {
        let mut text = render_text(&planned);
        for state in &searches {
            text.push_str(&state.line());
            text.push('\n');
        }
        text
    };
    out!("{output}");
    // The process ends next: freeing a large plan's many small allocations one by one costs
    // more (about 30 ms for 10,000 cells) than letting the OS reclaim the pages at exit.
    std::mem::forget(planned);
    Ok(())
}

pub(super) fn selection(args: &SelectionArgs) -> Result<Selection, Error> {
    Ok(Selection {
        force: args.force,
        retry_failed: args.retry_failed,
        only: selectors(&args.only)?,
        except: selectors(&args.except)?,
        keys: Vec::new(),
    })
}

fn selectors(texts: &[String]) -> Result<Vec<(String, String)>, Error> {
    texts
        .iter()
        .map(|text| match text.split_once('=') {
            Some((axis, value)) if !axis.is_empty() => Ok((axis.to_owned(), value.to_owned())),
            _ => Err(Error::BadSelector { text: text.clone() }),
        })
        .collect()
}
