/* bench_net — the transport: chunks through the data channel (pack with CRC,
 * PUSH -> PULL over TCP loopback, unpack, size and CRC checks, copy out)
 * against raw ZeroMQ messages of the same size; and the latency of a weight
 * broadcast (pack with CRC, PUB -> SUB, unpack, both CRCs, copy out) for 1 MB
 * and 10 MB arenas to 1 and 4 subscribers, from the start of packing until
 * the last subscriber holds verified weights (median of several rounds; one
 * round in flight at a time, so high-water marks never drop one), each
 * against raw ZeroMQ: a plain message of the same size PUB -> SUB.
 * Chunks and raw messages alternate in 5 slices of 20 000 messages, and
 * each is given as its best slice. Chunks are written and read as the
 * actor and the learner do
 * (common/net/chunk_wire.h). `--chunks`: the data channel only.
 * Output: one "name value unit" per line. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "common/model/model.h"
#include "common/net/channel.h"
#include "common/net/chunk_wire.h"
#include "common/net/messages.h"
#include "common/params/params.h"

enum { MAX_SUBS = 4, ENDPOINT = 64 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "bench_net: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(1);
}

/* A socket bound to a free loopback port (ep receives the endpoint) or
 * connected to ep. */
static void *socket_at(void *z, int type, char *ep, bool bind, int hwm) {
    void *s = zmq_socket(z, type);
    int linger = bind ? 0 : -1; /* a sender that closes first still delivers */
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (hwm) {
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    }
    if (type == ZMQ_SUB) zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    if (bind) {
        size_t len = ENDPOINT;
        if (zmq_bind(s, "tcp://127.0.0.1:*") != 0 || zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len) != 0) die("bind");
    } else if (zmq_connect(s, ep) != 0) {
        die(ep);
    }
    return s;
}

/* ---- data channel --------------------------------------------------------- */
typedef struct sender {
    void *z;
    char ep[ENDPOINT];
    const vb_chunk_layout *cl;
    const float *data;
    int64_t n;
    bool raw;
    size_t raw_len;
} sender;

static void *send_chunks(void *arg) {
    sender *s = arg;
    void *push = socket_at(s->z, ZMQ_PUSH, s->ep, false, 0);
    unsigned char *raw = s->raw ? calloc(1, s->raw_len) : NULL;
    for (int64_t i = 0; i < s->n; i++) {
        if (s->raw) {
            if (zmq_send(push, raw, s->raw_len, 0) < 0) die("send");
            continue;
        }
        vb_chunk c = {.version = 1, .slot = (int32_t)(i % 64), .data = (float *)s->data};
        zmq_msg_t m; /* as the actor sends: written into ZeroMQ's message */
        const uint64_t seq = (uint64_t)i + 1;
        if (zmq_msg_init_size(&m, vb_chunk_wire_size("bench-run", "a1", seq, &c, s->cl)) != 0) die("pack");
        vb_chunk_wire_write("bench-run", "a1", seq, &c, s->cl, zmq_msg_data(&m));
        if (zmq_msg_send(&m, push, 0) < 0) die("send");
    }
    free(raw);
    zmq_close(push);
    return NULL;
}

/* Messages per second and bytes per message through PUSH -> PULL. */
static double run_data(const vb_chunk_layout *cl, bool raw, size_t raw_len, int64_t n, size_t *msg_bytes) {
    void *z = zmq_ctx_new();
    char ep[ENDPOINT];
    void *pull = socket_at(z, ZMQ_PULL, ep, true, 0);
    float *data = calloc((size_t)cl->floats, sizeof(float)), *out = malloc(sizeof(float) * (size_t)cl->floats);
    for (int64_t i = 0; i < cl->floats; i++) data[i] = (float)(i % 7) * 0.5f;
    sender s = {.z = z, .cl = cl, .data = data, .n = n, .raw = raw, .raw_len = raw_len};
    memcpy(s.ep, ep, sizeof ep);
    pthread_t t;
    double t0 = 0;
    pthread_create(&t, NULL, send_chunks, &s);
    for (int64_t i = 0; i < n; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, pull, 0) < 0) die("recv");
        if (i == 0) t0 = now(); /* after the connection is up */
        *msg_bytes = zmq_msg_size(&m);
        if (!raw) { /* as the learner reads */
            vb_chunk_view v;
            char why[256] = "not a chunk";
            if (vb_chunk_wire_view(zmq_msg_data(&m), zmq_msg_size(&m), vb_msg_chunk_max_size(cl), &v) != 0 ||
                vb_msg_read_chunk(&v.c, cl, 64, out, why, sizeof why) != 0) {
                fprintf(stderr, "bench_net: %s\n", why);
                exit(1);
            }
        }
        zmq_msg_close(&m);
    }
    double rate = (double)(n - 1) / (now() - t0);
    pthread_join(t, NULL);
    zmq_close(pull);
    zmq_ctx_term(z);
    free(data);
    free(out);
    return rate;
}

