-- views.sql: the twins of the SQLite views (storage/schema.c, docs/sql-cookbook.md) over
-- the whole fleet: same names, same columns with the same meaning, computed over every
-- sensor's rows. Where a SQLite view has run_id, the twin has sensor before it (run ids
-- are per sensor). Every view reads the tables with FINAL, so a row that push sent more
-- than once counts once.
--
-- Apply in the database push writes to: on a single server the one of tables.sql; on a
-- cluster the one of distributed.sql (on every server people query):
--   clickhouse-client --database expectscope --multiquery < views.sql
-- ClickHouse 18.16 and current releases. SQLite's SUM over a group whose values are all
-- NULL is NULL where countIf here says 0; AVG over no row is NULL in both.
--
-- Differences a reader may meet: ClickHouse does not promise an order without ORDER BY
-- in the query; the views order as SQLite's do, but read them with your own ORDER BY.

-- How many exchanges got each verdict, per sensor and run.
CREATE VIEW IF NOT EXISTS v_verdict_counts AS
SELECT sensor, run_id, verdict, count() AS exchanges
FROM exchanges FINAL
GROUP BY sensor, run_id, verdict;

-- Flows by verdict, per sensor and run (flows with no HTTP have no verdict).
CREATE VIEW IF NOT EXISTS v_flow_verdict_counts AS
SELECT sensor, run_id, verdict, count() AS flows
FROM flows FINAL
WHERE verdict IS NOT NULL
GROUP BY sensor, run_id, verdict;

-- 417s and timeout fallbacks per server (address, port and Host), worst first.
-- flow_seen: as SQLite's v_exchanges, an exchange counts once its flow is written.
CREATE VIEW IF NOT EXISTS v_server_failures AS
SELECT server_ip, server_port, host, count() AS exchanges,
    countIf(expect IS NOT NULL) AS with_expect,
    countIf(status = 417) AS status_417,
    countIf(ifNull(verdict, '') = 'timeout_fallback') AS timeout_fallbacks,
    countIf(ifNull(verdict, '') = 'late_100') AS late_100,
    countIf(ifNull(verdict, '') = 'retry_after_417') AS retries
FROM exchanges FINAL
WHERE flow_seen = 1
GROUP BY server_ip, server_port, host
ORDER BY status_417 + timeout_fallbacks DESC, exchanges DESC;

-- The same per client software.
CREATE VIEW IF NOT EXISTS v_user_agent_failures AS
SELECT user_agent, count() AS exchanges,
    countIf(expect IS NOT NULL) AS with_expect,
    countIf(status = 417) AS status_417,
    countIf(ifNull(verdict, '') = 'timeout_fallback') AS timeout_fallbacks,
    if(countIf(ifNull(verdict, '') = 'timeout_fallback' AND wait_ms IS NOT NULL) = 0, NULL,
       round(avgIf(wait_ms, ifNull(verdict, '') = 'timeout_fallback' AND wait_ms IS NOT NULL), 1))
        AS avg_fallback_wait_ms,
    countIf(ifNull(verdict, '') = 'retry_after_417') AS retries
FROM exchanges FINAL
GROUP BY user_agent
ORDER BY status_417 + timeout_fallbacks DESC, exchanges DESC;

-- Time to 100 Continue and the client's wait per server: median and 95th percentile by
-- nearest rank (the value at rank ceil(p * n) of the sorted values), as SQLite's view
-- computes them; NULL where a server has no such value.
CREATE VIEW IF NOT EXISTS v_server_timing AS
SELECT server_ip, server_port, n_100,
    if(n_100 = 0, NULL, arraySort(c)[toUInt64(intDiv(n_100 + 1, 2))]) AS continue_ms_p50,
    if(n_100 = 0, NULL, arraySort(c)[toUInt64(intDiv(95 * n_100 + 99, 100))])
        AS continue_ms_p95,
    n_wait,
    if(n_wait = 0, NULL, arraySort(w)[toUInt64(intDiv(n_wait + 1, 2))]) AS wait_ms_p50,
    if(n_wait = 0, NULL, arraySort(w)[toUInt64(intDiv(95 * n_wait + 99, 100))])
        AS wait_ms_p95
