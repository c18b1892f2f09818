//! A run of a project's experiments: lock the store, resolve and plan, schedule, walk the
//! plan's graph with the local executor (or hand its units to Slurm's), and keep the reports
//! up to date. As a Slurm job, a run plans and measures the cells its dispatcher gave it and
//! logs what it recorded instead of writing reports.
//!
//! The one room above both the project (the pipeline every command shares) and `run/` (the
//! executors): `project/` stays below the run, as `error` keeps the run's variants and the
//! project returns that error, and the command line calls this as `Project::run` with a
//! [`RunRequest`] the project owns.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use crate::Error;
use crate::notice::Notice;
use crate::plan::{Decision, History, PlannedCell, RunReason, schedule, tested_models};
use crate::project::{Executor, Loaded, PageWriter, Project, Reporter, RunRequest, shown};
use crate::report::ExpectedCell;
use crate::run::{Executor as _, JobLog, LocalExecutor, Observer, RunOptions, RunSummary, SlurmExecutor};
use crate::run_journal::RunJournal;
use crate::store::CellRecord;
use crate::store::acquire;
use crate::toolbox::LaunchContext;

/// What a run did: its summary, and lines for people (the reports it wrote).
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub summary: RunSummary,
    pub notes: Vec<Notice>,
}

impl Project {
    /// Runs what `request` selects that has no result yet. Two runs on one store take turns.
    pub fn run(&self, request: &RunRequest) -> Result<RunOutcome, Error> {
        let started = Instant::now();
        let loaded = self.load(&request.targets)?;
        if request.job.is_none() {
            for notice in self.check_storage(&loaded)? {
                crate::console::errln!("{notice}");
            }
        }
        let locking = Instant::now();
        let _lock = self.take_turn(request)?;
        // Waiting for another run's lock is neither planning nor measuring.
        let locked_after = locking.elapsed();
        // After the wait: what podman says of the containers is what this run launches.
        let host = self.host_and_containers(&loaded)?;
        let mut notes = Vec::new();
        if request.job.is_none() {
            notes.extend(self.prepare_store(&loaded)?);
        }
        if matches!(request.executor, Executor::Slurm { .. }) && request.job.is_none() {
            for line in crate::run::stop_leftover_jobs(&self.store, request.grace) {
                crate::console::errln!("{line}");
            }
        }
        // A search measures a pass of probes, reads what they found, and plans the next pass,
        // until every search has its answer; without one, the first pass is the whole run.
        let mut passes = Passes { started_unix_ms: crate::store::now_unix_ms(), ..Passes::default() };
        // The last pass's observer: its reporter holds every record the run made.
        let mut last: Option<ReportObserver<'_>> = None;
        // Resolved once: a pass changes what the store holds, not the cells or the toolboxes.
        let mut resolved = Resolved::new(self.resolve_with_toolboxes(&loaded, &host)?, &loaded);
        loop {
            let (cells, toolboxes, expected) = resolved.for_pass();
            let (mut planned, history) = self.plan_with_history(cells, &request.selection)?;
            // What an earlier pass measured is this run's result, `--force` or not.
            passes.measured(&mut planned, &self.store);
            let (planned, searches) = self.settle_searches(request, &loaded, planned);
            let planned = measured_once(planned);
            if !passes.announce(&planned, &searches) {
                break;
            }
            let estimates = estimates(self, &planned, &history);
            // The plan read the whole store only when some cell had no result.
            let records = if history.is_empty() { self.records() } else { history };
            // Models with no result on this host yet run first.
            let tested = tested_models(&records, &planned, &host.id);
            let context = self.launch_context(toolboxes, &planned)?;
            let options = run_options(request, estimates);
            let work = schedule(&planned, &tested, request.load_groups);
            let planning = started.elapsed().saturating_sub(locked_after).saturating_sub(passes.spent);
            let local = |context, options| LocalExecutor {
                manifests: &loaded.manifests,
                host: &host,
                store: &self.store,
                context,
                options,
            };
            if let Some(job) = &request.job {
                let log = self.job_log(job, &planned, &host)?;
                let mut summary = local(context, options).run(&planned, &work, &mut JobObserver { log })?;
                summary.time.planning = planning;
                summary.time.wall = started.elapsed();
                return Ok(RunOutcome { summary, notes: Vec::new() });
            }
            // The page, made once and carried from pass to pass.
            let mut observer = self.observer(last.take(), &loaded, &host, &planned, expected, records, &mut passes)?;
            let measuring = Instant::now();
            let summary = match &request.executor {
                Executor::Local => local(context, options).run(&planned, &work, &mut observer)?,
                Executor::Slurm { partition } => {
                    let executor = SlurmExecutor {
                        manifests: &loaded.manifests,
                        host: &host,
                        store: &self.store,
                        options,
                        partition: partition.clone(),
                        job_command: self.job_command(request)?,
                        directory: self.root.canonicalize().unwrap_or_else(|_| self.root.clone()),
                    };
                    executor.run(&planned, &work, &mut observer)?
                }
            };
            passes.absorb(&mut observer);
            last = Some(observer);
            passes.add(&planned, summary, planning, measuring.elapsed());
            let searching = searches.iter().any(|state| !state.next.is_empty());
            if !searching || passes.last_interrupted() {
                break;
            }
        }
        let mut summary = passes.summary();
        let mut observer = last.expect("the first pass always runs");
        notes.extend(self.write_at_end(&loaded, &mut observer, &mut passes));
        summary.time.reporting = passes.reporting;
        summary.time.wall = started.elapsed();
        observer.journal.ended(&summary);
        notes.extend(observer.journal.failure());
        Ok(RunOutcome { summary, notes })
    }

