//! `--executor slurm` against a real single-node Slurm (slurmctld, slurmd and munged, started by
//! `scripts/slurm.sh` from `scripts/test.sh`; node `localhost` with features `llama,cpu`):
//! cells run as jobs and record what a local run would, a feature no node has blocks instead
//! of pending, failures on the node and of the job are recorded with their reasons, Ctrl-C
//! leaves no job queued, and a missing or silent Slurm is one clear error.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bakeoff::store::{CellRecord, Status};

use crate::support::{Llama, interrupt, processes_matching, project, records};

/// The test cluster `scripts/test.sh` started.
pub(crate) struct Cluster {
    directory: PathBuf,
}

impl Cluster {
    pub(crate) fn get() -> Self {
        let variable = |name: &str| {
            std::env::var_os(name).unwrap_or_else(|| {
                panic!("{name} is not set: run the tests with scripts/test.sh, which starts a single-node Slurm")
            })
        };
        let _ = variable("SLURM_CONF");
        let cluster = Self { directory: PathBuf::from(variable("BAKEOFF_TEST_SLURM_DIR")) };
        let sinfo = Command::new("sinfo").args(["-h", "-N", "-o", "%N %f"]).output().expect("sinfo runs");
        assert!(sinfo.status.success(), "Slurm does not answer: {}", String::from_utf8_lossy(&sinfo.stderr));
        assert_eq!(String::from_utf8_lossy(&sinfo.stdout).trim(), "localhost llama,cpu");
        cluster
    }

    /// `(id, state)` of every job named `name` that started in `project` Slurm knows, finished
    /// ones too (a job's working directory tells one test's jobs from another's).
    fn jobs(&self, name: &str, project: &Path) -> Vec<(u64, String)> {
        let output = Command::new("squeue")
            .args(["-h", "--states=all", "-n", name, "-o", "%i %T %Z"])
            .output()
            .expect("squeue runs");
        let project = project.canonicalize().unwrap();
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| {
                let mut fields = line.splitn(3, ' ');
                let (id, state, directory) = (fields.next()?, fields.next()?, fields.next()?);
                (Path::new(directory) == project).then(|| Some((id.parse().ok()?, state.to_owned())))?
            })
            .collect()
    }

    /// The jobs of [`Self::jobs`] that are not over (pending, running, completing …).
    fn active(&self, name: &str, project: &Path) -> Vec<(u64, String)> {
        const OVER: [&str; 6] = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"];
        self.jobs(name, project).into_iter().filter(|(_, state)| !OVER.contains(&state.as_str())).collect()
    }

    /// jobcomp's line for job `id`.
    fn completion(&self, id: u64) -> Option<String> {
        let text = std::fs::read_to_string(self.directory.join("log/jobcomp.txt")).unwrap_or_default();
        text.lines().find(|line| line.starts_with(&format!("JobId={id} "))).map(str::to_owned)
    }

    /// Waits until `ready` holds, failing the test with `what` after two minutes.
    fn wait_for(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !ready() {
            assert!(Instant::now() < deadline, "waited two minutes for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Cancels jobs named `name` still there (after a failed assertion, nothing stays queued).
    fn cancel(&self, name: &str) {
        let _ = Command::new("scancel").args(["-n", name]).status();
    }
}

/// Cancels the test's jobs however the test ends.
pub(crate) struct Jobs<'a> {
    pub(crate) cluster: &'a Cluster,
    pub(crate) names: Vec<&'static str>,
}

impl Drop for Jobs<'_> {
    fn drop(&mut self) {
        for name in &self.names {
            self.cluster.cancel(name);
        }
    }
}

pub(crate) const NODES: &str = r#"toolbox "cpu-node" {
    runner "host"
    features "llama" "cpu"
}
toolbox "gpu-node" {
    runner "host"
    features "cuda"
}
"#;

const ON_NODES: &str = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "on-nodes" {
    matrix {
        model "gemma"
        toolbox "cpu-node" "gpu-node"
        threads 1 2
    }
    bench { args "-t" "{threads}" "-p" 8 "-n" 4 "-r" 2 "--repack" 0 }
    timeout 300
}
"#;

