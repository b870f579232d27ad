/* h1.c: see h1.h. */
#include "h1.h"
#include "limits.h"
#include "sniff.h"

#include <llhttp.h>
#include <stdlib.h>
#include <string.h>

/* What a paused llhttp callback asks the feed loop to do at the pause position. */
enum h1_event {
    EV_NONE,
    EV_BEGIN,    /* a message starts here: the raw header block starts */
    EV_HEADERS,  /* the header block ended here */
    EV_COMPLETE, /* the message ended here */
};

/* State of one direction. */
enum h1_state {
    H1_IDLE,    /* between messages */
    H1_HEADERS, /* inside a start line or header block */
    H1_BODY,    /* inside a body */
    H1_RESYNC,  /* lost: looking for the next request or status line */
    H1_UPGRADE_WAIT, /* client: a CONNECT or Upgrade request waits for its answer */
    H1_SNAPSKIP, /* the snap length hid where the message ends: waiting for a segment
                    that starts like a new message (client bytes count as cur's body) */
    H1_DEAD,    /* tunnel, or HTTP abandoned on this flow */
};

/* Headers whose values we keep. */
enum h1_hdr { HDR_NONE, HDR_HOST, HDR_USER_AGENT, HDR_EXPECT, HDR_VIA, HDR_SERVER, HDR_XFF };

struct h1_conn;

/* Content-Length, read by us rather than llhttp (which 8.1 rejects in a list, "5, 5",
 * or repeated, even with one value): every element of every field (RFC 9110 5.6.1
 * lists, RFC 9112 6.3), decided at the end of the header block (cl_decide). */
struct h1_cl {
    bool in_value;  /* a Content-Length value is arriving */
    bool fields;    /* the message has a Content-Length field */
    bool seen;      /* an element with digits: `first` holds it */
    bool bad;       /* a byte that is no digit, comma or blank; an empty field;
                       digits, blank, digits */
    bool differ;    /* an element not equal to the first */
    bool overflow;  /* an element of 2^63 or more */
    bool digits;    /* the element being read has digits */
    bool ended;     /* ... and a blank after them */
    bool field_any; /* the field being read has an element with digits */
    uint64_t first, cur;
};

struct h1_side {
    llhttp_t parser;
    struct h1_conn *conn;
    enum dir d;
    enum h1_state state;
    enum h1_event ev;
    struct exchange *cur;    /* the exchange whose message this side is parsing */
    uint64_t chunk_no;       /* data() calls seen: "same segment" tests */
    uint64_t hdr_chunk_no;   /* chunk in which the current header block ended */
    bool in_raw;             /* copying the raw header block */
    uint32_t pending_flags;  /* gap/resync to put on the next message's exchange */
    uint64_t msg_start_us;   /* when the current message's first byte came */
    uint64_t body_at_start;  /* request body bytes seen when this response began */
    struct sbuf raw;         /* the header block being read, until we know its kind */
    bool feeding_gap;        /* llhttp is being fed stand-in bytes for a skipped gap */
    enum h1_hdr hdr;         /* header whose value is arriving */
    uint32_t err_flags;      /* framing flags of the error a callback just raised */
    struct h1_cl cl;         /* the message's Content-Length fields, as we read them */
    uint8_t field_len;
    char field[24];          /* header name being read, lowercase, capped */
};

struct h1_conn {
    struct h1 *h;
    const struct flow *f;    /* borrowed: the flow outlives its stream state */
    struct h1_side side[2];
    struct exchange *q[H1_MAX_PIPELINE]; /* in request order; head is the oldest */
    uint32_t q_head, q_len;
    uint32_t next_seq;
    uint64_t now_us;         /* capture time of the bytes being parsed (conn_clock) */
    uint64_t clock_us;       /* the latest known capture time */
    bool client_eof;         /* the client's FIN was reached */
    uint64_t finals;         /* final responses seen */
};

struct h1 {
    struct exchange_sink sink;
    struct exchange **spares; /* recycled exchanges, their buffers kept */
    uint32_t n_spares, cap_spares;
    uint64_t next_id;
    h1_id_fn id_hook;         /* h1_set_id_hook(); NULL: none */
    void *id_ctx;
    uint32_t live;            /* exchanges queued on all connections */
    uint64_t pending_bytes;   /* what they cost: the sum of their pending_charge */
    uint64_t pending_cap;     /* the budget for it (h1.h) */
    struct h1_stats st;
    llhttp_settings_t settings;
};

enum { H1_MAX_SPARES = 256 };

/* ---- exchanges ------------------------------------------------------------------ */

static struct exchange *x_new(struct h1 *h, const struct flow *f)
{
    struct exchange *x;
    if (h->n_spares) {
        x = h->spares[--h->n_spares];
        exchange_reset(x);
    } else {
        x = malloc(sizeof *x);
        if (!x) {
            h->st.alloc_failures++;
            return NULL;
        }
        exchange_init(x);
    }
    x->id = ++h->next_id;
    if (h->id_hook)
        h->id_hook(h->id_ctx, f, x->id, false);
    return x;
}

static void x_recycle(struct h1 *h, struct exchange *x)
{
    if (h->n_spares == h->cap_spares && h->cap_spares < H1_MAX_SPARES) {
        uint32_t cap = h->cap_spares ? h->cap_spares * 2 : 16;
        struct exchange **v = realloc(h->spares, cap * sizeof *v);
        if (v) {
            h->spares = v;
            h->cap_spares = cap;
        }
    }
    if (h->n_spares < h->cap_spares) {
        h->spares[h->n_spares++] = x;
        return;
    }
    exchange_fini(x);
    free(x);
}

/* What an exchange holds in memory: its struct and the buffers of its fields, as the
 * allocator holds them. A recycled exchange brings the buffers it kept. */
static uint32_t x_cost(const struct exchange *x)
{
    size_t n = ES_ALLOC_COST(sizeof *x);
    for (int i = 0; i < XS_COUNT; i++)
        if (x->s[i].p)
            n += ES_ALLOC_COST(x->s[i].cap);
    return (uint32_t)n;
}

/* Bring an exchange's charge against the pending budget up to date. */
static void x_charge(struct h1 *h, struct exchange *x)
{
    uint32_t now = x_cost(x);
    h->pending_bytes = h->pending_bytes - x->pending_charge + now;
    x->pending_charge = now;
    if (h->pending_bytes > h->st.pending_bytes_peak)
        h->st.pending_bytes_peak = h->pending_bytes;
}

static void x_uncharge(struct h1 *h, struct exchange *x)
{
    h->pending_bytes -= x->pending_charge;
    x->pending_charge = 0;
    h->live--;
}

