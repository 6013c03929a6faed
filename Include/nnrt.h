/*
 * nnrt.h - the C ABI of libnnrt, the nnrt inference runtime.
 *
 * libnnrt loads nnrt model files (see docs/model-format.md and Sources/CModelProto/nnrt.proto),
 * single networks or voting ensembles, and runs batched feed-forward inference on them.
 *
 * Layers (format versions 1 and 2; see "Layers" below for introspection):
 * - dense (fully connected): z = W x + b over the flattened input; a layer trained with dropout
 *   probability p computes z = W ((1 - p) x) + b, network3's inference scaling. p comes from the
 *   model file, so callers set no flag.
 * - conv2d (format version 2): valid convolution with stride 1, input [C, H, W], kernels
 *   [M, C, KH, KW], one bias per feature map, output [M, H-KH+1, W-KW+1].
 * - max_pool2d (format version 2): the maximum over non-overlapping PH x PW windows, output
 *   [C, H/PH, W/PW] (a remainder row or column is ignored).
 * Each layer then applies its activation: sigmoid, tanh, ReLU, linear, or softmax (dense only).
 * The runtime runs the nnrt trainer's kernels, so its outputs are the trainer's, with one
 * exception: a 5x5 convolution over 4 or more channels whose output height and width are even
 * (the book's second conv layer) runs by Winograd's F(2x2, 5x5), with 2.8x fewer multiply-adds,
 * and rounds differently: its outputs agree with the exact convolution to about 1e-6 of the
 * sum of the products' magnitudes, so they may differ from the trainer's in the last digits.
 * Either way, one build of the kernels gives the same bits for any batch size or thread count.
 *
 * Conventions (they hold for every function below):
 * - Every fallible function returns an nnrt_status; NNRT_OK (0) is success. On failure the
 *   calling thread's last error message (nnrt_last_error_message) says what went wrong, and
 *   out-parameters are left as documented (handles are set to NULL).
 * - The runtime never aborts, exits, prints, or crashes on bad input: NULL pointers, zero or
 *   overflowing sizes (a size_t above SIZE_MAX / 2, such as a negative number converted, is
 *   refused), directories or devices given as files, and corrupt model or image files are
 *   reported through a status.
 * - Handles are checked: a model or session argument that is not a live handle of its type (a
 *   session passed as a model, a pointer to something else, or one already freed) gives
 *   INVALID_ARGUMENT, and the free functions ignore it. The check is a safety net, not a licence:
 *   a freed handle is recognised in practice (glibc reuses the start of a freed block), not
 *   guaranteed, and a pointer into unmapped memory still faults. Never use a freed handle.
 * - Paths are NUL-terminated byte strings passed to the system as they are: they need not be
 *   UTF-8.
 * - Callers own every buffer they pass. The runtime never returns memory that the caller must
 *   free(); strings it returns are owned by the runtime and live as long as stated.
 * - Sizes are element counts (floats, int32s), never bytes, unless a name says bytes.
 * - A loaded nnrt_model is immutable: every function that takes a `const nnrt_model *` may be
 *   called on the same model from any number of threads at once. nnrt_model_free must not race
 *   with other use of the same handle.
 * - Calls run on the calling thread only; libnnrt starts no threads.
 *
 * Compiles as C99 (and C++). Link with -lnnrt.
 */
#ifndef NNRT_H
#define NNRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Versions
 */

#define NNRT_VERSION_MAJOR 0
#define NNRT_VERSION_MINOR 3
#define NNRT_VERSION_PATCH 0
#define NNRT_VERSION_STRING "0.3.0"

/* Bumped whenever a function's signature or meaning changes incompatibly (a changed function
 * gets a new name, e.g. _v2, so this should rarely move). Compare with nnrt_abi_version() at
 * run time to detect a header/library mismatch. */
#define NNRT_ABI_VERSION 1

/* The library's version, e.g. "0.3.0". Static string; thread-safe. */
const char *nnrt_version_string(void);

/* The library's ABI version (NNRT_ABI_VERSION of the header it was built with). Thread-safe. */
uint32_t nnrt_abi_version(void);

/* Which build of the numeric kernels this process runs: "avx2-fma" on x86-64 CPUs with AVX2 and
 * FMA (chosen at the first call that needs the kernels, from what the CPU reports), else
 * "generic" (the platform's baseline instruction set). Setting the environment variable
 * NNRT_KERNELS=generic before the library first runs a model forces the generic build, e.g. to
 * reproduce results bit for bit across CPUs (the builds agree to float rounding, not bit for
 * bit). No host setting is needed for full speed. Static string; thread-safe. */
