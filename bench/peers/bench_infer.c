/*
 * bench_infer.c - times libnnrt's C API: nnrt_model_load, then predictions through a session
 * (nnrt_session_predict, the default) or through nnrt_model_predict.
 *
 *   bench_infer MODEL INPUTS BATCH [--seconds S] [--min-calls N] [--warmup N]
 *               [--load-repeats N] [--threads N] [--api session|model]
 *
 * --api session (default): one nnrt_session created with --threads N threads (1: the calling
 * thread only, no thread created; 0: one per online core) before the warm-up; every call is
 * nnrt_session_predict, which allocates nothing once the session has seen the batch size.
 * --api model: every call is nnrt_model_predict, which takes its scratch memory per call and runs
 * on the calling thread only (so --threads must be 1).
 *
 * INPUTS is a raw file of float32 examples back to back (run.py writes the 10,000 MNIST test
 * images scaled to 0..1, 784 floats each). Call i predicts the BATCH examples starting at
 * example (i * BATCH) mod count (wrapping to 0 when a batch would run past the end), writing
 * the output layer (count * classes floats, no labels), as ONNX Runtime's run() does.
 * After --warmup calls it repeats calls until --seconds have passed and at least --min-calls
 * were made, timing each call with CLOCK_MONOTONIC, and prints one JSON object:
 *   {"batch", "api", "threads", "calls", "seconds", "images_per_s", "latency_us_median",
 *    "latency_us_p99", "load_ms_median", "load_repeats", "vmhwm_kb"}
 * "threads" is the count the session reports (nnrt_session_threads; 1 for --api model).
 * vmhwm_kb is the process's peak resident set (VmHWM) after the run.
 *
 * Build (run.py does it): gcc -O2 -std=c99 -I build/include bench_infer.c -L build/lib -lnnrt
 *                         -Wl,-rpath,build/lib -o bench_infer
 */
#define _POSIX_C_SOURCE 200809L
#include <nnrt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of n sorted values, nearest rank. */
static double quantile(const double *sorted, size_t n, double q) {
    size_t rank = (size_t)(q * (double)n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return sorted[rank - 1];
}

static long vmhwm_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static void die(const char *what, nnrt_status status) {
    fprintf(stderr, "bench_infer: %s: %s: %s\n", what, nnrt_status_string(status),
            nnrt_last_error_message());
    exit(1);
}

static float *read_inputs(const char *path, size_t input_size, size_t *out_count) {
    FILE *f = fopen(path, "rb");
    long bytes;
    float *data;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (bytes = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "bench_infer: cannot read %s\n", path);
        exit(1);
    }
    *out_count = (size_t)bytes / (sizeof(float) * input_size);
    data = malloc(*out_count * input_size * sizeof(float));
    if (!data || *out_count == 0 || fread(data, sizeof(float) * input_size, *out_count, f) != *out_count) {
        fprintf(stderr, "bench_infer: %s holds no whole %zu-float example\n", path, input_size);
        exit(1);
    }
    fclose(f);
    return data;
}

/* One prediction of `batch` examples at `x` into `outputs`, through the session if there is one. */
static nnrt_status predict(const nnrt_model *model, nnrt_session *session, const float *x,
                           size_t batch, size_t input_size, float *outputs, size_t classes) {
    if (session)
        return nnrt_session_predict(session, x, batch, batch * input_size, NULL, 0, outputs,
                                    batch * classes);
    return nnrt_model_predict(model, x, batch, batch * input_size, NULL, 0, outputs,
                              batch * classes);
}

