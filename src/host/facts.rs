//! Host facts: what machine the cells run on, probed or read from a `--host-facts` file.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::cpu::CpuLayout;

/// The facts DESIGN.md names; the `--host-facts` JSON has exactly these keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostFacts {
    /// A stable identity for the machine (see [`HostFacts::with_id`]); records of two hosts never
    /// share a cell hash, even when every other fact is the same.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// A label for people (`--host-name`, else the hostname); not part of any fingerprint.
    pub name: String,
    pub kernel: String,
    pub os: String,
    pub cpu: String,
    pub memory_bytes: u64,
    /// The GPUs, each with its kind where the Vulkan loader says it (`… (CPU device)` for a CPU
    /// driver such as lavapipe); empty when there are none, `None` when nothing could be read.
    pub gpus: Option<Vec<String>>,
    pub firmware: Option<String>,
    pub devices: Vec<String>,
    /// The kernel command line (`/proc/cmdline`): toolboxes can require its parameters.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cmdline: String,
    /// Physical cores (online CPUs that share no core). The CPU layout and tuning below are
    /// recorded beside a result but enter no fingerprint: `None` is "unknown" (unreadable, or a
    /// record written before they were probed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cores: Option<u32>,
    /// Hardware threads: the online logical CPUs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sockets: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numa_nodes: Option<u32>,
    /// The cpufreq scaling governor (several, comma-separated, when the CPUs differ).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub governor: Option<String>,
    /// The kernel's SMT control word (`on`, `off`, `forceoff`, `notsupported`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smt: Option<String>,
    /// Whether the CPUs may boost above their base clock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boost: Option<bool>,
    /// The storage root bakeoff and its children wrote under (`--storage`), when there was one:
    /// a machine setting, in no fingerprint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum HostFactsError {
    #[error("cannot read host facts `{path}`")]
    #[diagnostic(code(bakeoff::host::unreadable), help("pass a readable JSON file to `--host-facts`"))]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("host facts `{path}` are not valid: {message}")]
    #[diagnostic(
        code(bakeoff::host::invalid),
        help(
            "expected a JSON object with the keys id, name, kernel, os, cpu, memory_bytes, gpus, firmware, devices, \
             cmdline, cores, threads, sockets, numa_nodes, governor, smt and boost"
        )
    )]
    Invalid { path: String, message: String },
}

