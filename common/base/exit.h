/* exit — the exit statuses of both programs (and of an evaluation). */
#ifndef VB_EXIT_H
#define VB_EXIT_H

enum {
    VB_EXIT_OK = 0,      /* success */
    VB_EXIT_RUNTIME = 1, /* runtime failure */
    VB_EXIT_USAGE = 2,   /* usage or configuration error */
};

#endif
