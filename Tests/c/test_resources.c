/*
 * test_resources: a long loop of load / run / free through the C API, with the resident memory
 * (VmRSS from /proc/self/status) measured after 10% and after 100% of the iterations. It fails
 * if memory grew by more than 2 MiB in between, or if any call failed.
 *
 *   test_resources [ITERATIONS]       (default 100000)
 *
 * Each iteration loads a model from memory and another from a file, builds an ensemble of the
 * two, opens a session (two threads every 50th time), predicts through the model, the ensemble
 * and the session, classifies an image from memory, makes three calls that fail (a missing file,
 * corrupt bytes, a short buffer: error messages are allocated too), and frees the four handles in
 * one of four orders.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "nnrt.h"

static long rss_kib(void) {
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    static const uint32_t sizes[] = {784, 4, 10};
    static float x[784], outputs[10];
    static uint8_t image[13 + 28 * 28];
    long iterations = argc > 1 ? atol(argv[1]) : 100000, i, failures = 0, rss_early = 0, rss_late = 0;
    char dir[64], path[128], missing[128], command[160];
    size_t size;
    uint8_t *bytes = fixture_dense(sizes, 3, 3, &size);
    double t0;
    if (iterations < 10) iterations = 10;
    strcpy(dir, "/tmp/nnrt-test-resources-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(path, sizeof path, "%s/model.nnrt", dir);
    snprintf(missing, sizeof missing, "%s/missing.nnrt", dir);
    if (fixture_write(path, bytes, size) != 0) {
        fprintf(stderr, "test_resources: cannot write %s\n", path);
        return 2;
    }
    for (i = 0; i < 784; i++) x[i] = (float)(i % 97) / 97.0f;
    memcpy(image, "P5\n28 28\n255\n", 13);
    for (i = 0; i < 28 * 28; i++) image[13 + i] = (uint8_t)(i % 7 == 0 ? 255 : 0);

    t0 = seconds();
    for (i = 0; i < iterations; i++) {
        nnrt_model *a = NULL, *b = NULL, *e = NULL, *bad = NULL;
        nnrt_session *s = NULL;
        const nnrt_model *list[2];
        int32_t label = -1;
        int ok = 1;
        ok &= nnrt_model_load_from_memory(bytes, size, &a) == NNRT_OK;
        ok &= nnrt_model_load(path, &b) == NNRT_OK;
        list[0] = a;
        list[1] = b;
        ok &= nnrt_ensemble_create(list, 2, i % 2 ? NNRT_VOTING_MAJORITY : NNRT_VOTING_MEAN_PROBABILITY, &e) == NNRT_OK;
        ok &= nnrt_session_create(i % 3 ? e : a, i % 50 == 0 ? 2 : 1, &s) == NNRT_OK;
        ok &= nnrt_model_predict(a, x, 1, 784, &label, 1, outputs, 10) == NNRT_OK;
        ok &= nnrt_model_predict(e, x, 1, 784, &label, 1, NULL, 0) == NNRT_OK;
        ok &= nnrt_session_predict(s, x, 1, 784, &label, 1, outputs, 10) == NNRT_OK;
        ok &= nnrt_model_classify_image(b, image, sizeof image, &label, NULL, 0, NULL) == NNRT_OK;
        ok &= nnrt_model_load(missing, &bad) == NNRT_ERR_IO;
        ok &= nnrt_model_load_from_memory(bytes, size / 2, &bad) == NNRT_ERR_BAD_MODEL;
        ok &= nnrt_model_predict(a, x, 1, 784, &label, 1, outputs, 9) == NNRT_ERR_BUFFER_TOO_SMALL;
        switch (i % 4) { /* the handles in different orders: each keeps what it needs alive */
        case 0: nnrt_model_free(a); nnrt_model_free(b); nnrt_model_free(e); nnrt_session_free(s); break;
        case 1: nnrt_session_free(s); nnrt_model_free(e); nnrt_model_free(b); nnrt_model_free(a); break;
        case 2: nnrt_model_free(e); nnrt_session_free(s); nnrt_model_free(a); nnrt_model_free(b); break;
        default: nnrt_model_free(b); nnrt_session_free(s); nnrt_model_free(a); nnrt_model_free(e); break;
        }
        if (!ok && ++failures <= 5) fprintf(stderr, "iteration %ld: a call failed: %s\n", i, nnrt_last_error_message());
        if (i + 1 == iterations / 10) rss_early = rss_kib();
    }
    rss_late = rss_kib();
    printf("%ld iterations in %.1f s; VmRSS %ld KiB after %ld, %ld KiB after %ld: %+ld KiB\n", iterations,
           seconds() - t0, rss_early, iterations / 10, rss_late, iterations, rss_late - rss_early);
    free(bytes);
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    if (system(command) != 0) fprintf(stderr, "test_resources: could not remove %s\n", dir);
    if (failures > 0) {
        fprintf(stderr, "test_resources: %ld iterations had a failed call\n", failures);
        return 1;
    }
    if (rss_early <= 0 || rss_late - rss_early > 2048) {
        fprintf(stderr, "test_resources: memory grew by %ld KiB (more than 2 MiB)\n", rss_late - rss_early);
        return 1;
    }
    return 0;
}
