/* mock-proxy: name resolution off the event loop. getaddrinfo() (the system resolver: /etc/hosts
 * first, so the hosts file that `ip netns exec` bind-mounts from /etc/netns/NS/hosts applies) runs
 * in a small pool of worker threads; results come back through a queue and an eventfd that the
 * epoll loop watches. The loop never blocks on a lookup. A job whose connection went away is still
 * answered; the loop drops the answer (the cookie no longer matches). */
#ifndef MOCK_PROXY_RESOLVE_H
#define MOCK_PROXY_RESOLVE_H

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>

struct resolver;

struct resolve_result {
    uint64_t cookie;        /* the caller's id of the request */
    int gai_err;            /* 0 or an EAI_* code */
    struct addrinfo *ai;    /* owned by the caller: freeaddrinfo() */
};

/* Start `threads` workers. NULL on error (errno set). */
struct resolver *resolver_new(unsigned threads);
/* The eventfd to watch for EPOLLIN. */
int resolver_fd(const struct resolver *r);
/* Queue a lookup of host (name or literal) for TCP port `port`. 0 or -errno. */
int resolver_submit(struct resolver *r, uint64_t cookie, const char *host, uint16_t port);
/* Pop up to `max` finished lookups (call when the eventfd is readable). Returns how many. */
size_t resolver_collect(struct resolver *r, struct resolve_result *out, size_t max);
/* Stop the workers (waits at most ~2 s for lookups in flight) and free everything. */
void resolver_free(struct resolver *r);

#endif