    /// A pass's observer, with what it carries from the pass before: the page, its failed
    /// writes and the journal. The first pass makes them, says where results show, and writes
    /// the run's start to the journal.
    #[expect(clippy::too_many_arguments, reason = "what a pass hands its observer, each from another stage of the run")]
    fn observer<'a>(
        &'a self,
        previous: Option<ReportObserver<'a>>,
        loaded: &'a Loaded,
        host: &crate::host::HostFacts,
        planned: &[PlannedCell],
        expected: Vec<ExpectedCell>,
        records: Vec<CellRecord>,
        passes: &mut Passes,
    ) -> Result<ReportObserver<'a>, Error> {
        let (page, page_failures, mut journal) = match previous {
            Some(previous) => (previous.page, previous.page_failures, previous.journal),
            None => {
                let writing = Instant::now();
                let page = PageWriter::new(self, loaded, records.clone());
                passes.reporting += writing.elapsed();
                say_where_results_go(self, loaded, planned);
                let mut journal = RunJournal::open(&self.store, passes.started_unix_ms);
                journal.start(host, planned);
                (page, None, journal)
            }
        };
        journal.decisions(planned);
        Ok(ReportObserver {
            reporter: Reporter::new(loaded, self.lock()?, expected, records),
            page,
            page_failures,
            journal,
            reporting: std::time::Duration::ZERO,
            store: &self.store,
            finished: BTreeSet::new(),
            failed_writes: BTreeMap::new(),
        })
    }

    /// The reports and the page at the end of a run, from its last pass's observer; the time
    /// this takes goes to the passes' writing time.
    fn write_at_end(&self, loaded: &Loaded, observer: &mut ReportObserver<'_>, passes: &mut Passes) -> Vec<Notice> {
        observer.finished = std::mem::take(&mut passes.finished);
        observer.failed_writes = std::mem::take(&mut passes.failed_writes);
        let writing = Instant::now();
        // Also when nothing ran: a report from an older bakeoff, or none yet, is brought up to date.
        let mut notes: Vec<Notice> =
            crate::project::keep_reports_mergeable(&self.root, &self.store).into_iter().collect();
        notes.extend(observer.last_reports(&loaded.selected));
        notes.extend(observer.page_failures());
        // The page of every result, the Slurm nodes' and this run's included (unchanged bytes
        // left alone).
        match observer.page.write_at_end() {
            Ok(path) => notes.push(Notice::info(format!("page: {}", shown(&path).display()))),
            Err(error) => notes.push(Notice::warning(error.to_string())),
        }
        passes.reporting += writing.elapsed();
        notes
    }

    /// Two runs on one store take turns: the lock, held until the run ends. The plan is made
    /// once it is held, so the second run sees the first one's results. A Slurm job runs under
    /// its dispatcher's lock.
    fn take_turn(&self, request: &RunRequest) -> Result<Option<crate::store::RunLock>, Error> {
        match request.job {
            None => Ok(Some(acquire(self.store.root()).map_err(|source| Error::Io {
                what: format!("cannot lock `{}`", self.store.root().display()),
                source,
            })?)),
            Some(_) => Ok(None),
        }
    }

    /// A search's next probes and the values it measured before, not the rest of its grid. A
    /// job measures what its dispatcher's search chose.
    fn settle_searches(
        &self,
        request: &RunRequest,
        loaded: &Loaded,
        planned: Vec<PlannedCell>,
    ) -> (Vec<PlannedCell>, Vec<crate::plan::SearchState>) {
        if request.job.is_some() {
            return (planned, Vec::new());
        }
        crate::plan::settle_searches(planned, &loaded.manifests, |hash| self.store.read(hash).ok().flatten())
    }

    /// A Slurm job's log of what it measures, with its plan written.
    fn job_log(
        &self,
        job: &crate::store::SlurmJob,
        planned: &[PlannedCell],
        host: &crate::host::HostFacts,
    ) -> Result<JobLog, Error> {
        let cannot_write = |source| Error::Io {
            what: format!("cannot write the job's log under `{}`", self.store.root().display()),
            source,
        };
        let mut log = JobLog::create(&self.store, job.job_id).map_err(cannot_write)?;
        log.planned(&job.node, planned, host).map_err(cannot_write)?;
        Ok(log)
    }

    /// Where the cells of `planned` launch: the model roots and the project mounted, the
    /// toolboxes' images and drivers as inspection found them, the bases' folder writable.
    fn launch_context(
        &self,
        toolboxes: BTreeMap<String, crate::fingerprint::ToolboxState>,
        planned: &[PlannedCell],
    ) -> Result<LaunchContext, Error> {
        let mut context = LaunchContext {
            mounts: self.roots.roots.clone(),
            writable: Vec::new(),
            images: toolboxes
                .iter()
                .filter_map(|(name, state)| Some((name.clone(), state.image_id.clone()?)))
                .collect(),
            drivers: toolboxes.into_iter().filter_map(|(name, state)| Some((name, state.driver?))).collect(),
            storage_env: self.storage.as_ref().map(crate::storage::Storage::child_env).unwrap_or_default(),
        };
        // A container's TMPDIR and caches are under the root: it is mounted read-write.
        context.writable.extend(self.storage.as_ref().map(|storage| storage.root().to_path_buf()));
        context.mounts.push(self.root.canonicalize().unwrap_or_else(|_| self.root.clone()));
        context.writable.extend(self.bases_folder(planned)?);
        Ok(context)
    }

    /// The store's folder of quality bases when a reference that runs writes one there: made
    /// now, as a container mounts it before its cell runs.
    fn bases_folder(&self, planned: &[PlannedCell]) -> Result<Option<std::path::PathBuf>, Error> {
        let writes = planned.iter().any(|planned| {
            matches!(planned.decision, Decision::Run(_)) && planned.cell.base.as_ref().is_some_and(|base| base.writes)
        });
        if !writes {
            return Ok(None);
        }
        let bases = self.store.ensure_bases_dir().map_err(|source| Error::Io {
            what: format!("cannot make `{}`", self.store.bases_dir().display()),
            source,
        })?;
        Ok(Some(bases.canonicalize().unwrap_or(bases)))
    }

    /// Before a project's run: `results/.gitignore` when there is none (a line saying so is
    /// returned), and `bakeoff.lock` on the first run, so that a later change is caught.
    fn prepare_store(&self, loaded: &Loaded) -> Result<Option<Notice>, Error> {
        let ignore = self.store.gitignore_path();
        let note = match self.store.ensure_gitignore() {
            Ok(true) => Some(Notice::info(format!(
                "wrote `{}`: logs, the run lock and running lists stay out of git",
                ignore.display()
            ))),
            Ok(false) => None,
            Err(error) => {
                crate::console::errln!("{}", Notice::warning(format!("cannot write `{}`: {error}", ignore.display())));
                None
            }
        };
        // A project's first run pins what it measures with, so a later change is caught.
        if !self.lock_path.exists() && self.host_facts.is_none() {
            let update = self.update_lock(loaded)?;
            for warning in &update.warnings {
                crate::console::errln!("{warning}");
            }
            crate::console::errln!(
                "wrote `{}` ({} pin(s)): it pins each model's sha256 and each toolbox's build; check it in beside \
                 experiments/",
                self.lock_path.display(),
                update.changes.len()
            );
        }
        Ok(note)
    }

    /// What a Slurm job runs, but for its cells' keys: this bakeoff, on this project and store
    /// (absolute paths on the filesystem the nodes share), with this run's options.
    fn job_command(&self, request: &RunRequest) -> Result<Vec<String>, Error> {
        let absolute = |path: &std::path::Path| path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let program = std::env::current_exe()
            .map_err(|source| Error::Io { what: "cannot tell where this bakeoff is".to_owned(), source })?;
        let mut command = vec![
            absolute(&program).display().to_string(),
            "--color=never".to_owned(),
            format!("--project={}", absolute(&self.root).display()),
            format!("--results={}", absolute(self.store.root()).display()),
        ];
        command.extend(self.roots.roots.iter().map(|root| format!("--models={}", absolute(root).display())));
        command.push("run".to_owned());
        command.extend(request.targets.iter().cloned());
        command.extend(["--no-progress".to_owned(), format!("--grace={}", request.grace.as_secs())]);
        if !request.load_groups {
            command.push("--no-load-groups".to_owned());
        }
        // The node judges its own load by this run's threshold (`off` as well).
        command.push(match request.busy_threshold {
            Some(share) => format!("--busy-threshold={}", share * 100.0),
            None => "--busy-threshold=off".to_owned(),
        });
        if let Some(timeout) = request.quiet_host {
            command.extend(["--quiet-host".to_owned(), format!("--quiet-timeout={}", timeout.as_secs())]);
        }
        if request.selection.force {
            command.push("--force".to_owned());
        }
        if request.selection.retry_failed {
            command.push("--retry-failed".to_owned());
        }
        command.push("--slurm-job".to_owned());
        Ok(command)
    }
}

