//! A `client` workload: a real agent client run against a configuration's server through the
//! recording proxy, in a fresh copy of its working folder, within the experiment's timeout;
//! what it asked and what the server answered come back as the proxy's trace.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::client::Exchange;
use crate::manifest::Client;
use crate::process::{Exit, Launch, StopSignal, Tracker, supervise};
use crate::run::capture::{Proxy, client_env};
use crate::traffic::{Answer, TraceEntry};

/// What running the client gave.
pub(in crate::run) struct Session {
    /// Every request it made, in the order they arrived, over all its runs.
    pub entries: Vec<TraceEntry>,
    pub wall: Duration,
    /// How its last run ended, and the last lines it printed.
    pub exit: Exit,
    pub tail: Vec<String>,
}

/// Where and how the client runs.
pub(in crate::run) struct Setting<'a> {
    pub client: &'a Client,
    /// The cell's axis values, for `{axis}` in the client's arguments.
    pub values: &'a [(String, String)],
    /// The working folder to copy for each run.
    pub workdir: Option<PathBuf>,
    pub repeat: u64,
    pub timeout: Duration,
    pub grace: Duration,
    pub log: &'a Path,
    pub trace: &'a Path,
    pub tracker: &'a Arc<Tracker>,
}

/// Runs the client `repeat` times against the server on `port`, stopping at the first run that
/// does not end with exit code 0.
pub(in crate::run) async fn run(setting: &Setting<'_>, port: u16, stop: StopSignal) -> std::io::Result<Session> {
    let proxy = Proxy::start(
        "127.0.0.1:0".parse().expect("a literal address"),
        &format!("http://127.0.0.1:{port}"),
        Some(setting.trace),
    )
    .await?;
    let url = proxy.url();
    let started = Instant::now();
    let mut exit = Exit::Code(0);
    let mut tail = Vec::new();
    for run in 0..setting.repeat.max(1) {
        let left = setting.timeout.saturating_sub(started.elapsed());
        let folder = match &setting.workdir {
            Some(workdir) => Some(fresh_copy(workdir, run)?),
            None => None,
        };
        let launch = launch(setting, &url, folder.clone());
        let result =
            supervise(&launch, Some(setting.log), left, setting.grace, stop.clone(), Some(setting.tracker), None).await;
        if let Some(folder) = &folder {
            let _ = std::fs::remove_dir_all(folder);
        }
        let result = result?;
        exit = result.exit;
        tail = crate::run::outcome::log_tail(&result.combined);
        if exit != Exit::Code(0) {
            break;
        }
    }
    let wall = started.elapsed();
    let entries = proxy.stop(Duration::from_secs(2)).await;
    Ok(Session { entries, wall, exit, tail })
}

/// The client's command line with `{proxy}` and the cell's `{axis}` values filled in, its
/// environment pointing it at the proxy, in `folder`.
fn launch(setting: &Setting<'_>, url: &str, folder: Option<PathBuf>) -> Launch {
    let fill = |text: &str| {
        let mut text = text.replace("{proxy}", url);
        for (axis, value) in setting.values {
            text = text.replace(&format!("{{{axis}}}"), value);
        }
        text
    };
    let argv: Vec<String> = setting.client.argv.iter().map(|arg| fill(arg)).collect();
    let mut launch = Launch::plain(&argv[0], argv[1..].to_vec());
    launch.env = client_env(url);
    launch.env.extend(setting.client.env.iter().map(|(key, value)| (key.clone(), fill(value))));
    launch.dir = folder;
    launch
}

/// A fresh copy of `workdir` for run `run`, under the system's temporary folder.
fn fresh_copy(workdir: &Path, run: u64) -> std::io::Result<PathBuf> {
    let target = std::env::temp_dir().join(format!("bakeoff-client-{}-{run}", std::process::id()));
    if target.exists() {
        std::fs::remove_dir_all(&target)?;
    }
    for entry in walkdir::WalkDir::new(workdir) {
        let entry = entry.map_err(std::io::Error::other)?;
        let relative = entry.path().strip_prefix(workdir).map_err(std::io::Error::other)?;
        let destination = target.join(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&destination)?;
        } else if entry.file_type().is_file() {
            std::fs::copy(entry.path(), &destination)?;
        }
    }
    Ok(target)
}

impl Exchange {
    /// What the proxy saw of one request, as an exchange the workload metrics read: the
    /// server's counts as its `timings`.
    pub(in crate::run) fn of_answer(answer: &Answer) -> Self {
        let mut timings = serde_json::Map::new();
        for (key, value) in [
            ("prompt_n", answer.prompt_n),
            ("cache_n", answer.cache_n),
            ("predicted_n", answer.generated_n),
            ("predicted_per_second", answer.gen_tps),
        ] {
            if let Some(value) = value {
                timings.insert(key.to_owned(), json!(value));
            }
        }
        Self { ttft_ms: answer.ttft_ms, e2e_ms: answer.total_ms, timings: Some(timings.into()), ..Self::default() }
    }
}
