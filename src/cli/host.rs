//! `bakeoff host`: this host's facts and which toolboxes can run here.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::json;

use super::HostArgs;
use super::{out, outln};
use crate::Error;
use crate::project::Project;
use crate::units::format_bytes;

pub(super) fn run(project: &Project, args: &HostArgs) -> Result<(), Error> {
    let host = project.host()?;
    let loaded = project.load_if_any(&args.targets.targets)?;
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
    // On this machine (not one described by --host-facts), a toolbox whose requirements pass
    // still needs its container or image, a runner that works, and llama.cpp's programs for
    // bench and server cells: inspected as `plan` inspects it.
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if project.host_facts.is_none() {
        let runnable: Vec<&crate::manifest::Toolbox> = loaded
            .manifests
            .toolboxes
            .values()
            .filter(|toolbox| verdicts.iter().any(|(name, reasons)| *name == toolbox.name.value && reasons.is_empty()))
            .collect();
        for inspection in crate::toolbox::inspect_all(&runnable, crate::toolbox::Depth::Full) {
            if let Some((_, reasons)) = verdicts.iter_mut().find(|(name, _)| *name == inspection.name) {
                reasons.extend(inspection.problem);
            }
            if !inspection.missing.is_empty() {
                missing.insert(inspection.name, inspection.missing.into_values().collect());
            }
        }
    }
    if args.json {
        let toolboxes: serde_json::Map<String, serde_json::Value> = verdicts
            .iter()
            .map(|(name, reasons)| {
                let missing = missing.get(name).cloned().unwrap_or_default();
                (name.clone(), json!({ "ok": reasons.is_empty(), "reasons": reasons, "missing": missing }))
            })
            .collect();
        let text = serde_json::to_string_pretty(&json!({ "facts": host, "toolboxes": toolboxes }))
            .expect("JSON values always serialise");
        outln!("{text}");
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
        ("gpus", if host.gpus.is_empty() { "none".to_owned() } else { host.gpus.join(", ") }),
        ("firmware", host.firmware.clone().unwrap_or_else(none)),
        ("devices", if host.devices.is_empty() { "none".to_owned() } else { host.devices.join(", ") }),
    ];
    for (key, value) in rows {
        let value = if value.is_empty() { none() } else { value };
        let _ = writeln!(text, "{key:<9} {value}");
    }
    text.push_str("\ntoolboxes\n");
    for (name, reasons) in &verdicts {
        if reasons.is_empty() {
            let _ = writeln!(text, "  ok       {name}");
            for reason in missing.get(name).into_iter().flatten() {
                let _ = writeln!(text, "           but {reason}: its bench or server cells are blocked");
            }
        } else {
            let _ = writeln!(text, "  blocked  {name}: {}", reasons.join("; "));
        }
    }
    out!("{text}");
    Ok(())
}
