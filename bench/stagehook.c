/*
 * bench/stages.py's probe: a PEP 523 frame evaluator that keeps track of
 * which stage of proxykit's request path the running Python frame belongs
 * to, and turns callgrind's event collection on only while that is the
 * stage being measured.  Compiled by bench/stages.py, for CPython 3.11 and
 * later (it reads the frame's code object), and used only under
 * valgrind --tool=callgrind (the client requests are no-ops elsewhere).
 *
 * Each code object is classified once, by a Python callable (code -> stage
 * number, or -1: the stage of its caller); the answer is kept in a table
 * keyed by the code object's address.  C functions called from a frame
 * (httptools' parser, dict and bytes methods, the allocator) count for the
 * stage of that frame.  A garbage collection counts for its own stage
 * (gcCallback, itself the gc.callbacks entry: a Python callback's frame
 * would put its caller's stage back when it returns).
 */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE
#include <Python.h>
#include "internal/pycore_frame.h"
#include <valgrind/callgrind.h>

#define INHERIT 255
#define ALL (-2)
#define NONE (-1)
#define SLOTS (1 << 16)
#define DEPTH 64

static void *keys[SLOTS];
static unsigned char values[SLOTS];
static PyObject *classifier = NULL;
static int classifying = 0;
static int current = 0;
static int target = NONE;
static int collecting = 0;
static int gcSaved[DEPTH];
static int gcDepth = 0;
static int gcStage = 0;

static void
enter(int stage)
{
    int want = target == ALL || stage == target;
    if (want != collecting) {
        CALLGRIND_TOGGLE_COLLECT;
        collecting = want;
    }
    current = stage;
}

static int
stageOf(PyObject *code)
{
    size_t i = ((size_t)code >> 4) & (SLOTS - 1);
    while (keys[i] != NULL && keys[i] != code) {
        i = (i + 1) & (SLOTS - 1);
    }
    if (keys[i] == NULL) {
        long stage;
        PyObject *answer;
        int wasCollecting = collecting;
        if (classifying || classifier == NULL) {
            return -1;
        }
        if (wasCollecting) {
            CALLGRIND_TOGGLE_COLLECT;
        }
        classifying = 1;
        answer = PyObject_CallOneArg(classifier, code);
        classifying = 0;
        if (wasCollecting) {
            CALLGRIND_TOGGLE_COLLECT;
        }
        if (answer == NULL) {
            PyErr_WriteUnraisable(code);
            stage = INHERIT;
        } else {
            stage = PyLong_AsLong(answer);
            Py_DECREF(answer);
            if (stage < 0 || stage >= INHERIT) {
                stage = INHERIT;
            }
        }
        Py_INCREF(code);
        keys[i] = code;
        values[i] = (unsigned char)stage;
    }
    return values[i] == INHERIT ? current : values[i];
}

static PyObject *
evaluate(PyThreadState *tstate, _PyInterpreterFrame *frame, int throwflag)
{
    int stage = stageOf((PyObject *)frame->f_code);
    int caller = current;
    PyObject *result;
    if (stage < 0) {
        return _PyEval_EvalFrameDefault(tstate, frame, throwflag);
    }
    enter(stage);
    result = _PyEval_EvalFrameDefault(tstate, frame, throwflag);
    enter(caller);
    return result;
}

static PyObject *
install(PyObject *self, PyObject *args)
{
    PyObject *callable;
    if (!PyArg_ParseTuple(args, "Oii", &callable, &current, &gcStage)) {
        return NULL;
    }
    Py_INCREF(callable);
    Py_XSETREF(classifier, callable);
    _PyInterpreterState_SetEvalFrameFunc(PyInterpreterState_Get(), evaluate);
    Py_RETURN_NONE;
}

static PyObject *
uninstall(PyObject *self, PyObject *unused)
{
    _PyInterpreterState_SetEvalFrameFunc(PyInterpreterState_Get(), _PyEval_EvalFrameDefault);
    Py_RETURN_NONE;
}

static PyObject *
measure(PyObject *self, PyObject *args)
{
    /* measure(stage): collect while STAGE runs (-2: always, -1: never). */
    if (!PyArg_ParseTuple(args, "i", &target)) {
        return NULL;
    }
    enter(current);
    Py_RETURN_NONE;
}

static PyObject *
startInstrumentation(PyObject *self, PyObject *unused)
{
    CALLGRIND_START_INSTRUMENTATION;
    Py_RETURN_NONE;
}

static PyObject *
zero(PyObject *self, PyObject *unused)
{
    CALLGRIND_ZERO_STATS;
    Py_RETURN_NONE;
}

static PyObject *
dump(PyObject *self, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) {
        return NULL;
    }
    CALLGRIND_DUMP_STATS_AT(name);
    Py_RETURN_NONE;
}

static PyObject *
gcStart(PyObject *self, PyObject *unused)
{
    if (gcDepth < DEPTH) {
        gcSaved[gcDepth] = current;
    }
    gcDepth++;
    enter(gcStage);
    Py_RETURN_NONE;
}

static PyObject *
gcStop(PyObject *self, PyObject *unused)
{
    if (gcDepth > 0) {
        gcDepth--;
        if (gcDepth < DEPTH) {
            enter(gcSaved[gcDepth]);
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
gcCallback(PyObject *self, PyObject *args)
{
    /* gc.callbacks entry: gcCallback(phase, info). */
    PyObject *phase, *info;
    if (!PyArg_ParseTuple(args, "UO", &phase, &info)) {
        return NULL;
    }
    if (PyUnicode_CompareWithASCIIString(phase, "start") == 0) {
        return gcStart(self, NULL);
    }
    return gcStop(self, NULL);
}

static PyObject *
currentStage(PyObject *self, PyObject *unused)
{
    return PyLong_FromLong(current);
}

static PyMethodDef methods[] = {
    {"install", install, METH_VARARGS, "install(classifier, startStage, gcStage)"},
    {"uninstall", uninstall, METH_NOARGS, "back to CPython's own frame evaluator"},
    {"measure", measure, METH_VARARGS, "measure(stage): -2 always, -1 never"},
    {"startInstrumentation", startInstrumentation, METH_NOARGS, NULL},
    {"zero", zero, METH_NOARGS, NULL},
    {"dump", dump, METH_VARARGS, NULL},
    {"gcStart", gcStart, METH_NOARGS, NULL},
    {"gcStop", gcStop, METH_NOARGS, NULL},
    {"gcCallback", gcCallback, METH_VARARGS, "the gc.callbacks entry"},
    {"current", currentStage, METH_NOARGS, "the stage running now"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_stagehook", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__stagehook(void)
{
    return PyModule_Create(&module);
}
