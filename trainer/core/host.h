/* This machine as other processes see it: its name, whether a process it ran is still
 * alive, and how much memory it has. For locks and temp files left by a process that died
 * (same host: its PID is gone; another host: we cannot tell), and for refusing configs
 * that cannot fit. */
#ifndef TL_HOST_H
#define TL_HOST_H

#include <stddef.h>

enum { HOST_NAME_MAX_LEN = 64 };

/* gethostname (at most 63 bytes); "unknown" when it fails. */
void host_name(char out[HOST_NAME_MAX_LEN]);

typedef enum ProcState {
    PROC_ALIVE,         /* on this host, and kill(pid, 0) finds it */
    PROC_GONE,          /* on this host, and no such process */
    PROC_ELSEWHERE,     /* on another host: only a heartbeat can tell */
} ProcState;

/* State of process `pid` that ran on `host` ("" or NULL: this host). */
ProcState host_process_state(const char *host, long pid);

/* Bytes of memory this process may use: physical memory, or the cgroup (v2 memory.max,
 * v1 memory.limit_in_bytes) limit when smaller; 0 when unknown. */
unsigned long long host_memory_bytes(void);

/* "15.6 GiB", "512 MiB", "3.0 TiB". */
void host_format_bytes(double bytes, char *out, size_t n);

#endif
