//! `bakeoff host`: this host's facts and which toolboxes can run here.

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
    let toolboxes: Vec<&crate::manifest::Toolbox> = loaded.manifests.toolboxes.values().collect();
    let verdicts = project.verdicts(&toolboxes, &host, false);
    // The load is this machine's now: none for the machine a `--host-facts` file describes.
    let load = project.host_facts.is_none().then(Load::now);
    if args.json {
        let toolboxes: serde_json::Map<String, serde_json::Value> = verdicts
            .iter()
            .map(|verdict| {
                let (reasons, missing) = (verdict.reasons(), verdict.inspection.missing.values().collect::<Vec<_>>());
                (
                    verdict.inspection.name.clone(),
                    json!({ "ok": reasons.is_empty(), "reasons": reasons, "missing": missing }),
                )
            })
            .collect();
        let mut value = json!({ "facts": host, "toolboxes": toolboxes });
        if let Some(load) = &load {
            value["load"] = json!({ "average_1m": load.average, "other_processes": load.foreign });
        }
        let text = serde_json::to_string_pretty(&value).expect("JSON values always serialise");
        outln!("{text}");
        return Ok(());
    }
    let mut text = String::new();
    let none = || "(unknown)".to_owned();
    let count = |value: Option<u32>| value.map(|count| count.to_string()).unwrap_or_default();
    let rows = [
        ("id", host.id.clone()),
        ("name", host.name.clone()),
        ("kernel", host.kernel.clone()),
        ("os", host.os.clone()),
        ("cpu", host.cpu.clone()),
        ("memory", format_bytes(host.memory_bytes)),
        ("gpus", host.gpus_shown()),
        ("firmware", host.firmware.clone().unwrap_or_else(none)),
        ("devices", if host.devices.is_empty() { "none".to_owned() } else { host.devices.join(", ") }),
        ("cmdline", host.cmdline.clone()),
        ("cores", count(host.cores)),
        ("threads", count(host.threads)),
        ("sockets", count(host.sockets)),
        (
            "numa",
            host.numa_nodes
                .map(|nodes| format!("{nodes} {}", if nodes == 1 { "node" } else { "nodes" }))
                .unwrap_or_default(),
        ),
        ("governor", host.governor.clone().unwrap_or_default()),
        ("smt", host.smt_shown().unwrap_or_default()),
        ("boost", host.boost.map(|on| if on { "on" } else { "off" }.to_owned()).unwrap_or_default()),
    ];
    // No load for the machine a `--host-facts` file describes: it is not this one.
    let load = load.map(|load| ("load", load.shown()));
    let storage = (
        "storage",
        host.storage.as_ref().map_or_else(
            || "none (caches in ~/.cache, temporary files in the system's; `--storage DIR` sets a root)".to_owned(),
            |root| {
                format!(
                    "{root} (caches, temporary files, quality bases; children's TMPDIR, XDG_*, HF_HOME, PIP_CACHE_DIR)"
                )
            },
        ),
    );
    for (key, value) in rows.into_iter().chain(load).chain([storage]) {
        let value = if value.is_empty() { none() } else { value };
        let _ = writeln!(text, "{key:<9} {value}");
    }
    text.push_str("\ntoolboxes\n");
    for verdict in &verdicts {
        let (name, reasons) = (&verdict.inspection.name, verdict.reasons());
        if reasons.is_empty() {
            let _ = writeln!(text, "  ok       {name}");
            for reason in verdict.inspection.missing.values() {
                let _ = writeln!(text, "           but {reason}: its bench or server cells are blocked");
            }
        } else {
            let _ = writeln!(text, "  blocked  {name}: {}", reasons.join("; "));
        }
    }
    out!("{text}");
    Ok(())
}

/// How busy this machine is as `host` runs: the kernel's one-minute load average, and the share
/// of its CPUs other processes use now (what `run --busy-threshold` is compared with).
struct Load {
    average: Option<f64>,
    foreign: Option<f64>,
}

impl Load {
    fn now() -> Self {
        let mut reading = crate::run::ForeignLoad::start();
        std::thread::sleep(std::time::Duration::from_millis(300));
        reading.sample();
        let average =
            std::fs::read_to_string("/proc/loadavg").ok().and_then(|text| text.split_whitespace().next()?.parse().ok());
        Self { average, foreign: reading.average() }
    }

    /// `2.41 (1-minute average); other processes use 95% of the CPUs now`.
    fn shown(&self) -> String {
        let average = self.average.map_or_else(|| "unknown".to_owned(), |average| format!("{average:.2}"));
        let foreign = self.foreign.map_or_else(|| "unknown".to_owned(), |share| format!("{:.0}%", share * 100.0));
        format!("{average} (1-minute average); other processes use {foreign} of the CPUs now")
    }
}
