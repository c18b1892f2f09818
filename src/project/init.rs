//! `bakeoff init`: a project skeleton that runs at once. Models come from the GGUF files under
//! the model roots, the host toolbox finds llama.cpp where this machine has it, and a quickstart
//! experiment measures the first model; nothing that exists is overwritten.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::inputs::ModelRoots;
use crate::models::{ModelFile, scan};
use crate::notice::Notice;
use crate::store::{GITIGNORE, Store};

/// What `init` did to each file of the skeleton.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Created(PathBuf),
    /// It was there and is left as it is; the text says what `init` would have added.
    Kept {
        path: PathBuf,
        would_add: Vec<String>,
    },
}

/// What `init` did, and what to type next.
#[derive(Debug, Clone)]
pub struct InitOutcome {
    pub files: Vec<Written>,
    /// Lines for people: what was found and what to do next.
    pub notes: Vec<Notice>,
}

/// The model names a manifest gives the files found, and where llama.cpp's binaries are.
struct Found {
    models: Vec<(String, String)>,
    bin_dir: Option<PathBuf>,
    on_path: bool,
}

/// Creates the skeleton under `directory`: `experiments/models.kdl` (a model per GGUF file under
/// `roots`), `experiments/quickstart.kdl`, `toolboxes/host.kdl` (with `bin-dir` when llama-bench
/// is not on PATH but in `bin_dir`), a commented `toolboxes/strix-halo.kdl`, and
/// `results/.gitignore`; in a git checkout also `results/.gitattributes` and the merge driver.
pub fn init(directory: &Path, roots: &ModelRoots, bin_dir: Option<&Path>) -> Result<InitOutcome, Error> {
    let (files, problems) = scan(&roots.roots);
    let mut notes: Vec<Notice> = problems
        .iter()
        .map(|problem| Notice::warning(format!("cannot read `{}`: {}", problem.path.display(), problem.error)))
        .collect();
    let usable: Vec<&ModelFile> = files.iter().filter(|file| file.error.is_none()).collect();
    for file in files.iter().filter(|file| file.error.is_some()) {
        notes.push(Notice::warning(format!(
            "`{}` is left out: {}",
            file.path.display(),
            file.error.as_deref().unwrap_or_default()
        )));
    }
    let on_path = which::which("llama-bench").is_ok();
    let found = Found { models: model_names(&usable), bin_dir: bin_dir.map(Path::to_path_buf), on_path };
    if let Some(bin_dir) = bin_dir
        && !bin_dir.join("llama-bench").is_file()
    {
        notes.push(Notice::warning(format!("there is no `llama-bench` in `{}`", bin_dir.display())));
    }

    let mut written = Vec::new();
    let models_path = directory.join("experiments/models.kdl");
    written.push(match std::fs::read_to_string(&models_path) {
        Ok(existing) => {
            let would_add: Vec<String> = found
                .models
                .iter()
                .filter(|(_, file)| !existing.contains(&format!("\"{file}\"")))
                .map(|(name, file)| model_line(name, file))
                .collect();
            Written::Kept { path: models_path, would_add }
        }
        Err(_) => create(&models_path, &models_kdl(&found.models))?,
    });
    // The quickstart measures the smallest model: it runs in seconds, where the first by name
    // may be a BF16 or a 70B that takes minutes.
    let first_model = quickstart_model(&usable, &found.models);
    for (path, text) in [
        (directory.join("experiments/quickstart.kdl"), quickstart_kdl(first_model)),
        (directory.join("toolboxes/host.kdl"), host_kdl(&found)),
        (directory.join("toolboxes/strix-halo.kdl"), STRIX_HALO.to_owned()),
        (directory.join("results").join(".gitignore"), GITIGNORE.to_owned()),
    ] {
        written.push(if path.exists() { Written::Kept { path, would_add: Vec::new() } } else { create(&path, &text)? });
    }
    let store = Store::new(directory.join("results"));
    notes.extend(super::merge::keep_reports_mergeable(directory, &store));
    // `init --bin-dir` on a project that has its host toolbox: the file is kept, and what it
    // lacks is said rather than nothing at all.
    let host = directory.join("toolboxes/host.kdl");
    if let Some(bin_dir) = bin_dir
        && let Ok(existing) = std::fs::read_to_string(&host)
        && !existing.contains(&format!("\"{}\"", bin_dir.display()))
    {
        notes.push(Notice::warning(format!(
            "`{}` exists and was kept, and it does not name `{}`: add `bin-dir \"{}\"` to its toolbox so that \
             its cells find llama.cpp there",
            host.display(),
            bin_dir.display(),
            bin_dir.display()
        )));
    }

    match (first_model, roots.roots.is_empty()) {
        (Some(_), _) => notes.push(Notice::info(format!(
            "found {} model(s) under the model roots; the quickstart measures `{}`",
            found.models.len(),
            first_model.unwrap_or_default()
        ))),
        (None, true) => notes.push(Notice::info(
            "no model root was given: pass `--models DIR` (the folder your .gguf files are under) to `init` to \
             declare them, or edit experiments/models.kdl",
        )),
        (None, false) => notes.push(Notice::info(
            "no GGUF file was found under the model roots: edit experiments/models.kdl to name yours",
        )),
    }
    if !found.on_path && found.bin_dir.is_none() {
        notes.push(Notice::info(
            "llama-bench is not on PATH: put llama.cpp's binaries on PATH, or set `bin-dir` in toolboxes/host.kdl \
             (`bakeoff init --bin-dir DIR` writes it)",
        ));
    }
    let models = if roots.roots.is_empty() {
        " --models DIR".to_owned()
    } else {
        roots.roots.iter().fold(String::new(), |mut text, root| {
            let _ = write!(text, " --models {}", root.display());
            text
        })
    };
    let at = if directory == Path::new(".") { String::new() } else { format!(" -C {}", directory.display()) };
    notes.push(Notice::info(format!(
        "next: `bakeoff{at}{models} run quickstart` measures it and writes results/quickstart/{}",
        crate::store::REPORT_FILE
    )));
    Ok(InitOutcome { files: written, notes })
}

