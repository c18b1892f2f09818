//! How a CPU box is laid out and tuned: physical cores, hardware threads, sockets, NUMA nodes,
//! the frequency governor, SMT and boost, read from sysfs. A thread sweep on an EPYC means
//! nothing without them (is `-t 96` one thread per core, or two on half the cores?), so every
//! record keeps them. A fact that cannot be read is `None` ("unknown"), never a guess from
//! another one.

use std::collections::BTreeSet;
use std::path::Path;

/// The CPU facts sysfs gives, each `None` when it could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct CpuLayout {
    pub(super) cores: Option<u32>,
    pub(super) threads: Option<u32>,
    pub(super) sockets: Option<u32>,
    pub(super) numa_nodes: Option<u32>,
    pub(super) governor: Option<String>,
    pub(super) smt: Option<String>,
    pub(super) boost: Option<bool>,
}

impl CpuLayout {
    /// Reads the layout under `system` (`/sys/devices/system` on a real machine; tests give a
    /// tree of their own).
    pub(super) fn read(system: &Path) -> Self {
        let cpu = system.join("cpu");
        let online = read(&cpu.join("online")).and_then(|list| cpu_list(&list));
        let per_cpu = |file: &str| -> Vec<String> {
            online.iter().flatten().filter_map(|number| read(&cpu.join(format!("cpu{number}")).join(file))).collect()
        };
        // The threads that share a core list the same siblings; the CPUs of a socket the same
        // package id. A CPU whose topology cannot be read leaves the count unknown.
        let distinct = |values: Vec<String>| -> Option<u32> {
            let expected = online.as_ref()?.len();
            (values.len() == expected && expected > 0)
                .then(|| u32::try_from(values.into_iter().collect::<BTreeSet<_>>().len()).ok())?
        };
        let siblings = {
            let current = per_cpu("topology/core_cpus_list");
            if current.is_empty() { per_cpu("topology/thread_siblings_list") } else { current }
        };
        let governors: BTreeSet<String> = per_cpu("cpufreq/scaling_governor").into_iter().collect();
        Self {
            cores: distinct(siblings),
            threads: online.as_ref().and_then(|cpus| u32::try_from(cpus.len()).ok()).filter(|count| *count > 0),
            sockets: distinct(per_cpu("topology/physical_package_id")),
            numa_nodes: read(&system.join("node/online"))
                .and_then(|list| cpu_list(&list))
                .and_then(|nodes| u32::try_from(nodes.len()).ok())
                .filter(|count| *count > 0),
            governor: (!governors.is_empty()).then(|| governors.into_iter().collect::<Vec<_>>().join(", ")),
            smt: read(&cpu.join("smt/control")).filter(|word| !word.is_empty()),
            boost: boost(&cpu),
        }
    }
}

/// Whether the CPUs may clock above their base frequency: the cpufreq core's `boost` switch
/// (acpi-cpufreq, and amd-pstate on older kernels), `intel_pstate`'s `no_turbo`, or every policy's
/// own `boost` (amd-pstate on newer kernels). Policies that disagree leave it unknown.
fn boost(cpu: &Path) -> Option<bool> {
    if let Some(value) = read(&cpu.join("cpufreq/boost")) {
        return flag(&value);
    }
    let intel_pstate = cpu.join("intel_pstate");
    if read(&intel_pstate.join("status")).is_none_or(|status| status != "off")
        && let Some(value) = read(&intel_pstate.join("no_turbo"))
    {
        return flag(&value).map(|no_turbo| !no_turbo);
    }
    let entries = std::fs::read_dir(cpu.join("cpufreq")).ok()?;
    let policies: BTreeSet<bool> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("policy"))
        .filter_map(|entry| read(&entry.path().join("boost")).and_then(|value| flag(&value)))
        .collect();
    match policies.len() {
        1 => policies.into_iter().next(),
        _ => None,
    }
}