impl HostFacts {
    /// Reads a `--host-facts` file; a file without an `id` gets one made from its facts.
    pub fn load(path: &Path) -> Result<Self, HostFactsError> {
        let text = fs::read_to_string(path)
            .map_err(|source| HostFactsError::Unreadable { path: path.display().to_string(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// [`HostFacts::load`] of the text of the file at `path`.
    pub fn parse(text: &str, path: &str) -> Result<Self, HostFactsError> {
        let facts: Self = serde_json::from_str(text)
            .map_err(|error| HostFactsError::Invalid { path: path.to_owned(), message: error.to_string() })?;
        if !facts.id.is_empty() && !is_host_id(&facts.id) {
            return Err(HostFactsError::Invalid {
                path: path.to_owned(),
                message: format!("`id` must be 1 to 64 lowercase hex digits, not `{}`", facts.id),
            });
        }
        Ok(facts.with_id(None))
    }

    /// Fills in `id` when it is empty: from the machine's `/etc/machine-id` when given (the
    /// identity systemd keeps for an installation), else from the facts that do not change with
    /// an upgrade (name, CPU, GPUs, memory). The machine id is hashed with a bakeoff-specific
    /// prefix, as systemd asks of applications, so it never appears in a record.
    #[must_use]
    pub fn with_id(mut self, machine_id: Option<&str>) -> Self {
        if self.id.is_empty() {
            let seed = match machine_id {
                Some(machine_id) => format!("machine-id\n{machine_id}"),
                None => {
                    format!("facts\n{}\n{}\n{}\n{}", self.name, self.cpu, self.gpu_list().join("\n"), self.memory_bytes)
                }
            };
            let digest = crate::digest::hex(&<sha2::Sha256 as sha2::Digest>::digest(
                format!("bakeoff host id\n{seed}").as_bytes(),
            ));
            digest[..16].clone_into(&mut self.id);
        }
        self
    }

    /// How reports name this host: its name, or `host-` and the start of its identity.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            format!("host-{}", crate::digest::listed(&self.identity()))
        } else {
            self.name.clone()
        }
    }

    /// The GPUs, none when they could not be read.
    pub fn gpu_list(&self) -> &[String] {
        self.gpus.as_deref().unwrap_or_default()
    }

    /// The GPUs for people: their list, `none`, or `unknown` when nothing could be read.
    pub fn gpus_shown(&self) -> String {
        match &self.gpus {
            None => "unknown".to_owned(),
            Some(gpus) if gpus.is_empty() => "none".to_owned(),
            Some(gpus) => gpus.join(", "),
        }
    }

    /// The value of kernel parameter `name` on the command line: `Some("")` for a flag given
    /// without a value (`quiet`), `None` when it is not there. The last one given counts, as
    /// the kernel reads them.
    pub fn kernel_param(&self, name: &str) -> Option<&str> {
        self.cmdline
            .split_whitespace()
            // What follows `--` is for init, not the kernel.
            .take_while(|word| *word != "--")
            .filter_map(|word| match word.split_once('=') {
                Some((key, value)) if key == name => Some(value),
                None if word == name => Some(""),
                _ => None,
            })
            .last()
    }

    /// Whether any of the CPU layout facts is known: records written before they were probed,
    /// and `--host-facts` files without them, know none.
    pub fn knows_cpu_layout(&self) -> bool {
        self.cores.is_some()
            || self.threads.is_some()
            || self.sockets.is_some()
            || self.numa_nodes.is_some()
            || self.governor.is_some()
            || self.smt.is_some()
            || self.boost.is_some()
    }

    /// The CPU layout and tuning for people, each fact `unknown` where it could not be read:
    /// `2 cores, 4 threads, 1 socket, 1 NUMA node; governor performance, SMT on, boost on`.
    /// `None` when nothing of it is known.
    pub fn cpu_layout(&self) -> Option<String> {
        if !self.knows_cpu_layout() {
            return None;
        }
        let count = |value: Option<u32>, one: &str, many: &str| match value {
            Some(1) => format!("1 {one}"),
            Some(count) => format!("{count} {many}"),
            None => format!("{many} unknown"),
        };
        let unknown = || "unknown".to_owned();
        Some(format!(
            "{}, {}, {}, {}; governor {}, SMT {}, boost {}",
            count(self.cores, "core", "cores"),
            count(self.threads, "thread", "threads"),
            count(self.sockets, "socket", "sockets"),
            count(self.numa_nodes, "NUMA node", "NUMA nodes"),
            self.governor.clone().unwrap_or_else(unknown),
            self.smt_shown().unwrap_or_else(unknown),
            self.boost.map_or_else(unknown, |on| if on { "on" } else { "off" }.to_owned()),
        ))
    }

    /// The SMT state for people (`forced off`, `not supported`), `None` when unknown.
    pub fn smt_shown(&self) -> Option<String> {
        self.smt.as_deref().map(super::cpu::smt_shown)
    }

    /// The CPU facts sysfs gave.
    #[must_use]
    fn with_cpu_layout(self, layout: CpuLayout) -> Self {
        Self {
            cores: layout.cores,
            threads: layout.threads,
            sockets: layout.sockets,
            numa_nodes: layout.numa_nodes,
            governor: layout.governor,
            smt: layout.smt,
            boost: layout.boost,
            ..self
        }
    }

    /// Probes this machine. Facts that cannot be found stay empty rather than failing.
    pub fn probe() -> Self {
        let machine_id = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
            .into_iter()
            .find_map(|path| read_trimmed(path).filter(|id| !id.is_empty()));
        Self {
            id: String::new(),
            name: read_trimmed("/proc/sys/kernel/hostname").unwrap_or_default(),
            kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default(),
            os: fs::read_to_string("/etc/os-release").ok().and_then(|text| os_name(&text)).unwrap_or_default(),
            cpu: fs::read_to_string("/proc/cpuinfo").ok().and_then(|text| cpu_model(&text)).unwrap_or_default(),
            memory_bytes: fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|text| memory_total(&text))
                .unwrap_or_default(),
            gpus: probe_gpus(),
            firmware: probe_firmware(),
            devices: probe_devices(),
            cmdline: read_trimmed("/proc/cmdline").unwrap_or_default(),
            ..Self::default()
        }
        .with_cpu_layout(CpuLayout::read(Path::new("/sys/devices/system")))
        .with_id(machine_id.as_deref())
    }
}

fn is_host_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

fn read_trimmed(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|text| text.trim().to_owned())
}

