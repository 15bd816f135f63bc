/*
 * Memory-dirtying workload of the NovaCron test guest (started by /init when the kernel
 * command line has novacron.dirty=<MiB>). It holds <MiB> of anonymous memory and rewrites
 * every byte of it, pass after pass, with values that change on each pass: each page is
 * dirtied with new, non-zero content, so neither QEMU's zero-page detection nor XBZRLE's
 * delta encoding gets it cheaply. Every few seconds it prints the rate it achieved.
 * Built static by test/testbeds/guest-image.sh (gcc, glibc's libc.a).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 0;
  if (mib <= 0) {
    fprintf(stderr, "usage: dirty <MiB>\n");
    return 2;
  }
  size_t words = (size_t)mib * 1024 * 1024 / sizeof(uint64_t);
  uint64_t *mem = mmap(NULL, words * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (mem == MAP_FAILED) {
    perror("dirty: mmap");
    return 1;
  }
  FILE *out = fopen("/dev/console", "w");
  if (!out) out = stdout;
  setvbuf(out, NULL, _IOLBF, 0);
  fprintf(out, "novacron-dirty: rewriting %ld MiB continuously\n", mib);
  uint64_t pass = 0;
  double since = now();
  uint64_t bytes = 0;
  for (;;) {
    pass++;
    /* A per-pass multiplier makes every word differ from its previous value. */
    uint64_t seed = pass * 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < words; i++) mem[i] = seed ^ (i * 0xD6E8FEB86659FD93ULL);
    bytes += words * sizeof(uint64_t);
    double t = now();
    if (t - since >= 5) {
      fprintf(out, "novacron-dirty: %.0f MiB/s pass %llu\n", bytes / (t - since) / 1048576.0, (unsigned long long)pass);
      since = t;
      bytes = 0;
    }
  }
}
