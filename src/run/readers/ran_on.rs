//! What llama.cpp says it ran on: its backend, its devices and their driver, and how many layers
//! it offloaded; read from llama-bench's JSON (`backends`, `gpu_info`) and the lines the
//! backends print (`ggml_vulkan: 0 = …`, `Device 0: …`, llama-server's `device_info` and
//! `offloaded N/M layers`). Checked against the toolbox's declared backend: a "vulkan" cell that
//! ran on the CPU is a failure with llama.cpp's own line, never an ok result.

use crate::manifest::Backend;
use crate::store::RanOn;

/// What one run of llama.cpp said about its devices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Observed {
    /// The GPU backends the build has (`Vulkan`), whether or not it found a device.
    pub(crate) built_for: Vec<String>,
    pub(crate) devices: Vec<Device>,
    /// The driver a device line names (`llvmpipe`, `radv`).
    pub(crate) driver: Option<String>,
    /// llama.cpp's own line saying it found no device (`ggml_vulkan: No devices found.`).
    pub(crate) no_device: Option<String>,
    /// `(offloaded, total)` layers, where llama.cpp says (llama-server's load).
    pub(crate) offloaded: Option<(u32, u32)>,
}

/// A device llama.cpp used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Device {
    /// `Vulkan`, `ROCm`, `CUDA`.
    pub(crate) backend: String,
    /// As llama.cpp names it: `llvmpipe (LLVM 19.1.7, 256 bits)`, `AMD Radeon Graphics`.
    pub(crate) name: String,
    /// A device of CPU type (Mesa's lavapipe): a GPU backend's code path on the CPU.
    pub(crate) cpu_type: bool,
}

