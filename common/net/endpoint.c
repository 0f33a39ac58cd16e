#include "endpoint.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_ENDPOINT = 255 };

static int check_port(const char *p, char *why, size_t len) {
    if (!*p) return snprintf(why, len, "missing port after ':'"), -1;
    for (const char *q = p; *q; q++) {
        if (!isdigit((unsigned char)*q)) return snprintf(why, len, "port '%s' is not a number", p), -1;
    }
    long v = strlen(p) > 5 ? 0 : strtol(p, NULL, 10);
    if (v < 1 || v > 65535) return snprintf(why, len, "port '%s' is not in 1..65535", p), -1;
    return 0;
}

static int check_tcp(const char *rest, char *why, size_t len) {
    const char *colon;
    if (rest[0] == '[') {
        const char *close = strchr(rest, ']');
        if (!close || close == rest + 1) return snprintf(why, len, "malformed [IPv6] host"), -1;
        for (const char *q = rest + 1; q < close; q++) {
            if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
                return snprintf(why, len, "malformed [IPv6] host"), -1;
        }
        if (close[1] != ':') return snprintf(why, len, "expected tcp://HOST:PORT"), -1;
        colon = close + 1;
    } else {
        colon = strrchr(rest, ':');
        if (!colon) return snprintf(why, len, "expected tcp://HOST:PORT"), -1;
        if (colon == rest) return snprintf(why, len, "missing host before ':'"), -1;
        for (const char *q = rest; q < colon; q++) {
            if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-' && *q != '_' && *q != '*' &&
                *q != ';')
                return snprintf(why, len, "host contains '%c'", *q), -1;
        }
    }
    return check_port(colon + 1, why, len);
}

int vb_endpoint_check(const char *ep, char *why, size_t len) {
    if (!ep || !*ep) return snprintf(why, len, "empty endpoint"), -1;
    if (strlen(ep) > MAX_ENDPOINT) return snprintf(why, len, "longer than %d bytes", MAX_ENDPOINT), -1;
    if (strncmp(ep, "tcp://", 6) == 0) return check_tcp(ep + 6, why, len);
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0) {
        const char *rest = strstr(ep, "://") + 3;
        if (!*rest) return snprintf(why, len, "missing path after '://'"), -1;
        for (const char *q = rest; *q; q++) {
            if (iscntrl((unsigned char)*q)) return snprintf(why, len, "control character in path"), -1;
        }
        return 0;
    }
    snprintf(why, len, "unknown transport; expected tcp://HOST:PORT, ipc://PATH or inproc://NAME");
    return -1;
}

int vb_endpoint_derive(const char *control, char *data, char *weights, size_t len, char *why, size_t why_len) {
    if (vb_endpoint_check(control, why, why_len) != 0) return -1;
    int n1, n2;
    if (strncmp(control, "tcp://", 6) == 0) {
        const char *colon = strrchr(control, ':');
        long port = strtol(colon + 1, NULL, 10);
        if (port > 65533) return snprintf(why, why_len, "port %ld leaves no room for the data and weights ports (+1, +2)", port), -1;
        int host = (int)(colon - control);
        n1 = snprintf(data, len, "%.*s:%ld", host, control, port + 1);
        n2 = snprintf(weights, len, "%.*s:%ld", host, control, port + 2);
    } else {
        n1 = snprintf(data, len, "%s.data", control);
        n2 = snprintf(weights, len, "%s.weights", control);
    }
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= len || (size_t)n2 >= len)
        return snprintf(why, why_len, "endpoint too long"), -1;
    return 0;
}
