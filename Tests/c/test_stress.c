/*
 * test_stress: many threads making many calls on shared models and ensembles, every result
 * compared bit for bit with a single-threaded reference computed first.
 *
 *   test_stress [MODEL] [THREADS] [CALLS]    (default: a random 784-30-10 network, 8, 2000)
 *
 * What Include/nnrt.h promises, and nothing more:
 * - functions taking a `const nnrt_model *` run on one model from any number of threads at once:
 *   here a dense network, a conv network, a majority ensemble of three and a mean-probability
 *   ensemble of two, predicted with batch sizes 1 to 64 at several offsets (float and uint8
 *   input, combined and per-member outputs), images classified from memory, introspection;
 * - loading, building ensembles and creating sessions are thread-safe: threads also load their
 *   own models from memory, build ensembles of the shared ones and create and free sessions;
 * - a session is used by one thread at a time: each thread has its own (1 and 2 threads), and
 *   one shared session is used under a mutex, so it moves between threads;
 * - the last error message is per thread: threads make calls that fail with a message naming a
 *   number only that thread uses, and check they read their own message back.
 * The last line is "N calls in T threads: N mismatches" and the exit status 0 only if there were
 * none.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixtures.h"
#include "nnrt.h"

enum { N = 64, CLASSES = 10, MAX_MEMBERS = 3, MODELS = 4, COMBOS = 6 };

static const size_t combo_offset[COMBOS] = {0, 5, 0, 3, 0, 31};
static const size_t combo_count[COMBOS] = {1, 1, 7, 33, 64, 2};

static float x[N * 784];
static uint8_t pixels[N * 784];
static nnrt_model *models[MODELS];           /* dense, conv, majority ensemble, mean ensemble */
static const char *model_names[MODELS] = {"dense", "conv", "majority ensemble", "mean ensemble"};
static size_t member_counts[MODELS];
static uint8_t *dense_bytes, *conv_bytes;
static size_t dense_size, conv_size;
static nnrt_session *shared_session;         /* of the majority ensemble, used under shared_lock */
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t image[13 + 28 * 28];          /* a PGM digit, for nnrt_model_classify_image */
static size_t calls_per_thread = 2000;

/* The single-threaded reference of every (model, combo). */
typedef struct {
    int32_t labels[N], u8_labels[N], member_labels[N * MAX_MEMBERS];
    float outputs[N * CLASSES], u8_outputs[N * CLASSES], member_outputs[N * MAX_MEMBERS * CLASSES];
} reference;
static reference refs[MODELS][COMBOS];
static int32_t image_label[MODELS];
static float image_outputs[MODELS][CLASSES];
static const char *layer_summary[MODELS];

typedef struct {
    int index;
    uint64_t rng;
    long calls, mismatches;
    nnrt_session *own, *own2; /* this thread's sessions: 1 and 2 threads, of the dense and conv models */
} worker;