static struct exchange *q_at(struct h1_conn *c, uint32_t i)
{
    return c->q[(c->q_head + i) % H1_MAX_PIPELINE];
}

static void emit(struct h1_conn *c, struct exchange *x)
{
    x->t_end_us = c->now_us;
    for (int d = 0; d < 2; d++)
        if (c->side[d].cur == x)
            c->side[d].cur = NULL;
    c->h->st.exchanges++;
    x_uncharge(c->h, x);
    c->h->sink.exchange(c->h->sink.ctx, c->f, x);
    x_recycle(c->h, x);
}

/* Hand on, in order, every exchange at the head that is complete both ways. */
static void emit_ready(struct h1_conn *c)
{
    while (c->q_len) {
        struct exchange *x = q_at(c, 0);
        if (!x->req_complete || !x->resp_complete)
            return;
        c->q_head = (c->q_head + 1) % H1_MAX_PIPELINE;
        c->q_len--;
        emit(c, x);
    }
}

/* Write every queued exchange now; `flags` are added to each. Returns how many. */
static uint32_t emit_all(struct h1_conn *c, uint32_t flags)
{
    uint32_t n = 0;
    while (c->q_len) {
        struct exchange *x = q_at(c, 0);
        c->q_head = (c->q_head + 1) % H1_MAX_PIPELINE;
        c->q_len--;
        x->flags |= flags;
        emit(c, x);
        n++;
    }
    return n;
}

/* Queue a new exchange; NULL when a cap on pending exchanges is passed (HTTP is then
 * abandoned on this connection) or memory is short. `request`: a request begins (not
 * a response without one). */
static struct exchange *q_push(struct h1_conn *c, bool request)
{
    struct h1 *h = c->h;
    bool over_conn = c->q_len == H1_MAX_PIPELINE;
    /* what the next exchange costs at once: a recycled one brings its buffers */
    uint64_t next = h->n_spares ? x_cost(h->spares[h->n_spares - 1])
                                : ES_ALLOC_COST(sizeof(struct exchange));
    bool over_mem = h->pending_bytes + next > h->pending_cap;
    if (over_conn || over_mem) {
        /* Requests nobody answers yet: past the cap of the connection, or the memory
         * budget of all of them together, HTTP is given up on this connection. Its
         * exchanges go out as they are, flagged, and so does the request that found
         * the cap full, so that each one it cost has a row saying why. */
        for (int d = 0; d < 2; d++)
            c->side[d].state = H1_DEAD;
        uint32_t n = emit_all(c, XF_ABANDONED_AT_CAP);
        struct exchange *x = request ? x_new(h, c->f) : NULL;
        if (x) {
            h->live++;
            x->flow_id = c->f->id;
            x->seq = c->next_seq++;
            x->has_request = true;
            x->t_start_us = c->now_us;
            x->flags |= XF_ABANDONED_AT_CAP;
            emit(c, x);
            n++;
        }
        if (over_conn) {
            h->st.pipeline_overflow++;
        } else {
            h->st.pending_cap_flows++;
            h->st.pending_cap_exchanges += n;
        }
        return NULL;
    }
    struct exchange *x = x_new(h, c->f);
    if (!x)
        return NULL;
    h->live++;
    x_charge(h, x);
    x->flow_id = c->f->id;
    x->seq = c->next_seq++;
    c->q[(c->q_head + c->q_len) % H1_MAX_PIPELINE] = x;
    c->q_len++;
    return x;
}

/* The exchange the next response belongs to: the oldest without a final status. */
static struct exchange *awaiting_response(struct h1_conn *c)
{
    for (uint32_t i = 0; i < c->q_len; i++) {
        struct exchange *x = q_at(c, i);
        if (!x->resp_complete && !x->status)
            return x;
    }
    return NULL;
}

/* ---- llhttp callbacks ------------------------------------------------------------ */

static struct h1_side *side_of(llhttp_t *p)
{
    return p->data;
}

static int on_message_begin(llhttp_t *p)
{
    struct h1_side *s = side_of(p);
    struct h1_conn *c = s->conn;
    struct exchange *x;
    if (s->d == DIR_C2S) {
        x = q_push(c, true);
        if (x) {
            x->has_request = true;
            x->t_start_us = c->now_us;
            /* an earlier request still waiting for its answer: pipelining */
            for (uint32_t i = 0; i + 1 < c->q_len; i++)
                if (q_at(c, i)->has_request && !q_at(c, i)->status)
                    x->flags |= XF_PIPELINED;
        }
    } else {
        x = awaiting_response(c);
        if (!x) { /* a response with no request: the capture lost it, or began late */
            c->h->st.orphan_responses++;
            x = q_push(c, false);
            if (x) {
                x->req_complete = true;
                /* a gap on the client side since the last request: it took this
                 * response's request with it */
                x->flags |= c->side[DIR_C2S].pending_flags & XF_GAP;
            }
        }
    }
    if (s->state == H1_DEAD) { /* q_push() gave HTTP up on this connection */
        s->ev = EV_NONE;
        return HPE_PAUSED;
    }
    s->cur = x;
    s->state = H1_HEADERS;
    s->cl = (struct h1_cl){ 0 };
    s->msg_start_us = c->now_us;
    s->body_at_start = x ? x->body_bytes + x->body_missing : 0;
    sbuf_reset(&s->raw);
    if (x) {
        x->flags |= s->pending_flags;
        s->pending_flags = 0;
    }
    s->ev = EV_BEGIN;
    return HPE_PAUSED;
}

static struct sbuf *field_buf(struct h1_side *s, enum xfield f)
{
    return s->cur ? &s->cur->s[f] : NULL;
}

static void keep(struct h1_side *s, enum xfield f, const char *at, size_t n)
{
    struct sbuf *b = field_buf(s, f);
    if (b && !sbuf_add(b, at, n) && s->cur)
        s->cur->flags |= XF_HEADERS_TRUNCATED;
}

static int on_method(llhttp_t *p, const char *at, size_t n)
{
    keep(side_of(p), XS_METHOD, at, n);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    keep(side_of(p), XS_URI, at, n);
    return 0;
}

