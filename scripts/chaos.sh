#!/usr/bin/env bash
# A chaos soak: a campaign of command, bench and server cells (on the host and in a podman
# container) while faults are thrown at it at random moments, with a new `bakeoff run` after
# each fault until the campaign is done:
#   kill-bakeoff   SIGKILL of bakeoff in the middle of a run
#   kill-child     SIGKILL of the process a cell (or its server) runs
#   stop-child     SIGSTOP of it: the cell hangs until its timeout
#   hang           a command cell that hangs (it waits on a file the fault made): its timeout
#   corrupt        a record truncated between runs (bakeoff names it; the soak deletes it, as
#                  bakeoff's help says, and the cell runs again)
#   disk-full      the results filesystem (a small tmpfs) filled up, freed after the run
# At the end every cell must have exactly one valid record, nothing of the campaign may run
# (processes, containers, servers), no record that was valid before a fault may be lost
# (but the one a `corrupt` fault broke), and every fault must be named by bakeoff (in a
# record or on stderr). It prints faults injected / survived / records lost / processes left,
# and exits non-zero when any fault was not survived.
#
# Usage: scripts/chaos.sh [FAULTS] [SEED]   (as root: a tmpfs, podman; after scripts/test.sh's
# set-up, which builds the podman image). Defaults: 12 faults, a random seed (printed).
set -euo pipefail
cd "$(dirname "$0")/.."
faults=${1:-12}
seed=${2:-$RANDOM}
source scripts/llama-project.sh
export CONTAINERS_CONF=${CONTAINERS_CONF:-/var/lib/bakeoff-test/containers.conf}
image=localhost/bakeoff-llama:cpu
podman image exists "$image" || { echo "chaos: no $image: run scripts/containers.sh first" >&2; exit 1; }
results=$work/results
mkdir -p "$results" "$work/control"
mount -t tmpfs -o size=256m tmpfs "$results"
trap 'podman rm --force --time 0 $(podman ps -aq --filter label=bakeoff-chaos=yes) >/dev/null 2>&1 || true; umount "$results" 2>/dev/null || true; rm -rf "$work"' EXIT
model=$(basename "$GEMMA_MODEL")
cat > "$work/experiments/chaos.kdl" <<KDL
toolbox "boxed" {
    runner "podman"
    image "$image"
    container-args "--label" "bakeoff-chaos=yes"
}
model "gemma" { file "$model" }
experiment "commands" {
    matrix { n 1 2 3 4 5 6 7 8 }
    command {
        args "sh" "-c" "if [ -e $work/control/hang-{n} ]; then sleep 999; fi; sleep 1; echo value={n}"
        metric "value" regex="value=([0-9]+)"
    }
    timeout 5
}
experiment "benches" {
    matrix {
        model "gemma"
        toolbox "host" "boxed"
        threads 1 2
    }
    bench { args "-t" "{threads}" "-p" 16 "-n" 8 "-r" 2 "--repack" 0 }
    timeout 120
}
experiment "served" {
    matrix {
        model "gemma"
        toolbox "host" "boxed"
    }
    server {
        args "-nr" "-t" 2 "--ctx-size" 1024
        ready-timeout 120
    }
    workload "hello" {
        request api="completion" max-tokens=24 prompt="Tell a story."
        repeat 4
    }
    workload "again" {
        request api="completion" max-tokens=24 prompt="Tell another story."
        repeat 4
    }
    timeout 120
}
KDL
export BAKEOFF_CACHE_DIR=$work/cache
python3 - "$work" "$results" "$faults" "$seed" "$(pwd)/target/release/bakeoff" "$(dirname "$GEMMA_MODEL")" <<'PY'
import glob, json, os, random, signal, subprocess, sys, time

work, results, faults, seed, bakeoff, models = sys.argv[1:7]
faults, seed = int(faults), int(seed)
random.seed(seed)
print(f"chaos: seed {seed}, {faults} faults", flush=True)
base = [bakeoff, "-C", work, "--models", models, "--results", results]