fn flag(value: &str) -> Option<bool> {
    match value {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

/// The numbers of a kernel CPU or node list (`0-3,8-11`).
fn cpu_list(list: &str) -> Option<Vec<u32>> {
    let mut numbers = Vec::new();
    for part in list.split(',').map(str::trim).filter(|part| !part.is_empty()) {
        match part.split_once('-') {
            Some((first, last)) => {
                let (first, last): (u32, u32) = (first.parse().ok()?, last.parse().ok()?);
                if last < first || last - first > 1 << 16 {
                    return None;
                }
                numbers.extend(first..=last);
            }
            None => numbers.push(part.parse().ok()?),
        }
    }
    Some(numbers)
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|text| text.trim().to_owned())
}

/// What the kernel's SMT control word means, for people.
pub(super) fn smt_shown(word: &str) -> String {
    match word {
        "on" => "on".to_owned(),
        "off" => "off".to_owned(),
        "forceoff" => "forced off".to_owned(),
        "notsupported" => "not supported".to_owned(),
        "notimplemented" => "not implemented".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("{text}\n")).unwrap();
    }

    /// Two sockets of two cores with two threads each: eight threads, four cores, two nodes.
    fn epyc_like(root: &Path) {
        write(root, "cpu/online", "0-7");
        write(root, "node/online", "0-1");
        for cpu in 0..8 {
            let (socket, core) = (cpu / 4, cpu % 4 / 2);
            let first = socket * 4 + core * 2;
            write(root, &format!("cpu/cpu{cpu}/topology/physical_package_id"), &socket.to_string());
            write(root, &format!("cpu/cpu{cpu}/topology/core_cpus_list"), &format!("{first}-{}", first + 1));
            write(root, &format!("cpu/cpu{cpu}/cpufreq/scaling_governor"), "performance");
        }
        write(root, "cpu/smt/control", "on");
    }

    #[test]
    fn counts_cores_threads_sockets_and_nodes_from_sysfs() {
        let root = tempfile::tempdir().unwrap();
        epyc_like(root.path());
        write(root.path(), "cpu/cpufreq/boost", "1");
        let layout = CpuLayout::read(root.path());
        assert_eq!(
            layout,
            CpuLayout {
                cores: Some(4),
                threads: Some(8),
                sockets: Some(2),
                numa_nodes: Some(2),
                governor: Some("performance".to_owned()),
                smt: Some("on".to_owned()),
                boost: Some(true),
            }
        );
    }

    #[test]
    fn what_cannot_be_read_stays_unknown() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(CpuLayout::read(root.path()), CpuLayout::default());
        // One CPU without topology: the core count is unknown, not a count of the others.
        epyc_like(root.path());
        std::fs::remove_file(root.path().join("cpu/cpu5/topology/core_cpus_list")).unwrap();
        write(root.path(), "cpu/cpu3/cpufreq/scaling_governor", "powersave");
        let layout = CpuLayout::read(root.path());
        assert_eq!((layout.cores, layout.threads), (None, Some(8)));
        assert_eq!(layout.governor.as_deref(), Some("performance, powersave"));
        assert_eq!(layout.boost, None);
    }

    #[test]
    fn boost_comes_from_intel_pstate_or_every_policy() {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), "cpu/intel_pstate/no_turbo", "1");
        assert_eq!(CpuLayout::read(root.path()).boost, Some(false));
        let root = tempfile::tempdir().unwrap();
        write(root.path(), "cpu/cpufreq/policy0/boost", "1");
        write(root.path(), "cpu/cpufreq/policy1/boost", "1");
        assert_eq!(CpuLayout::read(root.path()).boost, Some(true));
        write(root.path(), "cpu/cpufreq/policy1/boost", "0");
        assert_eq!(CpuLayout::read(root.path()).boost, None);
    }

    #[test]
    fn reads_kernel_cpu_lists() {
        assert_eq!(cpu_list("0-3,8,10-11"), Some(vec![0, 1, 2, 3, 8, 10, 11]));
        assert_eq!(cpu_list("0"), Some(vec![0]));
        assert_eq!(cpu_list("3-1"), None);
        assert_eq!(cpu_list("x"), None);
    }
}