/// A Slurm job's observer: each record the node writes is logged for the dispatcher, which
/// writes the reports.
struct JobObserver {
    log: JobLog,
}

/// What the executors are told of the request.
fn run_options(request: &RunRequest, estimates: HashMap<String, u64>) -> RunOptions {
    RunOptions {
        grace: request.grace,
        progress_bars: request.progress_bars,
        estimates,
        job: request.job.clone(),
        stop_after: request.stop_after,
        busy_threshold: request.busy_threshold,
        quiet_host: request.quiet_host,
    }
}

impl Observer for JobObserver {
    fn recorded(&mut self, record: &CellRecord) -> Vec<Notice> {
        match self.log.recorded(record) {
            Ok(()) => Vec::new(),
            Err(error) => vec![Notice::warning(format!("cannot write `{}`: {error}", self.log.path().display()))],
        }
    }

    fn finished(&mut self, _experiment: &str) -> Vec<Notice> {
        Vec::new()
    }
}

/// The reporter as the run's observer: the reports and the page are rewritten as records land
/// (not more often than their writing time allows) and a report is written once its
/// experiment is done.
struct ReportObserver<'a> {
    reporter: Reporter<'a>,
    /// `results/index.html`, rewritten as records land like the reports.
    page: PageWriter<'a>,
    /// Page writes that failed while cells landed, and the last error: said once, counted at
    /// the end.
    page_failures: Option<(usize, String)>,
    /// The time spent writing the reports and the page.
    reporting: std::time::Duration,
    /// What the run did, as it happens.
    journal: RunJournal,
    store: &'a crate::store::Store,
    /// Experiments whose report this run wrote at their end.
    finished: BTreeSet<String>,
    /// Per experiment, report writes that failed while cells landed (a full disk fails every
    /// one), and the last error: said once, and counted at the end.
    failed_writes: BTreeMap<String, (usize, String)>,
}