const char *nnrt_kernel_build(void);

/* The range of model format versions this library reads, inclusive (1 to 2: version 2 adds
 * conv2d and max_pool2d layers and dense dropout). Either pointer may be NULL. Thread-safe. */
void nnrt_supported_format_versions(uint32_t *oldest, uint32_t *newest);

/* ---------------------------------------------------------------------------------------------
 * Status codes and errors
 *
 * Codes never change meaning. New codes may be added: treat any unknown non-zero code as an error.
 */

typedef int32_t nnrt_status;

#define NNRT_OK                       0
#define NNRT_ERR_INVALID_ARGUMENT     1  /* NULL pointer, zero count, bad enum value, ...       */
#define NNRT_ERR_IO                   2  /* file cannot be opened or read                       */
#define NNRT_ERR_BAD_MODEL            3  /* not an nnrt model, corrupt, truncated, inconsistent */
#define NNRT_ERR_UNSUPPORTED_VERSION  4  /* model format version outside the supported range    */
#define NNRT_ERR_SHAPE_MISMATCH       5  /* input length or ensemble members disagree in shape  */
#define NNRT_ERR_BUFFER_TOO_SMALL     6  /* an output buffer is too small; message has the size */
#define NNRT_ERR_OUT_OF_MEMORY        7
#define NNRT_ERR_IMAGE_DECODE         8  /* image file empty, truncated or corrupt              */
#define NNRT_ERR_INTERNAL             9  /* a bug in libnnrt; please report it                  */
#define NNRT_ERR_UNSUPPORTED         10  /* valid file using a feature this library lacks      */
#define NNRT_ERR_NOT_FOUND           11  /* e.g. no metadata entry with that key                */
#define NNRT_ERR_IMAGE_FORMAT        12  /* not a PNG, JPEG or PGM/PPM image (by its contents)  */
#define NNRT_ERR_IMAGE_TOO_LARGE     13  /* image or file over the size limits (see Images)     */

/* A short static description of a status code, e.g. "buffer too small". Never NULL (unknown
 * codes give "unknown status"). Thread-safe. */
const char *nnrt_status_string(nnrt_status status);

/* The detail of the calling thread's most recent failure, e.g.
 * "layer 1 'fc1': weights hold 7840 floats, shape [30, 784] needs 23520". Never NULL (the empty
 * string if this thread has had no failure). The string stays valid until the next libnnrt call
 * on this thread that fails. Successful calls do not clear it. Thread-safe (per-thread state). */
const char *nnrt_last_error_message(void);

/* ---------------------------------------------------------------------------------------------
 * Models
 *
 * An nnrt_model is either a single network or an ensemble of networks with a voting rule. Both
 * are used through the same functions; a single network is an ensemble of one.
 */

typedef struct nnrt_model nnrt_model;

/* Voting rules for ensembles. */
typedef int32_t nnrt_voting;
#define NNRT_VOTING_MAJORITY          1  /* majority of member labels; ties: largest summed
                                            output among the tied labels, then smallest index */
#define NNRT_VOTING_MEAN_PROBABILITY  2  /* argmax of the mean member output (smallest index
                                            on ties) */

/* Loads a model file. On success *out_model is a new handle, to be released with
 * nnrt_model_free; on failure it is set to NULL. The whole file is validated (every count and
 * shape, the format version) before this returns.
 * Size limits: a layer may take and produce at most 2^24 (16,777,216) values per example, and a
 * convolution's unrolled input, (C x KH x KW) x (OH x OW) values, may hold at most 2^26
 * (67,108,864); a model over them gives UNSUPPORTED. (A file of a hundred bytes can declare a
 * pooling layer over 60000x60000 pixels; within the limits a prediction's scratch memory stays
 * under a few hundred MiB.)
 * Errors: INVALID_ARGUMENT (NULL path or out_model), IO (missing, unreadable, an empty path, a
 * directory or device, over 1 GiB), BAD_MODEL, UNSUPPORTED_VERSION, UNSUPPORTED, OUT_OF_MEMORY.
 * Thread-safe. */
nnrt_status nnrt_model_load(const char *path, nnrt_model **out_model);

