// dcomp-run: classify images, or measure top-1 on a test set, with a
// compressed model file and the LibTorch-free runtime.
//   dcomp-run resnet20.dcz cat.png dog.jpg test_batch.bin
//   dcomp-run resnet20.dcz --eval ../shared/data/cifar-10-batches-bin
//   dcomp-run flowers.dcz --eval flowers/      (ImageFolder: flowers/test, else flowers/val)
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <filesystem>

#include "core/datasets.h"
#include "core/image_decode.h"
#include "core/image_folder.h"
#include "runtime/dcomp_runtime.h"

namespace {

using ModelPtr = std::unique_ptr<dcomp_model, decltype(&dcomp_free)>;

struct Images {
  std::string source;
  int64_t count = 0;
  std::vector<uint8_t> pixels;  // (count, C, H, W)
  std::vector<uint8_t> labels;  // empty for single images
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> class_names(const dcomp_model* model) {
  std::vector<std::string> names;
  for (int i = 0; i < dcomp_classes(model); ++i) names.push_back(dcomp_class_name(model, i));
  return names;
}

// A PNG or JPEG image, resized and centre-cropped to the model's input as
// image folders are in training, as (C, H, W) planes.
std::vector<uint8_t> read_image(const std::string& path, int c, int h, int w) {
  dcomp::Image image = dcomp::decode_image(path, c);
  if (image.height != h || image.width != w) {
    if (h != w) throw std::runtime_error(path + ": the model takes " + std::to_string(h) + "x" + std::to_string(w) + " images; give one of that size");
    image = dcomp::resize_and_center_crop(image, h);
  }
  return dcomp::planes(image);
}

// A PNG or JPEG image, a CIFAR-10 batch file (.bin) or an IDX image file
// (with its labels file beside it when there is one).
Images read_input(const std::string& path, const dcomp_model* model) {
  const int c = dcomp_input_channels(model), h = dcomp_input_height(model), w = dcomp_input_width(model);
  Images in{path, 0, {}, {}};
  if (ends_with(path, ".png") || ends_with(path, ".jpg") || ends_with(path, ".jpeg")) {
    in.pixels = read_image(path, c, h, w);
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
    throw std::runtime_error(path + ": unknown input type (PNG, JPEG, CIFAR-10 .bin, or *-images-idx3-ubyte[.gz])");
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

// The labelled images --eval measures: an image folder's test split
// (DIR/test, else DIR/val) with the model's classes, else the test set of
// CIFAR-10 (3 channels) or Fashion-MNIST.
dcomp::ImageSet eval_set(const std::string& dir, const dcomp_model* model) {
  namespace fs = std::filesystem;
  const int c = dcomp_input_channels(model);
  for (const char* split : {"test", "val"})
    if (fs::is_directory(fs::path(dir) / split)) {
      if (dcomp_input_height(model) != dcomp_input_width(model)) throw std::runtime_error("an image folder needs a square input");
      return dcomp::read_image_folder((fs::path(dir) / split).string(), class_names(model), dcomp_input_height(model), c);
    }
  return c == 3 ? dcomp::read_cifar10(dir, dcomp::Split::kTest) : dcomp::read_fashion_mnist(dir, dcomp::Split::kTest);
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
  int threads = 0;
  app.add_option("model", model_path, "Compressed model file (.dcz)")->required();
  app.add_option("inputs", inputs, "PNG and JPEG images, CIFAR-10 batch files (.bin), IDX image files");
  app.add_option("--eval", eval_dir,
                 "Print top-1 on the test set in this directory: CIFAR-10's, Fashion-MNIST's, or an image folder's "
                 "(DIR/test, else DIR/val)");
  app.add_option("--threads", threads, "Threads to run on (0: all the cores)")->check(CLI::Range(0, 256))->capture_default_str();
  try {
    app.parse(argc, argv);
    dcomp_model* loaded = nullptr;
    if (dcomp_load(model_path.c_str(), &loaded) != DCOMP_OK) throw std::runtime_error(dcomp_last_error());
    const ModelPtr model(loaded, dcomp_free);
    if (dcomp_set_threads(model.get(), threads) != DCOMP_OK) throw std::runtime_error(dcomp_last_error());
    for (const std::string& path : inputs) {
      const Images in = read_input(path, model.get());
      print_predictions(model.get(), in, classify(model.get(), in));
    }
    if (!eval_dir.empty()) {
      const dcomp::ImageSet set = eval_set(eval_dir, model.get());
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
