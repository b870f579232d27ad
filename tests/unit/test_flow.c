/* test_flow.c: the flow table, fed with hand-built decoded segments. A recording
 * release callback stands in for the layers that keep per-flow state. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flow.h"
#include "limits.h"
#include "tseg.h"

#define SEC 1000000ull

/* What the release callback saw: a copy of each flow as it left the table. */
struct released {
    struct flow v[64];
    int n;
};

static void on_release(void *ctx, struct flow *f)
{
    struct released *r = ctx;
    if (r->n < (int)(sizeof r->v / sizeof r->v[0]))
        r->v[r->n] = *f;
    r->n++;
}

static struct flow_table *table(struct released *rel, uint32_t max_flows, uint64_t idle_us,
                                uint64_t linger_us)
{
    memset(rel, 0, sizeof *rel);
    /* 0 stands for the default here, to keep the cases short */
    struct flow_config cfg = { max_flows ? max_flows : FLOW_DEFAULT_MAX,
                               idle_us ? idle_us : FLOW_DEFAULT_IDLE_US,
                               linger_us ? linger_us : FLOW_DEFAULT_LINGER_US, false };
    struct flow_table *t = flow_table_new(&cfg, on_release, rel);
    if (!t)
        abort();
    return t;
}

static const struct tseg_ep cli = { "10.0.0.1", 40000 }, srv = { "10.0.0.2", 80 };

static struct flow_hit pkt(struct flow_table *t, uint64_t ts, struct tseg_ep from,
                           struct tseg_ep to, uint8_t flags, const char *payload)
{
    uint32_t n = payload ? (uint32_t)strlen(payload) : 0;
    struct dec_pkt p = tseg(ts, from, to, flags, 1000, 2000, payload, n);
    return flow_table_packet(t, &p);
}

static void check_endpoints(const struct flow *f, const char *client, const char *server)
{
    char buf[64];
    CHECK_STR(flow_endpoint_str(f, DIR_C2S, buf, sizeof buf), client);
    CHECK_STR(flow_endpoint_str(f, DIR_S2C, buf, sizeof buf), server);
}

static void test_both_directions(void)
{
    check_case("both directions map to one flow; roles from the SYN");
    struct released rel;
    struct flow_table *t = table(&rel, 0, 0, 0);
    CHECK_EQ(flow_table_capacity(t), FLOW_DEFAULT_MAX);
    struct flow_hit a = pkt(t, 1 * SEC, cli, srv, TCP_SYN, NULL);
    struct flow_hit b = pkt(t, 1 * SEC + 10, srv, cli, TCP_SYN | TCP_ACK, NULL);
    struct flow_hit c = pkt(t, 1 * SEC + 20, cli, srv, TCP_ACK, NULL);
    CHECK(a.f && a.f == b.f && b.f == c.f);
    CHECK(a.created && !b.created && !c.created);
    CHECK_EQ(a.dir, DIR_C2S);
    CHECK_EQ(b.dir, DIR_S2C);
    CHECK_EQ(c.dir, DIR_C2S);
    CHECK(!a.ended && !b.ended && !c.ended && !c.after_end);
    const struct flow *f = a.f;
    CHECK_EQ(f->id, 1);
    CHECK_EQ(f->roles, ROLES_SYN);
    CHECK(f->syn_seen);
    CHECK_EQ(f->client_syn_seq, 1000);
    CHECK_EQ(flow_port(f, DIR_C2S), 40000);
    CHECK_EQ(flow_port(f, DIR_S2C), 80);
    CHECK_EQ(flow_addr(f, DIR_C2S)[3], 1);
    CHECK_EQ(flow_addr(f, DIR_S2C)[3], 2);
    check_endpoints(f, "10.0.0.1:40000", "10.0.0.2:80");
    CHECK_EQ(f->first_seen_us, 1 * SEC);
    CHECK_EQ(f->last_seen_us, 1 * SEC + 20);
    CHECK_EQ(f->packets[DIR_C2S], 2);
    CHECK_EQ(f->packets[DIR_S2C], 1);
    CHECK_EQ(flow_table_stats(t)->created, 1);
    CHECK_EQ(flow_table_stats(t)->active, 1);
    CHECK_EQ(rel.n, 0);
    flow_table_free(t);
    CHECK_EQ(rel.n, 0); /* free does not call the release callback */

    check_case("IPv6 endpoints");
    t = table(&rel, 0, 0, 0);
    struct tseg_ep c6 = { "2001:db8::1", 40000 }, s6 = { "2001:db8::2", 443 };
    a = pkt(t, 1, s6, c6, TCP_SYN, NULL); /* the SYN settles roles against the ports */
    b = pkt(t, 2, c6, s6, TCP_SYN | TCP_ACK, NULL);
    CHECK(a.f == b.f);
    check_endpoints(a.f, "[2001:db8::2]:443", "[2001:db8::1]:40000");
    CHECK_EQ(a.dir, DIR_C2S);
    CHECK_EQ(b.dir, DIR_S2C);
    flow_table_free(t);
}