FROM (
    SELECT server_ip, server_port,
        groupArrayIf(assumeNotNull(continue_ms), continue_ms IS NOT NULL) AS c,
        toUInt64(length(c)) AS n_100,
        groupArrayIf(assumeNotNull(wait_ms), wait_ms IS NOT NULL AND expect IS NOT NULL)
            AS w,
        toUInt64(length(w)) AS n_wait
    FROM exchanges FINAL
    WHERE flow_seen = 1
        AND (continue_ms IS NOT NULL OR (wait_ms IS NOT NULL AND expect IS NOT NULL))
    GROUP BY server_ip, server_port
);

-- Direct against proxied (a Via header seen), per verdict.
CREATE VIEW IF NOT EXISTS v_proxy_vs_direct AS
SELECT if(like(ifNull(flags, ''), '%via_proxy%'), 'via_proxy', 'direct') AS path, verdict,
    count() AS exchanges
FROM exchanges FINAL
WHERE flow_seen = 1
GROUP BY path, verdict;

-- Per Host, each path (and the address it reached) with its outcomes, over the
-- exchanges clients made (not the legs a proxy made upstream); paths_disagree is 1 on
-- every path of a Host where one path has problems and another has none. Across the
-- fleet: a Host seen direct by one sensor and through a CDN by another is compared.
CREATE VIEW IF NOT EXISTS v_path_compare AS
SELECT host, path, server_ip, server_port, exchanges, with_expect, continue_ok,
    expectation_failed, timeout_fallback, problems, avg_wait_ms, avg_continue_ms,
    answered_by_intermediary, paths_disagree
FROM (
    SELECT host, path, server_ip, server_port, exchanges, with_expect, continue_ok,
        expectation_failed, timeout_fallback, problems, avg_wait_ms, avg_continue_ms,
        answered_by_intermediary, ifNull(host, '') AS host_key, isNull(host) AS host_null
    FROM (
        SELECT host, path, server_ip, server_port, count() AS exchanges,
            countIf(expect IS NOT NULL) AS with_expect,
            countIf(ifNull(verdict, '') = 'continue_ok') AS continue_ok,
            countIf(ifNull(verdict, '') = 'expectation_failed') AS expectation_failed,
            countIf(ifNull(verdict, '') = 'timeout_fallback') AS timeout_fallback,
            countIf(ifNull(verdict, '') IN ('expectation_failed', 'unsupported_expectation',
                'body_after_final', 'timeout_fallback', 'late_100', 'no_wait',
                'retry_after_417')) AS problems,
            if(countIf(expect IS NOT NULL AND wait_ms IS NOT NULL) = 0, NULL,
               round(avgIf(wait_ms, expect IS NOT NULL AND wait_ms IS NOT NULL), 3))
                AS avg_wait_ms,
            if(countIf(continue_ms IS NOT NULL) = 0, NULL,
               round(avgIf(continue_ms, continue_ms IS NOT NULL), 3)) AS avg_continue_ms,
            countIf(answered_by = 'intermediary') AS answered_by_intermediary
        FROM exchanges FINAL
        WHERE flow_seen = 1 AND upstream_leg = 0
        GROUP BY host, path, server_ip, server_port
    )
) ANY LEFT JOIN (
    SELECT host_key, host_null,
        toUInt8(max(problems > 0) != min(problems > 0)) AS paths_disagree
    FROM (
        SELECT ifNull(host, '') AS host_key, isNull(host) AS host_null,
            countIf(ifNull(verdict, '') IN ('expectation_failed', 'unsupported_expectation',
                'body_after_final', 'timeout_fallback', 'late_100', 'no_wait',
                'retry_after_417')) AS problems
        FROM exchanges FINAL
        WHERE flow_seen = 1 AND upstream_leg = 0
        GROUP BY host, path, server_ip, server_port
    )
    GROUP BY host_key, host_null
) USING (host_key, host_null)
ORDER BY host, path, server_ip, server_port;