/* ---- weight broadcast -------------------------------------------------------- */
typedef struct subscriber {
    void *z;
    char ep[ENDPOINT];
    const vb_layout *l;
    atomic_int *ready;          /* subscribers that have seen a message */
    atomic_llong *done_round;   /* per subscriber: the last round verified */
    double *done_at;            /* per subscriber: when */
    int index, rounds;
    bool raw;                   /* raw ZeroMQ: the round is the message's first 8 bytes */
} subscriber;

static void *subscribe(void *arg) {
    subscriber *s = arg;
    void *sub = socket_at(s->z, ZMQ_SUB, s->ep, false, 64);
    float *P = malloc(sizeof(float) * (size_t)s->l->total);
    bool seen = false;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sub, 0) < 0) die("recv");
        long long round;
        if (s->raw) {
            memcpy(&round, zmq_msg_data(&m), sizeof round);
        } else {
            vb_msg *e;
            char why[256];
            const void *buf = zmq_msg_data(&m);
            size_t len = zmq_msg_size(&m);
            if (vb_msg_unpack_borrow(buf, len, vb_msg_weights_max_size(s->l), &e, why, sizeof why) != 0 ||
                e->body_case != VB__ENVELOPE__BODY_WEIGHTS || vb_msg_read_weights(e->weights, s->l, P, why, sizeof why) != 0) {
                fprintf(stderr, "bench_net: %s\n", why);
                exit(1);
            }
            round = (long long)e->weights->version;
            vb_msg_free_borrowed(e, buf, len);
        }
        zmq_msg_close(&m);
        if (!seen) {
            seen = true;
            atomic_fetch_add(s->ready, 1);
        }
        if (round > 0) {
            s->done_at[s->index] = now();
            atomic_store(&s->done_round[s->index], round);
        }
        if (round == s->rounds) break;
    }
    free(P);
    zmq_close(sub);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One broadcast of round r: the packed weights, or (raw) a plain message of
 * raw_len bytes that starts with r, sent from the caller's buffer by zmq_send. */
static void send_round(void *pub, const vb_layout *l, const float *P, int64_t r, unsigned char *raw, size_t raw_len) {
    if (raw) {
        memcpy(raw, &r, sizeof r);
        if (zmq_send(pub, raw, raw_len, 0) < 0) die("send");
        return;
    }
    void *buf;
    size_t len;
    zmq_msg_t m;
    if (vb_msg_pack_weights("bench", (uint64_t)r, l, P, (uint64_t)r, &buf, &len) != 0 || vb_channel_msg_own(&m, buf, len) != 0)
        die("pack");
    if (zmq_msg_send(&m, pub, 0) < 0) die("send");
}

/* Median seconds from packing until every subscriber verified the weights;
 * raw: from zmq_send of a message of the packed size until every
 * subscriber received it. */
