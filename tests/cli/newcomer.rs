//! A newcomer's first hour: `bakeoff init` in an empty repository runs at once, and each
//! mistake a new user makes is met with words that say what is wrong and what to do.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{Bakeoff, Llama, Scratch, fixture, project};

fn git(directory: &Path, args: &[&str]) -> String {
    let output = Command::new("git").arg("-C").arg(directory).args(args).output().unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `init` in an empty git repository, then `run`: a report, a lock, and `git add -A` stages
/// records and reports but no log, run lock or running list.
#[test]
fn init_makes_a_project_that_runs_and_keeps_run_leftovers_out_of_git() {
    let llama = Llama::get();
    let directory = tempfile::tempdir().unwrap();
    git(directory.path(), &["init", "-q"]);
    let init = llama.bakeoff(directory.path()).arg("init").run();
    assert_eq!(init.code, 0, "{}", init.stderr);
    for file in [
        "experiments/models.kdl",
        "experiments/quickstart.kdl",
        "toolboxes/host.kdl",
        "toolboxes/strix-halo.kdl",
        "results/.gitignore",
        "results/.gitattributes",
    ] {
        assert!(directory.path().join(file).is_file(), "no {file}\n{}{}", init.stdout, init.stderr);
    }
    assert!(init.stdout.contains("created  experiments/models.kdl"), "{}", init.stdout);
    let models = std::fs::read_to_string(directory.path().join("experiments/models.kdl")).unwrap();
    assert!(models.contains(r#"model "gemma-3-270m-q4-k-m" { file "gemma-3-270m-q4_k_m.gguf" }"#), "{models}");
    assert!(init.stderr.contains("the quickstart measures `gemma-3-270m-q4-k-m`"), "{}", init.stderr);
    assert!(init.stderr.contains("next: `bakeoff --models"), "{}", init.stderr);

    let run = llama.bakeoff(directory.path()).args(["run", "quickstart", "--no-progress"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "2 cells: 2 ran (2 ok, 0 failed), 0 cached, 0 blocked\n", "{}", run.stderr);
    assert!(run.stderr.contains("wrote `./bakeoff.lock`"), "the first run pins its inputs: {}", run.stderr);
    assert!(directory.path().join("bakeoff.lock").is_file());
    assert!(directory.path().join("results/quickstart/README.md").is_file());
    assert!(directory.path().join("results/logs").is_dir(), "the run wrote logs");

    git(directory.path(), &["add", "-A"]);
    let staged = git(directory.path(), &["diff", "--cached", "--name-only"]);
    assert!(staged.contains("results/cells/"), "{staged}");
    assert!(staged.contains("results/quickstart/README.md"), "{staged}");
    assert!(staged.contains("bakeoff.lock"), "{staged}");
    for leftover in ["results/logs/", "results/.lock", "results/.running"] {
        assert!(!staged.contains(leftover), "`{leftover}` is staged:\n{staged}");
    }

    // A second init overwrites nothing and says so.
    std::fs::write(directory.path().join("experiments/models.kdl"), "// mine\n").unwrap();
    let again = llama.bakeoff(directory.path()).arg("init").run();
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(!again.stdout.contains("created"), "{}", again.stdout);
    assert!(
        again.stdout.contains(
            "kept     experiments/models.kdl (it exists); these files under the model roots are not in it:\n           \
             model \"gemma-3-270m-q4-k-m\" { file \"gemma-3-270m-q4_k_m.gguf\" }"
        ),
        "{}",
        again.stdout
    );
    assert_eq!(std::fs::read_to_string(directory.path().join("experiments/models.kdl")).unwrap(), "// mine\n");

    // `init --bin-dir` on a project that has its host toolbox once said only `kept`: it says
    // what the kept file lacks.
    let elsewhere = llama.bin_dir.display().to_string() + "/../elsewhere";
    let bin_dir = llama.bakeoff(directory.path()).args(["init", "--bin-dir", &elsewhere]).run();
    assert_eq!(bin_dir.code, 0, "{}", bin_dir.stderr);
    assert!(
        bin_dir.stderr.contains(&format!(
            "warning: `./toolboxes/host.kdl` exists and was kept, and it does not name `{elsewhere}`: add `bin-dir \"{elsewhere}\"`"
        )),
        "{}",
        bin_dir.stderr
    );
}

const BENCH: &str = r#"toolbox "host" {
    runner "host"
}
model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "flags" {
    matrix {
        model "gemma"
        threads 1
    }
    bench { args "-t" "{threads}" "-p" 16 "-n" 8 "-r" 1 "--repack" 0 ARGS }
    report {
        table rows="threads" columns="model" metric="METRIC"
    }
}
"#;

fn bench(args: &str, metric: &str) -> tempfile::TempDir {
    project(&[("experiments/flags.kdl", &BENCH.replace("ARGS", args).replace("METRIC", metric))])
}

/// Regression: a value llama-bench refuses failed with `exit code 1` and the tail of the usage
/// text; the console now quotes llama-bench's own error line and names the log. (An option it
/// does not know is caught before, at plan: `options_the_build_does_not_take_block_their_cells_at_plan`.)
#[test]
fn a_value_llama_bench_refuses_is_quoted_with_the_log_it_is_in() {
    let llama = Llama::get();
    let directory = bench(r#""-ctk" "nonsense""#, "tg8");
    let run = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(run.code, 4, "{}", run.stderr);
    let line = run.stderr.lines().find(|line| line.starts_with("failed")).unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(
        line.contains(": exit code 1: error: invalid parameter for argument: -ctk (log: ./results/logs/"),
        "{line}"
    );
    let report = std::fs::read_to_string(directory.path().join("results/flags/README.md")).unwrap();
    assert!(report.contains("exit code 1: error: invalid parameter for argument: -ctk"), "{report}");
}

/// A table asking for a metric the cells never record is a warning at `check`, with the names
/// they do record.
#[test]
fn a_report_metric_no_cell_records_is_a_warning() {
    let directory = bench("", "tg128");
    let check = Bakeoff::new(directory.path()).arg("check").run();
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check.stderr.contains("no cell of `flags` records metric `tg128`: this table stays empty"),
        "{}",
        check.stderr
    );
    assert!(check.stderr.contains("help: did you mean `tg8`?"), "{}", check.stderr);
    assert!(check.stderr.contains("flags.kdl:12:46]"), "it points at the metric: {}", check.stderr);
    let fine = Bakeoff::new(bench("", "tg8").path()).arg("check").run();
    assert!(!fine.stderr.contains("records metric"), "{}", fine.stderr);
}

/// A model file that is no GGUF blocks its llama.cpp cells at plan time, with `models`' words.
#[test]
fn a_model_that_is_not_gguf_blocks_at_plan() {
    let llama = Llama::get();
    let directory = bench("", "tg8");
    let models = tempfile::tempdir().unwrap();
    std::fs::write(models.path().join("gemma-3-270m-q4_k_m.gguf"), "<html>a login page</html>").unwrap();
    let plan = Bakeoff::new(directory.path())
        .env("PATH", llama.path(None))
        .arg("--models")
        .arg(models.path())
        .arg("plan")
        .run();
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.starts_with("blocked"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains(
            "gemma-3-270m-q4_k_m.gguf`: not a GGUF file (it starts with 3c 68 74 6d); llama.cpp cannot load it"
        ),
        "{}",
        plan.stdout
    );
}

/// `--models` at a folder that does not exist, at the model file itself, or at the folder above
/// the model: each is said.
#[test]
fn model_roots_that_cannot_hold_the_model_say_why() {
    let llama = Llama::get();
    let directory = bench("", "tg8");
    let parent = tempfile::tempdir().unwrap();
    std::fs::create_dir(parent.path().join("gemma")).unwrap();
    std::os::unix::fs::symlink(&llama.model, parent.path().join("gemma/gemma-3-270m-q4_k_m.gguf")).unwrap();
    let plan = |root: &Path| {
        let outcome =
            Bakeoff::new(directory.path()).env("PATH", llama.path(None)).arg("--models").arg(root).arg("plan").run();
        assert_eq!(outcome.code, 0, "{}", outcome.stderr);
        outcome.stdout
    };
    let missing = plan(&parent.path().join("nowhere"));
    assert!(
        missing.contains(&format!("model root `{}` does not exist", parent.path().join("nowhere").display())),
        "{missing}"
    );
    let itself = plan(&llama.model);
    assert!(itself.contains("is the model file itself: a root is the folder models are under"), "{itself}");
    let above = plan(parent.path());
    assert!(
        above.contains(&format!(
            "it is one folder down, at `{}`",
            parent.path().join("gemma/gemma-3-270m-q4_k_m.gguf").display()
        )),
        "{above}"
    );
    assert!(above.contains("or write `file \"gemma/gemma-3-270m-q4_k_m.gguf\"`"), "{above}");
}

/// A host toolbox without llama-bench blocks its bench cells at plan with the run's help, and
/// its build is never a `null` in a diff.
#[test]
fn a_host_without_llama_bench_blocks_its_bench_cells_at_plan() {
    let llama = Llama::get();
    let directory = bench("", "tg8");
    let plan = Bakeoff::new(directory.path())
        .env("PATH", "/usr/bin:/bin")
        .arg("--models")
        .arg(llama.model_root())
        .arg("plan")
        .run();
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("blocked       ",)
            && plan.stdout.contains(
                "`llama-bench` not found for toolbox `host`: put llama.cpp's binaries on PATH, or add `bin-dir \
             \"/path/to/llama.cpp/bin\"` to toolbox `host`"
            ),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("null"), "{}", plan.stdout);
    let host = Bakeoff::new(directory.path()).env("PATH", "/usr/bin:/bin").arg("host").run();
    assert!(host.stdout.contains("but `llama-bench` not found for toolbox `host`"), "{}", host.stdout);
}

/// Regression: `--only thread=1` (the axis is `threads`) planned 0 cells and exited 0.
#[test]
fn a_selector_that_matches_nothing_is_a_usage_error() {
    let scratch = Scratch::new();
    let facts = fixture("hosts/strix-1.json");
    let plan = |selector: &[&str]| {
        scratch.bakeoff().arg("--host-facts").arg(&facts).arg("plan").args(selector).arg("quickstart").run()
    };
    let axis = plan(&["--only", "thread=1"]);
    assert_eq!(axis.code, 2, "{}", axis.stderr);
    assert!(axis.stderr.contains("no cell has an axis `thread` (`--only thread=1`)"), "{}", axis.stderr);
    assert!(axis.stderr.contains("help: did you mean `threads`?"), "{}", axis.stderr);
    let value = plan(&["--only", "threads=3"]);
    assert_eq!(value.code, 2, "{}", value.stderr);
    assert!(value.stderr.contains("no cell has `threads=3`"), "{}", value.stderr);
    assert!(value.stderr.contains("expected one of the values of `threads`: `1`, `2`"), "{}", value.stderr);
    let model = plan(&["--only", "model=gemma-3-270m-q5"]);
    assert!(model.stderr.contains("help: did you mean `gemma-3-270m-q4`?"), "{}", model.stderr);
    let except = plan(&["--except", "threads=1"]);
    assert_eq!(except.code, 0, "{}", except.stderr);
    assert!(except.stdout.ends_with("1 cell: 0 cached, 1 to run, 0 blocked\n"), "{}", except.stdout);
}

/// Regression: `bakeoff plan | head -2` panicked with `failed printing to stdout: Broken pipe`.
#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let scratch = Scratch::new();
    let facts = fixture("hosts/strix-1.json");
    for command in [&["plan"][..], &["host", "--json"], &["models"], &["check"]] {
        let mut bakeoff = scratch.bakeoff();
        bakeoff.arg("--host-facts").arg(&facts).args(command);
        let mut child = bakeoff.command().stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // The reader goes away before bakeoff writes a byte.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{command:?}: {stderr}");
        assert_eq!(output.status.code(), Some(0), "{command:?}: {stderr}");
    }
}

/// A run's exit code says how it went, whoever stopped reading its output.
#[test]
fn a_run_whose_reader_left_still_exits_with_its_failures() {
    let directory =
        project(&[("experiments/fails.kdl", "experiment \"fails\" {\n    command { args \"false\" }\n}\n")]);
    let mut bakeoff = Bakeoff::new(directory.path());
    bakeoff.args(["run", "--no-progress"]);
    let mut child = bakeoff.command().stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The plan pairs each argv option with its value, shows each cell's short hash, and `why`
/// takes that prefix, and the prefix of the earlier result it names.
#[test]
fn plan_diffs_pair_options_with_values_and_why_takes_the_prefixes_it_prints() {
    let scratch = Scratch::new();
    let facts = fixture("hosts/strix-1.json");
    assert_eq!(scratch.seed_results(&facts, &["quickstart"]), 2);
    scratch.edit("experiments/quickstart.kdl", r#""-n" 16"#, r#""-ub" 256 "-n" 16"#);
    let plan = scratch.bakeoff().arg("--host-facts").arg(&facts).args(["plan", "quickstart"]).run();
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let line = plan.stdout.lines().next().unwrap();
    assert!(line.contains("(changed: + -ub 256)"), "{line}");
    let prefix = line.split_whitespace().nth(2).unwrap();
    assert_eq!(prefix.len(), 8, "{line}");
    let why = scratch.bakeoff().arg("--host-facts").arg(&facts).args(["why", prefix]).run();
    assert_eq!(why.code, 0, "{}", why.stderr);
    assert!(why.stdout.contains("  + -ub 256\n"), "{}", why.stdout);
    let earlier = why
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("nearest earlier result: "))
        .and_then(|rest| rest.split(" (").nth(1))
        .map_or_else(|| panic!("{}", why.stdout), |rest| &rest[..12]);
    let of_record = scratch.bakeoff().arg("--host-facts").arg(&facts).args(["why", &earlier[..6]]).run();
    assert_eq!(of_record.code, 0, "{}", of_record.stderr);
    assert!(of_record.stdout.contains("no cell of the manifests has this hash now"), "{}", of_record.stdout);
    assert!(of_record.stdout.contains("differs from it:\n  + -ub 256\n"), "{}", of_record.stdout);
}

/// `host` in a folder with no manifests yet shows this machine, and facts that say "no GPU"
/// are shown as none, not unknown.
#[test]
fn host_needs_no_project() {
    let directory = tempfile::tempdir().unwrap();
    let facts = std::fs::read_to_string(fixture("hosts/strix-1.json")).unwrap();
    let facts = facts.replace(r#"["AMD Radeon 8060S (gfx1151)"]"#, "[]");
    assert!(facts.contains(r#""gpus": []"#), "{facts}");
    std::fs::write(directory.path().join("epyc.json"), facts).unwrap();
    let host = Bakeoff::new(directory.path()).args(["--host-facts", "epyc.json", "host"]).run();
    assert_eq!(host.code, 0, "{}", host.stderr);
    assert!(host.stdout.contains("gpus      none\n"), "{}", host.stdout);
    assert!(host.stdout.contains("  ok       host\n"), "{}", host.stdout);
}

/// A closed stderr (`bakeoff check 2>&1 | head -0`) ends a command quietly with 141, as a shell
/// reports SIGPIPE, and never with a panic (exit 101); this once relied on matching the
/// standard library's panic message.
#[test]
fn diagnostics_to_a_closed_stderr_end_quietly() {
    let directory = project(&[(
        "experiments/warns.kdl",
        "experiment \"warns\" {\n    command { args \"cat\" \"notes.txt\" }\n}\n",
    )]);
    let mut bakeoff = Bakeoff::new(directory.path());
    bakeoff.args(["check"]);
    // The reader is gone before bakeoff starts.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = bakeoff.command().stdout(Stdio::piped()).stderr(writer).output().unwrap();
    assert_eq!(output.status.code(), Some(141), "{}", String::from_utf8_lossy(&output.stdout));
}
