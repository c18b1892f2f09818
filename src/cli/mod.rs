//! The command line: argument definitions and dispatch to one file per command.

mod capture;
mod check;
mod compare;
mod gc;
mod host;
mod init;
mod lock;
mod log;
mod models;
mod plan;
mod report;
mod run;
mod toolbox;
mod why;

use std::path::PathBuf;

/// `print!` to stdout through [`write_out`]: a reader that went away ends the program quietly.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_out(&format!($($arg)*)) };
}

/// `println!` through [`write_out`].
macro_rules! outln {
    () => { $crate::cli::write_out("\n") };
    ($($arg:tt)*) => { $crate::cli::write_out(&format!("{}\n", format!($($arg)*))) };
}

pub(crate) use {out, outln};

use clap::{Args, Parser, Subcommand};

use crate::Error;
use crate::project::{Project, Settings};

/// A declarative experiment orchestrator for local LLM inference.
#[derive(Debug, Parser)]
#[command(name = "bakeoff", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Project directory (with experiments/, toolboxes/, results/ and bakeoff.lock).
    #[arg(short = 'C', long = "project", global = true, value_name = "DIR", default_value = ".")]
    pub project: PathBuf,
    /// Result store directory [default: PROJECT/results].
    #[arg(long, global = true, value_name = "DIR")]
    pub results: Option<PathBuf>,
    /// A model root: relative model files are looked up under it (repeatable; `BAKEOFF_MODELS` adds more).
    #[arg(long = "models", global = true, value_name = "DIR")]
    pub models: Vec<PathBuf>,
    /// Read host facts from this JSON file instead of probing this machine.
    #[arg(long, global = true, value_name = "FILE")]
    pub host_facts: Option<PathBuf>,
    /// Name this host in results and reports (`BAKEOFF_HOST_NAME` too) [default: the hostname].
    /// A label only: results are keyed by the host's id, made from its machine id.
    #[arg(long, global = true, value_name = "NAME")]
    pub host_name: Option<String>,
    /// Inspect every toolbox afresh (its llama.cpp build, missing programs, driver) instead of
    /// taking what the machine's inspection cache holds; what is found refreshes the cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// A storage root (`BAKEOFF_STORAGE` too): bakeoff's caches, temporary files and quality
    /// bases go under it, and every child it starts keeps its temporary files and its XDG,
    /// Hugging Face and pip folders under it (unless the manifest's `env` sets them).
    #[arg(long, global = true, value_name = "DIR")]
    pub storage: Option<PathBuf>,
    /// Colour in diagnostics: `auto` when stderr is a terminal and `NO_COLOR` is unset.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    /// Whether to colour what goes to stderr.
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty()) && std::io::stderr().is_terminal()
            }
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a project here (or in DIR): models.kdl from the GGUF files under the model roots,
    /// the host toolbox, a quickstart experiment, and results/ set up for git. Never overwrites.
    Init(InitArgs),
    /// Validate manifests and report every problem at once.
    Check(CheckArgs),
    /// Show, for each cell, whether it is cached, will run (and why), or is blocked.
    Plan(PlanArgs),
    /// Run every cell that has no result yet (and those --force or --retry-failed select).
    Run(RunArgs),
    /// Show this host's facts and which toolboxes' requirements they satisfy.
    Host(HostArgs),
    /// Create or update bakeoff.lock, printing what changed.
    Lock(TargetArgs),
    /// Show a cell's fingerprint and how it differs from the nearest earlier result.
    Why(WhyArgs),
    /// List the GGUF files under the model roots with their metadata, and which no manifest
    /// declares or no result has measured.
    Models(ModelsArgs),
    /// Write each experiment's report (results/EXPERIMENT/README.md and charts) from the store.
    Report(ReportArgs),
    /// Two hosts' results side by side: each metric with its ratio and whether Welch's t-test over
    /// the rounds calls the difference significant, and the host facts that differ.
    Compare(CompareArgs),
    /// Run the cells this host has no result for yet, then compare with the hosts that have.
    Reproduce(ReproduceArgs),
    /// Remove the records and logs that no experiment in the checkout refers to any more.
    Gc(GcArgs),
    /// Show the journal of what runs did (results/logs/journal.jsonl): each run's start and host,
    /// the cells it decided to run or found blocked, their outcomes, retries, stops, skips,
    /// signals and its end, oldest first; times in UTC.
    Log(LogArgs),
    /// Record a client's traffic to llama-server: a proxy that passes every request on to
    /// `--upstream` and streams every reply back as it arrives, writing one JSON line per request
    /// to a generation API (the body as sent, without credentials, and what the server answered)
    /// to `--out`. With `-- CLIENT ARGS…` it runs the client pointed at itself (`ANTHROPIC_BASE_URL`,
    /// `OPENAI_BASE_URL`, `{proxy}` in its arguments) and ends when the client exits.
    Capture(CaptureArgs),
    /// Realise the toolboxes the manifests declare: show, create or refresh their containers.
    #[command(subcommand)]
    Toolbox(ToolboxCommand),
}

