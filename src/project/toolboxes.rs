//! What stops each toolbox on this host: its requirements against the host's facts, and, on
//! this machine, what inspection finds (its container or image, the runner, llama.cpp's
//! programs). One answer for `host` and `toolbox status`.

use std::collections::BTreeMap;

use super::pipeline::Project;
use crate::Error;
use crate::host::HostFacts;
use crate::manifest::Toolbox;
use crate::suggest;
use crate::toolbox::{Depth, Inspection, inspect_all};

/// One toolbox on this host.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// What inspection found: fully for a toolbox whose requirements pass, its containers and
    /// images only otherwise; nothing but its name when the host is described by a file.
    pub inspection: Inspection,
    /// The requirements this host fails, each with its reason.
    pub requirements_fail: Vec<String>,
}

impl Verdict {
    /// Why the toolbox cannot run here: failed requirements, then inspection's problem.
    pub fn reasons(&self) -> Vec<String> {
        self.requirements_fail.iter().cloned().chain(self.inspection.problem.clone()).collect()
    }
}

/// The toolboxes `names` names (every declared one when empty), in the manifests' order.
pub fn named<'a>(toolboxes: &'a BTreeMap<String, Toolbox>, names: &[String]) -> Result<Vec<&'a Toolbox>, Error> {
    if names.is_empty() {
        return Ok(toolboxes.values().collect());
    }
    names
        .iter()
        .map(|name| {
            toolboxes.get(name).ok_or_else(|| Error::UnknownToolbox {
                name: name.clone(),
                help: suggest::help_for(name, toolboxes.keys().map(String::as_str), "toolboxes"),
            })
        })
        .collect()
}

impl Project {
    /// Each of `toolboxes` on `host`, in their order. A toolbox whose requirements fail is only
    /// looked at (containers and images), not run; a host described by `--host-facts` is not
    /// this machine, so nothing is inspected. With `refresh` (or `--no-cache`) what is inside
    /// each toolbox is asked afresh rather than taken from the inspection cache.
    pub fn verdicts(&self, toolboxes: &[&Toolbox], host: &HostFacts, refresh: bool) -> Vec<Verdict> {
        let failing = |toolbox: &Toolbox| -> Vec<String> {
            toolbox.requires.iter().filter_map(|requirement| requirement.value.check(host).err()).collect()
        };
        let mut inspections = if self.host_facts.is_some() {
            toolboxes
                .iter()
                .map(|toolbox| Inspection {
                    name: toolbox.name.value.clone(),
                    runner: toolbox.runner.name().to_owned(),
                    image: toolbox.image.as_ref().map(|image| image.value.clone()),
                    ..Inspection::default()
                })
                .collect()
        } else {
            let (runnable, unrunnable): (Vec<&Toolbox>, Vec<&Toolbox>) =
                toolboxes.iter().partition(|toolbox| failing(toolbox).is_empty());
            let fresh = refresh || self.no_cache;
            let mut inspections = inspect_all(&runnable, Depth::Full, fresh);
            inspections.extend(inspect_all(&unrunnable, Depth::Containers, fresh));
            inspections
        };
        inspections
            .sort_by_key(|inspection| toolboxes.iter().position(|toolbox| toolbox.name.value == inspection.name));
        inspections
            .into_iter()
            .zip(toolboxes)
            .map(|(inspection, toolbox)| Verdict { requirements_fail: failing(toolbox), inspection })
            .collect()
    }
}
