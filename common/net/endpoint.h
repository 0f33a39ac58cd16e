/* endpoint — syntax check of ZeroMQ endpoints before any socket sees them. */
#ifndef VB_ENDPOINT_H
#define VB_ENDPOINT_H

#include <stddef.h>

/* Accepts tcp://HOST:PORT (PORT 1..65535; HOST a name, IPv4, [IPv6] or '*'),
 * ipc://PATH and inproc://NAME. Returns 0, or -1 with a reason in why. */
int vb_endpoint_check(const char *endpoint, char *why, size_t why_len);

/* A learner is reached at one control endpoint; its data and weights
 * endpoints follow from it: tcp://HOST:P -> tcp://HOST:P+1 (data) and
 * tcp://HOST:P+2 (weights); ipc://PATH and inproc://NAME -> the same with
 * ".data" and ".weights" appended. The control endpoint must pass
 * vb_endpoint_check. 0, or -1 with why (a port above 65533, or a result
 * longer than len). */
int vb_endpoint_derive(const char *control, char *data, char *weights, size_t len, char *why, size_t why_len);

#endif