/// A project whose experiment `name` has one `sleep SECONDS` cell per value, each its own job.
fn sleeping(name: &str, seconds: &[&str]) -> tempfile::TempDir {
    let values = seconds.iter().map(|value| format!("\"{value}\"")).collect::<Vec<_>>().join(" ");
    let manifest = format!(
        "experiment \"{name}\" {{\n    matrix {{ seconds {values} }}\n    command {{ args \"sleep\" \"{{seconds}}\" }}\n}}\n"
    );
    project(&[("experiments/sleeping.kdl", manifest.as_str())])
}

/// A record without what differs between two measurements of the same cell on the same host:
/// the numbers, the raw output, when it ran, and which job ran it.
fn what_it_is(record: &CellRecord) -> serde_json::Value {
    let mut value = serde_json::to_value(record).unwrap();
    let object = value.as_object_mut().unwrap();
    for key in ["metrics", "raw", "timings", "slurm"] {
        object.remove(key);
    }
    value
}

/// The bench cells on the node with the features run as one job (one load group) that
/// jobcomp shows completed; the cells whose toolbox needs `cuda` are blocked naming it and
/// never queued; a rerun submits nothing; and a local run of the same cells records the same
/// cell hashes, fingerprints and host facts.
#[test]
fn bench_cells_run_as_jobs_and_record_what_a_local_run_does() {
    let cluster = Cluster::get();
    let _jobs = Jobs { cluster: &cluster, names: vec!["bakeoff-on-nodes"] };
    let llama = Llama::get();
    let directory = project(&[("toolboxes/nodes.kdl", NODES), ("experiments/on-nodes.kdl", ON_NODES)]);
    let run = llama.bakeoff(directory.path()).args(["run", "--no-progress", "--executor", "slurm"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "4 cells: 2 ran (2 ok, 0 failed), 0 cached, 2 blocked\n", "{}", run.stderr);
    let reason = "no node of the default partition has feature `cuda` (its nodes' features: cpu, llama)";
    assert_eq!(run.stderr.matches(reason).count(), 2, "{}", run.stderr);
    assert!(run.stderr.contains("submitted 1 Slurm job(s)"), "{}", run.stderr);

    let recorded = records(directory.path());
    let (ok, blocked): (Vec<_>, Vec<_>) = recorded.iter().partition(|record| record.status == Status::Ok);
    assert_eq!(ok.len(), 2, "{recorded:#?}");
    let job = ok[0].slurm.clone().expect("a record from a Slurm job says which");
    assert_eq!(job.node, "localhost");
    assert!(ok.iter().all(|record| record.slurm.as_ref() == Some(&job)), "one load group, one job");
    for record in &ok {
        assert!(record.metrics["tg4"].mean > 0.0 && record.metrics["pp8"].mean > 0.0, "{}", record.cell);
        assert_eq!(record.axes["toolbox"], "cpu-node");
    }
    for record in &blocked {
        assert_eq!(record.status, Status::Blocked);
        assert_eq!(record.failure.as_ref().unwrap().reason, reason);
    }
    let completion = cluster.completion(job.job_id).expect("jobcomp has the job");
    assert!(completion.contains("JobState=COMPLETED") && completion.contains("Name=bakeoff-on-nodes"), "{completion}");
    assert_eq!(cluster.jobs("bakeoff-on-nodes", directory.path()).len(), 1, "the blocked cells were never submitted");
    assert!(cluster.active("bakeoff-on-nodes", directory.path()).is_empty());
    let ignore = std::fs::read_to_string(directory.path().join("results/slurm/.gitignore")).unwrap();
    assert!(ignore.lines().any(|line| line == "*"), "job logs are not results to commit: {ignore}");
    // The dispatcher wrote the report from the node's records.
    let report = std::fs::read_to_string(directory.path().join("results/on-nodes/README.md")).unwrap();
    assert!(report.contains("tg4"), "{report}");

    let again = llama.bakeoff(directory.path()).args(["run", "--no-progress", "--executor", "slurm"]).run();
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, "4 cells: 0 ran (0 ok, 0 failed), 2 cached, 2 blocked\n", "{}", again.stderr);
    assert!(!again.stderr.contains("submitted"), "{}", again.stderr);
    assert_eq!(cluster.jobs("bakeoff-on-nodes", directory.path()).len(), 1, "a cached cell is no job");

    let local_store = tempfile::tempdir().unwrap();
    let local = llama
        .bakeoff(directory.path())
        .arg("--results")
        .arg(local_store.path())
        .args(["run", "--no-progress", "--only", "toolbox=cpu-node"])
        .run();
    assert_eq!(local.code, 0, "{}", local.stderr);
    let (local_records, errors) = bakeoff::store::Store::new(local_store.path().to_path_buf()).scan();
    assert!(errors.is_empty());
    assert_eq!(local_records.len(), 2);
    for local in &local_records {
        assert_eq!(local.slurm, None);
        let remote = ok.iter().find(|record| record.hash == local.hash).expect("the same cell hash on the node");
        assert_eq!(what_it_is(local), what_it_is(remote), "records differ beyond their measurements");
    }
}

