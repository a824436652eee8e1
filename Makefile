# Thin front for CMake. The two commands a user needs: `make demo` and `make test`.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
MPIRUN_ENV = OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
SWEEP ?=
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 2

.PHONY: all deps build test demo demo-dropout demo-finetune plots bench fuzz install clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && $(MPIRUN_ENV) ctest --output-on-failure -j $(JOBS) --timeout 900

# Transfer on Fashion-MNIST: a backbone trained once on classes 0-4 (configs/demo_source.yaml,
# cached under weights/ with its provenance; the ImageNet file instead when
# weights/resnet50_notop.h5 exists), then studied on classes 5-9 (configs/demo_transfer.yaml).
demo: build
	scripts/make-demo-data data/fashion-1200 1200 100 100
	scripts/demo-backbone
	$(MPIRUN_ENV) mpirun -n 2 $(BUILD)/sweep/sweep configs/demo_transfer.yaml --runs runs
	$(MAKE) plots SWEEP=runs/demo_transfer
	scripts/demo-transfer-table runs/demo_transfer

# Head dropout x augmentation strength on a frozen backbone (configs/demo.yaml).
demo-dropout: build
	scripts/make-demo-data data/fashion
	$(MPIRUN_ENV) mpirun -n 2 $(BUILD)/sweep/sweep configs/demo.yaml --runs runs
	$(MAKE) plots SWEEP=runs/demo

# Fine-tuning conv5 / conv4+conv5 after 4 head-only epochs vs the head alone (configs/demo_finetune.yaml).
demo-finetune: build
	scripts/make-demo-data data/fashion
	$(MPIRUN_ENV) mpirun -n 2 $(BUILD)/sweep/sweep configs/demo_finetune.yaml --runs runs
	$(MAKE) plots SWEEP=runs/demo_finetune

plots:
	@scripts/render-plots $(SWEEP)

bench: build
	@scripts/install-deps --bench
	@scripts/run-bench $(BUILD)

# Each file reader under libFuzzer for FUZZ_SECONDS (clang 14 build in FUZZ_BUILD; README "Fuzzing").
fuzz:
	@scripts/install-deps --fuzz
	cmake -S . -B $(FUZZ_BUILD) -DTL_FUZZ=ON -DTL_CUDA=OFF -DCMAKE_C_COMPILER=clang-14
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) fuzz/run-fuzz $(FUZZ_BUILD)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD)
