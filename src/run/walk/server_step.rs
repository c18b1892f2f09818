//! The server steps of the walk: start a server group's llama-server, send a server cell's
//! workload to it (starting it again first if it died), and record what the requests measured.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::local::{LocalExecutor, Walk};
use crate::fingerprint::ResolvedCell;
use crate::notice::Notice;
use crate::plan::{PlannedCell, ServerGroup, Work};
use crate::process::{StopSignal, Tracker};
use crate::run::dispatch::Event;
use crate::run::error::RunError;
use crate::run::meters::{EnergyMeter, ForeignLoad, GpuWatch, HostLoad, PeakMemory, Usage};
use crate::run::outcome::{
    Measured, Reading, describe_server_metrics, finished_line, now_unix_ms, reason_only, what_ran,
};
use crate::run::server::{Exchange, RequestSpec, Server, agent, replay, serve_metrics, speculation, workload};
use crate::store::{CellRecord, Failure, MetricValue, Status, StoreError};
use crate::toolbox::launch;
use crate::traffic::TraceEntry;

/// How a server cell's workload ended.
enum Served {
    /// Its requests were sent (whether they succeeded is in the record).
    Done,
    /// A stop request ended it: no record.
    Interrupted,
    /// It did not end within the experiment's `timeout`: the server is not trusted further.
    TimedOut,
}

