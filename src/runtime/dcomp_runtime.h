/* dcomp runtime: run a compressed model file (.dcz, docs/format.md) without
 * LibTorch. The weights stay compressed in memory (sparse rows of codebook
 * indices); nothing is expanded to dense float32.
 *
 *   dcomp_model* model;
 *   if (dcomp_load("resnet20.dcz", &model) != DCOMP_OK) { puts(dcomp_last_error()); return 1; }
 *   dcomp_normalize(model, pixels, batch, images);   // uint8 (batch, C, H, W) -> float
 *   dcomp_run(model, images, batch, logits);         // -> (batch, classes)
 *   dcomp_free(model);
 *
 * A loaded model runs each call on all the cores (dcomp_set_threads changes
 * that); it may also be called from several threads at once, and a call made
 * while another is running then runs on its caller's thread alone. */
#ifndef DCOMP_RUNTIME_H
#define DCOMP_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dcomp_model dcomp_model;

typedef enum dcomp_status {
  DCOMP_OK = 0,
  DCOMP_ERROR_IO,           /* the file cannot be read */
  DCOMP_ERROR_FORMAT,       /* not a valid compressed file */
  DCOMP_ERROR_UNSUPPORTED,  /* a valid file for a network this runtime does not run */
  DCOMP_ERROR_ARGUMENT,     /* a null pointer or a batch below 1 */
  DCOMP_ERROR_MEMORY
} dcomp_status;

/* "ok", "io error", ...: a constant string. */
const char* dcomp_status_name(dcomp_status status);
/* One line describing the last failure on this thread. */
const char* dcomp_last_error(void);

/* Loads and validates a file; on failure *model is NULL. */
dcomp_status dcomp_load(const char* path, dcomp_model** model);
void dcomp_free(dcomp_model* model);

/* What the network takes and gives. */
const char* dcomp_architecture(const dcomp_model* model); /* "resnet20", "lenet300", ... */
int dcomp_input_channels(const dcomp_model* model);
int dcomp_input_height(const dcomp_model* model);
int dcomp_input_width(const dcomp_model* model);
int dcomp_classes(const dcomp_model* model);
const char* dcomp_class_name(const dcomp_model* model, int label); /* "" when the file names none */
/* Bytes the loaded weights occupy (codebooks, sparse rows, BN, biases). */
size_t dcomp_weight_bytes(const dcomp_model* model);

/* The threads each dcomp_run uses, the calling one included: 1 for none
 * besides it, up to 256, or 0 for all the cores (what dcomp_load sets). Not while the
 * model is running. */
dcomp_status dcomp_set_threads(dcomp_model* model, int threads);
int dcomp_threads(const dcomp_model* model);

/* uint8 pixels (batch, C, H, W) to the network's input: (p / 255 - mean) / std
 * per channel, with the statistics stored in the file. */
dcomp_status dcomp_normalize(const dcomp_model* model, const uint8_t* pixels, int batch, float* images);
/* Logits (batch, classes) for images (batch, C, H, W). */
dcomp_status dcomp_run(const dcomp_model* model, const float* images, int batch, float* logits);

#ifdef __cplusplus
}
#endif

#endif /* DCOMP_RUNTIME_H */
