//! Backends for real: a Vulkan llama.cpp on Mesa's lavapipe (built by `scripts/vulkan.sh`,
//! which `scripts/test.sh` runs) beside the CPU build, through podman and toolbox. Every bench
//! and server cell records the backend, device and driver that ran; a "vulkan" toolbox whose
//! llama.cpp finds no Vulkan device (as a container that cannot see /dev/dri) fails with
//! llama.cpp's own words, never an ok record.

use std::process::Command;

use bakeoff::store::{CellRecord, Status};

use crate::support::{Bakeoff, Llama, project, records};

/// What the backend tests need from the test set-up.
struct Vulkan {
    /// The CPU llama.cpp image (`scripts/containers.sh`).
    cpu_image: String,
    /// The Vulkan llama.cpp image (`scripts/vulkan.sh`).
    image: String,
    /// Mesa's shader cache, warmed for that image: lavapipe compiles every pipeline otherwise.
    cache: String,
}

impl Vulkan {
    fn get() -> Self {
        let variable = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is not set: run the tests with scripts/test.sh, which builds the Vulkan image")
            })
        };
        let vulkan = Self {
            cpu_image: variable("BAKEOFF_TEST_IMAGE"),
            image: variable("BAKEOFF_TEST_VULKAN_IMAGE"),
            cache: variable("BAKEOFF_TEST_MESA_CACHE"),
        };
        let exists = Command::new("podman").args(["image", "exists", &vulkan.image]).status().unwrap();
        assert!(exists.success(), "no image `{}`: scripts/vulkan.sh builds it", vulkan.image);
        vulkan
    }
}

/// A toolbox container the test made, removed when the test ends.
struct ToolboxContainer(String);

impl Drop for ToolboxContainer {
    fn drop(&mut self) {
        let _ = Command::new("podman").args(["rm", "--force", "--time", "0", &self.0]).output();
    }
}

fn bakeoff(llama: &Llama, directory: &std::path::Path) -> Bakeoff {
    let mut bakeoff = Bakeoff::new(directory);
    bakeoff.arg("--models").arg(llama.model_root());
    bakeoff
}

/// Every podman container of this file's campaigns carries it, so that what other tests run
/// meanwhile is not taken for what this one left.
const LABEL: &str = "bakeoff-test=backends";

/// `cpu` (the CPU build), `vk` (the Vulkan build, told to use lavapipe), `vk-blind` (the same
/// image without that: llama.cpp finds no device, as in a container without /dev/dri) on
/// podman, and `vk-box` (the Vulkan build in a toolbox container).
fn toolboxes(vulkan: &Vulkan, toolbox: &str) -> String {
    let cache = &vulkan.cache;
    format!(
        r#"toolbox "cpu" {{
    runner "podman"
    image "{cpu}"
    backend "cpu"
    container-args "--label" "{label}"
}}
toolbox "vk" {{
    runner "podman"
    image "{image}"
    backend "vulkan"
    env GGML_VK_VISIBLE_DEVICES="0" MESA_SHADER_CACHE_DIR="/mesa-cache"
    container-args "-v" "{cache}:/mesa-cache" "--label" "{label}"
}}
toolbox "vk-blind" {{
    runner "podman"
    image "{image}"
    backend "vulkan"
    env MESA_SHADER_CACHE_DIR="/mesa-cache"
    container-args "-v" "{cache}:/mesa-cache" "--label" "{label}"
}}
toolbox "{toolbox}" {{
    runner "toolbox"
    image "{image}"
    backend "vulkan"
    env GGML_VK_VISIBLE_DEVICES="0" MESA_SHADER_CACHE_DIR="/run/host{cache}"
}}
model "gemma" {{ file "gemma-3-270m-q4_k_m.gguf" }}
"#,
        cpu = vulkan.cpu_image,
        image = vulkan.image,
        label = LABEL,
    )
}

const EXPERIMENTS: &str = r#"
experiment "backends" {
    matrix {
        model "gemma"
        toolbox "cpu" "vk" "vk-blind" "VKBOX"
        ngl 99 0
    }
    bench { args "-t" 2 "-p" 16 "-n" 4 "-r" 1 "-ngl" "{ngl}" "--repack" 0 }
    timeout 600
}
experiment "served" {
    matrix {
        model "gemma"
        toolbox "vk" "vk-blind" "VKBOX"
    }
    server {
        args "-nr" "-t" 2 "-ngl" 99 "--ctx-size" 1024
        ready-timeout 300
    }
    workload "hello" {
        request api="completion" max-tokens=4 prompt="Say hello."
        repeat 2
    }
    timeout 600
}
"#;

