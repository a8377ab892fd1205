#include "runtime/network.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

namespace dcomp::runtime {

namespace {

// Caps on what a hostile file can make the runtime allocate: one activation
// of one image, and the arena holding them all.
constexpr int64_t kMaxValueFloats = int64_t{1} << 24;
constexpr size_t kMaxArenaFloats = size_t{1} << 26;
// Images the column steps take at once: four 16-float accumulators per block.
constexpr int64_t kMaxColumns = 64;
constexpr float kInfinity = std::numeric_limits<float>::infinity();

// The file's tensors by name, checked for the role an operation gives them.
class Tensors {
 public:
  explicit Tensors(const dcz::Model& file) {
    for (const dcz::Tensor& t : file.tensors) by_name_[t.name] = &t;
  }
  const dcz::Tensor& get(const std::string& name) const { return *by_name_.at(name); }  // graph.h validated the names
  // A weight: shared, of rank `rank`.
  const dcz::Tensor& weight(const std::string& name, size_t rank, const std::string& where) const {
    const dcz::Tensor& t = get(name);
    if (t.storage != dcz::Storage::kShared)
      throw std::invalid_argument(where + "weight '" + name + "' is not weight-shared (pack it with dcomp pack)");
    if (t.shape.size() != rank) throw std::invalid_argument(where + "weight '" + name + "' has rank " + std::to_string(t.shape.size()));
    return t;
  }
  // A vector of n floats: a bias or BatchNorm's statistics.
  std::vector<float> vector(const std::string& name, int64_t n, const std::string& where) const {
    const dcz::Tensor& t = get(name);
    if (!dcz::holds_floats(t.storage))
      throw std::invalid_argument(where + "tensor '" + name + "' is not stored as floats");
    if (t.shape != std::vector<int64_t>{n})
      throw std::invalid_argument(where + "tensor '" + name + "' is not a vector of " + std::to_string(n));
    return t.floats;
  }

 private:
  std::map<std::string, const dcz::Tensor*> by_name_;
};

// Python's x[start:end:step] on a dimension of `size`: the first index and count.
std::pair<int64_t, int64_t> slice_range(int64_t start, int64_t end, int64_t step, int64_t size) {
  const auto clip = [size](int64_t i) { return std::clamp(i < 0 ? i + size : i, int64_t{0}, size); };
  const int64_t first = clip(start), stop = clip(end);
  return {first, stop > first ? (stop - first + step - 1) / step : 0};
}

Window window(const std::vector<int64_t>& a, size_t kernel, size_t stride, size_t padding, int64_t dilation, bool ceil) {
  return {a[kernel], a[stride], a[padding], dilation, ceil};
}

// Pooling windows as PyTorch allows them: padding at most half the
// (dilated) kernel, and at least one output.
void check_window(const Window& w, int64_t size, const std::string& where) {
  if (w.padding > (w.dilation * (w.kernel - 1) + 1) / 2)
    throw std::invalid_argument(where + "padding above half the kernel");
  if (w.output(size) < 1) throw std::invalid_argument(where + "kernel larger than the padded input");
}

}  // namespace

struct Network::Step {
  dcz::Op op = dcz::Op::kRelu;
  std::vector<uint32_t> inputs;
  uint32_t output = 0;
  Conv2d conv;
  Linear linear;
  Epilogue epilogue;  // batch_norm's affine; batch_norm's, clamp's and add's clamp
  Window wh, ww;
  bool count_include_pad = false;
  bool channel_vector = false;  // mul by a (C, 1, 1) value
  float alpha = 1, slope = 0, value = 0;
  int dim = 1;
  int64_t start = 0, stride = 1;
  int64_t pads[6] = {};

