/*
 * l2_read.c - how fast this core reads a buffer that sits in its caches: the floor under any
 * batch-1 dense layer, whose weights must all be read once per call.
 *
 *   gcc -O2 -mavx2 bench/machine/l2_read.c -o /tmp/l2_read && /tmp/l2_read
 *
 * For each size (KiB; 314 is MLP 784-100-10's 784x100 weights plus biases), the best of 20,000
 * passes of 256-bit loads summed into four accumulators (so the adds never wait on each other),
 * as microseconds per pass and GB/s. Run it alone on an idle core: it prints one line per size.
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(void) {
    const size_t sizes_kib[] = {24, 314, 400, 2048};
    printf("| buffer (KiB) | best pass (us) | GB/s |\n|---|---|---|\n");
    for (size_t s = 0; s < sizeof sizes_kib / sizeof sizes_kib[0]; s++) {
        size_t n = sizes_kib[s] * 1024 / sizeof(float);
        n -= n % 32;
        float *a = aligned_alloc(64, n * sizeof(float));
        if (!a) return 1;
        for (size_t i = 0; i < n; i++) a[i] = 1e-3f * (float)(i % 7);
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        double best = 1e9;
        for (int rep = 0; rep < 20000; rep++) {
            double t = now_s();
            for (size_t i = 0; i < n; i += 32) {
                s0 = _mm256_add_ps(s0, _mm256_load_ps(a + i));
                s1 = _mm256_add_ps(s1, _mm256_load_ps(a + i + 8));
                s2 = _mm256_add_ps(s2, _mm256_load_ps(a + i + 16));
                s3 = _mm256_add_ps(s3, _mm256_load_ps(a + i + 24));
            }
            t = now_s() - t;
            if (t < best) best = t;
        }
        float sum[8];
        _mm256_storeu_ps(sum, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
        printf("| %zu | %.2f | %.1f |\n", sizes_kib[s], best * 1e6, (double)(n * sizeof(float)) / best / 1e9);
        fprintf(stderr, "(checksum %g: the loads are used)\n", (double)sum[0]);
        free(a);
    }
    return 0;
}