fn find<'a>(records: &'a [CellRecord], experiment: &str, toolbox: &str, ngl: Option<&str>) -> &'a CellRecord {
    records
        .iter()
        .find(|record| {
            record.experiment == experiment
                && record.fingerprint.toolbox.name == toolbox
                && ngl.is_none_or(|ngl| record.axes.get("ngl").map(String::as_str) == Some(ngl))
        })
        .unwrap_or_else(|| panic!("no record of {experiment} on {toolbox} (ngl {ngl:?})"))
}

#[test]
fn a_two_backend_campaign_records_what_ran_and_fails_vulkan_cells_that_ran_on_the_cpu() {
    let llama = Llama::get();
    let vulkan = Vulkan::get();
    let vk_box = format!("bk-vkbox-{}", std::process::id());
    let manifest = format!("{}{}", toolboxes(&vulkan, &vk_box), EXPERIMENTS.replace("VKBOX", &vk_box));
    let directory = project(&[("experiments/backends.kdl", &manifest)]);
    let run = |args: &[&str]| bakeoff(&llama, directory.path()).args(args).run();

    let created = run(&["toolbox", "create", &vk_box]);
    let _container = ToolboxContainer(vk_box.clone());
    assert_eq!(created.code, 0, "{}", created.stderr);

    // Inspection reads the Vulkan toolboxes' driver stack from their own loader.
    let status = run(&["toolbox", "status", "--json", "vk", &vk_box, "cpu"]);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    for row in status.as_array().unwrap() {
        assert_eq!(row["problem"], serde_json::Value::Null, "{row}");
        let driver = row["driver"].as_str().unwrap_or("");
        if row["name"] == "cpu" {
            assert_eq!(driver, "", "a CPU toolbox has no driver stack to read: {row}");
        } else {
            assert!(driver.starts_with("Mesa ") && driver.ends_with(", llvmpipe"), "{row}");
        }
    }

    let ran = run(&["run", "--no-progress"]);
    // The blind toolbox's 2 bench cells and its server cell fail; everything else is ok.
    assert_eq!(ran.code, 4, "{}\n{}", ran.stdout, ran.stderr);
    assert_eq!(ran.stdout, "11 cells: 11 ran (8 ok, 3 failed), 0 cached, 0 blocked\n", "{}", ran.stderr);
    let stored = records(directory.path());

    for ngl in ["99", "0"] {
        let cpu = find(&stored, "backends", "cpu", Some(ngl));
        assert_eq!(cpu.status, Status::Ok, "{:?}", cpu.failure);
        let ran_on = cpu.ran_on.as_ref().expect("a bench cell records what ran");
        assert_eq!((ran_on.backend.as_str(), ran_on.built_for.as_str()), ("CPU", ""), "{ran_on:?}");

        for toolbox in ["vk", vk_box.as_str()] {
            let record = find(&stored, "backends", toolbox, Some(ngl));
            assert_eq!(record.status, Status::Ok, "{toolbox} ngl {ngl}: {:?}", record.failure);
            let ran_on = record.ran_on.as_ref().unwrap();
            assert_eq!(ran_on.backend, "Vulkan", "{ran_on:?}");
            assert_eq!(ran_on.devices.len(), 1, "{ran_on:?}");
            assert!(
                ran_on.devices[0].starts_with("llvmpipe (LLVM ") && ran_on.devices[0].ends_with(" (CPU-type device)"),
                "{ran_on:?}"
            );
            let driver = ran_on.driver.as_deref().unwrap_or("");
            assert!(driver.starts_with("Mesa ") && driver.ends_with(", llvmpipe"), "{ran_on:?}");
            assert!(record.metrics.contains_key("tg4"), "{:?}", record.metrics.keys());
            // llama-bench's own JSON agrees.
            assert_eq!(record.raw[0]["backends"], "Vulkan");
        }

        // The Vulkan build found no device and ran on the CPU: a failure in llama.cpp's words.
        let blind = find(&stored, "backends", "vk-blind", Some(ngl));
        assert_eq!(blind.status, Status::Failed);
        let reason = &blind.failure.as_ref().unwrap().reason;
        assert!(
            reason.starts_with(
                "declared backend `vulkan`, but llama.cpp found no Vulkan device (`ggml_vulkan: No devices found.`)"
            ),
            "{reason}"
        );
        assert!(blind.metrics.is_empty(), "a CPU number is not kept under a Vulkan label: {:?}", blind.metrics);
        assert_eq!(blind.ran_on.as_ref().map(|ran_on| ran_on.backend.as_str()), Some("CPU"));
    }

    // The server says at start-up what it runs on and how many layers it offloaded.
    for toolbox in ["vk", vk_box.as_str()] {
        let served = find(&stored, "served", toolbox, None);
        assert_eq!(served.status, Status::Ok, "{toolbox}: {:?}", served.failure);
        let ran_on = served.ran_on.as_ref().unwrap();
        assert_eq!(ran_on.backend, "Vulkan", "{ran_on:?}");
        assert!(ran_on.devices[0].starts_with("llvmpipe"), "{ran_on:?}");
        let offloaded = ran_on.offloaded.as_deref().unwrap_or("");
        let (on_device, total) = offloaded.split_once('/').unwrap_or_else(|| panic!("offloaded {offloaded:?}"));
        assert_eq!(on_device, total, "-ngl 99 puts every layer on the device: {offloaded}");
        assert!(served.metrics.contains_key("ttft_ms"), "{:?}", served.metrics.keys());
    }
    let blind = find(&stored, "served", "vk-blind", None);
    assert_eq!(blind.status, Status::Failed);
    let reason = &blind.failure.as_ref().unwrap().reason;
    assert!(
        reason.starts_with(
            "declared backend `vulkan`, but llama.cpp found no Vulkan device (`warning: no usable GPU found"
        ),
        "{reason}"
    );
    assert_eq!(blind.ran_on.as_ref().map(|ran_on| ran_on.backend.as_str()), Some("CPU"), "{:?}", blind.ran_on);

    // The report's toolbox table says what ran, on which device, with which driver.
    let report = std::fs::read_to_string(directory.path().join("results/backends/README.md")).unwrap();
    assert!(report.contains("| backend | device | driver |"), "{report}");
    let vk_row = report.lines().find(|line| line.starts_with("| `vk` |")).expect("a row for vk");
    assert!(vk_row.contains("| Vulkan | llvmpipe (LLVM ") && vk_row.contains("(CPU-type device) | Mesa "), "{vk_row}");
    let cpu_row = report.lines().find(|line| line.starts_with("| `cpu` |")).expect("a row for cpu");
    assert!(cpu_row.contains("| CPU | the CPU |"), "{cpu_row}");

    // Nothing of the run is left: no container of its cells or servers.
    let filter = format!("label={LABEL}");
    let left =
        Command::new("podman").args(["ps", "--all", "--filter", &filter, "--format", "{{.Names}}"]).output().unwrap();
    let left = String::from_utf8_lossy(&left.stdout);
    assert!(!left.lines().any(|name| name.starts_with("bakeoff-")), "left behind: {left}");
}

