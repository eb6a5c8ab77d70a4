/* test_job_reads.c - GET /api/v1/jobs/{id} under concurrency: reads of
 * many jobs by many callers coalesce into batched queries (cgi/jobs.c), and
 * still every caller gets exactly the job it asked for, its own jobs only
 * (another user's job is 404 even when read in the same batch), and sees
 * its own writes at once (cancel, then read). */
#include "apitest.h"
#include "t.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PER_BOOK 16

static char *tok[2];
static long long ids[2][PER_BOOK];
static int nids[2];

struct reader {
    int who, wrong, errors, reqs;
    unsigned seed;
};

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    for (int i = 0; i < 150; i++) {
        int owner = (int)(rand_r(&rd->seed) % 2);
        long long id = ids[owner][rand_r(&rd->seed) % (unsigned)nids[owner]];
        char path[64];
        snprintf(path, sizeof path, "/api/v1/jobs/%lld", id);
        thttp h;
        if (thttp_req(&h, "GET", path, tok[rd->who], NULL, NULL, 0, NULL) != 0) {
            rd->errors++;
            continue;
        }
        rd->reqs++;
        if (owner == rd->who) {
            const char *got = tjson_str(h.json, "id");
            if (h.status != 200 || !got || atoll(got) != id)
                rd->wrong++;
        } else if (h.status != 404) {
            rd->wrong++;
        }
        thttp_free(&h);
    }
    return NULL;
}

static void test_concurrent_reads_get_their_own_job(void)
{
    struct reader rd[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        rd[i] = (struct reader){.who = i % 2, .seed = (unsigned)(i * 7919 + 1)};
        pthread_create(&th[i], NULL, reader_main, &rd[i]);
    }
    int wrong = 0, errors = 0, reqs = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        wrong += rd[i].wrong;
        errors += rd[i].errors;
        reqs += rd[i].reqs;
    }
    T_EQ_INT(errors, 0);
    T_EQ_INT(reqs, 8 * 150);
    T_EQ_INT(wrong, 0);
}

static void test_a_read_sees_the_callers_write(void)
{
    char path[64];
    snprintf(path, sizeof path, "/api/v1/jobs/%lld", ids[0][0]);
    thttp h;
    T_REQUIRE(thttp_req(&h, "DELETE", path, tok[0], NULL, NULL, 0, NULL) == 0);
    T_CHECK(h.status == 200 || h.status == 202, "cancel: %ld", h.status);
    thttp_free(&h);
    T_REQUIRE(thttp_req(&h, "GET", path, tok[0], NULL, NULL, 0, NULL) == 0);
    T_EQ_INT(h.status, 200);
    T_EQ_STR(tjson_str(h.json, "status"), "cancelled");
    thttp_free(&h);
}

int main(void)
{
    for (int u = 0; u < 2; u++) {
        tok[u] = at_user(u ? "reads-b" : "reads-a", 0);
        if (!tok[u])
            return 1;
        for (int b = 0; b < 3 && nids[u] < PER_BOOK; b++) {
            char *book = at_book(tok[u], NULL);
            if (!book)
                return 1;
            nids[u] += at_book_jobs(tok[u], book, ids[u] + nids[u], PER_BOOK - nids[u]);
            free(book);
        }
        if (nids[u] == 0)
            return 1;
    }
    T_RUN(test_concurrent_reads_get_their_own_job);
    T_RUN(test_a_read_sees_the_callers_write);
    free(tok[0]);
    free(tok[1]);
    return t_done();
}
