//! Slurm's command-line clients (`sinfo`, `sbatch`, `squeue`, `scontrol`, `scancel`): every
//! call is a short question with a time limit, so a controller that does not answer is an
//! error with its reason, never a hang.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::SlurmError;
use crate::process::{Exit, Launch, capture};

/// How long a Slurm client may take to answer (slurmctld answers in milliseconds when up).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// Job ids per `squeue` call, to keep its command line short.
const IDS_PER_QUERY: usize = 500;
/// The first pause between two polls of `squeue`; it doubles while nothing changes.
pub(super) const FIRST_POLL: Duration = Duration::from_millis(250);

/// The cluster's clients, found on PATH, and the partition jobs go to.
pub(super) struct Slurm {
    sbatch: PathBuf,
    squeue: PathBuf,
    sinfo: PathBuf,
    scontrol: PathBuf,
    scancel: PathBuf,
    pub(super) partition: Option<String>,
}

/// A node of the partition, as `sinfo` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Node {
    pub(super) name: String,
    pub(super) features: Vec<String>,
    /// `idle`, `mix`, `alloc`, `down*`, `drain`, `futr`, …
    pub(super) state: String,
}

impl Node {
    /// Whether a job can start on it now or once it is free: up, responding and not drained.
    pub(super) fn usable(&self) -> bool {
        const NOT: [&str; 7] = ["down", "drain", "drng", "fail", "futr", "future", "maint"];
        !self.state.ends_with('*') && !NOT.iter().any(|state| self.state.starts_with(state))
    }
}

/// A job's state as Slurm names it (`squeue --format=%T`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SlurmState {
    Pending,
    Configuring,
    Running,
    Completed,
    Failed,
    Cancelled,
    Timeout,
    NodeFail,
    Preempted,
    OutOfMemory,
    BootFail,
    Deadline,
    Revoked,
    /// Any other word (`COMPLETING`, `SUSPENDED`, …), kept as Slurm wrote it.
    Other(String),
}

impl SlurmState {
    pub(super) fn parse(word: &str) -> Self {
        match word {
            "PENDING" => Self::Pending,
            "CONFIGURING" => Self::Configuring,
            "RUNNING" => Self::Running,
            "COMPLETED" => Self::Completed,
            "FAILED" => Self::Failed,
            "CANCELLED" => Self::Cancelled,
            "TIMEOUT" => Self::Timeout,
            "NODE_FAIL" => Self::NodeFail,
            "PREEMPTED" => Self::Preempted,
            "OUT_OF_MEMORY" => Self::OutOfMemory,
            "BOOT_FAIL" => Self::BootFail,
            "DEADLINE" => Self::Deadline,
            "REVOKED" => Self::Revoked,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Whether the job is over: Slurm will not run it (any more).
    pub(super) fn is_final(&self) -> bool {
        !matches!(self, Self::Pending | Self::Configuring | Self::Running | Self::Other(_))
    }

    /// Whether Slurm itself ended the job (a cancellation, its time limit, its node, memory),
    /// so that a cell it killed failed because of the job, not of itself.
    pub(super) fn ended_by_slurm(&self) -> bool {
        matches!(self, Self::Cancelled | Self::Timeout | Self::NodeFail | Self::Preempted | Self::OutOfMemory)
    }

    /// Whether the job's program is (about to be) running on a node.
    pub(super) fn is_running(&self) -> bool {
        matches!(self, Self::Running | Self::Configuring)
    }
}

impl std::fmt::Display for SlurmState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let word = match self {
            Self::Pending => "PENDING",
            Self::Configuring => "CONFIGURING",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::Timeout => "TIMEOUT",
            Self::NodeFail => "NODE_FAIL",
            Self::Preempted => "PREEMPTED",
            Self::OutOfMemory => "OUT_OF_MEMORY",
            Self::BootFail => "BOOT_FAIL",
            Self::Deadline => "DEADLINE",
            Self::Revoked => "REVOKED",
            Self::Other(word) => word,
        };
        formatter.write_str(word)
    }
}

