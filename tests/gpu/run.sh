#!/usr/bin/env bash
# One GPU session in one command (the device budget is ~15 minutes in all; this script
# aims at 6-8 on an H100). On the GPU machine, from the repository root:
#     bash tests/gpu/run.sh              (device tool: carry [".debs"], timeout_s 480)
# Steps: GPU and tool facts -> dependencies (.debs/ unpacked into a prefix; made here by
# tests/gpu/prepare-debs.sh, since that machine has no package registry) -> cmake
# -DTL_CUDA=ON and build of the GPU tests and bench_gpu -> ldd check -> ctest -L gpu ->
# bench_gpu -> bench/torch_gpu.py -> one table (C backend vs PyTorch), printed last.
# Logs go to $OUT (the device tool's output folder), else build-gpu/logs/.
# Arguments: the steps to run (default: info deps build test bench).
# Environment: TL_GPU_QUICK=1 fewer benchmark iterations; TL_DEPS_PREFIX=DIR where the
# .debs are unpacked (default /tmp/tl-deps; an existing one is reused when .debs/ is absent).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
BUILD=$ROOT/build-gpu
LOG=${OUT:-$BUILD/logs}
mkdir -p "$LOG"
PREFIX=${TL_DEPS_PREFIX:-/tmp/tl-deps}
LIBDIR=$PREFIX/usr/lib/x86_64-linux-gnu
ITERS=10
[ "${TL_GPU_QUICK:-0}" = 1 ] && ITERS=3
USE_PREFIX=0
STATUS=0
CUBLAS_INC=""
RPATH_EXTRA=""

step() { printf '\n=== %s (%s, %d s in)\n' "$*" "$(date +%T)" "$SECONDS"; }
fail() { echo "FAILED: $*"; STATUS=1; }

info() {
    step "GPU and tools"
    nvidia-smi || fail "nvidia-smi"
    nvcc --version | tail -n 2
    cmake --version | head -n 1
    gcc --version | head -n 1
    echo "pkg-config: $(command -v pkg-config || echo missing), dpkg: $(command -v dpkg || echo missing)"
    python3 -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())' ||
        echo "python3 has no torch"
}

# Debian packages unpack with /usr baked into .pc files and some symlinks: point those
# into the prefix, and dangling .so links (to runtime packages left out on purpose, e.g.
# zlib) to the system's library of the same soname. Safe to run twice.
fix_prefix() {
    find "$PREFIX" -name '*.pc' -type f -exec sed -i -e "s|=/usr|=$PREFIX/usr|g" \
        -e "s|-I/usr|-I$PREFIX/usr|g" -e "s|-L/usr|-L$PREFIX/usr|g" {} +
    find "$PREFIX" -type l | while read -r link; do
        local target
        target=$(readlink "$link")
        case $target in "$PREFIX"/*) ;; /*) ln -sfn "$PREFIX$target" "$link" ;; esac
        [ -e "$link" ] && continue
        local soname dir
        soname=$(basename "$target" | sed -E 's/(\.so\.[0-9]+).*/\1/')
        for dir in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
            if [ -e "$dir/$soname" ]; then ln -sfn "$dir/$soname" "$link"; break; fi
        done
        [ -e "$link" ] || case $link in *.so*) echo "note: $link -> $target dangles" ;; esac
    done
    rm -f "$PREFIX/usr/bin/h5cc" "$PREFIX/usr/bin/h5pcc"     # wrappers with /usr baked in
    if [ -x "$PREFIX/usr/bin/pkgconf" ]; then
        printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$LIBDIR" "$PREFIX/usr/bin/pkgconf" >"$PREFIX/pkg-config"
        chmod +x "$PREFIX/pkg-config"
    fi
}

