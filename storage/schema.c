/* schema.c: see schema.h. */
#include "schema.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlh.h"

/* Revision 1: the storage contract of DESIGN.md, exactly. */
static const char rev1[] =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  mode TEXT NOT NULL,"            /* 'file' or 'live' */
    "  source TEXT NOT NULL,"
    "  started_at REAL NOT NULL,"
    "  finished_at REAL,"
    "  packets INTEGER, bytes INTEGER, kernel_drops INTEGER, if_drops INTEGER,"
    "  truncated INTEGER NOT NULL DEFAULT 0,"
    "  tool_version TEXT,"
    "  options TEXT);"
    "CREATE TABLE flows ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),"
    "  first_seen REAL, last_seen REAL,"
    "  client_ip TEXT, client_port INTEGER, server_ip TEXT, server_port INTEGER,"
    "  vlan INTEGER, l7_protocol TEXT,"
    "  packets_c2s INTEGER, packets_s2c INTEGER, bytes_c2s INTEGER, bytes_s2c INTEGER,"
    "  missing_bytes INTEGER, retransmissions INTEGER, out_of_order INTEGER,"
    "  end_reason TEXT, exchange_count INTEGER, verdict TEXT);"
    "CREATE TABLE exchanges ("
    "  id INTEGER PRIMARY KEY,"
    "  flow_id INTEGER NOT NULL REFERENCES flows(id),"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),"
    "  seq INTEGER, ts REAL, method TEXT, uri TEXT, host TEXT, http_version TEXT,"
    "  user_agent TEXT, expect TEXT, content_length INTEGER, chunked INTEGER,"
    "  body_bytes INTEGER, interim_codes TEXT, status INTEGER, reason TEXT, server TEXT,"
    "  via TEXT, wait_ms REAL, continue_ms REAL, final_ms REAL, verdict TEXT, flags TEXT,"
    "  retry_of INTEGER REFERENCES exchanges(id));"
    "CREATE TABLE headers ("
    "  exchange_id INTEGER NOT NULL REFERENCES exchanges(id),"
    "  direction TEXT NOT NULL,"       /* 'request', 'interim', 'response' */
    "  raw TEXT);";

/* Revision 2: what the tool records beyond the contract, the indexes the views
 * need, and the views for the common questions (docs/sql-cookbook.md). */