static double run_broadcast(int64_t floats, int subs, int rounds, bool raw) {
    vb_layout l;
    vb_layout_init(&l);
    int64_t shape[1] = {floats};
    vb_layout_add(&l, "w", 1, shape);
    float *P = malloc(sizeof(float) * (size_t)l.total);
    for (int64_t i = 0; i < l.total; i++) P[i] = (float)i * 1e-6f;
    void *z = zmq_ctx_new();
    char ep[ENDPOINT];
    void *pub = socket_at(z, ZMQ_PUB, ep, true, 64);
    atomic_int ready = 0;
    atomic_llong done_round[MAX_SUBS];
    double done_at[MAX_SUBS];
    subscriber s[MAX_SUBS];
    pthread_t t[MAX_SUBS];
    for (int i = 0; i < subs; i++) {
        atomic_store(&done_round[i], 0);
        s[i] = (subscriber){.z = z, .l = &l, .ready = &ready, .done_round = done_round, .done_at = done_at,
                            .index = i, .rounds = rounds, .raw = raw};
        memcpy(s[i].ep, ep, sizeof ep);
        pthread_create(&t[i], NULL, subscribe, &s[i]);
    }
    /* version 0 until every subscriber is connected (PUB drops before that) */
    void *buf;
    size_t len;
    if (vb_msg_pack_weights("bench", 0, &l, P, 0, &buf, &len) != 0) die("pack");
    unsigned char *rawbuf = NULL;
    if (raw) rawbuf = buf;
    else free(buf);
    while (atomic_load(&ready) < subs) {
        send_round(pub, &l, P, 0, rawbuf, len);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    double *lat = malloc(sizeof(double) * (size_t)rounds);
    for (int r = 1; r <= rounds; r++) {
        double t0 = now();
        send_round(pub, &l, P, r, rawbuf, len);
        double last = t0;
        for (int i = 0; i < subs; i++) {
            while (atomic_load(&done_round[i]) < r) {
                struct timespec ts = {0, 50 * 1000};
                nanosleep(&ts, NULL);
            }
            if (done_at[i] > last) last = done_at[i];
        }
        lat[r - 1] = last - t0;
    }
    for (int i = 0; i < subs; i++) pthread_join(t[i], NULL);
    qsort(lat, (size_t)rounds, sizeof *lat, cmp_double);
    double med = lat[rounds / 2];
    free(lat);
    free(rawbuf);
    free(P);
    zmq_close(pub);
    zmq_ctx_term(z);
    return med;
}

int main(int argc, char **argv) {
    char err[512];
    vb_config cfg;
    vb_config_defaults(&cfg);
    if (vb_config_load_file(&cfg, "configs/gridworld_rl2.yaml", err, sizeof err) != 0) {
        fprintf(stderr, "bench_net: %s (run from the repository root)\n", err);
        return 1;
    }
    vb_env_spec spec;
    vb_model m;
    vb_chunk_layout cl;
    if (vb_env_spec_from_config(&cfg, &spec, err, sizeof err) != 0 || vb_model_build_from_config(&m, &cfg, &spec, err, sizeof err) != 0) {
        fprintf(stderr, "bench_net: %s\n", err);
        return 1;
    }
    vb_chunk_layout_init(&cl, &m, cfg.learner.window, cfg.run.algo == VB_ALGO_VARIBASED);
    /* chunks and raw messages in alternating slices, the best slice of each:
     * this machine's speed drifts for seconds at a time */
    const int64_t n = 20000;
    size_t bytes = 0, raw_bytes = 0;
    double rate = 0, raw = 0;
    for (int slice = 0; slice < 5; slice++) {
        double r = run_data(&cl, false, 0, n, &bytes), q = run_data(&cl, true, bytes, n, &raw_bytes);
        rate = r > rate ? r : rate;
        raw = q > raw ? q : raw;
    }
    printf("chunk_message_size %zu bytes\n", bytes);
    printf("data_channel_chunks %.0f chunks/s\n", rate);
    printf("data_channel_throughput %.1f MB/s\n", rate * (double)bytes / 1e6);
    printf("raw_zmq_messages %.0f msgs/s\n", raw);
    printf("raw_zmq_throughput %.1f MB/s\n", raw * (double)raw_bytes / 1e6);
    printf("data_channel_of_raw %.3f fraction\n", rate / raw);
    if (argc > 1 && strcmp(argv[1], "--chunks") == 0) return 0;
    if (argc > 1) return fprintf(stderr, "usage: bench_net [--chunks]\n"), 2;
    const struct {
        const char *name;
        int64_t floats;
        int rounds;
    } sizes[] = {{"1MB", 262144, 21}, {"10MB", 2621440, 9}};
    const int subs[] = {1, 4};
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < 2; j++) {
            double t = run_broadcast(sizes[i].floats, subs[j], sizes[i].rounds, false);
            double raw_t = run_broadcast(sizes[i].floats, subs[j], sizes[i].rounds, true);
            printf("weights_broadcast_%s_to_%d %.2f ms\n", sizes[i].name, subs[j], 1e3 * t);
            printf("raw_zmq_broadcast_%s_to_%d %.2f ms\n", sizes[i].name, subs[j], 1e3 * raw_t);
            printf("weights_broadcast_%s_to_%d_over_raw %.2f ratio\n", sizes[i].name, subs[j], t / raw_t);
        }
    }
    return 0;
}