fn create(path: &Path, text: &str) -> Result<Written, Error> {
    crate::atomic::write_atomic(path, text.as_bytes())
        .map_err(|source| Error::Io { what: format!("cannot write `{}`", path.display()), source })?;
    Ok(Written::Created(path.to_path_buf()))
}

/// A manifest name for each model file: its file name without `.gguf` and a split suffix,
/// lowercase, `_` as `-` (`gemma-3-270m-q4_k_m.gguf` → `gemma-3-270m-q4-k-m`), unique.
/// The name of the smallest of `files` (all its shards), whose names `names` holds in order.
fn quickstart_model<'a>(files: &[&ModelFile], names: &'a [(String, String)]) -> Option<&'a str> {
    files.iter().zip(names).min_by_key(|(file, _)| file.size).map(|(_, (name, _))| name.as_str())
}

fn model_names(files: &[&ModelFile]) -> Vec<(String, String)> {
    let mut names: Vec<(String, String)> = Vec::new();
    for file in files {
        let stem =
            Path::new(&file.relative).file_name().map_or_else(String::new, |name| name.to_string_lossy().into_owned());
        let stem = stem.strip_suffix(".gguf").unwrap_or(&stem);
        let stem = strip_split_suffix(stem);
        let mut name: String = stem
            .chars()
            .map(|character| match character.to_ascii_lowercase() {
                character @ ('a'..='z' | '0'..='9' | '.' | '-') => character,
                _ => '-',
            })
            .collect();
        if name.is_empty() {
            "model".clone_into(&mut name);
        }
        let mut unique = name.clone();
        let mut count = 2;
        while names.iter().any(|(taken, _)| *taken == unique) {
            unique = format!("{name}-{count}");
            count += 1;
        }
        names.push((unique, file.relative.clone()));
    }
    names
}

/// `GLM-4.7-Flash-BF16-00001-of-00002` → `GLM-4.7-Flash-BF16`.
fn strip_split_suffix(stem: &str) -> &str {
    let bytes = stem.as_bytes();
    if bytes.len() > 15 {
        let tail = &stem[stem.len() - 15..];
        let digits = |text: &str| text.len() == 5 && text.bytes().all(|byte| byte.is_ascii_digit());
        if tail.starts_with('-') && digits(&tail[1..6]) && &tail[6..10] == "-of-" && digits(&tail[10..]) {
            return &stem[..stem.len() - 15];
        }
    }
    stem
}

