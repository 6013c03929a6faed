/*
 * test_capi: exercises the real libnnrt.so through Include/nnrt.h.
 *
 *   test_capi                  run every test; the last line is "N passed, N failed"
 *   test_capi --write-model P  write a random 784-30-10 sigmoid MNIST model to P and exit
 *
 * Model fixtures (good, truncated, corrupt, wrong version, wrong shapes, NaN weights, unknown
 * layer kinds, ensembles) are built here with the protoc-c structs generated from nnrt.proto
 * (Sources/CModelProto), so no trainer is needed.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nnrt.h"
#include "nnrt.pb-c.h"

/* ----------------------------------------------------------------------------------------- */
/* Test bookkeeping */

static int passed, failed;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            passed++;                                                                \
        } else {                                                                     \
            failed++;                                                                \
            fprintf(stderr, "FAIL %s:%d: %s (last error: %s)\n", __FILE__, __LINE__, \
                    #cond, nnrt_last_error_message());                               \
        }                                                                            \
    } while (0)

/* A call that must fail with `code` and leave a message containing `fragment`. */
#define CHECK_FAILS(call, code, fragment)                                                 \
    do {                                                                                  \
        nnrt_status st_ = (call);                                                         \
        const char *msg_ = nnrt_last_error_message();                                     \
        if (st_ == (code) && msg_ != NULL && msg_[0] != '\0' && strstr(msg_, fragment)) { \
            passed++;                                                                     \
        } else {                                                                          \
            failed++;                                                                     \
            fprintf(stderr, "FAIL %s:%d: %s gave %d (%s), want %d with \"%s\": %s\n",     \
                    __FILE__, __LINE__, #call, (int)st_, nnrt_status_string(st_),         \
                    (int)(code), fragment, msg_ ? msg_ : "(null)");                       \
        }                                                                                 \
    } while (0)

/* ----------------------------------------------------------------------------------------- */
/* Fixtures: networks built with protobuf-c */

static uint64_t rng_state = 88172645463325252ull;

static float rnd(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static char *dup_str(const char *s) {
    char *p = malloc(strlen(s) + 1);
    if (p) strcpy(p, s);
    return p;
}

static Nnrt__Tensor *make_tensor(uint32_t rows, uint32_t cols, int rank) {
    Nnrt__Tensor *t = calloc(1, sizeof *t);
    size_t i, n = (size_t)rows * (rank == 2 ? cols : 1);
    nnrt__tensor__init(t);
    t->n_shape = (size_t)rank;
    t->shape = calloc(2, sizeof *t->shape);
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->n_data = n;
    t->data = calloc(n ? n : 1, sizeof *t->data);
    for (i = 0; i < n; i++) t->data[i] = rnd();
    return t;
}

/* A dense network with `layers` layers of the given sizes (sizes has layers + 1 entries). */
static Nnrt__Network *make_network(const char *name, const uint32_t *sizes, int layers, Nnrt__Activation act,
                                   const char *const *labels) {
    Nnrt__Network *n = calloc(1, sizeof *n);
    int i;
    uint32_t out = sizes[layers];
    nnrt__network__init(n);
    n->name = dup_str(name);
    n->n_layers = (size_t)layers;
    n->layers = calloc((size_t)layers, sizeof *n->layers);
    for (i = 0; i < layers; i++) {
        char lname[16];
        Nnrt__Layer *l = calloc(1, sizeof *l);
        nnrt__layer__init(l);
        sprintf(lname, "fc%d", i + 1);
        l->name = dup_str(lname);
        l->kind = NNRT__LAYER_KIND__LAYER_KIND_DENSE;
        l->n_input_shape = 1;
        l->input_shape = calloc(1, sizeof(uint32_t));
        l->input_shape[0] = sizes[i];
        l->n_output_shape = 1;
        l->output_shape = calloc(1, sizeof(uint32_t));
        l->output_shape[0] = sizes[i + 1];
        l->activation = act;
        l->weights = make_tensor(sizes[i + 1], sizes[i], 2);
        l->bias = make_tensor(sizes[i + 1], 0, 1);
        n->layers[i] = l;
    }
    n->n_class_labels = out;
    n->class_labels = calloc(out, sizeof(char *));
    for (i = 0; i < (int)out; i++) {
        char text[16];
        sprintf(text, "%d", i);
        n->class_labels[i] = dup_str(labels ? labels[i] : text);
    }
    n->input = calloc(1, sizeof *n->input);
    nnrt__input_contract__init(n->input);
    n->input->n_shape = 1;
    n->input->shape = calloc(1, sizeof(uint32_t));
    n->input->shape[0] = sizes[0];
    n->input->scale = 1.0f / 255.0f;
    n->input->offset = 0;
    n->input->polarity = NNRT__POLARITY__POLARITY_LIGHT_ON_DARK;
    n->cost = NNRT__COST__COST_CROSS_ENTROPY;
    return n;
}

static void free_network(Nnrt__Network *n) {
    size_t i;
    for (i = 0; i < n->n_layers; i++) {
        Nnrt__Layer *l = n->layers[i];
        free(l->name);
        free(l->input_shape);
        free(l->output_shape);
        free(l->weights->shape);
        free(l->weights->data);
        free(l->weights);
        free(l->bias->shape);
        free(l->bias->data);
        free(l->bias);
        free(l);
    }
    free(n->layers);
    for (i = 0; i < n->n_class_labels; i++) free(n->class_labels[i]);
    free(n->class_labels);
    free(n->input->shape);
    free(n->input);
    free(n->name);
    free(n);
}

/* Packs a model file around a network or an ensemble (exactly one non-NULL). */
static uint8_t *pack(Nnrt__Network *net, Nnrt__Ensemble *ens, uint32_t version, const char *identifier,
                     size_t *size) {
    Nnrt__ModelFile f;
    Nnrt__Producer producer;
    Nnrt__MetadataEntry entry, *entries[1];
    uint8_t *buf;
    nnrt__model_file__init(&f);
    nnrt__producer__init(&producer);
    nnrt__metadata_entry__init(&entry);
    producer.name = (char *)"test_capi";
    producer.version = (char *)"1.2.3";
    entry.key = (char *)"description";
    entry.value = (char *)"fixture";
    entries[0] = &entry;
    f.identifier = (char *)identifier;
    f.format_version = version;
    f.producer = &producer;
    f.n_metadata = 1;
    f.metadata = entries;
    if (net) {
        f.body_case = NNRT__MODEL_FILE__BODY_NETWORK;
        f.network = net;
    } else if (ens) {
        f.body_case = NNRT__MODEL_FILE__BODY_ENSEMBLE;
        f.ensemble = ens;
    }
    *size = nnrt__model_file__get_packed_size(&f);
    buf = malloc(*size ? *size : 1);
    nnrt__model_file__pack(&f, buf);
    return buf;
}

static char dir[64];

static const char *write_file(const char *name, const uint8_t *data, size_t size) {
    static char path[128];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "test_capi: cannot write %s\n", path);
        exit(2);
    }
    return path;
}

/* Loads from memory; returns the status, stores the handle. */
static nnrt_status load_mem(const uint8_t *data, size_t size, nnrt_model **out) {
    return nnrt_model_load_from_memory(data, size, out);
}

