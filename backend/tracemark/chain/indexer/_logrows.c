/*
 * The back-fill's reading of raw logs, compiled: `EventDecoder.read_rows` without the interpreter's cost per log.
 *
 * `read_rows(logs, readers, fallback)` gives, for each log of `logs` (a list of the dicts `eth_getLogs` answers),
 * the same `ReadRow` tuple `EventDecoder.read_row` gives (tracemark/chain/indexer/events.py). It reads only the
 * logs it can read exactly as that method does: a dict whose hex is canonical (`0x`, then hex digits; every topic
 * 32 bytes; the data a whole number of bytes; quantities of at most 15 digits) and whose event the `readers` table
 * lists with a shape this module knows. Any other log (malformed, unknown, an event with strings) goes to
 * `fallback(log)`, the Python method itself, so both ways give one answer by construction; the tests compare them.
 *
 * `readers` maps a lowercase address to a dict that maps topic 0 to
 *     (contract, event name, kind, topics, words, fields)
 * where kind is RAW (keep the log, read no fields), READ (read `fields`), CHECK (check the shape, read nothing) or
 * anything else (always fall back); `topics` counts topic 0; `words` is the number of data words of the event's
 * head; `fields` are (form, topic index or -1, data word index) with the forms of events.py (FIELD_*), except
 * FIELD_TEXT, which is never listed here.
 *
 * Built by `make setup` (the Makefile's `_logrows` rule); without it, events.py reads every log in Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { FORM_INT = 0, FORM_U256 = 1, FORM_ADDRESS = 2, FORM_WORD = 3 };
enum { KIND_RAW = 0, KIND_READ = 1, KIND_CHECK = 2 };

#define LOG_INDEX_BITS 20
#define TOPIC_CHARS 66 /* "0x" and 64 hex digits */
#define MAX_QUANTITY_DIGITS 15

static PyObject *key_address, *key_topics, *key_data, *key_block_number, *key_block_hash, *key_tx_hash,
    *key_tx_index, *key_log_index;
static signed char hex_value[256];

/* A log this module does not read: the caller hands it to the fallback. */
#define NOT_MINE ((PyObject *)&not_mine_marker)
static char not_mine_marker;

static int ascii_text(PyObject *o, const char **text, Py_ssize_t *length) {
    if (!PyUnicode_CheckExact(o) || !PyUnicode_IS_ASCII(o)) {
        return 0;
    }
    *text = (const char *)PyUnicode_1BYTE_DATA(o);
    *length = PyUnicode_GET_LENGTH(o);
    return 1;
}

static int all_hex(const char *text, Py_ssize_t length) {
    for (Py_ssize_t i = 0; i < length; i++) {
        if (hex_value[(unsigned char)text[i]] < 0) {
            return 0;
        }
    }
    return 1;
}

static void unhex(const char *text, Py_ssize_t length, char *out) {
    for (Py_ssize_t i = 0; i + 1 < length; i += 2) {
        *out++ = (char)((hex_value[(unsigned char)text[i]] << 4) | hex_value[(unsigned char)text[i + 1]]);
    }
}

/* `0x` and 1 to MAX_QUANTITY_DIGITS hex digits, read as `int(text, 16)` would; 0 if not of that shape. */
static int quantity(PyObject *o, uint64_t *value) {
    const char *text;
    Py_ssize_t length;
    if (!ascii_text(o, &text, &length) || length < 3 || length > 2 + MAX_QUANTITY_DIGITS || text[0] != '0' ||
        text[1] != 'x') {
        return 0;
    }
    uint64_t v = 0;
    for (Py_ssize_t i = 2; i < length; i++) {
        int digit = hex_value[(unsigned char)text[i]];
        if (digit < 0) {
            return 0;
        }
        v = (v << 4) | (uint64_t)digit;
    }
    *value = v;
    return 1;
}