/* As nnrt_model_load, from `size` bytes at `data`. The bytes are copied as needed: the caller
 * may free them as soon as this returns. Thread-safe. */
nnrt_status nnrt_model_load_from_memory(const void *data, size_t size, nnrt_model **out_model);

/* Releases a model handle. NULL is a no-op, and so is anything that is not a live model handle
 * (see Conventions). Ensembles made by nnrt_ensemble_create and sessions keep what they use
 * alive on their own, so models, ensembles and sessions may be freed in any order. Not
 * thread-safe for the same handle. */
void nnrt_model_free(nnrt_model *model);

/* Builds an ensemble from loaded models, which must agree on input size and class labels
 * (else SHAPE_MISMATCH). Members that are themselves ensembles contribute their members, so
 * passing one ensemble with a different rule re-votes it. `rule` is an NNRT_VOTING_* value.
 * The new handle shares the members' weights and is released with nnrt_model_free.
 * Errors: INVALID_ARGUMENT (NULL arrays, count 0, NULL member, unknown rule), SHAPE_MISMATCH,
 * OUT_OF_MEMORY. Thread-safe. */
nnrt_status nnrt_ensemble_create(const nnrt_model *const *members, size_t member_count,
                                 nnrt_voting rule, nnrt_model **out_model);

/* ---------------------------------------------------------------------------------------------
 * Introspection. All thread-safe; strings live as long as the model.
 */

/* Number of floats in one input example (784 for MNIST networks). */
nnrt_status nnrt_model_input_size(const nnrt_model *model, size_t *out_size);

/* The input shape as channels, height, width (MNIST: 1, 28, 28). Writes up to `capacity`
 * dimensions into `dims` and the rank into *out_rank; BUFFER_TOO_SMALL if capacity < rank
 * (*out_rank is still set). */
nnrt_status nnrt_model_input_shape(const nnrt_model *model, size_t *dims, size_t capacity,
                                   size_t *out_rank);

/* How raw 8-bit pixels are scaled (float = pixel * scale + offset) and which polarity the
 * network expects (1 = light digit on dark, as MNIST; 2 = dark on light). Any out pointer may
 * be NULL. */
nnrt_status nnrt_model_input_contract(const nnrt_model *model, float *out_scale,
                                      float *out_offset, int32_t *out_polarity);

/* Number of classes (outputs per example). */
nnrt_status nnrt_model_class_count(const nnrt_model *model, size_t *out_count);

/* The label of class `index` (e.g. "7"); NOT_FOUND if index >= class count. */
nnrt_status nnrt_model_class_label(const nnrt_model *model, size_t index, const char **out_label);

/* Number of member networks: 1 for a single network. */
nnrt_status nnrt_model_member_count(const nnrt_model *model, size_t *out_count);

/* The voting rule (NNRT_VOTING_*). A single network reports NNRT_VOTING_MEAN_PROBABILITY, under
 * which its predictions are its own. */
nnrt_status nnrt_model_voting(const nnrt_model *model, nnrt_voting *out_rule);

/* The format version of the file the model was loaded from (0 for nnrt_ensemble_create). */
nnrt_status nnrt_model_format_version(const nnrt_model *model, uint32_t *out_version);

/* The producer recorded in the file, e.g. "nnrt" and "0.3.0". Either out pointer may be NULL.
 * Empty strings for models built by nnrt_ensemble_create. */
nnrt_status nnrt_model_producer(const nnrt_model *model, const char **out_name,
                                const char **out_version);

/* The model's name (the network's, or the ensemble's). Never NULL on success. */
nnrt_status nnrt_model_name(const nnrt_model *model, const char **out_name);

/* Metadata: the file's free-form key/value entries, in file order. */
nnrt_status nnrt_model_metadata_count(const nnrt_model *model, size_t *out_count);
nnrt_status nnrt_model_metadata_entry(const nnrt_model *model, size_t index,
                                      const char **out_key, const char **out_value);
/* The value for `key` (first match); NOT_FOUND if there is none. */
nnrt_status nnrt_model_metadata_get(const nnrt_model *model, const char *key,
                                    const char **out_value);

/* ---------------------------------------------------------------------------------------------
 * Layers: what each member network computes, input side first. All thread-safe; strings live as
 * long as the model.
 */