fn model_line(name: &str, file: &str) -> String {
    format!("model \"{name}\" {{ file \"{file}\" }}")
}

fn models_kdl(models: &[(String, String)]) -> String {
    let mut text = String::from(
        "// Models, by file name relative to a model root (`--models DIR` or BAKEOFF_MODELS=dir1:dir2),\n\
         // so the same manifests work on every machine. `bakeoff run` pins their sha256 in bakeoff.lock.\n\n",
    );
    if models.is_empty() {
        text.push_str("// No GGUF file was found under the model roots: name yours here.\n");
        text.push_str(&model_line("my-model", "My-Model-Q4_K_M.gguf"));
        text.push('\n');
    }
    for (name, file) in models {
        text.push_str(&model_line(name, file));
        text.push('\n');
    }
    text
}

fn quickstart_kdl(model: Option<&str>) -> String {
    let model = model.unwrap_or("my-model");
    format!(
        "// A first experiment: llama-bench on this machine at 1 and 2 threads, small enough to take a\n\
         // minute. `bakeoff plan` shows what would run, `bakeoff run quickstart` runs it.\n\
         import \"../toolboxes/host.kdl\"\n\
         import \"models.kdl\"\n\
         \n\
         experiment \"quickstart\" {{\n    \
             description \"llama-bench on this host: prompt processing and generation at 1 and 2 threads\"\n    \
             matrix {{\n        \
                 model \"{model}\"\n        \
                 toolbox \"host\"\n        \
                 threads 1 2\n    \
             }}\n    \
             // `--repack 0`: some virtual machines advertise AMX but do not enable it, and llama.cpp's\n    \
             // repacked kernels then die of SIGILL; drop it on real hardware for the faster kernels.\n    \
             bench {{\n        \
                 args \"-t\" \"{{threads}}\" \"-p\" 64 \"-n\" 16 \"-r\" 3 \"--repack\" 0\n    \
             }}\n    \
             timeout 600\n    \
             report {{\n        \
                 baseline threads=1\n        \
                 table rows=\"threads\" columns=\"model\" metric=\"pp64\"\n        \
                 table rows=\"threads\" columns=\"model\" metric=\"tg16\"\n    \
             }}\n\
         }}\n"
    )
}

fn host_kdl(found: &Found) -> String {
    let bin_dir = match (&found.bin_dir, found.on_path) {
        (Some(directory), _) => format!("    bin-dir \"{}\"\n", directory.display()),
        (None, true) => String::new(),
        (None, false) => "    // llama-bench is not on PATH here: name the folder llama.cpp's binaries are in.\n    \
             // bin-dir \"/path/to/llama.cpp/build/bin\"\n"
            .to_owned(),
    };
    format!(
        "// This machine, no container: llama.cpp's binaries are found in bin-dir, else on PATH.\n\
         toolbox \"host\" {{\n    runner \"host\"\n{bin_dir}}}\n"
    )
}