#[derive(Debug, Subcommand)]
pub enum ToolboxCommand {
    /// Per toolbox: runner, image, its container and the image it was created from, whether the
    /// tag now points elsewhere, the llama.cpp build inside, its devices, and what stops it.
    Status(ToolboxStatusArgs),
    /// Create what is missing: toolbox and distrobox containers (pulling their image when it
    /// is not here), podman images. Existing containers are left as they are.
    Create(ToolboxNames),
    /// Pull each tag and recreate the containers whose image the tag no longer points at.
    Refresh(ToolboxRefreshArgs),
}

#[derive(Debug, Args)]
pub struct ToolboxNames {
    /// Toolbox names [default: every toolbox the manifests declare].
    #[arg(value_name = "NAMES")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ToolboxStatusArgs {
    #[command(flatten)]
    pub names: ToolboxNames,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
    /// Ask each toolbox afresh what is inside it, instead of the inspection cache.
    #[arg(long)]
    pub refresh: bool,
}

#[derive(Debug, Args)]
pub struct ToolboxRefreshArgs {
    #[command(flatten)]
    pub names: ToolboxNames,
    /// Do not pull: recreate containers from the image the tag names here now.
    #[arg(long)]
    pub no_pull: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project folder [default: the `-C` folder, `.`].
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Where llama.cpp's binaries are, when they are not on PATH (written as the host
    /// toolbox's `bin-dir`).
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The server to pass requests on to, e.g. `http://127.0.0.1:8080`.
    #[arg(long, value_name = "URL")]
    pub upstream: String,
    /// The trace file to write (JSON lines; replaced if it exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Where the proxy listens [default: 127.0.0.1 on a free port, printed at start].
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// The client to run against the proxy, after `--`.
    #[arg(last = true, value_name = "CLIENT")]
    pub client: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// List what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only this experiment's cells (with the start and end of the runs that had some).
    #[arg(value_name = "EXPERIMENT")]
    pub experiment: Option<String>,
    /// Only what went wrong: failed, timed-out, blocked and skipped cells, warnings (retries
    /// that gave up, stops) and signals.
    #[arg(long)]
    pub errors: bool,
    /// Only what happened since WHEN: back from now (`30m`, `2h`, `3d`) or a UTC date or time
    /// (`2026-12-04`, `2026-12-04T18:30`).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Print the entries as JSON lines, as the journal holds them.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    /// A host, by name, report label or the start of its id (repeatable): the first is the
    /// reference and the others are compared with it [default: this host against every other,
    /// or the host with the most results when this one has none].
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// The experiments to reproduce on this host.
    #[arg(value_name = "EXPERIMENTS", required = true)]
    pub experiments: Vec<String>,
    /// Rerun cells that failed here before.
    #[arg(long)]
    pub retry_failed: bool,
    /// Only cells whose axis matches (`axis=value`, globs allowed; repeatable).
    #[arg(long, value_name = "AXIS=VALUE")]
    pub only: Vec<String>,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub executor: ExecutorArgs,
}

/// How cells run: where, how progress shows, how long a stopped cell is given.
#[derive(Debug, Clone, Args)]
pub struct ExecutorArgs {
    /// Plain progress lines instead of progress bars.
    #[arg(long)]
    pub no_progress: bool,
    /// Seconds between SIGTERM and SIGKILL when a cell times out or is interrupted.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub grace: u64,
    /// After N failed or timed-out cells in a row on one toolbox, skip its other cells in this
    /// run (recorded as skipped; the next run runs them) [default: each experiment's `stop-after`,
    /// else never].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub stop_after: Option<u64>,
    /// Where cells run: `local` (this machine, one at a time) or `slurm` (one exclusive batch
    /// job per cell, load group or server group, on the nodes whose features the toolbox needs).
    #[arg(long, value_enum, default_value_t = ExecutorKind::Local)]
    pub executor: ExecutorKind,
    /// The Slurm partition jobs go to [default: the cluster's default partition].
    #[arg(long, value_name = "PARTITION")]
    pub partition: Option<String>,
    /// The share of the machine's CPUs that processes not of bakeoff's making may use, just
    /// before or during a cell, before its record warns that it ran on a busy host: a percentage
    /// (`20`, `20%`) or `off`. Other benchmarks, compiles and test suites on the machine all
    /// count [env: `BAKEOFF_BUSY_THRESHOLD`] [default: 20%]
    #[arg(long, value_name = "PERCENT|off")]
    pub busy_threshold: Option<String>,
    /// Before each cell, wait until other processes use no more of the CPUs than
    /// `--busy-threshold` (two quiet seconds in a row); after `--quiet-timeout` the cell runs
    /// anyway and its record carries the busy-host warning.
    #[arg(long)]
    pub quiet_host: bool,
    /// How long `--quiet-host` waits for the host to settle before each cell.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub quiet_timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecutorKind {
    Local,
    Slurm,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Manifest files or experiment names [default: every .kdl in experiments/ and toolboxes/].
    #[arg(value_name = "FILES|EXPERIMENTS")]
    pub targets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    /// List, per experiment and block, the metric names its cells record.
    #[arg(long)]
    pub produces: bool,
    /// Print as JSON, with what each block produces.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Print the plan as JSON.
    #[arg(long, conflicts_with = "dot")]
    pub json: bool,
    /// Print the plan's DAG in Graphviz DOT.
    #[arg(long)]
    pub dot: bool,
    #[command(flatten)]
    pub selection: SelectionArgs,
}