impl ReportObserver<'_> {
    /// Every selected experiment's report at the end of the run: written when its cells were
    /// done, and again with what landed after (adaptive rounds decided between passes),
    /// unchanged files left alone; then the report writes that failed.
    fn last_reports(&mut self, selected: &[String]) -> Vec<Notice> {
        let mut notes = Vec::new();
        for experiment in selected {
            if self.finished.contains(experiment) {
                // Written at its end, and nothing of it landed since.
                if self.reporter.is_current(experiment) {
                    continue;
                }
                if let Err(error) = self.reporter.write(self.store, experiment) {
                    notes.push(Notice::warning(format!("cannot write the report of `{experiment}`: {error}")));
                }
            } else {
                notes.extend(self.finished(experiment));
            }
        }
        notes.extend(self.failed_writes());
        notes
    }

    /// The page writes that failed while cells landed, in one line.
    fn page_failures(&self) -> Option<Notice> {
        let (count, error) = self.page_failures.as_ref()?;
        Some(Notice::warning(format!(
            "the page could not be written {count} time(s) in this run (last: {error}); `bakeoff report` writes it \
             from the store once there is room"
        )))
    }

    /// The report writes that failed, a line per experiment.
    fn failed_writes(&self) -> Vec<Notice> {
        self.failed_writes
            .iter()
            .map(|(experiment, (count, error))| {
                Notice::warning(format!(
                    "the report of `{experiment}` could not be written {count} time(s) in this run (last: \
                     {error}); `bakeoff report {experiment}` writes it from the store once there is room"
                ))
            })
            .collect()
    }
}

