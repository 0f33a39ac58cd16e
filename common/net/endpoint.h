/* endpoint — syntax check of ZeroMQ endpoints before any socket sees them. */
#ifndef VB_ENDPOINT_H
#define VB_ENDPOINT_H

#include <stddef.h>

/* Accepts tcp://HOST:PORT (PORT 1..65535; HOST a name, IPv4, [IPv6] or '*'),
 * ipc://PATH and inproc://NAME. Returns 0, or -1 with a reason in why. */
int vb_endpoint_check(const char *endpoint, char *why, size_t why_len);

#endif