/* A double-precision reference forward pass of a sigmoid network. */
static void reference(const Nnrt__Network *n, const float *x, double *out) {
    double a[1024], z[1024];
    size_t i, j, k, width = n->layers[0]->input_shape[0];
    for (i = 0; i < width; i++) a[i] = x[i];
    for (i = 0; i < n->n_layers; i++) {
        const Nnrt__Layer *l = n->layers[i];
        size_t in = l->input_shape[0], outw = l->output_shape[0];
        for (j = 0; j < outw; j++) {
            double s = l->bias->data[j];
            for (k = 0; k < in; k++) s += (double)l->weights->data[j * in + k] * a[k];
            z[j] = 1.0 / (1.0 + exp(-s));
        }
        for (j = 0; j < outw; j++) a[j] = z[j];
        width = outw;
    }
    for (i = 0; i < width; i++) out[i] = a[i];
}

/* ----------------------------------------------------------------------------------------- */
/* A format-version-2 fixture: conv2d -> max_pool2d -> dense with dropout (softmax) */

/* Shapes: input [2, 6, 5]; conv1: 3 maps of 3x2 -> [3, 4, 4], linear; pool1: 2x2 -> [3, 2, 2],
 * ReLU; out: dense 12 -> 4, softmax, dropout 0.5. Everything lives in static storage. */
enum { CC = 2, CH = 6, CW = 5, CM = 3, CKH = 3, CKW = 2, COH = 4, COW = 4, CPH = 2, CPW = 2,
       CPOH = 2, CPOW = 2, CFLAT = CM * CPOH * CPOW, CCLASSES = 4 };
static float conv_w[CM * CC * CKH * CKW], conv_b[CM], fc_w[CCLASSES * CFLAT], fc_b[CCLASSES];
static uint32_t conv_in[3] = {CC, CH, CW}, conv_out[3] = {CM, COH, COW}, pool_out[3] = {CM, CPOH, CPOW};
static uint32_t conv_w_shape[4] = {CM, CC, CKH, CKW}, conv_b_shape[1] = {CM};
static uint32_t pool_shape[2] = {CPH, CPW}, fc_in[1] = {CFLAT}, fc_out[1] = {CCLASSES};
static uint32_t fc_w_shape[2] = {CCLASSES, CFLAT}, fc_b_shape[1] = {CCLASSES};
static const float conv_dropout = 0.5f;

static Nnrt__Tensor conv_wt, conv_bt, fc_wt, fc_bt, pool_extra;
static Nnrt__Layer conv_layer, pool_layer, fc_layer;
static Nnrt__Layer *conv_layers[3];
static char *conv_labels[CCLASSES] = {"a", "b", "c", "d"};
static Nnrt__InputContract conv_contract;
static Nnrt__Network conv_net;

static Nnrt__Network *make_conv_network(void) {
    size_t i;
    for (i = 0; i < sizeof conv_w / sizeof *conv_w; i++) conv_w[i] = rnd();
    for (i = 0; i < CM; i++) conv_b[i] = rnd();
    for (i = 0; i < sizeof fc_w / sizeof *fc_w; i++) fc_w[i] = rnd();
    for (i = 0; i < CCLASSES; i++) fc_b[i] = rnd();
    nnrt__tensor__init(&conv_wt);
    conv_wt.n_shape = 4; conv_wt.shape = conv_w_shape; conv_wt.n_data = sizeof conv_w / sizeof *conv_w; conv_wt.data = conv_w;
    nnrt__tensor__init(&conv_bt);
    conv_bt.n_shape = 1; conv_bt.shape = conv_b_shape; conv_bt.n_data = CM; conv_bt.data = conv_b;
    nnrt__tensor__init(&fc_wt);
    fc_wt.n_shape = 2; fc_wt.shape = fc_w_shape; fc_wt.n_data = sizeof fc_w / sizeof *fc_w; fc_wt.data = fc_w;
    nnrt__tensor__init(&fc_bt);
    fc_bt.n_shape = 1; fc_bt.shape = fc_b_shape; fc_bt.n_data = CCLASSES; fc_bt.data = fc_b;

    nnrt__layer__init(&conv_layer);
    conv_layer.name = (char *)"conv1";
    conv_layer.kind = NNRT__LAYER_KIND__LAYER_KIND_CONV2D;
    conv_layer.n_input_shape = 3; conv_layer.input_shape = conv_in;
    conv_layer.n_output_shape = 3; conv_layer.output_shape = conv_out;
    conv_layer.activation = NNRT__ACTIVATION__ACTIVATION_LINEAR;
    conv_layer.weights = &conv_wt;
    conv_layer.bias = &conv_bt;

    nnrt__layer__init(&pool_layer);   /* no tensors: a pooling layer has no parameters */
    pool_layer.name = (char *)"pool1";
    pool_layer.kind = NNRT__LAYER_KIND__LAYER_KIND_MAX_POOL2D;
    pool_layer.n_input_shape = 3; pool_layer.input_shape = conv_out;
    pool_layer.n_output_shape = 3; pool_layer.output_shape = pool_out;
    pool_layer.n_pool_shape = 2; pool_layer.pool_shape = pool_shape;
    pool_layer.activation = NNRT__ACTIVATION__ACTIVATION_RELU;

    nnrt__layer__init(&fc_layer);
    fc_layer.name = (char *)"out";
    fc_layer.kind = NNRT__LAYER_KIND__LAYER_KIND_DENSE;
    fc_layer.n_input_shape = 1; fc_layer.input_shape = fc_in;
    fc_layer.n_output_shape = 1; fc_layer.output_shape = fc_out;
    fc_layer.activation = NNRT__ACTIVATION__ACTIVATION_SOFTMAX;
    fc_layer.weights = &fc_wt;
    fc_layer.bias = &fc_bt;
    fc_layer.dropout = conv_dropout;

    conv_layers[0] = &conv_layer;
    conv_layers[1] = &pool_layer;
    conv_layers[2] = &fc_layer;
    nnrt__input_contract__init(&conv_contract);
    conv_contract.n_shape = 3; conv_contract.shape = conv_in;
    conv_contract.scale = 1.0f / 255.0f;
    conv_contract.polarity = NNRT__POLARITY__POLARITY_LIGHT_ON_DARK;
    nnrt__network__init(&conv_net);
    conv_net.name = (char *)"convnet";
    conv_net.n_layers = 3; conv_net.layers = conv_layers;
    conv_net.n_class_labels = CCLASSES; conv_net.class_labels = conv_labels;
    conv_net.input = &conv_contract;
    conv_net.cost = NNRT__COST__COST_LOG_LIKELIHOOD;
    return &conv_net;
}