static int on_status(llhttp_t *p, const char *at, size_t n)
{
    struct h1_side *s = side_of(p);
    /* only the final response's reason is kept; 1xx reasons are in the raw block; a
     * status code outside 100-599 makes no answer (response_block_done) */
    if (s->cur && ((p->status_code >= 200 && p->status_code <= 599) || p->status_code == 101))
        keep(s, XS_REASON, at, n);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct h1_side *s = side_of(p);
    for (size_t i = 0; i < n; i++) {
        char ch = at[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (s->field_len < sizeof s->field)
            s->field[s->field_len] = ch;
        if (s->field_len < 255)
            s->field_len++;
    }
    return 0;
}

static bool field_is(const struct h1_side *s, const char *name)
{
    size_t n = strlen(name);
    return s->field_len == n && memcmp(s->field, name, n) == 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct h1_side *s = side_of(p);
    s->hdr = HDR_NONE;
    enum xfield f = XS_COUNT;
    if (s->d == DIR_C2S) {
        if (field_is(s, "host"))
            s->hdr = HDR_HOST, f = XS_HOST;
        else if (field_is(s, "user-agent"))
            s->hdr = HDR_USER_AGENT, f = XS_USER_AGENT;
        else if (field_is(s, "expect"))
            s->hdr = HDR_EXPECT, f = XS_EXPECT;
        else if (field_is(s, "x-forwarded-for"))
            s->hdr = HDR_XFF, f = XS_XFF;
    } else if (field_is(s, "server") && p->status_code >= 200) {
        s->hdr = HDR_SERVER, f = XS_SERVER;
    }
    if (field_is(s, "via")) {
        s->hdr = HDR_VIA, f = XS_VIA;
        if (s->d == DIR_C2S && s->cur)
            s->cur->req_via = true;
    }
    /* Content-Length is ours to read (struct h1_cl): llhttp takes it for any header
     * (its header state 0), and cl_decide() gives it the length at the block's end */
    if (field_is(s, "content-length")) {
        p->header_state = 0;
        s->cl.in_value = true;
        s->cl.fields = true;
        s->cl.field_any = false;
    }
    /* repeated headers are joined as a list, as RFC 9110 5.3 allows */
    if (f != XS_COUNT && s->cur) {
        struct sbuf *b = &s->cur->s[f];
        if (b->set && b->len)
            keep(s, f, ", ", 2);
        b->set = true;
        if (f == XS_EXPECT)
            s->cur->has_expect = true;
    }
    s->field_len = 0;
    return 0;
}

static const enum xfield hdr_field[] = {
    [HDR_NONE] = XS_COUNT, [HDR_HOST] = XS_HOST, [HDR_USER_AGENT] = XS_USER_AGENT,
    [HDR_EXPECT] = XS_EXPECT, [HDR_VIA] = XS_VIA, [HDR_SERVER] = XS_SERVER,
    [HDR_XFF] = XS_XFF,
};

/* One list element of Content-Length ended (a comma, the field's end). Empty elements
 * are skipped (RFC 9110 5.6.1). */
static void cl_element(struct h1_cl *c)
{
    if (!c->digits)
        return;
    c->field_any = true;
    if (c->cur > (uint64_t)INT64_MAX)
        c->overflow = true;
    else if (!c->seen)
        c->first = c->cur, c->seen = true;
    else if (c->cur != c->first)
        c->differ = true;
    c->digits = c->ended = false;
    c->cur = 0;
}

static void cl_bytes(struct h1_cl *c, const char *at, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = at[i];
        if (ch >= '0' && ch <= '9') {
            if (c->ended)
                c->bad = true; /* "5 5" */
            uint64_t d = (uint64_t)(ch - '0');
            c->cur = c->cur > (UINT64_MAX - d) / 10 ? UINT64_MAX : c->cur * 10 + d;
            c->digits = true;
        } else if (ch == ',') {
            cl_element(c);
        } else if (ch == ' ' || ch == '\t') {
            c->ended = c->digits;
        } else {
            c->bad = true;
        }
    }
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct h1_side *s = side_of(p);
    if (s->hdr != HDR_NONE)
        keep(s, hdr_field[s->hdr], at, n);
    if (s->cl.in_value)
        cl_bytes(&s->cl, at, n);
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct h1_side *s = side_of(p);
    s->hdr = HDR_NONE;
    if (s->cl.in_value) {
        cl_element(&s->cl);
        if (!s->cl.field_any)
            s->cl.bad = true; /* "Content-Length:" with no number */
        s->cl.in_value = false;
    }
    return 0;
}

/* The header block ended: what its Content-Length fields say. 0: one length (given to
 * llhttp, which frames the body by it), or none; -1: a parse error (bytes that are no
 * length); -1 with s->err_flags: the framing is lost (conflicting_length,
 * content_length_overflow). */
static int cl_decide(struct h1_side *s, llhttp_t *p)
{
    struct h1_cl *c = &s->cl;
    if (!c->fields)
        return 0;
    if (c->bad)
        return -1;
    if (c->overflow) {
        s->err_flags |= XF_LENGTH_OVERFLOW;
        return -1;
    }
    if (c->differ) {
        s->err_flags |= XF_CONFLICTING_LENGTH;
        return -1;
    }
    p->flags |= F_CONTENT_LENGTH;
    p->content_length = c->first;
    return 0;
}

/* Does this message say the connection ends after it (RFC 9112 9.3)? The rule engine
 * reads it (C10, S6, S14); llhttp has parsed the Connection tokens already. */
static bool says_close(const llhttp_t *p)
{
    if (p->flags & F_CONNECTION_CLOSE)
        return true;
    return p->http_major == 1 && p->http_minor == 0 && !(p->flags & F_CONNECTION_KEEP_ALIVE);
}

/* RFC 9112 6.3 on a header block just ended: Content-Length with chunked is framed
 * as chunked (llhttp does, leniently) and flagged; a length of 2^63 or more cannot be
 * stored or trusted: an error, which feed() turns into a resync. */
static int framing_check(struct h1_side *s, struct exchange *x, const llhttp_t *p)
{
    if ((p->flags & F_CHUNKED) && (p->flags & F_CONTENT_LENGTH)) {
        s->conn->h->st.framing_errors++;
        x->flags |= XF_CL_AND_CHUNKED;
        x->has_content_length = false;
        x->content_length = 0;
        return HPE_PAUSED;
    }
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > (uint64_t)INT64_MAX) {
        x->has_content_length = false;
        x->content_length = 0;
        x->body_declared = true;
        s->err_flags |= XF_LENGTH_OVERFLOW;
        return -1;
    }
    return HPE_PAUSED;
}