  // The epilogue a following ReLU or clamp can be folded into.
  Epilogue* output_epilogue() {
    switch (op) {
      case dcz::Op::kConv2d: return &conv.epilogue;
      case dcz::Op::kLinear: return &linear.epilogue;
      case dcz::Op::kBatchNorm:
      case dcz::Op::kAdd: return &epilogue;
      default: return nullptr;
    }
  }
  // Whether it computes the same on a (F, 1, 1) value held as F rows of columns.
  bool runs_on_columns() const {
    switch (op) {
      case dcz::Op::kLinear: case dcz::Op::kBatchNorm: case dcz::Op::kRelu: case dcz::Op::kClamp:
      case dcz::Op::kLeakyRelu: case dcz::Op::kSigmoid: case dcz::Op::kHardSwish: case dcz::Op::kAdd:
        return true;
      case dcz::Op::kMul: return !channel_vector;
      default: return false;
    }
  }
};

namespace {

// First-fit placement of buffers in one arena, freed blocks merged.
class ArenaPlanner {
 public:
  size_t allocate(size_t n) {
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if (it->second >= n) {
        const size_t offset = it->first, rest = it->second - n;
        free_.erase(it);
        if (rest > 0) free_[offset + n] = rest;
        return offset;
      }
    const size_t offset = end_;
    end_ += n;
    if (end_ > kMaxArenaFloats) throw std::invalid_argument("the graph's activations need too much memory");
    return offset;
  }
  void release(size_t offset, size_t n) {
    auto it = free_.emplace(offset, n).first;
    if (const auto next = std::next(it); next != free_.end() && offset + it->second == next->first) {
      it->second += next->second;
      free_.erase(next);
    }
    if (it != free_.begin())
      if (const auto prev = std::prev(it); prev->first + prev->second == offset) {
        prev->second += it->second;
        free_.erase(it);
      }
  }
  size_t size() const { return end_; }

