/* plugin — see plugin.h. */
#include "plugin.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* dlopen and dlerror are process-wide: one loader at a time. */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

int vb__family_table_check(const vb_task_family *f, char *err, size_t err_len) {
    const char *missing = !f->name ? "name"
                          : !f->spec ? "spec"
                          : !f->create ? "create"
                          : !f->destroy ? "destroy"
                          : !f->reset_task ? "reset_task"
                          : !f->reset_episode ? "reset_episode"
                          : !f->step ? "step"
                          : !f->reward_cell ? "reward_cell"
                                            : NULL;
    if (missing)
        return snprintf(err, err_len, "task family '%s': the table has no %s callback", f->name ? f->name : "?",
                        missing), -1;
    return 0;
}

static int find(void *lib, const char *path, const char *name, const vb_task_family **out, char *err,
                size_t err_len) {
    dlerror();
    const uint32_t *abi = dlsym(lib, "vb_task_abi");
    if (!abi)
        return snprintf(err, err_len, "env.plugin %s: no symbol vb_task_abi (is it built with VB_TASK_EXPORT from "
                                      "varibased/task_family.h?)", path), -1;
    if (*abi != VB_TASK_ABI_VERSION)
        return snprintf(err, err_len, "env.plugin %s: built against task-family ABI version %u, this program has "
                                      "version %u: rebuild it against this program's include/varibased/task_family.h",
                        path, *abi, VB_TASK_ABI_VERSION), -1;
    const vb_task_family *const *(*list_fn)(void);
    *(void **)&list_fn = dlsym(lib, "vb_task_families");
    if (!list_fn) return snprintf(err, err_len, "env.plugin %s: no symbol vb_task_families", path), -1;
    const vb_task_family *const *list = list_fn();
    char names[256] = "";
    size_t used = 0;
    for (int k = 0; list && list[k] && k < 1024; k++) {
        const vb_task_family *f = list[k];
        /* name is the table's second field in every ABI version */
        if (f->name && strcmp(f->name, name) == 0) {
            if (f->abi_version != VB_TASK_ABI_VERSION)
                return snprintf(err, err_len, "env.plugin %s: family '%s' has a table of ABI version %u, this "
                                              "program has %u (initialise it with VB_TASK_FAMILY_INIT)", path, name,
                                f->abi_version, VB_TASK_ABI_VERSION), -1;
            if (vb__family_table_check(f, err, err_len) != 0) return -1;
            *out = f;
            return 0;
        }
        if (used < sizeof names)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "",
                                     f->name ? f->name : "(unnamed)");
    }
    return snprintf(err, err_len, "env.plugin %s: no task family '%s' (it has: %s)", path, name,
                    used ? names : "none"), -1;
}

int vb__plugin_family(const char *path, const char *name, const vb_task_family **out, char *err, size_t err_len) {
    *out = NULL;
    if (!path[0]) return snprintf(err, err_len, "env.name plugin needs env.plugin (the shared library)"), -1;
    if (!name[0]) return snprintf(err, err_len, "env.name plugin needs env.family (the family's name)"), -1;
    pthread_mutex_lock(&load_lock);
    /* a bare file name would make dlopen search the system's library path */
    char local[512];
    snprintf(local, sizeof local, "%s%s", strchr(path, '/') ? "" : "./", path);
    void *lib = dlopen(local, RTLD_NOW | RTLD_LOCAL);
    int rc;
    if (!lib) {
        const char *why = dlerror();
        snprintf(err, err_len, "env.plugin %s: cannot load it: %s", path, why ? why : "unknown reason");
        rc = -1;
    } else {
        rc = find(lib, path, name, out, err, err_len);
    }
    pthread_mutex_unlock(&load_lock);
    return rc;
}
