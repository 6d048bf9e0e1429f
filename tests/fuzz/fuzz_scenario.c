/* libFuzzer harness for the scenario file parser (lab/scenario.c): scenario_parse() over exactly
 * (data, size), copied into a malloc'd buffer of that size so ASan catches any read past the end.
 * Scenario files are user input (a CI job may run a file someone else wrote). Properties checked:
 *   - a refusal has one NUL-terminated line of the form "fuzz.yaml:LINE: ..." or "fuzz.yaml: ..."
 *     (no newline inside), also with a tiny error buffer;
 *   - an accepted scenario names itself, has at least one host, and every host's segments exist;
 *     parsing it again gives the same counts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lab/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0; /* scenario files are small; deeper inputs only slow the search */
    char err[512], tiny[8];
    char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    struct scenario *s = scenario_parse("fuzz.yaml", buf, size, err, sizeof err);
    if (!s) {
        size_t n = strnlen(err, sizeof err);
        if (n == 0 || n >= sizeof err || strncmp(err, "fuzz.yaml", 9) != 0 || memchr(err, '\n', n))
            abort();
        if (scenario_parse("fuzz.yaml", buf, size, tiny, sizeof tiny) != NULL || strnlen(tiny, sizeof tiny) >= sizeof tiny)
            abort();
    } else {
        if (!s->name || !s->name[0] || s->n_hosts == 0)
            abort();
        for (size_t i = 0; i < s->n_hosts; i++)
            for (size_t k = 0; k < s->hosts[i].n_ifs; k++)
                if (!scenario_segment(s, s->hosts[i].ifs[k].segment))
                    abort();
        struct scenario *again = scenario_parse("fuzz.yaml", buf, size, err, sizeof err);
        if (!again || again->n_hosts != s->n_hosts || again->n_steps != s->n_steps ||
            again->n_segments != s->n_segments)
            abort();
        scenario_free(again);
        scenario_free(s);
    }
    free(buf);
    return 0;
}
