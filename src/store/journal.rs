//! `results/logs/journal.jsonl`: what each run did, as it happened — its start and host, each
//! cell's decision and outcome, retries, stops, skips, signals, its end. Appended one JSON line
//! at a time (one `write` of a whole line on a file opened for appending), never rewritten: a
//! run killed while writing leaves at most its last line cut short, which the reader skips and
//! counts. Git-ignored with the other logs.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Store;

/// What an entry says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Happened {
    /// A run began: the command, the host, what its plan holds.
    Start,
    /// A cell is to run, and why.
    Decide,
    /// A cell cannot run here, and why.
    Blocked,
    /// A cell ran: its outcome.
    Cell,
    /// A cell was skipped (its toolbox failed too many cells in a row).
    Skip,
    /// What the run said while it ran: a retry, a stop, a warning.
    Note,
    /// A signal interrupted the run.
    Signal,
    /// The run ended: its summary.
    End,
}

impl Happened {
    pub fn word(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Decide => "decide",
            Self::Blocked => "blocked",
            Self::Cell => "cell",
            Self::Skip => "skip",
            Self::Note => "note",
            Self::Signal => "signal",
            Self::End => "end",
        }
    }
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// The run that wrote it: its start (ms since the epoch) and its process id.
    pub run: String,
    pub happened: Happened,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// A cell's status (`ok`, `failed`, `timed out`, `skipped`, `blocked`), a note's level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    pub detail: String,
    /// Whether it is a failure, a refusal, a skip, a stop, a warning or a signal:
    /// what `bakeoff log --errors` shows.
    #[serde(default)]
    pub error: bool,
}

/// The journal a run appends to.
pub struct Journal {
    file: std::fs::File,
    path: PathBuf,
    run: String,
}

impl Store {
    /// `results/logs/journal.jsonl`.
    pub fn journal_path(&self) -> PathBuf {
        self.logs_dir().join("journal.jsonl")
    }
}

impl Journal {
    /// Opens the store's journal for appending, as run `run`.
    pub fn open(store: &Store, run: String) -> std::io::Result<Self> {
        let path = store.journal_path();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        // A run killed in the middle of a line: this run's lines start on one of their own.
        if ends_mid_line(&path)? {
            file.write_all(b"\n")?;
        }
        Ok(Self { file, path, run })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An entry of this run, now.
    pub fn entry(&self, happened: Happened, detail: impl Into<String>) -> Entry {
        Entry {
            at_unix_ms: now_unix_ms(),
            run: self.run.clone(),
            happened,
            experiment: None,
            cell: None,
            hash: None,
            outcome: None,
            detail: detail.into(),
            error: false,
        }
    }

    /// Appends `entry` as one line, in one write.
    pub fn append(&mut self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)
    }
}

/// The journal's entries, oldest first, and how many lines could not be read (a line cut short
/// by a killed run, or not bakeoff's).
pub fn read_journal(path: &Path) -> std::io::Result<(Vec<Entry>, usize)> {
    let text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(error) => return Err(error),
    };
    let mut entries = Vec::new();
    let mut unreadable = 0;
    for line in text.split(|byte| *byte == b'\n').filter(|line| !line.is_empty()) {
        match serde_json::from_slice::<Entry>(line) {
            Ok(entry) => entries.push(entry),
            Err(_) => unreadable += 1,
        }
    }
    Ok((entries, unreadable))
}

/// Whether the file's last byte is not a newline.
fn ends_mid_line(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read as _, Seek as _};
    let mut file = std::fs::File::open(path)?;
    let length = file.metadata()?.len();
    if length == 0 {
        return Ok(false);
    }
    file.seek(std::io::SeekFrom::Start(length - 1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

pub(crate) fn now_unix_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cut_short_is_counted_and_the_rest_read() {
        let directory = tempfile::tempdir().unwrap();
        let store = Store::new(directory.path());
        let mut journal = Journal::open(&store, "1-2".to_owned()).unwrap();
        let first = journal.entry(Happened::Start, "bakeoff run");
        journal.append(&first).unwrap();
        let second = Entry { error: true, ..journal.entry(Happened::Signal, "interrupted by SIGINT") };
        journal.append(&second).unwrap();
        // A run killed in the middle of its next line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(store.journal_path())
            .unwrap()
            .write_all(br#"{"at_unix_ms":1,"run":"1-2","happ"#)
            .unwrap();
        let (entries, unreadable) = read_journal(&store.journal_path()).unwrap();
        assert_eq!((entries, unreadable), (vec![first, second], 1));
        // The next run's lines start on a line of their own.
        let mut next = Journal::open(&store, "3-4".to_owned()).unwrap();
        let third = next.entry(Happened::Start, "bakeoff run");
        next.append(&third).unwrap();
        let (entries, unreadable) = read_journal(&store.journal_path()).unwrap();
        assert_eq!((entries.len(), unreadable), (3, 1), "{entries:?}");
        assert_eq!(entries[2], third);
    }
}