/* A new ASCII str: `prefix` (may be NULL) and `length` characters of `text`, lowercased if `lower`. */
static PyObject *ascii_str(const char *prefix, const char *text, Py_ssize_t length, int lower) {
    Py_ssize_t prefix_length = prefix ? (Py_ssize_t)strlen(prefix) : 0;
    PyObject *out = PyUnicode_New(prefix_length + length, 127);
    if (out == NULL) {
        return NULL;
    }
    Py_UCS1 *chars = PyUnicode_1BYTE_DATA(out);
    if (prefix_length) {
        memcpy(chars, prefix, (size_t)prefix_length);
    }
    chars += prefix_length;
    for (Py_ssize_t i = 0; i < length; i++) {
        char c = text[i];
        chars[i] = (Py_UCS1)(lower && c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    return out;
}

/* A dict item by one of the interned keys; NULL with no error set if absent. */
static PyObject *item(PyObject *log, PyObject *key) { return PyDict_GetItemWithError(log, key); }

/* One field in its stored form, from a 64-digit word (`word`: the digits, without `0x`). */
static PyObject *field(long form, const char *word) {
    switch (form) {
    case FORM_U256:
        return ascii_str(NULL, word, 64, 1);
    case FORM_ADDRESS:
        return ascii_str("0x", word + 24, 40, 0);
    case FORM_WORD:
        return ascii_str("0x", word, 64, 0);
    case FORM_INT: {
        char digits[65];
        memcpy(digits, word, 64);
        digits[64] = '\0';
        return PyLong_FromString(digits, NULL, 16);
    }
    default:
        PyErr_Format(PyExc_ValueError, "_logrows: no stored form %ld", form);
        return NULL;
    }
}

/* The ReadRow of one log (a new reference), NOT_MINE, or NULL with an error set. */
static PyObject *read_one(PyObject *log, PyObject *readers) {
    if (!PyDict_CheckExact(log)) {
        return NOT_MINE;
    }
    PyObject *address = item(log, key_address), *topics = item(log, key_topics), *data = item(log, key_data);
    PyObject *number_o = item(log, key_block_number), *index_o = item(log, key_log_index);
    PyObject *tx_index_o = item(log, key_tx_index), *block_hash = item(log, key_block_hash);
    PyObject *tx_hash = item(log, key_tx_hash);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (!address || !topics || !data || !number_o || !index_o || !tx_index_o || !block_hash || !tx_hash) {
        return NOT_MINE;
    }
    const char *address_text, *data_text;
    Py_ssize_t address_length, data_length;
    if (!ascii_text(address, &address_text, &address_length) || !ascii_text(data, &data_text, &data_length)) {
        return NOT_MINE;
    }
    if (data_length < 2 || data_text[0] != '0' || data_text[1] != 'x' || (data_length - 2) % 2 != 0 ||
        !all_hex(data_text + 2, data_length - 2)) {
        return NOT_MINE;
    }
    if (!PyList_CheckExact(topics) || PyList_GET_SIZE(topics) < 1) {
        return NOT_MINE;
    }
    Py_ssize_t topic_count = PyList_GET_SIZE(topics);
    for (Py_ssize_t i = 0; i < topic_count; i++) {
        const char *text;
        Py_ssize_t length;
        if (!ascii_text(PyList_GET_ITEM(topics, i), &text, &length) || length != TOPIC_CHARS || text[0] != '0' ||
            text[1] != 'x' || !all_hex(text + 2, TOPIC_CHARS - 2)) {
            return NOT_MINE;
        }
    }
    uint64_t number, index, tx_index;
    if (!quantity(number_o, &number) || !quantity(index_o, &index) || !quantity(tx_index_o, &tx_index) ||
        number >= ((uint64_t)1 << (63 - LOG_INDEX_BITS))) {
        return NOT_MINE;
    }

    PyObject *lower = ascii_str(NULL, address_text, address_length, 1);
    if (lower == NULL) {
        return NULL;
    }
    PyObject *events = PyDict_GetItemWithError(readers, lower);
    PyObject *spec = events && PyDict_CheckExact(events) ? PyDict_GetItemWithError(events, PyList_GET_ITEM(topics, 0))
                                                         : NULL;
    if (spec == NULL || !PyTuple_CheckExact(spec) || PyTuple_GET_SIZE(spec) != 6) {
        Py_DECREF(lower);
        return PyErr_Occurred() ? NULL : NOT_MINE;
    }
    long kind = PyLong_AsLong(PyTuple_GET_ITEM(spec, 2));
    long wanted_topics = PyLong_AsLong(PyTuple_GET_ITEM(spec, 3));
    long words = PyLong_AsLong(PyTuple_GET_ITEM(spec, 4));
    PyObject *fields = PyTuple_GET_ITEM(spec, 5);
    if (PyErr_Occurred()) {
        Py_DECREF(lower);
        return NULL;
    }
    const char *body = data_text + 2;
    Py_ssize_t body_length = data_length - 2;
    if (kind != KIND_RAW &&
        ((kind != KIND_READ && kind != KIND_CHECK) || topic_count != wanted_topics || words < 0 ||
         body_length < 64 * (Py_ssize_t)words || !PyTuple_CheckExact(fields))) {
        Py_DECREF(lower);
        return NOT_MINE; /* the Python method decides: the full decoding, or a shape it reads itself */
    }

    PyObject *values = Py_None, *indexed = NULL, *payload = NULL, *row = NULL;
    Py_INCREF(Py_None);
    if (kind == KIND_READ) {
        Py_ssize_t count = PyTuple_GET_SIZE(fields);
        Py_DECREF(values);
        values = PyTuple_New(count);
        if (values == NULL) {
            goto fail;
        }
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *layout = PyTuple_GET_ITEM(fields, i);
            if (!PyTuple_CheckExact(layout) || PyTuple_GET_SIZE(layout) != 3) {
                PyErr_SetString(PyExc_ValueError, "_logrows: a field is (form, topic, word)");
                goto fail;
            }
            long form = PyLong_AsLong(PyTuple_GET_ITEM(layout, 0));
            long topic = PyLong_AsLong(PyTuple_GET_ITEM(layout, 1));
            long word = PyLong_AsLong(PyTuple_GET_ITEM(layout, 2));
            if (PyErr_Occurred()) {
                goto fail;
            }
            const char *digits;
            if (topic >= 0) {
                if (topic >= topic_count) {
                    PyErr_SetString(PyExc_ValueError, "_logrows: a field's topic is beyond the event's topics");
                    goto fail;
                }
                digits = (const char *)PyUnicode_1BYTE_DATA(PyList_GET_ITEM(topics, topic)) + 2;
            } else {
                if (word < 0 || word >= words) {
                    PyErr_SetString(PyExc_ValueError, "_logrows: a field's word is beyond the event's head");
                    goto fail;
                }
                digits = body + 64 * word;
            }
            PyObject *value = field(form, digits);
            if (value == NULL) {
                goto fail;
            }
            PyTuple_SET_ITEM(values, i, value);
        }
    }
    indexed = PyBytes_FromStringAndSize(NULL, 32 * (topic_count - 1));
    payload = PyBytes_FromStringAndSize(NULL, body_length / 2);
    if (indexed == NULL || payload == NULL) {
        goto fail;
    }
    for (Py_ssize_t i = 1; i < topic_count; i++) {
        unhex((const char *)PyUnicode_1BYTE_DATA(PyList_GET_ITEM(topics, i)) + 2, 64,
              PyBytes_AS_STRING(indexed) + 32 * (i - 1));
    }
    unhex(body, body_length, PyBytes_AS_STRING(payload));
    row = PyTuple_New(12);
    if (row == NULL) {
        goto fail;
    }
    PyObject *parts[12] = {
        PyLong_FromUnsignedLongLong((number << LOG_INDEX_BITS) | index), PyLong_FromUnsignedLongLong(number),
        block_hash, tx_hash, PyLong_FromUnsignedLongLong(tx_index), PyLong_FromUnsignedLongLong(index), lower,
        PyTuple_GET_ITEM(spec, 0), PyTuple_GET_ITEM(spec, 1), values, indexed, payload,
    };
    /* The row owns what it holds from here on: new references (the numbers, lower, values, indexed, payload) are
       moved in, borrowed ones (the hashes, the names) are taken. */
    Py_INCREF(block_hash);
    Py_INCREF(tx_hash);
    Py_INCREF(parts[7]);
    Py_INCREF(parts[8]);
    for (int i = 0; i < 12; i++) {
        PyTuple_SET_ITEM(row, i, parts[i]);
    }
    if (parts[0] == NULL || parts[1] == NULL || parts[4] == NULL || parts[5] == NULL) {
        Py_DECREF(row); /* PyTuple's dealloc skips the NULL items and releases the others */
        return NULL;
    }
    return row;

fail:
    Py_DECREF(lower);
    Py_XDECREF(values);
    Py_XDECREF(indexed);
    Py_XDECREF(payload);
    return NULL;
}

static PyObject *read_rows(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "read_rows(logs, readers, fallback) takes three arguments");
        return NULL;
    }
    PyObject *logs = args[0], *readers = args[1], *fallback = args[2];
    if (!PyList_CheckExact(logs) || !PyDict_CheckExact(readers) || !PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "read_rows(logs, readers, fallback): a list, a dict and a callable");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(logs);
    PyObject *rows = PyList_New(count);
    if (rows == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *log = PyList_GET_ITEM(logs, i);
        Py_INCREF(log); /* the fallback may run any code, even code that changes the list */
        PyObject *row = read_one(log, readers);
        if (row == NOT_MINE) {
            row = PyObject_CallOneArg(fallback, log);
        }
        Py_DECREF(log);
        if (row == NULL) {
            Py_DECREF(rows);
            return NULL;
        }
        PyList_SET_ITEM(rows, i, row);
        if (PyList_GET_SIZE(logs) != count) {
            Py_DECREF(rows);
            PyErr_SetString(PyExc_RuntimeError, "read_rows: the list of logs changed while it was read");
            return NULL;
        }
    }
    return rows;
}

static PyMethodDef methods[] = {
    {"read_rows", (PyCFunction)(void (*)(void))read_rows, METH_FASTCALL,
     "read_rows(logs, readers, fallback) -> list: EventDecoder.read_row of every log (see the module source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_logrows", "The back-fill's reading of raw logs, compiled (see _logrows.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__logrows(void) {
    memset(hex_value, -1, sizeof hex_value);
    for (int c = '0'; c <= '9'; c++) {
        hex_value[c] = (signed char)(c - '0');
    }
    for (int c = 'a'; c <= 'f'; c++) {
        hex_value[c] = (signed char)(c - 'a' + 10);
        hex_value[c - 'a' + 'A'] = (signed char)(c - 'a' + 10);
    }
    const char *names[] = {"address", "topics", "data", "blockNumber", "blockHash", "transactionHash",
                           "transactionIndex", "logIndex"};
    PyObject **keys[] = {&key_address, &key_topics, &key_data, &key_block_number, &key_block_hash, &key_tx_hash,
                         &key_tx_index, &key_log_index};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        *keys[i] = PyUnicode_InternFromString(names[i]);
        if (*keys[i] == NULL) {
            return NULL;
        }
    }
    return PyModule_Create(&module);
}