const FAILING: &str = r#"experiment "exits-on-node" {
    command { args "sh" "-c" "echo boom >&2; exit 3" }
    retries 1
}
experiment "cancelled-on-node" {
    command { args "sleep" "31.4159" }
    retries 1
}
"#;

/// A cell that fails on the node is recorded by the node with its exit code, after its retry;
/// a job cancelled from outside is recorded failed with the job's state and log tail, and not
/// submitted again (a cancellation is someone's decision); nothing is left running.
#[test]
fn failures_on_the_node_and_of_the_job_are_recorded_with_their_reasons() {
    let cluster = Cluster::get();
    let _jobs = Jobs { cluster: &cluster, names: vec!["bakeoff-exits-on-node", "bakeoff-cancelled-on-node"] };
    let llama = Llama::get();
    let directory = project(&[("experiments/failing.kdl", FAILING)]);
    let run = SlurmRun::start(&llama, directory.path());
    cluster.wait_for("the sleeping cell's job to run", || {
        cluster.jobs("bakeoff-cancelled-on-node", directory.path()).iter().any(|(_, state)| state == "RUNNING")
            && processes_matching("sleep 31.4159") > 0
    });
    let (id, _) = cluster.jobs("bakeoff-cancelled-on-node", directory.path())[0].clone();
    assert!(Command::new("scancel").arg(id.to_string()).status().unwrap().success());
    let (code, stdout, stderr) = run.finish();
    assert_eq!(code, Some(4), "{stderr}");
    assert_eq!(stdout, "2 cells: 2 ran (0 ok, 2 failed), 0 cached, 0 blocked\n", "{stderr}");
    assert!(!stderr.contains("submitting its"), "a cancelled job is not resubmitted: {stderr}");

    let recorded = records(directory.path());
    let exits = recorded.iter().find(|record| record.experiment == "exits-on-node").unwrap();
    assert_eq!(exits.status, Status::Failed);
    let failure = exits.failure.as_ref().unwrap();
    assert_eq!((failure.reason.as_str(), failure.exit_code), ("exit code 3", Some(3)));
    assert_eq!(failure.log_tail, ["boom"]);
    assert_eq!(exits.attempts, 2, "retried on the node");
    assert!(exits.slurm.is_some());

    let cancelled = recorded.iter().find(|record| record.experiment == "cancelled-on-node").unwrap();
    assert_eq!(cancelled.status, Status::Failed);
    let failure = cancelled.failure.as_ref().unwrap();
    assert!(failure.reason.starts_with(&format!("Slurm job {id} ended CANCELLED on localhost")), "{failure:?}");
    assert!(failure.log_tail.iter().any(|line| line.contains("CANCELLED")), "slurmstepd's line: {failure:?}");
    assert_eq!(cancelled.slurm.as_ref().map(|job| job.job_id), Some(id));
    assert_eq!(cancelled.attempts, 1);
    // The node's own fingerprint: the record is the cell's, not an approximation.
    let plan = llama.bakeoff(directory.path()).args(["plan"]).run();
    assert!(
        crate::support::without_short_hashes(&plan.stdout)
            .contains("failed before cancelled-on-node/toolbox=host/command  Slurm job"),
        "{}",
        plan.stdout
    );
    assert_eq!(processes_matching("sleep 31.4159"), 0);
    assert!(
        cluster.active("bakeoff-exits-on-node", directory.path()).is_empty()
            && cluster.active("bakeoff-cancelled-on-node", directory.path()).is_empty()
    );
}

