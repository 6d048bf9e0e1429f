#include "resolve.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct job {
    struct job *next;
    uint64_t cookie;
    uint16_t port;
    int gai_err;
    struct addrinfo *ai;
    char host[];
};

struct resolver {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *queue, **queue_tail;
    struct job *done, **done_tail;
    bool stop;
    int efd;
    unsigned n_threads, running;
    pthread_t *threads;
};

static void *worker(void *arg)
{
    struct resolver *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->queue && !r->stop)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->stop)
            break;
        struct job *j = r->queue;
        r->queue = j->next;
        if (!r->queue)
            r->queue_tail = &r->queue;
        pthread_mutex_unlock(&r->mu);

        char port[8];
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV};
        snprintf(port, sizeof port, "%u", j->port);
        j->gai_err = getaddrinfo(j->host, port, &hints, &j->ai);
        if (j->gai_err)
            j->ai = NULL;
        j->next = NULL;

        pthread_mutex_lock(&r->mu);
        *r->done_tail = j;
        r->done_tail = &j->next;
        uint64_t one = 1;
        ssize_t w = write(r->efd, &one, sizeof one);
        (void)w;
    }
    r->running--;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

struct resolver *resolver_new(unsigned threads)
{
    struct resolver *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->queue_tail = &r->queue;
    r->done_tail = &r->done;
    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->threads = calloc(threads, sizeof *r->threads);
    if (r->efd < 0 || !r->threads)
        goto fail;
    for (unsigned i = 0; i < threads; i++) {
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setstacksize(&at, 256 * 1024);
        int e = pthread_create(&r->threads[i], &at, worker, r);
        pthread_attr_destroy(&at);
        if (e) {
            errno = e;
            break;
        }
        r->n_threads++;
        r->running++;
    }
    if (r->n_threads == 0)
        goto fail;
    return r;
fail:
    if (r->efd >= 0)
        close(r->efd);
    free(r->threads);
    free(r);
    return NULL;
}

int resolver_fd(const struct resolver *r) { return r->efd; }

int resolver_submit(struct resolver *r, uint64_t cookie, const char *host, uint16_t port)
{
    size_t n = strlen(host);
    struct job *j = calloc(1, sizeof *j + n + 1);
    if (!j)
        return -ENOMEM;
    j->cookie = cookie;
    j->port = port;
    memcpy(j->host, host, n + 1);
    pthread_mutex_lock(&r->mu);
    *r->queue_tail = j;
    r->queue_tail = &j->next;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

size_t resolver_collect(struct resolver *r, struct resolve_result *out, size_t max)
{
    uint64_t v;
    size_t n = 0;
    ssize_t rd = read(r->efd, &v, sizeof v);
    (void)rd;
    pthread_mutex_lock(&r->mu);
    while (r->done && n < max) {
        struct job *j = r->done;
        r->done = j->next;
        out[n].cookie = j->cookie;
        out[n].gai_err = j->gai_err;
        out[n].ai = j->ai;
        n++;
        free(j);
    }
    if (!r->done)
        r->done_tail = &r->done;
    else {
        uint64_t one = 1; /* more left: stay readable */
        ssize_t w = write(r->efd, &one, sizeof one);
        (void)w;
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

void resolver_free(struct resolver *r)
{
    struct timespec dl;
    bool all = true;
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cv);
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 2;
    while (r->running > 0)
        if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT) {
            all = false;
            break;
        }
    pthread_mutex_unlock(&r->mu);
    if (!all) {
        /* A lookup is stuck in the system resolver: leave the workers (the process is exiting). */
        for (unsigned i = 0; i < r->n_threads; i++)
            pthread_detach(r->threads[i]);
        return;
    }
    for (unsigned i = 0; i < r->n_threads; i++)
        pthread_join(r->threads[i], NULL);
    for (struct job *l = r->queue; l;) {
        struct job *nx = l->next;
        free(l);
        l = nx;
    }
    for (struct job *l = r->done; l;) {
        struct job *nx = l->next;
        if (l->ai)
            freeaddrinfo(l->ai);
        free(l);
        l = nx;
    }
    close(r->efd);
    free(r->threads);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}