static int request_headers_complete(struct h1_side *s, llhttp_t *p)
{
    struct exchange *x = s->cur;
    if (!x)
        return HPE_PAUSED;
    x->t_hdr_us = s->conn->now_us;
    x->http_major = p->http_major;
    x->http_minor = p->http_minor;
    x->chunked = (p->flags & F_CHUNKED) != 0;
    x->has_content_length = (p->flags & F_CONTENT_LENGTH) != 0;
    x->content_length = x->has_content_length ? p->content_length : 0;
    x->body_declared = x->chunked || x->content_length > 0;
    x->req_close = says_close(p);
    return framing_check(s, x, p);
}

static bool drop_if_empty(struct h1_side *s, struct exchange *x);

/* A 1xx no request can have asked for: one that came while the header block of the
 * request it would answer was still arriving (a server answers a header block it has
 * read), or one with no request at all after a final answer on this connection, the
 * client's bytes intact (a stray 100 after the 200). Taken for the next request's, it
 * would steal its 100, and the placeholder it made would steal its final. */
static bool is_stray_interim(const struct h1_conn *c, const struct exchange *x)
{
    if (x->has_request) /* its header block still arriving (not lost nor rejected) */
        return !x->t_hdr_us && !x->req_complete;
    /* a response with no request at all: after lost or rejected client bytes it may
     * answer the request they held */
    return c->finals && !x->status && !x->n_interim && !(x->flags & (XF_GAP | XF_RESYNC));
}

static int response_headers_complete(struct h1_side *s, llhttp_t *p)
{
    struct exchange *x = s->cur;
    int code = p->status_code;
    bool interim = code >= 100 && code < 200 && code != 101;
    if (interim) {
        /* RFC 9112 6.3: a 1xx ends at its empty line, whatever it says about a body */
        p->flags |= F_SKIPBODY;
        if (x && is_stray_interim(s->conn, x)) {
            s->conn->h->st.stray_interims++;
            s->cur = NULL;
            if (!x->has_request && drop_if_empty(s, x))
                s->conn->h->st.orphan_responses--; /* the orphan was this 1xx */
            return HPE_PAUSED;
        }
        if (x) {
            if (x->n_interim < X_MAX_INTERIM) {
                x->interim[x->n_interim] = (uint16_t)code;
                x->t_interim_us[x->n_interim] = s->msg_start_us;
            }
            x->n_interim++;
            if (code == 100 && !x->t_100_us) {
                x->t_100_us = s->msg_start_us;
                x->body_at_100 = s->body_at_start;
            }
        }
        return HPE_PAUSED;
    }
    s->conn->finals++;
    if (x) {
        x->status = (uint16_t)code;
        x->resp_major = p->http_major;
        x->resp_minor = p->http_minor;
        x->t_final_us = s->msg_start_us;
        x->body_at_final = s->body_at_start;
        x->resp_close = says_close(p);
        if (framing_check(s, x, p) != HPE_PAUSED)
            return -1;
        /* RFC 9110 6.4.1: no body after HEAD, 204 or 304, whatever Content-Length
         * says (llhttp 8.1 would read one) */
        if (code == 204 || code == 304 ||
            (x->s[XS_METHOD].len == 4 && memcmp(x->s[XS_METHOD].p, "HEAD", 4) == 0))
            p->flags |= F_SKIPBODY;
        if (x->s[XS_METHOD].len == 7 && memcmp(x->s[XS_METHOD].p, "CONNECT", 7) == 0 &&
            code >= 200 && code < 300)
            p->upgrade = 1; /* the tunnel starts after this header block */
    }
    struct h1_side *req = &s->conn->side[DIR_C2S];
    if (req->state == H1_UPGRADE_WAIT && !p->upgrade && code != 101) {
        /* the upgrade was declined: the client goes on speaking HTTP */
        llhttp_resume_after_upgrade(&req->parser);
        req->state = H1_IDLE;
    }
    return HPE_PAUSED;
}

static int on_headers_complete(llhttp_t *p)
{
    struct h1_side *s = side_of(p);
    s->ev = EV_HEADERS;
    s->hdr_chunk_no = s->chunk_no;
    if (s->d == DIR_C2S) {
        int cl = cl_decide(s, p);
        int rc = request_headers_complete(s, p);
        if (cl && s->cur) { /* what the block said stands; its length is unknown */
            s->cur->has_content_length = false;
            s->cur->content_length = 0;
            s->cur->body_declared = true;
        }
        return cl ? cl : rc;
    }
    /* a response is checked, then filed, by feed() once its whole header block is in
     * hand (response_block_done): llhttp reads what response_headers_complete() sets
     * (no body, a tunnel) when it resumes */
    return HPE_PAUSED;
}

static void count_body(struct h1_side *s, struct exchange *x, uint64_t n);

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    (void)at;
    struct h1_side *s = side_of(p);
    struct exchange *x = s->cur;
    if (!x || s->d != DIR_C2S)
        return 0;
    if (s->feeding_gap) {
        x->body_missing += n;
        return 0;
    }
    count_body(s, x, n);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    side_of(p)->ev = EV_COMPLETE;
    return HPE_PAUSED;
}

/* n request body bytes went over the wire now (seen, or cut by the snap length). */
static void count_body(struct h1_side *s, struct exchange *x, uint64_t n)
{
    uint64_t now = s->conn->now_us;
    if (x->body_bytes == 0) {
        x->t_body_first_us = now;
        x->body_in_header_segment = s->chunk_no == s->hdr_chunk_no;
    } else if (x_time_known(x->t_body_last_us) && now > x->t_body_last_us &&
               now - x->t_body_last_us > x->max_body_pause_us) {
        x->max_body_pause_us = now - x->t_body_last_us;
    }
    if (now > x->t_body_last_us)
        x->t_body_last_us = now;
    x->body_bytes += n;
}

/* ---- feeding ---------------------------------------------------------------------- */

static void message_done(struct h1_side *s)
{
    struct exchange *x = s->cur;
    s->cur = NULL;
    s->state = H1_IDLE;
    if (!x)
        return;
    if (s->d == DIR_C2S) {
        x->req_complete = true;
    } else if (x->status) {
        x->resp_complete = true; /* a final response; 1xx only add to the timeline */
    }
}

/* Bytes that could begin a message of this side (a prefix is enough). */
static bool looks_like_start(const struct h1_side *s, const uint8_t *p, size_t n)
{
    return (s->d == DIR_C2S ? sniff_request_line(p, n) : sniff_status_line(p, n)) !=
           SNIFF_NO;
}

static size_t find_message_start(const struct h1_side *s, const uint8_t *p, size_t n,
                                 bool at_line_start)
{
    return sniff_find_start(s->d == DIR_C2S, p, n, at_line_start);
}