/// The host's GPUs come from the Vulkan loader, each with its kind, so that lavapipe shows as
/// the CPU device it is; without the loader (and lspci) they come from sysfs, and are a list
/// (none is a fact), never unknown on a machine with sysfs.
#[test]
fn host_facts_list_the_vulkan_loaders_devices_with_their_kind() {
    let which = Command::new("sh").args(["-c", "command -v vulkaninfo"]).output().unwrap();
    assert!(which.status.success(), "`vulkaninfo` is not installed: scripts/vulkan.sh installs vulkan-tools");
    let directory = tempfile::tempdir().unwrap();
    let host = Bakeoff::new(directory.path()).args(["host", "--json"]).run();
    assert_eq!(host.code, 0, "{}", host.stderr);
    let facts: serde_json::Value = serde_json::from_str(&host.stdout).unwrap();
    let gpus: Vec<&str> = facts["facts"]["gpus"].as_array().unwrap().iter().filter_map(|gpu| gpu.as_str()).collect();
    assert!(
        gpus.iter().any(|gpu| gpu.starts_with("llvmpipe (LLVM ") && gpu.ends_with(" (CPU device)")),
        "lavapipe is listed as a CPU device: {gpus:?}"
    );
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap();
    assert_eq!(facts["facts"]["cmdline"], cmdline.trim());

    // No vulkaninfo, lspci or package manager on PATH: the GPUs are what sysfs says.
    let empty = tempfile::tempdir().unwrap();
    let host = Bakeoff::new(directory.path()).env("PATH", empty.path()).args(["host", "--json"]).run();
    assert_eq!(host.code, 0, "{}", host.stderr);
    let facts: serde_json::Value = serde_json::from_str(&host.stdout).unwrap();
    let gpus = facts["facts"]["gpus"].as_array().unwrap_or_else(|| panic!("gpus are known: {}", facts["facts"]));
    assert!(gpus.iter().all(|gpu| !gpu.as_str().unwrap().contains("llvmpipe")), "{gpus:?}");
}