static void test_roles(void)
{
    struct released rel;
    struct flow_table *t = table(&rel, 0, 0, 0);

    check_case("roles from the SYN-ACK when the SYN was missed");
    struct tseg_ep x = { "10.0.1.1", 5555 }, y = { "10.0.1.2", 9999 };
    struct flow_hit h = pkt(t, 1, y, x, TCP_SYN | TCP_ACK, NULL);
    CHECK_EQ(h.f->roles, ROLES_SYN);
    CHECK_EQ(h.dir, DIR_S2C);
    check_endpoints(h.f, "10.0.1.1:5555", "10.0.1.2:9999");
    CHECK_EQ(h.f->client_syn_seq, 0);

    check_case("mid-stream: a request line names its sender the client");
    struct tseg_ep hi = { "10.0.2.2", 50000 }, lo = { "10.0.2.1", 40000 };
    h = pkt(t, 2, hi, lo, TCP_PSH | TCP_ACK, "GET / HTTP/1.1\r\n");
    CHECK_EQ(h.f->roles, ROLES_PAYLOAD);
    CHECK_EQ(h.dir, DIR_C2S);
    check_endpoints(h.f, "10.0.2.2:50000", "10.0.2.1:40000");
    h = pkt(t, 3, lo, hi, TCP_PSH | TCP_ACK, "HTTP/1.1 200 OK\r\n");
    CHECK_EQ(h.dir, DIR_S2C);

    check_case("mid-stream: the request wins over the ports");
    struct tseg_ep p80 = { "10.0.3.1", 80 }, p45 = { "10.0.3.2", 45000 };
    h = pkt(t, 4, p80, p45, TCP_PSH | TCP_ACK, "POST /x HTTP/1.1\r\n");
    CHECK_EQ(h.f->roles, ROLES_PAYLOAD);
    CHECK_EQ(h.dir, DIR_C2S);
    check_endpoints(h.f, "10.0.3.1:80", "10.0.3.2:45000");

    check_case("mid-stream: a status line names its sender the server");
    struct tseg_ep a = { "10.0.4.1", 45000 }, b = { "10.0.4.2", 8080 };
    h = pkt(t, 5, a, b, TCP_PSH | TCP_ACK, "HTTP/1.1 100 Continue\r\n\r\n");
    CHECK_EQ(h.f->roles, ROLES_PAYLOAD);
    CHECK_EQ(h.dir, DIR_S2C);
    check_endpoints(h.f, "10.0.4.2:8080", "10.0.4.1:45000");

    check_case("mid-stream: only the first payload decides");
    struct tseg_ep m = { "10.0.5.1", 40001 }, n = { "10.0.5.2", 8000 };
    h = pkt(t, 6, m, n, TCP_PSH | TCP_ACK, "\x16\x03\x01\x02\x00");
    CHECK_EQ(h.f->roles, ROLES_PORT);
    CHECK_EQ(h.dir, DIR_C2S);
    h = pkt(t, 7, n, m, TCP_PSH | TCP_ACK, "GET / HTTP/1.1\r\n");
    CHECK_EQ(h.f->roles, ROLES_PORT);
    CHECK_EQ(h.dir, DIR_S2C);

    check_case("the SYN wins over the ports");
    struct tseg_ep s1 = { "10.0.6.1", 80 }, s2 = { "10.0.6.2", 50000 };
    h = pkt(t, 8, s1, s2, TCP_SYN, NULL);
    CHECK_EQ(h.dir, DIR_C2S);
    check_endpoints(h.f, "10.0.6.1:80", "10.0.6.2:50000");
    h = pkt(t, 9, s2, s1, TCP_PSH | TCP_ACK, "GET / HTTP/1.1\r\n");
    CHECK_EQ(h.f->roles, ROLES_SYN); /* payload does not override a SYN */
    CHECK_EQ(h.dir, DIR_S2C);

    check_case("roles by port");
    static const struct {
        uint16_t first_sender, receiver, server;
    } cases[] = {
        { 80, 40000, 80 },     /* well-known HTTP port, first packet from the server */
        { 1000, 8080, 8080 },  /* HTTP alternate beats "below 1024" */
        { 50000, 22, 22 },     /* below 1024 */
        { 3000, 40000, 3000 }, /* ephemeral range is the client */
        { 2000, 3000, 3000 },  /* ports do not say: the first receiver is the server */
        { 3000, 2000, 2000 },
        { 8080, 8080, 8080 },  /* same port both sides: the first receiver */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tseg_ep from = { "10.0.7.1", cases[i].first_sender };
        struct tseg_ep to = { "10.0.7.2", cases[i].receiver };
        h = pkt(t, 10 + i, from, to, TCP_ACK, NULL);
        CHECK(h.created);
        CHECK_EQ(h.f->roles, ROLES_PORT);
        CHECK_EQ(flow_port(h.f, DIR_S2C), cases[i].server);
        CHECK_EQ(h.dir, cases[i].server == cases[i].receiver ? DIR_C2S : DIR_S2C);
    }
    flow_table_free(t);
}