/* Layer kinds (nnrt.proto's LayerKind). New kinds may be added: treat unknown values as "other". */
#define NNRT_LAYER_DENSE              1  /* fully connected; dropout scaling from the file      */
#define NNRT_LAYER_CONV2D             2  /* valid convolution, stride 1, bias per feature map   */
#define NNRT_LAYER_MAX_POOL2D         3  /* max over non-overlapping windows                    */

/* Activations (nnrt.proto's Activation), applied after each layer's operation. */
#define NNRT_ACTIVATION_SIGMOID       1  /* 1 / (1 + exp(-z))                                   */
#define NNRT_ACTIVATION_TANH          2
#define NNRT_ACTIVATION_RELU          3  /* max(0, z)                                           */
#define NNRT_ACTIVATION_LINEAR        4  /* identity                                            */
#define NNRT_ACTIVATION_SOFTMAX       5  /* exp(z_j) / sum_k exp(z_k) over the layer's outputs  */

/* The number of layers of member network `member` (0-based, below nnrt_model_member_count; 0 for
 * a single network) into *out_count.
 * Errors: INVALID_ARGUMENT (NULL model or out_count), NOT_FOUND (member out of range).
 * Thread-safe. */
nnrt_status nnrt_model_layer_count(const nnrt_model *model, size_t member, size_t *out_count);

/* Describes layer `index` (0-based, input side first) of member network `member`:
 * - *out_kind: an NNRT_LAYER_* value;
 * - *out_activation: an NNRT_ACTIVATION_* value;
 * - *out_name: the layer's name in the file, e.g. "conv1";
 * - *out_summary: a readable one-line description with shapes, e.g.
 *   "conv2d 'conv1' [1,28,28] -> [20,24,24], 5x5 kernels, linear" or
 *   "dense 'fc1' [640] -> [1000], relu, dropout 0.5 (inputs scaled by 0.5)".
 *   Its wording may change between versions; parse the other fields, not this one.
 * Any out pointer may be NULL (that field is not reported). The strings are owned by the model
 * and live as long as it does; do not free them. On failure the out values are 0 and NULL.
 * Errors: INVALID_ARGUMENT (NULL model), NOT_FOUND (member or index out of range). Thread-safe. */
nnrt_status nnrt_model_layer_info(const nnrt_model *model, size_t member, size_t index,
                                  int32_t *out_kind, int32_t *out_activation,
                                  const char **out_name, const char **out_summary);

/* ---------------------------------------------------------------------------------------------
 * Inference
 *
 * `inputs` holds `count` examples back to back, input_size values each; `inputs_len` is the
 * number of elements the buffer holds and must be at least count * input_size (SHAPE_MISMATCH
 * otherwise). Outputs go into caller buffers:
 * - `labels` (may be NULL if labels_len is 0): count predicted class indices;
 * - `outputs` (may be NULL if outputs_len is 0): count * class_count floats, row by row: the
 *   network's output layer, or for an ensemble the combined outputs under its voting rule (the
 *   mean member output for MEAN_PROBABILITY, the fraction of members voting for each class for
 *   MAJORITY).
 * At least one of the two must be requested. A buffer that is too small gives BUFFER_TOO_SMALL and
 * a message with the number of elements needed; nothing is written then. count may be large: the
 * runtime works through it in blocks with bounded scratch memory. Thread-safe. */
nnrt_status nnrt_model_predict(const nnrt_model *model,
                               const float *inputs, size_t count, size_t inputs_len,
                               int32_t *labels, size_t labels_len,
                               float *outputs, size_t outputs_len);

/* As nnrt_model_predict, from raw 8-bit pixels (count * input_size bytes) that are scaled by
 * the model's input contract (MNIST: pixel / 255). */
nnrt_status nnrt_model_predict_u8(const nnrt_model *model,
                                  const uint8_t *pixels, size_t count, size_t pixels_len,
                                  int32_t *labels, size_t labels_len,
                                  float *outputs, size_t outputs_len);

/* Each member's own predictions: `member_labels` gets count * member_count labels and
 * `member_outputs` count * member_count * class_count floats, example-major
 * ([example][member][class]). Either may be NULL with length 0, not both. Thread-safe. */
nnrt_status nnrt_model_predict_members(const nnrt_model *model,
                                       const float *inputs, size_t count, size_t inputs_len,
                                       int32_t *member_labels, size_t member_labels_len,
                                       float *member_outputs, size_t member_outputs_len);