impl Observer for ReportObserver<'_> {
    /// Rewrites the report of every experiment that shows the record (two experiments with
    /// a cell of the same inputs share it).
    fn recorded(&mut self, record: &CellRecord) -> Vec<Notice> {
        self.journal.recorded(record);
        let writing = Instant::now();
        // What the store holds of the cell: a skip or a block keeps an earlier result, and the
        // reports and the page show the store.
        let stored = self.store.read(&record.hash).ok().flatten();
        let record = stored.as_ref().unwrap_or(record);
        let mut notes = Vec::new();
        for experiment in self.reporter.add(record) {
            if let Err(error) = self.reporter.write_soon(self.store, &experiment) {
                let failed = self.failed_writes.entry(experiment.clone()).or_default();
                failed.0 += 1;
                failed.1 = error.to_string();
                // Said once; the rest are counted at the end of the run.
                if failed.0 == 1 {
                    notes.push(Notice::warning(format!("cannot write the report of `{experiment}`: {error}")));
                }
            }
        }
        self.page.add(record);
        if let Err(error) = self.page.write_soon() {
            let failed = self.page_failures.get_or_insert_with(|| (0, String::new()));
            failed.0 += 1;
            failed.1 = error.to_string();
            if failed.0 == 1 {
                notes.push(Notice::warning(error.to_string()));
            }
        }
        self.reporting += writing.elapsed();
        notes
    }

    fn noted(&mut self, notice: &Notice) {
        self.journal.noted(notice);
    }

    fn finished(&mut self, experiment: &str) -> Vec<Notice> {
        let writing = Instant::now();
        self.finished.insert(experiment.to_owned());
        // Written after its last cell landed: the same bytes again.
        if self.reporter.is_current(experiment) {
            return vec![Notice::info(format!("report: {}", shown(&self.store.report_path(experiment)).display()))];
        }
        let notes = match self.reporter.write(self.store, experiment) {
            Ok(path) => vec![Notice::info(format!("report: {}", shown(&path).display()))],
            Err(error) => vec![Notice::warning(format!("cannot write the report of `{experiment}`: {error}"))],
        };
        self.reporting += writing.elapsed();
        notes
    }
}

/// What a run resolves once (a pass changes what the store holds, not the cells or the
/// toolboxes), handed to each pass: moved into the only pass of a run without a search,
/// copied when a search may take more.
struct Resolved {
    cells: Vec<crate::fingerprint::ResolvedCell>,
    toolboxes: BTreeMap<String, crate::fingerprint::ToolboxState>,
    /// The report covers every cell, also those `--only` leaves out of this run.
    expected: Vec<ExpectedCell>,
    one_pass: bool,
}

type Pass =
    (Vec<crate::fingerprint::ResolvedCell>, BTreeMap<String, crate::fingerprint::ToolboxState>, Vec<ExpectedCell>);

impl Resolved {
    fn new(
        (cells, toolboxes): (Vec<crate::fingerprint::ResolvedCell>, BTreeMap<String, crate::fingerprint::ToolboxState>),
        loaded: &Loaded,
    ) -> Self {
        let expected = cells.iter().map(ExpectedCell::of).collect();
        let one_pass = loaded.experiments().iter().all(|experiment| experiment.search.is_none());
        Self { cells, toolboxes, expected, one_pass }
    }