impl LocalExecutor<'_> {
    /// Starts the llama-server of a server group (its log named after its first cell); a
    /// server that cannot start fails the group's cells with the reason, instead of being
    /// waited for once per cell.
    pub(super) async fn start_server(
        &self,
        position: usize,
        group: &ServerGroup,
        planned: &[PlannedCell],
        walk: &mut Walk,
    ) {
        let first = &planned[group.cells[0]].cell;
        if walk.streaks.is_stopped(&group.toolbox) {
            // Its cells are skipped one by one.
            return;
        }
        let toolbox = &self.manifests.toolboxes[&group.toolbox];
        // The longest wait any of its experiments allows.
        let ready_timeout = group
            .cells
            .iter()
            .filter_map(|&index| self.manifests.experiment(&planned[index].cell.cell.experiment))
            .filter_map(|experiment| experiment.server.as_ref()?.ready_timeout)
            .max()
            .unwrap_or(600);
        let log = self.store.server_log_path(&first.hash);
        let name = format!("server-{}", crate::digest::short(&first.hash));
        let started = std::time::Instant::now();
        let mut outcome = match launch(toolbox, &group.argv, &self.context, &name) {
            Ok(launched) => {
                crate::run::server::start(
                    &launched,
                    &log,
                    Duration::from_secs(ready_timeout),
                    &walk.client,
                    Some(&walk.tracker),
                )
                .await
            }
            Err(error) => Err(error.into()),
        };
        // What it runs on, checked before any cell is measured on it.
        let mut wrong_backend = None;
        if let Ok(server) = &mut outcome {
            let driver = self.context.drivers.get(&group.toolbox).map(String::as_str);
            let (ran_on, wrong) = what_ran(&server.output(), &[], &Reading::of(toolbox, &group.argv, driver));
            wrong_backend =
                wrong.map(|reason| RunError::WrongBackend { reason, ran_on: Some(Box::new(ran_on.clone())) });
            server.ran_on = Some(ran_on);
        }
        if let Some(error) = wrong_backend
            && let Ok(server) = std::mem::replace(&mut outcome, Err(error))
        {
            server.stop(self.options.grace).await;
        }
        if let Ok(ready) = &outcome {
            walk.note(Notice::info(format!("llama-server ready on port {} after {:.0} ms", ready.port, ready.load_ms)));
        }
        match &outcome {
            Ok(server) => walk.summary.time.loading += Duration::from_secs_f64(server.load_ms / 1000.0),
            Err(_) => walk.summary.time.failing += started.elapsed(),
        }
        walk.servers.insert(position, outcome);
    }

    /// One server cell on its group's server, started again first if it died. `None` when
    /// interrupted.
    pub(super) async fn serve_step(
        &self,
        position: usize,
        index: usize,
        planned: &[PlannedCell],
        work: &[Work],
        walk: &mut Walk,
    ) -> Result<Option<Status>, StoreError> {
        let cell = &planned[index].cell;
        let before = self.before_step(&cell.id, walk).await;
        let _ = walk.events.send(Event::Started { what: cell.id.clone(), phase: "running".to_owned() });
        let experiment =
            self.manifests.experiment(&cell.cell.experiment).expect("planned cells name known experiments");
        let mut record = CellRecord::new(cell, self.host, Status::Failed);
        record.timings.started_unix_ms = now_unix_ms();
        let started = std::time::Instant::now();
        if let Some(Ok(server)) = walk.servers.get_mut(&position)
            && !server.is_running()
        {
            walk.note(Notice::info(format!("llama-server for {} died; starting it again", cell.id)));
            if let Some(Ok(dead)) = walk.servers.remove(&position) {
                dead.stop(self.options.grace).await;
            }
        }
        // The Anthropic API ignores `cache_prompt: false`: a workload of it gets a server that has
        // served nothing yet, so that its first request is cold.
        let workload = experiment.workloads.iter().find(|workload| workload.name.value == cell.cell.workload);
        let fresh = workload.is_some_and(|workload| {
            workload.replay.is_some()
                || workload.client.is_some()
                || workload.requests.iter().any(|request| request.api == crate::manifest::Api::AnthropicMessages)
        });
        if fresh && matches!(walk.servers.get(&position), Some(Ok(Server { served: true, .. }))) {
            let reason = if workload.is_some_and(|workload| workload.replay.is_some() || workload.client.is_some()) {
                "llama-server was started again before this workload, so that its session starts as a client's \
                 would: on a server whose prompt cache holds nothing"
            } else {
                "llama-server was started again before this workload, so that its first request is cold: the \
                 Anthropic API ignores `cache_prompt: false`"
            };
            record.warnings.push(Notice::note(reason));
            if let Some(Ok(used)) = walk.servers.remove(&position) {
                used.stop(self.options.grace).await;
            }
        }
        // Not there: it died, an earlier cell's timeout stopped it, or its cache had to go.
        if !walk.servers.contains_key(&position)
            && let Work::Server(group) = &work[position]
        {
            self.start_server(position, group, planned, walk).await;
        }
        let stop = walk.stop.clone();
        let concurrency = workload.map_or(1, |workload| workload.concurrency);
        if let Some(Ok(Server { slots: Some(slots), .. })) = walk.servers.get(&position)
            && concurrency > *slots
        {
            walk.note(Notice::warning(format!(
                "{} sends {concurrency} requests at once, but llama-server has {slots} slot(s) (`-np`): the \
                 rest wait in its queue, and their time to first token includes the wait",
                cell.id
            )));
        }
        match walk.servers.get_mut(&position) {
            Some(Ok(server)) => {
                let tracker = Arc::clone(&walk.tracker);
                match self.serve_cell(&walk.client, server, cell, experiment, &mut record, stop, before, &tracker).await
                {
                    Served::Done => {}
                    Served::Interrupted => return Ok(None),
                    // A server that did not answer within the cell's time is not trusted with the
                    // next cell: it is stopped, and started again for it.
                    Served::TimedOut => {
                        if let Some(Ok(server)) = walk.servers.remove(&position) {
                            server.stop(self.options.grace).await;
                        }
                    }
                }
            }
            Some(Err(error)) => {
                record.failure = Some(reason_only(error.to_string()));
                if let RunError::WrongBackend { ran_on, .. } = error {
                    record.ran_on = ran_on.as_deref().cloned();
                }
            }
            None => record.failure = Some(reason_only(RunError::ServerNeverStarted.to_string())),
        }
        record.timings.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if record.status == Status::Ok {
            walk.summary.time.measuring += started.elapsed();
        } else {
            walk.summary.time.failing += started.elapsed();
        }
        for notice in &record.warnings {
            walk.note(notice.clone().about(&cell.id));
        }
        let line = finished_line(&cell.id, &record, describe_server_metrics);
        let status = record.status;
        self.record(record, &line, walk)?;
        Ok(Some(status))
    }

    /// Sends a server cell's workload (its requests, `repeat` times, in order) within the
    /// experiment's `timeout`, and fills the record with per-request and aggregated metrics.
    #[expect(
        clippy::too_many_arguments,
        reason = "the server, the record and the stop are borrows of the walk's parts, taken apart"
    )]
    async fn serve_cell(
        &self,
        client: &reqwest::Client,
        server: &mut Server,
        cell: &ResolvedCell,
        experiment: &crate::manifest::Experiment,
        record: &mut CellRecord,
        stop: StopSignal,
        before: HostLoad,
        tracker: &Arc<Tracker>,
    ) -> Served {
        let Some(workload) = experiment.workloads.iter().find(|workload| workload.name.value == cell.cell.workload)
        else {
            return Served::Done;
        };
        let specs: Result<Vec<RequestSpec>, RunError> =
            workload.requests.iter().map(|request| self.request_spec(request, cell, workload.cold)).collect();
        let specs = match specs {
            Ok(specs) => specs,
            Err(reason) => {
                record.failure = Some(reason_only(reason.to_string()));
                return Served::Done;
            }
        };
        let trace = match self.replay_trace(workload) {
            Ok(trace) => trace,
            Err(reason) => {
                record.failure = Some(reason_only(reason));
                return Served::Done;
            }
        };
        // The server's peak while this cell's requests ran: its mark reset now, read after.
        let mut memory = PeakMemory::new(server.tree());
        memory.restart();
        let mut energy = EnergyMeter::start();
        let gpu = GpuWatch::start();
        let mut foreign = ForeignLoad::start();
        foreign.watch(server.tree());
        let timeout = experiment.timeout();
        if let Some(agent_client) = &workload.client {
            let meters = Meters { memory, energy, gpu, foreign, before };
            return self.serve_client(agent_client, workload, cell, server, record, stop, meters, tracker).await;
        }
        let send = async {
            match (&trace, &workload.replay) {
                (Some(entries), Some(replay)) => {
                    replay::send(client, server.port, entries, replay.recorded, workload.repeat, stop).await
                }
                _ => workload::send(client, server.port, workload, &specs, stop).await,
            }
        };
        let send = reading_load(send, &mut foreign);
        let sent = match tokio::time::timeout(timeout, send).await {
            Ok(Some(sent)) => sent,
            Ok(None) => return Served::Interrupted,
            Err(_) => {
                record.status = Status::TimedOut;
                let reason = format!(
                    "timed out after {} s before its requests ended (the server's log is {}; it is started again \
                     for the next cell)",
                    timeout.as_secs(),
                    crate::units::shown_path(&server.log)
                );
                record.failure = Some(reason_only(reason));
                return Served::TimedOut;
            }
        };
        server.served = true;
        memory.sample();
        let joules = energy.joules();
        if let Some((index, reason)) = &sent.failure {
            let mut reason = format!("request {} of {}: {reason}", index + 1, sent.outcomes.len());
            if server.died_within(Duration::from_millis(500)).await {
                reason = format!("{reason}; llama-server died: {}", server.output_tail());
            }
            record.failure = Some(reason_only(reason));
        }
        let mut metrics = serve_metrics::per_turn(&sent.by_turn());
        let exchanges: Vec<Exchange> = sent.outcomes.iter().flatten().cloned().collect();
        metrics.extend(serve_metrics::aggregate(&exchanges));
        if workload.concurrency > 1 {
            metrics.extend(serve_metrics::under_load(&exchanges, sent.wall));
        }
        if let Some(entries) = &trace {
            metrics.extend(serve_metrics::per_request(&sent.outcomes, sent.wall));
            record.warnings.extend(cache_misses(entries, &sent.outcomes).into_iter().map(Notice::warning));
            let overlapped = crate::traffic::overlapping(entries);
            if overlapped > 0 {
                record.warnings.push(Notice::note(format!(
                    "{overlapped} of the trace's {} requests came before the previous reply had ended (the client \
                     sent them together); the replay sends each after the previous reply",
                    entries.len()
                )));
            }
        }
        // A `cache "cold"` workload that found the cache warm failed above; any other keeps its
        // figures but the cold ones.
        if !workload.cold
            && let Some(warning) =
                serve_metrics::unseat_warm_first(&mut metrics, sent.outcomes.first().and_then(Option::as_ref))
        {
            record.warnings.push(Notice::warning(warning));
        }
        let tokens = server_totals(&mut metrics, &exchanges, server);
        let usage =
            Usage { peak_rss: memory.peak(), load: foreign.during(before), energy: Some(joules), gpu: gpu.finish() };
        Measured { metrics, raw: sent.raw(), usage, tokens: Some(tokens) }.record(record);
        record.ran_on.clone_from(&server.ran_on);
        record.warnings.extend(speculation::undrafted(&cell.argv, &record.metrics).map(Notice::warning));
        Served::Done
    }

    /// A `client` workload's cell: the client run against `server` through the recording
    /// proxy, its requests' figures, the trace beside the record, why the cache missed.
    #[expect(clippy::too_many_arguments, reason = "the walk's parts, taken apart, as for serve_cell")]
    async fn serve_client(
        &self,
        agent_client: &crate::manifest::Client,
        workload: &crate::manifest::Workload,
        cell: &ResolvedCell,
        server: &mut Server,
        record: &mut CellRecord,
        stop: StopSignal,
        meters: Meters,
        tracker: &Arc<Tracker>,
    ) -> Served {
        let Meters { mut memory, mut energy, gpu, mut foreign, before } = meters;
        let timeout = self
            .manifests
            .experiment(&cell.cell.experiment)
            .map_or(crate::manifest::DEFAULT_TIMEOUT, crate::manifest::Experiment::timeout);
        let log = self.store.log_path(&cell.hash);
        let trace = self.store.trace_path(&cell.hash);
        let setting = agent::Setting {
            client: agent_client,
            values: &cell.cell.axes,
            workdir: agent_client.workdir.as_ref().map(|workdir| self.manifests.input_path(workdir.at, &workdir.value)),
            repeat: workload.repeat,
            timeout,
            grace: self.options.grace,
            log: &log,
            trace: &trace,
            tracker,
        };
        let session = match reading_load(agent::run(&setting, server.port, stop), &mut foreign).await {
            Ok(session) => session,
            Err(error) => {
                record.failure = Some(reason_only(format!("the client could not run: {error}")));
                return Served::Done;
            }
        };
        server.served = true;
        memory.sample();
        let outcomes: Vec<Option<Exchange>> =
            session.entries.iter().map(|entry| entry.response.as_ref().map(Exchange::of_answer)).collect();
        let sent = workload::Sent { outcomes, failure: None, turns: Vec::new(), wall: session.wall, cold: false };
        let last = session.tail.last().map_or("", |line| line.trim());
        let reason = match session.exit {
            crate::process::Exit::Code(0) => None,
            crate::process::Exit::Interrupted => return Served::Interrupted,
            crate::process::Exit::TimedOut => {
                record.status = Status::TimedOut;
                Some(format!(
                    "the client was stopped after the experiment's {} s timeout; its last line: {}",
                    timeout.as_secs(),
                    client_says(last)
                ))
            }
            exit => Some(format!("the client ended with {exit}: {}", client_says(last))),
        };
        if let Some(reason) = reason {
            let (exit_code, signal) = match session.exit {
                crate::process::Exit::Code(code) => (Some(code), None),
                crate::process::Exit::Signal(signal) => (None, Some(signal)),
                _ => (None, None),
            };
            record.failure = Some(Failure { reason, exit_code, signal, log_tail: session.tail.clone() });
        }
        let exchanges: Vec<Exchange> = sent.outcomes.iter().flatten().cloned().collect();
        let mut metrics = serve_metrics::aggregate(&exchanges);
        metrics.extend(serve_metrics::per_request(&sent.outcomes, sent.wall));
        let tokens = server_totals(&mut metrics, &exchanges, server);
        let raw = vec![serde_json::json!({
            "client_exit": session.exit.to_string(),
            "client_tail": session.tail,
            "trace": crate::units::shown_path(&trace),
            "requests": session.entries.len(),
        })];
        let usage = Usage {
            peak_rss: memory.peak(),
            load: foreign.during(before),
            energy: Some(energy.joules()),
            gpu: gpu.finish(),
        };
        Measured { metrics, raw, usage, tokens: Some(tokens) }.record(record);
        record.ran_on.clone_from(&server.ran_on);
        let misses = crate::traffic::compare(&session.entries);
        record.warnings.extend(misses.iter().filter_map(crate::traffic::Comparison::sentence).map(Notice::warning));
        Served::Done
    }

    /// A replay workload's trace, read; `None` for any other workload.
    fn replay_trace(&self, workload: &crate::manifest::Workload) -> Result<Option<Vec<TraceEntry>>, String> {
        let Some(replay) = &workload.replay else { return Ok(None) };
        let full = self.manifests.input_path(replay.path.at, &replay.path.value);
        crate::traffic::read(&full).map(Some).map_err(|error| format!("trace `{}` {error}", replay.path.value))
    }

    /// What to send for `request` in `cell`: its files (their `{axis}` placeholders filled with
    /// the cell's values) read, its fields as written.
    fn request_spec(
        &self,
        request: &crate::manifest::Request,
        cell: &ResolvedCell,
        cold: bool,
    ) -> Result<RequestSpec, RunError> {
        let read = |key: &str| -> Result<Option<String>, RunError> {
            match request.files.get(key) {
                Some(path) => {
                    let filled = cell.cell.request_path(&path.value);
                    let full = self.manifests.input_path(path.at, &filled);
                    std::fs::read_to_string(&full)
                        .map(Some)
                        .map_err(|source| RunError::CannotRead { path: full.display().to_string(), source })
                }
                None => Ok(None),
            }
        };
        let prompt = match read("prompt-file")? {
            Some(text) => text,
            None => request.fields.get("prompt").cloned().unwrap_or_default(),
        };
        let system = read("system-file")?.or_else(|| request.fields.get("system").cloned());
        let fields = request
            .fields
            .iter()
            .filter(|(key, _)| *key != "prompt" && *key != "system")
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        Ok(RequestSpec { api: request.api, prompt, system, fields, cold, history: Vec::new() })
    }
}

