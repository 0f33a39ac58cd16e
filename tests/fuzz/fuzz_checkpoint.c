/* libFuzzer harness: checkpoint read and restore.
 *
 * Input: the bytes of a checkpoint file. Flags in the first byte: bit 0
 * repairs the file CRC, every section's CRC and the arena CRCs of params and
 * optim before parsing, so mutations reach the checks behind the checksums.
 * The rest is parsed with vb_ckpt_parse and, when it parses, restored into a
 * learner of the fuzz configuration (vb_run_restore: arenas, counters,
 * streams, replay), as `learner --resume` does. */
#include "fuzz_support.h"

#include <unistd.h>

#include "../../cmd/learner/run.h"
#include "../../common/base/checkpoint.h"
#include "../../common/base/fs.h"

static vb_config g_cfg;
static vb_run g_run;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char dir[] = "/tmp/vb-fuzz-ckpt-XXXXXX", err[1024];
    if (!mkdtemp(dir)) return 1;
    vb_fuzz_config(&g_cfg, dir);
    if (vb_run_open(&g_run, &g_cfg, false, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz run: %s\n", err);
        exit(1);
    }
    if (vb_fuzz_seed_dir()) {
        /* a real checkpoint of this run, and one in the form the repair keeps */
        if (vb_run_checkpoint(&g_run, err, sizeof err) != 0) {
            fprintf(stderr, "seed checkpoint: %s\n", err);
            exit(1);
        }
        char path[8400];
        snprintf(path, sizeof path, "%s/ckpt-000000000000.vbc", g_run.ckdir);
        void *b;
        size_t len;
        if (vb_fs_read_all(path, (size_t)1 << 30, &b, &len, err, sizeof err) != 0) {
            fprintf(stderr, "seed checkpoint: %s\n", err);
            exit(1);
        }
        vb_fuzz_write_seed("checkpoint", 1, b, len);
        free(b);
        exit(0);
    }
    return 0;
}

static uint32_t get32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The checkpoint format (checkpoint.h): magic, format, section count, then
 * per section a 32-byte name, u64 length, u32 CRC, the payload; a file CRC. */
static void repair(unsigned char *b, size_t len) {
    if (len < 20) return;
    enum { NAME = 32, HEAD = NAME + 12 };
    uint32_t n = get32(b + 12);
    size_t off = 16;
    for (uint32_t i = 0; i < n && i < 64 && off + HEAD <= len - 4; i++) {
        uint64_t slen;
        memcpy(&slen, b + off + NAME, 8);
        if (slen > len - 4 - off - HEAD) break;
        unsigned char *payload = b + off + HEAD;
        if (strncmp((const char *)b + off, "params", NAME) == 0 || strncmp((const char *)b + off, "optim", NAME) == 0)
            vb_fuzz_fix_arena(payload, (size_t)slen);
        vb_fuzz_put32(b + off + NAME + 8, vb_crc32c(0, payload, (size_t)slen));
        off += HEAD + (size_t)slen;
    }
    vb_fuzz_put32(b + len - 4, vb_crc32c(0, b, len - 4));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t len = size - 1;
    unsigned char *b = malloc(len ? len : 1);
    if (!b) return 0;
    memcpy(b, data + 1, len);
    if (data[0] & 1) repair(b, len);
    vb_ckpt ck;
    char err[1024];
    if (vb_ckpt_parse(b, len, "fuzz", &ck, err, sizeof err) != 0) return 0; /* b freed */
    const void *pos;
    int64_t k, act_version;
    vb_run_restore(&g_run, &ck, &pos, &k, &act_version, err, sizeof err);
    uint64_t ylen;
    const char *yaml = vb_ckpt_get(&ck, "config", &ylen);
    if (yaml) {
        vb_config *c = malloc(sizeof *c);
        if (c) {
            vb_config_defaults(c);
            if (vb_config_load_string(c, yaml, (size_t)ylen, "fuzz checkpoint", err, sizeof err) == 0)
                vb_config_validate(c, err, sizeof err);
            free(c);
        }
    }
    vb_ckpt_free(&ck);
    return 0;
}
