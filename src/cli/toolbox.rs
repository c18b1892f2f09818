//! `bakeoff toolbox status|create|refresh`: the toolboxes the manifests declare, realised on
//! this machine.

use std::fmt::Write;

use super::ToolboxCommand;
use super::{out, outln};
use crate::Error;
use crate::digest::short_id;
use crate::manifest::{Runner, Toolbox};
use crate::project::{Project, named};
use crate::toolbox::{Inspection, Realised, ToolboxError};

pub(super) fn run(project: &Project, command: ToolboxCommand) -> Result<(), Error> {
    let loaded = project.load(&[])?;
    match command {
        ToolboxCommand::Status(args) => {
            let toolboxes = named(&loaded.manifests.toolboxes, &args.names.names)?;
            status(project, &toolboxes, args.json, args.refresh)
        }
        ToolboxCommand::Create(names) => {
            let toolboxes = named(&loaded.manifests.toolboxes, &names.names)?;
            realise(&toolboxes, |toolbox| Box::pin(crate::toolbox::create(toolbox)))
        }
        ToolboxCommand::Refresh(args) => {
            let toolboxes = named(&loaded.manifests.toolboxes, &args.names.names)?;
            let pull = !args.no_pull;
            realise(&toolboxes, |toolbox| Box::pin(crate::toolbox::refresh(toolbox, pull)))
        }
    }
}

fn status(project: &Project, toolboxes: &[&Toolbox], json: bool, refresh: bool) -> Result<(), Error> {
    let host = project.host()?;
    let verdicts = project.verdicts(toolboxes, &host, refresh);
    if json {
        let rows: Vec<serde_json::Value> = verdicts
            .iter()
            .map(|verdict| {
                let mut value = serde_json::to_value(&verdict.inspection).expect("inspections always serialise");
                value["requirements_fail"] = serde_json::json!(verdict.requirements_fail);
                value["realised"] = serde_json::json!(verdict.inspection.realised());
                value
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&rows).expect("JSON values always serialise"));
        return Ok(());
    }
    let mut text = String::new();
    for verdict in &verdicts {
        describe(&mut text, &verdict.inspection, &verdict.requirements_fail);
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

type Realising<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Realised, ToolboxError>> + 'a>>;

/// Creates or refreshes each toolbox in turn (they share podman's storage), printing what it
/// did; every failure is reported and the others still go ahead.
fn realise(toolboxes: &[&Toolbox], act: impl for<'a> Fn(&'a Toolbox) -> Realising<'a>) -> Result<(), Error> {
    let runtime = crate::process::runtime()
        .map_err(|source| Error::Io { what: "cannot start the async runtime".to_owned(), source })?;
    let mut failed = 0;
    for toolbox in toolboxes {
        if toolbox.runner == Runner::Host && toolboxes.len() > 1 {
            continue;
        }
        crate::console::errln!("{}: {} …", toolbox.name.value, toolbox.runner.name());
        match runtime.block_on(act(toolbox)) {
            Ok(realised) => {
                for line in realised.lines {
                    outln!("{}: {line}", realised.toolbox);
                }
            }
            Err(reason) => {
                failed += 1;
                let notice = crate::notice::Notice::error(format!("toolbox `{}`: {reason}", toolbox.name.value));
                crate::console::errln!("{notice}");
            }
        }
    }
    if failed > 0 { Err(Error::NotRealised { count: failed }) } else { Ok(()) }
}