static const char rev2[] =
    "ALTER TABLE runs ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN first_packet REAL;"
    "ALTER TABLE runs ADD COLUMN last_packet REAL;"
    "ALTER TABLE runs ADD COLUMN tcp_flows INTEGER;"
    "ALTER TABLE runs ADD COLUMN http_flows INTEGER;"
    "ALTER TABLE runs ADD COLUMN exchange_count INTEGER;"
    "ALTER TABLE runs ADD COLUMN evicted_flows INTEGER;"
    "ALTER TABLE runs ADD COLUMN fragments_skipped INTEGER;"
    "ALTER TABLE runs ADD COLUMN undecodable INTEGER;"
    "ALTER TABLE runs ADD COLUMN orphan_responses INTEGER;"
    "ALTER TABLE runs ADD COLUMN parse_errors INTEGER;"
    "ALTER TABLE flows ADD COLUMN wire_bytes_c2s INTEGER;"
    "ALTER TABLE flows ADD COLUMN wire_bytes_s2c INTEGER;"
    "ALTER TABLE flows ADD COLUMN gaps INTEGER;"
    "ALTER TABLE exchanges ADD COLUMN t_hdr REAL;"
    "ALTER TABLE exchanges ADD COLUMN body_missing INTEGER;"
    "ALTER TABLE exchanges ADD COLUMN response_version TEXT;"
    /* Few indexes: each one costs every insert. Exchanges of a run or flow are
     * found through exchanges_flow; verdicts are counted by a scan. */
    "CREATE INDEX flows_run ON flows(run_id);"
    "CREATE INDEX exchanges_flow ON exchanges(flow_id);"
    "CREATE INDEX headers_exchange ON headers(exchange_id);"

    /* How many exchanges and flows got each verdict, per run. */
    "CREATE VIEW v_verdict_counts AS"
    " SELECT run_id, verdict, COUNT(*) AS exchanges FROM exchanges"
    " GROUP BY run_id, verdict;"
    "CREATE VIEW v_flow_verdict_counts AS"
    " SELECT run_id, verdict, COUNT(*) AS flows FROM flows WHERE verdict IS NOT NULL"
    " GROUP BY run_id, verdict;"

    /* Exchanges with their flow's endpoints: what most questions start from. */
    "CREATE VIEW v_exchanges AS"
    " SELECT e.*, f.client_ip, f.client_port, f.server_ip, f.server_port, f.vlan,"
    "  (COALESCE(e.flags, '') LIKE '%via_proxy%') AS via_proxy"
    " FROM exchanges e JOIN flows f ON f.id = e.flow_id;"

    /* 417s and timeout fallbacks per server (address, port and Host), worst first. */
    "CREATE VIEW v_server_failures AS"
    " SELECT server_ip, server_port, host, COUNT(*) AS exchanges,"
    "  SUM(expect IS NOT NULL) AS with_expect,"
    "  SUM(status = 417) AS status_417,"
    "  SUM(verdict = 'timeout_fallback') AS timeout_fallbacks,"
    "  SUM(verdict = 'late_100') AS late_100,"
    "  SUM(verdict = 'retry_after_417') AS retries"
    " FROM v_exchanges GROUP BY server_ip, server_port, host"
    " ORDER BY status_417 + timeout_fallbacks DESC, exchanges DESC;"

    /* The same per client software. */
    "CREATE VIEW v_user_agent_failures AS"
    " SELECT user_agent, COUNT(*) AS exchanges,"
    "  SUM(expect IS NOT NULL) AS with_expect,"
    "  SUM(status = 417) AS status_417,"
    "  SUM(verdict = 'timeout_fallback') AS timeout_fallbacks,"
    "  ROUND(AVG(CASE WHEN verdict = 'timeout_fallback' THEN wait_ms END), 1)"
    "   AS avg_fallback_wait_ms,"
    "  SUM(verdict = 'retry_after_417') AS retries"
    " FROM exchanges GROUP BY user_agent"
    " ORDER BY status_417 + timeout_fallbacks DESC, exchanges DESC;"

    /* Time to 100 Continue and client wait per server: median and 95th percentile
     * by nearest rank (the value at rank ceil(p * n)). */
    "CREATE VIEW v_server_timing AS"
    " WITH c AS (SELECT server_ip, server_port, continue_ms AS v,"
    "   ROW_NUMBER() OVER (PARTITION BY server_ip, server_port ORDER BY continue_ms) AS rn,"
    "   COUNT(*) OVER (PARTITION BY server_ip, server_port) AS n"
    "   FROM v_exchanges WHERE continue_ms IS NOT NULL),"
    " w AS (SELECT server_ip, server_port, wait_ms AS v,"
    "   ROW_NUMBER() OVER (PARTITION BY server_ip, server_port ORDER BY wait_ms) AS rn,"
    "   COUNT(*) OVER (PARTITION BY server_ip, server_port) AS n"
    "   FROM v_exchanges WHERE wait_ms IS NOT NULL AND expect IS NOT NULL),"
    " cs AS (SELECT server_ip, server_port, MAX(n) AS n_100,"
    "   MAX(CASE WHEN rn = (n + 1) / 2 THEN v END) AS continue_ms_p50,"
    "   MAX(CASE WHEN rn = (95 * n + 99) / 100 THEN v END) AS continue_ms_p95"
    "   FROM c GROUP BY server_ip, server_port),"
    " ws AS (SELECT server_ip, server_port, MAX(n) AS n_wait,"
    "   MAX(CASE WHEN rn = (n + 1) / 2 THEN v END) AS wait_ms_p50,"
    "   MAX(CASE WHEN rn = (95 * n + 99) / 100 THEN v END) AS wait_ms_p95"
    "   FROM w GROUP BY server_ip, server_port),"
    " s AS (SELECT server_ip, server_port FROM cs UNION SELECT server_ip, server_port FROM ws)"
    " SELECT s.server_ip, s.server_port, COALESCE(cs.n_100, 0) AS n_100,"
    "  cs.continue_ms_p50, cs.continue_ms_p95, COALESCE(ws.n_wait, 0) AS n_wait,"
    "  ws.wait_ms_p50, ws.wait_ms_p95"
    " FROM s LEFT JOIN cs USING (server_ip, server_port)"
    " LEFT JOIN ws USING (server_ip, server_port);"

    /* Direct against proxied (a Via header seen), per verdict. */
    "CREATE VIEW v_proxy_vs_direct AS"
    " SELECT CASE WHEN via_proxy THEN 'via_proxy' ELSE 'direct' END AS path, verdict,"
    "  COUNT(*) AS exchanges FROM v_exchanges GROUP BY path, verdict;"

    /* Retries after 417 that sent the body a second time, with what it cost. */
    "CREATE VIEW v_duplicate_bodies AS"
    " SELECT r.run_id, r.id AS retry_id, o.id AS original_id, r.client_ip, r.server_ip,"
    "  r.server_port, r.host, r.method, r.uri, o.body_bytes AS wasted_bytes,"
    "  ROUND((r.ts - o.ts) * 1000, 3) AS retry_after_ms"
    " FROM v_exchanges r JOIN exchanges o ON o.id = r.retry_of"
    " WHERE r.flags LIKE '%duplicate_body%';";

