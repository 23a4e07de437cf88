/* The compiled load generator of `livecart bench flash-sale --transport room --client c`.
 *
 * Same job as livecart/bench/room_buyers.py, at a fraction of its CPU: the load generator
 * shares the machine's two cores with the server, Redis and PostgreSQL, and the Python client
 * took about as much CPU as the server did. One process, one epoll loop, one WebSocket per
 * buyer: each connects, says hello with its token and waits for its snapshot before the sale;
 * on "go SALE_ID" every buyer sends one buy (all at once, or at a random moment within the
 * spread) and the answer's arrival is timed with CLOCK_MONOTONIC.
 *
 * Job on stdin, one item per line: "spread_ms N", "server HOST PORT PATH" (one or more: buyers
 * are spread round robin), "token T" (one per buyer), "end". Prints "ready" (or "failed: ...")
 * once every buyer is greeted, waits for "go SALE_ID" (reading its sockets meanwhile), then
 * prints one JSON line:
 * {"results": [[ok, seconds, claim id or null, code or null, sent], ...], "elapsed": s, "cpu": s,
 * "sent": s, "t0": s} - the format room_buyers.py prints. A result's `sent` is when its buy went,
 * in seconds after the first; "t0" is the first's CLOCK_MONOTONIC time.
 *
 * Built by livecart/bench/compiled.py with the machine's C compiler; no library but libc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CONNECTING, UPGRADING, GREETING, READY, BOUGHT, ANSWERED, FAILED };

#define MAX_SERVERS 16
#define HELLO_CONCURRENCY 16 /* hellos read the database: a few at a time, as the Python client */
#define HELLO_RETRIES 5
#define RETRY_SECS 0.5
#define READY_TIMEOUT_SECS 600.0
#define ANSWER_TIMEOUT_SECS 300.0

typedef struct {
    int fd, state, server, retries;
    char *token;
    char *buf;
    size_t len, cap;
    double retry_at, sent_at, answered_at, moment;
    int ok;
    long long claim;
    char code[48];
} Buyer;

static struct { char host[256]; int port; char path[256]; struct sockaddr_in addr; } servers[MAX_SERVERS];
static int nservers, spread_ms, sale_id;
static Buyer *buyers;
static int nbuyers, cap_buyers, epfd;
static int greeted, in_flight, next_to_open, answered;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    printf("failed: %s (%s); %d of %d greeted\n", what, strerror(errno), greeted, nbuyers);
    fflush(stdout);
    exit(1);
}

/* A masked client frame (RFC 6455 5.3) carrying `len` bytes of text. */
static int send_text(Buyer *b, const char *text, size_t len) {
    unsigned char frame[1024];
    size_t head = 2;
    if (len > sizeof frame - 8) return -1;
    frame[0] = 0x81;
    if (len < 126) {
        frame[1] = 0x80 | (unsigned char)len;
    } else {
        frame[1] = 0x80 | 126;
        frame[2] = (unsigned char)(len >> 8);
        frame[3] = (unsigned char)len;
        head = 4;
    }
    uint32_t mask = (uint32_t)rand();
    memcpy(frame + head, &mask, 4);
    const unsigned char *m = frame + head;
    for (size_t i = 0; i < len; i++) frame[head + 4 + i] = (unsigned char)text[i] ^ m[i & 3];
    size_t total = head + 4 + len;
    ssize_t n = send(b->fd, frame, total, MSG_NOSIGNAL);
    return n == (ssize_t)total ? 0 : -1; /* small frames on an idle socket: sent whole or not */
}

static void send_control(Buyer *b, int opcode, const unsigned char *payload, size_t len) {
    unsigned char frame[2 + 4 + 125];
    if (len > 125) len = 125;
    frame[0] = 0x80 | opcode;
    frame[1] = 0x80 | (unsigned char)len;
    memset(frame + 2, 0, 4); /* a zero mask: the payload goes as it is */
    memcpy(frame + 6, payload, len);
    (void)send(b->fd, frame, 6 + len, MSG_NOSIGNAL);
}

