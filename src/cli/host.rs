//! `bakeoff host`: this host's facts and which toolboxes can run here.

use std::fmt::Write;

use serde_json::json;

use super::HostArgs;
use crate::Error;
use crate::project::Project;
use crate::units::format_bytes;

pub(super) fn run(project: &Project, args: &HostArgs) -> Result<(), Error> {
    let host = project.host()?;
    let loaded = project.load(&args.targets.targets)?;
    let mut verdicts: Vec<(String, Vec<String>)> = loaded
        .manifests
        .toolboxes
        .iter()
        .map(|(name, toolbox)| {
            let reasons =
                toolbox.requires.iter().filter_map(|requirement| requirement.value.check(&host).err()).collect();
            (name.clone(), reasons)
        })
        .collect();
    // On this machine (not one described by --host-facts), a container toolbox whose
    // requirements pass still needs its container or image: a quick look, no llama-bench.
    if project.host_facts.is_none() {
        let containers: Vec<&crate::manifest::Toolbox> = loaded
            .manifests
            .toolboxes
            .values()
            .filter(|toolbox| toolbox.runner != crate::manifest::Runner::Host)
            .filter(|toolbox| verdicts.iter().any(|(name, reasons)| *name == toolbox.name.value && reasons.is_empty()))
            .collect();
        for inspection in crate::run::inspect_all(&containers, crate::run::Depth::Containers) {
            if let (Some(problem), Some((_, reasons))) =
                (inspection.problem, verdicts.iter_mut().find(|(name, _)| *name == inspection.name))
            {
                reasons.push(problem);
            }
        }
    }
    if args.json {
        let toolboxes: serde_json::Map<String, serde_json::Value> = verdicts
            .iter()
            .map(|(name, reasons)| (name.clone(), json!({ "ok": reasons.is_empty(), "reasons": reasons })))
            .collect();
        let text = serde_json::to_string_pretty(&json!({ "facts": host, "toolboxes": toolboxes }))
            .expect("JSON values always serialise");
        println!("{text}");
        return Ok(());
    }
    let mut text = String::new();
    let none = || "(unknown)".to_owned();
    let rows = [
        ("id", host.id.clone()),
        ("name", host.name.clone()),
        ("kernel", host.kernel.clone()),
        ("os", host.os.clone()),
        ("cpu", host.cpu.clone()),
        ("memory", format_bytes(host.memory_bytes)),
        ("gpus", host.gpus.join(", ")),
        ("firmware", host.firmware.clone().unwrap_or_else(none)),
        ("devices", host.devices.join(", ")),
    ];
    for (key, value) in rows {
        let value = if value.is_empty() { none() } else { value };
        let _ = writeln!(text, "{key:<9} {value}");
    }
    text.push_str("\ntoolboxes\n");
    for (name, reasons) in &verdicts {
        if reasons.is_empty() {
            let _ = writeln!(text, "  ok       {name}");
        } else {
            let _ = writeln!(text, "  blocked  {name}: {}", reasons.join("; "));
        }
    }
    print!("{text}");
    Ok(())
}
