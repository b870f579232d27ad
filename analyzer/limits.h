/* limits.h: every cap and default threshold of expectscope, in one place.
 *
 * Each cap has four parts: the constant here (or the option that overrides it), a
 * counter when it is hit, a flag on the affected flow or exchange, and a test that
 * hits it. docs/architecture.md lists them with what happens when each is hit.
 */
#ifndef ES_LIMITS_H
#define ES_LIMITS_H

/* Encapsulation layers peeled before the IP header (VLAN, QinQ, MPLS, PPPoE). Past it
 * the packet is counted as DEC_TOO_DEEP and skipped. */
#define DEC_MAX_ENCAP 8

/* IPv6 extension headers walked before the transport header. */
#define DEC_MAX_IPV6_EXT 8

/* Flow table: default number of concurrent TCP flows (option --max-flows). When the
 * pool is empty the least recently seen flow is evicted (end_reason 'evicted'). */
#define FLOW_DEFAULT_MAX 262144u
#define FLOW_MIN_MAX 16u
#define FLOW_MAX_MAX (1u << 24)

/* Inactivity timeout (option --tcp-timeout) and linger after FIN/RST, on packet time. */
#define FLOW_DEFAULT_IDLE_US (300ull * 1000000ull)
/* A flow that ended with FIN or RST stays this long to absorb retransmitted FINs and
 * stray ACKs, so that they do not open a new mid-stream flow. */
#define FLOW_DEFAULT_LINGER_US (5ull * 1000000ull)

/* What one heap allocation of n bytes really costs, the charge of every byte-sized cap
 * below: glibc malloc adds an 8-byte header, rounds the chunk up to 16 bytes and never
 * makes one under 32 (malloc_usable_size agrees on x86-64 and aarch64). A constant
 * estimate, so that no hot path calls the allocator to ask. */
#define ES_ALLOC_COST(n) \
    ((size_t)(n) + 8u <= 32u ? (size_t)32u : (((size_t)(n) + 8u + 15u) & ~(size_t)15u))

/* Out-of-order data held per direction of a flow and in total (option --ooo-cap-mb for
 * the total), charged in memory: each held run costs its payload, its 32-byte struct
 * and the allocator's overhead (ES_ALLOC_COST; 48 bytes for a 1-byte run), so a flood
 * of tiny segments is held to the cap too. Past either cap the oldest hole of that direction is declared a gap
 * and skipped. Per direction, because each direction's holes fill independently: one
 * flow holds at most twice this. */
#define REASM_MAX_OOO_PER_FLOW (1024u * 1024u)
#define REASM_DEFAULT_OOO_GLOBAL (256ull * 1024u * 1024u)
/* Out-of-order segments held per direction, whatever their size (tiny-segment
 * floods). */
#define REASM_MAX_OOO_SEGS 512u

/* A hole that the receiver has acknowledged will never be retransmitted: it was lost
 * by the capture, not by the network. After a bare ACK, wait this long (capture time)
 * before declaring the gap, because multi-queue capture can put an ACK tens of
 * microseconds before the data it acknowledges. A segment carrying data that
 * acknowledges the hole declares it at once: the receiver answered those bytes, so
 * the dissector must not see the answer first. */
#define REASM_ACKED_HOLE_GRACE_US 20000u

/* Segments further than this ahead of the next expected byte are not believable (a
 * desynchronised or crafted stream): they are dropped and counted (out_of_window).
 * Real loss that large is caught by the acknowledged-hole rule instead. */
#define REASM_MAX_SEQ_JUMP (64u * 1024u * 1024u)

/* A RST whose receiver has not been seen to acknowledge anything must lie within this
 * many sequence numbers (either side) of what its sender was last seen to send, to end
 * the connection (flow.h). Generous: a capture can miss much of a window. */
#define FLOW_RST_UNKNOWN_WINDOW (1u << 20)

/* nDPI sees at most this many packets with payload per flow; then it gives up and
 * keeps its best guess. */
#define CLS_MAX_PACKETS 24u

/* Memory one decompressor may use (instream.c): liblzma's memlimit for xz, and the
 * largest zstd window (ZSTD_d_windowLogMax 28, 256 MiB; the zstd tool itself stops at
 * 128 MiB without --memory). xz -9 needs 65 MiB, zstd --ultra -22 a 128 MiB window.
 * An input past it is refused at open, or, when a later block asks for more, ends
 * there like a truncated capture (runs.truncated, a warning naming the input). */
#define SOURCE_DECOMPRESS_MEM_MAX (256ull * 1024u * 1024u)
#define SOURCE_ZSTD_WINDOW_LOG_MAX 28

/* Evidence of problem flows (`live --save-pcap DIR`, analyzer/pipeline/evidence.h).
 * Per flow, the first EVIDENCE_MAX_FLOW_BYTES of pcap records (a 16-byte record header
 * plus the captured bytes, at most EVIDENCE_SNAPLEN of them) are held while it is open;
 * past it its packets are counted, not kept (evidence flows_cut, packets_cut), so a
 * file holds the head of its flow: handshake, request headers, the 100 or 417. */
#define EVIDENCE_MAX_FLOW_BYTES (1024u * 1024u)
#define EVIDENCE_SNAPLEN 262144u
/* The largest evidence file: the pcap file header and one flow's records. */
#define EVIDENCE_MAX_FILE_BYTES (24u + EVIDENCE_MAX_FLOW_BYTES)
/* Held over all open flows (an option of `live`); past it new packets are counted, not
 * kept (packets_not_held). */
#define EVIDENCE_DEFAULT_HOLD_BYTES (64ull * 1024u * 1024u)
/* The directory keeps at most this many evidence files and bytes (options of `live`),
 * the oldest removed first (files_removed), its files from earlier runs included. The
 * byte bound is at least EVIDENCE_MAX_FILE_BYTES, so that any flow's file fits. */
#define EVIDENCE_DEFAULT_MAX_FILES 1000u
#define EVIDENCE_MAX_FILES_MAX 100000u
#define EVIDENCE_DEFAULT_MAX_BYTES (1024ull * 1024u * 1024u)

/* The rule engine (dissectors/rules.h, docs/rules.md): the thresholds of its
 * heuristics, and its bounded memory. */
/* C2: a request with a body but no Expect whose body starts this long after its header
 * block, with the server silent all along: the client waited for something it never
 * asked for. Above the 5 ms no_wait default and below every known Expect timer. */
#define RULES_C2_MIN_WAIT_US 200000u
/* C3: a client that waits this long for a 100 before sending its body (or gives up):
 * the RFC's "SHOULD NOT wait for an indefinite period". Java's HttpURLConnection waits
 * 5 s, curl 1 s, .NET 350 ms; twice the longest known timer. */
#define RULES_C3_MAX_WAIT_US 10000000u
/* S3: an origin that lets a waiting Expect client hear nothing for this long from the
 * end of its header block did not answer "immediately". */
#define RULES_S3_MAX_SILENCE_US 200000u
/* Capture reordering tolerated when one event must come before another (S12, S4). */
#define RULES_REORDER_SLACK_US 10000u
/* 417s waiting for their retry (C4) and failed non-idempotent requests remembered for
 * an automatic retry (C11); past either, the oldest is forgotten (pending_evicted). */
#define RULES_MAX_PENDING 4096u

#endif
