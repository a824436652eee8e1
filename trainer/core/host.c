#include "host.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void host_name(char out[HOST_NAME_MAX_LEN]) {
    if (gethostname(out, HOST_NAME_MAX_LEN - 1) != 0 || !out[0]) snprintf(out, HOST_NAME_MAX_LEN, "unknown");
    out[HOST_NAME_MAX_LEN - 1] = 0;
}

ProcState host_process_state(const char *host, long pid) {
    char me[HOST_NAME_MAX_LEN];
    host_name(me);
    if (host && host[0] && strcmp(host, me) != 0) return PROC_ELSEWHERE;
    if (pid <= 0) return PROC_GONE;
    /* EPERM: it exists but belongs to another user. */
    return kill((pid_t)pid, 0) == 0 || errno != ESRCH ? PROC_ALIVE : PROC_GONE;
}

/* A cgroup limit file: a number of bytes, or "max" (none). 0 when absent or unlimited. */
static unsigned long long cgroup_limit(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[64] = "";
    char *got = fgets(buf, sizeof buf, f);
    fclose(f);
    if (!got) return 0;
    char *end;
    unsigned long long v = strtoull(buf, &end, 10);
    return end != buf ? v : 0;
}

unsigned long long host_memory_bytes(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    unsigned long long phys = pages > 0 && page > 0 ? (unsigned long long)pages * (unsigned long long)page : 0;
    const char *limits[] = {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
    for (int i = 0; i < 2; i++) {
        unsigned long long lim = cgroup_limit(limits[i]);
        if (lim && (!phys || lim < phys)) phys = lim;
    }
    return phys;
}

void host_format_bytes(double bytes, char *out, size_t n) {
    static const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (bytes >= 1024 && u < 6) bytes /= 1024, u++;
    if (u == 0) snprintf(out, n, "%.0f bytes", bytes);
    else snprintf(out, n, "%.1f %s", bytes, units[u]);
}
