/* schema.h: the database schema of expectscope and the migrations that build it.
 *
 * Owns: the SQL text of every schema revision, and the rule that decides whether a
 *   database can be used, must be migrated, or must be refused.
 * Called by: db.c (the writer) and read.c (the reader), with a connection they own.
 *
 * The contract of ../shared/DESIGN.md is schema version 1. Within it, additive changes
 * (columns, indexes, views) are revisions: revision 1 is DESIGN.md's minimum, later
 * revisions add to it. A new database is built by running every migration in turn, so
 * the path that upgrades old databases is the one every new database takes too.
 * meta holds schema_version (1) and schema_revision.
 */
#ifndef ES_SCHEMA_H
#define ES_SCHEMA_H

#include <sqlite3.h>
#include <stddef.h>

#define SCHEMA_VERSION 1
#define SCHEMA_REVISION 8

/* Bring the database on `db` to the current revision: create it when it is empty,
 * migrate it when it is older, refuse it when it is newer or not ours. Runs inside
 * one transaction: on failure nothing changed. Returns 0, or -1 with a one-line
 * reason in err. */
int schema_prepare(sqlite3 *db, char *err, size_t err_len);

/* Can this database be read as it is (no migration: readers never write)? 0, or -1
 * with a one-line reason in err: not ours, another version, a revision older (one
 * analyze run migrates it) or newer than this expectscope. */
int schema_check_readable(sqlite3 *db, char *err, size_t err_len);

#endif