static void test_counters(void)
{
    check_case("counters per direction");
    struct released rel;
    struct flow_table *t = table(&rel, 0, 0, 0);
    struct dec_pkt p = tseg(10, cli, srv, TCP_SYN, 1000, 0, NULL, 0);
    struct flow_hit h = flow_table_packet(t, &p);
    p = tseg(11, srv, cli, TCP_SYN | TCP_ACK, 5000, 1001, NULL, 0);
    flow_table_packet(t, &p);
    p = tseg(12, cli, srv, TCP_ACK | TCP_PSH, 1001, 5001, "hello", 5);
    flow_table_packet(t, &p);
    p = tseg(13, cli, srv, TCP_ACK | TCP_PSH, 1006, 5001, "0123456789", 10);
    p.payload_cut = 90; /* announced by IP, cut by the snaplen: still payload bytes */
    p.wire_len = 1000;
    flow_table_packet(t, &p);
    p = tseg(14, srv, cli, TCP_ACK | TCP_PSH, 5001, 1106, "HTTP/1.1 200 OK\r\n", 17);
    flow_table_packet(t, &p);
    const struct flow *f = h.f;
    CHECK_EQ(f->packets[DIR_C2S], 3);
    CHECK_EQ(f->packets[DIR_S2C], 2);
    CHECK_EQ(f->payload_bytes[DIR_C2S], 105);
    CHECK_EQ(f->payload_bytes[DIR_S2C], 17);
    CHECK_EQ(f->wire_bytes[DIR_C2S], 54 + 59 + 1000);
    CHECK_EQ(f->wire_bytes[DIR_S2C], 54 + 71);
    CHECK(f->payload_seen);
    flow_table_free(t);

    check_case("counters stay with their direction when payload settles the roles");
    /* Ports that do not say who is who; the first packet is the server's bare ACK,
     * so the table first takes its sender for the client. The request that follows
     * settles the roles: the ACK counted so far must move to the server's side. */
    t = table(&rel, 0, 0, 0);
    struct tseg_ep c = { "10.0.8.1", 40000 }, s = { "10.0.8.2", 50000 };
    p = tseg(10, s, c, TCP_ACK, 7000, 100, NULL, 0);
    h = flow_table_packet(t, &p);
    CHECK_EQ(h.f->roles, ROLES_PORT);
    p = tseg(11, c, s, TCP_ACK | TCP_PSH, 100, 7000, "GET / HTTP/1.1\r\n\r\n", 18);
    h = flow_table_packet(t, &p);
    CHECK_EQ(h.f->roles, ROLES_PAYLOAD);
    CHECK_EQ(h.dir, DIR_C2S);
    check_endpoints(h.f, "10.0.8.1:40000", "10.0.8.2:50000");
    CHECK_EQ(h.f->packets[DIR_C2S], 1);
    CHECK_EQ(h.f->packets[DIR_S2C], 1);
    CHECK_EQ(h.f->payload_bytes[DIR_C2S], 18);
    CHECK_EQ(h.f->payload_bytes[DIR_S2C], 0);
    CHECK_EQ(h.f->wire_bytes[DIR_C2S], 54 + 18);
    CHECK_EQ(h.f->wire_bytes[DIR_S2C], 54);
    flow_table_free(t);

    check_case("a FIN counted before the roles flip stays with its sender");
    t = table(&rel, 0, 0, 0);
    p = tseg(10, s, c, TCP_ACK | TCP_FIN, 7000, 100, NULL, 0); /* server half-closes */
    flow_table_packet(t, &p);
    p = tseg(11, c, s, TCP_ACK | TCP_PSH, 100, 7001, "GET / HTTP/1.1\r\n\r\n", 18);
    flow_table_packet(t, &p);
    p = tseg(12, c, s, TCP_ACK | TCP_FIN, 118, 7001, NULL, 0);
    h = flow_table_packet(t, &p);
    CHECK(h.ended); /* one FIN from each side */
    CHECK_EQ(h.f->end_reason, END_FIN);
    flow_table_free(t);
}

