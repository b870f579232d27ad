/* alloc_shim.c: fault injection for the allocation-failure loop (STYLE.md section 8,
 * after SQLite's OOM tests). Linked only into expectscope-faults, a test build of the
 * binary whose own code has malloc, calloc, realloc and strdup wrapped at link time
 * (-Wl,--wrap=...), and whose SQLite allocates through the same counter.
 *
 * ES_FAIL_AT=N makes the Nth allocation fail (and, with ES_FAIL_PERSIST=1, every one
 * after it). ES_FAIL_WHO=ours counts only expectscope's own allocations, =sqlite only
 * SQLite's (default: both). ES_ALLOC_REPORT=1 prints "allocations: OURS SQLITE" on
 * stderr at exit, so the loop knows how many sites a run goes through.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);

enum who { WHO_BOTH, WHO_OURS, WHO_SQLITE };

static long fail_at;
static int persist, report;
static enum who who;
static long count, n_ours, n_sqlite;
static sqlite3_mem_methods sqlite_orig;

static int should_fail(enum who w)
{
    /* atomic: the writer thread and the analysis threads of --workers allocate too */
    __atomic_add_fetch(w == WHO_OURS ? &n_ours : &n_sqlite, 1, __ATOMIC_RELAXED);
    if (who != WHO_BOTH && who != w)
        return 0;
    long c = __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return fail_at > 0 && (c == fail_at || (persist && c > fail_at));
}

void *__wrap_malloc(size_t n)
{
    return should_fail(WHO_OURS) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return should_fail(WHO_OURS) ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail(WHO_OURS) ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return should_fail(WHO_OURS) ? NULL : __real_strdup(s);
}

static void *sq_malloc(int n)
{
    return should_fail(WHO_SQLITE) ? NULL : sqlite_orig.xMalloc(n);
}

static void *sq_realloc(void *p, int n)
{
    return should_fail(WHO_SQLITE) ? NULL : sqlite_orig.xRealloc(p, n);
}

static void at_exit(void)
{
    if (report)
        fprintf(stderr, "allocations: %ld %ld\n", n_ours, n_sqlite);
}

__attribute__((constructor)) static void shim_init(void)
{
    const char *s = getenv("ES_FAIL_AT");
    fail_at = s ? strtol(s, NULL, 10) : 0;
    s = getenv("ES_FAIL_PERSIST");
    persist = s && *s == '1';
    s = getenv("ES_FAIL_WHO");
    who = s && !strcmp(s, "ours") ? WHO_OURS : s && !strcmp(s, "sqlite") ? WHO_SQLITE : WHO_BOTH;
    s = getenv("ES_ALLOC_REPORT");
    report = s && *s == '1';
    /* SQLite's own allocations go through the same counter */
    sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_orig);
    sqlite3_mem_methods m = sqlite_orig;
    m.xMalloc = sq_malloc;
    m.xRealloc = sq_realloc;
    sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
    atexit(at_exit);
}
