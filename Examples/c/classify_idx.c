/*
 * classify_idx: classify MNIST-style IDX images with libnnrt and report speed and accuracy.
 *
 *   classify_idx [--labels-out FILE] [--limit N] MODEL IMAGES_IDX[.gz] LABELS_IDX[.gz]
 *
 * Reads the IDX files itself (zlib's gzopen/gzread read gzipped and plain files alike),
 * classifies every image in batches with nnrt_model_predict_u8, and prints images/second and,
 * as its last line, "accuracy: 95.42% (9542/10000)". With --labels-out it also writes the
 * predicted label of every image, one per line; --limit N classifies only the first N images. It
 * first prints the library's version and which build of its kernels runs on this CPU
 * (nnrt_kernel_build). Errors go to stderr with the nnrt status and
 * message; the exit status is then non-zero.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "nnrt.h"

#define BATCH 1000

static void die(const char *what) {
    fprintf(stderr, "classify_idx: %s\n", what);
    exit(1);
}

static void check(nnrt_status status, const char *what) {
    if (status != NNRT_OK) {
        fprintf(stderr, "classify_idx: %s: %s: %s\n", what, nnrt_status_string(status),
                nnrt_last_error_message());
        exit(1);
    }
}

static uint32_t be32(const unsigned char *b) {
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}

/* Reads an IDX file of unsigned bytes with `rank` dimensions: *count items of *item_size bytes. */
static unsigned char *read_idx(const char *path, int rank, size_t *count, size_t *item_size) {
    unsigned char header[16];
    unsigned char *data;
    size_t total, done = 0, n = 1;
    int i;
    gzFile f = gzopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "classify_idx: cannot open '%s'\n", path);
        exit(1);
    }
    if (gzread(f, header, (unsigned)(4 + 4 * rank)) != 4 + 4 * rank || header[0] != 0 || header[1] != 0 ||
        header[2] != 0x08 || header[3] != rank) {
        fprintf(stderr, "classify_idx: '%s' is not an IDX file of %s\n", path, rank == 3 ? "images" : "labels");
        exit(1);
    }
    *count = be32(header + 4);
    for (i = 1; i < rank; i++) n *= be32(header + 4 + 4 * i);
    *item_size = n;
    if (n != 0 && *count > SIZE_MAX / n) die("IDX dimensions overflow");
    total = *count * n;
    data = malloc(total ? total : 1);
    if (data == NULL) die("out of memory");
    while (done < total) {
        unsigned chunk = total - done > (1u << 30) ? (1u << 30) : (unsigned)(total - done);
        int got = gzread(f, data + done, chunk);
        if (got <= 0) {
            fprintf(stderr, "classify_idx: '%s' is truncated\n", path);
            exit(1);
        }
        done += (size_t)got;
    }
    gzclose(f);
    return data;
}

int main(int argc, char **argv) {
    const char *labels_out = NULL;
    nnrt_model *model = NULL;
    unsigned char *images, *truth;
    size_t image_count, image_size, label_count, label_size, input_size, class_count, i;
    int32_t *predicted;
    size_t correct = 0;
    struct timespec t0, t1;
    double seconds;
    int arg = 1;
    size_t limit = 0;

    while (argc - arg > 3 && strncmp(argv[arg], "--", 2) == 0) {
        if (strcmp(argv[arg], "--labels-out") == 0) {
            labels_out = argv[arg + 1];
        } else if (strcmp(argv[arg], "--limit") == 0) {
            char *end = NULL;
            unsigned long value = strtoul(argv[arg + 1], &end, 10);
            if (end == argv[arg + 1] || *end != '\0' || value == 0) die("--limit needs a positive number");
            limit = (size_t)value;
        } else {
            break;
        }
        arg += 2;
    }
    if (argc - arg != 3) {
        fprintf(stderr, "usage: classify_idx [--labels-out FILE] [--limit N] MODEL IMAGES_IDX[.gz] LABELS_IDX[.gz]\n");
        return 2;
    }
    printf("libnnrt %s, %s kernels\n", nnrt_version_string(), nnrt_kernel_build());

    check(nnrt_model_load(argv[arg], &model), argv[arg]);
    check(nnrt_model_input_size(model, &input_size), "input size");
    check(nnrt_model_class_count(model, &class_count), "class count");

    images = read_idx(argv[arg + 1], 3, &image_count, &image_size);
    truth = read_idx(argv[arg + 2], 1, &label_count, &label_size);
    if (image_count != label_count) die("the image and label files hold different numbers of items");
    if (limit > 0 && limit < image_count) image_count = limit;
    if (image_size != input_size) {
        fprintf(stderr, "classify_idx: images have %lu pixels, the model takes %lu inputs\n",
                (unsigned long)image_size, (unsigned long)input_size);
        return 1;
    }
    predicted = malloc((image_count ? image_count : 1) * sizeof *predicted);
    if (predicted == NULL) die("out of memory");

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < image_count; i += BATCH) {
        size_t n = image_count - i < BATCH ? image_count - i : BATCH;
        check(nnrt_model_predict_u8(model, images + i * image_size, n, n * image_size,
                                    predicted + i, n, NULL, 0),
              "predict");
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    for (i = 0; i < image_count; i++) {
        /* Compare by label text, so the model's class order does not matter. */
        const char *label = NULL;
        char want[8];
        check(nnrt_model_class_label(model, (size_t)predicted[i], &label), "class label");
        sprintf(want, "%u", (unsigned)truth[i]);
        if (strcmp(label, want) == 0) correct++;
    }
    if (labels_out != NULL) {
        FILE *out = fopen(labels_out, "w");
        if (out == NULL) die("cannot open the --labels-out file");
        for (i = 0; i < image_count; i++) {
            const char *label = NULL;
            check(nnrt_model_class_label(model, (size_t)predicted[i], &label), "class label");
            fprintf(out, "%s\n", label);
        }
        if (fclose(out) != 0) die("cannot write the --labels-out file");
    }

    printf("classified %lu images in %.3f s: %.0f images/second\n", (unsigned long)image_count, seconds,
           seconds > 0 ? (double)image_count / seconds : 0.0);
    printf("accuracy: %.2f%% (%lu/%lu)\n", image_count ? 100.0 * (double)correct / (double)image_count : 0.0,
           (unsigned long)correct, (unsigned long)image_count);

    free(predicted);
    free(truth);
    free(images);
    nnrt_model_free(model);
    return 0;
}