static void test_vlan(void)
{
    check_case("VLAN tags separate flows");
    struct released rel;
    struct flow_table *t = table(&rel, 0, 0, 0);
    struct dec_pkt p = tseg(1, cli, srv, TCP_SYN, 1000, 0, NULL, 0);
    struct flow_hit a = flow_table_packet(t, &p);
    p.vlan_outer = 10;
    struct flow_hit b = flow_table_packet(t, &p);
    p.vlan_inner = 20;
    struct flow_hit c = flow_table_packet(t, &p);
    p.vlan_inner = 21;
    struct flow_hit d = flow_table_packet(t, &p);
    CHECK(a.created && b.created && c.created && d.created);
    CHECK(a.f != b.f && b.f != c.f && c.f != d.f);
    CHECK_EQ(b.f->key.vlan_outer, 10);
    CHECK_EQ(c.f->key.vlan_inner, 20);
    /* the reply on VLAN 10/20 finds its flow */
    p = tseg(2, srv, cli, TCP_SYN | TCP_ACK, 5000, 1001, NULL, 0);
    p.vlan_outer = 10;
    p.vlan_inner = 20;
    struct flow_hit e = flow_table_packet(t, &p);
    CHECK(e.f == c.f && !e.created);
    CHECK_EQ(e.dir, DIR_S2C);
    CHECK_EQ(flow_table_stats(t)->created, 4);
    flow_table_free(t);
}

