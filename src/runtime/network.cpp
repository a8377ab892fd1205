#include "runtime/network.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "runtime/sparse_layers.h"

namespace dcomp::runtime {

namespace {

std::vector<std::string> split(const std::string& s, char separator) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, separator);) parts.push_back(part);
  return parts;
}

std::vector<float> numbers(const std::string& s, const std::string& key) {
  std::vector<float> out;
  for (const std::string& part : split(s, ',')) {
    char* end = nullptr;
    const double v = std::strtod(part.c_str(), &end);  // as LibTorch: parse as double, then to float
    if (part.empty() || *end != '\0' || !std::isfinite(v)) throw std::invalid_argument("metadata " + key + ": not numbers");
    out.push_back(float(v));
  }
  return out;
}

// The file's tensors by name, with shape checks.
class Tensors {
 public:
  explicit Tensors(const dcz::Model& file) {
    for (const dcz::Tensor& t : file.tensors) by_name_[t.name] = &t;
  }
  bool has(const std::string& name) const { return by_name_.count(name) > 0; }
  int64_t length(const std::string& name) const {  // of a rank-1 tensor
    const auto it = by_name_.find(name);
    if (it == by_name_.end() || it->second->shape.size() != 1)
      throw std::invalid_argument("the file has no vector '" + name + "'");
    return it->second->shape[0];
  }
  const dcz::Tensor& get(const std::string& name, const std::vector<int64_t>& shape) const {
    const auto it = by_name_.find(name);
    if (it == by_name_.end()) throw std::invalid_argument("the file has no tensor '" + name + "'");
    if (it->second->shape != shape) throw std::invalid_argument("tensor '" + name + "' has an unexpected shape");
    return *it->second;
  }
  std::vector<float> floats(const std::string& name, int64_t n) const {
    const dcz::Tensor& t = get(name, {n});
    if (t.storage != dcz::Storage::kFloat32 && t.storage != dcz::Storage::kFloat16)
      throw std::invalid_argument("tensor '" + name + "' is not stored as floats");
    return t.floats;
  }
  // BatchNorm (eval) folded into y = x * scale + shift:
  // scale = gamma / sqrt(var + eps), shift = beta - mean * scale.
  ChannelAffine batch_norm(const std::string& prefix, int64_t n) const {
    const std::vector<float> gamma = floats(prefix + ".weight", n), beta = floats(prefix + ".bias", n),
                             mean = floats(prefix + ".running_mean", n), var = floats(prefix + ".running_var", n);
    ChannelAffine a;
    for (int64_t i = 0; i < n; ++i) {
      a.scale.push_back(gamma[size_t(i)] / std::sqrt(var[size_t(i)] + 1e-5f));
      a.shift.push_back(beta[size_t(i)] - mean[size_t(i)] * a.scale.back());
    }
    return a;
  }
  Conv2d conv(const std::string& name, int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) const {
    return {SparseRows(get(name, {out, in, kernel, kernel})), in, out, kernel, stride, padding, {}};
  }
  Linear linear(const std::string& prefix, int64_t in, int64_t out) const {
    return {SparseRows(get(prefix + ".weight", {out, in})), floats(prefix + ".bias", out)};
  }

 private:
  std::map<std::string, const dcz::Tensor*> by_name_;
};

ChannelAffine bias_affine(std::vector<float> bias) { return {std::vector<float>(bias.size(), 1.0f), std::move(bias)}; }