fn os_name(os_release: &str) -> Option<String> {
    os_release
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME=").map(|value| value.trim_matches('"').to_owned()))
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

fn memory_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// How long a probe may ask another program (a package manager on a slow disk).
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The GPUs: the Vulkan loader's devices (`vulkaninfo --summary`, each with its kind, so a CPU
/// driver is not taken for a GPU) where it lists any; else display adapters from `lspci`; else
/// vendor:device ids from sysfs. `None` only when none of these could be read.
fn probe_gpus() -> Option<Vec<String>> {
    if let Some(summary) = crate::process::ask("vulkaninfo", &["--summary"], PROBE_TIMEOUT) {
        let devices = super::vulkan::devices(&summary);
        if !devices.is_empty() {
            return Some(devices.iter().map(super::vulkan::VulkanDevice::fact).collect());
        }
    }
    if let Some(listing) = crate::process::ask("lspci", &["-mm"], PROBE_TIMEOUT) {
        return Some(parse_lspci(&listing));
    }
    // No DRM class: the kernel drives no display device. No sysfs at all: nothing is known.
    let Ok(entries) = fs::read_dir("/sys/class/drm") else {
        return Path::new("/sys/class").is_dir().then(Vec::new);
    };
    let mut gpus: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("card") && !name.contains('-')
        })
        .filter_map(|entry| {
            let device = entry.path().join("device");
            let vendor = read_trimmed(device.join("vendor").to_str()?)?;
            let id = read_trimmed(device.join("device").to_str()?)?;
            Some(format!("pci {}:{}", vendor.trim_start_matches("0x"), id.trim_start_matches("0x")))
        })
        .collect();
    gpus.sort();
    Some(gpus)
}

/// `lspci -mm` lines whose class is a display or 3D controller → "Vendor Device".
fn parse_lspci(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('"').collect();
            // Fields: slot "class" "vendor" "device" ...; quoted fields sit at odd indices.
            let class = fields.get(1)?;
            if !(class.contains("VGA") || class.contains("Display") || class.contains("3D")) {
                return None;
            }
            Some(format!("{} {}", fields.get(3)?, fields.get(5)?))
        })
        .collect()
}

/// The linux-firmware package version from rpm (Fedora) or dpkg (Debian, Ubuntu).
fn probe_firmware() -> Option<String> {
    let queries: [(&str, &[&str]); 3] = [
        ("rpm", &["-q", "--qf", "%{VERSION}", "linux-firmware"]),
        ("dpkg-query", &["-W", "-f=${Version}", "linux-firmware"]),
        ("dpkg-query", &["-W", "-f=${Version}", "firmware-linux-free"]),
    ];
    queries.iter().find_map(|(program, args)| {
        let version = crate::process::ask(program, args, PROBE_TIMEOUT)?.trim().to_owned();
        (!version.is_empty()).then_some(version)
    })
}

