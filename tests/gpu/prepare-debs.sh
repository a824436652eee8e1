#!/usr/bin/env bash
# Run HERE (a Debian/Ubuntu machine with apt and a network), before a GPU session: puts
# into .debs/ the .deb files that tests/gpu/run.sh unpacks (dpkg -x, no install) on the
# GPU machine, which has no package registry. Then call the device tool with
# carry [".debs"]. Needs current package lists (apt-get update) but no root.
# `prepare-debs.sh --list` only prints the package names.
#   - the -dev packages (headers, .so links, .pc files) of every library CMake requires:
#     libyaml, OpenBLAS, oneDNN, HDF5, matio, jansson, libjpeg-turbo, Open MPI (configure only),
#     zlib (matio.pc links -lz), and pkgconf in case the GPU machine has no pkg-config;
#   - the runtime libraries those link to, with all their dependencies (sonames differ
#     between Debian 12 and Ubuntu 24.04, e.g. libldap-2.5 vs libldap 2.6, and libdnnl
#     needs libOpenCL.so.1), except libc, libstdc++, libgcc, libgomp and zlib, which the
#     GPU machine has and whose older copies would do harm. The built programs find the
#     unpacked ones through their RPATH (tests/gpu/run.sh), nothing else does.
# Open MPI's runtime dependencies are left out: the GPU session builds no MPI program.
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"

DEV=(libyaml-dev libopenblas-dev libopenblas-pthread-dev libdnnl-dev libhdf5-dev libmatio-dev
     libjansson-dev libjpeg62-turbo-dev libopenmpi-dev libopenmpi3 zlib1g-dev pkgconf pkgconf-bin libpkgconf3)
RUNTIME=(libyaml-0-2 libopenblas0-pthread libdnnl2 libhdf5-103-1 libmatio11 libjansson4 libjpeg62-turbo)
# On every system already, and better taken from the GPU machine's own compiler and C
# library than mixed with Debian 12's copies.
PRESENT=(libc6 libgcc-s1 libstdc++6 libgomp1 zlib1g gcc-12-base)

# Library packages the runtime ones need, recursively, minus PRESENT.
runtime_closure() {
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances "${RUNTIME[@]}" | grep -v '^[ <]' | sort -u |
        grep -vxF -f <(printf '%s\n' "${PRESENT[@]}")
}

mapfile -t packages < <( (printf '%s\n' "${DEV[@]}"; runtime_closure) | sort -u)
if [ "${1:-}" = "--list" ]; then     # print the package names only
    printf '%s\n' "${packages[@]}"
    exit 0
fi
exclude=$(git rev-parse --git-path info/exclude)     # keep .debs/ out of git
mkdir -p "$(dirname "$exclude")"
grep -qx '/.debs/' "$exclude" 2>/dev/null || echo '/.debs/' >>"$exclude"
rm -rf .debs
mkdir -p .debs
echo "downloading ${#packages[@]} packages into .debs/"
(cd .debs && apt-get download "${packages[@]}")
size=$(du -sm .debs | cut -f1)
echo "$(find .debs -name '*.deb' | wc -l) .deb files, ${size} MiB in .debs/"
# The device tool carries at most 64 MiB of working tree and carried paths together.
if [ "$size" -gt 40 ]; then
    echo "warning: .debs/ is ${size} MiB; with the working tree it must stay under 64 MiB" >&2
fi
