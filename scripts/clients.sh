#!/usr/bin/env bash
# Installs the pinned agent clients the client tests run, once, under ~/.cache/bakeoff-clients,
# and prints, as shell assignments, where they are:
#   CLAUDE_BIN=…/claude-code-2.1.328/node_modules/.bin/claude   (Anthropic API; npm, with node
#                                                                and npm from apt when missing)
#   AIDER_BIN=…/aider-0.86.2/bin/aider                          (OpenAI API; pip, in its own venv)
# An install that does not run (a half download, another CPU) is removed and done again.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null 2>&1 || scripts/apt-install.sh nodejs npm
root=${BAKEOFF_CLIENTS_DIR:-$HOME/.cache/bakeoff-clients}
claude_version=2.1.328
prefix=$root/claude-code-$claude_version
claude=$prefix/node_modules/.bin/claude
if ! "$claude" --version >/dev/null 2>&1; then
    echo "clients: installing Claude Code $claude_version from npm" >&2
    rm -rf "$prefix"
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
        "@anthropic-ai/claude-code@$claude_version" >&2
    "$claude" --version >/dev/null 2>&1 || { echo "clients: $claude does not run" >&2; exit 1; }
fi
aider_version=0.86.2
venv=$root/aider-$aider_version
aider=$venv/bin/aider
if ! "$aider" --version >/dev/null 2>&1; then
    echo "clients: installing aider $aider_version from PyPI" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --disable-pip-version-check -q "aider-chat==$aider_version" >&2
    "$aider" --version >/dev/null 2>&1 || { echo "clients: $aider does not run" >&2; exit 1; }
fi
echo "CLAUDE_BIN=$claude"
echo "AIDER_BIN=$aider"
