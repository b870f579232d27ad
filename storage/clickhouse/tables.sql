-- tables.sql: the tables `expectscope push` fills (docs/fleet.md), one per SQLite table
-- of the sensors' databases, with the same column names (storage/schema.c) and:
--   sensor    the sensor of the row's run (runs.sensor, --sensor); with run_id and the
--             row's id it is the row's key across the fleet
--   _version  when push sent the row (microseconds): a row sent again (a resumed push,
--             a live run's row sent once more when the run ended) replaces the older
--             copy (ReplacingMergeTree keeps the highest _version per key)
-- Until ClickHouse merges, both copies may be stored: read with FINAL (or argMax by
-- _version), as views.sql does, so that none counts twice.
--
-- Apply on one server, in the database push writes to:
--   clickhouse-client --database expectscope --multiquery < tables.sql
-- For a cluster, apply it on every server in the shards' local database, then
-- distributed.sql (see there).
-- Types are those of ClickHouse 18.16 (Debian 12), which current releases still take.
-- SQLite's INTEGER is Int64, REAL Float64, TEXT String (captured text arrives as its
-- display text: bytes that are not printable UTF-8 as \xNN, docs/export.md); every
-- column SQLite may leave NULL is Nullable. No PARTITION BY: ReplacingMergeTree only
-- replaces within a partition, and a row's copies must meet.

CREATE TABLE IF NOT EXISTS runs (
    sensor String, id Int64,
    mode Nullable(String), source Nullable(String),
    started_at Nullable(Float64), finished_at Nullable(Float64),
    packets Nullable(Int64), bytes Nullable(Int64), kernel_drops Nullable(Int64),
    if_drops Nullable(Int64), truncated Nullable(Int64), tool_version Nullable(String),
    options Nullable(String), interrupted Nullable(Int64),
    first_packet Nullable(Float64), last_packet Nullable(Float64),
    tcp_flows Nullable(Int64), http_flows Nullable(Int64), exchange_count Nullable(Int64),
    evicted_flows Nullable(Int64), fragments_skipped Nullable(Int64),
    undecodable Nullable(Int64), orphan_responses Nullable(Int64),
    parse_errors Nullable(Int64), pipeline_overflows Nullable(Int64),
    hops_linked Nullable(Int64), hops_ambiguous Nullable(Int64),
    snaplen Nullable(Int64), snap_cut_packets Nullable(Int64),
    one_sided_flows Nullable(Int64), violations Nullable(Int64),
    _version UInt64
) ENGINE = ReplacingMergeTree(_version) ORDER BY (sensor, id);

CREATE TABLE IF NOT EXISTS flows (
    sensor String, id Int64, run_id Int64,
    first_seen Nullable(Float64), last_seen Nullable(Float64),
    client_ip Nullable(String), client_port Nullable(Int64),
    server_ip Nullable(String), server_port Nullable(Int64),
    vlan Nullable(Int64), l7_protocol Nullable(String),
    packets_c2s Nullable(Int64), packets_s2c Nullable(Int64),
    bytes_c2s Nullable(Int64), bytes_s2c Nullable(Int64),
    missing_bytes Nullable(Int64), retransmissions Nullable(Int64),
    out_of_order Nullable(Int64), end_reason Nullable(String),
    exchange_count Nullable(Int64), verdict Nullable(String),
    wire_bytes_c2s Nullable(Int64), wire_bytes_s2c Nullable(Int64), gaps Nullable(Int64),
    out_of_window Nullable(Int64), cap_flushes Nullable(Int64),
    _version UInt64
) ENGINE = ReplacingMergeTree(_version) ORDER BY (sensor, run_id, id);

-- With its flow's endpoints and its path, as SQLite's v_exchanges and v_paths add them
-- (push computes them): flow_seen is 0 while the flow's row is not written yet (a live
-- run), path is 'direct' or 'via NAME', upstream_leg is 1 for the leg a proxy made.
CREATE TABLE IF NOT EXISTS exchanges (
    sensor String, id Int64, flow_id Int64, run_id Int64,
    seq Nullable(Int64), ts Nullable(Float64), method Nullable(String),
    uri Nullable(String), host Nullable(String), http_version Nullable(String),
    user_agent Nullable(String), expect Nullable(String),
    content_length Nullable(Int64), chunked Nullable(Int64), body_bytes Nullable(Int64),
    interim_codes Nullable(String), status Nullable(Int64), reason Nullable(String),
    server Nullable(String), via Nullable(String),
    wait_ms Nullable(Float64), continue_ms Nullable(Float64), final_ms Nullable(Float64),
    verdict Nullable(String), flags Nullable(String), retry_of Nullable(Int64),
    t_hdr Nullable(Float64), body_missing Nullable(Int64),
    response_version Nullable(String), interim_count Nullable(Int64),
    answered_by Nullable(String), intermediary Nullable(String),
    path_evidence Nullable(String), interim_ms Nullable(String),
    body_end_ms Nullable(Float64), end_ms Nullable(Float64),
    client_ip Nullable(String), client_port Nullable(Int64),
    server_ip Nullable(String), server_port Nullable(Int64), vlan Nullable(Int64),
    flow_seen UInt8, path String, upstream_leg UInt8,
    _version UInt64
) ENGINE = ReplacingMergeTree(_version) ORDER BY (sensor, run_id, id);

-- One row per exchange and direction ('request', 'interim', 'response').
CREATE TABLE IF NOT EXISTS headers (
    sensor String, run_id Int64, exchange_id Int64, direction String,
    raw Nullable(String),
    _version UInt64
) ENGINE = ReplacingMergeTree(_version) ORDER BY (sensor, run_id, exchange_id, direction);

-- back_id is back_exchange_id, 0 where that is NULL (a key column cannot be Nullable).
CREATE TABLE IF NOT EXISTS hops (
    sensor String, run_id Int64, front_exchange_id Int64,
    back_exchange_id Nullable(Int64), back_id Int64,
    proxy_ip Nullable(String), findings Nullable(String),
    client_wait_ms Nullable(Float64), proxy_ms Nullable(Float64),
    upstream_ms Nullable(Float64),
    _version UInt64
) ENGINE = ReplacingMergeTree(_version) ORDER BY (sensor, run_id, front_exchange_id, back_id);

CREATE TABLE IF NOT EXISTS violations (
    sensor String, id Int64, run_id Int64,
    flow_id Nullable(Int64), exchange_id Nullable(Int64),
    rule String, detail Nullable(String),
    _version UInt64
) ENGINE = ReplacingMergeTree(_version) ORDER BY (sensor, run_id, id);
