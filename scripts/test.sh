#!/usr/bin/env bash
# The test suite: provisions llama.cpp and the Gemma model (for the tests that run them),
# real podman, toolbox and distrobox with a llama.cpp image and a Vulkan one on Mesa's lavapipe
# (for the container and backend tests; as root, which apt-get and a test user need) and a real
# single-node Slurm (for the Slurm executor's tests) and the Claude Code CLI (for the capture
# tests), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# Runs a set-up script that prints shell assignments and takes them. `eval "$(script)"` would
# carry on past a script that failed (eval of nothing succeeds): this stops, naming it.
setup() {
    local assignments status
    assignments=$("$@") || {
        status=$?
        echo "scripts/test.sh: the set-up step \`$*\` failed (exit $status); its message is above" >&2
        exit "$status"
    }
    eval "$assignments"
}
setup scripts/provision.sh
export BAKEOFF_TEST_LLAMA_BIN_DIR="$LLAMA_BIN_DIR" BAKEOFF_TEST_MODEL="$GEMMA_MODEL"
setup scripts/containers.sh "$LLAMA_BIN_DIR"
export CONTAINERS_CONF BAKEOFF_TEST_IMAGE BAKEOFF_TEST_USER
# The Vulkan llama.cpp image (Mesa's lavapipe): built once (~15 min) and kept in podman's storage.
setup scripts/vulkan.sh "$GEMMA_MODEL"
export BAKEOFF_TEST_VULKAN_IMAGE BAKEOFF_TEST_MESA_CACHE
# The system bus the set-up started for toolbox, and Slurm's daemons, go when the tests are done.
slurm_dir=/var/lib/bakeoff-test/slurm
trap '[ -z "$BAKEOFF_DBUS_PID" ] || kill "$BAKEOFF_DBUS_PID" 2>/dev/null || true; scripts/slurm.sh stop "$slurm_dir"' EXIT
setup scripts/slurm.sh start "$slurm_dir"
# Headless Chromium loads results/index.html in the page's tests.
scripts/apt-install.sh chromium
# strace lists every file a run with a storage root creates (the storage tests).
scripts/apt-install.sh strace
# The real agent clients the capture and replay tests run (npm and pip, pinned, cached).
setup scripts/clients.sh
export BAKEOFF_TEST_CLAUDE="$CLAUDE_BIN" BAKEOFF_TEST_AIDER="$AIDER_BIN"
export SLURM_CONF BAKEOFF_TEST_SLURM_DIR
if command -v cargo-nextest >/dev/null 2>&1; then
    # Doc tests first, so that the run ends with the summary of every other test.
    cargo test --locked --doc
    cargo nextest run --locked --no-fail-fast
else
    cargo test --locked
fi