/* ---------------------------------------------------------------------------------------------
 * Sessions: reusable memory and opt-in threads
 *
 * A session runs one model for one caller. It keeps its scratch memory between calls (after
 * the first call of a given batch size, predictions allocate nothing: the batch-1 path for
 * latency-sensitive callers) and may spread a batch over several threads of its own. Results are
 * identical to nnrt_model_predict's, bit for bit, whatever the thread count. A session may be
 * used by one thread at a time (give each thread its own session); the model stays shareable,
 * and the session keeps it alive, so nnrt_model_free may come first. */
typedef struct nnrt_session nnrt_session;

/* Creates a session for `model` that uses `threads` threads per prediction, the calling thread
 * included: 1 runs on the calling thread only (no thread is created); 0 means one per online core;
 * at most 256. The extra threads are created here; after finishing their share of a call they
 * watch for the next call for at most 0.1 ms, then sleep until it comes, so an idle session uses
 * no CPU. A batch is split by examples, which the threads take in chunks as they go (so a thread
 * that the rest of the machine slows down takes fewer, and a call never waits for a thread that
 * took none), and uses fewer threads when a thread's share would be under about 500,000
 * multiply-adds (22 rows of a 784-30-10 network, 7 of 784-100-10, 1 of the book's conv net), where
 * handing work over stops paying. With fewer examples than threads (one image at a time) in a
 * network with convolutions, each convolution's output maps are split between the threads instead,
 * in parts of at least about 100,000 multiply-adds, and so are the columns of each dense layer of
 * at least 50,000 weights (the book's 640 x 100 hidden layer). INVALID_ARGUMENT for a NULL model
 * or too many threads, OUT_OF_MEMORY if a thread cannot be created. *out_session is NULL on
 * failure. */
nnrt_status nnrt_session_create(const nnrt_model *model, size_t threads, nnrt_session **out_session);

/* Stops the session's threads and frees it. NULL is a no-op, and so is anything that is not a
 * live session handle (see Conventions). */
void nnrt_session_free(nnrt_session *session);

/* The number of threads the session uses (0 at creation resolved to the core count). */
nnrt_status nnrt_session_threads(const nnrt_session *session, size_t *out_threads);

/* As nnrt_model_predict and nnrt_model_predict_u8, through the session's memory and threads. */
nnrt_status nnrt_session_predict(nnrt_session *session,
                                 const float *inputs, size_t count, size_t inputs_len,
                                 int32_t *labels, size_t labels_len,
                                 float *outputs, size_t outputs_len);
nnrt_status nnrt_session_predict_u8(nnrt_session *session,
                                    const uint8_t *pixels, size_t count, size_t pixels_len,
                                    int32_t *labels, size_t labels_len,
                                    float *outputs, size_t outputs_len);

/* ---------------------------------------------------------------------------------------------
 * Images: from files to labels
 *
 * libnnrt reads PNG (any bit depth and colour type, palette, transparency, interlacing; through
 * libpng), JPEG (baseline and progressive, grey and colour, turned upright by its EXIF
 * orientation as phones record it; through libjpeg-turbo) and PGM/PPM
 * (binary and ASCII, up to 16 bits), recognised by their contents, not their names. Every image
 * is brought to the model's input by the model's own input contract (nnrt.proto,
 * ImageNormalization; the trainer stores MNIST's recipe in every model): grey levels with alpha
 * composited over white; the polarity decided from the image (dark ink on light paper is
 * inverted to MNIST's light-on-dark), background removed and contrast stretched; cropped to the
 * ink; the longer side scaled to 20 pixels keeping the aspect ratio, anti-aliased; placed in the
 * 28x28 field with its centre of mass at the centre. An image already of the field's size only
 * has its polarity corrected, so MNIST's own digits pass unchanged. Models whose input has no
 * such contract (not one grey plane) give UNSUPPORTED. JPEGs are decoded for recognition: a
 * colour file as its luma, and a large one at 1/2, 1/4 or 1/8 size (its shorter side kept at
 * 256 pixels or more): about 4x faster for a 1000x1000 photo, with the same accuracy on the
 * generated test scans (bench/RESULTS.md).
 *
 * Limits, checked from an image's header before its pixels are allocated: at most 40 million
 * pixels, 65,535 per side, and 256 MiB per file (IMAGE_TOO_LARGE beyond). Statuses for a bad
 * image: IO (missing, unreadable, a directory), IMAGE_FORMAT (not an image this library reads,
 * e.g. a text file named .png), IMAGE_DECODE (empty, truncated or corrupt), IMAGE_TOO_LARGE,
 * UNSUPPORTED (a valid image using something the decoders lack, e.g. 12-bit JPEG). */

