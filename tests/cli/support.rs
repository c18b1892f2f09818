//! A small builder for running the real `bakeoff` binary against a scratch project.

use std::path::{Path, PathBuf};
use std::process::Command;

use bakeoff::project::{Project, Settings};
use bakeoff::store::{CellRecord, Status};
use tempfile::TempDir;

pub(crate) const MODEL_FILES: [&str; 9] = [
    "gemma-3-270m-q4_k_m.gguf",
    "GLM-4.7-Flash-Q8/GLM-4.7-Flash-UD-Q8_K_XL.gguf",
    "GLM-4.7-Flash-BF16/GLM-4.7-Flash-BF16-00001-of-00002.gguf",
    "GLM-4.7-Flash-REAP-Q8/GLM-4.7-Flash-REAP-23B-A3B-Q8_0.gguf",
    "Qwen3-30B-A3B-Q4/Qwen3-30B-A3B-Q4_K_M.gguf",
    "Qwen2.5-0.5B-Instruct-Q8_0.gguf",
    "gemma-3-270m-q8_0.gguf",
    "gemma-3-270m-q4_0.gguf",
    "gemma-3-270m-q2_k.gguf",
];

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn fixture(path: &str) -> PathBuf {
    repo().join("tests/fixtures").join(path)
}

/// A copy of this repository's manifests in a temporary directory, with a model root of
/// small stand-in files (planning hashes them; nothing runs them) and its own hash cache.
pub(crate) struct Scratch {
    pub(crate) directory: TempDir,
}

impl Scratch {
    pub(crate) fn new() -> Self {
        let directory = tempfile::tempdir().unwrap();
        for folder in ["experiments", "experiments/prompts", "experiments/corpus", "toolboxes"] {
            std::fs::create_dir_all(directory.path().join(folder)).unwrap();
            for entry in std::fs::read_dir(repo().join(folder)).unwrap() {
                let entry = entry.unwrap();
                if entry.file_type().unwrap().is_file() {
                    std::fs::copy(entry.path(), directory.path().join(folder).join(entry.file_name())).unwrap();
                }
            }
        }
        for (index, file) in MODEL_FILES.iter().enumerate() {
            let path = directory.path().join("models").join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            // A GGUF header with no tensors and no metadata, so that llama.cpp's cells plan as
            // they would with a real model; the rest differs per file.
            let mut bytes = b"GGUF".to_vec();
            bytes.extend(3u32.to_le_bytes());
            bytes.extend([0u8; 16]);
            bytes.extend(format!("stand-in model {index}").into_bytes());
            std::fs::write(&path, bytes).unwrap();
        }
        Self { directory }
    }

    pub(crate) fn path(&self) -> &Path {
        self.directory.path()
    }

    pub(crate) fn models(&self) -> PathBuf {
        self.path().join("models")
    }

    pub(crate) fn bakeoff(&self) -> Bakeoff {
        let mut bakeoff = Bakeoff::new(self.path());
        bakeoff.args(["-C".to_owned(), self.path().display().to_string()]);
        bakeoff.args(["--models".to_owned(), self.models().display().to_string()]);
        bakeoff
    }

    /// Edits a manifest in place.
    pub(crate) fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "`{from}` is not in {file}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    /// Writes an `ok` record for every cell the project plans on `host_facts`, as a finished
    /// run would, so that planning can be tested before anything runs.
    pub(crate) fn seed_results(&self, host_facts: &Path, targets: &[&str]) -> usize {
        let project = Project::new(&Settings {
            project: self.path().to_path_buf(),
            results: None,
            models: vec![self.models()],
            host_facts: Some(host_facts.to_path_buf()),
            host_name: None,
            no_cache: false,
            storage: None,
        });
        let targets: Vec<String> = targets.iter().map(|target| (*target).to_owned()).collect();
        let loaded = project.load(&targets).unwrap();
        let host = project.host().unwrap();
        let cells = project.resolve(&loaded, &host).unwrap();
        let mut written = 0;
        for cell in cells.iter().filter(|cell| cell.blocked.is_empty()) {
            let mut record = CellRecord::new(cell, &host, Status::Ok);
            // Every round an experiment's `rounds` asks for, as a finished run leaves them.
            if cell.fingerprint.rounds > 1 {
                let round = bakeoff::store::Round {
                    started_unix_ms: 0,
                    duration_ms: 0,
                    metrics: std::collections::BTreeMap::new(),
                };
                record.rounds = vec![round; usize::try_from(cell.fingerprint.rounds).unwrap()];
            }
            project.store.write(&record).unwrap();
            written += 1;
        }
        written
    }
}