/// `kernel-param` requires a parameter of the kernel command line, as the Strix Halo guides set
/// them: a number compared, or a glob; a host without it blocks the toolbox's cells with the
/// reason.
#[test]
fn a_toolbox_can_require_kernel_parameters() {
    let manifest = r#"
toolbox "gtt" {
    runner "host"
    requires {
        kernel-param "ttm.pages_limit" ">=32505856" reason="large models need the GTT limit raised"
        kernel-param "amd_iommu" "off"
    }
}
model "gemma" { file "gemma.gguf" }
experiment "gtt" {
    matrix { model "gemma"; toolbox "gtt" }
    command { args "true" }
}
"#;
    let directory = project(&[("experiments/gtt.kdl", manifest)]);
    let strix = crate::support::fixture("hosts/strix-1.json");
    let plan = Bakeoff::new(directory.path()).arg("--host-facts").arg(&strix).args(["plan"]).run();
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.ends_with("1 cell: 0 cached, 1 to run, 0 blocked\n"), "{}", plan.stdout);

    let facts = std::fs::read_to_string(&strix).unwrap().replace(" ttm.pages_limit=32505856", " ttm.pages_limit=4096");
    std::fs::write(directory.path().join("small.json"), facts).unwrap();
    let plan = Bakeoff::new(directory.path()).args(["--host-facts", "small.json", "plan"]).run();
    assert!(plan.stdout.ends_with("1 cell: 0 cached, 0 to run, 1 blocked\n"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains(
            "requires kernel-param `ttm.pages_limit` >= 32505856, host has `ttm.pages_limit=4096`: large models need \
             the GTT limit raised"
        ),
        "{}",
        plan.stdout
    );

    // One value where two are needed is a manifest error at the node.
    std::fs::write(directory.path().join("experiments/gtt.kdl"), manifest.replace(r#" "off""#, "")).unwrap();
    let check = Bakeoff::new(directory.path()).args(["check"]).run();
    assert_eq!(check.code, 2, "{}", check.stderr);
    assert!(check.stderr.contains("it takes a parameter name and what its value must be"), "{}", check.stderr);
}

/// GPU memory from amdgpu's counters (a tree of the test's own under `BAKEOFF_DRM_ROOT`: no
/// amdgpu here): the largest use seen while the cell ran, summed over the cards, which the
/// cell itself moves up and back down; a machine without such counters records none.
#[test]
fn gpu_memory_is_the_largest_use_amdgpus_counters_saw() {
    let directory = project(&[]);
    let drm = directory.path().join("drm");
    for (card, vram, gtt) in [("card0", 1000, 2000), ("card1", 10, 20)] {
        let device = drm.join(card).join("device");
        std::fs::create_dir_all(&device).unwrap();
        std::fs::write(device.join("mem_info_vram_used"), format!("{vram}\n")).unwrap();
        std::fs::write(device.join("mem_info_gtt_used"), format!("{gtt}\n")).unwrap();
    }
    let device = drm.join("card0/device");
    let (vram, gtt) = (device.join("mem_info_vram_used"), device.join("mem_info_gtt_used"));
    let script = format!(
        "echo 5000 > {vram}; echo 90000000 > {gtt}; sleep 0.6; echo 1000 > {vram}; echo 2000 > {gtt}; echo done=1",
        vram = vram.display(),
        gtt = gtt.display()
    );
    let manifest = format!(
        r#"experiment "gtt" {{
    matrix {{ n 1 }}
    command {{
        args "sh" "-c" "{script}"
        metric "done" regex="done=([0-9]+)"
    }}
}}
"#
    );
    std::fs::create_dir_all(directory.path().join("experiments")).unwrap();
    std::fs::write(directory.path().join("experiments/gtt.kdl"), manifest).unwrap();
    let run = Bakeoff::new(directory.path()).env("BAKEOFF_DRM_ROOT", &drm).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let [record] = &records(directory.path())[..] else { panic!("one record") };
    let bytes = |name: &str| record.metrics[name].samples.clone();
    assert_eq!(bytes("peak_vram_bytes"), [5010.0], "{:?}", record.metrics);
    assert_eq!(bytes("peak_gtt_bytes"), [90_000_020.0], "{:?}", record.metrics);
    assert_eq!(record.metrics["peak_gtt_bytes"].unit, "bytes");

    let rerun = Bakeoff::new(directory.path()).args(["run", "--no-progress", "--force"]).run();
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    let [record] = &records(directory.path())[..] else { panic!("one record") };
    assert!(!record.metrics.contains_key("peak_gtt_bytes"), "no counter, no number: {:?}", record.metrics);
}