static void test_idle_timeout(void)
{
    check_case("idle timeout on packet time");
    struct released rel;
    struct flow_table *t = table(&rel, 0, 10 * SEC, 0);
    struct tseg_ep other = { "10.0.9.9", 41000 };
    pkt(t, 100 * SEC, cli, srv, TCP_SYN, NULL);                      /* flow 1 */
    pkt(t, 105 * SEC, other, srv, TCP_SYN, NULL);                    /* flow 2 */
    /* A packet of flow 1 stamped in the past: it cannot move the clock back. */
    struct flow_hit h = pkt(t, 50 * SEC, srv, cli, TCP_SYN | TCP_ACK, NULL);
    CHECK(!h.created);
    CHECK_EQ(h.f->id, 1);
    CHECK_EQ(h.f->last_seen_us, 105 * SEC);
    /* 10 s after flow 1's real start but only 9 s after its last packet */
    pkt(t, 114 * SEC, other, srv, TCP_ACK, NULL);
    CHECK_EQ(rel.n, 0);
    CHECK_EQ(flow_table_stats(t)->timed_out, 0);
    /* A new flow whose first packet goes back in time */
    struct tseg_ep late = { "10.0.9.8", 42000 };
    h = pkt(t, 60 * SEC, late, srv, TCP_SYN, NULL);
    CHECK(h.created);
    CHECK_EQ(h.f->first_seen_us, 60 * SEC);
    CHECK_EQ(h.f->last_seen_us, 114 * SEC);
    pkt(t, 115 * SEC, other, srv, TCP_ACK, NULL);
    CHECK_EQ(rel.n, 1); /* flow 1: idle exactly 10 s */
    CHECK_EQ(rel.v[0].id, 1);
    CHECK_EQ(rel.v[0].end_reason, END_TIMEOUT);
    CHECK_EQ(rel.v[0].packets[DIR_C2S], 1);
    CHECK_EQ(rel.v[0].packets[DIR_S2C], 1);
    CHECK_EQ(flow_table_stats(t)->timed_out, 1);
    CHECK_EQ(flow_table_stats(t)->active, 2);
    /* a packet of the timed-out connection opens a new flow */
    h = pkt(t, 116 * SEC, cli, srv, TCP_ACK, NULL);
    CHECK(h.created);
    CHECK_EQ(h.f->id, 4);
    pkt(t, 124 * SEC, other, srv, TCP_ACK, NULL);
    CHECK_EQ(rel.n, 2); /* flow 3 (last seen at 114 s); flow 2 (115 s) stays */
    CHECK_EQ(rel.v[1].id, 3);
    CHECK_EQ(rel.v[1].end_reason, END_TIMEOUT);
    flow_table_free(t);
}

static void test_fin_rst(void)
{
    check_case("FIN both ways, then linger absorbs the last ACK");
    struct released rel;
    struct flow_table *t = table(&rel, 0, 100 * SEC, 2 * SEC);
    struct tseg_ep other = { "10.0.9.9", 41000 };
    pkt(t, 1 * SEC, cli, srv, TCP_SYN, NULL);
    pkt(t, 1 * SEC + 1, srv, cli, TCP_SYN | TCP_ACK, NULL);
    struct flow_hit h = pkt(t, 1 * SEC + 2, cli, srv, TCP_FIN | TCP_ACK, NULL);
    CHECK(!h.ended && !h.after_end);
    CHECK(h.f->fin_seen[DIR_C2S] && !h.f->fin_seen[DIR_S2C]);
    CHECK_EQ(h.f->end_reason, END_NONE);
    h = pkt(t, 1 * SEC + 3, cli, srv, TCP_FIN | TCP_ACK, NULL); /* retransmitted FIN */
    CHECK(!h.ended && !h.f->closing);
    h = pkt(t, 1 * SEC + 4, srv, cli, TCP_FIN | TCP_ACK, NULL);
    CHECK(h.ended && !h.after_end);
    CHECK(h.f->closing);
    CHECK_EQ(h.f->end_reason, END_FIN);
    const struct flow *f = h.f;
    h = pkt(t, 1 * SEC + 5, cli, srv, TCP_ACK, NULL);
    CHECK(h.f == f && h.after_end && !h.created && !h.ended);
    CHECK_EQ(f->packets[DIR_C2S], 4); /* stragglers are still counted */
    CHECK_EQ(rel.n, 0);
    pkt(t, 2 * SEC, other, srv, TCP_SYN, NULL);
    CHECK_EQ(rel.n, 0); /* 1 s of linger so far */
    pkt(t, 3 * SEC + 5, other, srv, TCP_ACK, NULL);
    CHECK_EQ(rel.n, 1);
    CHECK_EQ(rel.v[0].end_reason, END_FIN);
    CHECK_EQ(rel.v[0].packets[DIR_C2S], 4);
    CHECK_EQ(rel.v[0].packets[DIR_S2C], 2);
    CHECK_EQ(flow_table_stats(t)->timed_out, 0);
    flow_table_free(t);

    check_case("RST ends the flow; later packets are stragglers");
    t = table(&rel, 0, 100 * SEC, 2 * SEC);
    pkt(t, 1 * SEC, cli, srv, TCP_SYN, NULL);
    h = pkt(t, 1 * SEC + 1, srv, cli, TCP_RST | TCP_ACK, NULL);
    CHECK(h.ended && !h.after_end);
    CHECK_EQ(h.f->end_reason, END_RST);
    h = pkt(t, 1 * SEC + 2, cli, srv, TCP_ACK | TCP_PSH, "late");
    CHECK(h.after_end && !h.created);
    h = pkt(t, 1 * SEC + 3, srv, cli, TCP_RST, NULL);
    CHECK(h.after_end && !h.ended);
    flow_table_flush(t);
    CHECK_EQ(rel.n, 1);
    CHECK_EQ(rel.v[0].end_reason, END_RST);
    CHECK_EQ(rel.v[0].payload_bytes[DIR_C2S], 4);
    flow_table_free(t);
}