/* Revision 3: losses the hostile-input floods showed were not in the database. */
static const char rev3[] =
    "ALTER TABLE flows ADD COLUMN out_of_window INTEGER;"  /* segments dropped as too far ahead */
    "ALTER TABLE flows ADD COLUMN cap_flushes INTEGER;"    /* holes given up to a budget */
    "ALTER TABLE exchanges ADD COLUMN interim_count INTEGER;" /* all 1xx, past the 8 kept */
    "ALTER TABLE runs ADD COLUMN pipeline_overflows INTEGER;";

/* Revision 4: the inputs of each run, so that a capture analysed twice is noticed
 * (analyze --again), a run's state in words, and the views of revision 2 once more
 * per run (run_id first), so that a question can be asked of one run. */
static const char rev4[] =
    "CREATE TABLE inputs ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id),"
    "  seq INTEGER NOT NULL,"          /* 0-based, in the order given */
    "  path TEXT NOT NULL,"            /* as given; '-' for standard input */
    "  compression TEXT,"              /* 'none', 'gzip', 'xz', 'zstd' */
    "  linktype INTEGER,"
    "  size INTEGER,"                  /* bytes as stored; NULL for a pipe */
    "  first_packet REAL,"
    "  head_hash TEXT,"                /* 16 hex digits: FNV-1a 64 of the first head_bytes */
    "  head_bytes INTEGER,"            /* of the capture, decompressed */
    "  packets INTEGER);"              /* records read; NULL until the run ends */
    "CREATE INDEX inputs_head ON inputs(head_hash);"

    "CREATE VIEW v_runs AS"
    " SELECT id AS run_id, mode, source, started_at, finished_at, first_packet, last_packet,"
    "  packets, tcp_flows, http_flows, exchange_count,"
    "  CASE WHEN finished_at IS NULL THEN 'unfinished'"
    "   WHEN interrupted THEN 'interrupted' WHEN truncated THEN 'truncated'"
    "   ELSE 'complete' END AS state"
    " FROM runs;"
    "CREATE VIEW v_latest_run AS SELECT MAX(id) AS run_id FROM runs;"

    "CREATE VIEW v_server_failures_by_run AS"
    " SELECT run_id, server_ip, server_port, host, COUNT(*) AS exchanges,"
    "  SUM(expect IS NOT NULL) AS with_expect,"
    "  SUM(status = 417) AS status_417,"
    "  SUM(verdict = 'timeout_fallback') AS timeout_fallbacks,"
    "  SUM(verdict = 'late_100') AS late_100,"
    "  SUM(verdict = 'retry_after_417') AS retries"
    " FROM v_exchanges GROUP BY run_id, server_ip, server_port, host"
    " ORDER BY run_id, status_417 + timeout_fallbacks DESC, exchanges DESC;"

    "CREATE VIEW v_user_agent_failures_by_run AS"
    " SELECT run_id, user_agent, COUNT(*) AS exchanges,"
    "  SUM(expect IS NOT NULL) AS with_expect,"
    "  SUM(status = 417) AS status_417,"
    "  SUM(verdict = 'timeout_fallback') AS timeout_fallbacks,"
    "  ROUND(AVG(CASE WHEN verdict = 'timeout_fallback' THEN wait_ms END), 1)"
    "   AS avg_fallback_wait_ms,"
    "  SUM(verdict = 'retry_after_417') AS retries"
    " FROM exchanges GROUP BY run_id, user_agent"
    " ORDER BY run_id, status_417 + timeout_fallbacks DESC, exchanges DESC;"

    "CREATE VIEW v_server_timing_by_run AS"
    " WITH c AS (SELECT run_id, server_ip, server_port, continue_ms AS v,"
    "   ROW_NUMBER() OVER (PARTITION BY run_id, server_ip, server_port"
    "    ORDER BY continue_ms) AS rn,"
    "   COUNT(*) OVER (PARTITION BY run_id, server_ip, server_port) AS n"
    "   FROM v_exchanges WHERE continue_ms IS NOT NULL),"
    " w AS (SELECT run_id, server_ip, server_port, wait_ms AS v,"
    "   ROW_NUMBER() OVER (PARTITION BY run_id, server_ip, server_port"
    "    ORDER BY wait_ms) AS rn,"
    "   COUNT(*) OVER (PARTITION BY run_id, server_ip, server_port) AS n"
    "   FROM v_exchanges WHERE wait_ms IS NOT NULL AND expect IS NOT NULL),"
    " cs AS (SELECT run_id, server_ip, server_port, MAX(n) AS n_100,"
    "   MAX(CASE WHEN rn = (n + 1) / 2 THEN v END) AS continue_ms_p50,"
    "   MAX(CASE WHEN rn = (95 * n + 99) / 100 THEN v END) AS continue_ms_p95"
    "   FROM c GROUP BY run_id, server_ip, server_port),"
    " ws AS (SELECT run_id, server_ip, server_port, MAX(n) AS n_wait,"
    "   MAX(CASE WHEN rn = (n + 1) / 2 THEN v END) AS wait_ms_p50,"
    "   MAX(CASE WHEN rn = (95 * n + 99) / 100 THEN v END) AS wait_ms_p95"
    "   FROM w GROUP BY run_id, server_ip, server_port),"
    " s AS (SELECT run_id, server_ip, server_port FROM cs"
    "   UNION SELECT run_id, server_ip, server_port FROM ws)"
    " SELECT s.run_id, s.server_ip, s.server_port, COALESCE(cs.n_100, 0) AS n_100,"
    "  cs.continue_ms_p50, cs.continue_ms_p95, COALESCE(ws.n_wait, 0) AS n_wait,"
    "  ws.wait_ms_p50, ws.wait_ms_p95"
    " FROM s LEFT JOIN cs USING (run_id, server_ip, server_port)"
    " LEFT JOIN ws USING (run_id, server_ip, server_port);"

    "CREATE VIEW v_proxy_vs_direct_by_run AS"
    " SELECT run_id, CASE WHEN via_proxy THEN 'via_proxy' ELSE 'direct' END AS path,"
    "  verdict, COUNT(*) AS exchanges FROM v_exchanges GROUP BY run_id, path, verdict;";

