//! The machine under the numbers: its CPU layout in `host` and in records, a host kept busy
//! by something else noticed (and waited out with `--quiet-host`), and the peak memory of
//! processes too short to be sampled.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bakeoff::store::Status;

use crate::support::{Bakeoff, Llama, project, records};

/// `bakeoff host` on this machine: cores, threads, sockets and NUMA nodes as the kernel counts
/// them (here read independently of bakeoff), SMT as its control file says; in `--json` and in
/// the records of a run too.
#[test]
fn host_describes_this_cpu_box() {
    let directory = tempfile::tempdir().unwrap();
    let host = Bakeoff::new(directory.path()).arg("host").run();
    assert_eq!(host.code, 0, "{}", host.stderr);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let processors = cpuinfo.lines().filter(|line| line.starts_with("processor")).count();
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    // Where every CPU is online, the kernel's list of processors is the count of threads.
    if online.trim() == format!("0-{}", processors - 1) || (processors == 1 && online.trim() == "0") {
        assert!(host.stdout.contains(&format!("\nthreads   {processors}\n")), "{}", host.stdout);
    }
    for key in ["cores", "threads", "sockets", "numa", "governor", "smt", "boost", "load"] {
        assert!(host.stdout.contains(&format!("\n{key:<9} ")), "no `{key}`: {}", host.stdout);
    }
    if let Ok(control) = std::fs::read_to_string("/sys/devices/system/cpu/smt/control") {
        let shown = match control.trim() {
            "notsupported" => "not supported",
            "forceoff" => "forced off",
            other => other,
        };
        assert!(host.stdout.contains(&format!("\nsmt       {shown}\n")), "{}", host.stdout);
    }
    let json = Bakeoff::new(directory.path()).args(["host", "--json"]).run();
    let facts: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let (cores, threads) = (facts["facts"]["cores"].as_u64().unwrap(), facts["facts"]["threads"].as_u64().unwrap());
    assert!(cores >= 1 && cores <= threads, "{}", json.stdout);
    assert!(facts["facts"]["sockets"].as_u64().unwrap() >= 1, "{}", json.stdout);
}

/// Regression: a `sh -c` command cell recorded a peak of 80 KB (0.078 ± 0.26 MiB over its
/// rounds, the interval below zero): the shell and its child ended between two samples. The
/// kernel's high-water mark of the waited-for children is exact, however short they are.
#[test]
fn short_commands_record_the_kernels_peak_memory() {
    // `b'x' * n` writes its bytes, so they are resident (a zeroed bytearray is not, until
    // touched). The interpreter itself, not a version manager's shim: a shim's own shells run
    // beside it for a moment, and the sampled tree adds them up (tens of MB that vary by round).
    let python = Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output().unwrap();
    assert!(python.status.success(), "python3 is needed: {}", String::from_utf8_lossy(&python.stderr));
    let python = String::from_utf8(python.stdout).unwrap().trim().to_owned();
    let manifest = format!(
        r#"experiment "tiny" {{
    command {{ args "sh" "-c" "true" }}
    rounds 3
}}
experiment "fifty" {{
    command {{ args "sh" "-c" "{python} -c \"b = b'x' * 50000000\"" }}
    rounds 3
}}
"#
    );
    let directory = project(&[("experiments/short.kdl", &manifest)]);
    let run = Bakeoff::new(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let recorded = records(directory.path());
    assert_eq!(recorded.len(), 2, "{}", run.stderr);
    for record in &recorded {
        assert_eq!(record.status, Status::Ok, "{:?}", record.failure);
        let peak = &record.metrics["peak_rss_bytes"];
        let least = if record.experiment == "tiny" { 500_000.0 } else { 50_000_000.0 };
        let rounds: Vec<f64> = record.rounds.iter().map(|round| round.metrics["peak_rss_bytes"].mean).collect();
        assert_eq!(rounds.len(), 3, "{}", record.cell);
        assert!(rounds.iter().all(|&value| value >= least), "{}: {rounds:?}", record.cell);
        let spread = peak.spread().unwrap_or(0.0);
        assert!(peak.mean - spread >= least * 0.9, "{}: {} ± {spread}", record.cell, peak.mean);
    }
}

/// A process spinning a CPU beside bakeoff, started and killed by this test.
struct Spinner(Child);