/// Where a submitted job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct JobState {
    pub(super) state: SlurmState,
    /// Why it is pending or how it ended (`Resources`, `NonZeroExitCode`, …).
    pub(super) reason: String,
    /// The node it runs or ran on; empty while pending.
    pub(super) node: String,
}

impl JobState {
    /// Whether the job is over: Slurm will not run it (any more).
    pub(super) fn is_final(&self) -> bool {
        self.state.is_final()
    }
}

/// One batch job to submit.
#[derive(Debug, Clone)]
pub(super) struct JobSpec {
    pub(super) name: String,
    /// Every feature a node must have.
    pub(super) features: Vec<String>,
    /// The job's time limit; Slurm ends it (TIMEOUT) after this.
    pub(super) minutes: u64,
    /// Where the job's stdout and stderr go: `%j` is the job id.
    pub(super) output: PathBuf,
    pub(super) directory: PathBuf,
    /// The shell command the job runs.
    pub(super) command: String,
}

/// Why a job was not submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refused {
    /// No node of the partition can ever run it (its features, its size): its cells are blocked.
    Unsatisfiable(String),
    /// Anything else (the controller went away, a limit): its cells fail with the reason.
    Other(String),
}

impl Slurm {
    /// Finds every client bakeoff uses on PATH, naming the first one missing.
    pub(super) fn find(partition: Option<String>) -> Result<Self, SlurmError> {
        let find = |name: &str| which::which(name).map_err(|_| SlurmError::ClientMissing { client: name.to_owned() });
        Ok(Self {
            sbatch: find("sbatch")?,
            squeue: find("squeue")?,
            sinfo: find("sinfo")?,
            scontrol: find("scontrol")?,
            scancel: find("scancel")?,
            partition,
        })
    }

    /// The nodes of the partition jobs go to (the cluster's default partition when none is
    /// given). An error when the controller does not answer or the partition has no node.
    pub(super) async fn nodes(&self) -> Result<Vec<Node>, SlurmError> {
        let mut args = vec!["--noheader".to_owned(), "--Node".to_owned(), "--format=%N|%f|%t|%P".to_owned()];
        if let Some(partition) = &self.partition {
            args.push(format!("--partition={partition}"));
        }
        let output = ask(&self.sinfo, args).await?;
        let nodes = parse_nodes(&output, self.partition.is_none());
        if nodes.is_empty() {
            return Err(SlurmError::NoNodes { partition: self.partition.clone() });
        }
        Ok(nodes)
    }

    /// Submits `spec` and returns the job's id. A partition whose `MaxTime` is below the
    /// job's time limit refuses it: it is submitted again with the partition's own limit.
    pub(super) async fn submit(&self, spec: &JobSpec) -> Result<u64, Refused> {
        match self.submit_with(spec, Some(spec.minutes.max(1))).await {
            Err(Refused::Other(reason)) if reason.contains("time limit") => self.submit_with(spec, None).await,
            submitted => submitted,
        }
    }

    async fn submit_with(&self, spec: &JobSpec, minutes: Option<u64>) -> Result<u64, Refused> {
        let mut args = vec![
            "--parsable".to_owned(),
            "--exclusive".to_owned(),
            // bakeoff on the node finds what this one found: PATH, BAKEOFF_MODELS, …
            "--export=ALL".to_owned(),
            format!("--job-name={}", spec.name),
            format!("--output={}", spec.output.display()),
            format!("--chdir={}", spec.directory.display()),
        ];
        if let Some(minutes) = minutes {
            args.push(format!("--time={minutes}"));
        }
        if let Some(partition) = &self.partition {
            args.push(format!("--partition={partition}"));
        }
        if !spec.features.is_empty() {
            args.push(format!("--constraint={}", spec.features.join("&")));
        }
        args.push(format!("--wrap={}", spec.command));
        let output = ask(&self.sbatch, args).await.map_err(|error| classify_refusal(&error.to_string()))?;
        parse_job_id(&output).ok_or_else(|| Refused::Other(format!("sbatch printed no job id: `{output}`")))
    }

