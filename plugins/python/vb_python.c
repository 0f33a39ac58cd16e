/* vb_python — task families written in Python, as a task-family plugin
 * (include/varibased/task_family.h). It embeds CPython in the process that
 * loads it (the learner, an actor) and drives the user's class, one object
 * per environment, through vb_python.py (installed next to this library):
 *
 *     env:
 *       name: plugin
 *       plugin: build/plugins/libvb_python.so
 *       family: python
 *       args: "class=examples/gridnavi_python/gridnavi.py:GridNavi size=5"
 *
 * `class` names the class; every other pair becomes a keyword argument.
 *
 * Speed: every reset and step is a Python call under the GIL (about a
 * microsecond of overhead each, plus the user's code). The stateless
 * callbacks the planner and the learner call per imagined step
 * (reward_cell, transition, state_cell, cell_obs) are tabulated once when
 * the spec declares state cells, so planning does not enter Python; with
 * continuous observations they call Python each time.
 *
 * Errors: an exception becomes the callback's error, its first line
 * "Type: message" followed by the traceback, which the program logs. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <varibased/task_family.h>

/* --- the interpreter ------------------------------------------------------ */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static char init_error[1024];
static PyObject *helper;       /* the vb_python module */
static PyTypeObject *rng_type; /* varibased.Rng */

typedef struct rng_object {
    PyObject_HEAD
    const vb_task_host *host;
    vb_task_rng *rng; /* set around each call that may draw */
} rng_object;

static PyObject *rng_below(PyObject *self, PyObject *arg) {
    rng_object *r = (rng_object *)self;
    unsigned long long n = PyLong_AsUnsignedLongLong(arg);
    if (PyErr_Occurred()) return NULL;
    if (n < 1 || n > UINT32_MAX) return PyErr_Format(PyExc_ValueError, "rng.below(%llu): expected 1 .. 2**32 - 1", n);
    if (!r->rng) return PyErr_Format(PyExc_RuntimeError, "self.rng draws only inside sample_task, reset and step");
    return PyLong_FromUnsignedLong(r->host->below(r->rng, (uint32_t)n));
}

static PyObject *rng_uniform(PyObject *self, PyObject *unused) {
    rng_object *r = (rng_object *)self;
    if (!r->rng) return PyErr_Format(PyExc_RuntimeError, "self.rng draws only inside sample_task, reset and step");
    return PyFloat_FromDouble(r->host->uniform(r->rng));
}

static PyObject *rng_normal(PyObject *self, PyObject *unused) {
    rng_object *r = (rng_object *)self;
    if (!r->rng) return PyErr_Format(PyExc_RuntimeError, "self.rng draws only inside sample_task, reset and step");
    return PyFloat_FromDouble(r->host->normal(r->rng));
}