// ResNet for CIFAR with option-A shortcuts (models.cpp, CifarResNet).
class CifarResNet : public Network {
 public:
  CifarResNet(const Tensors& t, const InputSpec& input) : height_(input.height), width_(input.width) {
    stem_ = t.conv("conv1.weight", input.channels, 16, 3, 1, 1);
    stem_.affine = t.batch_norm("bn1", 16);
    int64_t in = 16;
    for (int stage = 1; stage <= 3; ++stage) {
      const int64_t planes = 16 << (stage - 1);
      for (int b = 0; t.has(block_name(stage, b) + ".conv1.weight"); ++b) {
        const std::string p = block_name(stage, b);
        Block block{t.conv(p + ".conv1.weight", in, planes, 3, b == 0 && stage > 1 ? 2 : 1, 1),
                    t.conv(p + ".conv2.weight", planes, planes, 3, 1, 1)};
        block.conv1.affine = t.batch_norm(p + ".bn1", planes);
        block.conv2.affine = t.batch_norm(p + ".bn2", planes);
        blocks_.push_back(std::move(block));
        in = planes;
      }
    }
    if (blocks_.empty()) throw std::invalid_argument("the file has no residual blocks");
    classes_ = t.length("fc.bias");
    fc_ = t.linear("fc", in, classes_);
  }
  int64_t classes() const override { return classes_; }
  size_t weight_bytes() const override {
    size_t n = stem_.weight.bytes() + stem_.affine.bytes() + fc_.weight.bytes() + 4 * fc_.bias.size();
    for (const Block& b : blocks_)
      n += b.conv1.weight.bytes() + b.conv1.affine.bytes() + b.conv2.weight.bytes() + b.conv2.affine.bytes();
    return n;
  }
  size_t scratch_floats() const override { return 3 * activation_floats(); }
  void forward(const float* image, float* logits, float* scratch) const override {
    float* x = scratch;  // three activations: block input, hidden, output
    float* h = x + activation_floats();
    float* y = h + activation_floats();
    int64_t size_h = height_, size_w = width_, channels = 16;
    stem_.forward(image, size_h, size_w, x, true);
    for (const Block& b : blocks_) {
      const int64_t oh = b.conv1.output_size(size_h), ow = b.conv1.output_size(size_w);
      b.conv1.forward(x, size_h, size_w, h, true);
      b.conv2.forward(h, oh, ow, y, false);
      // Option A: x subsampled by the stride, channels zero-padded (half the
      // new ones before, the rest after), added, then ReLU.
      const int64_t before = (b.conv1.out - channels) / 2, stride = b.conv1.stride;
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t i = 0; i < oh; ++i)
          for (int64_t j = 0; j < ow; ++j)
            y[((c + before) * oh + i) * ow + j] += x[(c * size_h + i * stride) * size_w + j * stride];
      for (int64_t i = 0; i < b.conv1.out * oh * ow; ++i) x[i] = std::max(0.0f, y[i]);
      channels = b.conv1.out, size_h = oh, size_w = ow;
    }
    float* pooled = h;  // global average pooling: (channels)
    for (int64_t c = 0; c < channels; ++c) {
      float sum = 0;
      for (int64_t i = 0; i < size_h * size_w; ++i) sum += x[c * size_h * size_w + i];
      pooled[c] = sum / float(size_h * size_w);
    }
    fc_.forward(pooled, logits, false);
  }

 private:
  struct Block {
    Conv2d conv1, conv2;
  };
  // The largest activation: the widest stage at full size bounds them all.
  size_t activation_floats() const { return size_t(64 * height_ * width_); }
  static std::string block_name(int stage, int block) {
    return "layer" + std::to_string(stage) + "." + std::to_string(block);
  }
  int64_t height_, width_, classes_ = 0;
  Conv2d stem_;
  std::vector<Block> blocks_;
  Linear fc_;
};