 private:
  std::map<size_t, size_t> free_;  // offset -> floats
  size_t end_ = 0;
};

}  // namespace

InputSpec input_spec(const dcz::Model& file) {
  if (!file.find("model")) throw Unsupported("the file's metadata has no 'model'");
  InputSpec s;
  try {
    s = dcz::input_spec(file);
  } catch (const std::invalid_argument& e) {
    throw Unsupported(e.what());
  }
  // The networks here take 28x28 and 32x32 images; 256 bounds what a hostile
  // file can make run() allocate, with the caps on activations above.
  if (s.channels > 4 || s.height > 256 || s.width > 256)
    throw Unsupported("metadata input_shape must be C,H,W with C in [1, 4] and H, W in [1, 256]");
  for (double v : s.std)
    if (!(float(v) > 0)) throw Unsupported("metadata input_std must be positive");  // as the float it is used as
  return s;
}

Network::~Network() = default;

Network::Network(const dcz::Model& file, const InputSpec& input) {
  if (file.graph.empty())
    throw Unsupported("the file has no graph (format version 1): re-pack it with this dcomp (dcomp unpack, then dcomp pack)");
  const Tensors tensors(file);
  const dcz::Graph& g = file.graph;
  const size_t values = g.nodes.size() + 1;
  std::vector<int> readers(values, 0);
  for (const dcz::Node& n : g.nodes)
    for (uint32_t v : n.inputs) ++readers[v];
  ++readers[g.output];
  shapes_.assign(values, Shape{});
  shapes_[0] = {input.channels, input.height, input.width};
  buffer_.resize(values);
  std::iota(buffer_.begin(), buffer_.end(), 0u);
  std::vector<int64_t> writer(values, -1);  // the step writing each value (-1: the input)

  // The step that wrote v, when only the node at hand reads v: a
  // BatchNorm or ReLU reading it can be folded into that step.
  const auto sole_writer = [&](uint32_t v) -> Step* {
    return readers[v] == 1 && writer[v] >= 0 ? &steps_[size_t(writer[v])] : nullptr;
  };
  const auto alias = [&](uint32_t out, uint32_t of, Shape shape) {
    buffer_[out] = buffer_[of], writer[out] = writer[of], shapes_[out] = shape;
  };

  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const dcz::Node& n = g.nodes[k];
    const uint32_t out = uint32_t(k + 1), in0 = n.inputs[0];
    const std::string where = "graph node " + std::to_string(k) + " (" + dcz::op_name(n.op) + "): ";
    const Shape x = shapes_[in0];
    const std::vector<int64_t>& a = n.ints;
    Step s;
    s.op = n.op, s.inputs = n.inputs, s.output = out;
    Shape y = x;
    switch (n.op) {
      case dcz::Op::kConv2d: {
        const dcz::Tensor& w = tensors.weight(n.tensors[0], 4, where);
        Conv2d& c = s.conv;
        c.in = x.c, c.out = w.shape[0], c.groups = a[6];
        c.kernel_h = w.shape[2], c.kernel_w = w.shape[3], c.stride_h = a[0], c.stride_w = a[1];
        c.pad_h = a[2], c.pad_w = a[3], c.dilation_h = a[4], c.dilation_w = a[5];
        if (c.out % c.groups != 0 || w.shape[1] * c.groups != x.c)
          throw std::invalid_argument(where + "weight " + n.tensors[0] + " does not fit " + std::to_string(x.c) +
                                      " input channels in " + std::to_string(c.groups) + " groups");
        if (c.kernel_h < 1 || c.kernel_w < 1 || c.output_h(x.h) < 1 || c.output_w(x.w) < 1)
          throw std::invalid_argument(where + "kernel larger than the padded input");
        c.weight = SparseRows(w);
        c.plan(x.h, x.w);
        buffer_slack_ = std::max(buffer_slack_, size_t(c.input_overrun()));
        if (n.tensors.size() > 1) c.epilogue.shift = tensors.vector(n.tensors[1], c.out, where);
        y = {c.out, c.output_h(x.h), c.output_w(x.w)};
        break;
      }
      case dcz::Op::kBatchNorm: {
        // eval BatchNorm as y = x * scale + shift: scale = gamma / sqrt(var + eps),
        // shift = beta - mean * scale.
        const std::vector<float> gamma = tensors.vector(n.tensors[0], x.c, where),
                                 beta = tensors.vector(n.tensors[1], x.c, where),
                                 mean = tensors.vector(n.tensors[2], x.c, where),
                                 var = tensors.vector(n.tensors[3], x.c, where);
        std::vector<float> scale(size_t(x.c)), shift(size_t(x.c));
        for (size_t c = 0; c < scale.size(); ++c) {
          scale[c] = gamma[c] / std::sqrt(var[c] + n.floats[0]);
          shift[c] = beta[c] - mean[c] * scale[c];
        }
        if (Step* w = sole_writer(in0); w && w->op == dcz::Op::kConv2d && !w->conv.epilogue.clamps()) {
          w->conv.epilogue.then_affine(scale, shift);  // folded into the convolution before it
          alias(out, in0, x);
          continue;
        }
        s.epilogue.scale = std::move(scale), s.epilogue.shift = std::move(shift);
        break;
      }
      case dcz::Op::kRelu:
      case dcz::Op::kClamp: {
        const float lo = n.op == dcz::Op::kRelu ? 0.0f : n.floats[0], hi = n.op == dcz::Op::kRelu ? kInfinity : n.floats[1];
        if (Step* w = sole_writer(in0)) {
          Epilogue* e = w->output_epilogue();
          if (e && !e->clamps()) {
            e->lo = lo, e->hi = hi;  // folded into the layer before it
            alias(out, in0, x);
            continue;
          }
        }
        s.epilogue.lo = lo, s.epilogue.hi = hi;
        break;
      }
      case dcz::Op::kLeakyRelu: s.slope = n.floats[0]; break;
      case dcz::Op::kSigmoid:
      case dcz::Op::kHardSwish: break;
      case dcz::Op::kAdd:
        if (!(shapes_[n.inputs[1]] == x)) throw std::invalid_argument(where + "inputs of different shapes");
        s.alpha = n.floats[0];
        break;
      case dcz::Op::kMul: {
        const Shape b = shapes_[n.inputs[1]];
        s.channel_vector = !(b == x);
        if (s.channel_vector && !(b == Shape{x.c, 1, 1}))
          throw std::invalid_argument(where + "the second input is neither of the first's shape nor a channel vector");
        break;
      }
      case dcz::Op::kConcat:
        y.c = 0;
        for (uint32_t v : n.inputs) {
          if (shapes_[v].h != x.h || shapes_[v].w != x.w) throw std::invalid_argument(where + "inputs of different sizes");
          y.c += shapes_[v].c;
          if (y.c > kMaxValueFloats) throw std::invalid_argument(where + "too many channels");
        }
        break;
      case dcz::Op::kMaxPool2d:
      case dcz::Op::kAvgPool2d: {
        const bool max = n.op == dcz::Op::kMaxPool2d;
        const bool ceil = (max ? a[8] : a[6]) != 0;
        s.wh = window(a, 0, 2, 4, max ? a[6] : 1, ceil), s.ww = window(a, 1, 3, 5, max ? a[7] : 1, ceil);
        check_window(s.wh, x.h, where), check_window(s.ww, x.w, where);
        s.count_include_pad = !max && a[7] != 0;
        y = {x.c, s.wh.output(x.h), s.ww.output(x.w)};
        break;
      }
      case dcz::Op::kGlobalAvgPool: y = {x.c, 1, 1}; break;
      case dcz::Op::kFlatten: alias(out, in0, {x.floats(), 1, 1}); continue;
      case dcz::Op::kLinear: {
        const dcz::Tensor& w = tensors.weight(n.tensors[0], 2, where);
        if (x.plane() != 1) throw std::invalid_argument(where + "needs a flattened input");
        if (w.shape[1] != x.c)
          throw std::invalid_argument(where + "weight " + n.tensors[0] + " takes " + std::to_string(w.shape[1]) +
                                      " features, not " + std::to_string(x.c));
        s.linear.weight = SparseRows(w);
        if (n.tensors.size() > 1) s.linear.epilogue.shift = tensors.vector(n.tensors[1], w.shape[0], where);
        y = {w.shape[0], 1, 1};
        break;
      }
      case dcz::Op::kSlice: {
        s.dim = int(a[0]), s.stride = a[3];
        int64_t& size = s.dim == 1 ? y.c : s.dim == 2 ? y.h : y.w;
        std::tie(s.start, size) = slice_range(a[1], a[2], a[3], size);
        if (size == 0) throw std::invalid_argument(where + "leaves nothing");
        break;
      }
      case dcz::Op::kPad:
        std::copy(a.begin(), a.end(), s.pads);
        s.value = n.floats[0];
        y = {x.c + a[4] + a[5], x.h + a[2] + a[3], x.w + a[0] + a[1]};
        break;
    }
    if (y.c > kMaxValueFloats || y.h > kMaxValueFloats || y.w > kMaxValueFloats || y.floats() > kMaxValueFloats)
      throw std::invalid_argument(where + "output too large");
    shapes_[out] = y;
    writer[out] = int64_t(steps_.size());
    steps_.push_back(std::move(s));
  }
  output_ = g.output;
  if (shapes_[output_].plane() != 1) throw std::invalid_argument("the graph's output is not a vector of logits");
  classes_ = shapes_[output_].c;
  if (!input.class_names.empty() && int64_t(input.class_names.size()) != classes_)
    throw std::invalid_argument("the metadata names " + std::to_string(input.class_names.size()) +
                                " classes, the graph gives " + std::to_string(classes_));
  if (steps_.empty()) throw std::invalid_argument("the graph computes nothing");