static void side_reset_parser(struct h1_side *s)
{
    llhttp_reset(&s->parser);
    s->state = H1_IDLE;
    s->in_raw = false;
    s->hdr = HDR_NONE;
    s->field_len = 0;
    s->cl = (struct h1_cl){ 0 };
}

/* llhttp announces a message at its first byte, before it has checked a single one:
 * an exchange whose start line never parsed is not an exchange. If it is the newest
 * one queued and nothing else refers to it, forget it. Returns true if dropped. */
static bool drop_if_empty(struct h1_side *s, struct exchange *x)
{
    struct h1_conn *c = s->conn;
    bool empty = x->has_request ? s->raw.len == 0 && !x->s[XS_METHOD].len && !x->status
                                : !x->status && !x->n_interim;
    if (!empty || !c->q_len || q_at(c, c->q_len - 1) != x)
        return false;
    for (int d = 0; d < 2; d++)
        if (c->side[d].cur == x)
            return false;
    c->q_len--;
    c->next_seq--;
    if (c->h->id_hook)
        c->h->id_hook(c->h->id_ctx, c->f, x->id, true);
    if (x->id == c->h->next_id) /* ids stay unique: reuse only the newest one */
        c->h->next_id--;
    x_uncharge(c->h, x);
    x_recycle(c->h, x);
    return true;
}

/* A request llhttp rejected before the end of its header block (an unknown method, a
 * missing target or version): the server may still have answered it, so keep its
 * start line as read, with our own tolerant split, and its raw bytes. */
static void salvage_request(struct h1_side *s, struct exchange *x)
{
    const char *p = s->raw.p, *e = s->raw.p + s->raw.len;
    while (p < e && (*p == '\r' || *p == '\n'))
        p++;
    const char *m = p;
    while (p < e && *p != ' ' && *p != '\r' && *p != '\n')
        p++;
    if (!x->s[XS_METHOD].len)
        sbuf_add(&x->s[XS_METHOD], m, (size_t)(p - m));
    while (p < e && *p == ' ')
        p++;
    const char *u = p;
    while (p < e && *p != ' ' && *p != '\r' && *p != '\n')
        p++;
    if (!x->s[XS_URI].len)
        sbuf_add(&x->s[XS_URI], u, (size_t)(p - u));
    if (!x->s[XS_RAW_REQUEST].len)
        sbuf_add(&x->s[XS_RAW_REQUEST], s->raw.p, s->raw.len);
}

/* The message in progress cannot be followed any further (`why`: XF_GAP for lost
 * bytes, XF_RESYNC for bytes llhttp rejected). Its exchange is flagged and no longer
 * waits for this direction; the next message found is flagged too. */
static void lose_message(struct h1_side *s, uint32_t why)
{
    struct exchange *x = s->cur;
    s->cur = NULL;
    if (x && !drop_if_empty(s, x)) {
        x->flags |= why;
        if (s->d == DIR_C2S) {
            x->req_complete = true;
            if (!x->t_hdr_us) /* rejected inside its header block: keep what was read */
                salvage_request(s, x);
        } else if (x->status) {
            x->resp_complete = true; /* its final status was seen; the rest is lost */
        } else {
            /* no answer was taken from it: what it said is not the answer's */
            sbuf_reset(&x->s[XS_REASON]);
            sbuf_reset(&x->s[XS_SERVER]);
        }
    }
    side_reset_parser(s);
    s->state = H1_RESYNC;
    s->pending_flags |= why | XF_RESYNC;
}

/* The header block just ended: file it with its exchange as the request's, an
 * interim response's (appended: there may be several) or the final response's. */
static void keep_raw_block(struct h1_side *s)
{
    struct exchange *x = s->cur;
    if (!x)
        return;
    int code = s->parser.status_code;
    enum xfield f = s->d == DIR_C2S ? XS_RAW_REQUEST
                    : (code >= 100 && code < 200 && code != 101) ? XS_RAW_INTERIM
                                                                 : XS_RAW_RESPONSE;
    /* what was kept is stored even when the block was longer than the cap */
    if (!sbuf_add(&x->s[f], s->raw.p, s->raw.len) || s->raw.truncated)
        x->flags |= XF_HEADERS_TRUNCATED;
    x_charge(s->conn->h, x); /* its header copies are all made now */
    /* an idle connection must not keep a large block's buffer (4 KiB per idle flow) */
    if (s->raw.cap > H1_IDLE_RAW_BYTES) {
        sbuf_fini(&s->raw);
        sbuf_init(&s->raw, H1_MAX_HEADER_BYTES);
    }
}

/* The message's framing is lost (RFC 9112 6.3: conflicting or overflowing Content-
 * Length, an unrecoverable error): what its header block said stands (the request's
 * timeline, the response's status), the block is kept, the message is flagged; the
 * caller resyncs the direction. */
static void framing_lost(struct h1_side *s, uint32_t why)
{
    struct exchange *x = s->cur;
    llhttp_t *p = &s->parser;
    s->conn->h->st.framing_errors++;
    if (!x)
        return;
    x->flags |= why;
    if (s->ev != EV_HEADERS) { /* the header block had not ended: take it as it is */
        if (s->d == DIR_C2S) {
            x->t_hdr_us = s->conn->now_us;
            x->http_major = p->http_major;
            x->http_minor = p->http_minor;
            x->body_declared = true;
            x->req_close = says_close(p);
        } else if (p->status_code >= 100 && p->status_code <= 599) {
            p->flags &= (uint16_t)~F_CONTENT_LENGTH;
            response_headers_complete(s, p);
        }
    }
    x = s->cur;
    if (x && s->d == DIR_C2S) {
        x->has_content_length = false;
        x->content_length = 0;
        x->req_unframed = true;
    }
    keep_raw_block(s);
    s->in_raw = false;
}

/* A bare CR in the start line (a CR not followed by LF, RFC 9112 2.2): llhttp 8.1
 * takes it, and the byte after it, for the line's end in a status line. */
static bool bare_cr_in_start_line(const struct sbuf *raw)
{
    uint32_t i = 0;
    while (i < raw->len && (raw->p[i] == '\r' || raw->p[i] == '\n'))
        i++;
    for (; i < raw->len && raw->p[i] != '\n'; i++)
        if (raw->p[i] == '\r' && (i + 1 == raw->len || raw->p[i + 1] != '\n'))
            return true;
    return false;
}

/* A response's header block is in hand: check its start line, then file it. 0 when
 * it stands; -1 when it is a parse error (a bare CR in the status line, a status code
 * outside 100-599: RFC 9110 15 has three digits from 1 to 5 first; llhttp takes 000 to
 * 999) and is no answer at all: the exchange waits on; XF_* framing flags when its
 * framing is lost (framing_check). */
