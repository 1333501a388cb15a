# tools/lib.sh — shared by tools/serve, tools/test and bench/compare: install what is missing
# (Debian 12 packages only) and build. Sourced, not run.
set -euo pipefail

SLUICE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Packages needed to build and test sluice.
SLUICE_BUILD_PKGS=(meson ninja-build g++ pkg-config liburing-dev node-llhttp libgtest-dev
                   libbenchmark-dev media-types curl python3 libwolfssl-dev libssl-dev
                   openssl gnutls-bin user-mode-linux kmod python3-cryptography
                   libnghttp2-dev nghttp2-client python3-h2 python3-hyperframe python3-hpack
                   prometheus)  # promtool checks /metrics

# ensure_packages PKG... — apt-get install the ones not yet installed (sudo when not root).
ensure_packages() {
    local missing=()
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "sluice: installing ${missing[*]}" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2
}

# build_dir DIR [meson setup args...] — configure once, then build with ninja.
build_dir() {
    local dir="$1"
    shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$SLUICE_ROOT" "$@" >&2
    fi
    ninja -C "$dir" >&2
}