/// Accelerator device nodes that toolboxes commonly require.
fn probe_devices() -> Vec<String> {
    let mut devices = Vec::new();
    for fixed in ["/dev/kfd", "/dev/nvidiactl"] {
        if Path::new(fixed).exists() {
            devices.push(fixed.to_owned());
        }
    }
    for directory in ["/dev/dri", "/dev/accel"] {
        if let Ok(entries) = fs::read_dir(directory) {
            devices.extend(entries.filter_map(Result::ok).map(|entry| entry.path().display().to_string()));
        }
    }
    if let Ok(entries) = fs::read_dir("/dev") {
        devices.extend(
            entries
                .filter_map(Result::ok)
                .filter(|entry| {
                    let name = entry.file_name();
                    let name = name.to_string_lossy();
                    name.starts_with("nvidia") && name[6..].chars().all(|c| c.is_ascii_digit()) && name.len() > 6
                })
                .map(|entry| entry.path().display().to_string()),
        );
    }
    devices.sort();
    devices.dedup();
    devices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_and_os_release_text() {
        assert_eq!(os_name("NAME=Fedora\nPRETTY_NAME=\"Fedora Linux 43\"\n").as_deref(), Some("Fedora Linux 43"));
        assert_eq!(
            cpu_model("processor\t: 0\nmodel name\t: AMD RYZEN AI MAX+ 395\n").as_deref(),
            Some("AMD RYZEN AI MAX+ 395")
        );
        assert_eq!(memory_total("MemTotal:       131072 kB\n"), Some(134_217_728));
    }

    #[test]
    fn lspci_keeps_display_controllers_only() {
        let text = "00:00.0 \"Host bridge\" \"Intel Corporation\" \"440FX\" -r02 \"\" \"\"\n\
                    c3:00.0 \"Display controller\" \"Advanced Micro Devices, Inc. [AMD/ATI]\" \"Strix Halo [Radeon 8060S]\" \"\" \"\"\n";
        assert_eq!(parse_lspci(text), vec!["Advanced Micro Devices, Inc. [AMD/ATI] Strix Halo [Radeon 8060S]"]);
    }

    #[test]
    fn facts_file_rejects_unknown_keys() {
        let error = serde_json::from_str::<HostFacts>(r#"{"kernal": "6.1"}"#).unwrap_err();
        assert!(error.to_string().contains("unknown field `kernal`"));
        let facts: HostFacts = serde_json::from_str(r#"{"kernel": "6.1", "firmware": "20260110"}"#).unwrap();
        assert_eq!(facts.firmware.as_deref(), Some("20260110"));
    }

    #[test]
    fn probing_this_machine_finds_a_kernel_memory_and_a_stable_id() {
        let facts = HostFacts::probe();
        assert!(!facts.kernel.is_empty());
        assert!(facts.memory_bytes > 0);
        assert_eq!(facts.id.len(), 16);
        assert_eq!(HostFacts::probe().id, facts.id);
    }

    #[test]
    fn the_cpu_layout_is_shown_with_what_is_unknown_and_read_from_a_facts_file() {
        assert_eq!(HostFacts::default().cpu_layout(), None);
        let facts = HostFacts::parse(
            r#"{"cpu": "AMD EPYC 9654", "cores": 96, "threads": 192, "sockets": 1, "numa_nodes": 4, "smt": "forceoff"}"#,
            "epyc.json",
        )
        .unwrap();
        assert_eq!(
            facts.cpu_layout().as_deref(),
            Some("96 cores, 192 threads, 1 socket, 4 NUMA nodes; governor unknown, SMT forced off, boost unknown")
        );
        // Facts that are not known are not written, so that records of machines where nothing
        // could be read look as they did.
        let json = serde_json::to_string(&HostFacts::default()).unwrap();
        assert!(!json.contains("cores") && !json.contains("boost"), "{json}");
    }

    #[test]
    fn the_id_follows_the_machine_not_its_kernel_or_label() {
        let facts =
            HostFacts { cpu: "EPYC".into(), memory_bytes: 1 << 30, kernel: "6.1".into(), ..HostFacts::default() };
        let upgraded = HostFacts { kernel: "6.18".into(), firmware: Some("20260110".into()), ..facts.clone() };
        assert_eq!(facts.clone().with_id(None).id, upgraded.with_id(None).id);
        let other_cpu = HostFacts { cpu: "Xeon".into(), ..facts.clone() };
        assert_ne!(facts.clone().with_id(None).id, other_cpu.with_id(None).id);
        // Two installs on identical hardware differ by machine id.
        assert_ne!(facts.clone().with_id(Some("aaaa")).id, facts.clone().with_id(Some("bbbb")).id);
        // An id given in a facts file is kept.
        let given = HostFacts { id: "abc123".into(), ..facts };
        assert_eq!(given.with_id(Some("aaaa")).id, "abc123");
    }
}