/* Revision 5: who answered each exchange, and the links between the two legs of a
 * proxy (DESIGN.md "Paths"), with the path comparison per Host. */
static const char rev5[] =
    "ALTER TABLE exchanges ADD COLUMN answered_by TEXT;"    /* origin, intermediary, unknown */
    "ALTER TABLE exchanges ADD COLUMN intermediary TEXT;"   /* product name, or NULL */
    "ALTER TABLE exchanges ADD COLUMN path_evidence TEXT;"  /* why, in a few words */
    "CREATE TABLE hops ("
    "  front_exchange_id INTEGER NOT NULL REFERENCES exchanges(id)," /* client -> proxy */
    "  back_exchange_id INTEGER REFERENCES exchanges(id),"  /* proxy -> upstream; NULL:
                                                               the proxy answered itself */
    "  proxy_ip TEXT,"
    "  findings TEXT,"          /* what the proxy did to the handshake (docs/paths.md) */
    "  run_id INTEGER REFERENCES runs(id),"
    "  client_wait_ms REAL,"    /* the client's header end to its first body byte */
    "  proxy_ms REAL,"          /* ... to the upstream request's header end */
    "  upstream_ms REAL);"      /* that to the upstream's first answer (100 or final) */
    "CREATE INDEX hops_front ON hops(front_exchange_id);"
    "CREATE INDEX hops_back ON hops(back_exchange_id);"
    "ALTER TABLE runs ADD COLUMN hops_linked INTEGER;"
    "ALTER TABLE runs ADD COLUMN hops_ambiguous INTEGER;"

    /* Every exchange a client made (not the legs a proxy made upstream), with the path
     * it took: 'direct' when nothing says an intermediary was between, else 'via' and
     * the intermediary. */
    "CREATE VIEW v_paths AS"
    " SELECT e.*, f.client_ip, f.client_port, f.server_ip, f.server_port,"
    "  CASE WHEN e.intermediary IS NULL AND h.front_exchange_id IS NULL THEN 'direct'"
    "   ELSE 'via ' || COALESCE(e.intermediary, 'proxy') END AS path"
    " FROM exchanges e JOIN flows f ON f.id = e.flow_id"
    " LEFT JOIN hops h ON h.front_exchange_id = e.id"
    " WHERE NOT EXISTS (SELECT 1 FROM hops b WHERE b.back_exchange_id = e.id);"

    /* Per Host, each path (and the address it reached) with its outcomes; paths_disagree
     * is 1 on every path of a Host where one path has problems and another has none. Over
     * all runs, and per run (run_id first). */
