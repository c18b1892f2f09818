#!/usr/bin/env bash
# Sets up real podman, toolbox and distrobox for the container tests (shared/containers.md's
# recipe) and prints, as shell assignments, what the tests need:
#   CONTAINERS_CONF=…            runc and cgroupfs (crun fails on this kind of host)
#   BAKEOFF_TEST_IMAGE=localhost/bakeoff-llama:cpu   Debian + the pip-installed llama.cpp
#   BAKEOFF_TEST_USER=bakeoff-test                   a normal user with rootless podman (distrobox)
#   BAKEOFF_DBUS_PID=…           the system bus this script started (empty when one ran): the
#                                caller stops it when done
# Usage: scripts/containers.sh LLAMA_BIN_DIR   (as root; apt-get installs what is missing)
#
# The Debian base image is the slow part (debootstrap, ~3 minutes): it is kept in podman's
# storage and reused while it exists (`podman image exists`); `BAKEOFF_REBUILD_BASE=1`
# builds it again from scratch. The llama.cpp image on top of it takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir=${1:?usage: scripts/containers.sh LLAMA_BIN_DIR}
base=localhost/bakeoff-base:12
image=localhost/bakeoff-llama:cpu
user=bakeoff-test
state=/var/lib/bakeoff-test
log() { echo "containers: $*" >&2; }

[ "$(id -u)" = 0 ] || { log "run me as root (apt-get, podman storage, a test user)"; exit 1; }

scripts/apt-install.sh podman catatonit runc podman-toolbox dbus debootstrap distrobox uidmap slirp4netns fuse-overlayfs procps

mkdir -p "$state"
chmod 755 "$state"
conf=$state/containers.conf
printf '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n' > "$conf"
chmod 644 "$conf"
export CONTAINERS_CONF=$conf

# toolbox talks to the system bus; a machine without systemd has no bus running.
dbus_pid=
if [ ! -S /run/dbus/system_bus_socket ] || ! dbus-send --system --print-reply --dest=org.freedesktop.DBus / \
    org.freedesktop.DBus.GetId >/dev/null 2>&1; then
    mkdir -p /run/dbus
    rm -f /run/dbus/system_bus_socket /run/dbus/pid
    dbus_pid=$(dbus-daemon --system --fork --print-pid)
fi

# A cached base is reused only if it is sound: its root must be readable and searchable by
# others (a rootless user's container cannot load libc otherwise; podman shows it as 555).
base_ok() {
    podman image exists "$base" || return 1
    mode=$(podman run --rm --pull=never --network=none "$base" stat -c %a / 2>/dev/null) || return 1
    case "$mode" in *5 | *7) return 0 ;; *) return 1 ;; esac
}
if [ "${BAKEOFF_REBUILD_BASE:-0}" = 1 ] || ! base_ok; then
    mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    mirror=${mirror:-$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
    mirror=${mirror:-http://deb.debian.org/debian}
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    log "building $base with debootstrap from $mirror (a few minutes, once)"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >&2
    # toolbox needs capsh, sudo and passwd in the image; llama.cpp needs libgomp and libssl.
    chroot "$rootfs" apt-get install -y -qq libcap2-bin sudo passwd procps libgomp1 libssl3 >&2
    chroot "$rootfs" apt-get clean
    # mktemp made the folder 0700, and tar records `.` with it: the image's / would be too.
    chmod 755 "$rootfs"
    tar -C "$rootfs" -cf - . | podman import - "$base" >&2
    rm -rf "$rootfs"
    trap - EXIT
fi

# The llama.cpp image: the pip-installed binaries and their libraries, on PATH through
# /usr/local/bin (toolbox run uses the login shell's PATH, not the image's ENV).
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp -a "$bin_dir" "$context/bin"
cat > "$context/Containerfile" <<EOF
FROM $base
COPY bin /opt/llama/bin
RUN for program in /opt/llama/bin/llama-*; do ln -sf "\$program" /usr/local/bin/; done
ENV PATH=/opt/llama/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EOF
podman build -q -t "$image" "$context" >&2
rm -rf "$context"
trap - EXIT
podman run --rm --network=host --pull=never "$image" llama-bench --version >/dev/null 2>&1 ||
    { log "llama-bench does not run in $image"; exit 1; }

# distrobox refuses root: a normal user with rootless podman and the same images.
if ! id "$user" >/dev/null 2>&1; then
    useradd -m "$user"
fi
grep -q "^$user:" /etc/subuid || echo "$user:200000:65536" >> /etc/subuid
grep -q "^$user:" /etc/subgid || echo "$user:200000:65536" >> /etc/subgid
home=$(getent passwd "$user" | cut -d: -f6)
install -d -o "$user" -g "$user" "$home/.config" "$home/.config/containers"
install -o "$user" -g "$user" -m 644 "$conf" "$home/.config/containers/containers.conf"
as_user() { runuser -u "$user" -- env HOME="$home" CONTAINERS_CONF="$conf" "$@"; }
root_id=$(podman image inspect --format '{{.Id}}' "$image")
user_id=$(as_user podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
if [ "$root_id" != "$user_id" ]; then
    log "copying $image into $user's podman storage"
    podman save "$image" | as_user podman load -q >&2
fi

echo "CONTAINERS_CONF=$conf"
echo "BAKEOFF_TEST_IMAGE=$image"
echo "BAKEOFF_TEST_USER=$user"
echo "BAKEOFF_DBUS_PID=$dbus_pid"