  // The trailing steps that can run on columns, when they take one value
  // from the steps before them.
  column_first_ = steps_.size();
  while (column_first_ > 0 && steps_[column_first_ - 1].runs_on_columns() &&
         shapes_[steps_[column_first_ - 1].output].plane() == 1)
    --column_first_;
  std::set<uint32_t> taken;
  for (size_t k = column_first_; k < steps_.size(); ++k)
    for (uint32_t v : steps_[k].inputs)
      if (writer[v] < int64_t(column_first_)) taken.insert(buffer_[v]);
  if (taken.size() == 1 && writer[output_] >= int64_t(column_first_)) {
    column_input_ = *taken.begin();
    column_arena_ = plan_arena(column_first_, steps_.size(), {column_input_}, kMaxColumns);
  } else {
    column_first_ = steps_.size();
  }
  image_arena_ = plan_arena(0, steps_.size(), {0}, 1);
}

// Buffers for steps [first, last), given the values they take from before
// (`inputs`), `per_float` floats per activation float: each placed when
// written, released after its last reader, the output kept to the end.
Network::Arena Network::plan_arena(size_t first, size_t last, const std::vector<uint32_t>& inputs, int64_t per_float) const {
  std::map<uint32_t, size_t> last_read;  // buffer -> step
  for (size_t k = first; k < last; ++k)
    for (uint32_t v : steps_[k].inputs) last_read[buffer_[v]] = k;
  last_read[buffer_[output_]] = last;
  Arena arena;
  arena.offset.assign(shapes_.size(), 0);
  std::map<uint32_t, size_t> placed;
  ArenaPlanner planner;
  const auto floats = [&](uint32_t b) { return size_t(shapes_[b].floats() * per_float) + buffer_slack_; };
  const auto place = [&](uint32_t b) { placed[b] = arena.offset[b] = planner.allocate(floats(b)); };
  for (uint32_t v : inputs) place(buffer_[v]);
  for (size_t k = first; k < last; ++k) {
    const uint32_t b = buffer_[steps_[k].output];
    place(b);
    for (uint32_t v : steps_[k].inputs)
      if (last_read[buffer_[v]] == k && placed.count(buffer_[v])) {
        planner.release(placed[buffer_[v]], floats(buffer_[v]));
        placed.erase(buffer_[v]);
      }
    if (last_read.count(b) == 0) {  // written and never read: a dead branch
      planner.release(placed[b], floats(b));
      placed.erase(b);
    }
  }
  for (size_t v = 0; v < shapes_.size(); ++v) arena.offset[v] = arena.offset[buffer_[v]];
  arena.floats = planner.size();
  return arena;
}

