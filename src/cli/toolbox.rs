//! `bakeoff toolbox status|create|refresh`: the toolboxes the manifests declare, realised on
//! this machine.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{ToolboxCommand, ToolboxNames};
use super::{out, outln};
use crate::Error;
use crate::manifest::{Runner, Toolbox};
use crate::project::Project;
use crate::suggest;
use crate::toolbox::{Depth, Inspection, Realised, inspect_all, short_id};

pub(super) fn run(project: &Project, command: ToolboxCommand) -> Result<(), Error> {
    let loaded = project.load(&[])?;
    match command {
        ToolboxCommand::Status(args) => {
            let toolboxes = selected(&loaded.manifests.toolboxes, &args.names)?;
            status(project, &toolboxes, args.json)
        }
        ToolboxCommand::Create(names) => {
            let toolboxes = selected(&loaded.manifests.toolboxes, &names)?;
            realise(&toolboxes, |toolbox| Box::pin(crate::toolbox::create(toolbox)))
        }
        ToolboxCommand::Refresh(args) => {
            let toolboxes = selected(&loaded.manifests.toolboxes, &args.names)?;
            let pull = !args.no_pull;
            realise(&toolboxes, |toolbox| Box::pin(crate::toolbox::refresh(toolbox, pull)))
        }
    }
}

/// The toolboxes `names` names (all declared ones when empty), in the manifests' order.
fn selected<'a>(toolboxes: &'a BTreeMap<String, Toolbox>, names: &ToolboxNames) -> Result<Vec<&'a Toolbox>, Error> {
    if names.names.is_empty() {
        return Ok(toolboxes.values().collect());
    }
    names
        .names
        .iter()
        .map(|name| {
            toolboxes.get(name).ok_or_else(|| Error::UnknownToolbox {
                name: name.clone(),
                help: suggest::help_for(name, toolboxes.keys().map(String::as_str), "toolboxes"),
            })
        })
        .collect()
}

fn status(project: &Project, toolboxes: &[&Toolbox], json: bool) -> Result<(), Error> {
    let host = project.host()?;
    let blocked: BTreeMap<&str, Vec<String>> = toolboxes
        .iter()
        .map(|toolbox| {
            let reasons =
                toolbox.requires.iter().filter_map(|requirement| requirement.value.check(&host).err()).collect();
            (toolbox.name.value.as_str(), reasons)
        })
        .collect();
    // A toolbox whose requirements fail here is looked at, not run.
    let (runnable, unrunnable): (Vec<&Toolbox>, Vec<&Toolbox>) =
        toolboxes.iter().partition(|toolbox| blocked[toolbox.name.value.as_str()].is_empty());
    let mut inspections = inspect_all(&runnable, Depth::Full);
    inspections.extend(inspect_all(&unrunnable, Depth::Containers));
    inspections.sort_by_key(|inspection| toolboxes.iter().position(|toolbox| toolbox.name.value == inspection.name));
    if json {
        let rows: Vec<serde_json::Value> = inspections
            .iter()
            .map(|inspection| {
                let mut value = serde_json::to_value(inspection).expect("inspections always serialise");
                value["requirements_fail"] = serde_json::json!(blocked[inspection.name.as_str()]);
                value["realised"] = serde_json::json!(inspection.realised());
                value
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&rows).expect("JSON values always serialise"));
        return Ok(());
    }
    let mut text = String::new();
    for inspection in &inspections {
        describe(&mut text, inspection, &blocked[inspection.name.as_str()]);
    }
    out!("{text}");
    Ok(())
}

/// One toolbox as `toolbox status` shows it.
fn describe(text: &mut String, inspection: &Inspection, requirements_fail: &[String]) {
    let name = &inspection.name;
    let _ = writeln!(text, "{name}");
    let mut row = |key: &str, value: String| {
        let _ = writeln!(text, "  {key:<10} {value}");
    };
    row("runner", inspection.runner.clone());
    if let Some(image) = &inspection.image {
        let now = inspection.tag.as_ref().map_or_else(
            || "not in podman's storage here".to_owned(),
            |tag| format!("{}{}", short_id(&tag.id), digest_suffix(tag.digest.as_deref())),
        );
        row("image", format!("{image} → {now}"));
    }
    match (&inspection.container, inspection.runner.as_str()) {
        (Some(container), _) => {
            let running =
                inspection.running.as_ref().map_or(String::new(), |image| digest_suffix(image.digest.as_deref()));
            let stale = match &inspection.tag {
                Some(tag) if tag.id != container.image_id => {
                    format!("; older than its tag: `bakeoff toolbox refresh {name}`")
                }
                _ => String::new(),
            };
            row(
                "container",
                format!("created {} from image {}{running}{stale}", container.created, short_id(&container.image_id)),
            );
        }
        (None, "toolbox" | "distrobox") => row("container", format!("none: `bakeoff toolbox create {name}`")),
        _ => {}
    }
    if inspection.problem.is_none() {
        let build = match (&inspection.llama_cpp, inspection.missing.is_empty()) {
            (Some(build), _) => build.clone(),
            (None, true) => "(it printed no version)".to_owned(),
            (None, false) => "(none found)".to_owned(),
        };
        row("llama.cpp", build);
    }
    for reason in inspection.missing.values() {
        row("missing", reason.clone());
    }
    if !inspection.devices.is_empty() {
        let devices: Vec<&str> =
            inspection.devices.iter().filter(|word| *word != "--device").map(String::as_str).collect();
        row("devices", devices.join(" "));
    }
    for reason in requirements_fail {
        row("blocked", reason.clone());
    }
    if let Some(problem) = &inspection.problem {
        row("problem", problem.clone());
    }
    if let Some(note) = &inspection.note {
        row("note", note.clone());
    }
}

fn digest_suffix(digest: Option<&str>) -> String {
    digest.map(|digest| format!(" (digest {})", short_id(digest))).unwrap_or_default()
}

type Realising<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Realised, String>> + 'a>>;

/// Creates or refreshes each toolbox in turn (they share podman's storage), printing what it
/// did; every failure is reported and the others still go ahead.
fn realise(toolboxes: &[&Toolbox], act: impl for<'a> Fn(&'a Toolbox) -> Realising<'a>) -> Result<(), Error> {
    let runtime = crate::run::runtime()?;
    let mut failed = 0;
    for toolbox in toolboxes {
        if toolbox.runner == Runner::Host && toolboxes.len() > 1 {
            continue;
        }
        eprintln!("{}: {} …", toolbox.name.value, toolbox.runner.name());
        match runtime.block_on(act(toolbox)) {
            Ok(realised) => {
                for line in realised.lines {
                    outln!("{}: {line}", realised.toolbox);
                }
            }
            Err(reason) => {
                failed += 1;
                eprintln!("error: toolbox `{}`: {reason}", toolbox.name.value);
            }
        }
    }
    if failed > 0 { Err(Error::NotRealised { count: failed }) } else { Ok(()) }
}