static int response_block_done(struct h1_side *s)
{
    llhttp_t *p = &s->parser;
    if (bare_cr_in_start_line(&s->raw) || p->status_code < 100 || p->status_code > 599)
        return -1;
    int code = p->status_code;
    /* a 1xx has no body whatever it says (response_headers_complete) */
    int cl = code >= 200 || code == 101 ? cl_decide(s, p) : 0;
    if (cl && !s->err_flags)
        return -1; /* no length at all: a parse error, no answer taken */
    if (response_headers_complete(s, p) != HPE_PAUSED || cl) {
        int why = (int)s->err_flags;
        s->err_flags = 0;
        return why;
    }
    return 0;
}

static void feed(struct h1_side *s, const uint8_t *data, size_t n)
{
    struct h1_conn *c = s->conn;
    const char *q = (const char *)data, *e = q + n;
    for (;;) {
        if (s->state == H1_DEAD)
            return;
        s->ev = EV_NONE;
        llhttp_errno_t rc = llhttp_execute(&s->parser, q, (size_t)(e - q));
        const char *pos = rc == HPE_OK ? e : llhttp_get_error_pos(&s->parser);
        if (!pos)
            pos = e;
        if (s->in_raw && !sbuf_add(&s->raw, q, (size_t)(pos - q)) && s->cur)
            s->cur->flags |= XF_HEADERS_TRUNCATED;
        uint32_t why = 0;
        int bad = 0;
        if (rc == HPE_PAUSED && s->ev == EV_HEADERS && s->d == DIR_S2C)
            bad = response_block_done(s);
        if (rc == HPE_PAUSED && !bad) {
            llhttp_resume(&s->parser);
            switch (s->ev) {
            case EV_BEGIN:
                s->in_raw = true;
                break;
            case EV_HEADERS:
                s->in_raw = false;
                s->state = H1_BODY;
                keep_raw_block(s);
                break;
            case EV_COMPLETE:
                message_done(s);
                emit_ready(c);
                break;
            case EV_NONE:
                break;
            }
            q = pos;
            continue;
        }
        if (rc == HPE_OK)
            return;
        if (rc == HPE_PAUSED_UPGRADE) {
            message_done(s);
            if (s->d == DIR_C2S) {
                /* A CONNECT or Upgrade request: whether HTTP goes on depends on the
                 * answer (101 or CONNECT 2xx: a tunnel; anything else: declined). */
                s->state = H1_UPGRADE_WAIT;
            } else { /* 101, or 2xx to CONNECT: no more HTTP on this flow */
                c->h->st.tunnels++;
                for (int d = 0; d < 2; d++)
                    c->side[d].state = H1_DEAD;
            }
            emit_ready(c);
            return;
        }
        /* llhttp rejected the bytes (its errors are sticky), or we did (bad: a response
         * block, its pause position at the end of the block): resync is ours. */
        if (bad > 0) {
            why = (uint32_t)bad;
        } else if (!bad) {
            why = s->err_flags; /* Content-Length is ours: llhttp never rejects one */
        }
        s->err_flags = 0;
        s->cl = (struct h1_cl){ 0 };
        if (why) {
            framing_lost(s, why);
        } else {
            c->h->st.parse_errors++;
            if (s->ev == EV_HEADERS && s->d == DIR_C2S)
                keep_raw_block(s); /* the whole block was read: keep it */
        }
        lose_message(s, XF_RESYNC);
        size_t off = (size_t)(pos - (const char *)data);
        size_t rest = off < n ? n - off : 0;
        const uint8_t *r = data + (n - rest);
        size_t k = find_message_start(s, r, rest, false);
        c->h->st.resync_skipped += k;
        if (k == rest)
            return;
        c->h->st.resyncs++;
        side_reset_parser(s);
        q = (const char *)r + k;
    }
}

/* ---- stream sink -------------------------------------------------------------------- */

static void *conn_open(void *owner, const struct flow *f)
{
    struct h1 *h = owner;
    struct h1_conn *c = calloc(1, sizeof *c);
    if (!c) {
        h->st.alloc_failures++;
        return NULL;
    }
    c->h = h;
    c->f = f;
    for (int d = 0; d < 2; d++) {
        struct h1_side *s = &c->side[d];
        llhttp_init(&s->parser, d == DIR_C2S ? HTTP_REQUEST : HTTP_RESPONSE, &h->settings);
        /* A passive observer must follow what the peers accepted, not what they
         * should have: bytes after "Connection: close", bare LF line ends (RFC 9112
         * 2.2 lets a recipient accept them) and odd bytes in header values. */
        llhttp_set_lenient_keep_alive(&s->parser, 1);
        llhttp_set_lenient_headers(&s->parser, 1);
        /* Content-Length with chunked: framed as chunked (RFC 9112 6.3), and flagged
         * (framing_check); llhttp would reject the message */
        llhttp_set_lenient_chunked_length(&s->parser, 1);
        s->parser.data = s;
        s->conn = c;
        s->d = (enum dir)d;
        sbuf_init(&s->raw, H1_MAX_HEADER_BYTES);
    }
    h->st.flows++;
    return c;
}

/* A hole (lost bytes, the snap length) inside the request's Expect value: what was
 * read of it is not the value, and is not to be judged (verdict.c). */
static void expect_hole(struct h1_side *s)
{
    if (s->d == DIR_C2S && s->state == H1_HEADERS && s->hdr == HDR_EXPECT && s->cur)
        s->cur->flags |= XF_EXPECT_UNKNOWN;
}

/* ---- the snap length ------------------------------------------------------------- */

/* The snap length hid where the message in progress ends. A response is over as far
 * as we can tell (its status, if it got that far, stands); a request stays this side's
 * current one, and what the client sends until its next message counts as its body.
 * Nothing is flagged gap or resync: no byte was lost in transit or by the capture. */
static void snap_skip(struct h1_side *s)
{
    struct h1_conn *c = s->conn;
    struct exchange *x = s->cur;
    if (s->d == DIR_S2C) {
        s->cur = NULL;
        if (x && x->status)
            x->resp_complete = true;
    }
    side_reset_parser(s);
    s->state = H1_SNAPSKIP;
    c->h->st.snap_skips++;
    emit_ready(c);
}

/* The snap length cut a header block: keep what fitted, as if the block ended at the
 * cut (senders write a header block in one piece, so it most likely ends with the
 * segment). A status line that got as far as its code gives the status. */