    fn for_pass(&mut self) -> Pass {
        if self.one_pass {
            (std::mem::take(&mut self.cells), std::mem::take(&mut self.toolboxes), std::mem::take(&mut self.expected))
        } else {
            (self.cells.clone(), self.toolboxes.clone(), self.expected.clone())
        }
    }
}

/// The most passes a run makes/// The most passes a run makes: a search over a million grid points needs 21.
const MAX_PASSES: u32 = 64;

/// What the passes of one run did, added up: each cell counted once, by what the first pass
/// that planned it said of it, and what ran in each.
#[derive(Default)]
struct Passes {
    count: u32,
    seen: BTreeSet<String>,
    summary: RunSummary,
    /// Time spent in earlier passes (planning and measuring), not this pass's planning.
    spent: std::time::Duration,
    /// Cells an earlier pass ran, and the ones the last pass was to run.
    ran: BTreeSet<String>,
    last_run: BTreeSet<String>,
    /// When the run started: what a pass wrote is newer.
    started_unix_ms: u64,
    /// Experiments whose report a pass wrote at their end.
    finished: BTreeSet<String>,
    /// Per experiment, the report writes that failed, and the last error.
    failed_writes: BTreeMap<String, (usize, String)>,
    /// The time the passes spent writing reports and the page.
    reporting: std::time::Duration,
}

impl Passes {
    /// Says what the coming pass measures for the searches, and whether there is a pass to
    /// make: the first always is; a later one only with probes to measure.
    fn announce(&self, planned: &[PlannedCell], searches: &[crate::plan::SearchState]) -> bool {
        let to_run: BTreeSet<&str> = planned
            .iter()
            .filter(|cell| matches!(cell.decision, Decision::Run(_)))
            .map(|cell| cell.cell.hash.as_str())
            .collect();
        if self.count > 0 {
            if to_run.is_empty() {
                return false;
            }
            // The same probes as the pass before: they could not be measured (refused by the
            // cluster, skipped), and planning again would not change that.
            if to_run.iter().all(|hash| self.last_run.contains(*hash)) {
                crate::console::errln!(
                    "warning: search: {} probe(s) the last pass was to measure have no result; the search stops here \
                     (`bakeoff plan` says why)",
                    to_run.len()
                );
                return false;
            }
            if self.count >= MAX_PASSES {
                crate::console::errln!("warning: search: stopped after {MAX_PASSES} passes with probes left");
                return false;
            }
            crate::console::errln!("search: pass {} measures {} probe(s)", self.count + 1, to_run.len());
        }
        for state in searches.iter().filter(|state| !state.next.is_empty()) {
            crate::console::errln!("{}", state.line());
        }
        true
    }

    /// Cells an earlier pass of this run ran are its results: `--force` and `--retry-failed`
    /// do not run them again in a later pass, which reads them as any cached result.
    fn measured(&self, planned: &mut [PlannedCell], store: &crate::store::Store) {
        use crate::store::Status;
        for cell in planned.iter_mut().filter(|cell| self.ran.contains(&cell.cell.hash)) {
            if !matches!(cell.decision, Decision::Run(RunReason::Forced | RunReason::RetryFailed { .. })) {
                continue;
            }
            // Only what this run measured: a cell it skipped or could not run keeps the head an
            // earlier run wrote, which is no result of this one.
            let Ok(Some(record)) = store.read(&cell.cell.hash) else { continue };
            if record.timings.started_unix_ms < self.started_unix_ms {
                continue;
            }
            cell.decision = match record.status {
                Status::Ok => Decision::Cached,
                Status::Failed | Status::TimedOut => Decision::FailedBefore {
                    reason: record.failure.map_or_else(|| record.status.words().to_owned(), |failure| failure.reason),
                },
                Status::Blocked | Status::Skipped => continue,
            };
        }
    }

    /// What a pass's observer kept: the reports it finished and the writes that failed.
    fn absorb(&mut self, observer: &mut ReportObserver<'_>) {
        self.finished.append(&mut observer.finished);
        self.reporting += std::mem::take(&mut observer.reporting);
        for (experiment, (count, error)) in std::mem::take(&mut observer.failed_writes) {
            let failed = self.failed_writes.entry(experiment).or_default();
            failed.0 += count;
            failed.1 = error;
        }
    }

