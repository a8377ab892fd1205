// The C API of dcomp_runtime.h: exceptions stop here and become a status
// and a message for dcomp_last_error().
#include <exception>
#include <fstream>
#include <iterator>
#include <mutex>
#include <new>
#include <system_error>
#include <string>
#include <vector>

#include "core/bit_stream.h"
#include "core/compressed_file.h"
#include "runtime/dcomp_runtime.h"
#include "runtime/network.h"

struct dcomp_model {
  dcomp::runtime::InputSpec input;
  std::unique_ptr<dcomp::runtime::Network> network;
  int threads = 0;  // as dcomp_set_threads takes it
  // Started by the first run, so that loading (or failing to) starts no threads.
  mutable std::mutex pool_mutex;
  mutable std::unique_ptr<dcomp::runtime::ThreadPool> pool;
  dcomp::runtime::ThreadPool* threads_pool() const {
    std::lock_guard<std::mutex> lock(pool_mutex);
    if (!pool) pool = std::make_unique<dcomp::runtime::ThreadPool>(threads > 0 ? threads : dcomp::runtime::available_cores());
    return pool.get();
  }
};

namespace {

thread_local std::string last_error;

dcomp_status fail(dcomp_status status, const std::string& message) {
  last_error = message;
  return status;
}

}  // namespace

extern "C" {

const char* dcomp_status_name(dcomp_status status) {
  switch (status) {
    case DCOMP_OK: return "ok";
    case DCOMP_ERROR_IO: return "io error";
    case DCOMP_ERROR_FORMAT: return "format error";
    case DCOMP_ERROR_UNSUPPORTED: return "unsupported model";
    case DCOMP_ERROR_ARGUMENT: return "invalid argument";
    case DCOMP_ERROR_MEMORY: return "out of memory";
  }
  return "unknown status";
}

const char* dcomp_last_error(void) { return last_error.c_str(); }

dcomp_status dcomp_load(const char* path, dcomp_model** model) {
  if (!model) return fail(DCOMP_ERROR_ARGUMENT, "dcomp_load: model is NULL");
  *model = nullptr;
  if (!path) return fail(DCOMP_ERROR_ARGUMENT, "dcomp_load: path is NULL");
  try {
    std::ifstream file(path, std::ios::binary);
    if (!file) return fail(DCOMP_ERROR_IO, std::string(path) + ": cannot open");
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (file.bad()) return fail(DCOMP_ERROR_IO, std::string(path) + ": cannot read");
    const dcomp::dcz::Model decoded = dcomp::dcz::decode(bytes.data(), bytes.size());
    auto m = std::make_unique<dcomp_model>();
    m->input = dcomp::runtime::input_spec(decoded);
    m->network = std::make_unique<dcomp::runtime::Network>(decoded, m->input);
    *model = m.release();
    return DCOMP_OK;
  } catch (const dcomp::FormatError& e) {
    return fail(DCOMP_ERROR_FORMAT, std::string(path) + ": " + e.what());
  } catch (const dcomp::runtime::Unsupported& e) {
    return fail(DCOMP_ERROR_UNSUPPORTED, std::string(path) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    return fail(DCOMP_ERROR_MEMORY, std::string(path) + ": out of memory");
  } catch (const std::exception& e) {  // a tensor missing or misshapen for its network
    return fail(DCOMP_ERROR_UNSUPPORTED, std::string(path) + ": " + e.what());
  }
}

void dcomp_free(dcomp_model* model) { delete model; }

const char* dcomp_architecture(const dcomp_model* m) { return m ? m->input.architecture.c_str() : ""; }
int dcomp_input_channels(const dcomp_model* m) { return m ? int(m->input.channels) : 0; }
int dcomp_input_height(const dcomp_model* m) { return m ? int(m->input.height) : 0; }
int dcomp_input_width(const dcomp_model* m) { return m ? int(m->input.width) : 0; }
int dcomp_classes(const dcomp_model* m) { return m ? int(m->network->classes()) : 0; }
const char* dcomp_class_name(const dcomp_model* m, int label) {
  if (!m || label < 0 || size_t(label) >= m->input.class_names.size()) return "";
  return m->input.class_names[size_t(label)].c_str();
}
size_t dcomp_weight_bytes(const dcomp_model* m) { return m ? m->network->weight_bytes() : 0; }

dcomp_status dcomp_set_threads(dcomp_model* m, int threads) {
  if (!m || threads < 0 || threads > 256)
    return fail(DCOMP_ERROR_ARGUMENT, "dcomp_set_threads: threads must be 0 (all cores) to 256");
  std::lock_guard<std::mutex> lock(m->pool_mutex);
  m->threads = threads;
  m->pool.reset();  // the next run starts the new number
  return DCOMP_OK;
}
int dcomp_threads(const dcomp_model* m) {
  if (!m) return 0;
  return m->threads > 0 ? m->threads : dcomp::runtime::available_cores();
}

dcomp_status dcomp_normalize(const dcomp_model* m, const uint8_t* pixels, int batch, float* images) {
  if (!m || !pixels || !images || batch < 1) return fail(DCOMP_ERROR_ARGUMENT, "dcomp_normalize: bad arguments");
  const int64_t plane = m->input.height * m->input.width;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t c = 0; c < m->input.channels; ++c) {
      const float mean = float(m->input.mean[size_t(c)]), std = float(m->input.std[size_t(c)]);
      const int64_t start = (b * m->input.channels + c) * plane;
      for (int64_t i = start; i < start + plane; ++i) images[i] = (float(pixels[i]) / 255.0f - mean) / std;
    }
  return DCOMP_OK;
}

dcomp_status dcomp_run(const dcomp_model* m, const float* images, int batch, float* logits) {
  if (!m || !images || !logits || batch < 1) return fail(DCOMP_ERROR_ARGUMENT, "dcomp_run: bad arguments");
  try {
    m->network->forward_batch(images, m->input.channels * m->input.height * m->input.width, batch, logits,
                              m->threads_pool());
    return DCOMP_OK;
  } catch (const std::bad_alloc&) {
    return fail(DCOMP_ERROR_MEMORY, "dcomp_run: out of memory");
  } catch (const std::system_error& e) {  // threads that could not be started
    return fail(DCOMP_ERROR_MEMORY, std::string("dcomp_run: cannot start its threads: ") + e.what());
  }
}

}  // extern "C"