#define PATH_COMPARE(RUN, WHERE_RUN)                                                     \
    " WITH p AS (SELECT " RUN "host, path, server_ip, server_port, COUNT(*) AS exchanges,"\
    "   SUM(expect IS NOT NULL) AS with_expect,"                                        \
    "   SUM(verdict = 'continue_ok') AS continue_ok,"                                   \
    "   SUM(verdict = 'expectation_failed') AS expectation_failed,"                     \
    "   SUM(verdict = 'timeout_fallback') AS timeout_fallback,"                         \
    "   SUM(verdict IN ('expectation_failed', 'unsupported_expectation',"               \
    "    'body_after_final', 'timeout_fallback', 'late_100', 'no_wait',"                \
    "    'retry_after_417')) AS problems,"                                              \
    "   ROUND(AVG(CASE WHEN expect IS NOT NULL THEN wait_ms END), 3) AS avg_wait_ms,"   \
    "   ROUND(AVG(continue_ms), 3) AS avg_continue_ms,"                                 \
    "   SUM(answered_by = 'intermediary') AS answered_by_intermediary"                  \
    "   FROM v_paths GROUP BY " RUN "host, path, server_ip, server_port)"               \
    " SELECT p.*, (SELECT MAX(q.problems > 0) != MIN(q.problems > 0) FROM p q"          \
    "   WHERE q.host IS p.host" WHERE_RUN ") AS paths_disagree"                         \
    " FROM p ORDER BY " RUN "host, path, server_ip, server_port;"
    "CREATE VIEW v_path_compare AS" PATH_COMPARE("", "")
    "CREATE VIEW v_path_compare_by_run AS" PATH_COMPARE("run_id, ", " AND q.run_id = p.run_id");
#undef PATH_COMPARE

/* Revision 6: the times an export draws (HAR timings, the report's ladders): each
 * interim's time, the request body's end, the exchange's end; ms after t_hdr, as
 * wait_ms. */
static const char rev6[] =
    "ALTER TABLE exchanges ADD COLUMN interim_ms TEXT;"  /* '0.512,12.250', as interim_codes */
    "ALTER TABLE exchanges ADD COLUMN body_end_ms REAL;" /* last request body byte */
    "ALTER TABLE exchanges ADD COLUMN end_ms REAL;";     /* the final response complete */

/* Revision 7: the rules (docs/rules.md) and untidy captures. violations holds each
 * breach of the Expect/1xx rules, by exchange (or by flow alone for a flow-level rule),
 * with its stable ID; runs gain the capture's snap length and counts of what the
 * capture's shape kept from being judged. The views are grouped by what they serve. */
#define REV7_TABLES                                                                      \
    "CREATE TABLE violations ("                                                          \
    "  id INTEGER PRIMARY KEY,"                                                          \
    "  run_id INTEGER NOT NULL REFERENCES runs(id),"                                     \
    "  flow_id INTEGER REFERENCES flows(id),"                                            \
    "  exchange_id INTEGER REFERENCES exchanges(id)," /* NULL: a rule of the flow */     \
    "  rule TEXT NOT NULL,"                          /* C1..C11, S1..S15, P1..P7 */      \
    "  detail TEXT);"                                /* one line: what the wire showed */\
    "CREATE INDEX violations_exchange ON violations(exchange_id);"                       \
    "CREATE INDEX violations_flow ON violations(flow_id);"                               \
    "CREATE INDEX violations_rule ON violations(rule);"                                  \
    "ALTER TABLE runs ADD COLUMN snaplen INTEGER;"     /* the capture's, when it says */ \
    "ALTER TABLE runs ADD COLUMN snap_cut_packets INTEGER;" /* captured < on the wire */ \
    "ALTER TABLE runs ADD COLUMN one_sided_flows INTEGER;"  /* one direction unseen */   \
    "ALTER TABLE runs ADD COLUMN payload_packets INTEGER;"  /* TCP segments with data */ \
    "ALTER TABLE runs ADD COLUMN violations INTEGER;"
