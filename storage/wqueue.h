/* wqueue.h: a bounded queue of byte records from the analyzer thread to the database
 * writer thread, so that SQLite works on the second core instead of stopping the
 * pipeline.
 *
 * Owns: its chunks (a fixed number, allocated on first use and recycled) and the
 *   lock and condition variables that hand them over.
 * Records are written in place into the producer's current chunk; a full chunk goes to
 * the consumer whole. When every chunk is in flight the producer waits: memory stays
 * bounded (chunk_bytes * max_chunks) and a slow disk slows the capture reading down
 * instead of growing a backlog.
 * One producer thread, one consumer thread.
 */
#ifndef ES_WQUEUE_H
#define ES_WQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wq;

/* A queue of max_chunks chunks of chunk_bytes each. NULL on no memory. */
struct wq *wq_new(size_t chunk_bytes, unsigned max_chunks);

/* Producer: room for one record of n bytes (8-aligned) in the current chunk, handing
 * the chunk over first when it is full. NULL when n can never fit, memory is short, or
 * the consumer gave up (wq_abort). The record is the consumer's after wq_flush(). */
void *wq_reserve(struct wq *q, size_t n);

/* Producer: hand the current chunk over even if it is not full. */
void wq_flush(struct wq *q);

/* Producer: no more records; the consumer sees the end once the queue is drained. */
void wq_close(struct wq *q);

/* Consumer: the next record, its size in *n, blocking until one comes. Returns NULL
 * at the end (closed and drained) or, with *timed_out set, when nothing came within
 * timeout_ms (0: wait without limit). The record is valid until the next call. */
const void *wq_next(struct wq *q, size_t *n, unsigned timeout_ms, bool *timed_out);

/* Consumer: stop; the producer's reserves fail from now on. */
void wq_abort(struct wq *q);

void wq_free(struct wq *q);

#endif