impl Observed {
    /// Reads `output` (the process's combined output) and `raw` (llama-bench's JSON records,
    /// empty for a server).
    pub(crate) fn read(output: &str, raw: &[serde_json::Value]) -> Self {
        let mut observed = Self::default();
        for record in raw {
            let text = |key: &str| record.get(key).and_then(serde_json::Value::as_str).unwrap_or("").trim();
            for backend in text("backends").split(',').map(str::trim).filter(|name| is_gpu_backend(name)) {
                observed.built_for(backend);
                for name in split_outside_parentheses(text("gpu_info")) {
                    observed.device(backend, name);
                }
            }
        }
        let mut cuda_like: Option<String> = None;
        for line in output.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("ggml_vulkan:") {
                observed.built_for("Vulkan");
                let rest = rest.trim();
                if rest.starts_with("No devices found") {
                    observed.no_device.get_or_insert_with(|| line.to_owned());
                } else if rest.starts_with("Warning: Device type is CPU") {
                    if let Some(device) = observed.devices.iter_mut().rev().find(|device| device.backend == "Vulkan") {
                        device.cpu_type = true;
                    }
                } else if let Some((index, description)) = rest.split_once(" = ")
                    && index.trim().parse::<u32>().is_ok()
                {
                    // `llvmpipe (LLVM 19.1.7, 256 bits) (llvmpipe) | uma: 0 | …`: the name, then
                    // the driver in the last parentheses.
                    let head = description.split(" | ").next().unwrap_or(description).trim();
                    let (name, driver) = match head.rfind(" (") {
                        Some(open) if head.ends_with(')') => (&head[..open], Some(&head[open + 2..head.len() - 1])),
                        _ => (head, None),
                    };
                    observed.device("Vulkan", name);
                    if let Some(driver) = driver {
                        observed.driver.get_or_insert_with(|| driver.to_owned());
                    }
                }
            } else if let Some(rest) = line.strip_prefix("ggml_cuda_init:") {
                // `found 1 ROCm devices:` (a HIP build names itself ROCm), then `Device 0: …`.
                let rest = rest.trim();
                let backend = if rest.contains("ROCm") { "ROCm" } else { "CUDA" };
                observed.built_for(backend);
                cuda_like = Some(backend.to_owned());
                if rest.starts_with("failed") || rest.starts_with("found 0") || rest.contains("no ") {
                    observed.no_device.get_or_insert_with(|| line.to_owned());
                }
            } else if let (Some(backend), Some(rest)) = (&cuda_like, line.strip_prefix("Device "))
                && let Some((index, description)) = rest.split_once(": ")
                && index.parse::<u32>().is_ok()
            {
                let name = description.split(", ").next().unwrap_or(description).trim().to_owned();
                let backend = backend.clone();
                observed.device(&backend, &name);
            } else if let Some(device) = device_info_line(line) {
                // llama-server's `device_info:` list (verbosity 4): `- Vulkan0 : llvmpipe (…) (N MiB, M MiB free)`.
                let (label, description) = device;
                let backend: String = label.trim_end_matches(|character: char| character.is_ascii_digit()).to_owned();
                if is_gpu_backend(&backend) {
                    observed.built_for(&backend);
                    observed.device(&backend, description);
                }
            } else if line.starts_with("warning: no usable GPU found") {
                observed.no_device.get_or_insert_with(|| line.to_owned());
            } else if let Some(counts) = offloaded_line(line) {
                observed.offloaded = Some(counts);
            }
        }
        observed
    }

    fn built_for(&mut self, backend: &str) {
        if !self.built_for.iter().any(|known| known == backend) {
            self.built_for.push(backend.to_owned());
        }
    }

    fn device(&mut self, backend: &str, name: &str) {
        if !self.devices.iter().any(|device| device.backend == backend && device.name == name) {
            self.devices.push(Device { backend: backend.to_owned(), name: name.to_owned(), cpu_type: false });
        }
    }

    /// What the record keeps: the backend that ran (the CPU when no GPU device was found), the
    /// devices with a CPU-type one marked, the driver of those devices (`driver_stack` from the
    /// toolbox's inspection, else the device line's), and the layers offloaded.
    pub(crate) fn ran_on(&self, driver_stack: Option<&str>) -> RanOn {
        let backend = self.devices.first().map_or_else(|| "CPU".to_owned(), |device| device.backend.clone());
        RanOn {
            backend,
            devices: self
                .devices
                .iter()
                .map(
                    |device| {
                        if device.cpu_type { format!("{} (CPU-type device)", device.name) } else { device.name.clone() }
                    },
                )
                .collect(),
            // A driver ran only where a device did.
            driver: if self.devices.is_empty() {
                None
            } else {
                driver_stack.map(str::to_owned).or_else(|| self.driver.clone())
            },
            offloaded: self.offloaded.map(|(offloaded, total)| format!("{offloaded}/{total}")),
            built_for: self.built_for.join(", "),
        }
    }

    /// Whether what ran is the toolbox's declared `backend`; the reason when not. `layers` is
    /// the `-ngl` the cell asked for (`None` when it did not say).
    pub(crate) fn check(&self, declared: &Backend, layers: Option<u32>) -> Result<(), String> {
        let Some(wanted) = declared.llama_name() else { return Ok(()) };
        let name = declared.name();
        let on_it: Vec<&Device> = self.devices.iter().filter(|device| device.backend == wanted).collect();
        if let Some(device) = on_it.first() {
            if let (Some(asked), Some((0, total))) = (layers, self.offloaded)
                && asked > 0
            {
                let asked = if asked == u32::MAX { "all".to_owned() } else { asked.to_string() };
                return Err(format!(
                    "declared backend `{name}`, and llama.cpp found {wanted} device `{}`, but offloaded 0/{total} \
                     layers although `-ngl {asked}` asked for them: the model ran on the CPU",
                    device.name
                ));
            }
            return Ok(());
        }
        let help = match declared {
            Backend::Vulkan => {
                "the container may not see /dev/dri (require `device \"/dev/dri/renderD*\"`, and give podman or \
                 distrobox `--device /dev/dri`); a CPU Vulkan driver such as lavapipe is used only with \
                 GGML_VK_VISIBLE_DEVICES set"
            }
            Backend::Rocm => {
                "the container may not see /dev/kfd and /dev/dri, or this kernel or linux-firmware breaks ROCm \
                 (`bakeoff host` shows the toolbox's requirements)"
            }
            _ => "the container may not see the NVIDIA devices (/dev/nvidia*), or the driver is not loaded",
        };
        if let Some(line) = &self.no_device {
            return Err(format!(
                "declared backend `{name}`, but llama.cpp found no {wanted} device (`{line}`): {help}"
            ));
        }
        if !self.built_for.iter().any(|backend| backend == wanted) {
            let built = if self.built_for.is_empty() { "CPU only".to_owned() } else { self.built_for.join(", ") };
            return Err(format!(
                "declared backend `{name}`, but this llama.cpp is not built for {wanted} (its GPU backends: \
                 {built}): the cell ran on the CPU"
            ));
        }
        Err(format!("declared backend `{name}`, but llama.cpp named no {wanted} device it ran on: {help}"))
    }
}