static void snap_cut_headers(struct h1_side *s)
{
    struct exchange *x = s->cur;
    llhttp_t *p = &s->parser;
    if (x && s->d == DIR_S2C && p->status_code < 100) {
        /* cut inside the status line: nothing known of this response */
        s->cur = NULL;
        if (!drop_if_empty(s, x))
            x->flags |= XF_HEADERS_TRUNCATED;
        x = NULL;
    }
    if (x) {
        x->flags |= XF_HEADERS_TRUNCATED;
        if (s->d == DIR_C2S) {
            expect_hole(s);
            if (!x->s[XS_METHOD].len)
                salvage_request(s, x);
            x->t_hdr_us = s->conn->now_us;
            x->http_major = p->http_major;
            x->http_minor = p->http_minor;
            x->snap_cut_request = true; /* framing unknown: neither declared nor absent */
        } else if (p->status_code >= 100 && p->status_code <= 599) {
            response_headers_complete(s, p);
        }
        keep_raw_block(s);
        x->flags |= XF_HEADERS_TRUNCATED;
    }
    snap_skip(s);
}

/* Stand-in bytes for uncaptured ones inside a body whose framing llhttp knows (up to
 * `n`, never past the body's end): they count as body bytes, seen at this time. */
static void snap_in_body(struct h1_side *s, uint64_t n)
{
    static const uint8_t zeros[4096];
    while (n && s->state == H1_BODY) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        feed(s, zeros, k);
        n -= k;
    }
}

/* The cut came between messages, so a message may start in it. On the server side it
 * is the answer to the oldest request still waiting (a server speaks only when asked):
 * that exchange's response was not captured (headers_truncated, no status), so the
 * next status line seen pairs with the request after it. */
static void snap_hidden_start(struct h1_side *s)
{
    struct h1_conn *c = s->conn;
    c->h->st.snap_hidden_starts++;
    if (s->d == DIR_S2C) {
        struct exchange *x = awaiting_response(c);
        if (x) {
            x->flags |= XF_HEADERS_TRUNCATED;
            x->resp_complete = true;
        }
    }
    snap_skip(s);
}

/* The time of the bytes about to be parsed: never back in time, except to say that the
 * capture recorded none for them (X_TIME_UNKNOWN_US, exchange.h); clock_us keeps the
 * latest known time for the next bytes that have one. */
static void conn_clock(struct h1_conn *c, uint64_t ts_us)
{
    if (!x_time_known(ts_us)) {
        c->now_us = X_TIME_UNKNOWN_US;
        return;
    }
    if (ts_us > c->clock_us)
        c->clock_us = ts_us;
    c->now_us = c->clock_us;
}

static void conn_uncaptured(void *st, enum dir d, uint64_t n, uint64_t ts_us)
{
    struct h1_conn *c = st;
    struct h1_side *s = &c->side[d];
    conn_clock(c, ts_us);
    llhttp_t *p = &s->parser;
    switch (s->state) {
    case H1_DEAD:
    case H1_UPGRADE_WAIT:
    case H1_RESYNC:
        return; /* nothing followed here anyway */
    case H1_SNAPSKIP:
        if (d == DIR_C2S && s->cur)
            count_body(s, s->cur, n);
        return;
    case H1_IDLE:
        snap_hidden_start(s); /* a message may begin in the bytes we cannot see */
        return;
    case H1_HEADERS:
        snap_cut_headers(s);
        return;
    case H1_BODY:
        break;
    }
    bool chunked = (p->flags & F_CHUNKED) != 0;
    bool cl = !chunked && (p->flags & F_CONTENT_LENGTH);
    if (cl) {
        uint64_t left = p->content_length;
        snap_in_body(s, n < left ? n : left);
        if (n > left && s->state != H1_DEAD)
            snap_hidden_start(s); /* the next message starts inside the cut */
        return;
    }
    if (!chunked && llhttp_message_needs_eof(p)) {
        snap_in_body(s, n); /* a response read until the connection ends */
        return;
    }
    /* a chunked body whose chunk sizes may be in the cut: framing lost */
    if (d == DIR_C2S && s->cur)
        count_body(s, s->cur, n);
    snap_skip(s);
}

/* A segment arrives while the snap length hides where the last message ended. If it
 * starts like a message, the wait is over (true: parse it); otherwise its bytes are
 * the client's cut request's body, or skipped. */
static bool snap_resume(struct h1_side *s, const uint8_t *p, size_t n)
{
    struct h1_conn *c = s->conn;
    if (!looks_like_start(s, p, n)) {
        if (s->d == DIR_C2S && s->cur)
            count_body(s, s->cur, n);
        else
            c->h->st.resync_skipped += n;
        return false;
    }
    struct exchange *x = s->cur;
    if (x) { /* the cut request ended where this one starts */
        message_done(s);
        emit_ready(c);
    }
    side_reset_parser(s);
    return true;
}

static void conn_data(void *st, enum dir d, const uint8_t *p, size_t n, uint64_t ts_us)
{
    struct h1_conn *c = st;
    struct h1_side *s = &c->side[d];
    conn_clock(c, ts_us);
    s->chunk_no++;
    if (s->state == H1_DEAD)
        return;
    if (s->state == H1_UPGRADE_WAIT) { /* tunnel bytes sent before the answer */
        c->h->st.resync_skipped += n;
        return;
    }
    if (s->state == H1_SNAPSKIP && !snap_resume(s, p, n))
        return;
    if (s->state == H1_RESYNC) {
        size_t k = find_message_start(s, p, n, true);
        c->h->st.resync_skipped += k;
        if (k == n)
            return;
        c->h->st.resyncs++;
        side_reset_parser(s);
        p += k;
        n -= k;
    }
    /* Between messages, the bytes must start like one (after the empty lines RFC 9112
     * 2.2 lets a peer send); otherwise this direction is not speaking HTTP here. */
    if (s->state == H1_IDLE) {
        size_t k = 0;
        while (k < n && (p[k] == '\r' || p[k] == '\n'))
            k++;
        if (k < n && !looks_like_start(s, p + k, n - k)) {
            s->state = H1_RESYNC;
            size_t m = find_message_start(s, p + k, n - k, false);
            c->h->st.resync_skipped += m;
            if (k + m == n)
                return;
            c->h->st.resyncs++;
            s->pending_flags |= XF_RESYNC;
            side_reset_parser(s);
            p += k + m;
            n -= k + m;
        }
    }
    /* The trap: a final answer came before the body of this request. If the client
     * now starts a request line, the body was abandoned and this is a new request
     * (often the retry without Expect), not body bytes. */
    struct exchange *x = s->cur;
    /* When the server's direction has not shown a single packet, the capture is
     * one-sided (flow_one_sided()): the answer may have come unseen, so a request line
     * where the body was due is taken as the next request too (a client whose bytes
     * were acknowledged had its server's packets on the wire). */
    bool unseen_answer = c->f->packets[DIR_S2C] == 0;
    if (d == DIR_C2S && s->state == H1_BODY && x && (x->status || unseen_answer) &&
        x->body_bytes + x->body_missing == 0 && sniff_request_line(p, n) != SNIFF_NO) {
        x->body_abandoned = true;
        c->h->st.abandoned_bodies++;
        message_done(s);
        side_reset_parser(s);
        emit_ready(c);
    }
    feed(s, p, n);
}

