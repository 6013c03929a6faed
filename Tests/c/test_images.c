/*
 * test_images: the image functions of the C API against the files nnrt-testimages writes.
 *
 *   test_images MODEL IMAGES_DIR MNIST_DIR
 *
 * IMAGES_DIR holds scanned/ (with labels.csv) and broken/ (with expected.csv). Checks:
 *   - every broken file gets exactly its expected status and a message, and the good files of
 *     the same call are still classified (one bad file never stops the batch);
 *   - nnrt_session_classify_files: the scanned digits' accuracy, the same labels for 1 and 2
 *     threads, outputs rows that match each result's label and confidence;
 *   - nnrt_model_classify_image (from memory) and nnrt_model_preprocess_file/_image agree with it;
 *   - an MNIST digit given as 28x28 8-bit pixels passes unchanged: nnrt_model_preprocess_pixels
 *     gives exactly the input nnrt_model_predict_u8 uses, and so do its inverted copy (flag
 *     NNRT_IMAGE_INVERTED) and 16-bit, RGB and RGBA copies (to float rounding);
 *   - argument errors: NULL pointers, short buffers, bad channel counts, sizes over the limits.
 * Prints "test_images: N checks passed" or the failures; exit status 1 on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "nnrt.h"

static int checks = 0, failures = 0;

#define CHECK(cond, ...)                                      \
    do {                                                      \
        checks++;                                             \
        if (!(cond)) {                                        \
            failures++;                                       \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                     \
            fprintf(stderr, "\n");                            \
        }                                                     \
    } while (0)

static nnrt_status status_named(const char *name) {
    static const struct { const char *name; nnrt_status status; } table[] = {
        {"NNRT_ERR_IO", NNRT_ERR_IO}, {"NNRT_ERR_IMAGE_DECODE", NNRT_ERR_IMAGE_DECODE},
        {"NNRT_ERR_IMAGE_FORMAT", NNRT_ERR_IMAGE_FORMAT}, {"NNRT_ERR_IMAGE_TOO_LARGE", NNRT_ERR_IMAGE_TOO_LARGE},
        {"NNRT_ERR_UNSUPPORTED", NNRT_ERR_UNSUPPORTED},
    };
    size_t i;
    for (i = 0; i < sizeof table / sizeof table[0]; i++) if (strcmp(table[i].name, name) == 0) return table[i].status;
    return -1;
}

/* Reads a small CSV's first two fields per line (after the header) into names/values. */
static size_t read_csv(const char *path, char names[][64], char values[][64], size_t capacity) {
    FILE *f = fopen(path, "r");
    char line[1024];
    size_t n = 0;
    if (!f) return 0;
    if (!fgets(line, sizeof line, f)) { fclose(f); return 0; }
    while (n < capacity && fgets(line, sizeof line, f)) {
        char *comma = strchr(line, ','), *second;
        if (!comma) continue;
        *comma = 0;
        second = comma + 1;
        second[strcspn(second, ",\n")] = 0;
        if (strlen(line) >= 64 || strlen(second) >= 64) continue;
        memcpy(names[n], line, strlen(line) + 1);
        memcpy(values[n], second, strlen(second) + 1);
        n++;
    }
    fclose(f);
    return n;
}

static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    unsigned char *data;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc(n > 0 ? (size_t)n : 1);
    if (data && n > 0 && fread(data, 1, (size_t)n, f) != (size_t)n) { free(data); data = NULL; }
    fclose(f);
    *size = n > 0 ? (size_t)n : 0;
    return data;
}

#define MAX_FILES 1200

static char names[MAX_FILES][64], values[MAX_FILES][64];

