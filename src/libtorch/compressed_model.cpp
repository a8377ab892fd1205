#include "libtorch/compressed_model.h"

#include <fmt/format.h>

#include <map>

#include "core/atomic_file.h"
#include "core/batchnorm_folding.h"
#include "core/input_spec.h"
#include "libtorch/data.h"
#include "libtorch/models.h"

namespace dcomp {

namespace {

dcz::Tensor shared_tensor(const SharedLayer& layer) {
  dcz::Tensor t;
  t.name = layer.name;
  t.shape = layer.index.sizes().vec();
  t.storage = dcz::Storage::kShared;
  const torch::Tensor index = layer.index.flatten().to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t* idx = index.data_ptr<int64_t>();
  int64_t last_used = -1;
  for (int64_t p = 0; p < index.numel(); ++p) {
    if (idx[p] < 0) continue;
    t.shared.positions.push_back(uint32_t(p));
    t.shared.indices.push_back(uint8_t(idx[p]));
    last_used = std::max(last_used, idx[p]);
  }
  t.shared.bits = layer.bits;
  // Entries no weight uses (a codebook padded to 2^bits) are not stored.
  t.shared.codebook.assign(layer.codebook.begin(), layer.codebook.begin() + std::max<int64_t>(last_used + 1, 1));
  return t;
}

dcz::Tensor dense_tensor(const std::string& name, const torch::Tensor& value, dcz::Storage precision) {
  dcz::Tensor t;
  t.name = name;
  t.shape = value.sizes().vec();
  const torch::Tensor v = value.detach().to(torch::kCPU).contiguous();
  if (v.scalar_type() == torch::kFloat32) {
    t.storage = precision;
    t.floats.assign(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
  } else if (v.scalar_type() == torch::kInt64) {
    t.storage = dcz::Storage::kInt64;
    t.integers.assign(v.data_ptr<int64_t>(), v.data_ptr<int64_t>() + v.numel());
  } else {
    throw std::invalid_argument(name + ": only float32 and int64 tensors can be stored");
  }
  return t;
}

}  // namespace

dcz::Model compressed_model(const Model& model, const std::vector<SharedLayer>& layers, const PackOptions& options) {
  const dcz::Storage dense = options.dense;
  if (dense != dcz::Storage::kFloat32 && dense != dcz::Storage::kFloat16)
    throw std::invalid_argument("dense tensors are stored as float32 or float16");
  std::map<std::string, const SharedLayer*> shared;
  for (const SharedLayer& l : layers) shared[l.name] = &l;
  dcz::Model file;
  // What a runtime needs to feed the network: input shape, normalization
  // (17 digits: the doubles LibTorch uses), class names.
  const std::optional<DatasetInfo> input = model.data();
  if (!input) throw std::invalid_argument("the model names no dataset: say which images it takes (--dataset)");
  const DatasetInfo& data = *input;
  const auto join = [](const auto& values, auto format) {
    std::string out;
    for (const auto& v : values) out += (out.empty() ? "" : ",") + format(v);
    return out;
  };
  const auto exact = [](double v) { return fmt::format("{:.17g}", v); };
  const auto text = [](const std::string& s) { return s; };
  file.metadata = {{"model", model.architecture()},
                   {"producer", "dcomp " DCOMP_VERSION},
                   {"dataset", data.name},
                   {"input_shape", fmt::format("{},{},{}", data.mean.size(), data.image_size, data.image_size)},
                   {"input_mean", join(data.mean, exact)},
                   {"input_std", join(data.std, exact)},
                   {"class_names", join(data.class_names, text)}};
  file.graph = model.graph();
  for (const auto& [name, value] : model.state_dict()) {
    auto it = shared.find(name);
    file.tensors.push_back(it != shared.end() ? shared_tensor(*it->second) : dense_tensor(name, value, dense));
  }
  if (options.fold_batchnorm) dcz::fold_batch_norms(file);
  for (dcz::Tensor& t : file.tensors) {
    if (dcz::holds_floats(t.storage) && t.floats.size() > 1 && dcz::one_bit_pattern(t.floats))
      t.storage = dcz::Storage::kConstant;
    t.coder = options.coder;
  }
  return file;
}

DatasetInfo file_data(const dcz::Model& file) {
  const dcz::InputSpec input = dcz::input_spec(file);
  if (input.dataset.empty()) throw std::runtime_error("the file's metadata has no 'dataset'");
  if (input.dataset != "imagefolder") return dataset_info(input.dataset);
  DatasetInfo info;
  info.name = input.dataset;
  info.image_size = input.height;
  info.mean = input.mean;
  info.std = input.std;
  info.crop_padding = info.image_size / 8;
  info.horizontal_flip = DataSource{}.horizontal_flip;
  info.class_names = input.class_names;
  return info;
}

StateDict expanded_state_dict(const dcz::Model& file) {
  StateDict out;
  for (const dcz::Tensor& t : file.tensors) {
    torch::Tensor value;
    if (t.storage == dcz::Storage::kInt64) {
      value = torch::tensor(t.integers, torch::kInt64);
    } else if (dcz::holds_floats(t.storage)) {
      value = torch::tensor(t.floats, torch::kFloat32);
    } else {
      value = torch::zeros({int64_t(t.numel())}, torch::kFloat32);
      float* w = value.data_ptr<float>();
      for (size_t i = 0; i < t.shared.positions.size(); ++i) w[t.shared.positions[i]] = t.shared.codebook[t.shared.indices[i]];
    }
    out.emplace_back(t.name, value.reshape(t.shape));
  }
  return out;
}

std::unique_ptr<Model> built_in_model(const dcz::Model& file) {
  const std::string* architecture = file.find("model");
  if (!architecture || *architecture == "torchscript")
    throw std::runtime_error("a TorchScript model's file runs in dcomp-run, or with its module; not as a built-in network");
  std::unique_ptr<Model> model = make_model(*architecture);
  load_state_dict(*model, expanded_state_dict(file));
  model->set_data(file_data(file));
  return model;
}

const char* coder_name(dcz::Coder coder) { return coder == dcz::Coder::kAdaptive ? "adaptive" : "huffman"; }

dcz::Coder parse_coder(const std::string& name) {
  if (name == "huffman") return dcz::Coder::kHuffman;
  if (name == "adaptive") return dcz::Coder::kAdaptive;
  throw std::invalid_argument("unknown coder '" + name + "' (huffman or adaptive)");
}

PartBytes part_bytes(const dcz::Model& file, const dcz::Layout& layout) {
  PartBytes p;
  p.file = layout.file_bytes;
  p.header = layout.header_bytes;
  p.graph = layout.graph_bytes;
  double entropy_bits = 0;
  for (size_t i = 0; i < layout.tensors.size(); ++i) {
    const dcz::TensorLayout& t = layout.tensors[i];
    const uint64_t codebook = 4 * file.tensors[i].shared.codebook.size();
    // A Huffman stream is padded to whole bytes; an adaptive one is whole
    // bytes, split between the parts.
    const uint64_t padding = t.coder == dcz::Coder::kHuffman ? 7 : 0;
    p.positions += (t.position_bits + padding) / 8;
    p.indices += (t.index_bits + padding) / 8 + (t.coder == dcz::Coder::kAdaptive && (t.position_bits % 8) != 0);
    p.codebooks += codebook;
    p.dense_tensors += t.dense_bytes;  // 0 for values in the dense stream
    p.tables += t.table_bytes - codebook;
    entropy_bits += t.index_entropy_bits + t.position_entropy_bits;
  }
  p.dense_tensors += layout.dense_stream_bytes;
  p.entropy = entropy_bits / 8;
  return p;
}

FileReport file_report(const dcz::Model& file, const dcz::Layout& layout, int64_t parameters,
                       const CodingReport& coding) {
  FileReport r;
  r.parameters = parameters;
  r.dense_bytes = 4 * uint64_t(parameters);
  r.bytes = part_bytes(file, layout);
  for (const dcz::TensorLayout& t : layout.tensors) {
    r.filler_scheme_bytes += double(t.filler_scheme_bits) / 8;
    r.comparable_bytes += double(t.index_bits + t.position_bits + t.position_table_bits) / 8;
  }
  r.file_factor = double(r.dense_bytes) / double(r.bytes.file);
  r.coding = coding;
  r.tensors = layout.tensors;
  return r;
}

nlohmann::json to_json(const PartBytes& p) {
  return {{"file", p.file},          {"positions", p.positions}, {"indices", p.indices},
          {"codebooks", p.codebooks}, {"dense_tensors", p.dense_tensors}, {"tables", p.tables},
          {"graph", p.graph},        {"header", p.header},       {"stream_bound", p.entropy}};
}

nlohmann::json to_json(const FileReport& r) {
  nlohmann::json tensors = nlohmann::json::array();
  for (const dcz::TensorLayout& t : r.tensors) {
    nlohmann::json j = {{"name", t.name}, {"table_bytes", t.table_bytes}};
    if (t.storage == dcz::Storage::kShared) {
      j.update({{"coder", coder_name(t.coder)},
                {"index_bits", t.index_bits},
                {"position_bits", t.position_bits},
                {"gap_bits", t.gap_bits},
                {"index_entropy_bits", t.index_entropy_bits},
                {"position_entropy_bits", t.position_entropy_bits},
                {"filler_scheme_bits", t.filler_scheme_bits}});
    } else {
      j["dense_bytes"] = t.dense_bytes;
    }
    tensors.push_back(j);
  }
  nlohmann::json by_coder = nlohmann::json::object();
  for (const auto& [coder, parts] : r.by_coder) by_coder[coder_name(coder)] = to_json(parts);
  return {{"coder", coder_name(r.coder)},
          {"parameters", r.parameters},
          {"dense_bytes", r.dense_bytes},
          {"file_bytes", r.bytes.file},
          // Compression as factors (dense / compressed), and as the seed's
          // ratios (compressed / dense).
          {"compression_file", r.file_factor},
          {"compression_formula", r.coding.formula_factor},
          {"ratio_file", 1 / r.file_factor},
          {"ratio_formula", r.coding.formula_factor > 0 ? 1 / r.coding.formula_factor : 0.0},
          {"breakdown_bytes",
           {{"positions", r.bytes.positions},
            {"indices", r.bytes.indices},
            {"codebooks", r.bytes.codebooks},
            {"dense_tensors", r.bytes.dense_tensors},
            {"tables", r.bytes.tables},
            {"graph", r.bytes.graph},
            {"header", r.bytes.header}}},
          {"stream_entropy_bytes", r.bytes.entropy},
          {"stream_bytes", r.bytes.positions + r.bytes.indices},
          {"streams_and_position_tables_bytes", r.comparable_bytes},
          {"filler_scheme_bytes", r.filler_scheme_bytes},
          {"by_coder_bytes", by_coder},
          {"tensors", tensors}};
}

FileReport pack(Model& model, const std::string& path, const PackOptions& options) {
  const std::vector<SharedLayer> layers = shared_layers_from_values(model);
  dcz::Model file = compressed_model(model, layers, options);
  const dcz::Coder coder = options.coder;
  const auto use = [&file](dcz::Coder c) {
    for (dcz::Tensor& t : file.tensors) t.coder = c;
  };
  // Both coders' files, for their figures; the chosen one's is written.
  std::vector<std::pair<dcz::Coder, PartBytes>> by_coder;
  std::vector<uint8_t> bytes;
  dcz::Layout layout;
  for (dcz::Coder c : {dcz::Coder::kHuffman, dcz::Coder::kAdaptive}) {
    use(c);
    dcz::Layout l;
    std::vector<uint8_t> encoded = dcz::encode(file, &l);
    by_coder.emplace_back(c, part_bytes(file, l));
    if (c == coder) bytes = std::move(encoded), layout = std::move(l);
  }
  use(coder);
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  // Expected: the model's weights; the other tensors as compressed_model
  // made them (the model's, or folded), at their storage's precision.
  const StateDict weights = model.state_dict(), others = expanded_state_dict(file);
  const StateDict unpacked = expanded_state_dict(dcz::read(path));
  for (size_t i = 0; i < weights.size(); ++i) {
    const dcz::Storage storage = file.tensors[i].storage;
    const torch::Tensor expected = storage == dcz::Storage::kShared ? weights[i].second.cpu() : others[i].second;
    if (!torch::equal(storage == dcz::Storage::kFloat16 ? expected.to(torch::kHalf).to(torch::kFloat32) : expected,
                      unpacked[i].second))
      throw std::logic_error(path + ": " + weights[i].first + " does not read back as written");
  }
  load_state_dict(model, unpacked);
  FileReport report = file_report(file, layout, parameter_count(model), huffman_report(layers));
  report.coder = coder;
  report.by_coder = std::move(by_coder);
  return report;
}

std::string format_table(const FileReport& r) {
  std::string s;
  s += fmt::format("{:<26} {:>9} {:>9} {:>9} {:>8}\n", "shared tensor", "positions", "indices", "entropy", "gap bits");
  for (const dcz::TensorLayout& t : r.tensors) {
    if (t.storage != dcz::Storage::kShared) continue;
    s += fmt::format("{:<26} {:>8}B {:>8}B {:>8.0f}B {:>8}\n", t.name, (t.position_bits + 7) / 8, (t.index_bits + 7) / 8,
                     (t.index_entropy_bits + t.position_entropy_bits) / 8, t.gap_bits);
  }
  s += fmt::format(
      "file {} bytes: positions {}, indices {}, codebooks {}, dense tensors {}, tables {}, graph {}, header {}\n",
      r.bytes.file, r.bytes.positions, r.bytes.indices, r.bytes.codebooks, r.bytes.dense_tensors, r.bytes.tables,
      r.bytes.graph, r.bytes.header);
  const uint64_t streams = r.bytes.positions + r.bytes.indices;
  s += fmt::format("streams {} bytes ({}), {} {:.0f} bytes ({:.1f}% above)\n", streams, coder_name(r.coder),
                   r.coder == dcz::Coder::kHuffman ? "entropy bound" : "context models' cost", r.bytes.entropy,
                   100 * (double(streams) / r.bytes.entropy - 1));
  for (const auto& [coder, p] : r.by_coder)
    s += fmt::format("  {:<8} file {} bytes: positions {}, indices {}, codebooks {}, dense tensors {}, tables {} "
                     "({:.1f}x by file size)\n",
                     coder_name(coder), p.file, p.positions, p.indices, p.codebooks, p.dense_tensors, p.tables,
                     double(r.dense_bytes) / double(p.file));
  s += fmt::format("streams and position tables {:.0f} bytes; with Han et al.'s filler zeros {:.0f} bytes\n",
                   r.comparable_bytes, r.filler_scheme_bytes);
  s += fmt::format("compression: {:.1f}x by the seed's formula, {:.1f}x by file size ({} dense float32 bytes)\n",
                   r.coding.formula_factor, r.file_factor, r.dense_bytes);
  return s;
}

}  // namespace dcomp
