/* What the CPU and the operating system support, for choosing a build of nnrt's kernels at run
 * time. Internal to nnrt (not exported from libnnrt.so). */
#ifndef NNRT_CPU_FEATURES_H
#define NNRT_CPU_FEATURES_H

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if the CPU has AVX2 and FMA (x86-64) and the operating system saves the AVX registers on
 * context switches (XCR0 bits 1 and 2, read with XGETBV after checking OSXSAVE); 0 otherwise,
 * and always 0 on other architectures. Cheap enough to call once; no side effects. */
int nnrt_cpu_has_avx2_fma(void);

#ifdef __cplusplus
}
#endif

#endif