pub(crate) struct Bakeoff {
    command: Command,
    cache: TempDir,
    filters: Vec<(String, String)>,
}

pub(crate) struct Outcome {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Where no energy counter is.
pub(crate) const NO_COUNTERS: &str = "/nonexistent/bakeoff-test-counters";

impl Bakeoff {
    pub(crate) fn new(project: &Path) -> Self {
        let cache = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_bakeoff"));
        command
            .current_dir(project)
            .env("NO_COLOR", "1")
            .env("COLUMNS", "200")
            .env("BAKEOFF_CACHE_DIR", cache.path())
            // No energy counters, whatever this machine has, so that what a cell records does
            // not depend on the host (the energy test gives a counter tree of its own).
            .env("BAKEOFF_POWERCAP_ROOT", NO_COUNTERS)
            .env("BAKEOFF_HWMON_ROOT", NO_COUNTERS)
            .env("BAKEOFF_DRM_ROOT", NO_COUNTERS)
            // Tests run side by side, and each one's llama.cpp is load on the host to the others:
            // no record gets a busy-host warning from that (the busy-host tests set their own).
            .env("BAKEOFF_BUSY_THRESHOLD", "off")
            .env_remove("BAKEOFF_MODELS");
        let filters = vec![(project.display().to_string(), "[PROJECT]".to_owned())];
        Self { command, cache, filters }
    }

    pub(crate) fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(&mut self, args: I) -> &mut Self {
        self.command.args(args);
        self
    }

    pub(crate) fn arg(&mut self, arg: impl AsRef<std::ffi::OsStr>) -> &mut Self {
        self.command.arg(arg);
        self
    }

    pub(crate) fn run(&mut self) -> Outcome {
        let output = self.command.output().unwrap();
        let _ = &self.cache;
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: self.filter(&String::from_utf8_lossy(&output.stdout)),
            stderr: self.filter(&String::from_utf8_lossy(&output.stderr)),
        }
    }

    fn filter(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (from, to) in &self.filters {
            text = text.replace(from, to);
        }
        text
    }
}

/// Replaces 64-digit hex hashes with `[HASH]` for snapshots.
pub(crate) fn without_hashes(text: &str) -> String {
    let regex = regex::Regex::new("[0-9a-f]{64}").unwrap();
    regex.replace_all(text, "[HASH]").into_owned()
}

/// Joins the lines miette wraps a long message onto (`\n  | `), so a test can match it whole.
pub(crate) fn unwrapped(text: &str) -> String {
    text.replace("\n  | ", " ")
}

/// The provisioned llama.cpp binaries and Gemma model (`scripts/test.sh` sets these).
pub(crate) struct Llama {
    pub(crate) bin_dir: PathBuf,
    pub(crate) model: PathBuf,
}

impl Llama {
    pub(crate) fn get() -> Self {
        let variable = |name: &str| {
            PathBuf::from(std::env::var_os(name).unwrap_or_else(|| {
                panic!(
                    "{name} is not set: run the tests with scripts/test.sh, which provisions llama.cpp and the model"
                )
            }))
        };
        let llama = Self { bin_dir: variable("BAKEOFF_TEST_LLAMA_BIN_DIR"), model: variable("BAKEOFF_TEST_MODEL") };
        assert!(llama.bin_dir.join("llama-bench").is_file(), "no llama-bench in {}", llama.bin_dir.display());
        assert!(llama.model.is_file(), "no model at {}", llama.model.display());
        llama
    }

    /// `bakeoff` with llama.cpp's binaries on PATH and the Gemma model's directory as model root.
    pub(crate) fn bakeoff(&self, project: &Path) -> Bakeoff {
        let mut bakeoff = Bakeoff::new(project);
        bakeoff.env("PATH", self.path(None)).arg("--models").arg(self.model_root());
        bakeoff
    }