impl Spinner {
    fn start() -> Self {
        let child = Command::new("yes").stdout(Stdio::null()).spawn().unwrap();
        // Let it reach the CPU before anything is measured beside it.
        std::thread::sleep(Duration::from_millis(300));
        Self(child)
    }

    fn stop(&mut self) {
        // By its pid: `Child::kill` signals this process only.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop();
    }
}

const GEMMA: &str = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "beside" {
    matrix { model "gemma" }
    bench { args "-t" 1 "-p" 16 "-n" 4 "-r" 1 "--repack" 0 }
}
"#;

/// A `yes >/dev/null` spinning one CPU beside a Gemma llama-bench cell: other processes use at
/// least one CPU's share of the machine, so the record carries the busy-host warning with the
/// figures, and the report shows it beside the cell.
#[test]
fn a_cell_beside_a_spinning_process_warns_of_a_busy_host() {
    let llama = Llama::get();
    let directory = project(&[("experiments/beside.kdl", GEMMA)]);
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    // Below one CPU's share, whatever this machine has: `yes` alone is above it.
    #[expect(clippy::cast_precision_loss, reason = "a handful of CPUs")]
    let threshold = format!("{:.1}", 60.0 / cpus as f64);
    let mut spinner = Spinner::start();
    let run =
        llama.bakeoff(directory.path()).env("BAKEOFF_BUSY_THRESHOLD", &threshold).args(["run", "--no-progress"]).run();
    spinner.stop();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let recorded = records(directory.path());
    assert_eq!(recorded.len(), 1);
    let warning = recorded[0]
        .warnings
        .iter()
        .find(|notice| notice.text.starts_with("busy host: other processes used "))
        .unwrap_or_else(|| panic!("no busy-host warning: {:?}", recorded[0].warnings));
    assert!(warning.text.contains(&format!("of its {cpus} CPUs (threshold ")), "{}", warning.text);
    assert!(warning.text.contains("% just before this cell and up to "), "{}", warning.text);
    let report = std::fs::read_to_string(directory.path().join("results/beside/README.md")).unwrap();
    assert!(report.contains("**Warning** (`model=gemma, toolbox=host`): busy host: other processes used "), "{report}");
}

/// `--quiet-host` with `yes` spinning: bakeoff says it waits, runs nothing while `yes` runs,
/// and runs the cell only once it is stopped: at once when the host settles, or, on a machine
/// that other tests keep busy, after `--quiet-timeout`.
#[test]
fn quiet_host_waits_until_the_spinning_process_stops() {
    let directory = project(&[(
        "experiments/quiet.kdl",
        "experiment \"quiet\" {\n    command { args \"sh\" \"-c\" \"echo value=1\" }\n}\n",
    )]);
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    #[expect(clippy::cast_precision_loss, reason = "a handful of CPUs")]
    let threshold = format!("{:.1}", 80.0 / cpus as f64);
    let mut spinner = Spinner::start();
    let mut bakeoff = Bakeoff::new(directory.path());
    bakeoff.args(["run", "--no-progress", "--quiet-host", "--quiet-timeout", "20", "--busy-threshold", &threshold]);
    let mut child = bakeoff.command().stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let (lines, heard) = std::sync::mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let waiting = Instant::now();
    let mut said = Vec::new();
    while !said.iter().any(|line: &String| line.starts_with("waiting for the host to settle before quiet/")) {
        let line = heard.recv_timeout(Duration::from_secs(60).saturating_sub(waiting.elapsed()));
        said.push(line.unwrap_or_else(|_| panic!("bakeoff never said it waits: {said:?}")));
    }
    // Still waiting a while later: nothing was run or recorded beside `yes`.
    std::thread::sleep(Duration::from_secs(3));
    assert!(records(directory.path()).is_empty(), "a cell ran beside `yes`: {said:?}");
    let stopped = u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap();
    spinner.stop();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    said.extend(heard.try_iter());
    assert!(status.success(), "{said:?}");
    let recorded = records(directory.path());
    assert_eq!(recorded.len(), 1, "{said:?}");
    assert!(recorded[0].timings.started_unix_ms >= stopped, "the cell started before `yes` stopped: {said:?}");
    let settled = said.iter().any(|line| line.starts_with("the host settled after "));
    let gave_up = said.iter().any(|line| line.starts_with("warning: the host did not settle within 20 s"));
    assert!(settled || gave_up, "{said:?}");
    if settled {
        assert!(recorded[0].warnings.is_empty(), "{:?}", recorded[0].warnings);
    }
}
