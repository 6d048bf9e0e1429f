/* Shared CUnit runner: each test file defines its suites in a table and calls ztp_cunit_run(). */
#ifndef ZTP_CUNIT_MAIN_H
#define ZTP_CUNIT_MAIN_H

#include <CUnit/CUnit.h>
#include <stdio.h>

struct ztp_test { const char *name; void (*fn)(void); };
struct ztp_suite { const char *name; const struct ztp_test *tests; };

/* Runs every suite, prints CUnit's basic report, returns 0 when all tests passed. */
int ztp_cunit_run(const struct ztp_suite *suites);

/* Assert two integers equal and print both on failure (CUnit's own macro prints neither). */
#define ZTP_ASSERT_EQ_INT(a, b)                                                                     \
    do {                                                                                            \
        long long _a = (long long)(a), _b = (long long)(b);                                         \
        if (_a != _b)                                                                               \
            fprintf(stderr, "\n  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, \
                    _a, #b, _b);                                                                    \
        CU_ASSERT_EQUAL(_a, _b);                                                                    \
    } while (0)

#define ZTP_ASSERT_EQ_STR(a, b)                                                                     \
    do {                                                                                            \
        const char *_a = (a), *_b = (b);                                                            \
        if (!_a || !_b || strcmp(_a, _b) != 0)                                                      \
            fprintf(stderr, "\n  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,   \
                    _a ? _a : "(null)", _b ? _b : "(null)");                                        \
        CU_ASSERT_STRING_EQUAL(_a ? _a : "", _b ? _b : "");                                         \
    } while (0)

#endif