static void hello(Buyer *b) {
    char text[512];
    int n = snprintf(text, sizeof text, "{\"type\":\"hello\",\"token\":\"%s\"}", b->token);
    if (send_text(b, text, (size_t)n) != 0) b->state = FAILED;
}

static void buy(Buyer *b) {
    char text[160], key[33];
    for (int i = 0; i < 32; i++) key[i] = "0123456789abcdef"[rand() & 15];
    key[32] = 0;
    int n = snprintf(text, sizeof text, "{\"type\":\"buy\",\"sale_id\":%d,\"key\":\"%s\"}", sale_id, key);
    b->sent_at = now();
    b->state = BOUGHT;
    if (send_text(b, text, (size_t)n) != 0) {
        b->state = FAILED;
        answered++;
    }
}

static void open_one(int i) {
    Buyer *b = &buyers[i];
    b->server = i % nservers;
    b->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (b->fd < 0) die("socket");
    int one = 1;
    setsockopt(b->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(b->fd, (struct sockaddr *)&servers[b->server].addr, sizeof servers[b->server].addr) != 0 &&
        errno != EINPROGRESS)
        die("connect");
    b->state = CONNECTING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, b->fd, &ev) != 0) die("epoll_ctl");
    in_flight++;
}

static void upgrade(Buyer *b, int i) {
    char req[768];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: bGl2ZWNhcnQtYmVuY2gtLQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     servers[b->server].path, servers[b->server].host, servers[b->server].port);
    if (send(b->fd, req, (size_t)n, MSG_NOSIGNAL) != n) die("send upgrade");
    b->state = UPGRADING;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(epfd, EPOLL_CTL_MOD, b->fd, &ev);
}

static const char *find(const char *hay, size_t len, const char *needle) {
    return memmem(hay, len, needle, strlen(needle));
}

static void on_answer(Buyer *b, const char *text, size_t len) {
    b->answered_at = now();
    b->state = ANSWERED;
    answered++;
    b->ok = find(text, len, "\"ok\":true") != NULL;
    b->claim = -1;
    const char *claim = find(text, len, "\"claim\":{");
    if (claim) {
        const char *id = find(claim, len - (size_t)(claim - text), "\"id\":");
        if (id) b->claim = atoll(id + 5);
    }
    const char *code = find(text, len, "\"code\":\"");
    if (code) {
        code += 8;
        size_t k = 0;
        while (code + k < text + len && code[k] != '"' && k < sizeof b->code - 1) k++;
        memcpy(b->code, code, k);
        b->code[k] = 0;
    }
}

static void on_text(Buyer *b, const char *text, size_t len) {
    if (b->state == GREETING) {
        if (find(text, len, "\"type\":\"snapshot\"")) {
            b->state = READY;
            greeted++;
            in_flight--;
        } else if (find(text, len, "\"type\":\"error\"")) {
            if (++b->retries > HELLO_RETRIES) die("the server kept refusing hello");
            b->retry_at = now() + RETRY_SECS; /* the server was too busy: hello again */
        }
    } else if (b->state == BOUGHT) {
        if (find(text, len, "\"type\":\"buy_result\"") || find(text, len, "\"type\":\"error\""))
            on_answer(b, text, len);
    }
}

