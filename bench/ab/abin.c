/*
 * abin.c - two builds of libnnrt in one process, call by call: A B, B A, A B, ..., so that a
 * shared machine's slow minutes fall on both alike. Prints each build's
 * per-image latency (min, lower quartile, median over the calls) and the median of the pairwise
 * ratios B / A, the figure to judge a change by (below 1: B is faster).
 *
 *   abin LIB_A LIB_B MODEL INPUTS BATCH THREADS CALLS
 *
 * LIB_A and LIB_B are paths to two libnnrt.so files (two different files: the loader keeps one
 * copy per file, each with its own Swift runtime, which the export list keeps private). INPUTS
 * is raw float32 examples (bench/peers writes build/bench-peers/test-images.f32); every call,
 * whichever build makes it, takes the batch after the previous call's, wrapping round, so both
 * builds read their inputs from where a stream of fresh inputs would be (the second call of a
 * pair on the first's batch would find it in cache). The two builds share the caches: each
 * evicts the other's weights, so a model whose weights fill much of L2 (784-100-10: 351 KB of
 * this machine's 512 KB) runs from L3 in both, slower than alone (batch 1: 3.3 against 2.3 µs);
 * the ratio stays fair, the absolute figures do not. Each build runs through its own session with
 * THREADS threads. With THREADS > 1 the build that has just run still has a worker watching
 * for its next call for up to 0.1 ms, on the other core; set ABIN_PAUSE_US=300 to sleep that
 * long after each call (its workers then sleep too, and each call pays their wake-up), or
 * compare 2-thread builds in separate processes.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef int (*load_fn)(const char *, void **);
typedef int (*size_fn)(const void *, size_t *);
typedef int (*create_fn)(const void *, size_t, void **);
typedef int (*predict_fn)(void *, const float *, size_t, size_t, int32_t *, size_t, float *, size_t);
typedef const char *(*message_fn)(void);

struct build {
    const char *path;
    predict_fn predict;
    message_fn message;
    void *session;
    size_t input_size, classes;
};

static void die(const char *what, const char *detail) {
    fprintf(stderr, "abin: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static void *symbol(void *library, const char *path, const char *name) {
    void *p = dlsym(library, name);
    if (!p) {
        fprintf(stderr, "abin: %s has no %s\n", path, name);
        exit(1);
    }
    return p;
}

static struct build open_build(const char *path, const char *model_path, size_t threads) {
    struct build b = {.path = path};
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!library) die("cannot load the library", dlerror());
    b.message = (message_fn)symbol(library, path, "nnrt_last_error_message");
    b.predict = (predict_fn)symbol(library, path, "nnrt_session_predict");
    void *model = NULL;
    if (((load_fn)symbol(library, path, "nnrt_model_load"))(model_path, &model))
        die("cannot load the model", b.message());
    if (((size_fn)symbol(library, path, "nnrt_model_input_size"))(model, &b.input_size) ||
        ((size_fn)symbol(library, path, "nnrt_model_class_count"))(model, &b.classes))
        die("cannot read the model's sizes", b.message());
    if (((create_fn)symbol(library, path, "nnrt_session_create"))(model, threads, &b.session))
        die("cannot create a session", b.message());
    return b;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int ascending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: abin LIB_A LIB_B MODEL INPUTS BATCH THREADS CALLS\n");
        return 2;
    }
    long batch_arg = atol(argv[5]), threads_arg = atol(argv[6]), calls_arg = atol(argv[7]);
    if (batch_arg < 1 || threads_arg < 1 || calls_arg < 4) die("BATCH and THREADS must be >= 1, CALLS >= 4", NULL);
    size_t batch = (size_t)batch_arg, calls = (size_t)calls_arg;
    const char *pause_env = getenv("ABIN_PAUSE_US");
    useconds_t pause_us = pause_env ? (useconds_t)atol(pause_env) : 0;

    struct build builds[2] = {open_build(argv[1], argv[3], (size_t)threads_arg),
                              open_build(argv[2], argv[3], (size_t)threads_arg)};
    size_t input_size = builds[0].input_size, classes = builds[0].classes;

    FILE *f = fopen(argv[4], "rb");
    if (!f) die("cannot open the inputs", argv[4]);
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    size_t images = bytes > 0 ? (size_t)bytes / sizeof(float) / input_size : 0;
    if (images < batch) die("the inputs hold fewer examples than one batch", argv[4]);
    float *x = malloc(images * input_size * sizeof(float));
    float *out = malloc(batch * classes * sizeof(float));
    double *times[2] = {malloc(calls * sizeof(double)), malloc(calls * sizeof(double))};
    double *ratios = malloc(calls * sizeof(double));
    if (!x || !out || !times[0] || !times[1] || !ratios) die("out of memory", NULL);
    if (fread(x, sizeof(float) * input_size, images, f) != images) die("cannot read the inputs", argv[4]);
    fclose(f);

    size_t start = 0;
    for (size_t i = 0; i < 20 + calls; i++) {            /* 20 warm-up rounds, then the timed ones */
        for (int turn = 0; turn < 2; turn++) {
            int k = (i & 1) ? 1 - turn : turn;              /* A B, then B A */
            if (start + batch > images) start = 0;
            struct build *b = &builds[k];
            double t0 = seconds();
            if (b->predict(b->session, x + start * input_size, batch, batch * input_size, NULL, 0, out,
                           batch * classes))
                die("prediction failed", b->message());
            double per_image = (seconds() - t0) / (double)batch * 1e6;
            if (i >= 20) times[k][i - 20] = per_image;
            if (pause_us) usleep(pause_us);
            start += batch;
        }
        if (i >= 20) ratios[i - 20] = times[1][i - 20] / times[0][i - 20];
    }
    for (int k = 0; k < 2; k++) qsort(times[k], calls, sizeof(double), ascending);
    qsort(ratios, calls, sizeof(double), ascending);
    for (int k = 0; k < 2; k++)
        printf("%s  %s: us per image: min %.4f, q25 %.4f, median %.4f\n", k ? "B" : "A", builds[k].path,
               times[k][0], times[k][calls / 4], times[k][calls / 2]);
    printf("B / A per pair of calls: q25 %.3f, median %.3f, q75 %.3f\n", ratios[calls / 4], ratios[calls / 2],
           ratios[3 * calls / 4]);
    return 0;
}