    /// The model file's size, to compare memory against.
    pub(crate) fn model_bytes(&self) -> f64 {
        #[expect(clippy::cast_precision_loss, reason = "a model file is far below 2^52 bytes")]
        let bytes = std::fs::metadata(&self.model).unwrap().len() as f64;
        bytes
    }

    pub(crate) fn model_root(&self) -> PathBuf {
        self.model.parent().unwrap().to_path_buf()
    }

    /// PATH with llama.cpp's binaries first (and `extra` before them).
    pub(crate) fn path(&self, extra: Option<&Path>) -> std::ffi::OsString {
        let mut paths: Vec<PathBuf> = extra.into_iter().map(Path::to_path_buf).collect();
        paths.push(self.bin_dir.clone());
        paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
        std::env::join_paths(paths).unwrap()
    }
}

impl Bakeoff {
    pub(crate) fn env(&mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> &mut Self {
        self.command.env(key, value);
        self
    }

    pub(crate) fn env_remove(&mut self, key: &str) -> &mut Self {
        self.command.env_remove(key);
        self
    }

    /// The command as built so far, for a test that starts it its own way.
    pub(crate) fn command(&mut self) -> &mut Command {
        &mut self.command
    }

    /// The process, started and not waited for.
    pub(crate) fn spawn(&mut self) -> std::process::Child {
        self.command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap()
    }
}

/// The quickstart experiment with its models and toolbox, copied into `directory`.
pub(crate) fn copy_quickstart(directory: &Path) {
    for (folder, file) in [("experiments", "quickstart.kdl"), ("experiments", "models.kdl"), ("toolboxes", "host.kdl")]
    {
        std::fs::create_dir_all(directory.join(folder)).unwrap();
        std::fs::copy(repo().join(folder).join(file), directory.join(folder).join(file)).unwrap();
    }
}

/// A project directory holding only the given manifests (name → text).
pub(crate) fn project(files: &[(&str, &str)]) -> TempDir {
    let directory = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = directory.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    directory
}

/// Every record in a project's store.
pub(crate) fn records(project: &Path) -> Vec<CellRecord> {
    records_in(&project.join("results"))
}

/// Every record in the store at `results`; a record that does not parse fails the test.
pub(crate) fn records_in(results: &Path) -> Vec<CellRecord> {
    let (records, errors) = bakeoff::store::Store::new(results).scan();
    assert!(errors.is_empty(), "corrupt records: {errors:?}");
    records
}

/// How many processes have a command line matching `pattern` (`pgrep -f`).
pub(crate) fn processes_matching(pattern: &str) -> usize {
    let output = std::process::Command::new("pgrep").args(["-f", pattern]).output().unwrap();
    String::from_utf8_lossy(&output.stdout).lines().count()
}

/// Ctrl-C, as a terminal would send it, to a child we started.
pub(crate) fn interrupt(child: &std::process::Child) {
    // SAFETY: kill(2) on a child we started and have not yet waited for.
    unsafe {
        libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGINT);
    }
}

/// A plan's text without the short hash after each status (`cached        0d4f12ab  ID`),
/// so that a test can match a line by what it says of the cell.
pub(crate) fn without_short_hashes(text: &str) -> String {
    let regex = regex::Regex::new(r"(?m)^((?:cached|will run|blocked|failed before)\s+)[0-9a-f]{8}  ").unwrap();
    regex.replace_all(text, "$1").into_owned()
}

/// Whether a server on `port` of this machine answers 200 on `/health`.
pub(crate) fn answers_health(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.write_all(b"GET /health HTTP/1.0\r\n\r\n");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200")
}

/// Where `program` is on PATH; a test that needs it fails, saying who installs it (`installer`),
/// when it is not there.
pub(crate) fn installed(program: &str, installer: &str) -> PathBuf {
    let found = Command::new("sh").args(["-c", &format!("command -v {program}")]).output().unwrap();
    let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    assert!(!path.is_empty(), "`{program}` is not installed: {installer} installs it");
    PathBuf::from(path)
}