size_t Network::weight_bytes() const {
  size_t n = 0;
  for (const Step& s : steps_)
    n += s.conv.weight.bytes() + s.conv.epilogue.bytes() + s.linear.weight.bytes() + s.linear.epilogue.bytes() +
         s.epilogue.bytes();
  return n;
}

namespace {

// f(c, begin, count) over the elements of every channel's plane of a (c,
// plane) value: with a pool, its threads share each plane's vectors as
// Conv2d::forward shares its outputs, so that each thread touches the rows
// it computed, in its own core's cache.
template <typename F>
void for_plane_parts(ThreadPool* pool, int64_t channels, int64_t plane, F f) {
  if (!pool) {
    for (int64_t c = 0; c < channels; ++c) f(c, c * plane, plane);
    return;
  }
  pool->parallel_for((plane + kVecFloats - 1) / kVecFloats, [&](int64_t v0, int64_t v1) {
    const int64_t q0 = v0 * kVecFloats, q1 = std::min(plane, v1 * kVecFloats);
    for (int64_t c = 0; c < channels; ++c) f(c, c * plane + q0, q1 - q0);
  });
}

}  // namespace

// Steps [first, last) on `memory` laid out by `arena`, each value holding
// `columns` columns (1: one image).
void Network::run_steps(size_t first, size_t last, const Arena& arena, float* memory, int64_t columns,
                        ThreadPool* pool) const {
  for (size_t k = first; k < last; ++k) {
    const Step& s = steps_[k];
    const auto in = [&](size_t i) { return memory + arena.offset[s.inputs[i]]; };
    float* y = memory + arena.offset[s.output];
    const Shape x = shapes_[s.inputs[0]], out = shapes_[s.output];
    const int64_t n = out.floats() * columns;
    // Elementwise steps: f(c, begin, count) on each channel's part.
    const auto planes = [&](auto f) { for_plane_parts(pool, out.c, n / out.c, f); };
    switch (s.op) {
      case dcz::Op::kConv2d: s.conv.forward(in(0), y, pool); break;
      case dcz::Op::kBatchNorm:
        planes([&](int64_t c, int64_t b, int64_t m) { s.epilogue.apply(in(0) + b, m, c, y + b); });
        break;
      case dcz::Op::kRelu:
      case dcz::Op::kClamp:
        planes([&](int64_t, int64_t b, int64_t m) { clamp(in(0) + b, m, s.epilogue.lo, s.epilogue.hi, y + b); });
        break;
      case dcz::Op::kLeakyRelu:
        planes([&](int64_t, int64_t b, int64_t m) { leaky_relu(in(0) + b, m, s.slope, y + b); });
        break;
      case dcz::Op::kSigmoid: planes([&](int64_t, int64_t b, int64_t m) { sigmoid(in(0) + b, m, y + b); }); break;
      case dcz::Op::kHardSwish:
        planes([&](int64_t, int64_t b, int64_t m) { hardswish(in(0) + b, m, y + b); });
        break;
      case dcz::Op::kAdd:
        planes([&](int64_t, int64_t b, int64_t m) {
          add(in(0) + b, in(1) + b, m, s.alpha, s.epilogue.lo, s.epilogue.hi, y + b);
        });
        break;
      case dcz::Op::kMul:
        if (s.channel_vector) mul_channels(in(0), in(1), x.c, x.plane(), y);
        else mul(in(0), in(1), n, y);
        break;
      case dcz::Op::kConcat:
        for (size_t i = 0; i < s.inputs.size(); ++i) {
          const int64_t m = shapes_[s.inputs[i]].floats();
          std::copy(in(i), in(i) + m, y);
          y += m;
        }
        break;
      case dcz::Op::kMaxPool2d: max_pool2d(in(0), x, s.wh, s.ww, y); break;
      case dcz::Op::kAvgPool2d: avg_pool2d(in(0), x, s.wh, s.ww, s.count_include_pad, y); break;
      case dcz::Op::kGlobalAvgPool: global_avg_pool(in(0), x, y); break;
      case dcz::Op::kLinear:
        if (columns == 1) s.linear.forward(in(0), y);
        else s.linear.forward_columns(in(0), columns, y);
        break;
      case dcz::Op::kSlice: slice(in(0), x, s.dim, s.start, s.stride, out, y); break;
      case dcz::Op::kPad: pad(in(0), x, s.pads, s.value, y); break;
      case dcz::Op::kFlatten: break;  // never a step: an alias
    }
  }
}

