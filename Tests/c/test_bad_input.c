/*
 * test_bad_input: malformed input to every part of the C API, one table row per case: the call,
 * the status it must return, and a fragment its message must contain (the thread's last error,
 * or a file's own result message for nnrt_session_classify_files).
 *
 *   test_bad_input [MODEL]    MODEL: any MNIST model file (default: a random 784-30-10 network)
 *
 * The last line is "N cases: N passed, N failed"; the exit status is 0 only if every case passed.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"
#include "nnrt.h"

/* ----------------------------------------------------------------------------------------- */
/* Fixtures shared by the cases */

static nnrt_model *model;     /* the MNIST model under test */
static nnrt_session *session; /* a session of it */
static uint8_t *model_bytes;  /* the bytes of a valid model file */
static size_t model_size;
static char dir[64];
static float x[2 * 784], outputs[40];
static uint8_t pixels[2 * 784];
static int32_t labels[4];
static nnrt_file_result results[4];
static const char *file_message; /* set by the classify_files cases: the file's own message */

static const char *path(const char *name) {
    static char buffers[4][256];
    static int next;
    char *p = buffers[next++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static void write_file(const char *name, const void *data, size_t size) {
    if (fixture_write(path(name), data, size) != 0) {
        fprintf(stderr, "test_bad_input: cannot write %s\n", path(name));
        exit(2);
    }
}

/* nnrt_model_load, also checking that a failure leaves *out_model NULL (-1 if it does not). */
static nnrt_status load(const char *p) {
    nnrt_model *m = (nnrt_model *)&m; /* anything but NULL */
    nnrt_status status = nnrt_model_load(p, &m);
    if (status == NNRT_OK) {
        nnrt_model_free(m);
    } else if (m != NULL) {
        return -1;
    }
    return status;
}

static nnrt_status load_memory(const void *data, size_t size) {
    nnrt_model *m = (nnrt_model *)&m;
    nnrt_status status = nnrt_model_load_from_memory(data, size, &m);
    if (status == NNRT_OK) {
        nnrt_model_free(m);
    } else if (m != NULL) {
        return -1;
    }
    return status;
}

/* A model handle that has just been freed (created and freed inside each case, so no other
 * allocation can have reused its memory in between). */
static nnrt_model *freed_model(void) {
    nnrt_model *m = NULL;
    if (nnrt_model_load_from_memory(model_bytes, model_size, &m) != NNRT_OK) return NULL;
    nnrt_model_free(m);
    return m;
}

static nnrt_session *freed_session(void) {
    nnrt_session *s = NULL;
    if (nnrt_session_create(model, 1, &s) != NNRT_OK) return NULL;
    nnrt_session_free(s);
    return s;
}

/* nnrt_session_classify_files on one path: the file's status, its message in file_message. */
static nnrt_status classify_one(const char *p) {
    const char *paths[1];
    nnrt_status status;
    paths[0] = p;
    status = nnrt_session_classify_files(session, paths, 1, results, 1, NULL, 0);
    if (status != NNRT_OK) return status;
    file_message = results[0].message;
    return results[0].status;
}

static nnrt_status preprocess_pixels(size_t w, size_t h, size_t channels, size_t bytes, size_t row, size_t len) {
    return nnrt_model_preprocess_pixels(model, pixels, w, h, channels, bytes, row, outputs, len, NULL);
}

static const char pgm_too_large[] = "P5\n70000 70000\n255\n";
static const char pgm_truncated[] = "P5\n3 3\n255\n\x01\x02";
static const char text[] = "hello, I am not an image or a model";

/* ----------------------------------------------------------------------------------------- */
/* The cases */

typedef struct {
    const char *what;          /* the malformed input */
    nnrt_status (*call)(void); /* makes the call, returns its status */
    nnrt_status want;          /* the status it must return */
    const char *fragment;      /* the message must contain this (NULL: want is NNRT_OK) */
} bad_case;

#define CASE(fn, ...) static nnrt_status fn(void) { __VA_ARGS__ }

/* Model files and paths */
CASE(load_null_path, return load(NULL);)
CASE(load_null_out, return nnrt_model_load(path("model.nnrt"), NULL);)
CASE(load_empty_path, return load("");)
CASE(load_missing, return load(path("missing.nnrt"));)
CASE(load_directory, return load(dir);)
CASE(load_device, return load("/dev/null");)
CASE(load_below_a_file, return load(path("model.nnrt/x"));)
CASE(load_non_utf8_missing, return load(path("missing-\xff\xfe.nnrt"));)
CASE(load_non_utf8_valid, return load(path("model-\xe9t\xe9.nnrt"));) /* Latin-1 name: must load */
CASE(load_non_utf8_text, return load(path("text-\xff.nnrt"));)
CASE(load_empty_file, return load(path("empty.nnrt"));)
CASE(load_text_file, return load(path("text.nnrt"));)
CASE(load_truncated, return load(path("truncated.nnrt"));)
CASE(load_wrong_version, return load(path("version9.nnrt"));)
CASE(memory_null, return load_memory(NULL, 10);)
CASE(memory_zero_size, return load_memory(model_bytes, 0);)
CASE(memory_huge_size, return load_memory(model_bytes, SIZE_MAX);)
CASE(memory_garbage, return load_memory(text, sizeof text);)
CASE(memory_truncated, return load_memory(model_bytes, model_size - 7);)

/* Handles */
CASE(null_model, size_t n; return nnrt_model_input_size(NULL, &n);)
CASE(session_as_model, size_t n; return nnrt_model_input_size((const nnrt_model *)session, &n);)
CASE(model_as_session, return nnrt_session_predict((nnrt_session *)model, x, 1, 784, labels, 1, NULL, 0);)
CASE(freed_model_introspection, size_t n; return nnrt_model_class_count(freed_model(), &n);)
CASE(freed_model_predict, return nnrt_model_predict(freed_model(), x, 1, 784, labels, 1, NULL, 0);)
CASE(freed_model_session, nnrt_session *s = NULL; return nnrt_session_create(freed_model(), 1, &s);)
CASE(freed_session_predict, return nnrt_session_predict(freed_session(), x, 1, 784, labels, 1, NULL, 0);)
CASE(misaligned_handle, size_t n; return nnrt_model_input_size((const nnrt_model *)((const char *)model + 1), &n);)
CASE(small_integer_handle, size_t n; return nnrt_model_input_size((const nnrt_model *)(uintptr_t)0x40, &n);)
CASE(stack_buffer_handle, uint64_t fake[8] = {0}; size_t n;
     return nnrt_model_input_size((const nnrt_model *)(void *)fake, &n);)
CASE(ensemble_with_session, const nnrt_model *list[2]; nnrt_model *e = NULL;
     list[0] = model; list[1] = (const nnrt_model *)session;
     return nnrt_ensemble_create(list, 2, NNRT_VOTING_MAJORITY, &e);)
CASE(double_free_ignored, nnrt_model *m = freed_model(); nnrt_session *s = freed_session(); size_t n;
     nnrt_model_free(m); nnrt_session_free(s); nnrt_session_free((nnrt_session *)model);
     nnrt_model_free((nnrt_model *)session);
     /* the live handles given to the wrong free function still work */
     if (nnrt_session_threads(session, &n) != NNRT_OK) return -1;
     return nnrt_model_input_size(model, &n);)

/* Sizes and buffers */
CASE(count_zero, return nnrt_model_predict(model, x, 0, 784, labels, 1, NULL, 0);)
CASE(count_huge, return nnrt_model_predict(model, x, SIZE_MAX, 784, labels, 1, NULL, 0);)
CASE(count_overflows, return nnrt_model_predict(model, x, SIZE_MAX / 784 + 1, SIZE_MAX / 2, labels, 4, NULL, 0);)
CASE(inputs_short, return nnrt_model_predict(model, x, 2, 2 * 784 - 1, labels, 2, NULL, 0);)
CASE(inputs_len_negative, return nnrt_model_predict(model, x, 1, (size_t)-784, labels, 1, NULL, 0);)
CASE(labels_short, return nnrt_model_predict(model, x, 2, 2 * 784, labels, 1, NULL, 0);)
CASE(outputs_short, return nnrt_model_predict(model, x, 2, 2 * 784, NULL, 0, outputs, 19);)
CASE(labels_null_with_length, return nnrt_model_predict(model, x, 1, 784, NULL, 1, NULL, 0);)
CASE(nothing_requested, return nnrt_model_predict(model, x, 1, 784, NULL, 0, NULL, 0);)
CASE(pixels_len_zero, return nnrt_model_predict_u8(model, pixels, 1, 0, labels, 1, NULL, 0);)
CASE(members_short, return nnrt_model_predict_members(model, x, 2, 2 * 784, labels, 1, NULL, 0);)
CASE(session_inputs_short, return nnrt_session_predict_u8(session, pixels, 2, 784, labels, 2, NULL, 0);)
CASE(session_threads_257, nnrt_session *s = NULL; return nnrt_session_create(model, 257, &s);)
CASE(session_threads_huge, nnrt_session *s = NULL; return nnrt_session_create(model, SIZE_MAX, &s);)
CASE(ensemble_count_zero, const nnrt_model *list[1]; nnrt_model *e = NULL; list[0] = model;
     return nnrt_ensemble_create(list, 0, NNRT_VOTING_MAJORITY, &e);)
CASE(ensemble_rule_unknown, const nnrt_model *list[1]; nnrt_model *e = NULL; list[0] = model;
     return nnrt_ensemble_create(list, 1, 3, &e);)
CASE(input_shape_short, size_t dims[2], rank; return nnrt_model_input_shape(model, dims, 2, &rank);)
CASE(class_label_huge, const char *s; return nnrt_model_class_label(model, SIZE_MAX, &s);)
CASE(layer_member_missing, int32_t kind; return nnrt_model_layer_info(model, 1, 0, &kind, NULL, NULL, NULL);)
CASE(metadata_missing_key, const char *s; return nnrt_model_metadata_get(model, "no such key", &s);)

/* Images */
CASE(image_empty, return nnrt_model_classify_image(model, text, 0, labels, NULL, 0, NULL);)
CASE(image_huge_size, return nnrt_model_classify_image(model, text, SIZE_MAX, labels, NULL, 0, NULL);)
CASE(image_text, return nnrt_model_classify_image(model, text, sizeof text, labels, NULL, 0, NULL);)
CASE(image_truncated, return nnrt_model_classify_image(model, pgm_truncated, sizeof pgm_truncated - 1, labels, NULL, 0, NULL);)
CASE(image_too_large, return nnrt_model_classify_image(model, pgm_too_large, sizeof pgm_too_large - 1, labels, NULL, 0, NULL);)
CASE(image_outputs_short, return nnrt_model_classify_image(model, pgm_truncated, sizeof pgm_truncated - 1, labels, outputs, 9, NULL);)
CASE(image_null_label, return nnrt_model_classify_image(model, pgm_truncated, sizeof pgm_truncated - 1, NULL, NULL, 0, NULL);)
CASE(preprocess_directory, return nnrt_model_preprocess_file(model, dir, outputs, 784, NULL);)
CASE(preprocess_non_utf8_missing, return nnrt_model_preprocess_file(model, path("gone-\xff.png"), outputs, 784, NULL);)
CASE(preprocess_input_short, return nnrt_model_preprocess_image(model, pgm_truncated, sizeof pgm_truncated - 1, outputs, 10, NULL);)
CASE(pixels_width_zero, return preprocess_pixels(0, 28, 1, 1, 0, 784);)
CASE(pixels_width_huge, return preprocess_pixels(SIZE_MAX, 28, 1, 1, 0, 784);)
CASE(pixels_too_many, return preprocess_pixels(70000, 70000, 1, 1, 0, 784);)
CASE(pixels_channels_5, return preprocess_pixels(28, 28, 5, 1, 0, 784);)
CASE(pixels_sample_bytes_3, return preprocess_pixels(28, 28, 1, 3, 0, 784);)
CASE(pixels_row_bytes_short, return preprocess_pixels(28, 28, 1, 1, 27, 784);)
CASE(pixels_input_short, return preprocess_pixels(28, 28, 1, 1, 0, 783);)
CASE(files_results_short, const char *paths[2]; paths[0] = dir; paths[1] = dir;
     return nnrt_session_classify_files(session, paths, 2, results, 1, NULL, 0);)
CASE(files_null_path, const char *paths[2]; paths[0] = dir; paths[1] = NULL;
     return nnrt_session_classify_files(session, paths, 2, results, 2, NULL, 0);)
CASE(files_outputs_short, const char *paths[1]; paths[0] = dir;
     return nnrt_session_classify_files(session, paths, 1, results, 1, outputs, 9);)
CASE(file_is_directory, return classify_one(dir);)
CASE(file_missing_non_utf8, return classify_one(path("nothing-\xff.png"));)
CASE(file_text, return classify_one(path("text.nnrt"));)
CASE(file_empty, return classify_one(path("empty.nnrt"));)
CASE(file_too_large, return classify_one(path("huge.pgm"));)

static const bad_case cases[] = {
    {"load: NULL path", load_null_path, NNRT_ERR_INVALID_ARGUMENT, "path is NULL"},
    {"load: NULL out_model", load_null_out, NNRT_ERR_INVALID_ARGUMENT, "out_model is NULL"},
    {"load: empty path", load_empty_path, NNRT_ERR_IO, "the path is empty"},
    {"load: missing file", load_missing, NNRT_ERR_IO, "No such file"},
    {"load: a directory", load_directory, NNRT_ERR_IO, "is a directory"},
    {"load: a device", load_device, NNRT_ERR_IO, "not a regular file"},
    {"load: a path below a file", load_below_a_file, NNRT_ERR_IO, "Not a directory"},
    {"load: non-UTF-8 path, missing", load_non_utf8_missing, NNRT_ERR_IO, "No such file"},
    {"load: non-UTF-8 path of a valid model loads", load_non_utf8_valid, NNRT_OK, NULL},
    {"load: non-UTF-8 path of a text file", load_non_utf8_text, NNRT_ERR_BAD_MODEL, "not an nnrt model file"},
    {"load: empty file", load_empty_file, NNRT_ERR_BAD_MODEL, "empty"},
    {"load: text file", load_text_file, NNRT_ERR_BAD_MODEL, "not an nnrt model file"},
    {"load: truncated model", load_truncated, NNRT_ERR_BAD_MODEL, "truncated.nnrt"},
    {"load: format version 9", load_wrong_version, NNRT_ERR_UNSUPPORTED_VERSION, "version 9"},
    {"memory: NULL data", memory_null, NNRT_ERR_INVALID_ARGUMENT, "data is NULL"},
    {"memory: size 0", memory_zero_size, NNRT_ERR_INVALID_ARGUMENT, "size is 0"},
    {"memory: size SIZE_MAX", memory_huge_size, NNRT_ERR_INVALID_ARGUMENT, "SIZE_MAX / 2"},
    {"memory: text", memory_garbage, NNRT_ERR_BAD_MODEL, "not an nnrt model file"},
    {"memory: truncated", memory_truncated, NNRT_ERR_BAD_MODEL, "not an nnrt model file"},
    {"handle: NULL model", null_model, NNRT_ERR_INVALID_ARGUMENT, "model is NULL"},
    {"handle: a session passed as a model", session_as_model, NNRT_ERR_INVALID_ARGUMENT, "not a live nnrt_model handle"},
    {"handle: a model passed as a session", model_as_session, NNRT_ERR_INVALID_ARGUMENT, "not a live nnrt_session handle"},
    {"handle: freed model, introspection", freed_model_introspection, NNRT_ERR_INVALID_ARGUMENT, "freed already"},
    {"handle: freed model, predict", freed_model_predict, NNRT_ERR_INVALID_ARGUMENT, "not a live nnrt_model handle"},
    {"handle: freed model, new session", freed_model_session, NNRT_ERR_INVALID_ARGUMENT, "not a live nnrt_model handle"},
    {"handle: freed session", freed_session_predict, NNRT_ERR_INVALID_ARGUMENT, "not a live nnrt_session handle"},
    {"handle: misaligned pointer", misaligned_handle, NNRT_ERR_INVALID_ARGUMENT, "not a live nnrt_model handle"},
    {"handle: small integer", small_integer_handle, NNRT_ERR_INVALID_ARGUMENT, "stray pointer"},
    {"handle: pointer to a zeroed buffer", stack_buffer_handle, NNRT_ERR_INVALID_ARGUMENT, "not a live nnrt_model handle"},
    {"handle: a session among ensemble members", ensemble_with_session, NNRT_ERR_INVALID_ARGUMENT, "members[1] is not a live"},
    {"handle: double and wrong-type frees are ignored", double_free_ignored, NNRT_OK, NULL},
    {"predict: count 0", count_zero, NNRT_ERR_INVALID_ARGUMENT, "count is 0"},
    {"predict: count SIZE_MAX", count_huge, NNRT_ERR_INVALID_ARGUMENT, "count is too large"},
    {"predict: count x input size overflows", count_overflows, NNRT_ERR_INVALID_ARGUMENT, "overflows"},
    {"predict: inputs one float short", inputs_short, NNRT_ERR_SHAPE_MISMATCH, "need 1568"},
    {"predict: inputs_len a negative number", inputs_len_negative, NNRT_ERR_INVALID_ARGUMENT, "inputs_len is too large"},
    {"predict: labels buffer short", labels_short, NNRT_ERR_BUFFER_TOO_SMALL, "2 needed"},
    {"predict: outputs buffer short", outputs_short, NNRT_ERR_BUFFER_TOO_SMALL, "20 needed"},
    {"predict: NULL labels with a length", labels_null_with_length, NNRT_ERR_INVALID_ARGUMENT, "labels is NULL but labels_len is 1"},
    {"predict: no output buffer", nothing_requested, NNRT_ERR_INVALID_ARGUMENT, "nothing requested"},
    {"predict_u8: pixels_len 0", pixels_len_zero, NNRT_ERR_SHAPE_MISMATCH, "pixels hold 0 bytes"},
    {"predict_members: labels short", members_short, NNRT_ERR_BUFFER_TOO_SMALL, "2 needed"},
    {"session: pixels short", session_inputs_short, NNRT_ERR_SHAPE_MISMATCH, "need 1568"},
    {"session: 257 threads", session_threads_257, NNRT_ERR_INVALID_ARGUMENT, "between 0 (one per core) and 256"},
    {"session: SIZE_MAX threads", session_threads_huge, NNRT_ERR_INVALID_ARGUMENT, "threads is too large"},
    {"ensemble: no members", ensemble_count_zero, NNRT_ERR_INVALID_ARGUMENT, "at least one member"},
    {"ensemble: voting rule 3", ensemble_rule_unknown, NNRT_ERR_INVALID_ARGUMENT, "NNRT_VOTING_MAJORITY"},
    {"input_shape: capacity 2", input_shape_short, NNRT_ERR_BUFFER_TOO_SMALL, "3 needed"},
    {"class_label: index SIZE_MAX", class_label_huge, NNRT_ERR_NOT_FOUND, "18446744073709551615"},
    {"layer_info: member 1 of a single network", layer_member_missing, NNRT_ERR_NOT_FOUND, "member 1"},
    {"metadata_get: missing key", metadata_missing_key, NNRT_ERR_NOT_FOUND, "no such key"},
    {"image: 0 bytes", image_empty, NNRT_ERR_IMAGE_DECODE, "empty"},
    {"image: size SIZE_MAX", image_huge_size, NNRT_ERR_INVALID_ARGUMENT, "size is too large"},
    {"image: text", image_text, NNRT_ERR_IMAGE_FORMAT, "not a PNG, JPEG or PGM/PPM image"},
    {"image: truncated PGM", image_truncated, NNRT_ERR_IMAGE_DECODE, "truncated"},
    {"image: 70000 x 70000 PGM", image_too_large, NNRT_ERR_IMAGE_TOO_LARGE, "70000"},
    {"image: outputs short", image_outputs_short, NNRT_ERR_BUFFER_TOO_SMALL, "outputs"},
    {"image: NULL out_label", image_null_label, NNRT_ERR_INVALID_ARGUMENT, "out_label is NULL"},
    {"preprocess_file: a directory", preprocess_directory, NNRT_ERR_IO, "is a directory"},
    {"preprocess_file: non-UTF-8 path, missing", preprocess_non_utf8_missing, NNRT_ERR_IO, "gone-"},
    {"preprocess_image: input short", preprocess_input_short, NNRT_ERR_BUFFER_TOO_SMALL, "needs 784"},
    {"pixels: width 0", pixels_width_zero, NNRT_ERR_INVALID_ARGUMENT, "must be positive"},
    {"pixels: width SIZE_MAX", pixels_width_huge, NNRT_ERR_INVALID_ARGUMENT, "width is too large"},
    {"pixels: 70000 x 70000", pixels_too_many, NNRT_ERR_IMAGE_TOO_LARGE, "over the limit"},
    {"pixels: 5 channels", pixels_channels_5, NNRT_ERR_INVALID_ARGUMENT, "channels must be 1"},
    {"pixels: 3 bytes per sample", pixels_sample_bytes_3, NNRT_ERR_INVALID_ARGUMENT, "bytes_per_sample must be 1 or 2"},
    {"pixels: row_bytes below a row", pixels_row_bytes_short, NNRT_ERR_INVALID_ARGUMENT, "row_bytes 27"},
    {"pixels: input short", pixels_input_short, NNRT_ERR_BUFFER_TOO_SMALL, "needs 784"},
    {"classify_files: results short", files_results_short, NNRT_ERR_BUFFER_TOO_SMALL, "results holds 1"},
    {"classify_files: a NULL path", files_null_path, NNRT_ERR_INVALID_ARGUMENT, "paths[1] is NULL"},
    {"classify_files: outputs short", files_outputs_short, NNRT_ERR_BUFFER_TOO_SMALL, "outputs"},
    {"classify_files: a directory (its result)", file_is_directory, NNRT_ERR_IO, "is a directory"},
    {"classify_files: non-UTF-8 path, missing", file_missing_non_utf8, NNRT_ERR_IO, "No such file"},
    {"classify_files: a text file", file_text, NNRT_ERR_IMAGE_FORMAT, "not a PNG, JPEG or PGM/PPM image"},
    {"classify_files: an empty file", file_empty, NNRT_ERR_IMAGE_DECODE, "empty"},
    {"classify_files: a 70000 x 70000 PGM", file_too_large, NNRT_ERR_IMAGE_TOO_LARGE, "too large"},
};

/* ----------------------------------------------------------------------------------------- */

static void setup(const char *model_path) {
    static const uint32_t sizes[] = {784, 30, 10};
    uint8_t *v9;
    size_t i;
    strcpy(dir, "/tmp/nnrt-test-bad-input-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    model_bytes = fixture_dense(sizes, 3, 1, &model_size);
    write_file("model.nnrt", model_bytes, model_size);
    write_file("model-\xe9t\xe9.nnrt", model_bytes, model_size);
    write_file("truncated.nnrt", model_bytes, model_size / 2);
    write_file("empty.nnrt", "", 0);
    write_file("text.nnrt", text, sizeof text);
    write_file("text-\xff.nnrt", text, sizeof text);
    write_file("huge.pgm", pgm_too_large, sizeof pgm_too_large - 1);
    /* format_version is the varint after the 12-byte identifier field (tag, length, "nnrt-model") */
    v9 = malloc(model_size);
    memcpy(v9, model_bytes, model_size);
    if (v9[12] == 0x10) v9[13] = 9;
    write_file("version9.nnrt", v9, model_size);
    free(v9);
    if (nnrt_model_load(model_path ? model_path : path("model.nnrt"), &model) != NNRT_OK ||
        nnrt_session_create(model, 1, &session) != NNRT_OK) {
        fprintf(stderr, "test_bad_input: cannot load the model: %s\n", nnrt_last_error_message());
        exit(2);
    }
    for (i = 0; i < sizeof x / sizeof *x; i++) {
        x[i] = (float)(i % 255) / 255.0f;
        pixels[i] = (uint8_t)(i % 255);
    }
}

int main(int argc, char **argv) {
    size_t i, n = sizeof cases / sizeof *cases;
    int passed = 0, failed = 0;
    char cmd[128];
    setup(argc > 1 ? argv[1] : NULL);
    for (i = 0; i < n; i++) {
        const bad_case *c = &cases[i];
        nnrt_status got;
        const char *message;
        int ok;
        file_message = NULL;
        got = c->call();
        message = file_message ? file_message : nnrt_last_error_message();
        if (c->fragment == NULL) {
            ok = got == NNRT_OK;
        } else {
            ok = got == c->want && message[0] != '\0' && strstr(message, c->fragment) != NULL;
        }
        if (ok) {
            passed++;
            printf("ok   %-48s %2d %s\n", c->what, (int)got, c->fragment ? message : "");
        } else {
            failed++;
            printf("FAIL %-48s got %d (%s) \"%s\", want %d with \"%s\"\n", c->what, (int)got,
                   nnrt_status_string(got), message, (int)c->want, c->fragment ? c->fragment : "");
        }
    }
    nnrt_session_free(session);
    nnrt_model_free(model);
    free(model_bytes);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "test_bad_input: could not remove %s\n", dir);
    printf("%d cases: %d passed, %d failed\n", (int)n, passed, failed);
    return failed == 0 ? 0 : 1;
}