int main(int argc, char **argv) {
    nnrt_model *model = NULL;
    nnrt_session *one = NULL, *two = NULL;
    size_t classes = 0, input_size = 0, n_broken, n_scanned, i, j, total, correct = 0;
    char (*paths)[512];
    const char **list;
    nnrt_file_result *results, *results2;
    float *outputs;
    unsigned char digit[784];
    gzFile gz;

    if (argc < 4) {
        fprintf(stderr, "usage: test_images MODEL IMAGES_DIR MNIST_DIR\n");
        return 2;
    }
    if (nnrt_model_load(argv[1], &model) != NNRT_OK) {
        fprintf(stderr, "test_images: cannot load %s: %s\n", argv[1], nnrt_last_error_message());
        return 2;
    }
    nnrt_model_class_count(model, &classes);
    nnrt_model_input_size(model, &input_size);
    CHECK(nnrt_session_create(model, 1, &one) == NNRT_OK, "session 1");
    CHECK(nnrt_session_create(model, 2, &two) == NNRT_OK, "session 2");

    /* The list: every broken file, then the scanned digits (a bad file must not stop the rest). */
    {
        char csv[600];
        snprintf(csv, sizeof csv, "%s/broken/expected.csv", argv[2]);
        n_broken = read_csv(csv, names, values, MAX_FILES);
        CHECK(n_broken >= 10, "broken/expected.csv lists %zu files", n_broken);
        snprintf(csv, sizeof csv, "%s/scanned/labels.csv", argv[2]);
        n_scanned = read_csv(csv, names + n_broken, values + n_broken, MAX_FILES - n_broken);
        CHECK(n_scanned >= 100, "scanned/labels.csv lists %zu files", n_scanned);
    }
    total = n_broken + n_scanned;
    paths = malloc(total * sizeof *paths);
    list = malloc(total * sizeof *list);
    results = malloc(total * sizeof *results);
    results2 = malloc(total * sizeof *results2);
    outputs = malloc(total * classes * sizeof *outputs);
    if (!paths || !list || !results || !results2 || !outputs) return 2;
    for (i = 0; i < total; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s/%s", argv[2], i < n_broken ? "broken" : "scanned", names[i]);
        list[i] = paths[i];
    }
    CHECK(sizeof(nnrt_file_result) == 256, "nnrt_file_result is %zu bytes", sizeof(nnrt_file_result));

    CHECK(nnrt_session_classify_files(two, list, total, results, total, outputs, total * classes) == NNRT_OK,
          "classify_files: %s", nnrt_last_error_message());
    for (i = 0; i < n_broken; i++) {
        nnrt_status want = status_named(values[i]);
        CHECK(results[i].status == want, "%s: status %d (%s: %s), expected %s", names[i], results[i].status,
              nnrt_status_string(results[i].status), results[i].message, values[i]);
        CHECK(results[i].label == -1 && results[i].message[0] != 0, "%s: label %d, message '%s'", names[i],
              results[i].label, results[i].message);
        for (j = 0; j < classes; j++) CHECK(outputs[i * classes + j] == 0.0f, "%s: output row not zeroed", names[i]);
    }
    for (i = n_broken; i < total; i++) {
        const float *row = outputs + i * classes;
        CHECK(results[i].status == NNRT_OK, "%s: %s", names[i], results[i].message);
        if (results[i].status != NNRT_OK) continue;
        correct += results[i].label == atoi(values[i]);
        CHECK(results[i].label >= 0 && (size_t)results[i].label < classes, "%s: label %d", names[i], results[i].label);
        CHECK(row[results[i].label] == results[i].confidence, "%s: confidence %g vs output %g", names[i],
              results[i].confidence, row[results[i].label]);
        for (j = 0; j < classes; j++) CHECK(row[j] <= results[i].confidence, "%s: output %zu above the label's", names[i], j);
    }
    printf("test_images: %zu/%zu scanned digits correct (%.2f%%)\n", correct, n_scanned, 100.0 * correct / n_scanned);
    CHECK(correct * 100 >= n_scanned * 85, "scanned accuracy %zu/%zu is under 85%%", correct, n_scanned);

    /* One thread gives the same results; a short outputs buffer writes nothing. */
    CHECK(nnrt_session_classify_files(one, list, total, results2, total, NULL, 0) == NNRT_OK, "classify 1 thread");
    for (i = 0; i < total; i++) {
        CHECK(results2[i].status == results[i].status && results2[i].label == results[i].label &&
              results2[i].confidence == results[i].confidence, "%s: 1 vs 2 threads differ", names[i]);
    }
    CHECK(nnrt_session_classify_files(one, list, total, results2, total - 1, NULL, 0) == NNRT_ERR_BUFFER_TOO_SMALL, "short results");
    CHECK(nnrt_session_classify_files(one, list, total, results2, total, outputs, 3) == NNRT_ERR_BUFFER_TOO_SMALL, "short outputs");
    CHECK(nnrt_session_classify_files(NULL, list, total, results2, total, NULL, 0) == NNRT_ERR_INVALID_ARGUMENT, "NULL session");
    CHECK(nnrt_session_classify_files(one, NULL, total, results2, total, NULL, 0) == NNRT_ERR_INVALID_ARGUMENT, "NULL paths");
    CHECK(nnrt_session_classify_files(one, list, total, NULL, total, NULL, 0) == NNRT_ERR_INVALID_ARGUMENT, "NULL results");
    list[1] = NULL;
    CHECK(nnrt_session_classify_files(one, list, total, results2, total, NULL, 0) == NNRT_ERR_INVALID_ARGUMENT, "a NULL path");
    CHECK(strstr(nnrt_last_error_message(), "paths[1] is NULL") != NULL, "message: %s", nnrt_last_error_message());
    list[1] = paths[1];
    CHECK(nnrt_session_classify_files(one, list, 0, results2, 0, NULL, 0) == NNRT_OK, "zero files");

    /* From memory and preprocess-only: the same label and input as the file path. */
    for (i = n_broken; i < total && i < n_broken + 40; i++) {
        size_t size = 0;
        unsigned char *data = read_file(paths[i], &size);
        int32_t label = -2;
        uint32_t flags = 99, flags2 = 98;
        float *in1 = malloc(input_size * sizeof *in1), *in2 = malloc(input_size * sizeof *in2);
        float *out = malloc(classes * sizeof *out);
        CHECK(data && in1 && in2 && out, "memory");
        if (!data || !in1 || !in2 || !out) return 2;
        CHECK(nnrt_model_classify_image(model, data, size, &label, out, classes, &flags) == NNRT_OK, "%s: %s", names[i], nnrt_last_error_message());
        CHECK(label == results[i].label && flags == results[i].flags, "%s: from memory %d/%u vs %d/%u", names[i], label, flags,
              results[i].label, results[i].flags);
        CHECK(nnrt_model_preprocess_file(model, paths[i], in1, input_size, &flags) == NNRT_OK, "%s", nnrt_last_error_message());
        CHECK(nnrt_model_preprocess_image(model, data, size, in2, input_size, &flags2) == NNRT_OK, "%s", nnrt_last_error_message());
        CHECK(memcmp(in1, in2, input_size * sizeof *in1) == 0 && flags == flags2, "%s: file and memory preprocess differ", names[i]);
        CHECK(nnrt_model_predict(model, in1, 1, input_size, &label, 1, NULL, 0) == NNRT_OK && label == results[i].label,
              "%s: predict(preprocess) %d vs %d", names[i], label, results[i].label);
        CHECK(nnrt_model_preprocess_image(model, data, size, in2, input_size - 1, NULL) == NNRT_ERR_BUFFER_TOO_SMALL, "short input");
        CHECK(nnrt_model_classify_image(model, data, size / 2, &label, NULL, 0, NULL) == NNRT_ERR_IMAGE_DECODE, "half an image");
        free(data); free(in1); free(in2); free(out);
    }

    /* MNIST digits pass through unchanged as 8-bit pixels, inverted, 16-bit, RGB and RGBA. */
    {
        char path[600];
        snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", argv[3]);
        gz = gzopen(path, "rb");
        CHECK(gz != NULL, "open %s", path);
        if (gz) {
            unsigned char header[16];
            int k;
            CHECK(gzread(gz, header, 16) == 16, "IDX header");
            for (k = 0; k < 20; k++) {
                float expected[784], got[784];
                unsigned char inverted[784], rgb[784 * 3], rgba[784 * 4];
                uint16_t deep[784];
                uint32_t flags = 0;
                int32_t a = -1, b = -2;
                CHECK(gzread(gz, digit, 784) == 784, "IDX digit %d", k);
                /* What nnrt_model_predict_u8 computes from the raw bytes: p * scale + offset. */
                {
                    float scale = 0, offset = 0;
                    int32_t polarity = 0;
                    nnrt_model_input_contract(model, &scale, &offset, &polarity);
                    for (i = 0; i < 784; i++) expected[i] = (float)digit[i] * scale + offset;
                }
                CHECK(nnrt_model_preprocess_pixels(model, digit, 28, 28, 1, 1, 0, got, 784, &flags) == NNRT_OK, "%s", nnrt_last_error_message());
                CHECK(memcmp(got, expected, sizeof got) == 0, "digit %d: 8-bit pass-through changed the input", k);
                CHECK(flags == 0, "digit %d: flags %u", k, flags);
                nnrt_model_predict_u8(model, digit, 1, 784, &a, 1, NULL, 0);
                nnrt_model_predict(model, got, 1, 784, &b, 1, NULL, 0);
                CHECK(a == b, "digit %d: labels %d vs %d", k, a, b);
                for (i = 0; i < 784; i++) inverted[i] = (unsigned char)(255 - digit[i]);
                CHECK(nnrt_model_preprocess_pixels(model, inverted, 28, 28, 1, 1, 0, got, 784, &flags) == NNRT_OK, "inverted");
                CHECK(memcmp(got, expected, sizeof got) == 0 && flags == NNRT_IMAGE_INVERTED, "digit %d: inverted copy not restored (flags %u)", k, flags);
                for (i = 0; i < 784; i++) {
                    deep[i] = (uint16_t)(digit[i] * 257);
                    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = digit[i];
                    rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = digit[i];
                    rgba[4 * i + 3] = 255;
                }
                CHECK(nnrt_model_preprocess_pixels(model, deep, 28, 28, 1, 2, 0, got, 784, &flags) == NNRT_OK, "16-bit");
                for (i = 0; i < 784; i++) CHECK(fabsf(got[i] - expected[i]) < 1e-5f, "digit %d: 16-bit pixel %zu %g vs %g", k, i, got[i], expected[i]);
                CHECK(nnrt_model_preprocess_pixels(model, rgb, 28, 28, 3, 1, 0, got, 784, &flags) == NNRT_OK, "RGB");
                for (i = 0; i < 784; i++) CHECK(fabsf(got[i] - expected[i]) < 1e-5f, "digit %d: RGB pixel %zu", k, i);
                CHECK(nnrt_model_preprocess_pixels(model, rgba, 28, 28, 4, 1, 0, got, 784, &flags) == NNRT_OK, "RGBA");
                for (i = 0; i < 784; i++) CHECK(fabsf(got[i] - expected[i]) < 1e-5f, "digit %d: RGBA pixel %zu", k, i);
            }
            gzclose(gz);
        }
    }

    /* Argument errors of the pixel entry point. */
    {
        float in[784];
        unsigned char px[16] = {0};
        CHECK(nnrt_model_preprocess_pixels(model, px, 4, 4, 5, 1, 0, in, 784, NULL) == NNRT_ERR_INVALID_ARGUMENT, "5 channels");
        CHECK(nnrt_model_preprocess_pixels(model, px, 4, 4, 1, 3, 0, in, 784, NULL) == NNRT_ERR_INVALID_ARGUMENT, "3 bytes a sample");
        CHECK(nnrt_model_preprocess_pixels(model, px, 0, 4, 1, 1, 0, in, 784, NULL) == NNRT_ERR_INVALID_ARGUMENT, "zero width");
        CHECK(nnrt_model_preprocess_pixels(model, px, 4, 4, 1, 1, 3, in, 784, NULL) == NNRT_ERR_INVALID_ARGUMENT, "row_bytes too small");
        CHECK(nnrt_model_preprocess_pixels(model, px, (size_t)1 << 40, (size_t)1 << 40, 1, 1, 0, in, 784, NULL) == NNRT_ERR_IMAGE_TOO_LARGE, "huge");
        CHECK(nnrt_model_preprocess_pixels(model, NULL, 4, 4, 1, 1, 0, in, 784, NULL) == NNRT_ERR_INVALID_ARGUMENT, "NULL pixels");
        CHECK(nnrt_model_preprocess_pixels(model, px, 4, 4, 1, 1, 0, NULL, 784, NULL) == NNRT_ERR_INVALID_ARGUMENT, "NULL input");
        CHECK(nnrt_model_preprocess_pixels(NULL, px, 4, 4, 1, 1, 0, in, 784, NULL) == NNRT_ERR_INVALID_ARGUMENT, "NULL model");
        CHECK(nnrt_model_preprocess_file(model, "/nonexistent/x.png", in, 784, NULL) == NNRT_ERR_IO, "missing file");
        CHECK(strstr(nnrt_last_error_message(), "/nonexistent/x.png") != NULL, "message names the file: %s", nnrt_last_error_message());
        {
            uint32_t flags = 99;
            CHECK(nnrt_model_preprocess_pixels(model, px, 4, 4, 1, 1, 0, in, 784, &flags) == NNRT_OK, "blank 4x4");
            CHECK(flags & NNRT_IMAGE_BLANK, "blank flag: %u", flags);
        }
    }

    free(paths); free(list); free(results); free(results2); free(outputs);
    nnrt_session_free(one);
    nnrt_session_free(two);
    nnrt_model_free(model);
    if (failures) {
        printf("test_images: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("test_images: %d checks passed\n", checks);
    return 0;
}