/* The conv fixture's forward pass in double precision, straight from nnrt.proto's definitions. */
static void conv_reference(const float *x, double *out) {
    double conv[CM][COH][COW], pooled[CFLAT], z[CCLASSES], m = -1e300, sum = 0;
    int c, i, j, k, y, xx;
    for (k = 0; k < CM; k++)
        for (y = 0; y < COH; y++)
            for (xx = 0; xx < COW; xx++) {
                double s = conv_b[k];
                for (c = 0; c < CC; c++)
                    for (i = 0; i < CKH; i++)
                        for (j = 0; j < CKW; j++)
                            s += (double)conv_w[((k * CC + c) * CKH + i) * CKW + j] * x[(c * CH + y + i) * CW + xx + j];
                conv[k][y][xx] = s;   /* linear */
            }
    for (k = 0; k < CM; k++)
        for (y = 0; y < CPOH; y++)
            for (xx = 0; xx < CPOW; xx++) {
                double best = conv[k][y * CPH][xx * CPW];
                for (i = 0; i < CPH; i++)
                    for (j = 0; j < CPW; j++)
                        if (conv[k][y * CPH + i][xx * CPW + j] > best) best = conv[k][y * CPH + i][xx * CPW + j];
                pooled[(k * CPOH + y) * CPOW + xx] = best > 0 ? best : 0;   /* ReLU */
            }
    for (j = 0; j < CCLASSES; j++) {
        double s = 0;
        for (k = 0; k < CFLAT; k++) s += (double)fc_w[j * CFLAT + k] * pooled[k];
        z[j] = (1.0 - conv_dropout) * s + fc_b[j];
        if (z[j] > m) m = z[j];
    }
    for (j = 0; j < CCLASSES; j++) sum += (z[j] = exp(z[j] - m));
    for (j = 0; j < CCLASSES; j++) out[j] = z[j] / sum;
}