/// Ctrl-C while one job runs and others wait: every job is cancelled (none left in the queue),
/// bakeoff exits 130, the cell in flight is stopped and nothing is recorded for the cells that
/// did not finish.
#[test]
fn ctrl_c_cancels_every_job_it_submitted() {
    let cluster = Cluster::get();
    let name = "bakeoff-interrupted-on-node";
    let _jobs = Jobs { cluster: &cluster, names: vec![name] };
    let llama = Llama::get();
    let directory = sleeping("interrupted-on-node", &["27.1828", "27.1829", "27.1830"]);
    let run = SlurmRun::start(&llama, directory.path());
    cluster.wait_for("one job running and the others queued", || {
        let jobs = cluster.jobs(name, directory.path());
        jobs.len() == 3
            && jobs.iter().filter(|(_, state)| state == "RUNNING").count() == 1
            && processes_matching("sleep 27.18") == 1
    });
    assert_eq!(cluster.active(name, directory.path()).len(), 3);
    interrupt(&run.child);
    let (code, _, stderr) = run.finish();
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("cancelled Slurm job(s)"), "{stderr}");
    assert!(
        cluster.active(name, directory.path()).is_empty(),
        "jobs left: {:?}",
        cluster.active(name, directory.path())
    );
    // The queued jobs are cancelled; the running one's bakeoff stopped its cell and ended it.
    let states: Vec<String> = cluster.jobs(name, directory.path()).into_iter().map(|(_, state)| state).collect();
    assert_eq!(states.iter().filter(|state| *state == "CANCELLED").count(), 2, "{states:?}");
    cluster.wait_for("the cell in flight to stop", || processes_matching("sleep 27.18") == 0);
    let recorded = records(directory.path());
    assert!(recorded.is_empty(), "an interrupted cell has no result: {recorded:#?}\n{stderr}");
    assert!(
        !directory.path().join("results/slurm/submitted.txt").exists(),
        "a run that saw its jobs end leaves none for the next to cancel"
    );
}

