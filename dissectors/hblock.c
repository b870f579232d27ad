/* hblock.c: see hblock.h. */
#include "hblock.h"

#include <string.h>

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* n bytes of a against the string b, ASCII case-insensitive, without a strlen first */
static bool ieq(const char *a, size_t n, const char *b)
{
    for (size_t i = 0; i < n; i++)
        if (!b[i] || lower(a[i]) != lower(b[i]))
            return false;
    return b[n] == '\0';
}

bool hblock_name_is(const char *name, size_t n, const char *want)
{
    return ieq(name, n, want);
}

/* The line at p: its end without the line break, and where the next one starts. */
static const char *line_end(const char *p, const char *end, const char **next)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) {
        *next = end;
        return end;
    }
    *next = nl + 1;
    return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

void hblock_iter_init(struct hblock_iter *it, const char *block, size_t n)
{
    it->p = block;
    it->end = n ? block + n : block; /* no arithmetic on an empty (NULL) block */
    if (n) { /* skip the start line */
        const char *next;
        line_end(it->p, it->end, &next);
        it->p = next;
    }
}

bool hblock_next(struct hblock_iter *it, const char **name, size_t *name_len,
                 const char **value, size_t *value_len)
{
    while (it->p < it->end) {
        const char *next, *e = line_end(it->p, it->end, &next);
        const char *l = it->p;
        it->p = next;
        if (e == l)
            return false; /* the empty line: the block ends */
        if (*l == ' ' || *l == '\t')
            continue;     /* obsolete folding */
        const char *colon = memchr(l, ':', (size_t)(e - l));
        if (!colon || colon == l)
            continue;     /* not a field */
        const char *v = colon + 1;
        while (v < e && (*v == ' ' || *v == '\t'))
            v++;
        const char *ve = e;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        *name = l;
        *name_len = (size_t)(colon - l);
        *value = v;
        *value_len = (size_t)(ve - v);
        return true;
    }
    return false;
}

bool hblock_find(const char *block, size_t n, const char *name, const char **value,
                 size_t *value_len)
{
    struct hblock_iter it;
    hblock_iter_init(&it, block, n);
    const char *fn;
    size_t fl;
    while (hblock_next(&it, &fn, &fl, value, value_len))
        if (ieq(fn, fl, name))
            return true;
    return false;
}

bool hblock_find_any(const char *blocks, size_t n, const char *name, const char **value,
                     size_t *value_len, const char **start, size_t *start_len)
{
    const char *p = blocks, *end = n ? blocks + n : blocks;
    while (p < end) {
        const char *next;
        *start = p;
        *start_len = (size_t)(line_end(p, end, &next) - p);
        struct hblock_iter it;
        hblock_iter_init(&it, p, (size_t)(end - p));
        const char *fn;
        size_t fl;
        while (hblock_next(&it, &fn, &fl, value, value_len))
            if (ieq(fn, fl, name))
                return true;
        if (it.p <= p)
            break; /* cannot happen: the start line is always consumed */
        p = it.p;  /* past the empty line: the next block */
    }
    return false;
}

bool hblock_contains(const char *value, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    if (k == 0)
        return true;
    /* memchr for the first byte in either case, then the rest: a value is searched for
     * many needles (fingerprint.c), and most of them start with a byte it lacks */
    char lo = lower(needle[0]);
    char up = lo >= 'a' && lo <= 'z' ? (char)(lo - 'a' + 'A') : lo;
    const char *p = value, *last = value + n; /* last: one past the last start */
    if (n < k)
        return false;
    last -= k - 1;
    while (p < last) {
        const char *a = memchr(p, lo, (size_t)(last - p));
        const char *b = up != lo ? memchr(p, up, (size_t)(a ? a - p : last - p)) : NULL;
        const char *at = b ? b : a;
        if (!at)
            return false;
        size_t j = 1;
        while (j < k && lower(at[j]) == lower(needle[j]))
            j++;
        if (j == k)
            return true;
        p = at + 1;
    }
    return false;
}