/* Complete frames at the start of b->buf: handled, then dropped from it. */
static void parse_frames(Buyer *b) {
    size_t at = 0;
    for (;;) {
        unsigned char *p = (unsigned char *)b->buf + at;
        size_t have = b->len - at, head = 2;
        if (have < 2) break;
        int opcode = p[0] & 0x0f;
        uint64_t len = p[1] & 0x7f;
        if (len == 126) {
            if (have < 4) break;
            len = ((uint64_t)p[2] << 8) | p[3];
            head = 4;
        } else if (len == 127) {
            if (have < 10) break;
            len = 0;
            for (int k = 0; k < 8; k++) len = (len << 8) | p[2 + k];
            head = 10;
        }
        if (have < head + len) break;
        const char *payload = (const char *)p + head;
        if (opcode == 1) on_text(b, payload, (size_t)len);
        else if (opcode == 9) send_control(b, 10, (const unsigned char *)payload, (size_t)len);
        else if (opcode == 8) b->state = FAILED;
        at += head + (size_t)len;
    }
    memmove(b->buf, b->buf + at, b->len - at);
    b->len -= at;
}

static void on_readable(Buyer *b) {
    for (;;) {
        if (b->cap - b->len < 4096) {
            b->cap = b->cap ? b->cap * 2 : 8192;
            b->buf = realloc(b->buf, b->cap);
            if (!b->buf) die("out of memory");
        }
        size_t room = b->cap - b->len;
        ssize_t n = recv(b->fd, b->buf + b->len, room, 0);
        if (n > 0) {
            b->len += (size_t)n;
            if ((size_t)n < room) break; /* drained: no second call just to hear EAGAIN */
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            if (b->state == BOUGHT) answered++;
            if (b->state < READY) die("the server closed a connection before its snapshot");
            b->state = FAILED;
            epoll_ctl(epfd, EPOLL_CTL_DEL, b->fd, NULL);
        }
        break;
    }
    if (b->state == UPGRADING) {
        char *end = memmem(b->buf, b->len, "\r\n\r\n", 4);
        if (!end) return;
        if (b->len < 12 || memcmp(b->buf + 9, "101", 3) != 0) die("the upgrade was refused");
        size_t used = (size_t)(end + 4 - b->buf);
        memmove(b->buf, end + 4, b->len - used);
        b->len -= used;
        b->state = GREETING;
        hello(b);
    }
    if (b->state != UPGRADING) parse_frames(b);
}

static void poll_once(int timeout_ms) {
    struct epoll_event events[1024];
    int n = epoll_wait(epfd, events, 1024, timeout_ms);
    for (int k = 0; k < n; k++) {
        Buyer *b = &buyers[events[k].data.u32];
        if (b->state == CONNECTING) {
            int err = 0;
            socklen_t l = sizeof err;
            getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &err, &l);
            if (err) {
                errno = err;
                die("connect");
            }
            upgrade(b, (int)events[k].data.u32);
        } else if (b->state != FAILED) {
            on_readable(b);
        }
    }
}

static void read_job(void) {
    char line[1024];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        if (strcmp(line, "end") == 0) return;
        if (strncmp(line, "spread_ms ", 10) == 0) {
            spread_ms = atoi(line + 10);
        } else if (strncmp(line, "server ", 7) == 0 && nservers < MAX_SERVERS) {
            typeof(servers[0]) *s = &servers[nservers++];
            if (sscanf(line + 7, "%255s %d %255s", s->host, &s->port, s->path) != 3) die("bad server line");
            struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
            if (getaddrinfo(s->host, NULL, &hints, &res) != 0) die("unknown host");
            s->addr = *(struct sockaddr_in *)res->ai_addr;
            s->addr.sin_port = htons((uint16_t)s->port);
            freeaddrinfo(res);
        } else if (strncmp(line, "token ", 6) == 0) {
            if (nbuyers == cap_buyers) {
                cap_buyers = cap_buyers ? cap_buyers * 2 : 1024;
                buyers = realloc(buyers, sizeof *buyers * (size_t)cap_buyers);
                if (!buyers) die("out of memory");
            }
            memset(&buyers[nbuyers], 0, sizeof *buyers);
            buyers[nbuyers++].token = strdup(line + 6);
        }
    }
    die("the job ended without \"end\"");
}

static int by_moment(const void *a, const void *b) {
    double x = buyers[*(const int *)a].moment, y = buyers[*(const int *)b].moment;
    return (x > y) - (x < y);
}