#[derive(Debug, Args)]
pub struct SelectionArgs {
    /// Rerun cells even when they are cached.
    #[arg(long)]
    pub force: bool,
    /// Rerun cells that failed before.
    #[arg(long)]
    pub retry_failed: bool,
    /// Only cells whose axis matches (`axis=value`, globs allowed; repeatable; `workload=NAME` too).
    #[arg(long, value_name = "AXIS=VALUE")]
    pub only: Vec<String>,
    /// Leave out cells whose axis matches (`axis=value`, globs allowed; repeatable).
    #[arg(long, value_name = "AXIS=VALUE")]
    pub except: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Run every bench cell in a llama-bench process of its own (a model load per cell),
    /// instead of one process for cells that differ only in per-test parameters.
    #[arg(long)]
    pub no_load_groups: bool,
    #[command(flatten)]
    pub executor: ExecutorArgs,
    /// Only the cells of these portable keys (what a Slurm job is given to run).
    #[arg(long = "only-key", value_name = "KEY", hide = true)]
    pub only_keys: Vec<String>,
    /// Run as the Slurm job this process is in: no report, no store lock, and a log of what
    /// was recorded for the dispatcher (`results/slurm/JOBID.jsonl`).
    #[arg(long, hide = true)]
    pub slurm_job: bool,
}

#[derive(Debug, Args)]
pub struct HostArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    /// `markdown` writes results/EXPERIMENT/README.md and its SVG charts and prints their
    /// paths; `json` prints the same tables to stdout and writes nothing.
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Markdown,
    Json,
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// A cell id (`experiment/axis=value,…/workload`) or a prefix of its hash.
    pub cell: String,
    /// Manifest files or experiment names to look in.
    #[arg(long = "in", value_name = "FILES|EXPERIMENTS")]
    pub targets: Vec<String>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

impl From<&GlobalArgs> for Settings {
    fn from(global: &GlobalArgs) -> Self {
        Self {
            project: global.project.clone(),
            results: global.results.clone(),
            models: global.models.clone(),
            host_facts: global.host_facts.clone(),
            host_name: global.host_name.clone(),
            no_cache: global.no_cache,
            storage: None,
        }
    }
}

/// Writes `text` to stdout. A reader that stopped reading (`bakeoff plan | head`) ends the
/// program quietly with exit code 0, as ripgrep does; any other write error is said once.
pub(crate) fn write_out(text: &str) {
    use std::io::Write;
    if let Err(error) = write_stdout(text) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        let _ = writeln!(std::io::stderr(), "error: cannot write to stdout: {error}");
        std::process::exit(crate::error::exit::FAILURE);
    }
}

/// [`write_out`] for what a command prints last before its exit code: a closed pipe is ignored
/// rather than ending the program with 0, so that a run with failed cells still exits 4.
pub(crate) fn write_out_keeping_going(text: &str) {
    let _ = write_stdout(text);
}

fn write_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush())
}

/// Runs a parsed command line; what it prints for people goes to stdout and stderr as it goes.
/// Call it while the process has one thread: a storage root (`--storage`) sets the process's
/// environment first, for every child to inherit.
pub fn run(cli: Cli) -> Result<(), Error> {
    let storage = crate::storage::Storage::from_settings(cli.global.storage.as_deref())?;
    if let Some(storage) = &storage {
        storage.apply_to_process();
    }
    let project = Project::new(&Settings { storage, ..Settings::from(&cli.global) });
    match cli.command {
        Command::Init(args) => init::run(&project, &cli.global, &args),
        Command::Check(args) => check::run(&project, &args),
        Command::Plan(args) => plan::run(&project, &args),
        Command::Run(args) => run::run(&project, &args),
        Command::Host(args) => host::run(&project, &args),
        Command::Lock(args) => lock::run(&project, &args),
        Command::Why(args) => why::run(&project, &args),
        Command::Report(args) => report::run(&project, &args),
        Command::Models(args) => models::run(&project, &args),
        Command::Compare(args) => compare::run(&project, &args),
        Command::Reproduce(args) => compare::reproduce(&project, &args),
        Command::Gc(args) => gc::run(&project, &args),
        Command::Log(args) => log::run(&project, &args),
        Command::Capture(args) => capture::run(&args),
        Command::Toolbox(command) => toolbox::run(&project, command),
    }
}
