//! llama-server's lifecycle: a free loopback port, readiness by `/health`, and a shutdown
//! that leaves the port free.

use std::path::Path;
use std::time::{Duration, Instant};

use std::sync::Arc;

use crate::process::{Launch, Spawned, Tracker, Tree, spawn};
use crate::run::error::RunError;

/// A running llama-server.
pub(in crate::run) struct Server {
    spawned: Spawned,
    pub(in crate::run) port: u16,
    /// From start to the first 200 on `/health`: loading the model.
    pub(in crate::run) load_ms: f64,
    /// How many requests it serves at once (`/props`' `total_slots`, set by `-np`).
    pub(in crate::run) slots: Option<u64>,
    /// What it runs on, as its start-up said: recorded with each of its cells.
    pub(in crate::run) ran_on: Option<crate::store::RanOn>,
    /// Where its output goes.
    pub(in crate::run) log: std::path::PathBuf,
    /// Whether a cell's requests were sent to it: its prompt cache may hold them.
    pub(in crate::run) served: bool,
}

/// A loopback port nobody listens on now.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts `launch` (a llama-server argv) on a free port and waits until it serves.
pub(in crate::run) async fn start(
    launch: &Launch,
    log: &Path,
    ready_timeout: Duration,
    client: &reqwest::Client,
    tracker: Option<&Arc<Tracker>>,
) -> Result<Server, RunError> {
    let port = free_port().map_err(|source| RunError::NoPort { source })?;
    let mut launch = launch.clone();
    launch.args.extend(["--host".to_owned(), "127.0.0.1".to_owned(), "--port".to_owned(), port.to_string()]);
    // At verbosity 4 llama-server names its devices and the layers it offloads; a verbosity the
    // manifest chose is left alone.
    if !sets_verbosity(&launch.args[launch.inner..]) {
        launch.args.extend(["-lv".to_owned(), "4".to_owned()]);
    }
    let started = Instant::now();
    let spawned = spawn(&launch, Some(log), tracker)
        .map_err(|source| RunError::CannotStart { program: launch.program.display().to_string(), source })?;
    let mut server =
        Server { spawned, port, load_ms: 0.0, slots: None, ran_on: None, log: log.to_path_buf(), served: false };
    loop {
        if let Ok(Some(status)) = server.spawned.child.try_wait() {
            // Its own error line (an argument it refused), else its last words; killed by a
            // signal, its last words are loading chatter that says nothing of why.
            let output = server.output();
            let exit = crate::process::status_exit(status);
            let tail = match crate::process::error_line(&output) {
                Some(line) => line.to_owned(),
                None if matches!(exit, crate::process::Exit::Signal(_)) => {
                    "it printed no error (the signal came from outside)".to_owned()
                }
                None => server.output_tail(),
            };
            return Err(RunError::ServerExited { exit, tail });
        }
        // A server that stopped (SIGSTOP) still accepts connections and never answers: each
        // question has a time of its own, so the ready timeout is always reached.
        let health =
            tokio::time::timeout(Duration::from_secs(2), client.get(format!("http://127.0.0.1:{port}/health")).send())
                .await;
        if matches!(health, Ok(Ok(response)) if response.status().is_success()) {
            server.load_ms = started.elapsed().as_secs_f64() * 1000.0;
            server.slots = slots(client, port).await;
            return Ok(server);
        }
        if started.elapsed() > ready_timeout {
            let tail = server.output_tail();
            server.stop(Duration::from_secs(5)).await;
            return Err(RunError::ServerNotReady { seconds: ready_timeout.as_secs(), tail });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether a llama-server argv chooses its own log verbosity.
fn sets_verbosity(args: &[String]) -> bool {
    args.iter().any(|arg| {
        let name = arg.split_once('=').map_or(arg.as_str(), |(name, _)| name);
        matches!(name, "-lv" | "--verbosity" | "--log-verbosity" | "-v" | "--verbose" | "--log-verbose")
    })
}

/// `total_slots` from llama-server's `/props`, when it says.
async fn slots(client: &reqwest::Client, port: u16) -> Option<u64> {
    let asked = async {
        let response = client.get(format!("http://127.0.0.1:{port}/props")).send().await.ok()?;
        response.bytes().await.ok()
    };
    let bytes = tokio::time::timeout(Duration::from_secs(10), asked).await.ok()??;
    let props: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    props.get("total_slots")?.as_u64()
}

impl Server {
    pub(in crate::run) fn is_running(&mut self) -> bool {
        matches!(self.spawned.child.try_wait(), Ok(None))
    }

    /// Whether the server exits within `patience`: a dying process closes its sockets before
    /// its exit can be collected, so a broken connection alone does not tell yet.
    pub(in crate::run) async fn died_within(&mut self, patience: Duration) -> bool {
        tokio::time::timeout(patience, self.spawned.child.wait()).await.is_ok()
    }

    /// The last lines the server printed, on one line, for failure reasons.
    /// Where the server's processes are, for its memory.
    pub(in crate::run) fn tree(&self) -> Tree {
        self.spawned.tree()
    }

    /// Everything the server printed so far (its start-up, where it names its devices).
    pub(in crate::run) fn output(&self) -> String {
        String::from_utf8_lossy(&self.spawned.combined.lock().expect("output lock")).into_owned()
    }

    pub(in crate::run) fn output_tail(&self) -> String {
        let output = self.spawned.combined.lock().expect("output lock");
        let text = String::from_utf8_lossy(&output);
        let lines: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(3)..].join(" | ")
    }

    /// SIGTERM to the server (its process group, and the server itself where it runs in a
    /// toolbox or distrobox container, by its pid), SIGKILL after `grace`, a podman
    /// container removed if its client had to be killed; then the port must be free.
    pub(in crate::run) async fn stop(mut self, grace: Duration) -> Option<String> {
        self.spawned.signal(libc::SIGTERM);
        if tokio::time::timeout(grace, self.spawned.child.wait()).await.is_err() {
            self.spawned.signal(libc::SIGKILL);
        }
        let _ = self.spawned.child.wait().await;
        // The server in a toolbox outlives its `toolbox run` client: reaping waits for it
        // (up to `grace`) and kills it if need be.
        crate::process::reap(&mut self.spawned, grace).await;
        let serving = |port| async move { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() };
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while serving(self.port).await {
            if std::time::Instant::now() > deadline {
                return Some(format!("port {} still answers after llama-server was stopped", self.port));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}