int main(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    read_job();
    if (nservers == 0 || nbuyers == 0) die("no server or no buyer");
    srand((unsigned)nbuyers);
    epfd = epoll_create1(0);
    double deadline = now() + READY_TIMEOUT_SECS;
    while (greeted < nbuyers) {
        while (in_flight < HELLO_CONCURRENCY && next_to_open < nbuyers) open_one(next_to_open++);
        poll_once(50);
        double t = now();
        for (int i = 0; i < next_to_open; i++)
            if (buyers[i].retry_at && buyers[i].retry_at <= t && buyers[i].state == GREETING) {
                buyers[i].retry_at = 0;
                hello(&buyers[i]);
            }
        if (t > deadline) die("timed out before every buyer was greeted");
    }
    printf("ready\n");
    fflush(stdout);

    /* Until "go", read what the server sends (the drop, the stock), as a viewer's page does
     * during the countdown. Left unread, 10,000 sockets' worth of it would be read after "go",
     * between the buys, and delay both the sending and the reading of the answers. */
    for (struct pollfd in = {.fd = STDIN_FILENO, .events = POLLIN}; poll(&in, 1, 0) == 0;)
        poll_once(10);
    char line[128];
    if (!fgets(line, sizeof line, stdin) || sscanf(line, "go %d", &sale_id) != 1) die("no go line");
    /* Each buyer's moment within the spread (0: all at once), in order of sending. */
    int *order = malloc(sizeof *order * (size_t)nbuyers);
    for (int i = 0; i < nbuyers; i++) {
        order[i] = i;
        buyers[i].moment = spread_ms > 0 ? (rand() / (RAND_MAX + 1.0)) * spread_ms / 1000.0 : 0.0;
    }
    qsort(order, (size_t)nbuyers, sizeof *order, by_moment);
    double start = now(), cpu_start = cpu_now(), sent = 0;
    int next = 0;
    deadline = start + ANSWER_TIMEOUT_SECS;
    while (answered < nbuyers && now() < deadline) {
        double t = now() - start;
        /* Send what is due; at once, 64 at a time with a look at the answers in between. */
        int burst = 0;
        while (next < nbuyers && buyers[order[next]].moment <= t && burst < 64) {
            if (buyers[order[next]].state == READY) buy(&buyers[order[next]]);
            else answered++; /* lost before the sale: counted, never answered */
            next++, burst++;
        }
        if (next == nbuyers && sent == 0) sent = now() - start;
        int wait = 0;
        if (next < nbuyers && burst < 64) {
            /* Sleep until the next is due (at least 1 ms: no busy wait; a send up to a
             * millisecond late changes nothing measured, its time is taken when it goes). */
            double due = buyers[order[next]].moment - (now() - start);
            wait = due > 0 ? 1 + (int)(due * 1000) : 0;
        } else if (next == nbuyers) {
            wait = 100;
        }
        poll_once(wait);
    }
    double elapsed = now() - start, cpu = cpu_now() - cpu_start;
    printf("{\"results\": [");
    int first = 1;
    for (int i = 0; i < nbuyers; i++) {
        Buyer *b = &buyers[i];
        if (b->state != ANSWERED) continue;
        printf("%s[%d, %.6f, ", first ? "" : ", ", b->ok, b->answered_at - b->sent_at);
        if (b->claim >= 0) printf("%lld, ", b->claim);
        else printf("null, ");
        if (b->code[0]) printf("\"%s\", ", b->code);
        else printf("null, ");
        printf("%.6f]", b->sent_at - start);
        first = 0;
    }
    printf("], \"elapsed\": %.6f, \"cpu\": %.6f, \"sent\": %.6f, \"t0\": %.6f}\n", elapsed, cpu,
           sent, start);
    fflush(stdout);
    for (int i = 0; i < nbuyers; i++)
        if (buyers[i].fd > 0) close(buyers[i].fd);
    return 0;
}
