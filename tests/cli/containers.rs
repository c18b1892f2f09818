//! Toolbox containers for real: podman, toolbox and distrobox (set up by
//! `scripts/containers.sh`, which `scripts/test.sh` runs) with llama.cpp inside an image
//! built here. What a cell records is the image that ran; what a killed run leaves is stopped
//! by the next one; a toolbox that cannot run says why.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bakeoff::store::{CellRecord, Status};

use crate::support::{Bakeoff, Llama, project, records};

/// The container set-up the tests need, from `scripts/containers.sh`.
struct Containers {
    /// The llama.cpp image every test image builds on.
    image: String,
    /// A normal user with rootless podman, for distrobox (which refuses root).
    user: String,
    conf: String,
}

impl Containers {
    fn get() -> Self {
        let variable = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!(
                    "{name} is not set: run the tests with scripts/test.sh, which sets up podman, toolbox and distrobox"
                )
            })
        };
        let containers = Self {
            image: variable("BAKEOFF_TEST_IMAGE"),
            user: variable("BAKEOFF_TEST_USER"),
            conf: variable("CONTAINERS_CONF"),
        };
        for tool in ["podman", "toolbox", "distrobox"] {
            assert!(
                Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap().status.success(),
                "`{tool}` is not installed: scripts/containers.sh installs it"
            );
        }
        containers
    }
}

/// A name no other test (or a concurrent test run) uses.
fn unique(what: &str) -> String {
    format!("bk-{what}-{}", std::process::id())
}

fn podman(args: &[&str]) -> std::process::Output {
    Command::new("podman").args(args).output().unwrap()
}

fn podman_text(args: &[&str]) -> String {
    let output = podman(args);
    assert!(output.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A tag of this test's own on the shared llama.cpp image (rebuilding it disturbs no other
/// test), and the toolbox containers made from it: all removed when the test ends.
struct TestImage {
    tag: String,
    containers: Vec<String>,
    /// Every image built under the tag: a rebuilt tag leaves its old image untagged.
    ids: std::cell::RefCell<Vec<String>>,
}

impl TestImage {
    fn build(base: &str, tag: &str, label: &str) -> Self {
        let image = Self { tag: tag.to_owned(), containers: Vec::new(), ids: std::cell::RefCell::default() };
        image.rebuild(base, label);
        image
    }

    /// The same tag on a new image (another label: another id and digest).
    fn rebuild(&self, base: &str, label: &str) {
        let context = tempfile::tempdir().unwrap();
        std::fs::write(context.path().join("Containerfile"), format!("FROM {base}\nLABEL bakeoff-test={label}\n"))
            .unwrap();
        podman_text(&["build", "-q", "-t", &self.tag, &context.path().display().to_string()]);
        self.ids.borrow_mut().push(self.id());
    }

    fn id(&self) -> String {
        podman_text(&["image", "inspect", "--format", "{{.Id}}", &self.tag])
    }

    fn digest(&self) -> String {
        podman_text(&["image", "inspect", "--format", "{{.Digest}}", &self.tag])
    }
}

impl Drop for TestImage {
    fn drop(&mut self) {
        for container in &self.containers {
            let _ = podman(&["rm", "--force", "--time", "0", container]);
        }
        let _ = podman(&["rmi", "--force", &self.tag]);
        for id in self.ids.borrow().iter() {
            let _ = podman(&["rmi", "--force", id]);
        }
    }
}

/// `bakeoff` on `directory` with the Gemma model's root and podman's configuration.
fn bakeoff(llama: &Llama, directory: &Path) -> Bakeoff {
    let mut bakeoff = Bakeoff::new(directory);
    bakeoff.arg("--models").arg(llama.model_root());
    bakeoff
}

fn toolboxes(toolbox: &str, podman: &str, image: &str) -> String {
    format!(
        r#"toolbox "{toolbox}" {{
    runner "toolbox"
    image "{image}"
}}
toolbox "{podman}" {{
    runner "podman"
    image "{image}"
    container-args "--label" "bakeoff-cell=yes"
}}
model "gemma" {{ file "gemma-3-270m-q4_k_m.gguf" }}
"#
    )
}

const BENCH_AND_SERVER: &str = r#"
experiment "boxed" {
    matrix {
        model "gemma"
        toolbox "TOOLBOX" "PODMAN"
    }
    bench { args "-t" 1 "-p" 16 "-n" 4 "-r" 1 "--repack" 0 }
    timeout 300
}
experiment "served" {
    matrix {
        model "gemma"
        toolbox "TOOLBOX" "PODMAN"
    }
    server {
        args "-nr" "-t" 1 "--ctx-size" 1024
        ready-timeout 120
    }
    workload "hello" {
        request api="completion" max-tokens=4 prompt="Say hello."
        repeat 2
    }
    timeout 300
}
"#;