def run(args, wait=True):
    command = base + args
    if not wait:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = subprocess.run(command, capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


def records():
    """Every record file: hash -> (parsed or None, path)."""
    found = {}
    for path in glob.glob(f"{results}/cells/*/*.json"):
        try:
            found[os.path.basename(path)[:-5]] = (json.load(open(path)), path)
        except (ValueError, OSError):
            found[os.path.basename(path)[:-5]] = (None, path)
    return found


def valid(found):
    return {hash for hash, (record, _) in found.items() if record is not None}


def campaign_processes():
    """Processes of the campaign: bakeoff on this project, its cells' programs, its containers."""
    left = []
    for line in subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout.splitlines():
        pid, _, args = line.strip().partition(" ")
        if int(pid) == os.getpid():
            continue
        if (work in args or models in args) and ("bakeoff" in args or "llama-" in args or "sleep 999" in args):
            left.append(line.strip())
    containers = subprocess.run(
        ["podman", "ps", "-aq", "--filter", "label=bakeoff-chaos=yes"], capture_output=True, text=True
    ).stdout.split()
    return left, containers


def children_of_cells():
    """The pids of what cells run now: llama-bench, llama-server, and the commands' sh."""
    pids = []
    for line in subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout.splitlines():
        pid, _, args = line.strip().partition(" ")
        if ("llama-bench" in args or "llama-server" in args) and models in args or (f"{work}/control/hang-" in args and args.startswith("sh ")):
            pids.append(int(pid))
    return pids


def wait_for(condition, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    return None


def plan_left():
    code, out, err = run(["plan"])
    return out.strip().splitlines()[-1] if out.strip() else err.strip()


injected, survived, lost, problems = 0, 0, 0, []
for number in range(1, faults + 1):
    kind = random.choice(["kill-bakeoff", "kill-child", "stop-child", "hang", "corrupt", "disk-full"])
    before = valid(records())
    said = []
    corrupted = None
    ballast = f"{results}/ballast"
    if kind == "corrupt":
        if not before:
            kind = "kill-bakeoff"
        else:
            corrupted = random.choice(sorted(before))
            path = records()[corrupted][1]
            text = open(path).read()
            open(path, "w").write(text[: len(text) // 2])
    if kind == "hang":
        open(f"{work}/control/hang-{random.randint(1, 8)}", "w").close()
    if kind == "disk-full":
        stat = os.statvfs(results)
        free = stat.f_bavail * stat.f_frsize
        subprocess.run(["fallocate", "-l", str(max(free - 200_000, 0)), ballast], check=False)
    injected += 1
    # The run measures again (--force) the experiment the fault is for, so that the fault meets
    # cells in flight; a record it replaces is replaced by a whole one or kept.
    target = {"hang": "commands", "kill-child": random.choice(["benches", "served"]),
              "stop-child": random.choice(["benches", "served"])}.get(kind, random.choice(["commands", "benches", "served"]))
    process = run(["run", "--no-progress", "--force", target], wait=False)
    if kind in ("kill-bakeoff",):
        time.sleep(random.uniform(0.5, 8.0))
        process.kill()
    elif kind in ("kill-child", "stop-child"):
        victims = wait_for(children_of_cells, 30)
        if victims:
            time.sleep(random.uniform(0.0, 1.5))
            victim = random.choice(victims)
            try:
                os.kill(victim, signal.SIGKILL if kind == "kill-child" else signal.SIGSTOP)
            except ProcessLookupError:
                pass
    try:
        out, err = process.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        problems.append(f"fault {number} ({kind}): the run did not end within 15 minutes")
    said.append(err)
    if kind == "disk-full":
        os.remove(ballast) if os.path.exists(ballast) else None
    for control in glob.glob(f"{work}/control/hang-*"):
        os.remove(control)
    # The next run stops what the fault left and goes on; a corrupt record is named.
    code, out, err = run(["run", "--no-progress"])
    said.append(err)
    if corrupted:
        named = any(f"{corrupted}.json` is corrupt" in text for text in said)
        os.remove(records()[corrupted][1])
        if not named:
            problems.append(f"fault {number} (corrupt): bakeoff did not name the corrupt record {corrupted}")
    after = valid(records())
    gone = (before - {corrupted}) - after
    lost += len(gone)
    text = "\n".join(said)
    named = {
        "kill-bakeoff": True,  # a killed run has no words; what it left is stopped and said
        "kill-child": "killed by signal" in text or "died" in text or process.returncode == 0,
        # A stopped server that was starting is not ready in time; one serving times its cell out.
        "stop-child": "timed out" in text or "was not ready after" in text or process.returncode == 0,
        "hang": "timed out after 5 s" in text or process.returncode == 0,
        "corrupt": True,
        "disk-full": "No space left on device" in text or process.returncode == 0,
    }[kind]
    fine = not gone and named
    survived += fine
    if not fine:
        said_lines = [line for line in text.splitlines() if line.startswith(("failed", "timed-out", "blocked", "warning"))]
        problems.append(f"fault {number} ({kind}): lost {sorted(gone)}, named {named}; bakeoff said: {said_lines[-3:]}")
    print(f"chaos: fault {number}: {kind:<12} {'survived' if fine else 'NOT survived'}; plan: {plan_left()}", flush=True)

# Until the campaign is done: failed cells are results, so `run` ends when nothing is left.
for _ in range(5):
    code, out, err = run(["run", "--no-progress"])
    if " 0 ran " in out or "0 ran (" in out:
        break
code, out, err = run(["plan", "--json"])
plan = json.loads(out)
cells = plan["cells"] if isinstance(plan, dict) and "cells" in plan else plan
to_run = [cell for cell in cells if cell.get("decision", {}).get("status") == "run"]
found = records()
corrupt = [hash for hash, (record, _) in found.items() if record is None]
hashes = {cell["hash"] for cell in cells}
missing = [hash for hash in hashes if hash not in valid(found)]
left, containers = wait_for(lambda: None, 0) or campaign_processes()
print(f"chaos: {len(hashes)} cells, {len(valid(found))} valid records, {len(corrupt)} corrupt, {len(missing)} without a record, {len(to_run)} still to run")
print(f"chaos: faults injected {injected}, survived {survived}, records lost {lost}, processes left {len(left) + len(containers)}")
for line in left + containers:
    print(f"chaos: left running: {line}")
for problem in problems:
    print(f"chaos: {problem}")
sys.exit(0 if survived == injected and not lost and not left and not containers and not corrupt and not missing else 1)
PY
