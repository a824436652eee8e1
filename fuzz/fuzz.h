/* What the fuzz harnesses (fuzz/<target>.c, one LLVMFuzzerTestOneInput each) share: a
 * private temp folder per process, where readers that take a path get the input as a
 * file, and the property every reader keeps: a failure is an error whose message names
 * the file, never a crash, a leak or a silent success. The same harness runs under
 * libFuzzer (fuzz_<target>, `make fuzz`) and under replay_main.c (fuzz_replay_<target>,
 * ctest: every file of fuzz/corpus/<target> and fuzz/regressions/<target>). */
#ifndef TL_FUZZ_H
#define TL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "model/resnet.h"

/* The feature-chunk and boundary-table harnesses read a table of this key and row count;
 * make_seeds.c writes their seeds with the same ones. */
#define FUZZ_CACHE_KEY "f022c0ffee5eed00f022c0ffee5eed00"
enum { FUZZ_CACHE_ROWS = 2, FUZZ_IMAGE_SIZE = 32 };

/* Both cache formats (feature chunk TLFEAT02, boundary table TLBOUND2) start with a
 * 64-byte header whose bytes 56..59 hold the CRC-32 of the header (those bytes as 0) and
 * then of everything after it. A mutated input almost never carries a matching CRC, so
 * the checks past it (shape against size, fp16 widening, non-finite values) would go
 * unfuzzed: the cache harnesses also read each input with its CRC made to match. */
enum { FUZZ_CACHE_HEADER = 64, FUZZ_CACHE_CRC_AT = 56 };
/* data with its CRC field recomputed (a buffer reused by the next call); NULL when size is
 * under a header. */
const uint8_t *fuzz_cache_crc_fixed(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The process's temp folder (made on first use under $TMPDIR or /tmp, removed at exit). */
const char *fuzz_dir(void);
/* out (n bytes) = fuzz_dir()/name; the folders above it are made. */
void fuzz_path(char *out, size_t n, const char *name);
/* Writes data to fuzz_dir()/name, replacing it; out (n bytes) receives the path. */
void fuzz_write(char *out, size_t n, const char *name, const uint8_t *data, size_t size);
/* Prints "fuzz: <message>" and aborts: a broken property, reported as a crash. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* rc != 0 must come with a message that names `name` (the input file). FUZZ_VERBOSE=1 in
 * the environment prints each refusal (to see which seeds a reader accepts). */
void fuzz_expect_named(int rc, const Err *e, const char *name);

/* A two-conv stand-in for ResNet (conv1 1x1x3x2, conv2_block1_1 3x3x2x2, with their BNs):
 * the weight reader walks any ResnetArch, and a tiny one keeps the files a few KB. */
void fuzz_tiny_arch(ResnetArch *a, ResnetConvSpec convs[2]);

#endif