/* Violations per server and per user agent (docs/sql-cookbook.md). */
#define REV7_RULE_VIEWS                                                                  \
    /* each violation with its exchange and flow: a flow's own rule has no exchange */ \
    "CREATE VIEW v_violations AS"                                                        \
    " SELECT v.id, v.run_id, v.rule, v.detail, v.exchange_id, v.flow_id,"                \
    "  COALESCE(e.ts, f.first_seen) AS ts, f.client_ip, f.client_port, f.server_ip,"     \
    "  f.server_port, e.host, e.user_agent, e.method, e.uri, e.status, e.verdict,"       \
    "  e.answered_by, e.intermediary"                                                    \
    " FROM violations v LEFT JOIN flows f ON f.id = v.flow_id"                           \
    " LEFT JOIN exchanges e ON e.id = v.exchange_id;"                                    \
    /* per server (address, port, Host) and rule, most violations first */             \
    "CREATE VIEW v_violations_by_server AS"                                              \
    " SELECT server_ip, server_port, host, rule, COUNT(*) AS violations,"                \
    "  COUNT(DISTINCT exchange_id) AS exchanges, MIN(exchange_id) AS example_exchange_id"\
    " FROM v_violations GROUP BY server_ip, server_port, host, rule"                     \
    " ORDER BY violations DESC, server_ip, server_port, host, rule;"                     \
    /* per user agent and rule */                                                       \
    "CREATE VIEW v_violations_by_agent AS"                                               \
    " SELECT user_agent, rule, COUNT(*) AS violations,"                                  \
    "  COUNT(DISTINCT exchange_id) AS exchanges, MIN(exchange_id) AS example_exchange_id"\
    " FROM v_violations GROUP BY user_agent, rule"                                       \
    " ORDER BY violations DESC, user_agent, rule;"
/* The expectation timer each client really uses (docs/sql-cookbook.md). */
/* The expectation timer each client really uses (docs/sql-cookbook.md "Client
 * expectation timers"): per user agent, or per client address when the requests had
 * none, over the exchanges with Expect. timer_ms is the median wait of its
 * timeout_fallback exchanges; tight is 1 when every one of them lies within
 * max(20 ms, 5 %) of that median (NULL under two fallbacks); common_timer names the
 * known timer within max(20 ms, 10 %) of the median; long_waits counts the waits longer
 * than 5 s (the body that late, or no body and the wait ended after 5 s by the server's
 * final answer or the connection's end). Over all runs, and per run (run_id first). */
