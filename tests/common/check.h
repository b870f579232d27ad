/* check.h: the unit tests' assertions. No framework: a failed check prints
 * file:line, the expression and, for the typed forms, both values; it is counted and
 * the test goes on. check_done() prints the totals and gives the exit status.
 *
 *   CHECK(p.family == 4);
 *   CHECK_EQ(p.payload_len, 5);          integers, compared as unsigned 64-bit
 *   CHECK_MEM(p.payload, p.payload_len, "hello", 5);
 *   CHECK_STR(log, "d0:5@1000 c:fin@2000");
 *   return check_done("test_decode");
 */
#ifndef ES_TEST_CHECK_H
#define ES_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static unsigned long check_count, check_failures;
static const char *check_case_name = "";

/* Name the case the following checks belong to: printed with every failure. */
static inline void check_case(const char *name)
{
    check_case_name = name;
}

static inline void check_fail(const char *file, int line, const char *expr)
{
    check_failures++;
    fprintf(stderr, "%s:%d: [%s] check failed: %s\n", file, line, check_case_name, expr);
}

#define CHECK(expr)                                                                      \
    do {                                                                                 \
        check_count++;                                                                   \
        if (!(expr))                                                                     \
            check_fail(__FILE__, __LINE__, #expr);                                       \
    } while (0)

#define CHECK_EQ(a, b)                                                                   \
    do {                                                                                 \
        check_count++;                                                                   \
        uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b);                     \
        if (check_a_ != check_b_) {                                                      \
            check_fail(__FILE__, __LINE__, #a " == " #b);                                \
            fprintf(stderr, "    got %llu, expected %llu\n",                             \
                    (unsigned long long)check_a_, (unsigned long long)check_b_);         \
        }                                                                                \
    } while (0)

#define CHECK_MEM(p, n, q, m)                                                            \
    do {                                                                                 \
        check_count++;                                                                   \
        size_t check_n_ = (size_t)(n), check_m_ = (size_t)(m);                           \
        if (check_n_ != check_m_ || (check_n_ && memcmp((p), (q), check_n_) != 0)) {     \
            check_fail(__FILE__, __LINE__, #p " equals " #q);                            \
            fprintf(stderr, "    lengths %zu and %zu\n", check_n_, check_m_);            \
        }                                                                                \
    } while (0)

#define CHECK_STR(s, expected)                                                           \
    do {                                                                                 \
        check_count++;                                                                   \
        const char *check_s_ = (s), *check_e_ = (expected);                              \
        if (strcmp(check_s_, check_e_) != 0) {                                           \
            check_fail(__FILE__, __LINE__, #s " == " #expected);                         \
            fprintf(stderr, "    got      \"%s\"\n    expected \"%s\"\n", check_s_,      \
                    check_e_);                                                           \
        }                                                                                \
    } while (0)

/* Print the totals; the exit status for main(). */
static inline int check_done(const char *test)
{
    fprintf(stderr, "%s: %lu checks, %lu failed\n", test, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