static PyMethodDef rng_methods[] = {
    {"below", rng_below, METH_O, "below(n): a uniform integer in [0, n)"},
    {"uniform", rng_uniform, METH_NOARGS, "uniform(): a uniform float in [0, 1)"},
    {"normal", rng_normal, METH_NOARGS, "normal(): a standard normal"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot rng_slots[] = {
    {Py_tp_methods, rng_methods},
    {Py_tp_doc, "an environment's random stream (the program's; reproducible per seed and environment)"},
    {0, NULL},
};

static PyType_Spec rng_spec = {"varibased.Rng", sizeof(rng_object), 0, Py_TPFLAGS_DEFAULT, rng_slots};

/* The folder this library was loaded from (vb_python.py lies there). */
static void own_dir(char *out, size_t len) {
    Dl_info info;
    out[0] = 0;
    if (dladdr((void *)&own_dir, &info) && info.dli_fname) {
        snprintf(out, len, "%s", info.dli_fname);
        char *slash = strrchr(out, '/');
        if (slash) *slash = 0;
        else snprintf(out, len, ".");
    }
}

static void init_interpreter(void) {
    Py_InitializeEx(0); /* no signal handlers: the program keeps SIGINT and SIGTERM */
    char dir[1024];
    own_dir(dir, sizeof dir);
    PyObject *path = PySys_GetObject("path"); /* borrowed */
    PyObject *d = PyUnicode_FromString(dir);
    if (path && d) PyList_Insert(path, 0, d);
    Py_XDECREF(d);
    helper = PyImport_ImportModule("vb_python");
    rng_type = (PyTypeObject *)PyType_FromSpec(&rng_spec);
    if (!helper || !rng_type) {
        snprintf(init_error, sizeof init_error, "the Python bridge cannot start: vb_python.py not found next to the "
                                                "bridge library in %s, or Python failed", dir);
        PyErr_Print();
    }
    PyEval_SaveThread(); /* release the GIL: every call below takes it */
}

static int ensure_interpreter(char *err, size_t err_len) {
    pthread_once(&init_once, init_interpreter);
    if (init_error[0]) return snprintf(err, err_len, "%s", init_error), -1;
    return 0;
}

/* The pending exception as "what: Type: message" then the traceback; clears it. */
static void py_error(char *err, size_t err_len, const char *what) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *msg = value ? PyObject_Str(value) : NULL;
    PyObject *mod = PyImport_ImportModule("traceback");
    PyObject *lines = mod ? PyObject_CallMethod(mod, "format_exception", "OOO", type ? type : Py_None,
                                                value ? value : Py_None, tb ? tb : Py_None)
                          : NULL;
    PyObject *empty = PyUnicode_FromString("");
    PyObject *joined = lines && empty ? PyUnicode_Join(empty, lines) : NULL;
    const char *m = msg ? PyUnicode_AsUTF8(msg) : NULL;
    const char *t = joined ? PyUnicode_AsUTF8(joined) : NULL;
    snprintf(err, err_len, "%s: %s: %s\n%s", what, type ? ((PyTypeObject *)type)->tp_name : "error", m ? m : "",
             t ? t : "");
    PyErr_Clear();
    Py_XDECREF(msg);
    Py_XDECREF(mod);
    Py_XDECREF(lines);
    Py_XDECREF(empty);
    Py_XDECREF(joined);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* n floats from a Python sequence into out. 0, or -1 with a Python error set. */
static int floats_from(PyObject *seq, float *out, int64_t n, const char *what) {
    PyObject *fast = PySequence_Fast(seq, what);
    if (!fast) return -1;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    if (len != n) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "%s has %zd values, the spec's obs_size is %lld", what, len, (long long)n);
        return -1;
    }
    PyObject **items = PySequence_Fast_ITEMS(fast);
    for (Py_ssize_t j = 0; j < len; j++) {
        double v = PyFloat_AsDouble(items[j]);
        if (v == -1.0 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
        out[j] = (float)v;
    }
    Py_DECREF(fast);
    return 0;
}

static PyObject *list_from(const float *v, int64_t n) {
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (int64_t j = 0; l && j < n; j++) PyList_SET_ITEM(l, j, PyFloat_FromDouble(v[j]));
    return l;
}

/* --- families: one per (class, arguments), kept for the process ------------ */

enum { MAX_FAMILIES = 64, TABLE_MAX = 1 << 20 };

typedef struct py_family {
    char key[1024];     /* the class and its arguments */
    PyObject *cls;      /* the user's class */
    PyObject *kwargs;   /* its keyword arguments */
    PyObject *proto;    /* an instance for the stateless callbacks */
    int64_t O, A, S;
    int64_t reward_cells;
    float *cell_obs;    /* (S, O) */
    int32_t *next_cell; /* (S, A) task-independent successors, or NULL */
    int32_t *rcell;     /* (S, A, S) reward cells, or NULL */
} py_family;

static pthread_mutex_t families_lock = PTHREAD_MUTEX_INITIALIZER;
static py_family families[MAX_FAMILIES];
static int n_families;

static py_family *family_of_spec(const vb_task_spec *s) {
    int32_t k;
    memcpy(&k, s->data.bytes, sizeof k);
    return &families[k];
}

/* A cell's index from its observation: the tabulated cell with exactly
 * these values, else the nearest one. */
static int64_t table_cell(const py_family *f, const float *obs) {
    int64_t best = 0;
    double best_d = -1;
    for (int64_t c = 0; c < f->S; c++) {
        double d = 0;
        for (int64_t j = 0; j < f->O; j++) {
            double e = (double)f->cell_obs[c * f->O + j] - (double)obs[j];
            d += e * e;
        }
        if (best_d < 0 || d < best_d) {
            best = c;
            best_d = d;
            if (d == 0) break;
        }
    }
    return best;
}

/* int of a Python call's result; -1 with a Python error set on failure */
static int64_t call_int(PyObject *r) {
    if (!r) return -1;
    long long v = PyLong_AsLongLong(r);
    Py_DECREF(r);
    return v;
}

/* The tables of a family with state cells. 0, or -1 with a Python error set. */
static int tabulate(py_family *f, int independent) {
    f->cell_obs = calloc((size_t)(f->S * f->O), sizeof(float));
    if (!f->cell_obs) return PyErr_NoMemory(), -1;
    for (int64_t c = 0; c < f->S; c++) {
        PyObject *o = PyObject_CallMethod(f->proto, "cell_obs", "L", (long long)c);
        int bad = !o || floats_from(o, f->cell_obs + c * f->O, f->O, "cell_obs(cell)") != 0;
        Py_XDECREF(o);
        if (bad) return -1;
    }
    if (independent) {
        f->next_cell = calloc((size_t)(f->S * f->A), sizeof(int32_t));
        float *next = malloc(sizeof(float) * (size_t)f->O);
        if (!f->next_cell || !next) return free(next), PyErr_NoMemory(), -1;
        for (int64_t c = 0; c < f->S; c++)
            for (int64_t a = 0; a < f->A; a++) {
                PyObject *obs = list_from(f->cell_obs + c * f->O, f->O);
                PyObject *o = obs ? PyObject_CallMethod(f->proto, "transition", "OL", obs, (long long)a) : NULL;
                int bad = !o || floats_from(o, next, f->O, "transition(obs, action)") != 0;
                Py_XDECREF(obs);
                Py_XDECREF(o);
                if (bad) return free(next), -1;
                f->next_cell[c * f->A + a] = (int32_t)table_cell(f, next);
            }
        free(next);
    }
    if (f->S * f->A * f->S <= TABLE_MAX) {
        f->rcell = calloc((size_t)(f->S * f->A * f->S), sizeof(int32_t));
        if (!f->rcell) return PyErr_NoMemory(), -1;
        for (int64_t c = 0; c < f->S; c++) {
            PyObject *obs = list_from(f->cell_obs + c * f->O, f->O);
            if (!obs) return -1;
            for (int64_t a = 0; a < f->A; a++)
                for (int64_t d = 0; d < f->S; d++) {
                    PyObject *nx = list_from(f->cell_obs + d * f->O, f->O);
                    int64_t v = nx ? call_int(PyObject_CallMethod(f->proto, "reward_cell", "OLO", obs, (long long)a, nx))
                                   : -1;
                    Py_XDECREF(nx);
                    if (v == -1 && PyErr_Occurred()) return Py_DECREF(obs), -1;
                    f->rcell[(c * f->A + a) * f->S + d] = (int32_t)v;
                }
            Py_DECREF(obs);
        }
    }
    return 0;
}

static void family_free(py_family *f) {
    Py_XDECREF(f->cls);
    Py_XDECREF(f->kwargs);
    Py_XDECREF(f->proto);
    free(f->cell_obs);
    free(f->next_cell);
    free(f->rcell);
    memset(f, 0, sizeof *f);
}

static int family_find(const char *key) {
    int found = -1;
    pthread_mutex_lock(&families_lock);
    for (int k = 0; k < n_families; k++)
        if (strcmp(families[k].key, key) == 0) found = k;
    pthread_mutex_unlock(&families_lock);
    return found;
}

/* The class, its keyword arguments and a prototype object, with the key of
 * (class, args). Holds the GIL; no lock is held across Python calls (Python
 * may switch threads inside them). 0, or -1 with err. */
static int family_build(const vb_task_host *h, const vb_task_args *args, py_family *f, char *err, size_t err_len) {
    const char *cls_name = NULL, *key, *val;
    size_t used = 0;
    PyObject *pairs = PyList_New(0);
    for (int k = 0; pairs && h->arg_at(args, k, &key, &val) == 0; k++) {
        if (strcmp(key, "class") == 0) cls_name = val;
        else {
            PyObject *pair = Py_BuildValue("(ss)", key, val);
            if (pair) PyList_Append(pairs, pair);
            Py_XDECREF(pair);
        }
        if (used < sizeof f->key) used += (size_t)snprintf(f->key + used, sizeof f->key - used, "%s=%s ", key, val);
    }
    if (!pairs) return py_error(err, err_len, "arguments"), -1;
    if (!cls_name) {
        Py_DECREF(pairs);
        return snprintf(err, err_len, "env.args needs class=package.module:Class or class=path/to/file.py:Class"), -1;
    }
    if (family_find(f->key) >= 0) return Py_DECREF(pairs), 0;
    f->cls = PyObject_CallMethod(helper, "load", "s", cls_name);
    f->kwargs = f->cls ? PyObject_CallMethod(helper, "kwargs", "O", pairs) : NULL;
    PyObject *empty = PyTuple_New(0);
    f->proto = f->kwargs && empty ? PyObject_Call(f->cls, empty, f->kwargs) : NULL;
    Py_XDECREF(empty);
    Py_DECREF(pairs);
    if (!f->proto) return py_error(err, err_len, cls_name), family_free(f), -1;
    return 0;
}

/* f's spec into s, and (tables) f's tables where it has state cells. Holds the GIL. */
static int family_spec(py_family *f, vb_task_spec *s, int tables, char *err, size_t err_len) {
    PyObject *t = PyObject_CallMethod(helper, "spec", "O", f->proto);
    long long obs_size, actions, kind, ep_len, episodes, indep, cells, rcells, regret;
    double lvl0, lvl1, noise, prior;
    if (!t || !PyArg_ParseTuple(t, "LLLdddLLLLLdL", &obs_size, &actions, &kind, &lvl0, &lvl1, &noise, &ep_len,
                                &episodes, &indep, &cells, &rcells, &prior, &regret)) {
        Py_XDECREF(t);
        return py_error(err, err_len, "spec()"), -1;
    }
    Py_DECREF(t);
    s->obs_size = obs_size;
    s->obs_layout = "a Python task's observation";
    s->num_actions = actions;
    s->reward_kind = (int32_t)kind;
    s->reward_levels[0] = (float)lvl0;
    s->reward_levels[1] = (float)lvl1;
    s->reward_noise_std = noise;
    s->episode_length = ep_len;
    s->episodes_per_task = episodes;
    s->task_independent_transitions = (int32_t)indep;
    s->state_cells = cells;
    s->reward_cells = rcells;
    f->reward_cells = rcells;
    s->reward_cell_layout = "the Python task's reward_cell";
    s->cell_hit_prior = prior;
    s->reports_regret = (int32_t)regret;
    /* the program checks the sizes after this; tabulate only what it would accept */
    if (tables && cells > 0 && cells <= (1 << 20) && obs_size > 0 && obs_size <= (1 << 16) && actions > 0 &&
        actions <= (1 << 16)) {
        f->O = obs_size;
        f->A = actions;
        f->S = cells;
        if (tabulate(f, (int)indep) != 0) return py_error(err, err_len, "tabulating cell_obs, transition, reward_cell"), -1;
    }
    return 0;
}

/* The registered family of (class, args), found or built and registered,
 * its spec in s and its index in s->data. */
static int family_load(const vb_task_host *h, const vb_task_args *args, vb_task_spec *s, char *err,
                       size_t err_len) {
    py_family f = {0};
    if (family_build(h, args, &f, err, err_len) != 0) return -1;
    int32_t index = family_find(f.key);
    if (index >= 0) {
        family_free(&f);
        if (family_spec(&families[index], s, 0, err, err_len) != 0) return -1;
    } else {
        if (family_spec(&f, s, 1, err, err_len) != 0) return family_free(&f), -1;
        pthread_mutex_lock(&families_lock);
        for (int k = 0; k < n_families && index < 0; k++)
            if (strcmp(families[k].key, f.key) == 0) index = k; /* another thread won */
        if (index < 0 && n_families < MAX_FAMILIES) {
            families[n_families] = f;
            index = n_families++;
            memset(&f, 0, sizeof f);
        }
        pthread_mutex_unlock(&families_lock);
        family_free(&f);
        if (index < 0)
            return snprintf(err, err_len, "more than %d Python task families in one process", MAX_FAMILIES), -1;
    }
    memcpy(s->data.bytes, &index, sizeof index);
    return 0;
}

static int py_spec(const vb_task_host *h, const vb_task_args *args, vb_task_spec *s, char *err, size_t err_len) {
    if (ensure_interpreter(err, err_len) != 0) return -1;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = family_load(h, args, s, err, err_len);
    PyGILState_Release(g);
    return rc;
}

/* --- environments ---------------------------------------------------------- */

typedef struct py_batch {
    py_family *f;
    int64_t n, O;
    PyObject **env;  /* (n) the user's objects */
    PyObject **task; /* (n) their current tasks */
    rng_object **rng;
} py_batch;

static void py_destroy(void *state) {
    py_batch *b = state;
    if (!b) return;
    PyGILState_STATE g = PyGILState_Ensure();
    for (int64_t i = 0; i < b->n; i++) {
        if (b->env) Py_XDECREF(b->env[i]);
        if (b->task) Py_XDECREF(b->task[i]);
        if (b->rng) Py_XDECREF((PyObject *)b->rng[i]);
    }
    PyGILState_Release(g);
    free(b->env);
    free(b->task);
    free(b->rng);
    free(b);
}

static int py_create(const vb_task_host *h, const vb_task_spec *s, int64_t n, void **state, char *err,
                     size_t err_len) {
    py_batch *b = calloc(1, sizeof *b);
    if (!b) return snprintf(err, err_len, "out of memory"), -1;
    *state = b;
    b->f = family_of_spec(s);
    b->O = s->obs_size;
    b->env = calloc((size_t)n, sizeof *b->env);
    b->task = calloc((size_t)n, sizeof *b->task);
    b->rng = calloc((size_t)n, sizeof *b->rng);
    if (!b->env || !b->task || !b->rng) return snprintf(err, err_len, "out of memory"), -1;
    b->n = n;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *empty = PyTuple_New(0);
    int rc = 0;
    for (int64_t i = 0; rc == 0 && i < n; i++) {
        b->rng[i] = (rng_object *)PyType_GenericAlloc(rng_type, 0);
        b->env[i] = b->rng[i] && empty ? PyObject_Call(b->f->cls, empty, b->f->kwargs) : NULL;
        if (!b->env[i] || PyObject_SetAttrString(b->env[i], "rng", (PyObject *)b->rng[i]) != 0) {
            py_error(err, err_len, "creating an environment");
            rc = -1;
        } else {
            b->rng[i]->host = h;
        }
    }
    Py_XDECREF(empty);
    PyGILState_Release(g);
    return rc;
}

/* obs of env i from a Python observation. 0, or -1 with a Python error set. */
static int write_obs(py_batch *b, const vb_task_io *io, int64_t i, PyObject *obs, const char *what) {
    return floats_from(obs, io->obs + i * b->O, b->O, what);
}

/* obj.method(arg) with arg passed as one argument, whatever its type (a
 * tuple given to PyObject_CallMethod's "O" would become the argument list). */
static PyObject *call_one(PyObject *obj, const char *method, PyObject *arg) {
    PyObject *name = PyUnicode_FromString(method);
    PyObject *r = name ? PyObject_CallMethodOneArg(obj, name, arg) : NULL;
    Py_XDECREF(name);
    return r;
}

static int start_episode(py_batch *b, const vb_task_io *io, int64_t i) {
    PyObject *obs = call_one(b->env[i], "reset", b->task[i]);
    int rc = obs ? write_obs(b, io, i, obs, "reset(task)") : -1;
    Py_XDECREF(obs);
    return rc;
}

static int py_reset_task(void *state, const vb_task_io *io, int64_t i) {
    py_batch *b = state;
    PyGILState_STATE g = PyGILState_Ensure();
    b->rng[i]->rng = vb_task_env_rng(io, i);
    PyObject *task = PyObject_CallMethod(b->env[i], "sample_task", NULL);
    int rc = -1;
    if (task) {
        Py_XDECREF(b->task[i]);
        b->task[i] = task;
        rc = start_episode(b, io, i);
    }
    b->rng[i]->rng = NULL;
    if (rc != 0) py_error(io->err, io->err_len, "sample_task/reset");
    PyGILState_Release(g);
    return rc;
}

static int py_reset_episode(void *state, const vb_task_io *io, int64_t i) {
    py_batch *b = state;
    PyGILState_STATE g = PyGILState_Ensure();
    b->rng[i]->rng = vb_task_env_rng(io, i);
    int rc = start_episode(b, io, i);
    b->rng[i]->rng = NULL;
    if (rc != 0) py_error(io->err, io->err_len, "reset");
    PyGILState_Release(g);
    return rc;
}

/* (obs, reward) or (obs, reward, regret) into env i's buffers. */
static int step_one(py_batch *b, const vb_task_io *io, int64_t i, int32_t action) {
    b->rng[i]->rng = vb_task_env_rng(io, i);
    PyObject *r = PyObject_CallMethod(b->env[i], "step", "i", action);
    b->rng[i]->rng = NULL;
    if (!r) return -1;
    int rc = -1;
    if (!PyTuple_Check(r) || (PyTuple_GET_SIZE(r) != 2 && PyTuple_GET_SIZE(r) != 3)) {
        PyErr_Format(PyExc_TypeError, "step(action) must return (obs, reward) or (obs, reward, regret)");
    } else if (write_obs(b, io, i, PyTuple_GET_ITEM(r, 0), "the observation step(action) returned") == 0) {
        double reward = PyFloat_AsDouble(PyTuple_GET_ITEM(r, 1));
        double regret = PyTuple_GET_SIZE(r) == 3 ? PyFloat_AsDouble(PyTuple_GET_ITEM(r, 2)) : 0.0;
        if (!PyErr_Occurred()) {
            io->reward[i] = (float)reward;
            io->regret[i] = (float)regret;
            rc = 0;
        }
    }
    Py_DECREF(r);
    return rc;
}

static int py_step(void *state, const vb_task_io *io, const int32_t *actions) {
    py_batch *b = state;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = 0;
    for (int64_t i = 0; rc == 0 && i < b->n; i++) rc = step_one(b, io, i, actions[i]);
    if (rc != 0) py_error(io->err, io->err_len, "step");
    PyGILState_Release(g);
    return rc;
}

static void py_task_cells(void *state, int64_t i, float *out) {
    py_batch *b = state;
    PyGILState_STATE g = PyGILState_Ensure();
    if (!PyObject_HasAttrString(b->env[i], "task_cells")) { /* no labels: zeros, said once */
        static int said;
        if (!said++)
            fprintf(stderr, "vb_python: the class has no task_cells(task), so learner.elbo_decode: task decodes "
                            "zeros; use elbo_decode: transitions\n");
        memset(out, 0, sizeof(float) * (size_t)b->f->reward_cells);
        PyGILState_Release(g);
        return;
    }
    PyObject *r = call_one(b->env[i], "task_cells", b->task[i] ? b->task[i] : Py_None);
    PyObject *fast = r ? PySequence_Fast(r, "task_cells(task)") : NULL;
    if (fast) {
        Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
        for (Py_ssize_t k = 0; k < len; k++) out[k] = (float)PyFloat_AsDouble(PySequence_Fast_GET_ITEM(fast, k));
    }
    if (PyErr_Occurred()) PyErr_Print();
    Py_XDECREF(fast);
    Py_XDECREF(r);
    PyGILState_Release(g);
}

/* --- the stateless callbacks: tables where there are cells, else Python ---- */

/* A Python call that cannot report an error: printed, and 0 returned. */
static int64_t py_cell_call(const py_family *f, const char *method, const char *fmt, PyObject *a, long long b,
                            PyObject *c) {
    PyObject *r = PyObject_CallMethod(f->proto, method, fmt, a, b, c);
    int64_t v = call_int(r);
    if (v == -1 && PyErr_Occurred()) {
        PyErr_Print();
        v = 0;
    }
    return v;
}

static int64_t py_state_cell(const vb_task_spec *s, const float *obs) {
    const py_family *f = family_of_spec(s);
    return table_cell(f, obs);
}

static void py_cell_obs(const vb_task_spec *s, int64_t cell, float *obs) {
    const py_family *f = family_of_spec(s);
    memcpy(obs, f->cell_obs + cell * f->O, sizeof(float) * (size_t)f->O);
}

static int64_t py_reward_cell(const vb_task_spec *s, const float *obs, int32_t action, const float *next) {
    const py_family *f = family_of_spec(s);
    if (f->rcell) return f->rcell[(table_cell(f, obs) * f->A + action) * f->S + table_cell(f, next)];
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *o = list_from(obs, s->obs_size), *nx = list_from(next, s->obs_size);
    int64_t v = o && nx ? py_cell_call(f, "reward_cell", "OLO", o, action, nx) : 0;
    Py_XDECREF(o);
    Py_XDECREF(nx);
    PyGILState_Release(g);
    return v;
}

static void py_transition(const vb_task_spec *s, const float *obs, int32_t action, float *next) {
    const py_family *f = family_of_spec(s);
    if (f->next_cell) {
        py_cell_obs(s, f->next_cell[table_cell(f, obs) * f->A + action], next);
        return;
    }
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *o = list_from(obs, s->obs_size);
    PyObject *r = o ? PyObject_CallMethod(f->proto, "transition", "OL", o, (long long)action) : NULL;
    if (!r || floats_from(r, next, s->obs_size, "transition(obs, action)") != 0) {
        PyErr_Print();
        memcpy(next, obs, sizeof(float) * (size_t)s->obs_size);
    }
    Py_XDECREF(o);
    Py_XDECREF(r);
    PyGILState_Release(g);
}

static const vb_task_family python_family = {
    VB_TASK_FAMILY_INIT,
    .name = "python",
    .description = "a task family written in Python (env.args: class=module:Class, then its keyword arguments)",
    .spec = py_spec,
    .create = py_create,
    .destroy = py_destroy,
    .reset_task = py_reset_task,
    .reset_episode = py_reset_episode,
    .step = py_step,
    .reward_cell = py_reward_cell,
    .transition = py_transition,
    .state_cell = py_state_cell,
    .cell_obs = py_cell_obs,
    .task_cells = py_task_cells,
};

VB_TASK_EXPORT(&python_family)
