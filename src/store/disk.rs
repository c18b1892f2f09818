//! The result store on disk: one JSON record per cell hash, written atomically.

use std::io;
use std::path::{Path, PathBuf};

use super::layout::{BASES, BASES_GITIGNORE, CELLS, GITIGNORE, LOGS, SLURM, SLURM_GITIGNORE};
use super::record::{CellRecord, RECORD_FORMAT, RecordHead};
use crate::atomic::write_atomic;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StoreError {
    #[error("cannot read result record `{path}`")]
    #[diagnostic(code(bakeoff::store::unreadable))]
    Unreadable {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("result record `{path}` is corrupt: {message}")]
    #[diagnostic(code(bakeoff::store::corrupt), help("restore it from git, or delete it so that the cell runs again"))]
    Corrupt { path: String, message: String },
    #[error("cannot write result record `{path}`")]
    #[diagnostic(
        code(bakeoff::store::unwritable),
        help(
            "make room on the disk that holds the results (or give `--results DIR` on another) and run again: every \
             cell recorded so far is kept, and only the cell in flight runs again"
        )
    )]
    Unwritable {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl StoreError {
    /// The record file the error is about.
    pub fn path(&self) -> &str {
        match self {
            Self::Unreadable { path, .. } | Self::Corrupt { path, .. } | Self::Unwritable { path, .. } => path,
        }
    }
}

const SERVER_LOG_PREFIX: &str = "server-";

/// `results/` of a project.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// Where the quality bases go when not under `root` (a storage root's `bases/`).
    bases: Option<PathBuf>,
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), bases: None }
    }

    /// The store with its quality bases in `bases` (a storage root's) instead of `results/bases/`.
    #[must_use]
    pub fn with_bases_dir(mut self, bases: PathBuf) -> Self {
        self.bases = Some(bases);
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes `results/.gitignore` when there is none: full logs, the run lock, the lists of
    /// what a run in progress started and temporaries are no results, and a project checks in
    /// `results/`. Returns whether it wrote one; an existing file is the user's and left alone.
    pub fn ensure_gitignore(&self) -> std::io::Result<bool> {
        let path = self.gitignore_path();
        if path.exists() {
            return Ok(false);
        }
        crate::atomic::write_atomic(&path, GITIGNORE.as_bytes())?;
        Ok(true)
    }

    /// `results/cells/ab/abcdef….json`.
    pub fn record_path(&self, hash: &str) -> PathBuf {
        let prefix = hash.get(..2).unwrap_or("xx");
        self.cells_dir().join(prefix).join(format!("{hash}.json"))
    }

    /// `results/cells/ab/abcdef….trace.jsonl`: what a `client` workload's cell asked its server,
    /// captured beside its record.
    pub fn trace_path(&self, hash: &str) -> PathBuf {
        let prefix = hash.get(..2).unwrap_or("xx");
        self.cells_dir().join(prefix).join(format!("{hash}.trace.jsonl"))
    }

    /// What the run in progress has started outside bakeoff itself (process groups, container
    /// processes, containers), so that the next run can stop what a killed one left.
    pub fn running_path(&self) -> PathBuf {
        self.root.join(".running.json")
    }

    /// What a Slurm job on host `host_id` started: nodes share the store, and each node stops
    /// only what a job of its own left.
    pub fn job_running_path(&self, host_id: &str) -> PathBuf {
        self.root.join(format!(".running-{host_id}.json"))
    }

    /// `results/.lock`: held by the run that writes to the store.
    pub fn run_lock_path(&self) -> PathBuf {
        self.root.join(".lock")
    }

    /// `results/.gitignore`.
    pub fn gitignore_path(&self) -> PathBuf {
        self.root.join(".gitignore")
    }

    /// `results/.gitattributes`: reports merge with bakeoff's driver.
    pub fn gitattributes_path(&self) -> PathBuf {
        self.root.join(".gitattributes")
    }

    /// `results/cells/`: the records.
    pub fn cells_dir(&self) -> PathBuf {
        self.root.join(CELLS)
    }

    /// `results/logs/`: each cell's full output, and each server's.
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join(LOGS)
    }

    /// `results/slurm/`: what Slurm jobs log for their dispatcher, and their output.
    pub fn slurm_dir(&self) -> PathBuf {
        self.root.join(SLURM)
    }

    /// `results/slurm/`, made with a `.gitignore` of its own (job logs and outputs are a
    /// cluster's scratch, not results to commit).
    pub fn ensure_slurm_dir(&self) -> std::io::Result<PathBuf> {
        ignored_dir(self.slurm_dir(), SLURM_GITIGNORE)
    }

    /// `results/bases/` (or the storage root's `bases/`): each quality reference's base
    /// logits, named by the reference cell's hash.
    pub fn bases_dir(&self) -> PathBuf {
        self.bases.clone().unwrap_or_else(|| self.root.join(BASES))
    }

    /// `results/bases/`, made with a `.gitignore` of its own: a base is hundreds of MB and is
    /// made again on a machine that lacks it.
    pub fn ensure_bases_dir(&self) -> std::io::Result<PathBuf> {
        ignored_dir(self.bases_dir(), BASES_GITIGNORE)
    }

    /// The bytes free on the disk the bases go to (the store's, or the nearest folder above it
    /// that exists); `None` when it cannot be asked.
    pub fn free_bytes(&self) -> Option<u64> {
        let mut folder = self.bases_dir();
        while !folder.exists() {
            folder = folder.parent()?.to_path_buf();
        }
        let path = std::ffi::CString::new(folder.as_os_str().as_encoded_bytes()).ok()?;
        let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: `path` is a NUL-terminated string and `stats` is written by statvfs before it
        // is read, which happens only when the call succeeds.
        let stats = unsafe {
            if libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) != 0 {
                return None;
            }
            stats.assume_init()
        };
        Some(stats.f_bavail.saturating_mul(stats.f_frsize))
    }

    /// `results/bases/HASH.kld`: the base logits the quality reference cell `hash` wrote.
    pub fn base_path(&self, hash: &str) -> PathBuf {
        self.bases_dir().join(format!("{hash}.kld"))
    }

    /// Where the reference cell `hash` writes its base until llama-perplexity is done with it: a
    /// killed or failed pass never leaves a base that looks whole.
    pub fn partial_base_path(&self, hash: &str) -> PathBuf {
        self.bases_dir().join(format!(".{hash}.kld.tmp"))
    }

    /// `results/slurm/JOBID.jsonl`: what job `id` tells its dispatcher.
    pub fn slurm_job_log(&self, id: u64) -> PathBuf {
        self.slurm_dir().join(format!("{id}.jsonl"))
    }

    /// `results/slurm/JOBID.out`: job `id`'s own output; `None` gives the pattern sbatch fills
    /// in (`%j.out`).
    pub fn slurm_job_output(&self, id: Option<u64>) -> PathBuf {
        self.slurm_dir().join(id.map_or_else(|| "%j.out".to_owned(), |id| format!("{id}.out")))
    }

    /// `results/slurm/submitted.txt`: the jobs a Slurm run submitted and has not seen end.
    pub fn slurm_ledger_path(&self) -> PathBuf {
        self.slurm_dir().join("submitted.txt")
    }

    /// `results/index.html`: the page to explore every result.
    pub fn index_path(&self) -> PathBuf {
        self.root.join("index.html")
    }

    /// `results/EXPERIMENT/`: the experiment's report and charts.
    pub fn report_dir(&self, experiment: &str) -> PathBuf {
        self.root.join(experiment)
    }

    /// `results/<experiment>/README.md`: the report itself.
    pub fn report_path(&self, experiment: &str) -> PathBuf {
        self.report_dir(experiment).join(super::layout::REPORT_FILE)
    }

    pub fn log_path(&self, hash: &str) -> PathBuf {
        self.logs_dir().join(format!("{hash}.log"))
    }

    /// The log of a llama-server, named after the first cell it served.
    pub fn server_log_path(&self, hash: &str) -> PathBuf {
        self.logs_dir().join(format!("{SERVER_LOG_PREFIX}{hash}.log"))
    }

    /// The cell hash a file in `logs/` belongs to (a cell's log or the log of the server it
    /// started), by the names this store gives them; `None` for any other file.
    pub fn log_owner(&self, path: &Path) -> Option<String> {
        if path.parent()? != self.logs_dir() || path.extension()? != "log" {
            return None;
        }
        let stem = path.file_stem()?.to_str()?;
        let hash = stem.strip_prefix(SERVER_LOG_PREFIX).unwrap_or(stem);
        (hash.len() == 64 && hash.chars().all(|character| character.is_ascii_hexdigit())).then(|| hash.to_owned())
    }

    /// The status part of the record for `hash`, if there is one.
    pub fn head(&self, hash: &str) -> Result<Option<RecordHead>, StoreError> {
        thread_local! {
            // Planning reads thousands of records; one buffer per thread saves an allocation each.
            static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let path = self.record_path(hash);
        BUFFER.with_borrow_mut(|buffer| {
            buffer.clear();
            match std::fs::File::open(&path).and_then(|mut file| io::Read::read_to_end(&mut file, buffer)) {
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(source) => return Err(StoreError::Unreadable { path: path.display().to_string(), source }),
            }
            parse_head(&path, buffer).map(Some)
        })
    }

    pub fn read(&self, hash: &str) -> Result<Option<CellRecord>, StoreError> {
        let path = self.record_path(hash);
        match std::fs::read(&path) {
            Ok(bytes) => parse(&path, &bytes).map(Some),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Unreadable { path: path.display().to_string(), source }),
        }
    }

    pub fn write(&self, record: &CellRecord) -> Result<(), StoreError> {
        let path = self.record_path(&record.hash);
        write_atomic(&path, record.to_json().as_bytes())
            .map_err(|source| StoreError::Unwritable { path: path.display().to_string(), source })
    }

    /// Every record in the store, in hash order. Corrupt records are returned as errors beside
    /// the good ones so that one bad file does not hide the rest.
    pub fn scan(&self) -> (Vec<CellRecord>, Vec<StoreError>) {
        let mut records = Vec::new();
        let mut errors = Vec::new();
        let mut paths = Vec::new();
        let Ok(prefixes) = std::fs::read_dir(self.cells_dir()) else {
            return (records, errors);
        };
        for prefix in prefixes.filter_map(Result::ok) {
            let Ok(entries) = std::fs::read_dir(prefix.path()) else {
                continue;
            };
            paths.extend(
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|extension| extension == "json")),
            );
        }
        paths.sort();
        for path in paths {
            match std::fs::read(&path) {
                Ok(bytes) => match parse(&path, &bytes) {
                    Ok(record) => records.push(record),
                    Err(error) => errors.push(error),
                },
                Err(source) => errors.push(StoreError::Unreadable { path: path.display().to_string(), source }),
            }
        }
        (records, errors)
    }
}