/// A toolbox and a podman toolbox on an image of the test's own, in a project whose experiments
/// (`BENCH_AND_SERVER`, as `edit` changes it) use both.
struct Boxed {
    toolbox: String,
    podman: String,
    image: TestImage,
    directory: tempfile::TempDir,
}

impl Boxed {
    fn new(containers: &Containers, what: &str, edit: impl Fn(String) -> String) -> Self {
        let (toolbox, podman) = (unique(&format!("{what}-tb")), unique(&format!("{what}-pm")));
        let mut image = TestImage::build(&containers.image, &format!("localhost/{}:cpu", unique(what)), what);
        image.containers.push(toolbox.clone());
        let experiments = edit(BENCH_AND_SERVER.replace("TOOLBOX", &toolbox).replace("PODMAN", &podman));
        let manifest = format!("{}{experiments}", toolboxes(&toolbox, &podman, &image.tag));
        let directory = project(&[("experiments/boxed.kdl", &manifest)]);
        Self { toolbox, podman, image, directory }
    }
}

fn by_toolbox<'a>(records: &'a [CellRecord], toolbox: &str, experiment: &str) -> Vec<&'a CellRecord> {
    records
        .iter()
        .filter(|record| record.fingerprint.toolbox.name == toolbox && record.experiment == experiment)
        .collect()
}