static void test_port_reuse(void)
{
    struct released rel;
    struct flow_table *t = table(&rel, 0, 0, 0);
    check_case("a new SYN on an ended flow starts a new flow");
    pkt(t, 1, cli, srv, TCP_SYN, NULL);
    pkt(t, 2, cli, srv, TCP_FIN | TCP_ACK, NULL);
    struct flow_hit h = pkt(t, 3, srv, cli, TCP_FIN | TCP_ACK, NULL);
    CHECK(h.ended);
    h = pkt(t, 4, cli, srv, TCP_SYN, NULL);
    CHECK(h.created && !h.after_end);
    CHECK_EQ(h.f->id, 2);
    CHECK_EQ(h.f->packets[DIR_C2S], 1);
    CHECK_EQ(h.f->packets[DIR_S2C], 0);
    CHECK_EQ(rel.n, 1);
    CHECK_EQ(rel.v[0].id, 1);
    CHECK_EQ(rel.v[0].end_reason, END_FIN);
    CHECK_EQ(flow_table_stats(t)->port_reuse, 1);

    check_case("a retransmitted SYN is the same flow");
    h = pkt(t, 5, cli, srv, TCP_SYN, NULL);
    CHECK(!h.created);
    CHECK_EQ(h.f->id, 2);
    CHECK_EQ(h.f->packets[DIR_C2S], 2);

    check_case("a SYN with another ISN after data is a new connection");
    struct dec_pkt p = tseg(6, cli, srv, TCP_ACK | TCP_PSH, 1001, 1, "hello", 5);
    flow_table_packet(t, &p);
    p = tseg(7, cli, srv, TCP_SYN, 99999, 0, NULL, 0);
    h = flow_table_packet(t, &p);
    CHECK(h.created);
    CHECK_EQ(h.f->id, 3);
    CHECK_EQ(h.f->client_syn_seq, 99999);
    CHECK_EQ(rel.n, 2);
    CHECK_EQ(rel.v[1].id, 2);
    CHECK_EQ(rel.v[1].end_reason, END_REUSED);
    CHECK_STR(flow_end_reason_name(END_REUSED), "reused");
    CHECK_EQ(rel.v[1].payload_bytes[DIR_C2S], 5);
    CHECK_EQ(flow_table_stats(t)->port_reuse, 2);
    CHECK_EQ(flow_table_stats(t)->active, 1);
    flow_table_free(t);
}