/* What preprocessing found, in nnrt_file_result.flags and the preprocess functions' out_flags. */
#define NNRT_IMAGE_INVERTED  0x1u  /* dark ink on light paper: inverted to light on dark         */
#define NNRT_IMAGE_BLANK     0x2u  /* no ink found: the input is an empty field                 */
#define NNRT_IMAGE_RESIZED   0x4u  /* cropped, scaled and centred (not already the field's size) */

/* The outcome for one file of nnrt_session_classify_files. 256 bytes; callers allocate them. */
typedef struct nnrt_file_result {
    nnrt_status status;   /* NNRT_OK, or why this file was not classified                       */
    int32_t label;        /* predicted class index (nnrt_model_class_label names it); -1 on error */
    float confidence;     /* the label's output: its probability for a softmax output layer, the
                             fraction of votes for a MAJORITY ensemble; 0 on error               */
    uint32_t flags;       /* NNRT_IMAGE_* bits                                                  */
    char message[240];    /* "" on success, else the reason, e.g. "PNG: truncated after 812 of
                             2048 bytes" (UTF-8, NUL-terminated, cut at 239 bytes)               */
} nnrt_file_result;

/* Classifies `count` image files. One bad file never stops the batch: each file gets its own
 * result in `results` (results_len >= count), and its output row in `outputs` (count *
 * class_count floats, as nnrt_model_predict; may be NULL with outputs_len 0) is zero on error.
 * Files are read, decoded and preprocessed on the session's threads in parallel, then
 * classified as one batch. Returns OK when the call itself worked, even if files failed (check
 * each result's status); INVALID_ARGUMENT for a NULL session, paths or results, or a NULL path;
 * BUFFER_TOO_SMALL for short buffers (nothing is written then); UNSUPPORTED if the model takes
 * no images. The thread-safety of the session applies. */
nnrt_status nnrt_session_classify_files(nnrt_session *session, const char *const *paths, size_t count,
                                        nnrt_file_result *results, size_t results_len,
                                        float *outputs, size_t outputs_len);

/* Classifies one encoded image held in memory (the bytes of a PNG, JPEG or PGM/PPM file): the
 * predicted class index in *out_label, and if `outputs` is not NULL its output row
 * (outputs_len >= class_count). *out_flags (may be NULL) gets the NNRT_IMAGE_* bits. Statuses as
 * above for a bad image. Thread-safe. */
nnrt_status nnrt_model_classify_image(const nnrt_model *model, const void *data, size_t size,
                                      int32_t *out_label, float *outputs, size_t outputs_len,
                                      uint32_t *out_flags);

/* Preprocessing only, so callers can see what the network sees: the model's input vector
 * (input_size floats: the normalised 28x28 field, scaled by the input contract, MNIST: 0..1 with
 * 1 = ink) for an image file, for an encoded image in memory, or for a pixel buffer. The result
 * can be passed to nnrt_model_predict unchanged. input_len must be at least the input size
 * (BUFFER_TOO_SMALL otherwise). *out_flags (may be NULL) gets the NNRT_IMAGE_* bits. Thread-safe.
 *
 * Pixel buffers: width x height pixels, rows `row_bytes` apart (0: tightly packed), each pixel
 * `channels` samples (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA, alpha not premultiplied) of
 * `bytes_per_sample` bytes (1, or 2 for 16-bit samples in the machine's byte order). */
nnrt_status nnrt_model_preprocess_file(const nnrt_model *model, const char *path,
                                       float *input, size_t input_len, uint32_t *out_flags);
nnrt_status nnrt_model_preprocess_image(const nnrt_model *model, const void *data, size_t size,
                                        float *input, size_t input_len, uint32_t *out_flags);
nnrt_status nnrt_model_preprocess_pixels(const nnrt_model *model, const void *pixels,
                                         size_t width, size_t height, size_t channels,
                                         size_t bytes_per_sample, size_t row_bytes,
                                         float *input, size_t input_len, uint32_t *out_flags);

#ifdef __cplusplus
}
#endif

#endif /* NNRT_H */