#[test]
fn toolbox_and_podman_cells_record_the_image_that_ran() {
    let llama = Llama::get();
    let containers = Containers::get();
    let Boxed { toolbox, podman: podman_box, image, directory } = Boxed::new(&containers, "one", |text| text);
    let run = |what: &[&str]| bakeoff(&llama, directory.path()).args(what).run();

    // Before `toolbox create`: the toolbox's cells are blocked with what to do; the podman
    // toolbox needs only its image, which is here.
    let plan = run(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let missing = format!(
        "toolbox `{toolbox}`: toolbox container `{toolbox}` does not exist: `bakeoff toolbox create {toolbox}` \
         creates it from `{}`",
        image.tag
    );
    assert!(plan.stdout.contains(&missing), "{}", plan.stdout);
    assert!(plan.stdout.ends_with("4 cells: 0 cached, 2 to run, 2 blocked\n"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("null"), "{}", plan.stdout);

    let created = run(&["toolbox", "create", &toolbox, &podman_box]);
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert!(
        created.stdout.contains(&format!("{toolbox}: ran `/usr/bin/toolbox create --image {} {toolbox}`", image.tag))
    );
    assert!(created.stdout.contains(&format!("{podman_box}: image is here")), "{}", created.stdout);
    // Idempotent: a second create finds the container.
    let again = run(&["toolbox", "create", &toolbox]);
    assert!(again.stdout.contains(&format!("{toolbox}: container exists (image sha256:")), "{}", again.stdout);

    let status = run(&["toolbox", "status", "--json", &toolbox, &podman_box]);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let version = llama_cpp_version(&llama);
    for row in status.as_array().unwrap() {
        assert_eq!(row["problem"], serde_json::Value::Null, "{row}");
        assert_eq!(row["llama_cpp"], version.as_str(), "{row}");
        assert_eq!(row["running"]["id"], format!("sha256:{}", image.id()), "{row}");
    }

    let first = run(&["run", "--no-progress"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.stdout, "4 cells: 4 ran (4 ok, 0 failed), 0 cached, 0 blocked\n", "{}", first.stderr);
    let stored = records(directory.path());
    let digest = image.digest();
    for record in &stored {
        assert_eq!(record.status, Status::Ok, "{:?}", record.failure);
        assert_eq!(record.fingerprint.toolbox.digest.as_deref(), Some(digest.as_str()), "{}", record.cell);
        assert_eq!(record.fingerprint.toolbox.llama_cpp.as_deref(), Some(version.as_str()), "{}", record.cell);
        // The memory of what ran in the container (the command a toolbox container announced,
        // what conmon runs for podman), which maps the whole model.
        let model_size = llama.model_bytes();
        let peak =
            record.metrics.get("peak_rss_bytes").unwrap_or_else(|| panic!("{}: no peak: {record:?}", record.cell)).mean;
        assert!(
            peak > model_size && peak < 4.0 * model_size,
            "{}: peak {peak} against model {model_size}",
            record.cell
        );
    }
    assert_launched_as_declared(directory.path(), &stored, &toolbox, &podman_box, &image, &llama);
    assert_left_nothing(&podman_box, &image);

    // The same tag rebuilt: the toolbox container still runs the old image, so its cells are
    // cached (and the plan says how to move on); the podman cells run the new image.
    let old_id = image.id();
    image.rebuild(&containers.image, "two");
    let new_digest = image.digest();
    assert_ne!(new_digest, digest);
    // The first run pinned the podman image in bakeoff.lock: a new image under the same tag is
    // refused until the lock accepts it.
    let refused = run(&["plan"]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused.stderr.contains(&format!("toolbox `{podman_box}`")), "{}", refused.stderr);
    let accepted = run(&["lock"]);
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    let plan = run(&["plan"]);
    let note = format!(
        "note: toolbox `{toolbox}`: container `{toolbox}` runs image {} but `{}` now points at {}: its cells keep \
         measuring the container's image until `bakeoff toolbox refresh {toolbox}` recreates it\n",
        short(&old_id),
        image.tag,
        short(&image.id())
    );
    assert!(plan.stdout.starts_with(&note), "{}", plan.stdout);
    assert!(plan.stdout.ends_with("4 cells: 2 cached, 2 to run, 0 blocked\n"), "{}", plan.stdout);
    for line in plan.stdout.lines().filter(|line| line.starts_with("will run")) {
        assert!(line.contains(&format!("toolbox={podman_box}")), "{line}");
        assert!(line.contains("toolbox.digest"), "{line}");
    }
    let status = run(&["toolbox", "status", &toolbox]);
    assert!(
        status.stdout.contains(&format!("older than its tag: `bakeoff toolbox refresh {toolbox}`")),
        "{}",
        status.stdout
    );
    let second = run(&["run", "--no-progress"]);
    assert_eq!(second.stdout, "4 cells: 2 ran (2 ok, 0 failed), 2 cached, 0 blocked\n", "{}", second.stderr);

    // refresh recreates the container from the tag's image; then the toolbox cells rerun.
    let refreshed = run(&["toolbox", "refresh", &toolbox]);
    assert_eq!(refreshed.code, 0, "{}", refreshed.stderr);
    assert!(refreshed.stdout.contains(&format!("{toolbox}: removed container `{toolbox}`")), "{}", refreshed.stdout);
    assert_eq!(run(&["lock"]).code, 0, "the recreated container's image is accepted into the lock");
    let third = run(&["run", "--no-progress"]);
    assert_eq!(third.stdout, "4 cells: 2 ran (2 ok, 0 failed), 2 cached, 0 blocked\n", "{}", third.stderr);
    let stored = records(directory.path());
    let newest = |toolbox: &str| {
        by_toolbox(&stored, toolbox, "boxed").into_iter().max_by_key(|record| record.timings.started_unix_ms).unwrap()
    };
    assert_eq!(newest(&toolbox).fingerprint.toolbox.digest.as_deref(), Some(new_digest.as_str()));
    assert_eq!(newest(&podman_box).fingerprint.toolbox.digest.as_deref(), Some(new_digest.as_str()));
    assert_left_nothing(&podman_box, &image);
}

/// `sha256:` and the first 12 hex digits, as bakeoff shows image ids.
fn short(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    format!("sha256:{}", &hex[..12])
}

/// The podman cell ran the inspected image by id, never pulling, named, with the toolbox's
/// container arguments; the toolbox cell saw the model through /run/host and its output lost
/// the pid announcement; the server cells served every request.
fn assert_launched_as_declared(
    directory: &Path,
    stored: &[CellRecord],
    toolbox: &str,
    podman_box: &str,
    image: &TestImage,
    llama: &Llama,
) {
    let log = |record: &CellRecord| {
        std::fs::read_to_string(directory.join(format!("results/logs/{}.log", record.hash))).unwrap()
    };
    let podman_bench = by_toolbox(stored, podman_box, "boxed")[0];
    let podman_log = log(podman_bench);
    let first_line = podman_log.lines().next().unwrap();
    assert!(first_line.contains(&format!("--name bakeoff-{} --pull=never", &podman_bench.hash[..12])), "{first_line}");
    assert!(first_line.contains("--init --label bakeoff-cell=yes -v "), "{first_line}");
    assert!(first_line.contains(&image.id()), "{first_line}");
    let toolbox_bench = by_toolbox(stored, toolbox, "boxed")[0];
    let toolbox_log = log(toolbox_bench);
    assert!(
        toolbox_log.contains(&format!("-m /run/host{}", llama.model.canonicalize().unwrap().display())),
        "{toolbox_log}"
    );
    // The first line is the command line; the announcement is taken out of the output.
    assert!(!toolbox_log.lines().skip(1).any(|line| line.contains("bakeoff-pid")), "{toolbox_log}");
    assert_eq!(toolbox_bench.metrics.keys().collect::<Vec<_>>(), ["peak_rss_bytes", "pp16", "tg4"]);
    for served in by_toolbox(stored, toolbox, "served").into_iter().chain(by_toolbox(stored, podman_box, "served")) {
        assert_eq!(served.metrics["gen_n"].samples.len(), 2, "{}", served.cell);
    }
}

fn llama_cpp_version(llama: &Llama) -> String {
    let output = Command::new(llama.bin_dir.join("llama-bench")).arg("--version").output().unwrap();
    String::from_utf8_lossy(&output.stderr).lines().next().unwrap().trim_start_matches("version: ").to_owned()
}

/// No bakeoff container of the test's own image is left (other tests run theirs meanwhile).
fn assert_left_nothing(context: &str, image: &TestImage) {
    for id in image.ids.borrow().iter() {
        let names = podman_text(&["ps", "--all", "--filter", &format!("ancestor={id}"), "--format", "{{.Names}}"]);
        let ours: Vec<&str> = names.lines().filter(|name| name.starts_with("bakeoff-")).collect();
        assert!(ours.is_empty(), "{context}: containers left: {ours:?}");
    }
}

/// SIGKILL of bakeoff in the middle of a server cell leaves the server running in its
/// container (conmon or the toolbox container owns it, not bakeoff); the next run stops it
/// before anything else, and says so.
#[test]
fn a_killed_run_leaves_a_server_in_a_container_that_the_next_run_stops() {
    let llama = Llama::get();
    let containers = Containers::get();
    // Many long answers: the cell is still in flight when bakeoff is killed.
    let Boxed { toolbox, podman: podman_box, image, directory } = Boxed::new(&containers, "kill", |text| {
        text.replace(r#"max-tokens=4 prompt="Say hello.""#, r#"max-tokens=400 prompt="Tell a long story.""#)
            .replace("repeat 2", "repeat 50")
    });
    assert_eq!(bakeoff(&llama, directory.path()).args(["toolbox", "create", &toolbox]).run().code, 0);
    let running = directory.path().join("results/.running.json");
    for (which, kind) in [(&podman_box, "container"), (&toolbox, "process")] {
        let mut child = bakeoff(&llama, directory.path())
            .args(["run", "--no-progress", "served", "--only", &format!("toolbox={which}")])
            .spawn();
        // Killed once the server answers requests: its log has a served request.
        let started = Instant::now();
        let list = loop {
            let list = std::fs::read_to_string(&running).unwrap_or_default();
            let logs = std::fs::read_dir(directory.path().join("results/logs")).into_iter().flatten().flatten();
            let serving = logs
                .filter(|entry| entry.file_name().to_string_lossy().starts_with("server-"))
                .any(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default().contains("processing task"));
            if serving && list.contains(&format!("\"kind\": \"{kind}\"")) {
                break list;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "{which}: the server never served; list: {list}");
            std::thread::sleep(Duration::from_millis(200));
        };
        child.kill().unwrap();
        child.wait().unwrap();
        // What the killed run left: the server still runs.
        let left: serde_json::Value = serde_json::from_str(&list).unwrap();
        let entry = left["started"].as_array().unwrap().iter().find(|entry| entry["kind"] == kind).unwrap().clone();
        let still_there = match kind {
            "container" => {
                let name = entry["name"].as_str().unwrap();
                podman_text(&["ps", "--format", "{{.Names}}"]).lines().any(|running| running == name)
            }
            _ => Path::new(&format!("/proc/{}", entry["pid"])).exists(),
        };
        assert!(still_there, "{which}: nothing was left running to test the clean-up with: {entry}");

        // The next run (with nothing to run) stops it first.
        let next = bakeoff(&llama, directory.path()).args(["run", "--no-progress", "--except", "toolbox=*"]).run();
        assert_eq!(next.code, 0, "{}", next.stderr);
        let said = match kind {
            "container" => format!("container {}", entry["name"].as_str().unwrap()),
            _ => format!("process {}", entry["pid"]),
        };
        assert!(
            next.stderr.contains(&format!("stopped what an earlier run left running: {said} (")),
            "{}",
            next.stderr
        );
        assert!(!running.exists(), "the list of what runs is gone after a run");
        assert_left_nothing(which, &image);
        // The server this run left is gone (other tests' servers may run meanwhile: only ours
        // is looked for).
        let gone = match kind {
            "container" => {
                let name = entry["name"].as_str().unwrap();
                !podman_text(&["ps", "--format", "{{.Names}}"]).lines().any(|running| running == name)
            }
            _ => !Path::new(&format!("/proc/{}", entry["pid"])).exists(),
        };
        assert!(gone, "{which}: the llama-server it left is still running: {entry}");
    }
}

/// A podman toolbox whose image is not here: plan, run, host and status name the image and
/// what to do; no fingerprint holds a silent null for it.
#[test]
fn a_podman_toolbox_without_its_image_says_which_and_what_to_do() {
    let llama = Llama::get();
    let _containers = Containers::get();
    let name = unique("noimage");
    let manifest = format!(
        r#"toolbox "{name}" {{
    runner "podman"
    image "localhost/bakeoff-no-such-image:1"
}}
model "gemma" {{ file "gemma-3-270m-q4_k_m.gguf" }}
experiment "absent" {{
    matrix {{
        model "gemma"
        toolbox "{name}"
    }}
    bench {{ args "-p" 16 "-n" 4 "-r" 1 }}
}}
"#
    );
    let directory = project(&[("experiments/absent.kdl", &manifest)]);
    let run = |what: &[&str]| bakeoff(&llama, directory.path()).args(what).run();
    let reason = format!(
        "toolbox `{name}`: image `localhost/bakeoff-no-such-image:1` is not in podman's storage here: `bakeoff toolbox \
         create {name}` pulls it, or build it under that name"
    );
    let plan = run(&["plan"]);
    assert_eq!(
        crate::support::without_short_hashes(&plan.stdout),
        format!(
            "blocked       absent/model=gemma,toolbox={name}/bench  {reason}\n1 cell: 0 cached, 0 to run, 1 blocked\n"
        )
    );
    let outcome = run(&["run", "--no-progress"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let stored = records(directory.path());
    assert_eq!(stored[0].status, Status::Blocked);
    assert_eq!(stored[0].failure.as_ref().unwrap().reason, reason);
    let host = run(&["host"]);
    assert!(
        host.stdout.contains(&format!(
            "  blocked  {name}: image `localhost/bakeoff-no-such-image:1` is not in podman's storage here"
        )),
        "{}",
        host.stdout
    );
    // A localhost image cannot be pulled: create says so and fails.
    let created = run(&["toolbox", "create", &name]);
    assert_eq!(created.code, 1, "{}", created.stderr);
    assert!(
        created.stderr.contains("a `localhost/` image cannot be pulled: build it on this machine under that name"),
        "{}",
        created.stderr
    );
    let status = run(&["toolbox", "status", &name]);
    assert!(
        status.stdout.contains("image      localhost/bakeoff-no-such-image:1 → not in podman's storage here"),
        "{}",
        status.stdout
    );
}

/// `bakeoff` (a copy the user can run) and podman as the test's normal user.
struct AsUser {
    user: String,
    home: PathBuf,
    conf: String,
    project: PathBuf,
    binary: PathBuf,
}

impl AsUser {
    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new("runuser");
        command
            .args(["-u", &self.user, "--", "env", "-i"])
            .arg(format!("HOME={}", self.home.display()))
            .arg(format!("CONTAINERS_CONF={}", self.conf))
            .arg(format!("USER={}", self.user))
            .arg(format!("LOGNAME={}", self.user))
            .arg(format!("BAKEOFF_CACHE_DIR={}", self.project.join("cache").display()))
            .args(["NO_COLOR=1", "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"])
            .arg(format!("BAKEOFF_POWERCAP_ROOT={}", crate::support::NO_COUNTERS))
            .arg(format!("BAKEOFF_HWMON_ROOT={}", crate::support::NO_COUNTERS))
            // Other tests' load is not what a container test is about (see `Bakeoff::new`).
            .arg("BAKEOFF_BUSY_THRESHOLD=off")
            .arg(program)
            .current_dir(&self.project);
        command
    }

    /// `bakeoff -C PROJECT --models PROJECT/models ARGS`: exit code, stdout, stderr.
    fn bakeoff(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let output = self
            .command(&self.binary)
            .arg("-C")
            .arg(&self.project)
            .arg("--models")
            .arg(self.project.join("models"))
            .args(args)
            .output()
            .unwrap();
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        (output.status.code(), text(&output.stdout), text(&output.stderr))
    }

    fn podman(&self, args: &[&str]) -> String {
        let output = self.command(Path::new("podman")).args(args).output().unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

/// distrobox refuses root, so it runs as a normal user with rootless podman, as our users run
/// it: `toolbox create` makes the container (with the toolbox's container arguments), and a
/// bench cell runs in it with the container's image digest and llama.cpp build in its record.
#[test]
fn distrobox_cells_run_for_a_normal_user() {
    let llama = Llama::get();
    let containers = Containers::get();
    let name = unique("db");
    let directory = project(&[(
        "experiments/distro.kdl",
        &format!(
            r#"toolbox "{name}" {{
    runner "distrobox"
    image "{image}"
    container-args "--label" "bakeoff-test=distrobox"
}}
model "gemma" {{ file "gemma-3-270m-q4_k_m.gguf" }}
experiment "distro" {{
    matrix {{
        model "gemma"
        toolbox "{name}"
    }}
    bench {{ args "-t" 1 "-p" 16 "-n" 4 "-r" 1 "--repack" 0 }}
    timeout 300
}}
"#,
            image = containers.image
        ),
    )]);
    // Everything the user touches is the user's: the project, a copy of the binary and a link to
    // the model (the checkout and the model may sit under root's home).
    let models = directory.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let model = models.join("gemma-3-270m-q4_k_m.gguf");
    if std::fs::hard_link(&llama.model, &model).is_err() {
        std::fs::copy(&llama.model, &model).unwrap();
    }
    let binary = directory.path().join("bakeoff");
    std::fs::copy(env!("CARGO_BIN_EXE_bakeoff"), &binary).unwrap();
    let user = containers.user.as_str();
    let owned = Command::new("chown")
        .args(["-R", &format!("{user}:{user}"), &directory.path().display().to_string()])
        .status()
        .unwrap();
    assert!(owned.success(), "chown failed");
    let as_user = AsUser {
        user: user.to_owned(),
        home: PathBuf::from("/home").join(user),
        conf: containers.conf.clone(),
        project: directory.path().to_path_buf(),
        binary,
    };
    let _cleanup = Cleanup(Box::new(|| {
        as_user.podman(&["rm", "--force", "--time", "0", &name]);
    }));

    let (code, stdout, stderr) = as_user.bakeoff(&["toolbox", "create", &name]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let create = format!("ran `/usr/bin/distrobox create --yes --name {name} --image {}", containers.image);
    assert!(stdout.contains(&create), "{stdout}");
    assert!(stdout.contains("--additional-flags '--label bakeoff-test=distrobox'"), "{stdout}");
    let (code, stdout, stderr) = as_user.bakeoff(&["run", "--no-progress"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, "1 cell: 1 ran (1 ok, 0 failed), 0 cached, 0 blocked\n", "{stderr}");
    let stored = records(directory.path());
    let record = &stored[0];
    assert_eq!(record.status, Status::Ok, "{:?}", record.failure);
    assert_eq!(record.fingerprint.toolbox.runner, "distrobox");
    assert_eq!(record.fingerprint.toolbox.llama_cpp.as_deref(), Some(llama_cpp_version(&llama).as_str()));
    let digest = as_user.podman(&["image", "inspect", "--format", "{{.Digest}}", &containers.image]);
    assert_eq!(record.fingerprint.toolbox.digest.as_deref(), Some(digest.as_str()));
    assert_eq!(record.metrics.keys().collect::<Vec<_>>(), ["peak_rss_bytes", "pp16", "tg4"]);
    let (_, again, _) = as_user.bakeoff(&["run", "--no-progress"]);
    assert_eq!(again, "1 cell: 0 ran (0 ok, 0 failed), 1 cached, 0 blocked\n");
}

/// Runs its closure when dropped, so that a failing test still removes what it made.
struct Cleanup<'a>(Box<dyn Fn() + 'a>);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// A timeout kills the `toolbox run` client, which alone would leave the command running in
/// the container: bakeoff stops the command itself, by the pid it announced.
#[test]
fn a_timeout_in_a_toolbox_stops_the_command_inside_it() {
    let llama = Llama::get();
    let containers = Containers::get();
    let toolbox = unique("timeout");
    let mut image = TestImage::build(&containers.image, &format!("localhost/{}:cpu", unique("timeout")), "timeout");
    image.containers.push(toolbox.clone());
    let manifest = format!(
        r#"toolbox "{toolbox}" {{
    runner "toolbox"
    image "{}"
}}
experiment "slow" {{
    matrix {{ toolbox "{toolbox}" }}
    command {{ args "sleep" "27.1828" }}
    timeout 2
}}
"#,
        image.tag
    );
    let directory = project(&[("experiments/slow.kdl", &manifest)]);
    assert_eq!(bakeoff(&llama, directory.path()).args(["toolbox", "create", &toolbox]).run().code, 0);
    let outcome = bakeoff(&llama, directory.path()).args(["run", "--no-progress", "--grace", "1"]).run();
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    let stored = records(directory.path());
    assert_eq!(stored[0].status, Status::TimedOut, "{:?}", stored[0].failure);
    let left = Command::new("pgrep").args(["-f", "sleep 27.1828"]).output().unwrap();
    assert!(left.stdout.is_empty(), "the command outlived its timeout: {}", String::from_utf8_lossy(&left.stdout));
}

/// Regression: with podman's init binary missing, every podman cell failed while `toolbox
/// status` said `llama.cpp (none found)` and `"problem": null` (any "No such file" in the
/// output was read as "no llama-bench"). Podman's own error is the toolbox's problem now.
#[test]
fn a_podman_without_its_init_binary_says_so_and_blocks_its_cells() {
    let llama = Llama::get();
    let containers = Containers::get();
    let name = unique("noinit");
    let conf_directory = tempfile::tempdir().unwrap();
    let conf = conf_directory.path().join("containers.conf");
    let original = std::fs::read_to_string(&containers.conf).unwrap();
    let with_init = original.replacen("[containers]\n", "[containers]\ninit_path = \"/nonexistent/catatonit\"\n", 1);
    assert_ne!(with_init, original, "containers.conf has a [containers] section");
    std::fs::write(&conf, with_init).unwrap();
    let manifest = format!(
        r#"toolbox "{name}" {{
    runner "podman"
    image "{image}"
}}
model "gemma" {{ file "gemma-3-270m-q4_k_m.gguf" }}
experiment "noinit" {{
    matrix {{
        model "gemma"
        toolbox "{name}"
    }}
    bench {{ args "-p" 16 "-n" 4 "-r" 1 }}
}}
"#,
        image = containers.image
    );
    let directory = project(&[("experiments/noinit.kdl", &manifest)]);
    let run = |what: &[&str]| bakeoff(&llama, directory.path()).env("CONTAINERS_CONF", &conf).args(what).run();
    let status = run(&["toolbox", "status", "--json", &name]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let rows: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let problem = rows[0]["problem"].as_str().unwrap_or_else(|| panic!("no problem in {}", status.stdout));
    assert!(problem.starts_with("podman failed to run `"), "{problem}");
    assert!(problem.contains("(exit code 125): Error:"), "podman's exit code and its own error line: {problem}");
    assert!(problem.contains("/nonexistent/catatonit"), "{problem}");
    assert!(problem.contains("install catatonit (Debian: `apt install catatonit`"), "the help: {problem}");
    let plan = run(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.starts_with("blocked"), "{}", plan.stdout);
    assert!(plan.stdout.contains(&format!("toolbox `{name}`: podman failed to run")), "{}", plan.stdout);
    assert!(plan.stdout.ends_with("1 cell: 0 cached, 0 to run, 1 blocked\n"), "{}", plan.stdout);
}

/// `podman` and `toolbox` as themselves, each call written down: how many times a command
/// started a container (`podman run`, `toolbox run`).
struct Counted {
    shims: tempfile::TempDir,
    log: PathBuf,
}

impl Counted {
    fn new() -> Self {
        let shims = tempfile::tempdir().unwrap();
        let log = shims.path().join("calls.log");
        for tool in ["podman", "toolbox"] {
            let real = crate::support::installed(tool, "scripts/containers.sh").display().to_string();
            let shim = shims.path().join(tool);
            std::fs::write(
                &shim,
                format!("#!/bin/sh\necho \"{tool} $1\" >> '{}'\nexec {real} \"$@\"\n", log.display()),
            )
            .unwrap();
            std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        Self { shims, log }
    }

    fn path(&self) -> std::ffi::OsString {
        let mut paths = vec![self.shims.path().to_path_buf()];
        paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
        std::env::join_paths(paths).unwrap()
    }

    /// Containers started since the last call.
    fn runs(&self) -> usize {
        let calls = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        calls.lines().filter(|call| *call == "podman run" || *call == "toolbox run").count()
    }
}

/// What is inside a toolbox is asked once: a second plan takes it from the machine's
/// inspection cache and starts no container; a container made anew from another image, a
/// podman tag on another image, `--no-cache` and `toolbox status --refresh` ask again.
#[test]
fn the_inspection_cache_serves_a_second_plan_without_starting_a_container() {
    let llama = Llama::get();
    let containers = Containers::get();
    let Boxed { toolbox, podman: podman_box, image, directory } = Boxed::new(&containers, "cache", |text| text);
    let counted = Counted::new();
    let cache = directory.path().join("machine-cache");
    let run = |args: &[&str]| {
        bakeoff(&llama, directory.path()).env("PATH", counted.path()).env("BAKEOFF_CACHE_DIR", &cache).args(args).run()
    };
    assert_eq!(run(&["toolbox", "create", &toolbox]).code, 0);
    counted.runs();

    let first = run(&["plan"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    // llama-bench --version, llama-bench --help and llama-server --help, in the toolbox
    // container and in a podman container each.
    assert_eq!(counted.runs(), 6, "three questions to each toolbox");
    let second = run(&["plan"]);
    assert_eq!(second.stdout, first.stdout, "the cache says what the inspection said");
    assert_eq!(counted.runs(), 0, "a second plan starts no container");
    let status = run(&["toolbox", "status", "--json"]);
    assert!(status.stdout.contains("\"llama_cpp\": \"0.6.0-dev"), "{}", status.stdout);
    assert_eq!(counted.runs(), 0, "nor does `toolbox status`");

    assert_eq!(run(&["plan", "--no-cache"]).code, 0);
    assert_eq!(counted.runs(), 6, "--no-cache asks again");
    assert_eq!(run(&["toolbox", "status", "--refresh", &podman_box]).code, 0);
    assert_eq!(counted.runs(), 3, "status --refresh asks again");

    // Another image under the same tag, and the toolbox's container made anew from it.
    image.rebuild(&containers.image, "two");
    let refreshed = run(&["toolbox", "refresh", "--no-pull", &toolbox]);
    assert_eq!(refreshed.code, 0, "{}", refreshed.stderr);
    counted.runs();
    assert_eq!(run(&["lock"]).code, 0, "the new image is accepted into the lock");
    assert_eq!(counted.runs(), 6, "a container made anew and a tag on another image are asked again");
    let third = run(&["plan"]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert_eq!(counted.runs(), 0, "the plan takes what `lock` found");
    assert_eq!(run(&["plan"]).stdout, third.stdout);
    assert_eq!(counted.runs(), 0);
}

/// A quality reference in a podman container writes its base logits into the store, which is
/// mounted read-write over the read-only project, and a candidate in another container reads
/// them; both containers are gone after.
#[test]
fn quality_in_a_podman_container_writes_and_reads_its_base() {
    let llama = Llama::get();
    let containers = Containers::get();
    let podman_box = unique("quality-pm");
    let image = TestImage::build(&containers.image, &format!("localhost/{}:cpu", unique("quality")), "quality");
    let manifest = format!(
        r#"toolbox "{podman_box}" {{
    runner "podman"
    image "{}"
}}
model "gemma" {{ file "gemma-3-270m-q4_k_m.gguf" }}
experiment "q" {{
    matrix {{
        model "gemma"
        toolbox "{podman_box}"
        ctk "f16" "q8_0"
    }}
    quality {{
        corpus "corpus.txt"
        reference ctk="f16"
        args "-t" 1 "-c" 128 "--chunks" 2 "-ctk" "{{ctk}}" "-nr"
    }}
    timeout 300
}}
"#,
        image.tag
    );
    let corpus = std::fs::read_to_string(crate::support::repo().join("experiments/corpus/prose.txt")).unwrap();
    let directory = project(&[("experiments/q.kdl", &manifest), ("experiments/corpus.txt", &corpus)]);
    let ran = bakeoff(&llama, directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout, "2 cells: 2 ran (2 ok, 0 failed), 0 cached, 0 blocked\n", "{}", ran.stderr);
    let stored = records(directory.path());
    let reference = stored.iter().find(|record| record.axes["ctk"] == "f16").unwrap();
    let candidate = stored.iter().find(|record| record.axes["ctk"] == "q8_0").unwrap();
    assert!(reference.metrics.contains_key("ppl") && !reference.metrics.contains_key("kld_mean"));
    let kld = candidate.metrics["kld_mean"].mean;
    assert!(kld > 0.0 && kld < 0.1, "a q8_0 K cache is close to f16: {kld}");
    let base = directory.path().join("results/bases").join(format!("{}.kld", reference.hash));
    assert!(base.is_file(), "the container wrote no base at {}", base.display());
    assert_left_nothing(&podman_box, &image);
}