/// The status part of a record's bytes.
/// `directory`, made with a `.gitignore` of its own holding `ignore` (kept when it is there).
fn ignored_dir(directory: PathBuf, ignore: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(&directory)?;
    let path = directory.join(".gitignore");
    if !path.exists() {
        write_atomic(&path, ignore.as_bytes())?;
    }
    Ok(directory)
}

pub(crate) fn parse_head(path: &Path, bytes: &[u8]) -> Result<RecordHead, StoreError> {
    let head: RecordHead = serde_json::from_slice(bytes)
        .map_err(|error| StoreError::Corrupt { path: path.display().to_string(), message: error.to_string() })?;
    check_format(path, head.format)?;
    Ok(head)
}

/// A whole record's bytes.
pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<CellRecord, StoreError> {
    let record: CellRecord = serde_json::from_slice(bytes)
        .map_err(|error| StoreError::Corrupt { path: path.display().to_string(), message: error.to_string() })?;
    check_format(path, record.format)?;
    Ok(record.with_plain_depth_names())
}

/// A record of another format is corrupt to every reader alike (`head` and `parse` disagreed:
/// plan called such a record cached while scans called it corrupt).
fn check_format(path: &Path, format: u32) -> Result<(), StoreError> {
    if format == RECORD_FORMAT {
        return Ok(());
    }
    Err(StoreError::Corrupt {
        path: path.display().to_string(),
        message: format!("format {format} is not the supported format {RECORD_FORMAT}"),
    })
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    #[test]
    fn the_gitignore_is_written_once_and_an_existing_one_is_left_alone() {
        let directory = tempfile::tempdir().unwrap();
        let store = Store::new(directory.path().join("results"));
        assert!(store.ensure_gitignore().unwrap());
        let written = std::fs::read_to_string(store.gitignore_path()).unwrap();
        for line in ["logs/", ".lock", ".running.json", ".running-*.json"] {
            assert!(written.lines().any(|found| found == line), "{line} in {written}");
        }
        std::fs::write(store.gitignore_path(), "mine\n").unwrap();
        assert!(!store.ensure_gitignore().unwrap());
        assert_eq!(std::fs::read_to_string(store.gitignore_path()).unwrap(), "mine\n");
    }

    #[test]
    fn logs_belong_to_the_record_their_name_holds() {
        let store = Store::new("/results");
        let hash = "ab".repeat(32);
        assert_eq!(store.log_owner(&store.log_path(&hash)), Some(hash.clone()));
        assert_eq!(store.log_owner(&store.server_log_path(&hash)), Some(hash.clone()));
        assert_eq!(store.log_owner(Path::new("/results/logs/notes.log")), None);
        assert_eq!(store.log_owner(&store.cells_dir().join(format!("{hash}.log"))), None);
        assert_eq!(store.record_path(&hash), Path::new("/results/cells/ab").join(format!("{hash}.json")));
    }
}