static uint64_t next_random(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void mismatch(worker *w, const char *what, int model, int combo, nnrt_status status) {
    w->mismatches++;
    if (w->mismatches <= 5) {
        fprintf(stderr, "thread %d: %s on %s, combo %d: status %d (%s)\n", w->index, what,
                model >= 0 ? model_names[model] : "-", combo, (int)status,
                status ? nnrt_last_error_message() : "results differ from the reference");
    }
}

/* Compares `count` rows of labels and outputs with the reference rows. */
static int same(const int32_t *labels, const float *outputs, const int32_t *want_labels, const float *want_outputs,
                size_t count) {
    return memcmp(labels, want_labels, count * sizeof *labels) == 0 &&
           memcmp(outputs, want_outputs, count * CLASSES * sizeof *outputs) == 0;
}

static void one_call(worker *w) {
    int32_t labels[N], member_labels[N * MAX_MEMBERS];
    float outputs[N * CLASSES], member_outputs[N * MAX_MEMBERS * CLASSES];
    uint64_t r = next_random(&w->rng);
    int op = (int)(r % 11), model = (int)((r >> 8) % MODELS), combo = (int)((r >> 16) % COMBOS);
    size_t offset = combo_offset[combo], count = combo_count[combo];
    const reference *ref = &refs[model][combo];
    nnrt_status s;
    w->calls++;
    switch (op) {
    case 0: case 1: /* the shared model, float input */
        s = nnrt_model_predict(models[model], x + offset * 784, count, count * 784, labels, count, outputs, count * CLASSES);
        if (s != NNRT_OK || !same(labels, outputs, ref->labels, ref->outputs, count)) mismatch(w, "predict", model, combo, s);
        break;
    case 2: /* the shared model, uint8 input */
        s = nnrt_model_predict_u8(models[model], pixels + offset * 784, count, count * 784, labels, count, outputs,
                                  count * CLASSES);
        if (s != NNRT_OK || !same(labels, outputs, ref->u8_labels, ref->u8_outputs, count)) {
            mismatch(w, "predict_u8", model, combo, s);
        }
        break;
    case 3: { /* each member's own predictions */
        size_t m = member_counts[model];
        s = nnrt_model_predict_members(models[model], x + offset * 784, count, count * 784, member_labels, count * m,
                                       member_outputs, count * m * CLASSES);
        if (s != NNRT_OK || memcmp(member_labels, ref->member_labels, count * m * sizeof *labels) != 0 ||
            memcmp(member_outputs, ref->member_outputs, count * m * CLASSES * sizeof *outputs) != 0) {
            mismatch(w, "predict_members", model, combo, s);
        }
        break;
    }
    case 4: { /* this thread's sessions: the dense model on 1 thread, the conv model on 2 */
        nnrt_session *session = (r >> 24) & 1 ? w->own : w->own2;
        int which = session == w->own ? 0 : 1;
        const reference *own = &refs[which][combo];
        s = nnrt_session_predict(session, x + offset * 784, count, count * 784, labels, count, outputs, count * CLASSES);
        if (s != NNRT_OK || !same(labels, outputs, own->labels, own->outputs, count)) {
            mismatch(w, "own session", which, combo, s);
        }
        break;
    }
    case 5: /* the shared session, one thread at a time */
        pthread_mutex_lock(&shared_lock);
        s = nnrt_session_predict_u8(shared_session, pixels + offset * 784, count, count * 784, labels, count, outputs,
                                    count * CLASSES);
        pthread_mutex_unlock(&shared_lock);
        if (s != NNRT_OK || !same(labels, outputs, refs[2][combo].u8_labels, refs[2][combo].u8_outputs, count)) {
            mismatch(w, "shared session", 2, combo, s);
        }
        break;
    case 6: { /* an image from memory */
        int32_t label = -1;
        s = nnrt_model_classify_image(models[model], image, sizeof image, &label, outputs, CLASSES, NULL);
        if (s != NNRT_OK || label != image_label[model] ||
            memcmp(outputs, image_outputs[model], sizeof image_outputs[model]) != 0) {
            mismatch(w, "classify_image", model, -1, s);
        }
        break;
    }
    case 7: { /* introspection */
        const char *label = NULL, *summary = NULL;
        size_t n = 0;
        s = nnrt_model_class_label(models[model], 7, &label);
        if (s == NNRT_OK) s = nnrt_model_member_count(models[model], &n);
        if (s == NNRT_OK) s = nnrt_model_layer_info(models[model], 0, 0, NULL, NULL, NULL, &summary);
        if (s != NNRT_OK || strcmp(label, "7") != 0 || n != member_counts[model] || summary != layer_summary[model]) {
            mismatch(w, "introspection", model, -1, s);
        }
        break;
    }
    case 8: { /* a failure whose message only this thread can produce */
        size_t wrong = (size_t)w->index * 12 + (size_t)(r >> 40) % 12; /* below 784, and this thread's own */
        char want[64];
        s = nnrt_model_predict(models[model], x, 1, wrong, labels, 1, NULL, 0);
        snprintf(want, sizeof want, "inputs hold %zu values", wrong);
        if (s != NNRT_ERR_SHAPE_MISMATCH || strstr(nnrt_last_error_message(), want) == NULL) {
            w->mismatches++;
            if (w->mismatches <= 5) {
                fprintf(stderr, "thread %d: last error '%s', want '%s'\n", w->index, nnrt_last_error_message(), want);
            }
        }
        break;
    }
    case 9: { /* a model of its own, loaded from memory, then freed */
        nnrt_model *mine = NULL;
        int conv = (r >> 24) & 1;
        s = conv ? nnrt_model_load_from_memory(conv_bytes, conv_size, &mine)
                 : nnrt_model_load_from_memory(dense_bytes, dense_size, &mine);
        if (s == NNRT_OK) {
            s = nnrt_model_predict(mine, x + offset * 784, count, count * 784, labels, count, outputs, count * CLASSES);
        }
        if (s != NNRT_OK || !same(labels, outputs, refs[conv][combo].labels, refs[conv][combo].outputs, count)) {
            mismatch(w, "own model", conv, combo, s);
        }
        nnrt_model_free(mine);
        break;
    }
    default: { /* an ensemble of the shared models and a session of it, made and freed here */
        const nnrt_model *list[2];
        nnrt_model *e = NULL;
        nnrt_session *session = NULL;
        list[0] = models[0];
        list[1] = models[1];
        s = nnrt_ensemble_create(list, 2, NNRT_VOTING_MEAN_PROBABILITY, &e);
        if (s == NNRT_OK) s = nnrt_session_create(e, 1, &session);
        nnrt_model_free(e); /* the session keeps it alive */
        if (s == NNRT_OK) {
            s = nnrt_session_predict(session, x + offset * 784, count, count * 784, labels, count, outputs,
                                     count * CLASSES);
        }
        if (s != NNRT_OK || !same(labels, outputs, refs[3][combo].labels, refs[3][combo].outputs, count)) {
            mismatch(w, "new ensemble", 3, combo, s);
        }
        nnrt_session_free(session);
        break;
    }
    }
}

static void *run(void *arg) {
    worker *w = arg;
    size_t i;
    for (i = 0; i < calls_per_thread; i++) one_call(w);
    return NULL;
}

static void check(nnrt_status s, const char *what) {
    if (s != NNRT_OK) {
        fprintf(stderr, "test_stress: %s: %s\n", what, nnrt_last_error_message());
        exit(2);
    }
}

int main(int argc, char **argv) {
    static const uint32_t sizes[] = {784, 30, 10};
    static worker workers[64];
    pthread_t threads[64];
    const nnrt_model *list[3];
    int t, m, c, thread_count = argc > 2 ? atoi(argv[2]) : 8;
    long calls = 0, mismatches = 0;
    size_t i;
    struct timespec t0, t1;
    if (argc > 3) calls_per_thread = (size_t)atol(argv[3]);
    if (thread_count < 1 || thread_count > 64) thread_count = 8;

    for (i = 0; i < N * 784; i++) {
        x[i] = (float)((i * 7919u) % 1000u) / 1000.0f;
        pixels[i] = (uint8_t)((i * 31u) % 256u);
    }
    memcpy(image, "P5\n28 28\n255\n", 13);
    memcpy(image + 13, pixels, 28 * 28); /* a 13-byte header, then a 28x28 raster */

    dense_bytes = fixture_dense(sizes, 3, 7, &dense_size);
    conv_bytes = fixture_conv(4, 8, &conv_size);
    if (argc > 1) {
        /* A trained model file, read into memory so threads can load it too. */
        FILE *f = fopen(argv[1], "rb");
        long size;
        if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
            fprintf(stderr, "test_stress: cannot read %s\n", argv[1]);
            return 2;
        }
        free(dense_bytes);
        dense_bytes = malloc((size_t)size);
        dense_size = fread(dense_bytes, 1, (size_t)size, f);
        fclose(f);
    }
    check(nnrt_model_load_from_memory(dense_bytes, dense_size, &models[0]), "load the dense model");
    check(nnrt_model_load_from_memory(conv_bytes, conv_size, &models[1]), "load the conv model");
    {
        nnrt_model *third = NULL;
        uint8_t *bytes;
        size_t size;
        bytes = fixture_dense(sizes, 3, 9, &size);
        check(nnrt_model_load_from_memory(bytes, size, &third), "load the third member");
        free(bytes);
        list[0] = models[0];
        list[1] = models[1];
        list[2] = third;
        check(nnrt_ensemble_create(list, 3, NNRT_VOTING_MAJORITY, &models[2]), "majority ensemble");
        check(nnrt_ensemble_create(list, 2, NNRT_VOTING_MEAN_PROBABILITY, &models[3]), "mean ensemble");
        nnrt_model_free(third); /* the ensemble keeps its member alive */
    }
    check(nnrt_session_create(models[2], 2, &shared_session), "shared session");

    /* The single-threaded reference. */
    for (m = 0; m < MODELS; m++) {
        check(nnrt_model_member_count(models[m], &member_counts[m]), "member count");
        check(nnrt_model_layer_info(models[m], 0, 0, NULL, NULL, NULL, &layer_summary[m]), "layer info");
        check(nnrt_model_classify_image(models[m], image, sizeof image, &image_label[m], image_outputs[m], CLASSES, NULL),
              "classify the image");
        for (c = 0; c < COMBOS; c++) {
            size_t o = combo_offset[c], n = combo_count[c], k = member_counts[m];
            reference *r = &refs[m][c];
            check(nnrt_model_predict(models[m], x + o * 784, n, n * 784, r->labels, n, r->outputs, n * CLASSES), "reference");
            check(nnrt_model_predict_u8(models[m], pixels + o * 784, n, n * 784, r->u8_labels, n, r->u8_outputs, n * CLASSES),
                  "reference u8");
            check(nnrt_model_predict_members(models[m], x + o * 784, n, n * 784, r->member_labels, n * k, r->member_outputs,
                                             n * k * CLASSES), "reference members");
        }
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (t = 0; t < thread_count; t++) {
        workers[t].index = t;
        workers[t].rng = 0x9E3779B97F4A7C15ull * (uint64_t)(t + 1);
        check(nnrt_session_create(models[0], 1, &workers[t].own), "own session");
        check(nnrt_session_create(models[1], 2, &workers[t].own2), "own session (2 threads)");
        if (pthread_create(&threads[t], NULL, run, &workers[t]) != 0) {
            fprintf(stderr, "test_stress: cannot start thread %d\n", t);
            return 2;
        }
    }
    for (t = 0; t < thread_count; t++) {
        pthread_join(threads[t], NULL);
        calls += workers[t].calls;
        mismatches += workers[t].mismatches;
        nnrt_session_free(workers[t].own);
        nnrt_session_free(workers[t].own2);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    nnrt_session_free(shared_session);
    for (m = 0; m < MODELS; m++) nnrt_model_free(models[m]);
    free(dense_bytes);
    free(conv_bytes);
    printf("%ld calls in %d threads (%.2f s): %ld mismatches\n", calls, thread_count,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, mismatches);
    return mismatches == 0 && calls == (long)thread_count * (long)calls_per_thread ? 0 : 1;
}