/// A dispatcher killed outright (SIGKILL: no chance to cancel) leaves its jobs queued and
/// running; the next Slurm run on the store stops them before it plans (the running one's
/// bakeoff stops its cell and records nothing), then runs the cells that have no result.
#[test]
fn the_next_run_cancels_what_a_killed_dispatcher_left_queued() {
    let cluster = Cluster::get();
    let name = "bakeoff-orphaned-on-node";
    let _jobs = Jobs { cluster: &cluster, names: vec![name] };
    let llama = Llama::get();
    let directory = sleeping("orphaned-on-node", &["0.0271", "6.2828", "0.0272"]);
    let mut child = llama.bakeoff(directory.path()).args(["run", "--no-progress", "--executor", "slurm"]).spawn();
    cluster.wait_for("the long cell's job to run", || processes_matching("sleep 6.2828") == 1);
    child.kill().unwrap();
    child.wait().unwrap();
    let left: Vec<u64> = cluster.active(name, directory.path()).into_iter().map(|(id, _)| id).collect();
    assert!(!left.is_empty(), "the killed dispatcher's jobs are still there");
    let ledger = std::fs::read_to_string(directory.path().join("results/slurm/submitted.txt")).unwrap();
    assert!(left.iter().all(|id| ledger.contains(&id.to_string())), "{ledger} {left:?}");

    let next = llama.bakeoff(directory.path()).args(["run", "--no-progress", "--executor", "slurm"]).run();
    // The jobs that had not ended by then (one may have finished in between).
    let line = next
        .stderr
        .lines()
        .find_map(|line| line.strip_prefix("cancelled the Slurm job(s) an earlier run left: "))
        .unwrap_or_else(|| panic!("{}", next.stderr));
    let cancelled: Vec<u64> = line.split(", ").map(|id| id.parse().unwrap()).collect();
    assert!(cancelled.iter().all(|id| left.contains(id)), "{cancelled:?} {left:?}");
    assert!(!cancelled.is_empty());
    assert_eq!(next.code, 0, "{}", next.stderr);
    assert_eq!(next.stdout, "3 cells: 2 ran (2 ok, 0 failed), 1 cached, 0 blocked\n", "{}", next.stderr);
    let recorded = records(directory.path());
    assert_eq!(recorded.len(), 3, "{}", next.stderr);
    assert!(recorded.iter().all(|record| record.status == Status::Ok), "{recorded:#?}");
    assert_eq!(processes_matching("sleep 6.2828"), 0);
    assert!(cluster.active(name, directory.path()).is_empty());
}

/// A feature Slurm could not read in a constraint is a manifest error at its place.
#[test]
fn a_feature_slurm_cannot_read_is_a_manifest_error() {
    let directory = project(&[
        ("toolboxes/t.kdl", "toolbox \"rocm\" {\n    features \"rocm\" \"gfx1151&x\"\n}\n"),
        (
            "experiments/x.kdl",
            "experiment \"x\" {\n    matrix { toolbox \"rocm\" }\n    command { args \"true\" }\n}\n",
        ),
    ]);
    let check = crate::support::Bakeoff::new(directory.path()).args(["check"]).run();
    assert_eq!(check.code, 2, "{}", check.stderr);
    assert!(check.stderr.contains("`&` is not allowed in a feature name"), "{}", check.stderr);
    assert!(check.stderr.contains("t.kdl:2:"), "points at the value: {}", check.stderr);
}

/// Without Slurm's clients, or with a controller that does not answer: one error naming what
/// is missing, and nothing submitted.
#[test]
fn a_missing_or_silent_slurm_is_one_clear_error() {
    let cluster = Cluster::get();
    let directory = project(&[("experiments/x.kdl", "experiment \"x\" {\n    command { args \"true\" }\n}\n")]);
    let empty = tempfile::tempdir().unwrap();
    let missing = crate::support::Bakeoff::new(directory.path())
        .env("PATH", empty.path())
        .args(["run", "--no-progress", "--executor", "slurm"])
        .run();
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(missing.stderr.contains("`sbatch` is not on PATH"), "{}", missing.stderr);
    assert!(!directory.path().join("results/slurm").exists(), "nothing submitted");

    // The same cluster's configuration with the controller on a port nobody listens on.
    let conf = std::fs::read_to_string(cluster.directory.join("slurm.conf")).unwrap();
    let silent = directory.path().join("silent.conf");
    std::fs::write(&silent, format!("{conf}SlurmctldPort=9\nMessageTimeout=2\n")).unwrap();
    let down = crate::support::Bakeoff::new(directory.path())
        .env("SLURM_CONF", &silent)
        .args(["run", "--no-progress", "--executor", "slurm"])
        .run();
    assert_eq!(down.code, 1, "{}", down.stderr);
    let stderr = crate::support::unwrapped(&down.stderr);
    assert!(stderr.contains("`sinfo` failed") && stderr.contains("nothing was submitted"), "{stderr}");
    assert!(!directory.path().join("results/slurm").exists(), "nothing submitted");
    assert!(records(directory.path()).is_empty());
}