deps() {
    step "dependencies"
    local debs=(.debs/*.deb)
    if [ -e "${debs[0]}" ]; then
        rm -rf "$PREFIX"
        mkdir -p "$PREFIX"
        local f
        for f in "${debs[@]}"; do dpkg -x "$f" "$PREFIX" || fail "dpkg -x $f"; done
        echo "unpacked ${#debs[@]} packages from .debs/ into $PREFIX"
        fix_prefix
        USE_PREFIX=1
    elif [ -d "$PREFIX/usr" ]; then
        echo "no .debs/: reusing $PREFIX"
        fix_prefix
        USE_PREFIX=1
    else
        echo "no .debs/ and no $PREFIX: using the system's libraries only (configure fails if some are missing)"
    fi
}

# cuDNN: the toolkit's, the system's, or the pip wheel's that PyTorch loads.
find_cudnn() {
    local wheel dir
    wheel=$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null)
    CUDNN_INC="" CUDNN_LIB=""
    for dir in /usr/local/cuda/include /usr/include /usr/include/x86_64-linux-gnu ${wheel:+"$wheel/include"}; do
        if [ -f "$dir/cudnn.h" ]; then CUDNN_INC=$dir; break; fi
    done
    for dir in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu ${wheel:+"$wheel/lib"}; do
        if [ -e "$dir/libcudnn.so" ]; then CUDNN_LIB=$dir/libcudnn.so; break; fi
        if [ -e "$dir/libcudnn.so.9" ]; then CUDNN_LIB=$dir/libcudnn.so.9; break; fi
    done
    echo "cuDNN: header ${CUDNN_INC:-not found}, library ${CUDNN_LIB:-not found}"
}

# cuBLAS: the toolkit's; else the pip wheel's (nvidia.cublas), named to FindCUDAToolkit.
find_cublas() {
    CUBLAS_ARGS=()
    [ -f /usr/local/cuda/include/cublas_v2.h ] && return 0
    local wheel
    wheel=$(python3 -c 'import nvidia.cublas as m; print(list(m.__path__)[0])' 2>/dev/null)
    if [ -z "$wheel" ] || [ ! -f "$wheel/include/cublas_v2.h" ]; then
        echo "cuBLAS: not found in /usr/local/cuda nor in a pip wheel"
        return 0
    fi
    echo "cuBLAS: from the pip wheel in $wheel"
    local blas=("$wheel"/lib/libcublas.so*) lt=("$wheel"/lib/libcublasLt.so*)
    CUBLAS_ARGS=("-DCUDA_cublas_LIBRARY=${blas[0]}" "-DCUDA_cublasLt_LIBRARY=${lt[0]}"
        "-DCMAKE_CUDA_FLAGS=-I$wheel/include")
    CUBLAS_INC="$wheel/include"
    RPATH_EXTRA="$wheel/lib"
}

configure_args() {
    ARGS=(-S "$ROOT" -B "$BUILD" -DTL_CUDA=ON -DCMAKE_BUILD_TYPE=Release)
    [ -n "$CUDNN_INC" ] && ARGS+=("-DCUDNN_INCLUDE_DIR=$CUDNN_INC")
    [ -n "$CUDNN_LIB" ] && ARGS+=("-DCUDNN_LIBRARY=$CUDNN_LIB")
    ARGS+=("${CUBLAS_ARGS[@]}")
    local rpath="$RPATH_EXTRA" cflags="${CUBLAS_INC:+-I$CUBLAS_INC}"
    [ -n "$CUDNN_LIB" ] && rpath="$(dirname "$CUDNN_LIB")${rpath:+:$rpath}"
    if [ "$USE_PREFIX" = 1 ]; then
        # Libraries from the prefix only: no compiler wrappers (h5cc, mpicc: /usr baked in),
        # no test program linked against Open MPI (its runtime dependencies are not there).
        local dirs="$LIBDIR:$LIBDIR/openblas-pthread:$LIBDIR/hdf5/serial"
        rpath="$dirs${rpath:+:$rpath}"
        export PKG_CONFIG_PATH="$LIBDIR/pkgconfig:$LIBDIR/openblas-pthread/pkgconfig:$PREFIX/usr/share/pkgconfig"
        ARGS+=("-DCMAKE_PREFIX_PATH=$PREFIX/usr"
            "-DCMAKE_C_FLAGS=$cflags -idirafter $PREFIX/usr/include/x86_64-linux-gnu -idirafter $PREFIX/usr/include"
            "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags -Wl,-rpath-link,$dirs"
            -DHDF5_C_COMPILER_EXECUTABLE=/bin/false
            -DMPI_SKIP_COMPILER_WRAPPER=ON -DMPI_C_WORKS=TRUE -DMPI_C_VERSION=3.1
            "-DMPI_C_HEADER_DIR=$LIBDIR/openmpi/include" -DMPI_C_LIB_NAMES=mpi
            "-DMPI_mpi_LIBRARY=$LIBDIR/openmpi/lib/libmpi.so")
        command -v pkg-config >/dev/null || ARGS+=("-DPKG_CONFIG_EXECUTABLE=$PREFIX/pkg-config")
    elif [ -n "$cflags" ]; then
        ARGS+=("-DCMAKE_C_FLAGS=$cflags")
    fi
    # RPATH (not RUNPATH, hence --disable-new-dtags) also serves the libraries' own needs.
    [ -n "$rpath" ] && ARGS+=("-DCMAKE_BUILD_RPATH=${rpath//:/;}")
}

build() {
    step "configure + build (CUDA)"
    find_cudnn
    find_cublas
    configure_args
    echo "cmake ${ARGS[*]}"
    if ! cmake "${ARGS[@]}" >"$LOG/build.log" 2>&1; then
        tail -n 40 "$LOG/build.log"
        fail "cmake configure (log: build.log)"
        return 1
    fi
    grep -E "resnet_sweep:" "$LOG/build.log"
    local targets=(bench_gpu) f
    for f in tests/gpu/test_*.c; do targets+=("gpu_$(basename "$f" .c)"); done
    if ! cmake --build "$BUILD" -j "$(nproc)" --target "${targets[@]}" >>"$LOG/build.log" 2>&1; then
        grep -E "error|Error" "$LOG/build.log" | head -n 30
        fail "build (log: build.log)"
        return 1
    fi
    echo "built: ${targets[*]}"
    check_libs
}

check_libs() {
    local exe missing
    for exe in "$BUILD"/tests/gpu_* "$BUILD/bench/bench_gpu"; do
        [ -x "$exe" ] || continue
        missing=$(ldd "$exe" | grep "not found")
        if [ -n "$missing" ]; then
            fail "$(basename "$exe") lacks shared libraries (add their packages to prepare-debs.sh):"
            echo "$missing"
        fi
    done
    ldd "$BUILD/bench/bench_gpu" | grep -E "cudnn|cublas|cudart"
}

test_gpu() {
    step "GPU tests (ctest -L gpu)"
    (cd "$BUILD" && ctest -L gpu --output-on-failure --timeout 300) 2>&1 | tee "$LOG/ctest.log"
    [ "${PIPESTATUS[0]}" = 0 ] || fail "GPU tests"
}

bench() {
    step "bench_gpu (C backend)"
    timeout 300 "$BUILD/bench/bench_gpu" --iters "$ITERS" 2>&1 | tee "$LOG/bench_gpu.log"
    [ "${PIPESTATUS[0]}" = 0 ] || fail "bench_gpu"
    step "bench_gpu with timed algorithm choice (TL_CUDNN_FIND=1), half precisions"
    TL_CUDNN_FIND=1 timeout 200 "$BUILD/bench/bench_gpu" --iters "$ITERS" --precision fp16,bf16 --no-head \
        --no-backbone 2>&1 |
        tee -a "$LOG/bench_gpu.log"
    [ "${PIPESTATUS[0]}" = 0 ] || fail "bench_gpu (TL_CUDNN_FIND=1)"
    step "PyTorch baseline"
    PYTHONUNBUFFERED=1 timeout 300 python3 bench/torch_gpu.py --iters "$ITERS" 2>&1 | tee "$LOG/torch_gpu.log"
    [ "${PIPESTATUS[0]}" = 0 ] || fail "torch_gpu.py"
    step "C backend vs PyTorch (speedup > 1: C faster)"
    python3 bench/torch_gpu.py --table "$LOG/bench_gpu.log" "$LOG/torch_gpu.log" | tee "$LOG/table.txt"
}

main() {
    local steps=("$@") s
    [ ${#steps[@]} = 0 ] && steps=(info deps build test bench)
    for s in "${steps[@]}"; do
        case $s in
            info) info ;;
            deps) deps ;;
            build) build || break ;;
            test) test_gpu ;;
            bench) bench ;;
            *) fail "unknown step $s (info deps build test bench)" ;;
        esac
    done
    step "done: $([ $STATUS = 0 ] && echo all passed || echo SOME STEPS FAILED)"
    return $STATUS
}

main "$@" 2>&1 | tee -a "$LOG/run.log"
exit "${PIPESTATUS[0]}"