    /// The state of each job in `ids` that Slurm still knows (finished jobs are forgotten
    /// `MinJobAge` seconds after they end).
    pub(super) async fn states(&self, ids: &[u64]) -> Result<HashMap<u64, JobState>, SlurmError> {
        let mut states = HashMap::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let list = chunk.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
            let args = vec![
                "--noheader".to_owned(),
                "--states=all".to_owned(),
                format!("--jobs={list}"),
                "--format=%i|%T|%r|%N".to_owned(),
            ];
            match ask(&self.squeue, args).await {
                Ok(output) => states.extend(parse_states(&output)),
                // Every job of the chunk is forgotten: squeue refuses the whole list.
                Err(error) if error.message().contains("Invalid job id") => {}
                Err(error) => return Err(error),
            }
        }
        Ok(states)
    }

    /// A finished job's exit code and the signal that ended it (`ExitCode=3:0`), while Slurm
    /// remembers the job.
    pub(super) async fn exit_code(&self, id: u64) -> Option<(i32, i32)> {
        let output =
            ask(&self.scontrol, vec!["show".to_owned(), "job".to_owned(), id.to_string(), "--oneliner".to_owned()])
                .await
                .ok()?;
        parse_exit_code(&output)
    }

    /// Sends `signal` to the batch step of each of `ids` alone: the process the job's script
    /// became, not its children.
    pub(super) async fn signal_batch(&self, ids: &[u64], signal: &str) -> Result<(), SlurmError> {
        if ids.is_empty() {
            return Ok(());
        }
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let mut args = vec!["--quiet".to_owned(), "--batch".to_owned(), format!("--signal={signal}")];
            args.extend(chunk.iter().map(u64::to_string));
            ask(&self.scancel, args).await?;
        }
        Ok(())
    }

    /// Cancels `ids` (those already over are left as they are).
    pub(super) async fn cancel(&self, ids: &[u64]) -> Result<(), SlurmError> {
        if ids.is_empty() {
            return Ok(());
        }
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let mut args = vec!["--quiet".to_owned()];
            args.extend(chunk.iter().map(u64::to_string));
            ask(&self.scancel, args).await?;
        }
        Ok(())
    }
}

/// Runs a client and returns its stdout, or what went wrong with its message.
async fn ask(program: &Path, args: Vec<String>) -> Result<String, SlurmError> {
    let launch = Launch::plain(program, args);
    let result = capture(&launch, ANSWER_TIMEOUT)
        .await
        .map_err(|error| SlurmError::CannotRun { command: launch.display(), reason: error.to_string() })?;
    let client =
        program.file_name().map_or_else(|| program.display().to_string(), |name| name.to_string_lossy().into());
    match result.exit {
        Exit::Code(0) => Ok(String::from_utf8_lossy(&result.stdout).into_owned()),
        Exit::TimedOut => Err(SlurmError::NoAnswer { client, seconds: ANSWER_TIMEOUT.as_secs() }),
        exit => {
            let output = String::from_utf8_lossy(&result.combined);
            let message = output.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join("; ");
            Err(SlurmError::Failed { client, how: exit.to_string(), message })
        }
    }
}

/// `%N|%f|%t|%P` lines → nodes; with `default_only`, the nodes of the default partition
/// (`bench*`). A node in several partitions is listed once per partition: kept once.
fn parse_nodes(output: &str, default_only: bool) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for line in output.lines() {
        let fields: Vec<&str> = line.trim().split('|').collect();
        let [name, features, state, partition] = fields[..] else { continue };
        if default_only && !partition.ends_with('*') {
            continue;
        }
        if nodes.iter().any(|node| node.name == name) {
            continue;
        }
        let features = features
            .split(',')
            .map(str::trim)
            .filter(|feature| !feature.is_empty() && *feature != "(null)")
            .map(str::to_owned);
        nodes.push(Node { name: name.to_owned(), features: features.collect(), state: state.to_owned() });
    }
    nodes
}