static void test_conv_and_layers(void) {
    enum { N = 300 };   /* crosses the runtime's block size of 256 examples */
    static float x[N * CC * CH * CW], outputs[N * CCLASSES];
    static int32_t labels[N];
    Nnrt__Network *net = make_conv_network();
    nnrt_model *m = NULL, *e = NULL;
    const nnrt_model *members[2];
    uint8_t *buf;
    size_t size, n = 0, i, j, dims[3] = {0, 0, 0}, rank = 0;
    uint32_t version = 0;
    int32_t kind = -1, activation = -1;
    const char *name = NULL, *summary = NULL;
    double worst = 0, ref[CCLASSES];
    int labels_ok = 1;

    buf = pack(net, NULL, 2, "nnrt-model", &size);
    CHECK(load_mem(buf, size, &m) == NNRT_OK && m != NULL);
    CHECK(nnrt_model_format_version(m, &version) == NNRT_OK && version == 2);
    CHECK(nnrt_model_input_size(m, &n) == NNRT_OK && n == CC * CH * CW);
    CHECK(nnrt_model_input_shape(m, dims, 3, &rank) == NNRT_OK && rank == 3 && dims[0] == CC && dims[1] == CH &&
          dims[2] == CW);

    /* Outputs against the reference, over more examples than one block. */
    for (i = 0; i < sizeof x / sizeof *x; i++) x[i] = rnd();
    CHECK(nnrt_model_predict(m, x, N, sizeof x / sizeof *x, labels, N, outputs, N * CCLASSES) == NNRT_OK);
    for (i = 0; i < N; i++) {
        size_t best = 0;
        conv_reference(x + i * CC * CH * CW, ref);
        for (j = 0; j < CCLASSES; j++) {
            double d = fabs(outputs[i * CCLASSES + j] - ref[j]);
            if (d > worst) worst = d;
            if (ref[j] > ref[best]) best = j;
        }
        if (labels[i] != (int32_t)best && fabs(ref[labels[i]] - ref[best]) > 1e-5) labels_ok = 0;
    }
    CHECK(worst <= 1e-5);
    CHECK(labels_ok);

    /* Layer introspection. */
    CHECK(nnrt_model_layer_count(m, 0, &n) == NNRT_OK && n == 3);
    CHECK_FAILS(nnrt_model_layer_count(m, 1, &n), NNRT_ERR_NOT_FOUND, "member 1");
    CHECK_FAILS(nnrt_model_layer_count(m, 0, NULL), NNRT_ERR_INVALID_ARGUMENT, "out_count");
    CHECK_FAILS(nnrt_model_layer_count(NULL, 0, &n), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK(nnrt_model_layer_info(m, 0, 0, &kind, &activation, &name, &summary) == NNRT_OK);
    CHECK(kind == NNRT_LAYER_CONV2D && activation == NNRT_ACTIVATION_LINEAR && strcmp(name, "conv1") == 0);
    CHECK(strcmp(summary, "conv2d 'conv1' [2,6,5] -> [3,4,4], 3x2 kernels, linear") == 0);
    CHECK(nnrt_model_layer_info(m, 0, 1, &kind, &activation, &name, &summary) == NNRT_OK);
    CHECK(kind == NNRT_LAYER_MAX_POOL2D && activation == NNRT_ACTIVATION_RELU && strcmp(name, "pool1") == 0);
    CHECK(strcmp(summary, "max_pool2d 'pool1' [3,4,4] -> [3,2,2], 2x2 max-pooling, relu") == 0);
    CHECK(nnrt_model_layer_info(m, 0, 2, &kind, &activation, NULL, &summary) == NNRT_OK);
    CHECK(kind == NNRT_LAYER_DENSE && activation == NNRT_ACTIVATION_SOFTMAX);
    CHECK(strcmp(summary, "dense 'out' [12] -> [4], softmax, dropout 0.5 (inputs scaled by 0.5)") == 0);
    CHECK(nnrt_model_layer_info(m, 0, 2, NULL, NULL, NULL, NULL) == NNRT_OK);
    CHECK_FAILS(nnrt_model_layer_info(m, 0, 3, &kind, &activation, &name, &summary), NNRT_ERR_NOT_FOUND, "layer 3");
    CHECK(kind == 0 && activation == 0 && name == NULL && summary == NULL);
    CHECK_FAILS(nnrt_model_layer_info(m, 1, 0, &kind, NULL, NULL, NULL), NNRT_ERR_NOT_FOUND, "member 1");
    CHECK_FAILS(nnrt_model_layer_info(m, (size_t)-1, 0, NULL, NULL, NULL, NULL), NNRT_ERR_NOT_FOUND, "member");
    CHECK_FAILS(nnrt_model_layer_info(m, 0, (size_t)-1, NULL, NULL, NULL, NULL), NNRT_ERR_NOT_FOUND, "layer");
    CHECK_FAILS(nnrt_model_layer_info(NULL, 0, 0, &kind, NULL, NULL, NULL), NNRT_ERR_INVALID_ARGUMENT, "model");

    /* A run-time ensemble of the model with itself describes both members. */
    members[0] = m;
    members[1] = m;
    CHECK(nnrt_ensemble_create(members, 2, NNRT_VOTING_MAJORITY, &e) == NNRT_OK);
    CHECK(nnrt_model_layer_count(e, 1, &n) == NNRT_OK && n == 3);
    CHECK(nnrt_model_layer_info(e, 1, 1, &kind, NULL, &name, NULL) == NNRT_OK && kind == NNRT_LAYER_MAX_POOL2D &&
          strcmp(name, "pool1") == 0);
    nnrt_model_free(e);
    nnrt_model_free(m);
    free(buf);

    /* The same file as format version 1 is rejected: conv layers need version 2. */
    buf = pack(net, NULL, 1, "nnrt-model", &size);
    CHECK_FAILS(load_mem(buf, size, &m), NNRT_ERR_BAD_MODEL, "layer 1 'conv1': a conv2d layer needs format version 2");
    CHECK(m == NULL);
    free(buf);
    /* A pooling layer that stores weights; a kernel larger than the input; dropout 1. */
    nnrt__tensor__init(&pool_extra);
    pool_extra.n_shape = 1; pool_extra.shape = conv_b_shape; pool_extra.n_data = CM; pool_extra.data = conv_b;
    pool_layer.weights = &pool_extra;
    buf = pack(net, NULL, 2, "nnrt-model", &size);
    CHECK_FAILS(load_mem(buf, size, &m), NNRT_ERR_BAD_MODEL, "layer 2 'pool1': a max_pool2d layer has no weights");
    free(buf);
    pool_layer.weights = NULL;
    conv_w_shape[0] = 1;                  /* [1, 2, 7, 1]: 14 of the array's floats */
    conv_w_shape[2] = 7;
    conv_w_shape[3] = 1;
    conv_wt.n_data = CC * 7;
    buf = pack(net, NULL, 2, "nnrt-model", &size);
    CHECK_FAILS(load_mem(buf, size, &m), NNRT_ERR_BAD_MODEL, "conv2d kernel 7x1 must be at least 1x1 and fit the 6x5 input");
    free(buf);
    conv_w_shape[0] = CM;
    conv_w_shape[2] = CKH;
    conv_w_shape[3] = CKW;
    conv_wt.n_data = sizeof conv_w / sizeof *conv_w;
    fc_layer.dropout = 1.0f;
    buf = pack(net, NULL, 2, "nnrt-model", &size);
    CHECK_FAILS(load_mem(buf, size, &m), NNRT_ERR_BAD_MODEL, "layer 3 'out': dropout 1.0 is outside 0 <= p < 1");
    free(buf);
    fc_layer.dropout = conv_dropout;
}

/* ----------------------------------------------------------------------------------------- */
/* Tests */

static void test_versions_and_status(void) {
    uint32_t oldest = 0, newest = 0;
    nnrt_status s;
    CHECK(strcmp(nnrt_version_string(), NNRT_VERSION_STRING) == 0);
    {
        const char *build = nnrt_kernel_build();
        const char *forced = getenv("NNRT_KERNELS");
        CHECK(build != NULL && (strcmp(build, "generic") == 0 || strcmp(build, "avx2-fma") == 0));
        if (forced != NULL && strcmp(forced, "generic") == 0) CHECK(strcmp(build, "generic") == 0);
    }
    CHECK(nnrt_abi_version() == NNRT_ABI_VERSION);
    nnrt_supported_format_versions(&oldest, &newest);
    CHECK(oldest == 1 && newest >= oldest);
    nnrt_supported_format_versions(NULL, NULL);
    for (s = NNRT_OK; s <= NNRT_ERR_IMAGE_TOO_LARGE; s++) {
        CHECK(nnrt_status_string(s) != NULL && strcmp(nnrt_status_string(s), "unknown status") != 0);
    }
    CHECK(strcmp(nnrt_status_string(-1), "unknown status") == 0);
    CHECK(strcmp(nnrt_status_string(14), "unknown status") == 0);
    CHECK(strcmp(nnrt_status_string(NNRT_ERR_BUFFER_TOO_SMALL), "buffer too small") == 0);
    CHECK(nnrt_last_error_message() != NULL);
}

static void test_load_errors(void) {
    static const uint32_t sizes[] = {6, 4, 3};
    Nnrt__Network *net = make_network("small", sizes, 2, NNRT__ACTIVATION__ACTIVATION_SIGMOID, NULL);
    nnrt_model *m = (nnrt_model *)&m; /* non-NULL garbage: must be reset to NULL on failure */
    size_t size, cut;
    uint8_t *good = pack(net, NULL, 1, "nnrt-model", &size), *buf;
    uint8_t junk[256];
    const char *path;
    int all_bad = 1;

    CHECK_FAILS(nnrt_model_load(NULL, &m), NNRT_ERR_INVALID_ARGUMENT, "path");
    CHECK(m == NULL);
    CHECK_FAILS(nnrt_model_load("x", NULL), NNRT_ERR_INVALID_ARGUMENT, "out_model");
    CHECK_FAILS(nnrt_model_load("/nonexistent/model.nnrt", &m), NNRT_ERR_IO, "/nonexistent/model.nnrt");
    CHECK_FAILS(nnrt_model_load_from_memory(NULL, 10, &m), NNRT_ERR_INVALID_ARGUMENT, "data");
    CHECK_FAILS(nnrt_model_load_from_memory(good, 0, &m), NNRT_ERR_INVALID_ARGUMENT, "size");
    CHECK_FAILS(nnrt_model_load_from_memory(good, size, NULL), NNRT_ERR_INVALID_ARGUMENT, "out_model");
    CHECK_FAILS(nnrt_model_load_from_memory(good, SIZE_MAX, &m), NNRT_ERR_INVALID_ARGUMENT, "size");

    /* Every proper prefix of a valid file is rejected as a bad model, never a crash. */
    for (cut = 1; cut < size; cut++) {
        nnrt_status st = load_mem(good, cut, &m);
        if (st != NNRT_ERR_BAD_MODEL || m != NULL) {
            all_bad = 0;
            fprintf(stderr, "prefix %lu: status %d\n", (unsigned long)cut, (int)st);
        }
        nnrt_model_free(m);
    }
    CHECK(all_bad);
    path = write_file("truncated.nnrt", good, size / 2);
    CHECK_FAILS(nnrt_model_load(path, &m), NNRT_ERR_BAD_MODEL, "not an nnrt model file");
    path = write_file("empty.nnrt", good, 0);
    CHECK_FAILS(nnrt_model_load(path, &m), NNRT_ERR_BAD_MODEL, "not an nnrt model file");
    CHECK(m == NULL);

    /* Random bytes, and random bytes behind a valid magic number. */
    for (cut = 0; cut < 200; cut++) {
        size_t i, n = 1 + (size_t)((rnd() + 1) * 127);
        nnrt_status st;
        for (i = 0; i < n; i++) junk[i] = (uint8_t)((rnd() + 1) * 128);
        if (cut % 2 && n > 12) memcpy(junk, good, 12);
        st = load_mem(junk, n, &m);
        if (st == NNRT_OK) {
            all_bad = 0;
            nnrt_model_free(m);
        }
    }
    CHECK(all_bad);
    /* Corrupt each byte of a valid file in turn: success or a clean error, never a crash. */
    buf = malloc(size);
    for (cut = 0; cut < size; cut++) {
        nnrt_status st;
        memcpy(buf, good, size);
        buf[cut] ^= 0x5A;
        st = load_mem(buf, size, &m);
        CHECK(st == NNRT_OK || (st >= NNRT_ERR_BAD_MODEL && m == NULL));
        nnrt_model_free(m);
    }
    free(buf);

    /* Wrong identifier, wrong version. */
    free(good);
    good = pack(net, NULL, 1, "onnx-model", &size);
    path = write_file("identifier.nnrt", good, size);
    CHECK_FAILS(nnrt_model_load(path, &m), NNRT_ERR_BAD_MODEL, "not an nnrt model file");
    free(good);
    good = pack(net, NULL, 3, "nnrt-model", &size);
    path = write_file("version3.nnrt", good, size);
    CHECK_FAILS(nnrt_model_load(path, &m), NNRT_ERR_UNSUPPORTED_VERSION, "version 3");
    free(good);
    good = pack(NULL, NULL, 1, "nnrt-model", &size);
    CHECK_FAILS(load_mem(good, size, &m), NNRT_ERR_BAD_MODEL, "no network or ensemble");
    free(good);

    /* Wrong shapes. */
    net->layers[1]->weights->shape[1] = 5;
    good = pack(net, NULL, 1, "nnrt-model", &size);
    CHECK_FAILS(load_mem(good, size, &m), NNRT_ERR_BAD_MODEL, "layer 2 'fc2'");
    free(good);
    net->layers[1]->weights->shape[1] = 4;
    net->layers[0]->weights->n_data -= 1;
    good = pack(net, NULL, 1, "nnrt-model", &size);
    CHECK_FAILS(load_mem(good, size, &m), NNRT_ERR_BAD_MODEL, "layer 1 'fc1': weights hold 23 floats");
    free(good);
    net->layers[0]->weights->n_data += 1;
    net->layers[1]->input_shape[0] = 5;
    good = pack(net, NULL, 1, "nnrt-model", &size);
    CHECK_FAILS(load_mem(good, size, &m), NNRT_ERR_BAD_MODEL, "layer 2 'fc2'");
    free(good);
    net->layers[1]->input_shape[0] = 4;
    net->n_class_labels = 2;
    good = pack(net, NULL, 1, "nnrt-model", &size);
    CHECK_FAILS(load_mem(good, size, &m), NNRT_ERR_BAD_MODEL, "class labels");
    free(good);
    net->n_class_labels = 3;
    net->input->shape[0] = 7;
    good = pack(net, NULL, 1, "nnrt-model", &size);
    CHECK_FAILS(load_mem(good, size, &m), NNRT_ERR_BAD_MODEL, "input contract");
    free(good);
    net->input->shape[0] = 6;

    /* Non-finite weights; unknown and unsupported enum values. */
    net->layers[1]->weights->data[2] = (float)NAN;
    good = pack(net, NULL, 1, "nnrt-model", &size);
    path = write_file("nan.nnrt", good, size);
    CHECK_FAILS(nnrt_model_load(path, &m), NNRT_ERR_BAD_MODEL, "layer 2 'fc2': weight 2 is nan");
    free(good);
    net->layers[1]->weights->data[2] = 0.5f;
    net->layers[0]->kind = (Nnrt__LayerKind)4;
    good = pack(net, NULL, 1, "nnrt-model", &size);
    CHECK_FAILS(load_mem(good, size, &m), NNRT_ERR_UNSUPPORTED, "layer 1 'fc1'");
    free(good);
    /* A conv2d kind on a layer with dense shapes, in a version-1 file: the kind needs version 2. */
    net->layers[0]->kind = NNRT__LAYER_KIND__LAYER_KIND_CONV2D;
    good = pack(net, NULL, 1, "nnrt-model", &size);
    CHECK_FAILS(load_mem(good, size, &m), NNRT_ERR_BAD_MODEL, "needs format version 2");
    free(good);
    net->layers[0]->kind = NNRT__LAYER_KIND__LAYER_KIND_UNSPECIFIED;
    good = pack(net, NULL, 1, "nnrt-model", &size);
    CHECK_FAILS(load_mem(good, size, &m), NNRT_ERR_BAD_MODEL, "unspecified");
    free(good);
    net->layers[0]->kind = NNRT__LAYER_KIND__LAYER_KIND_DENSE;
    net->layers[0]->activation = (Nnrt__Activation)99;
    good = pack(net, NULL, 1, "nnrt-model", &size);
    CHECK_FAILS(load_mem(good, size, &m), NNRT_ERR_BAD_MODEL, "activation");
    free(good);
    free_network(net);
}

static void test_introspection_and_predict(void) {
    static const uint32_t sizes[] = {784, 30, 10};
    Nnrt__Network *net = make_network("mnist-like", sizes, 2, NNRT__ACTIVATION__ACTIVATION_SIGMOID, NULL);
    size_t size, n = 0, rank = 0, dims[3] = {0, 0, 0}, i, c;
    uint8_t *bytes = pack(net, NULL, 1, "nnrt-model", &size);
    const char *path = write_file("good.nnrt", bytes, size);
    nnrt_model *m = NULL;
    const char *s1 = NULL, *s2 = NULL;
    float scale = 0, offset = 1, *x, outputs[50], big[64];
    int32_t polarity = 0, labels[5], rule = 0;
    uint32_t version = 0;
    uint8_t *pixels;
    double ref[10], worst = 0;

    CHECK(nnrt_model_load(path, &m) == NNRT_OK && m != NULL);
    if (m == NULL) return;
    CHECK(nnrt_model_input_size(m, &n) == NNRT_OK && n == 784);
    CHECK_FAILS(nnrt_model_input_size(NULL, &n), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK_FAILS(nnrt_model_input_size(m, NULL), NNRT_ERR_INVALID_ARGUMENT, "out_size");
    CHECK(nnrt_model_input_shape(m, dims, 3, &rank) == NNRT_OK && rank == 1 && dims[0] == 784);
    rank = 0;
    CHECK_FAILS(nnrt_model_input_shape(m, NULL, 0, &rank), NNRT_ERR_BUFFER_TOO_SMALL, "1 needed");
    CHECK(rank == 1);
    CHECK_FAILS(nnrt_model_input_shape(m, NULL, 2, &rank), NNRT_ERR_INVALID_ARGUMENT, "dims");
    CHECK_FAILS(nnrt_model_input_shape(m, dims, 3, NULL), NNRT_ERR_INVALID_ARGUMENT, "out_rank");
    CHECK_FAILS(nnrt_model_input_shape(NULL, dims, 3, &rank), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK(nnrt_model_input_contract(m, &scale, &offset, &polarity) == NNRT_OK);
    CHECK(scale == 1.0f / 255.0f && offset == 0 && polarity == 1);
    CHECK(nnrt_model_input_contract(m, NULL, NULL, NULL) == NNRT_OK);
    CHECK_FAILS(nnrt_model_input_contract(NULL, &scale, NULL, NULL), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK(nnrt_model_class_count(m, &n) == NNRT_OK && n == 10);
    CHECK_FAILS(nnrt_model_class_count(m, NULL), NNRT_ERR_INVALID_ARGUMENT, "out_count");
    CHECK_FAILS(nnrt_model_class_count(NULL, &n), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK(nnrt_model_class_label(m, 7, &s1) == NNRT_OK && strcmp(s1, "7") == 0);
    CHECK_FAILS(nnrt_model_class_label(m, 10, &s1), NNRT_ERR_NOT_FOUND, "10");
    CHECK_FAILS(nnrt_model_class_label(m, 0, NULL), NNRT_ERR_INVALID_ARGUMENT, "out_label");
    CHECK_FAILS(nnrt_model_class_label(NULL, 0, &s1), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK(nnrt_model_member_count(m, &n) == NNRT_OK && n == 1);
    CHECK_FAILS(nnrt_model_member_count(m, NULL), NNRT_ERR_INVALID_ARGUMENT, "out_count");
    CHECK_FAILS(nnrt_model_member_count(NULL, &n), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK(nnrt_model_voting(m, &rule) == NNRT_OK && rule == NNRT_VOTING_MEAN_PROBABILITY);
    CHECK_FAILS(nnrt_model_voting(m, NULL), NNRT_ERR_INVALID_ARGUMENT, "out_rule");
    CHECK_FAILS(nnrt_model_voting(NULL, &rule), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK(nnrt_model_format_version(m, &version) == NNRT_OK && version == 1);
    CHECK_FAILS(nnrt_model_format_version(m, NULL), NNRT_ERR_INVALID_ARGUMENT, "out_version");
    CHECK_FAILS(nnrt_model_format_version(NULL, &version), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK(nnrt_model_producer(m, &s1, &s2) == NNRT_OK && strcmp(s1, "test_capi") == 0 && strcmp(s2, "1.2.3") == 0);
    CHECK(nnrt_model_producer(m, NULL, NULL) == NNRT_OK);
    CHECK_FAILS(nnrt_model_producer(NULL, &s1, &s2), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK(nnrt_model_name(m, &s1) == NNRT_OK && strcmp(s1, "mnist-like") == 0);
    CHECK_FAILS(nnrt_model_name(m, NULL), NNRT_ERR_INVALID_ARGUMENT, "out_name");
    CHECK_FAILS(nnrt_model_name(NULL, &s1), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK(nnrt_model_metadata_count(m, &n) == NNRT_OK && n == 1);
    CHECK_FAILS(nnrt_model_metadata_count(m, NULL), NNRT_ERR_INVALID_ARGUMENT, "out_count");
    CHECK_FAILS(nnrt_model_metadata_count(NULL, &n), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK(nnrt_model_metadata_entry(m, 0, &s1, &s2) == NNRT_OK && strcmp(s1, "description") == 0 &&
          strcmp(s2, "fixture") == 0);
    CHECK_FAILS(nnrt_model_metadata_entry(m, 1, &s1, &s2), NNRT_ERR_NOT_FOUND, "1");
    CHECK_FAILS(nnrt_model_metadata_entry(m, 0, NULL, NULL), NNRT_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(nnrt_model_metadata_entry(NULL, 0, &s1, &s2), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK(nnrt_model_metadata_get(m, "description", &s1) == NNRT_OK && strcmp(s1, "fixture") == 0);
    CHECK_FAILS(nnrt_model_metadata_get(m, "author", &s1), NNRT_ERR_NOT_FOUND, "author");
    CHECK_FAILS(nnrt_model_metadata_get(m, NULL, &s1), NNRT_ERR_INVALID_ARGUMENT, "key");
    CHECK_FAILS(nnrt_model_metadata_get(m, "description", NULL), NNRT_ERR_INVALID_ARGUMENT, "out_value");
    CHECK_FAILS(nnrt_model_metadata_get(NULL, "description", &s1), NNRT_ERR_INVALID_ARGUMENT, "model");

    /* Predictions agree with a double-precision reference. */
    x = malloc(5 * 784 * sizeof *x);
    pixels = malloc(5 * 784);
    for (i = 0; i < 5 * 784; i++) {
        pixels[i] = (uint8_t)((rnd() + 1) * 127.5);
        x[i] = (float)pixels[i] * (1.0f / 255.0f);
    }
    CHECK(nnrt_model_predict(m, x, 5, 5 * 784, labels, 5, outputs, 50) == NNRT_OK);
    for (i = 0; i < 5; i++) {
        size_t best = 0;
        reference(net, x + i * 784, ref);
        for (c = 0; c < 10; c++) {
            double d = fabs(ref[c] - outputs[i * 10 + c]);
            if (d > worst) worst = d;
            if (outputs[i * 10 + c] > outputs[i * 10 + best]) best = c;
        }
        CHECK(labels[i] == (int32_t)best);
    }
    CHECK(worst < 1e-5);
    memset(big, 0, sizeof big);
    CHECK(nnrt_model_predict_u8(m, pixels, 5, 5 * 784, NULL, 0, big, 50) == NNRT_OK);
    CHECK(memcmp(big, outputs, 50 * sizeof(float)) == 0);
    CHECK(nnrt_model_predict_members(m, x, 5, 5 * 784, labels, 5, big, 50) == NNRT_OK);
    CHECK(memcmp(big, outputs, 50 * sizeof(float)) == 0);

    /* Argument errors of the predict functions. */
    CHECK_FAILS(nnrt_model_predict(NULL, x, 1, 784, labels, 1, NULL, 0), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK_FAILS(nnrt_model_predict(m, NULL, 1, 784, labels, 1, NULL, 0), NNRT_ERR_INVALID_ARGUMENT, "inputs");
    CHECK_FAILS(nnrt_model_predict(m, x, 0, 784, labels, 1, NULL, 0), NNRT_ERR_INVALID_ARGUMENT, "count");
    CHECK_FAILS(nnrt_model_predict(m, x, 1, 784, NULL, 0, NULL, 0), NNRT_ERR_INVALID_ARGUMENT, "nothing requested");
    CHECK_FAILS(nnrt_model_predict(m, x, 1, 784, NULL, 1, NULL, 0), NNRT_ERR_INVALID_ARGUMENT, "labels");
    CHECK_FAILS(nnrt_model_predict(m, x, 1, 784, labels, 1, NULL, 10), NNRT_ERR_INVALID_ARGUMENT, "outputs");
    CHECK_FAILS(nnrt_model_predict(m, x, 2, 784, labels, 2, NULL, 0), NNRT_ERR_SHAPE_MISMATCH, "1568");
    CHECK_FAILS(nnrt_model_predict(m, x, 2, 1568, labels, 1, NULL, 0), NNRT_ERR_BUFFER_TOO_SMALL, "2 needed");
    CHECK_FAILS(nnrt_model_predict(m, x, 2, 1568, NULL, 0, big, 19), NNRT_ERR_BUFFER_TOO_SMALL, "20 needed");
    CHECK_FAILS(nnrt_model_predict(m, x, SIZE_MAX / 100, 784, labels, 1, NULL, 0), NNRT_ERR_INVALID_ARGUMENT,
                "overflow");
    CHECK_FAILS(nnrt_model_predict(m, x, SIZE_MAX, SIZE_MAX, labels, 1, NULL, 0), NNRT_ERR_INVALID_ARGUMENT, "");
    CHECK_FAILS(nnrt_model_predict_u8(NULL, pixels, 1, 784, labels, 1, NULL, 0), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK_FAILS(nnrt_model_predict_u8(m, NULL, 1, 784, labels, 1, NULL, 0), NNRT_ERR_INVALID_ARGUMENT, "pixels");
    CHECK_FAILS(nnrt_model_predict_u8(m, pixels, 0, 784, labels, 1, NULL, 0), NNRT_ERR_INVALID_ARGUMENT, "count");
    CHECK_FAILS(nnrt_model_predict_u8(m, pixels, 1, 783, labels, 1, NULL, 0), NNRT_ERR_SHAPE_MISMATCH, "784");
    CHECK_FAILS(nnrt_model_predict_u8(m, pixels, 1, 784, labels, 0, NULL, 0), NNRT_ERR_BUFFER_TOO_SMALL, "1 needed");
    CHECK_FAILS(nnrt_model_predict_members(NULL, x, 1, 784, labels, 1, NULL, 0), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK_FAILS(nnrt_model_predict_members(m, NULL, 1, 784, labels, 1, NULL, 0), NNRT_ERR_INVALID_ARGUMENT, "inputs");
    CHECK_FAILS(nnrt_model_predict_members(m, x, 0, 784, labels, 1, NULL, 0), NNRT_ERR_INVALID_ARGUMENT, "count");
    CHECK_FAILS(nnrt_model_predict_members(m, x, 1, 784, NULL, 0, NULL, 0), NNRT_ERR_INVALID_ARGUMENT, "nothing");
    CHECK_FAILS(nnrt_model_predict_members(m, x, 1, 784, NULL, 0, big, 9), NNRT_ERR_BUFFER_TOO_SMALL, "10 needed");

    /* The last error message survives successful calls and is replaced by the next failure. */
    CHECK_FAILS(nnrt_model_class_label(m, 99, &s1), NNRT_ERR_NOT_FOUND, "99");
    CHECK(nnrt_model_class_count(m, &n) == NNRT_OK);
    CHECK(strstr(nnrt_last_error_message(), "99") != NULL);

    free(x);
    free(pixels);
    free(bytes);
    nnrt_model_free(m);
    nnrt_model_free(NULL);
    free_network(net);
}

static void test_ensembles(void) {
    static const uint32_t sizes[] = {8, 5, 4}, wide[] = {9, 4};
    static const char *const other_labels[] = {"a", "b", "c", "d"};
    Nnrt__Network *nets[3], *members[3], *w, *relabelled;
    Nnrt__Ensemble ens;
    nnrt_model *models[3], *mw = NULL, *mr = NULL, *e = NULL, *again = NULL, *file_ens = NULL;
    const nnrt_model *list[3];
    size_t size, n = 0, i;
    uint8_t *bytes;
    float x[8 * 3], votes[12], mean[12], member_out[36], sum;
    int32_t labels[3], member_labels[9], rule = 0;

    for (i = 0; i < 3; i++) {
        char name[8];
        sprintf(name, "m%d", (int)i);
        nets[i] = make_network(name, sizes, 2, NNRT__ACTIVATION__ACTIVATION_SIGMOID, NULL);
        bytes = pack(nets[i], NULL, 1, "nnrt-model", &size);
        CHECK(load_mem(bytes, size, &models[i]) == NNRT_OK);
        free(bytes);
        list[i] = models[i];
    }
    w = make_network("wide", wide, 1, NNRT__ACTIVATION__ACTIVATION_SIGMOID, NULL);
    bytes = pack(w, NULL, 1, "nnrt-model", &size);
    CHECK(load_mem(bytes, size, &mw) == NNRT_OK);
    free(bytes);
    relabelled = make_network("relabelled", sizes, 2, NNRT__ACTIVATION__ACTIVATION_SIGMOID, other_labels);
    bytes = pack(relabelled, NULL, 1, "nnrt-model", &size);
    CHECK(load_mem(bytes, size, &mr) == NNRT_OK);
    free(bytes);

    e = (nnrt_model *)&e;
    CHECK_FAILS(nnrt_ensemble_create(NULL, 3, NNRT_VOTING_MAJORITY, &e), NNRT_ERR_INVALID_ARGUMENT, "members");
    CHECK(e == NULL);
    CHECK_FAILS(nnrt_ensemble_create(list, 0, NNRT_VOTING_MAJORITY, &e), NNRT_ERR_INVALID_ARGUMENT, "member_count");
    CHECK_FAILS(nnrt_ensemble_create(list, 3, 0, &e), NNRT_ERR_INVALID_ARGUMENT, "voting rule");
    CHECK_FAILS(nnrt_ensemble_create(list, 3, 7, &e), NNRT_ERR_INVALID_ARGUMENT, "voting rule");
    CHECK_FAILS(nnrt_ensemble_create(list, 3, NNRT_VOTING_MAJORITY, NULL), NNRT_ERR_INVALID_ARGUMENT, "out_model");
    {
        const nnrt_model *with_null[2];
        with_null[0] = models[0];
        with_null[1] = NULL;
        CHECK_FAILS(nnrt_ensemble_create(with_null, 2, NNRT_VOTING_MAJORITY, &e), NNRT_ERR_INVALID_ARGUMENT,
                    "members[1]");
        with_null[1] = mw;
        CHECK_FAILS(nnrt_ensemble_create(with_null, 2, NNRT_VOTING_MAJORITY, &e), NNRT_ERR_SHAPE_MISMATCH, "inputs");
        with_null[1] = mr;
        CHECK_FAILS(nnrt_ensemble_create(with_null, 2, NNRT_VOTING_MEAN_PROBABILITY, &e), NNRT_ERR_SHAPE_MISMATCH,
                    "class labels");
    }

    CHECK(nnrt_ensemble_create(list, 3, NNRT_VOTING_MAJORITY, &e) == NNRT_OK && e != NULL);
    for (i = 0; i < 3; i++) nnrt_model_free(models[i]); /* the ensemble keeps them alive */
    CHECK(nnrt_model_member_count(e, &n) == NNRT_OK && n == 3);
    CHECK(nnrt_model_voting(e, &rule) == NNRT_OK && rule == NNRT_VOTING_MAJORITY);
    for (i = 0; i < 24; i++) x[i] = rnd();
    CHECK(nnrt_model_predict(e, x, 3, 24, labels, 3, votes, 12) == NNRT_OK);
    CHECK(nnrt_model_predict_members(e, x, 3, 24, member_labels, 9, member_out, 36) == NNRT_OK);
    for (i = 0; i < 3; i++) {
        size_t c, count[4] = {0, 0, 0, 0}, m;
        for (m = 0; m < 3; m++) count[member_labels[i * 3 + m]]++;
        sum = 0;
        for (c = 0; c < 4; c++) {
            CHECK(fabsf(votes[i * 4 + c] - (float)count[c] / 3.0f) < 1e-6f);
            sum += votes[i * 4 + c];
        }
        CHECK(fabsf(sum - 1) < 1e-6f);
        CHECK(count[labels[i]] >= 1);
    }

    /* Re-vote under mean probability: members are flattened; compare with a file ensemble. */
    CHECK(nnrt_ensemble_create((const nnrt_model *const *)&e, 1, NNRT_VOTING_MEAN_PROBABILITY, &again) == NNRT_OK);
    nnrt_model_free(e);
    CHECK(nnrt_model_member_count(again, &n) == NNRT_OK && n == 3);
    CHECK(nnrt_model_predict(again, x, 3, 24, labels, 3, mean, 12) == NNRT_OK);
    nnrt__ensemble__init(&ens);
    ens.name = (char *)"file-ensemble";
    ens.n_members = 3;
    memcpy(members, nets, sizeof members);
    ens.members = members;
    ens.voting = NNRT__VOTING_RULE__VOTING_RULE_MEAN_PROBABILITY;
    bytes = pack(NULL, &ens, 1, "nnrt-model", &size);
    CHECK(load_mem(bytes, size, &file_ens) == NNRT_OK);
    free(bytes);
    CHECK(nnrt_model_name(file_ens, (const char **)&bytes) == NNRT_OK && strcmp((char *)bytes, "file-ensemble") == 0);
    CHECK(nnrt_model_predict(file_ens, x, 3, 24, NULL, 0, votes, 12) == NNRT_OK);
    CHECK(memcmp(votes, mean, sizeof mean) == 0);
    nnrt_model_free(file_ens);
    /* An ensemble file whose members disagree, and one with no members. */
    ens.members[1] = relabelled;
    bytes = pack(NULL, &ens, 1, "nnrt-model", &size);
    CHECK_FAILS(load_mem(bytes, size, &file_ens), NNRT_ERR_BAD_MODEL, "member 2");
    free(bytes);
    ens.members[1] = nets[1];
    ens.n_members = 0;
    bytes = pack(NULL, &ens, 1, "nnrt-model", &size);
    CHECK_FAILS(load_mem(bytes, size, &file_ens), NNRT_ERR_BAD_MODEL, "no members");
    free(bytes);

    nnrt_model_free(again);
    nnrt_model_free(mw);
    nnrt_model_free(mr);
    for (i = 0; i < 3; i++) free_network(nets[i]);
    free_network(w);
    free_network(relabelled);
}

static int write_model(const char *path) {
    static const uint32_t sizes[] = {784, 30, 10};
    Nnrt__Network *net = make_network("random-784-30-10", sizes, 2, NNRT__ACTIVATION__ACTIVATION_SIGMOID, NULL);
    size_t size;
    uint8_t *bytes = pack(net, NULL, 1, "nnrt-model", &size);
    FILE *f = fopen(path, "wb");
    int ok = f != NULL && fwrite(bytes, 1, size, f) == size;
    if (f != NULL && fclose(f) != 0) ok = 0;
    free(bytes);
    free_network(net);
    if (!ok) fprintf(stderr, "test_capi: cannot write %s\n", path);
    return ok ? 0 : 1;
}

/* Sessions: bit-identical to nnrt_model_predict for 1, 2 and "all" threads, memory reused across
 * calls, the model freed before the session, and argument errors. */
static void test_sessions(void) {
    enum { N = 300 };
    static const uint32_t sizes[] = {784, 30, 10};
    static float x[N * 784], want_out[N * 10], got_out[N * 10];
    static uint8_t pixels[N * 784];
    static int32_t want_labels[N], got_labels[N], want_u8[N];
    Nnrt__Network *net = make_network("session", sizes, 2, NNRT__ACTIVATION__ACTIVATION_SIGMOID, NULL);
    size_t size, i, threads = 0, t, counts[] = {1, 40, 300, 1};
    uint8_t *bytes = pack(net, NULL, 1, "nnrt-model", &size);
    nnrt_model *m = NULL;
    nnrt_session *session = NULL;
    static const size_t thread_counts[] = {1, 2, 0};

    CHECK(load_mem(bytes, size, &m) == NNRT_OK && m != NULL);
    if (m == NULL) return;
    for (i = 0; i < N * 784; i++) {
        x[i] = (float)((i * 7919u) % 1000u) / 1000.0f;
        pixels[i] = (uint8_t)((i * 31u) % 256u);
    }
    CHECK(nnrt_model_predict(m, x, N, N * 784, want_labels, N, want_out, N * 10) == NNRT_OK);
    CHECK(nnrt_model_predict_u8(m, pixels, N, N * 784, want_u8, N, NULL, 0) == NNRT_OK);
    for (t = 0; t < 3; t++) {
        size_t c;
        CHECK(nnrt_session_create(m, thread_counts[t], &session) == NNRT_OK && session != NULL);
        if (session == NULL) continue;
        CHECK(nnrt_session_threads(session, &threads) == NNRT_OK && threads >= 1);
        if (thread_counts[t] > 0) CHECK(threads == thread_counts[t]);
        for (c = 0; c < 4; c++) {
            size_t n = counts[c];
            memset(got_labels, 0xff, sizeof got_labels);
            CHECK(nnrt_session_predict(session, x, n, n * 784, got_labels, n, got_out, n * 10) == NNRT_OK);
            CHECK(memcmp(got_labels, want_labels, n * sizeof *got_labels) == 0);
            CHECK(memcmp(got_out, want_out, n * 10 * sizeof *got_out) == 0);
            CHECK(nnrt_session_predict_u8(session, pixels, n, n * 784, got_labels, n, NULL, 0) == NNRT_OK);
            CHECK(memcmp(got_labels, want_u8, n * sizeof *got_labels) == 0);
        }
        CHECK_FAILS(nnrt_session_predict(session, x, N, N * 784 - 1, got_labels, N, NULL, 0),
                    NNRT_ERR_SHAPE_MISMATCH, "inputs");
        CHECK_FAILS(nnrt_session_predict(session, x, N, N * 784, got_labels, N - 1, NULL, 0),
                    NNRT_ERR_BUFFER_TOO_SMALL, "labels");
        CHECK_FAILS(nnrt_session_predict(session, NULL, 1, 784, got_labels, 1, NULL, 0), NNRT_ERR_INVALID_ARGUMENT,
                    "inputs");
        CHECK_FAILS(nnrt_session_predict_u8(session, pixels, 0, 784, got_labels, 1, NULL, 0),
                    NNRT_ERR_INVALID_ARGUMENT, "count");
        if (t == 2) {
            /* The session keeps the model alive: free the handle first, then predict. */
            nnrt_model_free(m);
            m = NULL;
            CHECK(nnrt_session_predict(session, x, N, N * 784, got_labels, N, NULL, 0) == NNRT_OK);
            CHECK(memcmp(got_labels, want_labels, sizeof got_labels) == 0);
        }
        nnrt_session_free(session);
        session = NULL;
    }
    CHECK_FAILS(nnrt_session_create(NULL, 1, &session), NNRT_ERR_INVALID_ARGUMENT, "model");
    CHECK(session == NULL);
    CHECK_FAILS(nnrt_session_predict(NULL, x, 1, 784, got_labels, 1, NULL, 0), NNRT_ERR_INVALID_ARGUMENT, "session");
    CHECK_FAILS(nnrt_session_predict_u8(NULL, pixels, 1, 784, got_labels, 1, NULL, 0), NNRT_ERR_INVALID_ARGUMENT,
                "session");
    CHECK_FAILS(nnrt_session_threads(NULL, &threads), NNRT_ERR_INVALID_ARGUMENT, "session");
    nnrt_session_free(NULL);
    {
        nnrt_model *again = NULL;
        CHECK(load_mem(bytes, size, &again) == NNRT_OK);
        CHECK_FAILS(nnrt_session_create(again, 257, &session), NNRT_ERR_INVALID_ARGUMENT, "threads");
        CHECK_FAILS(nnrt_session_create(again, 1, NULL), NNRT_ERR_INVALID_ARGUMENT, "out_session");
        nnrt_model_free(again);
    }
    free(bytes);
    free_network(net);
}

int main(int argc, char **argv) {
    char cmd[128];
    if (argc == 3 && strcmp(argv[1], "--write-model") == 0) return write_model(argv[2]);
    strcpy(dir, "/tmp/nnrt-test-capi-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    test_versions_and_status();
    test_load_errors();
    test_introspection_and_predict();
    test_ensembles();
    test_conv_and_layers();
    test_sessions();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "test_capi: could not remove %s\n", dir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