#define CLIENT_TIMERS(RUNX, RUN)                                                         \
    " WITH x AS (SELECT " RUNX "CASE WHEN e.user_agent IS NULL THEN 'client_ip'"        \
    "   ELSE 'user_agent' END AS client_by, COALESCE(e.user_agent, f.client_ip) AS client,"\
    "   e.verdict, e.wait_ms, e.final_ms, e.body_bytes + COALESCE(e.body_missing, 0) AS body,"\
    "   (f.last_seen - e.t_hdr) * 1000.0 AS conn_ms"                                    \
    "   FROM exchanges e JOIN flows f ON f.id = e.flow_id WHERE e.expect IS NOT NULL),"  \
    "  fb AS (SELECT " RUN "client_by, client, wait_ms,"                                 \
    "   ROW_NUMBER() OVER (PARTITION BY " RUN "client_by, client ORDER BY wait_ms) AS k,"  \
    "   COUNT(*) OVER (PARTITION BY " RUN "client_by, client) AS n"                        \
    "   FROM x WHERE verdict = 'timeout_fallback' AND wait_ms IS NOT NULL),"              \
    "  med AS (SELECT " RUN "client_by, client, AVG(wait_ms) AS timer_ms FROM fb"        \
    "   WHERE k IN ((n + 1) / 2, (n + 2) / 2) GROUP BY " RUN "client_by, client),"       \
    "  known(timer, ms) AS (VALUES ('.NET 350 ms', 350.0), ('curl 1 s', 1000.0),"        \
    "   ('3 s', 3000.0)),"                                                               \
    "  a AS (SELECT " RUN "client_by, client, COUNT(*) AS with_expect,"                  \
    "   SUM(verdict = 'timeout_fallback') AS fallbacks,"                                 \
    "   MIN(CASE WHEN verdict = 'timeout_fallback' THEN wait_ms END) AS min_wait_ms,"    \
    "   MAX(CASE WHEN verdict = 'timeout_fallback' THEN wait_ms END) AS max_wait_ms,"    \
    "   SUM(wait_ms > 5000 OR (body = 0 AND (final_ms > 5000"                            \
    "    OR (verdict = 'incomplete' AND conn_ms > 5000)))) AS long_waits"                \
    "   FROM x GROUP BY " RUN "client_by, client)"                                       \
    " SELECT " RUN "client_by, client, with_expect, fallbacks,"                          \
    "  ROUND(timer_ms, 3) AS timer_ms, ROUND(min_wait_ms, 3) AS min_wait_ms,"            \
    "  ROUND(max_wait_ms, 3) AS max_wait_ms,"                                            \
    "  CASE WHEN fallbacks < 2 THEN NULL"                                                \
    "   WHEN max_wait_ms - timer_ms <= MAX(20.0, 0.05 * timer_ms)"                       \
    "    AND timer_ms - min_wait_ms <= MAX(20.0, 0.05 * timer_ms) THEN 1 ELSE 0 END"      \
    "   AS tight,"                                                                       \
    "  (SELECT timer FROM (SELECT k.timer, ABS(timer_ms - k.ms) AS d,"                   \
    "    MAX(20.0, 0.1 * k.ms) AS tol FROM known k) WHERE d <= tol ORDER BY d LIMIT 1)"   \
    "   AS common_timer,"                                                                \
    "  long_waits"                                                                       \
    " FROM a LEFT JOIN med USING (" RUN "client_by, client)"                             \
    " ORDER BY " RUN "fallbacks DESC, long_waits DESC, with_expect DESC, client;"
#define REV7_TIMER_VIEWS                                                                 \
    "CREATE VIEW v_client_timers AS" CLIENT_TIMERS("", "")                               \
    "CREATE VIEW v_client_timers_by_run AS" CLIENT_TIMERS("e.run_id AS run_id, ", "run_id, ")
static const char rev7[] = REV7_TABLES REV7_RULE_VIEWS REV7_TIMER_VIEWS;

/* Revision 8: the fleet (docs/fleet.md). runs.sensor names the sensor that wrote the
 * run (--sensor, default the host name); a run from before has NULL, and push ships it
 * under the host name it runs on. push keeps its progress per destination in meta
 * (push.h), so the revision adds no table. */
static const char rev8[] =
    "ALTER TABLE runs ADD COLUMN sensor TEXT;";

/* Revision 9: hostile input, round two (issue 15): what the caps cost, what the TCP
 * checks refused, what the clock and the HTTP framing could not be trusted with. Each
 * part is its own block. */
#define REV9_CAPS /* memory caps: what they cost, by name */                            \
    "ALTER TABLE runs ADD COLUMN pending_cap_flows INTEGER;"     /* given up: budget */ \
    "ALTER TABLE runs ADD COLUMN pending_cap_exchanges INTEGER;" /* abandoned_at_cap */ \
    "ALTER TABLE runs ADD COLUMN pending_bytes_peak INTEGER;"                           \
    "ALTER TABLE runs ADD COLUMN ooo_bytes_peak INTEGER;"
#define REV9_WIRE                      /* RFC 9293 / 5961 checks, timestamps, read errors */ \
    "ALTER TABLE runs ADD COLUMN bad_acks INTEGER;" \
    "ALTER TABLE runs ADD COLUMN bad_rsts INTEGER;" \
    "ALTER TABLE runs ADD COLUMN bad_flags INTEGER;"
#define REV9_HTTP /* HTTP framing anomalies */                                           \
    "ALTER TABLE runs ADD COLUMN framing_errors INTEGER;" /* RFC 9112 6.3 framing */      \
    "ALTER TABLE runs ADD COLUMN stray_interims INTEGER;" /* 1xx no request asked for */  \
    "ALTER TABLE runs ADD COLUMN tunnels INTEGER;"        /* 101 or CONNECT 2xx */
static const char rev9[] = "SELECT 1;" REV9_CAPS REV9_WIRE REV9_HTTP;

static const char *const migrations[SCHEMA_REVISION] = { rev1, rev2, rev3, rev4, rev5,
                                                          rev6, rev7, rev8, rev9 };