void Network::forward_batch(const float* images, int64_t image_floats, int64_t batch, float* logits,
                            ThreadPool* pool) const {
  if (!pool || pool->threads() == 1 || batch < pool->threads()) return forward_images(images, image_floats, batch, logits, pool);
  pool->parallel_for(batch, [&](int64_t first, int64_t last) {
    forward_images(images + first * image_floats, image_floats, last - first, logits + first * classes_, nullptr);
  });
}

void Network::forward_images(const float* images, int64_t image_floats, int64_t batch, float* logits,
                             ThreadPool* pool) const {
  thread_local std::vector<float> memory, columns;  // reused across calls on this thread
  memory.resize(image_arena_.floats);
  const auto run_image = [&](int64_t b, size_t last) {
    std::copy(images + b * image_floats, images + (b + 1) * image_floats, memory.data() + image_arena_.offset[0]);
    run_steps(0, last, image_arena_, memory.data(), 1, pool);
  };
  if (column_first_ == steps_.size() || batch < kVecFloats) {
    for (int64_t b = 0; b < batch; ++b) {
      run_image(b, steps_.size());
      const float* y = memory.data() + image_arena_.offset[output_];
      std::copy(y, y + classes_, logits + b * classes_);
    }
    return;
  }
  columns.resize(column_arena_.floats);
  const int64_t features = shapes_[column_input_].floats();
  for (int64_t first = 0; first < batch; first += kMaxColumns) {
    const int64_t count = std::min(kMaxColumns, batch - first);
    const int64_t width = (count + kVecFloats - 1) / kVecFloats * kVecFloats;  // the rest: zero columns
    float* x = columns.data() + column_arena_.offset[column_input_];
    for (int64_t j = 0; j < width; ++j) {
      if (j < count) run_image(first + j, column_first_);
      const float* v = memory.data() + image_arena_.offset[column_input_];
      for (int64_t i = 0; i < features; ++i) x[i * width + j] = j < count ? v[i] : 0.0f;
    }
    run_steps(column_first_, steps_.size(), column_arena_, columns.data(), width, pool);
    const float* y = columns.data() + column_arena_.offset[output_];
    for (int64_t j = 0; j < count; ++j)
      for (int64_t c = 0; c < classes_; ++c) logits[(first + j) * classes_ + c] = y[c * width + j];
  }
}

}  // namespace dcomp::runtime
