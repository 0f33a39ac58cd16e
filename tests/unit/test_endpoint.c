#include <criterion/criterion.h>

#include "common/net/endpoint.h"

Test(endpoint, accepts_valid_endpoints) {
    const char *ok[] = {"tcp://localhost:5555", "tcp://127.0.0.1:1", "tcp://*:65535", "tcp://[::1]:5555",
                        "tcp://learner-0.cluster.local:6000", "ipc:///tmp/vb.sock", "inproc://weights"};
    char why[256];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        cr_assert_eq(vb_endpoint_check(ok[i], why, sizeof why), 0, "%s: %s", ok[i], why);
}

Test(endpoint, refuses_malformed_endpoints_with_a_reason) {
    const char *bad[] = {"", "localhost:5555", "tcp://", "tcp://host", "tcp://:1", "tcp://h:",
                         "tcp://h:0", "tcp://h:65536", "tcp://h:999999", "tcp://h:-1", "tcp://[]:1",
                         "tcp://[zz]:1", "tcp://a b:1", "ipc://", "pgm://x"};
    char why[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        cr_assert_neq(vb_endpoint_check(bad[i], why, sizeof why), 0, "accepted '%s'", bad[i]);
        cr_assert_neq(why[0], '\0');
    }
}