static int set_meta(sqlite3 *db, const char *key, long long value, char *err,
                    size_t err_len)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "INSERT INTO meta(key, value) VALUES ('%s', '%lld')"
             " ON CONFLICT(key) DO UPDATE SET value = excluded.value;", key, value);
    return sqlh_exec(db, sql, err, err_len);
}

/* What a database says of its schema. */
struct stored {
    long long tables;   /* tables of any kind */
    bool has_meta;
    long long version;  /* meta.schema_version, -1 when absent */
    long long revision; /* meta.schema_revision, 1 when absent (revision 1 had none) */
};

static int stored_schema(sqlite3 *db, struct stored *st)
{
    long long has_meta = 0;
    st->version = -1;
    st->revision = 1;
    if (sqlh_int(db, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'", 0,
                 &st->tables) != 0 ||
        sqlh_int(db, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'"
                     " AND name = 'meta'", 0, &has_meta) != 0)
        return -1;
    st->has_meta = has_meta > 0;
    if (st->has_meta &&
        (sqlh_int(db, "SELECT CAST(value AS INTEGER) FROM meta"
                      " WHERE key = 'schema_version'", -1, &st->version) != 0 ||
         sqlh_int(db, "SELECT CAST(value AS INTEGER) FROM meta"
                      " WHERE key = 'schema_revision'", 1, &st->revision) != 0))
        return -1;
    return 0;
}

int schema_check_readable(sqlite3 *db, char *err, size_t err_len)
{
    struct stored st;
    if (stored_schema(db, &st) != 0) {
        snprintf(err, err_len, "%s", sqlite3_errmsg(db));
        return -1;
    }
    if (st.version != SCHEMA_VERSION) {
        snprintf(err, err_len, st.version < 0 ? "not an expectscope database"
                                              : "schema version %lld, not %d",
                 st.version, SCHEMA_VERSION);
        return -1;
    }
    if (st.revision != SCHEMA_REVISION) {
        snprintf(err, err_len, st.revision > SCHEMA_REVISION
                     ? "schema revision %lld is newer than this expectscope reads"
                     : "schema revision %lld is older; one `expectscope analyze --db`"
                       " run migrates it",
                 st.revision);
        return -1;
    }
    return 0;
}

int schema_prepare(sqlite3 *db, char *err, size_t err_len)
{
    char why[512];
    /* IMMEDIATE: two processes opening a new database must not both create it */
    if (sqlh_exec(db, "BEGIN IMMEDIATE;", why, sizeof why) != 0) {
        snprintf(err, err_len, "%s", why);
        return -1;
    }
    struct stored st;
    if (stored_schema(db, &st) != 0)
        goto sqlerr;
    long long version = st.version, revision = st.has_meta ? st.revision : 0;
    if (st.tables > 0 && !st.has_meta) {
        snprintf(err, err_len, "not an expectscope database (it has other tables)");
        goto fail;
    }
    if (st.has_meta) {
        if (version != SCHEMA_VERSION) {
            snprintf(err, err_len,
                     version < 0 ? "not an expectscope database (no schema_version)"
                                 : "schema version %lld, this expectscope reads version %d",
                     version, SCHEMA_VERSION);
            goto fail;
        }
        if (revision > SCHEMA_REVISION || revision < 1) {
            snprintf(err, err_len,
                     "schema revision %lld is newer than this expectscope's (%d.%d);"
                     " use a newer expectscope", revision, SCHEMA_VERSION, SCHEMA_REVISION);
            goto fail;
        }
    }
    for (long long r = revision; r < SCHEMA_REVISION; r++) {
        if (sqlh_exec(db, migrations[r], why, sizeof why) != 0) {
            snprintf(err, err_len, "migrating to schema revision %lld: %s", r + 1, why);
            goto fail;
        }
    }
    if (revision < SCHEMA_REVISION &&
        (set_meta(db, "schema_version", SCHEMA_VERSION, why, sizeof why) != 0 ||
         set_meta(db, "schema_revision", SCHEMA_REVISION, why, sizeof why) != 0)) {
        snprintf(err, err_len, "%s", why);
        goto fail;
    }
    if (sqlh_exec(db, "COMMIT;", why, sizeof why) != 0) {
        snprintf(err, err_len, "%s", why);
        goto fail;
    }
    return 0;
sqlerr:
    snprintf(err, err_len, "%s", sqlite3_errmsg(db));
fail:
    sqlite3_exec(db, "ROLLBACK;", NULL, NULL, NULL);
    return -1;
}