// LeNet-300-100: 784-300-100-10 with ReLU (models.cpp, LeNet300). Batches
// run up to 64 images at a time, feature-major, so that each nonzero weight
// is one vector operation over all of them (Linear::forward_columns).
class LeNet300 : public Network {
 public:
  LeNet300(const Tensors& t, const InputSpec& input)
      : fc1_(t.linear("fc1", input.channels * input.height * input.width, kHidden1)),
        fc2_(t.linear("fc2", kHidden1, kHidden2)),
        fc3_(t.linear("fc3", kHidden2, t.length("fc3.bias"))) {}
  int64_t classes() const override { return fc3_.weight.rows(); }
  size_t weight_bytes() const override {
    return fc1_.weight.bytes() + fc2_.weight.bytes() + fc3_.weight.bytes() +
           4 * (fc1_.bias.size() + fc2_.bias.size() + fc3_.bias.size());
  }
  size_t scratch_floats() const override { return kHidden1 + kHidden2; }
  void forward(const float* image, float* logits, float* scratch) const override {
    fc1_.forward(image, scratch, true);
    fc2_.forward(scratch, scratch + kHidden1, true);
    fc3_.forward(scratch + kHidden1, logits, false);
  }
  void forward_batch(const float* images, int64_t in, int64_t batch, float* logits) const override {
    if (batch < kVecFloats) return Network::forward_batch(images, in, batch, logits);
    constexpr int64_t kMaxColumns = 64;  // four 16-float accumulators per block
    const int64_t classes = fc3_.weight.rows();
    thread_local std::vector<float> x, h1, h2, y;
    x.resize(size_t(in * kMaxColumns));
    h1.resize(size_t(kHidden1 * kMaxColumns));
    h2.resize(size_t(kHidden2 * kMaxColumns));
    y.resize(size_t(classes * kMaxColumns));
    for (int64_t first = 0; first < batch; first += kMaxColumns) {
      const int64_t n = std::min(kMaxColumns, batch - first);
      const int64_t columns = (n + kVecFloats - 1) / kVecFloats * kVecFloats;  // the rest: unused columns
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < in; ++i) x[size_t(i * columns + j)] = images[(first + j) * in + i];
      fc1_.forward_columns(x.data(), columns, h1.data(), true);
      fc2_.forward_columns(h1.data(), columns, h2.data(), true);
      fc3_.forward_columns(h2.data(), columns, y.data(), false);
      for (int64_t j = 0; j < n; ++j)
        for (int64_t c = 0; c < classes; ++c) logits[(first + j) * classes + c] = y[size_t(c * columns + j)];
    }
  }

 private:
  static constexpr int64_t kHidden1 = 300, kHidden2 = 100;
  Linear fc1_, fc2_, fc3_;
};

// LeNet-5 as in Caffe (models.cpp, LeNet5): conv 20@5x5, max-pool 2, conv
// 50@5x5, max-pool 2, fc 500 + ReLU, fc.
class LeNet5 : public Network {
 public:
  LeNet5(const Tensors& t, const InputSpec& input) : height_(input.height), width_(input.width) {
    conv1_ = t.conv("conv1.weight", input.channels, 20, 5, 1, 0);
    conv1_.affine = bias_affine(t.floats("conv1.bias", 20));
    conv2_ = t.conv("conv2.weight", 20, 50, 5, 1, 0);
    conv2_.affine = bias_affine(t.floats("conv2.bias", 50));
    const int64_t h = (conv2_.output_size(conv1_.output_size(height_) / 2)) / 2;
    const int64_t w = (conv2_.output_size(conv1_.output_size(width_) / 2)) / 2;
    if (h < 1 || w < 1) throw Unsupported("input too small for LeNet-5");
    fc1_ = t.linear("fc1", 50 * h * w, 500);
    fc2_ = t.linear("fc2", 500, t.length("fc2.bias"));
  }
  int64_t classes() const override { return fc2_.weight.rows(); }
  size_t weight_bytes() const override {
    return conv1_.weight.bytes() + conv1_.affine.bytes() + conv2_.weight.bytes() + conv2_.affine.bytes() +
           fc1_.weight.bytes() + fc2_.weight.bytes() + 4 * (fc1_.bias.size() + fc2_.bias.size());
  }
  size_t scratch_floats() const override { return 2 * size_t(20 * height_ * width_) + 500; }
  void forward(const float* image, float* logits, float* scratch) const override {
    float* a = scratch;
    float* b = a + 20 * height_ * width_;
    int64_t h = conv1_.output_size(height_), w = conv1_.output_size(width_);
    conv1_.forward(image, height_, width_, a, false);  // (20, h, w)
    max_pool2(a, 20, h, w, b);
    h /= 2, w /= 2;
    conv2_.forward(b, h, w, a, false);  // (50, h', w')
    h = conv2_.output_size(h), w = conv2_.output_size(w);
    max_pool2(a, 50, h, w, b);
    float* hidden = a;
    fc1_.forward(b, hidden, true);  // (500)
    fc2_.forward(hidden, logits, false);
  }

