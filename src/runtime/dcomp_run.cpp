// dcomp-run: classify images, or measure top-1 on a test set, with a
// compressed model file and the LibTorch-free runtime.
//   dcomp-run resnet20.dcz cat.png test_batch.bin
//   dcomp-run resnet20.dcz --eval ../shared/data/cifar-10-batches-bin
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/datasets.h"
#include "runtime/dcomp_runtime.h"
#include "runtime/png_reader.h"

namespace {

using ModelPtr = std::unique_ptr<dcomp_model, decltype(&dcomp_free)>;

struct Images {
  std::string source;
  int64_t count = 0;
  std::vector<uint8_t> pixels;  // (count, C, H, W)
  std::vector<uint8_t> labels;  // empty for PNG files
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A PNG image, a CIFAR-10 batch file (.bin) or an IDX image file (with its
// labels file beside it when there is one).
Images read_input(const std::string& path, const dcomp_model* model) {
  const int c = dcomp_input_channels(model), h = dcomp_input_height(model), w = dcomp_input_width(model);
  Images in{path, 0, {}, {}};
  if (ends_with(path, ".png")) {
    in.pixels = dcomp::runtime::read_png(path, c, h, w);
    in.count = 1;
    return in;
  }
  dcomp::ImageSet set;
  if (ends_with(path, ".bin")) {
    set = dcomp::read_cifar10_file(path, 0);
  } else if (path.find("idx3-ubyte") != std::string::npos) {
    std::string labels = path;
    labels.replace(labels.find("images-idx3"), 11, "labels-idx1");
    set = dcomp::read_idx(path, labels);
  } else {
    throw std::runtime_error(path + ": unknown input type (PNG, CIFAR-10 .bin, or *-images-idx3-ubyte[.gz])");
  }
  if (set.channels != c || set.height != h || set.width != w)
    throw std::runtime_error(path + ": images are " + std::to_string(set.channels) + "x" + std::to_string(set.height) +
                             "x" + std::to_string(set.width) + ", the model takes " + std::to_string(c) + "x" +
                             std::to_string(h) + "x" + std::to_string(w));
  in.count = set.count;
  in.pixels = std::move(set.pixels);
  in.labels = std::move(set.labels);
  return in;
}

// Logits (count, classes) for all images, in batches.
std::vector<float> classify(const dcomp_model* model, const Images& in) {
  const int64_t image = int64_t(dcomp_input_channels(model)) * dcomp_input_height(model) * dcomp_input_width(model);
  const int64_t classes = dcomp_classes(model), batch = 256;
  std::vector<float> input(size_t(batch * image)), logits(size_t(in.count * classes));
  for (int64_t start = 0; start < in.count; start += batch) {
    const int n = int(std::min(batch, in.count - start));
    if (dcomp_normalize(model, in.pixels.data() + start * image, n, input.data()) != DCOMP_OK ||
        dcomp_run(model, input.data(), n, logits.data() + start * classes) != DCOMP_OK)
      throw std::runtime_error(dcomp_last_error());
  }
  return logits;
}

int64_t argmax(const float* v, int64_t n) { return std::max_element(v, v + n) - v; }

void print_predictions(const dcomp_model* model, const Images& in, const std::vector<float>& logits) {
  const int64_t classes = dcomp_classes(model);
  for (int64_t i = 0; i < in.count; ++i) {
    const float* l = logits.data() + i * classes;
    const int64_t best = argmax(l, classes);
    double total = 0;  // softmax, shifted by the largest logit
    for (int64_t k = 0; k < classes; ++k) total += std::exp(double(l[k] - l[best]));
    std::printf("%s", in.source.c_str());
    if (in.count > 1) std::printf("[%lld]", static_cast<long long>(i));
    std::printf(": %lld %s (%.1f%%)", static_cast<long long>(best), dcomp_class_name(model, int(best)), 100 / total);
    if (!in.labels.empty()) std::printf(", label %d", in.labels[size_t(i)]);
    std::printf("\n");
  }
}

double top1(const dcomp_model* model, const Images& in, const std::vector<float>& logits) {
  int64_t correct = 0;
  for (int64_t i = 0; i < in.count; ++i)
    correct += argmax(logits.data() + i * dcomp_classes(model), dcomp_classes(model)) == in.labels[size_t(i)];
  return double(correct) / double(in.count);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dcomp-run: run a compressed model (.dcz) without LibTorch"};
  std::string model_path, eval_dir;
  std::vector<std::string> inputs;
  app.add_option("model", model_path, "Compressed model file (.dcz)")->required();
  app.add_option("inputs", inputs, "PNG images, CIFAR-10 batch files (.bin), IDX image files");
  app.add_option("--eval", eval_dir, "Print top-1 on the test set of the model's dataset in this directory");
  try {
    app.parse(argc, argv);
    dcomp_model* loaded = nullptr;
    if (dcomp_load(model_path.c_str(), &loaded) != DCOMP_OK) throw std::runtime_error(dcomp_last_error());
    const ModelPtr model(loaded, dcomp_free);
    for (const std::string& path : inputs) {
      const Images in = read_input(path, model.get());
      print_predictions(model.get(), in, classify(model.get(), in));
    }
    if (!eval_dir.empty()) {
      const bool cifar = dcomp_input_channels(model.get()) == 3;
      const dcomp::ImageSet set =
          cifar ? dcomp::read_cifar10(eval_dir, dcomp::Split::kTest) : dcomp::read_fashion_mnist(eval_dir, dcomp::Split::kTest);
      const Images in{eval_dir, set.count, set.pixels, set.labels};
      std::printf("top-1 %.2f%% on %lld test images (%s)\n", 100 * top1(model.get(), in, classify(model.get(), in)),
                  static_cast<long long>(set.count), dcomp_architecture(model.get()));
    }
    if (inputs.empty() && eval_dir.empty())
      std::printf("%s: %s, input %dx%dx%d, %d classes, %zu bytes of weights\n", model_path.c_str(),
                  dcomp_architecture(model.get()), dcomp_input_channels(model.get()), dcomp_input_height(model.get()),
                  dcomp_input_width(model.get()), dcomp_classes(model.get()), dcomp_weight_bytes(model.get()));
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "dcomp-run: error: %s (see --help)\n", e.what());
    return e.get_exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dcomp-run: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
