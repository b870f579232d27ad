-- distributed.sql: the fleet's tables over a ClickHouse cluster (docs/fleet.md).
--
-- On every server of the cluster:
--   1. the shards' local tables, in a database of their own:
--        clickhouse-client --query 'CREATE DATABASE IF NOT EXISTS expectscope_local'
--        clickhouse-client --database expectscope_local --multiquery < tables.sql
--   2. this file, with {cluster} and {local} replaced, in the database push writes to
--      and people query:
--        clickhouse-client --query 'CREATE DATABASE IF NOT EXISTS expectscope'
--        sed -e 's/{cluster}/fleet/g' -e 's/{local}/expectscope_local/g' distributed.sql |
--          clickhouse-client --database expectscope --multiquery
--   3. views.sql in that same database.
-- {cluster} is a cluster of the servers' <remote_servers>; push to any server of it
-- (push --clickhouse 'http://ch1:8123/?database=expectscope'): it forwards each row to
-- its shard, synchronously (push sets insert_distributed_sync), so a batch is
-- acknowledged once the shards have it.
--
-- The sharding key is the sensor: every copy of a row, and every row of one sensor,
-- lands on the same shard, so FINAL (which replaces within a shard) never sees two
-- copies of a row on two shards. A shard holds whole sensors; with few, large sensors
-- weigh the shards with <weight> in <remote_servers>.

CREATE TABLE IF NOT EXISTS runs AS {local}.runs
    ENGINE = Distributed({cluster}, {local}, runs, cityHash64(sensor));
CREATE TABLE IF NOT EXISTS flows AS {local}.flows
    ENGINE = Distributed({cluster}, {local}, flows, cityHash64(sensor));
CREATE TABLE IF NOT EXISTS exchanges AS {local}.exchanges
    ENGINE = Distributed({cluster}, {local}, exchanges, cityHash64(sensor));
CREATE TABLE IF NOT EXISTS headers AS {local}.headers
    ENGINE = Distributed({cluster}, {local}, headers, cityHash64(sensor));
CREATE TABLE IF NOT EXISTS hops AS {local}.hops
    ENGINE = Distributed({cluster}, {local}, hops, cityHash64(sensor));
CREATE TABLE IF NOT EXISTS violations AS {local}.violations
    ENGINE = Distributed({cluster}, {local}, violations, cityHash64(sensor));