static void test_eviction_and_flush(void)
{
    check_case("pool full: the least recently seen open flow is evicted");
    struct released rel;
    struct flow_table *t = table(&rel, 3, 0, 0); /* below the minimum: raised */
    CHECK_EQ(flow_table_capacity(t), FLOW_MIN_MAX);
    struct tseg_ep c[FLOW_MIN_MAX + 2];
    for (uint16_t i = 0; i < FLOW_MIN_MAX + 2; i++)
        c[i] = (struct tseg_ep){ "10.1.0.1", (uint16_t)(40000 + i) };
    for (uint16_t i = 0; i < FLOW_MIN_MAX; i++)
        pkt(t, 1000 + i, c[i], srv, TCP_SYN, NULL);
    pkt(t, 2000, srv, c[0], TCP_SYN | TCP_ACK, NULL); /* flow 1 is recent again */
    CHECK_EQ(flow_table_stats(t)->active, FLOW_MIN_MAX);
    struct flow_hit h = pkt(t, 2001, c[FLOW_MIN_MAX], srv, TCP_SYN, NULL);
    CHECK(h.created);
    CHECK_EQ(rel.n, 1);
    CHECK_EQ(rel.v[0].id, 2);
    CHECK_EQ(rel.v[0].end_reason, END_EVICTED);
    CHECK_EQ(flow_port(&rel.v[0], DIR_C2S), 40001);
    CHECK_EQ(flow_table_stats(t)->evicted, 1);
    CHECK_EQ(flow_table_stats(t)->active, FLOW_MIN_MAX);
    CHECK_EQ(flow_table_stats(t)->peak_active, FLOW_MIN_MAX);

    check_case("pool full: an ended flow goes before any open one, uncounted");
    h = pkt(t, 2002, srv, c[5], TCP_RST, NULL);
    CHECK(h.ended);
    h = pkt(t, 2003, c[FLOW_MIN_MAX + 1], srv, TCP_SYN, NULL);
    CHECK(h.created);
    CHECK_EQ(rel.n, 2);
    CHECK_EQ(rel.v[1].id, 6);
    CHECK_EQ(rel.v[1].end_reason, END_RST);
    CHECK_EQ(flow_table_stats(t)->evicted, 1);

    check_case("flush releases the rest in order of creation");
    /* LRU order now differs from creation order: touch flow 3 and end flow 4 */
    pkt(t, 2004, c[2], srv, TCP_ACK, NULL);
    pkt(t, 2005, c[3], srv, TCP_FIN | TCP_ACK, NULL);
    pkt(t, 2006, srv, c[3], TCP_FIN | TCP_ACK, NULL);
    rel.n = 0;
    flow_table_flush(t);
    CHECK_EQ(rel.n, FLOW_MIN_MAX);
    uint64_t want[FLOW_MIN_MAX];
    int k = 0;
    for (uint64_t id = 1; id <= FLOW_MIN_MAX + 2; id++)
        if (id != 2 && id != 6)
            want[k++] = id;
    for (int i = 0; i < (int)FLOW_MIN_MAX && i < rel.n; i++) {
        CHECK_EQ(rel.v[i].id, want[i]);
        CHECK_EQ(rel.v[i].end_reason, want[i] == 4 ? END_FIN : END_CAPTURE_END);
    }
    CHECK_EQ(flow_table_stats(t)->active, 0);
    CHECK_EQ(flow_table_stats(t)->created, FLOW_MIN_MAX + 2);
    flow_table_flush(t); /* nothing left */
    CHECK_EQ(rel.n, FLOW_MIN_MAX);

    check_case("the table works again after a flush");
    h = pkt(t, 3000, cli, srv, TCP_SYN, NULL);
    CHECK(h.created);
    CHECK_EQ(h.f->id, FLOW_MIN_MAX + 3);
    flow_table_free(t);

    check_case("end reason names");
    CHECK_STR(flow_end_reason_name(END_FIN), "fin");
    CHECK_STR(flow_end_reason_name(END_RST), "rst");
    CHECK_STR(flow_end_reason_name(END_TIMEOUT), "timeout");
    CHECK_STR(flow_end_reason_name(END_CAPTURE_END), "capture_end");
    CHECK_STR(flow_end_reason_name(END_EVICTED), "evicted");
    flow_table_free(NULL);
}

int main(void)
{
    test_both_directions();
    test_roles();
    test_counters();
    test_vlan();
    test_idle_timeout();
    test_fin_rst();
    test_port_reuse();
    test_eviction_and_flush();
    return check_done("test_flow");
}