int main(int argc, char **argv) {
    double seconds = 1.0;
    long min_calls = 3, warmup = 3, load_repeats = 10, threads = 1;
    const char *api = "session";
    if (argc < 4) {
        fprintf(stderr, "usage: bench_infer MODEL INPUTS BATCH [--seconds S] [--min-calls N] "
                        "[--warmup N] [--load-repeats N] [--threads N] [--api session|model]\n");
        return 2;
    }
    const char *model_path = argv[1], *inputs_path = argv[2];
    size_t batch = (size_t)strtoul(argv[3], NULL, 10);
    for (int i = 4; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seconds") == 0) seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--min-calls") == 0) min_calls = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--warmup") == 0) warmup = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--load-repeats") == 0) load_repeats = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0) threads = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--api") == 0) api = argv[i + 1];
        else { fprintf(stderr, "bench_infer: unknown option %s\n", argv[i]); return 2; }
    }
    int use_session = strcmp(api, "session") == 0;
    if (!use_session && strcmp(api, "model") != 0) {
        fprintf(stderr, "bench_infer: --api must be session or model, not %s\n", api);
        return 2;
    }
    if (!use_session && threads != 1) {
        fprintf(stderr, "bench_infer: --api model runs on the calling thread only: --threads must be 1\n");
        return 2;
    }
    if (batch == 0 || load_repeats < 1 || min_calls < 1 || threads < 0) {
        fprintf(stderr, "bench_infer: BATCH, --load-repeats and --min-calls must be positive, "
                        "--threads not negative\n");
        return 2;
    }

    /* Model load time: load and free the file load_repeats times, keep the last. */
    nnrt_model *model = NULL;
    double *loads = malloc((size_t)load_repeats * sizeof(double));
    nnrt_status status;
    for (long r = 0; r < load_repeats; r++) {
        if (model) nnrt_model_free(model);
        double start = now_s();
        status = nnrt_model_load(model_path, &model);
        loads[r] = now_s() - start;
        if (status != NNRT_OK) die(model_path, status);
    }
    qsort(loads, (size_t)load_repeats, sizeof(double), compare_doubles);

    size_t input_size = 0, classes = 0, count = 0;
    if ((status = nnrt_model_input_size(model, &input_size)) != NNRT_OK) die("input size", status);
    if ((status = nnrt_model_class_count(model, &classes)) != NNRT_OK) die("class count", status);
    float *inputs = read_inputs(inputs_path, input_size, &count);
    if (batch > count) {
        fprintf(stderr, "bench_infer: batch %zu is larger than the %zu examples in %s\n", batch,
                count, inputs_path);
        return 2;
    }
    float *outputs = malloc(batch * classes * sizeof(float));
    size_t capacity = 1024, calls = 0, offset = 0;
    double *latencies = malloc(capacity * sizeof(double));
    if (!outputs || !latencies) { fprintf(stderr, "bench_infer: out of memory\n"); return 1; }

    /* The session (and its threads) is made before the warm-up, outside the timed calls. */
    nnrt_session *session = NULL;
    size_t session_threads = 1;
    if (use_session) {
        if ((status = nnrt_session_create(model, (size_t)threads, &session)) != NNRT_OK)
            die("session", status);
        if ((status = nnrt_session_threads(session, &session_threads)) != NNRT_OK)
            die("session threads", status);
    }

    for (long i = 0; i < warmup; i++) {
        status = predict(model, session, inputs, batch, input_size, outputs, classes);
        if (status != NNRT_OK) die("predict", status);
    }
    double start = now_s(), end = start;
    for (;;) {
        const float *x = inputs + offset * input_size;
        double t0 = now_s();
        status = predict(model, session, x, batch, input_size, outputs, classes);
        end = now_s();
        if (status != NNRT_OK) die("predict", status);
        if (calls == capacity) {
            capacity *= 2;
            latencies = realloc(latencies, capacity * sizeof(double));
            if (!latencies) { fprintf(stderr, "bench_infer: out of memory\n"); return 1; }
        }
        latencies[calls++] = end - t0;
        offset += batch;
        if (offset + batch > count) offset = 0;
        if ((long)calls >= min_calls && end - start >= seconds) break;
    }
    double elapsed = end - start;
    qsort(latencies, calls, sizeof(double), compare_doubles);
    printf("{\"batch\": %zu, \"api\": \"%s\", \"threads\": %zu, \"calls\": %zu, "
           "\"seconds\": %.6f, \"images_per_s\": %.1f, "
           "\"latency_us_median\": %.3f, \"latency_us_p99\": %.3f, \"load_ms_median\": %.4f, "
           "\"load_repeats\": %ld, \"vmhwm_kb\": %ld}\n",
           batch, api, session_threads, calls, elapsed, (double)(calls * batch) / elapsed,
           quantile(latencies, calls, 0.5) * 1e6, quantile(latencies, calls, 0.99) * 1e6,
           quantile(loads, (size_t)load_repeats, 0.5) * 1e3, load_repeats, vmhwm_kb());
    nnrt_session_free(session);
    nnrt_model_free(model);
    free(inputs);
    free(outputs);
    free(latencies);
    free(loads);
    return 0;
}