/* Feed stand-in bytes for a gap inside a Content-Length body, so llhttp's framing
 * stays right; on_body counts them as missing, not seen. */
static void skip_in_body(struct h1_side *s, uint64_t missing)
{
    static const uint8_t zeros[4096];
    s->feeding_gap = true;
    while (missing && s->state == H1_BODY) {
        size_t n = missing < sizeof zeros ? (size_t)missing : sizeof zeros;
        feed(s, zeros, n);
        missing -= n;
    }
    s->feeding_gap = false;
}

static void conn_gap(void *st, enum dir d, uint64_t missing, uint64_t ts_us)
{
    struct h1_conn *c = st;
    struct h1_side *s = &c->side[d];
    conn_clock(c, ts_us);
    if (s->state == H1_DEAD)
        return;
    llhttp_t *p = &s->parser;
    bool cl_body = s->state == H1_BODY && !(p->flags & F_CHUNKED) &&
                   (p->flags & F_CONTENT_LENGTH) && missing <= p->content_length;
    if (cl_body && s->cur) {
        s->cur->flags |= XF_GAP;
        c->h->st.body_gap_skips++;
        skip_in_body(s, missing);
        return;
    }
    expect_hole(s);
    lose_message(s, XF_GAP);
    emit_ready(c);
}

/* An upload the server cut off: the request body had begun and was not complete, and
 * the client had not closed its side (DESIGN.md server_closed). An early final answer
 * to a client that never started the body, or a complete body, is no cut-off. */
static bool upload_cut_off(const struct h1_conn *c, const struct exchange *x)
{
    /* a request whose header block the snap length cut has no known framing: whether
     * its upload was complete cannot be told */
    return !c->client_eof && x->has_request && !x->req_complete && !x->snap_cut_request &&
           x->body_bytes + x->body_missing > 0;
}

/* The server closed its side (FIN): every upload still in progress was cut off. */
static void conn_eof(void *st, enum dir d, uint64_t ts_us)
{
    struct h1_conn *c = st;
    conn_clock(c, ts_us);
    if (d == DIR_C2S) {
        c->client_eof = true; /* the client stopped sending: nothing left to cut off */
        return;
    }
    for (uint32_t i = 0; i < c->q_len; i++) {
        struct exchange *x = q_at(c, i);
        if (upload_cut_off(c, x))
            x->flags |= XF_SERVER_CLOSED;
    }
}

static void conn_close(void *st, enum end_reason why, uint64_t ts_us)
{
    struct h1_conn *c = st;
    conn_clock(c, ts_us);
    /* A response delimited by the end of the connection ends now. */
    struct h1_side *srv = &c->side[DIR_S2C];
    if (srv->state == H1_BODY && llhttp_message_needs_eof(&srv->parser)) {
        srv->ev = EV_NONE;
        if (llhttp_finish(&srv->parser) == HPE_PAUSED && srv->ev == EV_COMPLETE)
            message_done(srv);
    }
    /* a request whose end the snap length hid ends with the connection */
    struct h1_side *cli = &c->side[DIR_C2S];
    if (cli->state == H1_SNAPSKIP && cli->cur) {
        cli->cur->req_complete = true;
        cli->cur = NULL;
    }
    /* a message cut off at its first bytes is no exchange (see drop_if_empty) */
    for (int d = 0; d < 2; d++) {
        struct h1_side *s = &c->side[d];
        struct exchange *x = s->cur;
        s->cur = NULL;
        if (x && !drop_if_empty(s, x))
            s->cur = x;
    }
    /* a reset by the server is a close by the server too */
    bool server_rst = why == END_RST && c->f->rst_seen[DIR_S2C];
    for (uint32_t i = 0; i < c->q_len; i++) {
        struct exchange *x = q_at(c, i);
        if (why == END_RST && (!x->req_complete || !x->resp_complete))
            x->flags |= XF_CONN_RESET;
        if (server_rst && upload_cut_off(c, x))
            x->flags |= XF_SERVER_CLOSED;
    }
    emit_all(c, 0);
    for (int d = 0; d < 2; d++)
        sbuf_fini(&c->side[d].raw);
    free(c);
}

static const struct stream_sink_ops ops = {
    .open = conn_open,
    .data = conn_data,
    .gap = conn_gap,
    .eof = conn_eof,
    .close = conn_close,
    .uncaptured = conn_uncaptured,
};

const struct stream_sink_ops *h1_sink_ops(void)
{
    return &ops;
}

/* ---- the dissector ------------------------------------------------------------------- */

struct h1 *h1_new(const struct exchange_sink *sink)
{
    struct h1 *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->sink = *sink;
    h->pending_cap = H1_DEFAULT_PENDING_BYTES;
    llhttp_settings_init(&h->settings);
    h->settings.on_message_begin = on_message_begin;
    h->settings.on_method = on_method;
    h->settings.on_url = on_url;
    h->settings.on_status = on_status;
    h->settings.on_header_field = on_header_field;
    h->settings.on_header_field_complete = on_header_field_complete;
    h->settings.on_header_value = on_header_value;
    h->settings.on_header_value_complete = on_header_value_complete;
    h->settings.on_headers_complete = on_headers_complete;
    h->settings.on_body = on_body;
    h->settings.on_message_complete = on_message_complete;
    return h;
}

void h1_set_id_hook(struct h1 *h, h1_id_fn fn, void *ctx)
{
    h->id_hook = fn;
    h->id_ctx = ctx;
}

void h1_set_pending_cap(struct h1 *h, uint64_t bytes)
{
    h->pending_cap = bytes;
}

const struct h1_stats *h1_stats(const struct h1 *h)
{
    return &h->st;
}

void h1_free(struct h1 *h)
{
    if (!h)
        return;
    for (uint32_t i = 0; i < h->n_spares; i++) {
        exchange_fini(h->spares[i]);
        free(h->spares[i]);
    }
    free(h->spares);
    free(h);
}
