/* test_distributed_support — see test_distributed_support.h. */
#include "test_distributed_support.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "common/net/messages.h"
#include "support.h"

enum { MAX_PROCS = 32 };

static char g_root[64];
static pid_t g_pids[MAX_PROCS];
static int g_npids;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void vb_dt_setup(void) {
    snprintf(g_root, sizeof g_root, "/tmp/vb_dist_XXXXXX");
    cr_assert_not_null(mkdtemp(g_root));
    g_npids = 0;
}

void vb_dt_teardown(void) {
    for (int i = 0; i < g_npids; i++) {
        if (g_pids[i] > 0 && kill(g_pids[i], SIGKILL) == 0) waitpid(g_pids[i], NULL, 0);
    }
    g_npids = 0;
    /* grandchildren (local actors) exit with their learner; give them a moment */
    usleep(200 * 1000);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_root);
    cr_assert_eq(system(cmd), 0);
}

const char *vb_dt_root(void) { return g_root; }

const char *vb_dt_path(const char *name, char *buf, size_t len) {
    snprintf(buf, len, "%s/%s", g_root, name);
    return buf;
}

pid_t vb_dt_spawn(const char *program, const char *const *args, const char *log) {
    char exe[1024];
    vb_test_path(program, exe, sizeof exe);
    const char *argv[64];
    int argc = 0;
    argv[argc++] = exe;
    for (int i = 0; args[i] && argc < 63; i++) argv[argc++] = args[i];
    argv[argc] = NULL;
    cr_assert_lt(g_npids, MAX_PROCS);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDONLY);
        if (fd < 0 || null < 0) _exit(127);
        dup2(null, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    g_pids[g_npids++] = pid;
    return pid;
}

int vb_dt_wait(pid_t pid, double timeout_s) {
    double end = now_s() + timeout_s;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            for (int i = 0; i < g_npids; i++) {
                if (g_pids[i] == pid) g_pids[i] = 0;
            }
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        if (now_s() > end) return -1;
        usleep(20 * 1000);
    }
}

bool vb_dt_alive(pid_t pid) { return kill(pid, 0) == 0 && waitpid(pid, NULL, WNOHANG) == 0; }

char *vb_dt_slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    size_t cap = 1, n = 0;
    char *buf = calloc(1, 1);
    if (!f) return buf;
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
        buf = realloc(buf, cap + r);
        memcpy(buf + n, chunk, r);
        n += r;
        cap += r;
        buf[n] = '\0';
    }
    fclose(f);
    return buf;
}

char *vb_dt_script(const char *script, const char *args, int *rc) {
    char root[1024], out[1024], cmd[8192];
    vb_test_path(".", root, sizeof root);
    vb_dt_path("script.out", out, sizeof out);
    snprintf(cmd, sizeof cmd, "cd '%s' && python3 scripts/%s %s > '%s' 2>&1", root, script, args, out);
    const int st = system(cmd);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return vb_dt_slurp(out);
}

int vb_dt_count(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

bool vb_dt_wait_for(const char *path, const char *needle, int count, double timeout_s) {
    double end = now_s() + timeout_s;
    for (;;) {
        char *t = vb_dt_slurp(path);
        int n = vb_dt_count(t, needle);
        free(t);
        if (n >= count) return true;
        if (now_s() > end) return false;
        usleep(20 * 1000);
    }
}

double vb_dt_metric(const char *metrics_path, const char *key) {
    char *t = vb_dt_slurp(metrics_path);
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    double v = -1;
    /* the last complete line holding the key */
    for (char *line = t; line && *line;) {
        char *nl = strchr(line, '\n');
        if (!nl) break;
        *nl = '\0';
        const char *p = strstr(line, pat);
        if (p) v = strtod(p + strlen(pat), NULL);
        line = nl + 1;
    }
    free(t);
    return v;
}

bool vb_dt_wait_metric(const char *metrics_path, const char *key, double v, double timeout_s) {
    double end = now_s() + timeout_s;
    while (vb_dt_metric(metrics_path, key) < v) {
        if (now_s() > end) return false;
        usleep(20 * 1000);
    }
    return true;
}

static bool port_free(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return false;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
    close(s);
    return ok;
}

int vb_dt_free_ports(void) {
    /* a per-process start keeps parallel tests apart; then search */
    int base = 20000 + (int)((unsigned)getpid() * 7u % 20000u);
    base -= base % 3;
    for (int i = 0; i < 2000; i++) {
        int p = 20000 + (base - 20000 + 3 * i) % 40000;
        if (port_free(p) && port_free(p + 1) && port_free(p + 2)) return p;
    }
    cr_assert_fail("no three consecutive free ports");
    return -1;
}

pid_t vb_dt_start_learner(const char *name, int port, const char *const *sets, const char *log) {
    char cfg[1024], root[128], nm[64], pt[64];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(root, sizeof root, "run.root=%s", vb_dt_root());
    snprintf(nm, sizeof nm, "run.name=%s", name);
    snprintf(pt, sizeof pt, "learner.port=%d", port);
    const char *args[64] = {"--config", cfg, "--set", root, "--set", nm, "--set", pt, "--set", "learner.bind=127.0.0.1",
                            "--set", "run.algo=rl2", "--set", "log.interval_s=0.1", "--set", "actors.heartbeat_ms=100",
                            "--set", "actors.timeout_ms=2000"};
    int n = 18;
    for (int i = 0; sets && sets[i] && n < 62; i++) {
        args[n++] = "--set";
        args[n++] = sets[i];
    }
    args[n] = NULL;
    return vb_dt_spawn("learner", args, log);
}

bool vb_dt_send_register(void *ctl, uint64_t instance) {
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Register r = VB__REGISTER__INIT;
    void *buf;
    size_t len;
    vb_msg_header(&e, NULL, NULL, 1);
    r.name = "scripted";
    r.instance = instance;
    e.body_case = VB__ENVELOPE__BODY_REGISTER;
    e.register_ = &r;
    cr_assert_eq(vb_msg_pack(&e, &buf, &len), 0);
    bool sent = zmq_send(ctl, buf, len, 0) == (int)len;
    free(buf);
    return sent;
}
