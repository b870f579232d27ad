/* rd.h: a bounds-checked cursor over bytes we did not write.
 *
 * A failed read sets bad and returns 0; every later read fails too, so a decoder reads
 * a whole header and checks once at the end. Lengths are compared against what
 * remains, never added to a pointer: a length from the wire can overflow p + n.
 * Owns nothing; the bytes are borrowed from the caller.
 */
#ifndef ES_RD_H
#define ES_RD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rd {
    const uint8_t *p, *end;
    bool bad;
};

static inline struct rd rd_make(const uint8_t *p, size_t n)
{
    struct rd r = { p, p + n, false };
    return r;
}

static inline size_t rd_left(const struct rd *r)
{
    return r->bad ? 0 : (size_t)(r->end - r->p);
}

static inline bool rd_need(struct rd *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return false;
    }
    return true;
}

static inline uint8_t rd_u8(struct rd *r)
{
    if (!rd_need(r, 1))
        return 0;
    return *r->p++;
}

static inline uint16_t rd_be16(struct rd *r)
{
    if (!rd_need(r, 2))
        return 0;
    uint16_t v = (uint16_t)(r->p[0] << 8 | r->p[1]);
    r->p += 2;
    return v;
}

static inline uint16_t rd_le16(struct rd *r)
{
    if (!rd_need(r, 2))
        return 0;
    uint16_t v = (uint16_t)(r->p[1] << 8 | r->p[0]);
    r->p += 2;
    return v;
}

static inline uint32_t rd_be32(struct rd *r)
{
    if (!rd_need(r, 4))
        return 0;
    uint32_t v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
                 (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    return v;
}

static inline uint32_t rd_le32(struct rd *r)
{
    if (!rd_need(r, 4))
        return 0;
    uint32_t v = (uint32_t)r->p[3] << 24 | (uint32_t)r->p[2] << 16 |
                 (uint32_t)r->p[1] << 8 | r->p[0];
    r->p += 4;
    return v;
}

/* Borrow n bytes in place; NULL (and bad) when fewer remain. */
static inline const uint8_t *rd_bytes(struct rd *r, size_t n)
{
    if (!rd_need(r, n))
        return NULL;
    const uint8_t *q = r->p;
    r->p += n;
    return q;
}

static inline void rd_skip(struct rd *r, size_t n)
{
    (void)rd_bytes(r, n);
}

#endif
