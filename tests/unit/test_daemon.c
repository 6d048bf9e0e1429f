/* common/daemon.c: atomic_write_file() and the sweep of the temp files a killed writer leaves. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cunit_main.h"
#include "ztp/daemon.h"

static char dir[256];

static void touch(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static bool exists(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return access(p, F_OK) == 0;
}

static unsigned removed;
static void count(const char *path, void *ctx)
{
    (void)path;
    (void)ctx;
    removed++;
}

static void test_atomic_write(void)
{
    char p[512];
    snprintf(dir, sizeof dir, "/tmp/ztp-test-daemon.XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(p, sizeof p, "%s/a.json", dir);
    ZTP_ASSERT_EQ_INT(atomic_write_file(p, "{}\n", 3, 0600), 0);
    struct stat st;
    ZTP_ASSERT_EQ_INT(stat(p, &st), 0);
    ZTP_ASSERT_EQ_INT(st.st_mode & 0777, 0600);
    ZTP_ASSERT_EQ_INT((int)st.st_size, 3);
}

static void test_sweep(void)
{
    char sub[512], subsub[512], deep[512];
    snprintf(sub, sizeof sub, "%s/trust", dir);
    snprintf(subsub, sizeof subsub, "%s/trust/x", dir);
    snprintf(deep, sizeof deep, "%s/trust/x/y", dir);
    mkdir(sub, 0700);
    mkdir(subsub, 0700);
    mkdir(deep, 0700);
    touch("sztp.json", "old");
    touch("sztp.json.tmp.1234", "half");          /* a killed writer's: removed */
    touch("trust/root-ca.pem.tmp.99", "half");    /* one level down: removed */
    touch("trust/x/k.tmp.7", "half");             /* two levels down: removed with depth 2 */
    touch("trust/x/y/z.tmp.7", "half");           /* three: beyond depth 2, kept */
    touch("notes.tmp.abc", "kept");               /* not a PID suffix */
    touch(".tmp.12", "kept");                     /* no name before .tmp. */
    touch("file.tmp.", "kept");
    removed = 0;
    ZTP_ASSERT_EQ_INT(atomic_write_sweep(dir, 2, count, NULL), 3);
    ZTP_ASSERT_EQ_INT((int)removed, 3);
    CU_ASSERT_TRUE(exists("sztp.json"));
    CU_ASSERT_FALSE(exists("sztp.json.tmp.1234"));
    CU_ASSERT_FALSE(exists("trust/root-ca.pem.tmp.99"));
    CU_ASSERT_FALSE(exists("trust/x/k.tmp.7"));
    CU_ASSERT_TRUE(exists("trust/x/y/z.tmp.7"));
    CU_ASSERT_TRUE(exists("notes.tmp.abc"));
    CU_ASSERT_TRUE(exists(".tmp.12"));
    CU_ASSERT_TRUE(exists("file.tmp."));
    ZTP_ASSERT_EQ_INT(atomic_write_sweep(dir, 2, NULL, NULL), 0);
    ZTP_ASSERT_EQ_INT(atomic_write_sweep("/nonexistent/ztp", 1, NULL, NULL) < 0, 1);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

int main(void)
{
    static const struct ztp_test tests[] = {
        {"atomic_write_file: content and mode", test_atomic_write},
        {"atomic_write_sweep: only NAME.tmp.PID, to the depth", test_sweep},
        {NULL, NULL},
    };
    static const struct ztp_suite suites[] = {{"daemon", tests}, {NULL, NULL}};
    return ztp_cunit_run(suites);
}