    fn add(
        &mut self,
        planned: &[PlannedCell],
        pass: RunSummary,
        planning: std::time::Duration,
        took: std::time::Duration,
    ) {
        // The executor counts every cell of its plan; a later pass plans again cells an earlier
        // one counted (a probe measured then, cached now): those are taken off.
        let (mut again, mut cached, mut blocked, mut failed_before) = (0, 0, 0, 0);
        self.last_run.clear();
        for cell in planned {
            if matches!(cell.decision, Decision::Run(_)) {
                self.ran.insert(cell.cell.hash.clone());
                self.last_run.insert(cell.cell.hash.clone());
            }
            // Counted by an earlier pass (not this one: two experiments may share a cell).
            if !self.seen.contains(&cell.cell.hash) {
                continue;
            }
            again += 1;
            match cell.decision {
                Decision::Cached => cached += 1,
                Decision::Blocked { .. } => blocked += 1,
                Decision::FailedBefore { .. } => failed_before += 1,
                Decision::Run(_) => {}
            }
        }
        self.seen.extend(planned.iter().map(|cell| cell.cell.hash.clone()));
        let total = &mut self.summary;
        total.cells += pass.cells.saturating_sub(again);
        total.cached += pass.cached.saturating_sub(cached);
        total.blocked += pass.blocked.saturating_sub(blocked);
        total.failed_before += pass.failed_before.saturating_sub(failed_before);
        total.ok += pass.ok;
        total.failed += pass.failed;
        total.skipped += pass.skipped;
        total.partly += pass.partly;
        total.interrupted = pass.interrupted;
        total.signal = pass.signal;
        let time = &mut total.time;
        time.planning += planning;
        time.measuring += pass.time.measuring;
        time.loading += pass.time.loading;
        time.failing += pass.time.failing;
        time.waiting += pass.time.waiting;
        time.on_nodes += pass.time.on_nodes;
        self.spent += planning + took;
        self.count += 1;
    }

    fn last_interrupted(&self) -> bool {
        self.summary.interrupted
    }

    fn summary(&self) -> RunSummary {
        self.summary
    }
}

/// The plan with each set of inputs to measure once: two selected experiments with a cell of
/// the same inputs (the same hash) share its record, so the second cell is not run again.
fn measured_once(planned: Vec<PlannedCell>) -> Vec<PlannedCell> {
    let mut running: BTreeSet<String> = BTreeSet::new();
    planned
        .into_iter()
        .filter(|cell| !matches!(cell.decision, Decision::Run(_)) || running.insert(cell.cell.hash.clone()))
        .collect()
}

/// How long each cell to run took last time: its own earlier result (a forced or retried
/// cell), else the nearest earlier result of its experiment and workload.
fn estimates(project: &Project, planned: &[PlannedCell], records: &[CellRecord]) -> HashMap<String, u64> {
    let history = History::new(records, planned.iter().map(|cell| cell.cell.hash.as_str()));
    planned
        .iter()
        .filter(|cell| matches!(cell.decision, Decision::Run(_)))
        .filter_map(|planned| {
            let duration = match project.store.read(&planned.cell.hash) {
                Ok(Some(own)) => own.timings.duration_ms,
                _ => history.nearest(&planned.cell)?.0.timings.duration_ms,
            };
            (duration > 0).then(|| (planned.cell.hash.clone(), duration))
        })
        .collect()
}

/// Says, before the first cell runs, where the run's results are shown as they land: the
/// report of each experiment with cells to run, and the page.
fn say_where_results_go(project: &Project, loaded: &Loaded, planned: &[PlannedCell]) {
    let running: BTreeSet<&str> = planned
        .iter()
        .filter(|cell| matches!(cell.decision, Decision::Run(_)))
        .map(|cell| cell.cell.cell.experiment.as_str())
        .collect();
    if running.is_empty() {
        return;
    }
    let reports: Vec<String> = loaded
        .selected
        .iter()
        .filter(|experiment| running.contains(experiment.as_str()))
        .map(|experiment| shown(&project.store.report_path(experiment)).display().to_string())
        .collect();
    crate::console::errln!(
        "results as cells finish: {}; page: {}",
        reports.join(", "),
        shown(&project.store.index_path()).display()
    );
}