/// A partition that does not exist, and `--partition` without Slurm, are refused up front.
#[test]
fn partitions_are_checked_before_anything_is_submitted() {
    let _cluster = Cluster::get();
    let directory = project(&[("experiments/x.kdl", "experiment \"x\" {\n    command { args \"true\" }\n}\n")]);
    let unknown = crate::support::Bakeoff::new(directory.path())
        .args(["run", "--no-progress", "--executor", "slurm", "--partition", "gpu-nodes"])
        .run();
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("Slurm has no partition `gpu-nodes`"), "{}", unknown.stderr);
    let local = crate::support::Bakeoff::new(directory.path()).args(["run", "--partition", "bench"]).run();
    assert_eq!(local.code, 2, "{}", local.stderr);
    assert!(local.stderr.contains("`--partition` is for `--executor slurm`"), "{}", local.stderr);
    assert!(!Path::new(&directory.path().join("results/slurm")).exists());
}

/// `bakeoff run --executor slurm` started and not waited for, its stdout and stderr going to
/// files in the project (read once it ends).
struct SlurmRun {
    child: std::process::Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl SlurmRun {
    fn start(llama: &Llama, project: &Path) -> Self {
        let (stdout, stderr) = (project.join("stdout"), project.join("stderr"));
        let child = llama
            .bakeoff(project)
            .args(["run", "--no-progress", "--executor", "slurm"])
            .command()
            .stdout(Stdio::from(std::fs::File::create(&stdout).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
            .spawn()
            .unwrap();
        Self { child, stdout, stderr }
    }

    /// Waits for it: its exit code, stdout and stderr.
    fn finish(mut self) -> (Option<i32>, String, String) {
        let status = self.child.wait().unwrap();
        let read = |path: &Path| std::fs::read_to_string(path).unwrap();
        (status.code(), read(&self.stdout), read(&self.stderr))
    }
}

/// `stop-after 2` across jobs: three failing cells of one toolbox, each its own job. With
/// nothing failed yet two jobs go out and the third waits (were both to fail, the toolbox would
/// stop); the first fails, and still it waits; the second fails, and it is recorded skipped with
/// the reason, never submitted.
#[test]
fn stop_after_holds_back_the_jobs_a_failing_toolbox_would_waste() {
    let cluster = Cluster::get();
    let name = "bakeoff-streak-on-node";
    let _jobs = Jobs { cluster: &cluster, names: vec![name] };
    let llama = Llama::get();
    let directory = project(&[(
        "experiments/streak.kdl",
        r#"experiment "streak-on-node" {
    matrix { n 1 2 3 }
    command { args "sh" "-c" "echo broken-{n} >&2; exit 5" }
    stop-after 2
}
"#,
    )]);
    let run = SlurmRun::start(&llama, directory.path());
    let (code, stdout, stderr) = run.finish();
    assert_eq!(code, Some(4), "{stderr}");
    assert_eq!(stdout, "3 cells: 2 ran (0 ok, 2 failed), 0 cached, 0 blocked, 1 skipped\n", "{stderr}");
    let jobs = cluster.jobs(name, directory.path());
    assert_eq!(jobs.len(), 2, "the third job was submitted: {jobs:?}\n{stderr}");
    let recorded = records(directory.path());
    let skipped: Vec<&CellRecord> = recorded.iter().filter(|record| record.status == Status::Skipped).collect();
    assert_eq!(skipped.len(), 1, "{recorded:?}");
    assert_eq!(skipped[0].axes["n"], "3");
    let reason = &skipped[0].failure.as_ref().unwrap().reason;
    assert!(reason.starts_with("skipped: toolbox `host` failed 2 cells in a row (last: exit code 5"), "{reason}");
    assert!(skipped[0].slurm.is_none(), "no job ran it");
    assert!(stderr.contains("toolbox `host` failed 2 cells in a row"), "{stderr}");
    // The next run submits the skipped cell (not the failed ones).
    let plan = llama.bakeoff(directory.path()).arg("plan").run();
    assert!(plan.stdout.contains("1 to run"), "{}", plan.stdout);
}