/// The server's load time into `metrics`, and the tokens it worked on: processed prompt and
/// generated (any of the three APIs).
fn server_totals(metrics: &mut BTreeMap<String, MetricValue>, exchanges: &[Exchange], server: &Server) -> f64 {
    let load = crate::metric::server::SERVER_LOAD;
    let unit = crate::metric::Family::get(load).unit_symbol();
    metrics.insert(load.to_owned(), MetricValue::single(server.load_ms, unit));
    exchanges.iter().map(|exchange| exchange.processed_n().unwrap_or(0.0) + exchange.generated_n().unwrap_or(0.0)).sum()
}

/// What a client's last line says: the `result` or error message of a JSON summary (Claude Code's
/// `--output-format json`), or the line itself, shortened.
fn client_says(line: &str) -> String {
    let parsed = serde_json::from_str::<serde_json::Value>(line).ok();
    let said = parsed.as_ref().and_then(|value| {
        ["/result", "/error/message", "/error"].iter().find_map(|pointer| value.pointer(pointer)?.as_str())
    });
    let text = said.unwrap_or(line);
    if text.chars().count() > 300 {
        format!("{}…", text.chars().take(300).collect::<String>())
    } else {
        text.to_owned()
    }
}

/// The meters a server cell reads while its requests run, started before them.
struct Meters {
    memory: PeakMemory,
    energy: EnergyMeter,
    gpu: GpuWatch,
    foreign: ForeignLoad,
    before: HostLoad,
}

