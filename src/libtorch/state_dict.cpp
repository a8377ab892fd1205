#include "libtorch/state_dict.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include "core/atomic_file.h"
#include "libtorch/unpickler.h"

namespace dcomp {

StateDict state_dict(const torch::nn::Module& model) {
  StateDict out;
  for (const auto& module : model.named_modules()) {
    const std::string prefix = module.key().empty() ? "" : module.key() + ".";
    for (const auto& p : module.value()->named_parameters(/*recurse=*/false))
      out.emplace_back(prefix + p.key(), p.value());
    for (const auto& b : module.value()->named_buffers(/*recurse=*/false))
      out.emplace_back(prefix + b.key(), b.value());
  }
  return out;
}

void save_state_dict(const StateDict& weights, const std::string& path) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, tensor] : weights) dict.insert(name, tensor.detach().to(torch::kCPU).contiguous());
  const std::vector<char> bytes = torch::pickle_save(dict);
  write_file_atomic(path, std::string_view(bytes.data(), bytes.size()));
}

namespace {

using pickle::Value;

torch::ScalarType storage_dtype(const std::string& type) {
  static const std::unordered_map<std::string, torch::ScalarType> kTypes = {
      {"FloatStorage", torch::kFloat32}, {"DoubleStorage", torch::kFloat64},
      {"HalfStorage", torch::kFloat16},  {"BFloat16Storage", torch::kBFloat16},
      {"LongStorage", torch::kInt64},    {"IntStorage", torch::kInt32},
      {"ShortStorage", torch::kInt16},   {"CharStorage", torch::kInt8},
      {"ByteStorage", torch::kUInt8},    {"BoolStorage", torch::kBool}};
  auto it = kTypes.find(type);
  if (it == kTypes.end()) throw std::runtime_error("unsupported storage type " + type);
  return it->second;
}

// Builds the tensor a TensorRef describes, checking that the view stays
// inside its storage.
torch::Tensor build_tensor(const pickle::TensorRef& ref, const std::vector<uint8_t>& storage) {
  const torch::ScalarType dtype = storage_dtype(ref.storage_type);
  const size_t element = c10::elementSize(dtype);
  if (storage.size() % element != 0) throw std::runtime_error("storage size mismatch");
  const int64_t numel = int64_t(storage.size() / element);
  if (ref.sizes.size() != ref.strides.size() || ref.storage_offset < 0)
    throw std::runtime_error("malformed tensor view");
  int64_t last = ref.storage_offset;  // highest element index the view touches
  bool empty = false;
  for (size_t d = 0; d < ref.sizes.size(); ++d) {
    if (ref.sizes[d] < 0 || ref.strides[d] < 0 || ref.sizes[d] > numel || ref.strides[d] > numel)
      throw std::runtime_error("malformed tensor view");
    empty = empty || ref.sizes[d] == 0;
    if (ref.sizes[d] > 0) last += (ref.sizes[d] - 1) * ref.strides[d];
  }
  if (!empty && last >= numel) throw std::runtime_error("tensor view exceeds its storage");
  auto flat = torch::empty({numel}, dtype);
  std::memcpy(flat.data_ptr(), storage.data(), storage.size());
  return flat.as_strided(ref.sizes, ref.strides, ref.storage_offset).clone();
}

std::vector<uint8_t> read_record(caffe2::serialize::PyTorchStreamReader& archive, const std::string& name) {
  auto [data, size] = archive.getRecord(name);
  const auto* bytes = static_cast<const uint8_t*>(data.get());
  return std::vector<uint8_t>(bytes, bytes + size);
}

}  // namespace

// The archive holds <name>/data.pkl (the pickle program) and
// <name>/data/<key> (raw little-endian storages); LibTorch's own zip reader
// resolves <name>.
StateDict load_state_dict_file(const std::string& path) {
  try {
    caffe2::serialize::PyTorchStreamReader archive(path);
    const std::vector<uint8_t> program = read_record(archive, "data.pkl");
    const pickle::ValueRef root = pickle::unpickle(program.data(), program.size());
    if (root->kind != Value::Kind::kDict) throw std::runtime_error("does not hold a state_dict");
    StateDict out;
    for (size_t i = 0; i + 1 < root->items.size(); i += 2) {
      const auto& key = root->items[i];
      const auto& value = root->items[i + 1];
      if (key->kind != Value::Kind::kString || value->kind != Value::Kind::kTensor)
        throw std::runtime_error("state_dict entries must map names to tensors");
      const std::string record = "data/" + value->tensor.storage_key;
      if (!archive.hasRecord(record)) throw std::runtime_error("missing tensor storage " + record);
      out.emplace_back(key->text, build_tensor(value->tensor, read_record(archive, record)));
    }
    return out;
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": not a readable PyTorch checkpoint (" + e.msg().substr(0, e.msg().find('\n')) + ")");
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

}  // namespace dcomp
