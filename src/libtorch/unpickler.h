// A small pickle reader for PyTorch checkpoint files (the data.pkl inside a
// torch.save zip archive). It understands the opcodes and the few globals
// that a saved state_dict uses, and nothing else: anything more is an error,
// never code execution. LibTorch 1.13's own reader turns the
// collections.OrderedDict of model.state_dict() into None (pytorch #100741),
// which is why dcomp reads these files itself.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace dcomp::pickle {

struct PickleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Value;
using ValueRef = std::shared_ptr<Value>;

// A tensor as pickled: a view into a storage that lives beside the pickle in
// the archive, under data/<key>.
struct TensorRef {
  std::string storage_key;
  std::string storage_type;  // e.g. "FloatStorage"
  int64_t storage_offset = 0;
  std::vector<int64_t> sizes, strides;
};

struct Value {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kStorage, kTensor };
  Kind kind = Kind::kNone;
  int64_t integer = 0;
  double real = 0;
  std::string text;             // string; global as "module.name"; storage key
  std::string storage_type;     // kStorage
  std::vector<ValueRef> items;  // tuple and list; a dict as key, value, key, value...
  TensorRef tensor;             // kTensor
};

// Runs the pickle program in `data`; throws PickleError on anything malformed
// or outside the supported subset.
ValueRef unpickle(const uint8_t* data, size_t size);

}  // namespace dcomp::pickle
