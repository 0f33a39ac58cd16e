/* keys — CURVE key files and the allow-list of actor keys.
 *
 * A key pair file (learner.key, actor.key; mode 0600) holds two lines,
 * "public: <Z85>" and "secret: <Z85>"; a public key file (learner.pub,
 * actor.pub; 0644) one Z85 line; the allow-list (allowed_actors) one actor
 * public key per line, '#' comments and blank lines ignored. Z85 keys are
 * 40 characters (32 bytes), as zmq_curve_keypair writes them.
 *
 * `learner --keygen DIR` writes learner.key/.pub, actor.key/.pub and an
 * allowed_actors holding actor.pub; `actor --keygen DIR` writes another
 * actor.key/.pub for a host that should have its own (append its .pub to the
 * learner's allowed_actors). */
#ifndef VB_KEYS_H
#define VB_KEYS_H

#include <stdbool.h>
#include <stddef.h>

enum { VB_KEY_Z85 = 40, VB_KEYS_MAX_ALLOWED = 4096 };

typedef struct vb_keypair {
    char pub[VB_KEY_Z85 + 1], sec[VB_KEY_Z85 + 1];
} vb_keypair;

typedef struct vb_allowlist {
    char (*key)[VB_KEY_Z85 + 1];
    int n;
} vb_allowlist;

/* Whether CURVE is available in this libzmq. */
bool vb_keys_supported(void);
/* Write DIR/<role>.key and DIR/<role>.pub (a new pair), and for role
 * "learner" also an actor pair and DIR/allowed_actors with its public key.
 * Existing files are never overwritten. 0, or -1 with err. */
int vb_keys_generate(const char *dir, const char *role, char *err, size_t err_len);
/* Read a key pair file (refused when others may read it). 0, or -1 with err. */
int vb_keypair_load(const char *path, vb_keypair *kp, char *err, size_t err_len);
/* Read a public key file. 0, or -1 with err. */
int vb_pubkey_load(const char *path, char out[VB_KEY_Z85 + 1], char *err, size_t err_len);
/* Read an allow-list (every key checked). 0, or -1 with err naming the line. */
int vb_allowlist_load(const char *path, vb_allowlist *a, char *err, size_t err_len);
bool vb_allowlist_has(const vb_allowlist *a, const char *z85);
void vb_allowlist_free(vb_allowlist *a);
/* Whether s is a well-formed Z85 key (40 characters of the Z85 alphabet). */
bool vb_key_valid(const char *s);

#endif
