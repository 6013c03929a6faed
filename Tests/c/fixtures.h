/*
 * fixtures.h: random MNIST-shaped model files for the C tests, built with the protoc-c structs
 * generated from nnrt.proto (Sources/CModelProto), so no trainer is needed.
 *
 *   fixture_dense(sizes, n, seed, &size)  a sigmoid network of fully connected layers,
 *                                         sizes[0] = 784 inputs, sizes[n-1] = 10 classes
 *   fixture_conv(maps, seed, &size)       conv2d (maps x 5x5, ReLU) -> 2x2 max-pool ->
 *                                         dense 10 softmax (format version 2), input 1x28x28
 *
 * Both return malloc'ed file bytes (free them) with labels "0".."9" and MNIST's input contract,
 * so they form ensembles with each other and with trained models. Static functions: include once
 * per test program.
 */
#ifndef NNRT_TEST_FIXTURES_H
#define NNRT_TEST_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.pb-c.h"

static uint64_t fixture_rng;

static float fixture_rnd(void) { /* uniform in [-1, 1) */
    fixture_rng ^= fixture_rng << 13;
    fixture_rng ^= fixture_rng >> 7;
    fixture_rng ^= fixture_rng << 17;
    return (float)((double)(fixture_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static Nnrt__Tensor *fixture_tensor(const uint32_t *shape, size_t rank, float scale) {
    Nnrt__Tensor *t = calloc(1, sizeof *t);
    size_t i, n = 1;
    nnrt__tensor__init(t);
    t->n_shape = rank;
    t->shape = calloc(rank, sizeof *t->shape);
    for (i = 0; i < rank; i++) {
        t->shape[i] = shape[i];
        n *= shape[i];
    }
    t->n_data = n;
    t->data = calloc(n, sizeof *t->data);
    for (i = 0; i < n; i++) t->data[i] = fixture_rnd() * scale;
    return t;
}

/* A malloc'ed array of up to three dimensions (the unused ones are 0). */
static uint32_t *fixture_dims(uint32_t a, uint32_t b, uint32_t c) {
    uint32_t *d = calloc(3, sizeof *d);
    d[0] = a;
    d[1] = b;
    d[2] = c;
    return d;
}

static Nnrt__Layer *fixture_layer(const char *name, Nnrt__LayerKind kind, Nnrt__Activation activation) {
    Nnrt__Layer *l = calloc(1, sizeof *l);
    nnrt__layer__init(l);
    l->name = malloc(strlen(name) + 1);
    strcpy(l->name, name);
    l->kind = kind;
    l->activation = activation;
    return l;
}

static void fixture_free_tensor(Nnrt__Tensor *t) {
    if (t == NULL) return;
    free(t->shape);
    free(t->data);
    free(t);
}

/* Packs a network with `layers` into a model file; frees the layers. */
static uint8_t *fixture_pack(Nnrt__Layer **layers, size_t count, uint32_t version, Nnrt__Cost cost, size_t *size) {
    static char *labels[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    static uint32_t input_shape[3] = {1, 28, 28};
    Nnrt__ModelFile f;
    Nnrt__Producer producer;
    Nnrt__Network net;
    Nnrt__InputContract contract;
    uint8_t *buf;
    size_t i;
    nnrt__model_file__init(&f);
    nnrt__producer__init(&producer);
    nnrt__network__init(&net);
    nnrt__input_contract__init(&contract);
    producer.name = (char *)"nnrt-c-fixtures";
    producer.version = (char *)"1";
    contract.n_shape = 3;
    contract.shape = input_shape;
    contract.scale = 1.0f / 255.0f;
    contract.polarity = NNRT__POLARITY__POLARITY_LIGHT_ON_DARK;
    net.name = (char *)"fixture";
    net.n_layers = count;
    net.layers = layers;
    net.n_class_labels = 10;
    net.class_labels = labels;
    net.input = &contract;
    net.cost = cost;
    f.identifier = (char *)"nnrt-model";
    f.format_version = version;
    f.producer = &producer;
    f.body_case = NNRT__MODEL_FILE__BODY_NETWORK;
    f.network = &net;
    *size = nnrt__model_file__get_packed_size(&f);
    buf = malloc(*size);
    nnrt__model_file__pack(&f, buf);
    for (i = 0; i < count; i++) {
        free(layers[i]->name);
        free(layers[i]->input_shape);
        free(layers[i]->output_shape);
        free(layers[i]->pool_shape);
        fixture_free_tensor(layers[i]->weights);
        fixture_free_tensor(layers[i]->bias);
        free(layers[i]);
    }
    return buf;
}

static __attribute__((unused)) uint8_t *fixture_dense(const uint32_t *sizes, size_t n, uint64_t seed, size_t *size) {
    Nnrt__Layer *layers[8];
    size_t i;
    fixture_rng = seed * 2654435761u + 88172645463325252ull;
    for (i = 0; i + 1 < n && i < 8; i++) {
        char name[16];
        uint32_t w[2];
        Nnrt__Layer *l;
        sprintf(name, "fc%u", (unsigned)(i + 1));
        l = fixture_layer(name, NNRT__LAYER_KIND__LAYER_KIND_DENSE, NNRT__ACTIVATION__ACTIVATION_SIGMOID);
        l->n_input_shape = 1;
        l->input_shape = fixture_dims(sizes[i], 0, 0);
        l->n_output_shape = 1;
        l->output_shape = fixture_dims(sizes[i + 1], 0, 0);
        w[0] = sizes[i + 1];
        w[1] = sizes[i];
        l->weights = fixture_tensor(w, 2, 0.1f);
        l->bias = fixture_tensor(&sizes[i + 1], 1, 1.0f);
        layers[i] = l;
    }
    return fixture_pack(layers, i, 1, NNRT__COST__COST_CROSS_ENTROPY, size);
}

static __attribute__((unused)) uint8_t *fixture_conv(uint32_t maps, uint64_t seed, size_t *size) {
    Nnrt__Layer *layers[3];
    uint32_t w[4] = {maps, 1, 5, 5}, fc[2] = {10, maps * 12 * 12}, ten = 10;
    Nnrt__Layer *conv, *pool, *out;
    fixture_rng = seed * 2654435761u + 88172645463325252ull;
    conv = fixture_layer("conv1", NNRT__LAYER_KIND__LAYER_KIND_CONV2D, NNRT__ACTIVATION__ACTIVATION_RELU);
    conv->n_input_shape = 3;
    conv->input_shape = fixture_dims(1, 28, 28);
    conv->n_output_shape = 3;
    conv->output_shape = fixture_dims(maps, 24, 24);
    conv->weights = fixture_tensor(w, 4, 0.2f);
    conv->bias = fixture_tensor(&maps, 1, 0.1f);
    pool = fixture_layer("pool1", NNRT__LAYER_KIND__LAYER_KIND_MAX_POOL2D, NNRT__ACTIVATION__ACTIVATION_LINEAR);
    pool->n_input_shape = 3;
    pool->input_shape = fixture_dims(maps, 24, 24);
    pool->n_output_shape = 3;
    pool->output_shape = fixture_dims(maps, 12, 12);
    pool->n_pool_shape = 2;
    pool->pool_shape = fixture_dims(2, 2, 0);
    out = fixture_layer("out", NNRT__LAYER_KIND__LAYER_KIND_DENSE, NNRT__ACTIVATION__ACTIVATION_SOFTMAX);
    out->n_input_shape = 1;
    out->input_shape = fixture_dims(maps * 12 * 12, 0, 0);
    out->n_output_shape = 1;
    out->output_shape = fixture_dims(10, 0, 0);
    out->weights = fixture_tensor(fc, 2, 0.1f);
    out->bias = fixture_tensor(&ten, 1, 0.1f);
    out->dropout = 0.5f;
    layers[0] = conv;
    layers[1] = pool;
    layers[2] = out;
    return fixture_pack(layers, 3, 2, NNRT__COST__COST_LOG_LIKELIHOOD, size);
}

/* Writes `size` bytes to `path`; 0 on success. */
static __attribute__((unused)) int fixture_write(const char *path, const uint8_t *bytes, size_t size) {
    FILE *f = fopen(path, "wb");
    int ok = f != NULL && fwrite(bytes, 1, size, f) == size;
    if (f != NULL && fclose(f) != 0) ok = 0;
    return ok ? 0 : 1;
}

#endif /* NNRT_TEST_FIXTURES_H */