 private:
  // 2x2 max pooling, stride 2, floor: (c, h, w) -> (c, h/2, w/2).
  static void max_pool2(const float* x, int64_t c, int64_t h, int64_t w, float* y) {
    const int64_t oh = h / 2, ow = w / 2;
    for (int64_t k = 0; k < c; ++k)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          const float* p = x + (k * h + 2 * i) * w + 2 * j;
          y[(k * oh + i) * ow + j] = std::max(std::max(p[0], p[1]), std::max(p[w], p[w + 1]));
        }
  }
  int64_t height_, width_;
  Conv2d conv1_, conv2_;
  Linear fc1_, fc2_;
};

}  // namespace

InputSpec input_spec(const dcz::Model& file) {
  InputSpec s;
  for (const char* key : {"model", "input_shape", "input_mean", "input_std"})
    if (!file.find(key)) throw Unsupported(std::string("the file's metadata has no '") + key + "'");
  s.architecture = *file.find("model");
  const std::vector<float> shape = numbers(*file.find("input_shape"), "input_shape");
  // The networks here take 28x28 and 32x32 images; 256 bounds what a hostile
  // file can make run() allocate (ResNet: 3 x 64 x 256 x 256 floats, 50 MB).
  if (shape.size() != 3 || !(shape[0] >= 1 && shape[0] <= 4) || !(shape[1] >= 1 && shape[1] <= 256) ||
      !(shape[2] >= 1 && shape[2] <= 256) || shape[0] != std::floor(shape[0]) || shape[1] != std::floor(shape[1]) ||
      shape[2] != std::floor(shape[2]))
    throw Unsupported("metadata input_shape must be C,H,W with C in [1, 4] and H, W in [1, 256]");
  s.channels = int64_t(shape[0]), s.height = int64_t(shape[1]), s.width = int64_t(shape[2]);
  s.mean = numbers(*file.find("input_mean"), "input_mean");
  s.std = numbers(*file.find("input_std"), "input_std");
  if (int64_t(s.mean.size()) != s.channels || int64_t(s.std.size()) != s.channels)
    throw Unsupported("metadata input_mean and input_std need one value per channel");
  for (float v : s.std)
    if (!(v > 0)) throw Unsupported("metadata input_std must be positive");
  if (const std::string* names = file.find("class_names")) s.class_names = split(*names, ',');
  return s;
}

void Network::forward_batch(const float* images, int64_t image_floats, int64_t batch, float* logits) const {
  thread_local std::vector<float> scratch;  // reused across calls on this thread
  scratch.resize(scratch_floats());
  for (int64_t b = 0; b < batch; ++b) forward(images + b * image_floats, logits + b * classes(), scratch.data());
}

std::unique_ptr<Network> build_network(const dcz::Model& file, const InputSpec& input) {
  const Tensors t(file);
  const std::string& a = input.architecture;
  if (a == "resnet20" || a == "resnet32" || a == "resnet56") return std::make_unique<CifarResNet>(t, input);
  if (a == "lenet300") return std::make_unique<LeNet300>(t, input);
  if (a == "lenet5") return std::make_unique<LeNet5>(t, input);
  throw Unsupported("the runtime does not run '" + a + "' (it runs resnet20/32/56, lenet300, lenet5)");
}

}  // namespace dcomp::runtime