/// `42` or `42;cluster` (`--parsable`).
fn parse_job_id(output: &str) -> Option<u64> {
    output.trim().split(';').next()?.trim().parse().ok()
}

/// `%i|%T|%r|%N` lines → states by job id.
fn parse_states(output: &str) -> HashMap<u64, JobState> {
    output
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.trim().split('|').collect();
            let [id, state, reason, node] = fields[..] else { return None };
            let reason = if reason == "None" { "" } else { reason };
            Some((
                id.parse().ok()?,
                JobState { state: SlurmState::parse(state), reason: reason.to_owned(), node: node.to_owned() },
            ))
        })
        .collect()
}

/// `… ExitCode=3:0 …` → (3, 0).
fn parse_exit_code(output: &str) -> Option<(i32, i32)> {
    let field = output.split_whitespace().find_map(|field| field.strip_prefix("ExitCode="))?;
    let (code, signal) = field.split_once(':')?;
    Some((code.parse().ok()?, signal.parse().ok()?))
}

/// sbatch's refusals that no waiting can cure are about what the job asks of a node.
fn classify_refusal(reason: &str) -> Refused {
    const UNSATISFIABLE: [&str; 3] = [
        "Invalid feature specification",
        "Requested node configuration is not available",
        "Node count specification invalid",
    ];
    if UNSATISFIABLE.iter().any(|words| reason.contains(words)) {
        Refused::Unsatisfiable(reason.to_owned())
    } else {
        Refused::Other(reason.to_owned())
    }
}