/// Toolbox containers for AMD Strix Halo, commented out: a machine without one would only see
/// them blocked.
const STRIX_HALO: &str = r#"// AMD Strix Halo (Ryzen AI Max+ 395, Radeon 8060S, gfx1151): llama.cpp in toolbox containers,
// built by kyuz0 (github.com/kyuz0/amd-strix-halo-toolboxes). Uncomment the ones you use, add
// them to an experiment's `toolbox` axis, and `bakeoff toolbox create` makes their containers.
//
// toolbox "llama-vulkan-radv" {
//     runner "toolbox"
//     image "docker.io/kyuz0/amd-strix-halo-toolboxes:vulkan-radv"
//     backend "vulkan"
//     requires {
//         device "/dev/dri/renderD*" reason="Vulkan needs a DRM render node"
//         kernel-param "ttm.pages_limit" ">=32505856" reason="the guides let the GPU map ~124 GiB (ttm.pages_limit=32505856)"
//     }
// }
//
// toolbox "llama-rocm-6.4.4" {
//     runner "toolbox"
//     image "docker.io/kyuz0/amd-strix-halo-toolboxes:rocm-6.4.4"
//     backend "rocm"
//     requires {
//         firmware "!=20251125" reason="linux-firmware 20251125 breaks ROCm"
//         kernel "<6.18.4" reason="kernel 6.18.4+ breaks ROCm; only the nightly images carry the fix"
//         device "/dev/kfd" reason="ROCm needs the KFD compute device"
//         kernel-param "ttm.pages_limit" ">=32505856" reason="the guides let the GPU map ~124 GiB (ttm.pages_limit=32505856)"
//     }
// }
//
// // The nightly ROCm build carries the fix for kernel 6.18.4 and later.
// toolbox "llama-rocm-7-nightlies" {
//     runner "toolbox"
//     image "docker.io/kyuz0/amd-strix-halo-toolboxes:rocm-7-nightlies"
//     backend "rocm"
//     requires {
//         firmware "!=20251125" reason="linux-firmware 20251125 breaks ROCm"
//         device "/dev/kfd" reason="ROCm needs the KFD compute device"
//         kernel-param "ttm.pages_limit" ">=32505856" reason="the guides let the GPU map ~124 GiB (ttm.pages_limit=32505856)"
//     }
// }
//
// // An experiment on them: GLM-4.7-Flash at Q8, BF16 and REAP (expert-pruned Q8) on Vulkan, how
// // fast each is and how far its next-token distributions are from BF16's (KL divergence over
// // a text, with llama-perplexity), and Q8 with a q8_0 K cache beside them. Use the model names
// // of experiments/models.kdl, and a corpus of a few thousand words or more of plain text
// // (WikiText-2's wiki.test.raw is the usual one): 40 chunks of 512 tokens need 20,480 tokens.
// import "../experiments/models.kdl"
//
// experiment "strix-quant" {
//     matrix {
//         model "glm-4.7-flash-q8" "glm-4.7-flash-bf16" "glm-4.7-flash-reap-q8"
//         toolbox "llama-vulkan-radv"
//         ctk "f16"
//     }
//     include model="glm-4.7-flash-q8" ctk="q8_0"
//     bench {
//         args "-ngl" 99 "-fa" 1 "-ctk" "{ctk}" "-p" 512 "-n" 128 "-r" 3
//     }
//     quality {
//         corpus "../experiments/prompts/wiki.test.raw"
//         reference model="glm-4.7-flash-bf16" ctk="f16"
//         args "-ngl" 99 "-fa" 1 "-ctk" "{ctk}" "-c" 512 "--chunks" 40
//     }
//     report {
//         baseline model="glm-4.7-flash-bf16" ctk="f16"
//         table rows="model" columns="ctk" metric="tg128"
//         table rows="model" columns="ctk" metric="kld_mean"
//     }
// }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn file(relative: &str) -> ModelFile {
        ModelFile {
            path: PathBuf::from("/models").join(relative),
            root: PathBuf::from("/models"),
            relative: relative.to_owned(),
            size: 1,
            shards: 1,
            metadata: None,
            error: None,
        }
    }

    #[test]
    fn model_names_are_manifest_names_and_unique() {
        let files = [
            file("gemma-3-270m-q4_k_m.gguf"),
            file("GLM-4.7-Flash-BF16/GLM-4.7-Flash-BF16-00001-of-00002.gguf"),
            file("other/gemma-3-270m-q4_k_m.gguf"),
        ];
        let names = model_names(&files.iter().collect::<Vec<_>>());
        let names: Vec<&str> = names.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["gemma-3-270m-q4-k-m", "glm-4.7-flash-bf16", "gemma-3-270m-q4-k-m-2"]);
    }

    /// A fresh `init` once picked the first model by name: a BF16, the slowest, or a 70B.
    #[test]
    fn the_quickstart_measures_the_smallest_model() {
        let sized = |relative: &str, size: u64| ModelFile { size, ..file(relative) };
        let files =
            [sized("a-bf16.gguf", 540 << 20), sized("b-q4_k_m.gguf", 250 << 20), sized("c-q8_0.gguf", 290 << 20)];
        let usable: Vec<&ModelFile> = files.iter().collect();
        let names = model_names(&usable);
        assert_eq!(quickstart_model(&usable, &names), Some("b-q4-k-m"));
        assert_eq!(quickstart_model(&[], &[]), None);
    }

    /// The skeleton is valid KDL that bakeoff accepts, with the quickstart naming the model.
    #[test]
    fn the_skeleton_parses() {
        let directory = tempfile::tempdir().unwrap();
        let found = Found { models: vec![("m".to_owned(), "m.gguf".to_owned())], bin_dir: None, on_path: false };
        std::fs::create_dir_all(directory.path().join("experiments")).unwrap();
        std::fs::create_dir_all(directory.path().join("toolboxes")).unwrap();
        std::fs::write(directory.path().join("experiments/models.kdl"), models_kdl(&found.models)).unwrap();
        std::fs::write(directory.path().join("experiments/quickstart.kdl"), quickstart_kdl(Some("m"))).unwrap();
        std::fs::write(directory.path().join("toolboxes/host.kdl"), host_kdl(&found)).unwrap();
        std::fs::write(directory.path().join("toolboxes/strix-halo.kdl"), STRIX_HALO).unwrap();
        let files: Vec<PathBuf> = ["experiments/quickstart.kdl", "toolboxes/strix-halo.kdl"]
            .iter()
            .map(|file| directory.path().join(file))
            .collect();
        let manifests = crate::manifest::load(directory.path(), &files).unwrap();
        assert_eq!(manifests.experiments[0].name.value, "quickstart");
        assert!(manifests.models.contains_key("m"));
        assert!(manifests.warnings.is_empty(), "{:?}", manifests.warnings);
        assert!(host_kdl(&found).contains("// bin-dir"));
        let with_dir = Found { bin_dir: Some(PathBuf::from("/opt/llama/bin")), ..found };
        assert!(host_kdl(&with_dir).contains("    bin-dir \"/opt/llama/bin\"\n"));
    }

    /// The commented Strix Halo example, uncommented, is a valid project: its toolboxes and its
    /// experiment (speed and quality against BF16) check once its models and corpus exist.
    #[test]
    fn the_strix_halo_example_checks_uncommented() {
        let directory = tempfile::tempdir().unwrap();
        // Everything after the header's blank comment line is the example, one `// ` deep.
        let uncommented: String = STRIX_HALO
            .lines()
            .skip_while(|line| *line != "//")
            .map(|line| line.strip_prefix("// ").or_else(|| line.strip_prefix("//")).unwrap_or(line))
            .fold(String::new(), |text, line| text + line + "\n");
        assert!(uncommented.contains("quality {"), "{uncommented}");
        let models = [
            ("glm-4.7-flash-q8", "q8.gguf"),
            ("glm-4.7-flash-bf16", "bf16.gguf"),
            ("glm-4.7-flash-reap-q8", "reap.gguf"),
        ]
        .map(|(name, file)| (name.to_owned(), file.to_owned()));
        std::fs::create_dir_all(directory.path().join("experiments/prompts")).unwrap();
        std::fs::create_dir_all(directory.path().join("toolboxes")).unwrap();
        std::fs::write(directory.path().join("experiments/models.kdl"), models_kdl(&models)).unwrap();
        std::fs::write(directory.path().join("experiments/prompts/wiki.test.raw"), "text").unwrap();
        let path = directory.path().join("toolboxes/strix-halo.kdl");
        std::fs::write(&path, &uncommented).unwrap();
        let manifests = crate::manifest::load(directory.path(), &[path]).unwrap();
        assert_eq!(manifests.experiments[0].name.value, "strix-quant");
        assert!(manifests.experiments[0].quality.is_some());
        for toolbox in ["llama-vulkan-radv", "llama-rocm-6.4.4", "llama-rocm-7-nightlies"] {
            assert!(manifests.toolboxes.contains_key(toolbox), "{toolbox}");
        }
        assert!(manifests.warnings.is_empty(), "{:?}", manifests.warnings);
    }
}