/// Why the prompt cache missed between consecutive requests of a replayed trace: each request
/// as recorded, with what this server reused for it.
fn cache_misses(entries: &[TraceEntry], outcomes: &[Option<Exchange>]) -> Vec<String> {
    let sent: Vec<TraceEntry> = outcomes
        .iter()
        .enumerate()
        .map_while(|(index, outcome)| {
            let exchange = outcome.as_ref()?;
            let mut entry = entries[index % entries.len()].clone();
            let answer = entry.response.get_or_insert_with(Default::default);
            answer.cache_n = exchange.cache_n();
            answer.prompt_n = exchange.processed_n();
            Some(entry)
        })
        .collect();
    crate::traffic::compare(&sent).iter().filter_map(crate::traffic::Comparison::sentence).collect()
}

/// Runs `future`, reading the host's foreign load every [`LOAD_EVERY`] meanwhile and once more
/// when it is done.
async fn reading_load<F: std::future::Future>(future: F, load: &mut ForeignLoad) -> F::Output {
    tokio::pin!(future);
    loop {
        tokio::select! {
            output = &mut future => {
                load.sample();
                return output;
            }
            () = tokio::time::sleep(LOAD_EVERY) => load.sample(),
        }
    }
}

/// How often the foreign load is read while a server cell's requests run.
const LOAD_EVERY: Duration = Duration::from_millis(250);