/// `a (x, y), b` → `a (x, y)`, `b`: llama-bench joins device names, which hold commas of
/// their own, with `, `.
fn split_outside_parentheses(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (index, character) in text.char_indices() {
        match character {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(text[start..index].trim());
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts.retain(|part| !part.is_empty());
    parts
}

fn is_gpu_backend(name: &str) -> bool {
    matches!(name, "Vulkan" | "ROCm" | "CUDA" | "Metal" | "SYCL" | "OpenCL" | "CANN" | "MUSA")
}

/// `… device_info:` list entries: `common_param:   - Vulkan0 : llvmpipe (…) (24105 MiB, 23493 MiB free)`
/// → (`Vulkan0`, `llvmpipe (…)`).
fn device_info_line(line: &str) -> Option<(&str, &str)> {
    let (_, entry) = line.split_once(" - ")?;
    if !line.contains("common_param:") {
        return None;
    }
    let (label, description) = entry.split_once(" : ")?;
    let label = label.trim();
    if label.is_empty() || label.contains(' ') {
        return None;
    }
    // The memory in the last parentheses is not the device's name.
    let description = description.trim();
    let description = match description.rfind(" (") {
        Some(open) if description[open..].contains("MiB") => &description[..open],
        _ => description,
    };
    Some((label, description.trim()))
}

/// `load_tensors: offloaded 19/19 layers to GPU` → (19, 19).
fn offloaded_line(line: &str) -> Option<(u32, u32)> {
    let rest = line.split_once("offloaded ")?.1;
    let (counts, tail) = rest.split_once(' ')?;
    if !tail.starts_with("layers to GPU") {
        return None;
    }
    let (offloaded, total) = counts.split_once('/')?;
    Some((offloaded.parse().ok()?, total.parse().ok()?))
}

/// The `-ngl` a llama.cpp argv asks for: a number, `all`/`auto` as every layer (`u32::MAX`),
/// `None` when the argv does not say.
pub(crate) fn asked_layers(argv: &[String]) -> Option<u32> {
    let names = ["-ngl", "--n-gpu-layers", "--gpu-layers"];
    let mut asked = None;
    let mut words = argv.iter().peekable();
    while let Some(word) = words.next() {
        let value = if let Some((name, value)) = word.split_once('=')
            && names.contains(&name)
        {
            Some(value.to_owned())
        } else if names.contains(&word.as_str()) {
            words.next().cloned()
        } else {
            None
        };
        if let Some(value) = value {
            // llama-bench takes comma lists: the largest asks for a device.
            asked = value
                .split(',')
                .map(|part| match part.trim() {
                    "all" | "auto" => Some(u32::MAX),
                    number => number.parse().ok(),
                })
                .max()
                .flatten();
        }
    }
    asked
}

#[cfg(test)]
mod tests {
    use super::*;

    const VULKAN_BENCH: &str = "ggml_vulkan: Found 1 Vulkan devices:\n\
        ggml_vulkan: 0 = llvmpipe (LLVM 19.1.7, 256 bits) (llvmpipe) | uma: 0 | fp16: 1 | bf16: 0 | warp size: 8 | shared memory: 32768 | int dot: 0 | matrix cores: none\n\
        ggml_vulkan: Warning: Device type is CPU. This is probably not the device you want.\n";

    fn bench_json(gpu_info: &str) -> Vec<serde_json::Value> {
        vec![serde_json::json!({"backends": "Vulkan", "gpu_info": gpu_info, "n_gpu_layers": 99})]
    }

    #[test]
    fn a_vulkan_bench_names_its_device_driver_and_cpu_type() {
        let observed = Observed::read(VULKAN_BENCH, &bench_json("llvmpipe (LLVM 19.1.7, 256 bits)"));
        assert_eq!(observed.devices.len(), 1, "{observed:?}");
        assert!(observed.devices[0].cpu_type);
        assert_eq!(observed.driver.as_deref(), Some("llvmpipe"));
        let ran_on = observed.ran_on(None);
        assert_eq!(ran_on.backend, "Vulkan");
        assert_eq!(ran_on.devices, ["llvmpipe (LLVM 19.1.7, 256 bits) (CPU-type device)"]);
        assert_eq!(ran_on.driver.as_deref(), Some("llvmpipe"));
        assert_eq!(observed.ran_on(Some("Mesa 25.0.7")).driver.as_deref(), Some("Mesa 25.0.7"));
        assert_eq!(observed.check(&Backend::Vulkan, Some(99)), Ok(()));
    }

    #[test]
    fn a_vulkan_build_that_found_no_device_fails_with_its_own_line() {
        // What a container that cannot see /dev/dri gives: llama.cpp runs on the CPU and its
        // JSON still says `"backends": "Vulkan"`.
        let observed = Observed::read("ggml_vulkan: No devices found.\n", &bench_json(""));
        assert_eq!(observed.ran_on(None).backend, "CPU");
        let reason = observed.check(&Backend::Vulkan, Some(99)).unwrap_err();
        assert!(
            reason.starts_with(
                "declared backend `vulkan`, but llama.cpp found no Vulkan device (`ggml_vulkan: No devices found.`)"
            ),
            "{reason}"
        );
        assert!(reason.contains("/dev/dri"), "{reason}");
        // A CPU toolbox has nothing to check.
        assert_eq!(observed.check(&Backend::Cpu, Some(99)), Ok(()));
    }

    #[test]
    fn a_cpu_build_in_a_vulkan_toolbox_is_named() {
        let raw = vec![serde_json::json!({"backends": "CPU", "gpu_info": ""})];
        let reason = Observed::read("", &raw).check(&Backend::Vulkan, None).unwrap_err();
        assert!(reason.contains("is not built for Vulkan (its GPU backends: CPU only)"), "{reason}");
    }

    #[test]
    fn a_server_names_devices_and_offloaded_layers_at_verbosity_four() {
        let log = "0.00.035 I cmn  common_param: device_info:\n\
            0.00.035 I cmn  common_param:   - Vulkan0 : llvmpipe (LLVM 19.1.7, 256 bits) (24105 MiB, 23493 MiB free)\n\
            0.00.035 I cmn  common_param:   - CPU     : AMD EPYC (24105 MiB, 24105 MiB free)\n\
            0.01.040 I load_tensors: offloaded 19/19 layers to GPU\n";
        let observed = Observed::read(log, &[]);
        assert_eq!(observed.ran_on(None).devices, ["llvmpipe (LLVM 19.1.7, 256 bits)"]);
        assert_eq!(observed.ran_on(None).offloaded.as_deref(), Some("19/19"));
        assert_eq!(observed.check(&Backend::Vulkan, Some(99)), Ok(()));
        let none = Observed::read(&log.replace("offloaded 19/19", "offloaded 0/19"), &[]);
        let reason = none.check(&Backend::Vulkan, Some(99)).unwrap_err();
        assert!(reason.contains("offloaded 0/19 layers although `-ngl 99` asked"), "{reason}");
        // `-ngl 0` asks for nothing on the device: the device was there, that is enough.
        assert_eq!(none.check(&Backend::Vulkan, Some(0)), Ok(()));
        let blind = "warning: no usable GPU found, --gpu-layers option will be ignored\n\
            0.00.058 I cmn  common_param: device_info:\n\
            0.00.058 I cmn  common_param:   - CPU     : AMD EPYC (24105 MiB, 24105 MiB free)\n";
        let reason = Observed::read(blind, &[]).check(&Backend::Vulkan, Some(99)).unwrap_err();
        assert!(reason.contains("(`warning: no usable GPU found"), "{reason}");
    }

    #[test]
    fn rocm_devices_come_from_ggml_cuda_init() {
        let output = "ggml_cuda_init: found 1 ROCm devices:\n  Device 0: AMD Radeon Graphics, gfx1151 (0x1151), VMM: no, Wave Size: 32\n";
        let observed = Observed::read(output, &[]);
        assert_eq!(observed.ran_on(None).devices, ["AMD Radeon Graphics"]);
        assert_eq!(observed.check(&Backend::Rocm, Some(999)), Ok(()));
        assert!(observed.check(&Backend::Vulkan, Some(999)).is_err());
        let failed =
            Observed::read("ggml_cuda_init: failed to initialize ROCm: no ROCm-capable device is detected\n", &[]);
        assert!(failed.check(&Backend::Rocm, Some(99)).unwrap_err().contains("found no ROCm device"));
    }

    #[test]
    fn the_layers_asked_for_are_read_from_the_argv() {
        let argv = |words: &[&str]| words.iter().map(|word| (*word).to_owned()).collect::<Vec<_>>();
        assert_eq!(asked_layers(&argv(&["-m", "x", "-ngl", "99"])), Some(99));
        assert_eq!(asked_layers(&argv(&["--n-gpu-layers=0"])), Some(0));
        assert_eq!(asked_layers(&argv(&["-ngl", "0,99"])), Some(99));
        assert_eq!(asked_layers(&argv(&["--gpu-layers", "auto"])), Some(u32::MAX));
        assert_eq!(asked_layers(&argv(&["-t", "2"])), None);
        assert_eq!(split_outside_parentheses("a (x, y), b"), ["a (x, y)", "b"]);
    }
}