/// Why no node of the partition can run a job that needs `features`; `None` when one can.
pub(super) fn unsatisfiable(nodes: &[Node], features: &[String], partition: Option<&str>) -> Option<String> {
    let has_all = |node: &&Node| features.iter().all(|feature| node.features.contains(feature));
    if nodes.iter().filter(|node| node.usable()).any(|node| has_all(&node)) {
        return None;
    }
    let partition = partition.map_or_else(|| "the default partition".to_owned(), |name| format!("partition `{name}`"));
    let wanted = features.join("&");
    let down: Vec<String> =
        nodes.iter().filter(has_all).map(|node| format!("{} ({})", node.name, node.state)).collect();
    if !down.is_empty() {
        return Some(format!("the nodes of {partition} with `{wanted}` are not up: {}", down.join(", ")));
    }
    let missing: Vec<&str> = features
        .iter()
        .filter(|feature| !nodes.iter().any(|node| node.features.contains(feature)))
        .map(String::as_str)
        .collect();
    let mut there: Vec<&str> = nodes.iter().flat_map(|node| node.features.iter().map(String::as_str)).collect();
    there.sort_unstable();
    there.dedup();
    let there = if there.is_empty() { "none".to_owned() } else { there.join(", ") };
    Some(if missing.is_empty() {
        format!("no node of {partition} has all of `{wanted}` (its nodes' features: {there})")
    } else {
        let missing = missing.iter().map(|feature| format!("`{feature}`")).collect::<Vec<_>>().join(", ");
        format!("no node of {partition} has feature {missing} (its nodes' features: {there})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_come_from_sinfo_with_their_features_once_each() {
        let output = "gpu1|rocm,gfx1151|idle|bench*\ngpu1|rocm,gfx1151|idle|all\ncpu1|(null)|down*|all\n";
        let all = parse_nodes(output, false);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].features, ["rocm", "gfx1151"]);
        assert!(all[0].usable());
        assert!(all[1].features.is_empty());
        assert!(!all[1].usable(), "a node that does not respond runs nothing");
        assert_eq!(parse_nodes(output, true).len(), 1, "only the default partition's nodes");
        for state in ["drain", "futr", "down", "maint"] {
            assert!(!Node { name: "n".into(), features: vec![], state: state.into() }.usable(), "{state}");
        }
        for state in ["idle", "mix", "alloc", "comp"] {
            assert!(Node { name: "n".into(), features: vec![], state: state.into() }.usable(), "{state}");
        }
    }

    #[test]
    fn job_ids_states_and_exit_codes_are_read() {
        assert_eq!(parse_job_id("42\n"), Some(42));
        assert_eq!(parse_job_id("42;cluster\n"), Some(42));
        assert_eq!(parse_job_id("sbatch: warning\n"), None);
        let states = parse_states("1|FAILED|NonZeroExitCode|localhost\n4|PENDING|Resources|\n3|RUNNING|None|n1\n");
        assert_eq!(states[&1].state, SlurmState::Failed);
        assert!(states[&1].is_final());
        assert!(!states[&4].is_final());
        assert_eq!(states[&3].reason, "", "`None` is no reason");
        assert_eq!(states[&3].node, "n1");
        assert_eq!(parse_exit_code("JobId=1 JobState=FAILED ExitCode=3:0 DerivedExitCode=0:0"), Some((3, 0)));
        assert_eq!(parse_exit_code("JobId=1"), None);
    }

    #[test]
    fn a_feature_no_node_has_is_unsatisfiable_and_a_dead_controller_is_not() {
        let refused = "`sbatch` failed (exit code 1): sbatch: error: Batch job submission failed: Invalid feature \
                       specification";
        assert!(matches!(classify_refusal(refused), Refused::Unsatisfiable(_)));
        let down = "`sbatch` failed (exit code 1): sbatch: error: Batch job submission failed: Unable to contact \
                    slurm controller (connect failure)";
        assert!(matches!(classify_refusal(down), Refused::Other(_)));
    }

    #[test]
    fn job_states_read_as_slurm_writes_them() {
        for word in ["PENDING", "RUNNING", "COMPLETED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "SUSPENDED"] {
            assert_eq!(SlurmState::parse(word).to_string(), word);
        }
        assert!(SlurmState::parse("CANCELLED").is_final() && SlurmState::parse("CANCELLED").ended_by_slurm());
        assert!(SlurmState::parse("FAILED").is_final() && !SlurmState::parse("FAILED").ended_by_slurm());
        assert!(!SlurmState::parse("CONFIGURING").is_final() && SlurmState::parse("CONFIGURING").is_running());
        assert!(!SlurmState::parse("SUSPENDED").is_final(), "an unknown state is not taken for an end");
    }

    fn node(name: &str, features: &[&str], state: &str) -> Node {
        Node {
            name: name.to_owned(),
            features: features.iter().map(|feature| (*feature).to_owned()).collect(),
            state: state.to_owned(),
        }
    }

    #[test]
    fn a_feature_no_up_node_has_is_named() {
        let nodes = [node("strix1", &["rocm", "gfx1151"], "idle"), node("epyc1", &["cpu"], "alloc")];
        let features = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
        assert_eq!(unsatisfiable(&nodes, &features(&["rocm", "gfx1151"]), None), None);
        assert_eq!(unsatisfiable(&nodes, &[], Some("bench")), None);
        let cuda = unsatisfiable(&nodes, &features(&["cuda"]), Some("bench")).unwrap();
        assert_eq!(cuda, "no node of partition `bench` has feature `cuda` (its nodes' features: cpu, gfx1151, rocm)");
        let apart = unsatisfiable(&nodes, &features(&["rocm", "cpu"]), None).unwrap();
        assert!(apart.starts_with("no node of the default partition has all of `rocm&cpu`"), "{apart}");
        let down = [node("strix1", &["rocm"], "down*"), node("strix2", &["rocm"], "drain")];
        let reason = unsatisfiable(&down, &features(&["rocm"]), None).unwrap();
        assert_eq!(reason, "the nodes of the default partition with `rocm` are not up: strix1 (down*), strix2 (drain)");
    }
}
