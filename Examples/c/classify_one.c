/*
 * classify_one: the smallest complete libnnrt program. Copy it as a starting point.
 *
 *   classify_one MODEL IMAGE [INDEX]
 *
 * IMAGE is either a raw file of input_size bytes (784 grey pixels for MNIST, row by row) or an
 * IDX image file (gzipped or plain), in which case INDEX picks the image (default 0).
 * Prints the predicted label and every class's output.
 *
 * Build: cc -std=c99 -I../../Include classify_one.c -L../../build/lib -lnnrt -lz
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "nnrt.h"

/* Prints a failed call's status and the thread's last error message. */
static int fail(const char *what, nnrt_status status) {
    fprintf(stderr, "classify_one: %s: %s: %s\n", what, nnrt_status_string(status), nnrt_last_error_message());
    return 1;
}

int main(int argc, char **argv) {
    nnrt_model *model = NULL;
    size_t input_size = 0, class_count = 0, c;
    unsigned char *pixels;
    unsigned char magic[4];
    float *outputs;
    int32_t label = -1;
    const char *text = NULL;
    long index = argc > 3 ? atol(argv[3]) : 0;
    nnrt_status status;
    gzFile f;

    if (argc < 3) {
        fprintf(stderr, "usage: classify_one MODEL IMAGE [INDEX]\n");
        return 2;
    }

    /* 1. Load the model. The handle is ours until nnrt_model_free. */
    status = nnrt_model_load(argv[1], &model);
    if (status != NNRT_OK) return fail(argv[1], status);

    /* 2. Ask it what it takes and what it gives. */
    nnrt_model_input_size(model, &input_size);
    nnrt_model_class_count(model, &class_count);
    pixels = malloc(input_size);
    outputs = malloc(class_count * sizeof *outputs);
    if (pixels == NULL || outputs == NULL) return 1;

    /* 3. Read one image: skip an IDX header (magic 0x00000803, then three dimensions) if there
     *    is one, else read raw bytes from the start. gzread reads plain files too. */
    f = gzopen(argv[2], "rb");
    if (f == NULL || gzread(f, magic, 4) != 4) {
        fprintf(stderr, "classify_one: cannot read '%s'\n", argv[2]);
        return 1;
    }
    if (magic[0] == 0 && magic[1] == 0 && magic[2] == 0x08 && magic[3] == 3) {
        gzseek(f, 16 + (long)input_size * index, SEEK_SET);
    } else {
        gzrewind(f);
    }
    if (gzread(f, pixels, (unsigned)input_size) != (int)input_size) {
        fprintf(stderr, "classify_one: '%s' has no image %ld of %lu bytes\n", argv[2], index,
                (unsigned long)input_size);
        return 1;
    }
    gzclose(f);

    /* 4. Predict. Raw pixels are scaled by the model's input contract (MNIST: p / 255). One
     *    image: count 1, one label, class_count outputs. */
    status = nnrt_model_predict_u8(model, pixels, 1, input_size, &label, 1, outputs, class_count);
    if (status != NNRT_OK) return fail("predict", status);

    /* 5. Report. Label strings belong to the model and live as long as it does. */
    nnrt_model_class_label(model, (size_t)label, &text);
    printf("label: %s\n", text);
    for (c = 0; c < class_count; c++) {
        nnrt_model_class_label(model, c, &text);
        printf("  %-6s %.6f\n", text, outputs[c]);
    }

    /* 6. Release everything. nnrt_model_free(NULL) would be harmless too. */
    nnrt_model_free(model);
    free(outputs);
    free(pixels);
    return 0;
}
