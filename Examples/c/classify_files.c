/*
 * classify_files: classify image files (PNG, JPEG, PGM/PPM) with an nnrt model.
 *
 *   classify_files [--threads N] [--top K] MODEL FILE...
 *
 * Prints one line per file: the path, the predicted label, its confidence, the K most likely
 * classes (default 3) and what preprocessing found (inverted, blank); or the path and why the
 * file could not be classified. One bad file does not stop the others. Exit status: 0 if every
 * file was classified, 1 if any failed, 2 for a bad command line or model.
 *
 * libnnrt brings every image to the model's input itself (grey levels, polarity, crop to the
 * ink, scale to MNIST's 20x20 box, centre of mass at the centre of 28x28), so a scan or a photo of
 * a digit needs no preparation here.
 *
 * Build: cc -std=c99 -I../../Include classify_files.c -L../../build/lib -lnnrt
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"

static int usage(void) {
    fprintf(stderr, "usage: classify_files [--threads N] [--top K] MODEL FILE...\n");
    return 2;
}

int main(int argc, char **argv) {
    nnrt_model *model = NULL;
    nnrt_session *session = NULL;
    nnrt_file_result *results = NULL;
    float *outputs = NULL;
    size_t *order = NULL;
    size_t threads = 1, top = 3, classes = 0, count, i, k, j;
    int arg = 1, failed = 0;
    nnrt_status status;

    while (arg < argc && strncmp(argv[arg], "--", 2) == 0) {
        if (arg + 1 < argc && strcmp(argv[arg], "--threads") == 0) {
            threads = (size_t)strtoul(argv[arg + 1], NULL, 10);
        } else if (arg + 1 < argc && strcmp(argv[arg], "--top") == 0) {
            top = (size_t)strtoul(argv[arg + 1], NULL, 10);
        } else {
            return usage();
        }
        arg += 2;
    }
    if (argc - arg < 2) return usage();

    status = nnrt_model_load(argv[arg], &model);
    if (status == NNRT_OK) status = nnrt_model_class_count(model, &classes);
    if (status == NNRT_OK) status = nnrt_session_create(model, threads, &session);
    if (status != NNRT_OK) {
        fprintf(stderr, "classify_files: %s: %s: %s\n", argv[arg], nnrt_status_string(status), nnrt_last_error_message());
        nnrt_model_free(model);
        return 2;
    }
    if (top > classes) top = classes;

    count = (size_t)(argc - arg - 1);
    results = malloc(count * sizeof *results);
    outputs = malloc(count * classes * sizeof *outputs);
    order = malloc(classes * sizeof *order);
    if (!results || !outputs || !order) {
        fprintf(stderr, "classify_files: out of memory\n");
        failed = 2;
        goto done;
    }
    /* One call for the whole list: files are decoded in parallel on the session's threads. */
    status = nnrt_session_classify_files(session, (const char *const *)(argv + arg + 1), count,
                                         results, count, outputs, count * classes);
    if (status != NNRT_OK) {
        fprintf(stderr, "classify_files: %s: %s\n", nnrt_status_string(status), nnrt_last_error_message());
        failed = 2;
        goto done;
    }
    for (i = 0; i < count; i++) {
        const char *path = argv[arg + 1 + i];
        const nnrt_file_result *r = &results[i];
        const char *label = "?";
        const float *row = outputs + i * classes;
        if (r->status != NNRT_OK) {
            printf("%s: error: %s: %s\n", path, nnrt_status_string(r->status), r->message);
            failed = 1;
            continue;
        }
        nnrt_model_class_label(model, (size_t)r->label, &label);
        printf("%s: %s (%.3f)", path, label, r->confidence);
        /* The K largest outputs: a partial selection sort of the class indices. */
        printf("  top:");
        for (j = 0; j < classes; j++) order[j] = j;
        for (k = 0; k < top; k++) {
            size_t best = k, tmp;
            for (j = k + 1; j < classes; j++) if (row[order[j]] > row[order[best]]) best = j;
            tmp = order[k]; order[k] = order[best]; order[best] = tmp;
            nnrt_model_class_label(model, order[k], &label);
            printf(" %s=%.3f", label, row[order[k]]);
        }
        if (r->flags & NNRT_IMAGE_INVERTED) printf("  [inverted]");
        if (r->flags & NNRT_IMAGE_BLANK) printf("  [blank]");
        printf("\n");
    }
done:
    free(results);
    free(outputs);
    free(order);
    nnrt_session_free(session);
    nnrt_model_free(model);
    return failed;
}
