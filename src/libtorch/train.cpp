#include "libtorch/train.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/atomic_file.h"
#include "core/first_line.h"
#include "libtorch/autocast.h"
#include "libtorch/model_file.h"
#include "libtorch/progress.h"

namespace dcomp {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json to_json(const std::optional<Distillation>& d) {
  if (!d) return nullptr;
  json j = {{"teacher", d->teacher}, {"temperature", d->temperature}, {"weight", d->weight}};
  if (!d->teacher_model.empty()) j["teacher_model"] = d->teacher_model;  // runs before it resume unchanged
  return j;
}

std::optional<Distillation> distillation_from_json(const json& j) {
  if (j.is_null()) return std::nullopt;
  Distillation d;
  for (const auto& [key, value] : j.items()) {
    if (key == "teacher") value.get_to(d.teacher);
    else if (key == "temperature") value.get_to(d.temperature);
    else if (key == "weight") value.get_to(d.weight);
    else if (key == "teacher_model") value.get_to(d.teacher_model);
    else throw std::invalid_argument("unknown distillation setting '" + key + "'");
  }
  return d;
}

}  // namespace

json to_json(const TrainConfig& c) {
  return {{"model", c.model},
          {"epochs", c.epochs},
          {"batch_size", c.batch_size},
          {"schedule", c.schedule.kind},
          {"lr", c.schedule.base_lr},
          {"warmup_epochs", c.schedule.warmup_epochs},
          {"milestones", c.schedule.milestones},
          {"gamma", c.schedule.gamma},
          {"momentum", c.momentum},
          {"nesterov", c.nesterov},
          {"weight_decay", c.weight_decay},
          {"label_smoothing", c.label_smoothing},
          {"cutout", c.cutout},
          {"bf16", c.bf16},
          {"seed", c.seed},
          {"validation_size", c.validation_size},
          {"distillation", to_json(c.distillation)}};
}

TrainConfig train_config_from_json(const json& j) {
  TrainConfig c;
  const json defaults = to_json(c);
  for (const auto& [key, value] : j.items())
    if (!defaults.contains(key)) throw std::invalid_argument("unknown training setting '" + key + "'");
  json merged = defaults;
  merged.update(j);
  merged.at("model").get_to(c.model);
  merged.at("epochs").get_to(c.epochs);
  merged.at("batch_size").get_to(c.batch_size);
  merged.at("schedule").get_to(c.schedule.kind);
  merged.at("lr").get_to(c.schedule.base_lr);
  merged.at("warmup_epochs").get_to(c.schedule.warmup_epochs);
  merged.at("milestones").get_to(c.schedule.milestones);
  merged.at("gamma").get_to(c.schedule.gamma);
  merged.at("momentum").get_to(c.momentum);
  merged.at("nesterov").get_to(c.nesterov);
  merged.at("weight_decay").get_to(c.weight_decay);
  merged.at("label_smoothing").get_to(c.label_smoothing);
  merged.at("cutout").get_to(c.cutout);
  merged.at("bf16").get_to(c.bf16);
  merged.at("seed").get_to(c.seed);
  merged.at("validation_size").get_to(c.validation_size);
  c.distillation = distillation_from_json(merged.at("distillation"));
  return c;
}

json to_json(const EpochRecord& r) {
  return {{"epoch", r.epoch},
          {"lr", r.lr},
          {"train_loss", r.train_loss},
          {"train_top1", r.train_top1},
          {"validation_top1", r.validation_top1},
          {"seconds", r.seconds},
          {"images_per_second", r.images_per_second}};
}

namespace {

EpochRecord epoch_record_from_json(const json& j) {
  EpochRecord r;
  j.at("epoch").get_to(r.epoch);
  j.at("lr").get_to(r.lr);
  j.at("train_loss").get_to(r.train_loss);
  j.at("train_top1").get_to(r.train_top1);
  j.at("validation_top1").get_to(r.validation_top1);
  j.at("seconds").get_to(r.seconds);
  j.at("images_per_second").get_to(r.images_per_second);
  return r;
}

void validate(const TrainConfig& c) {
  validate(c.schedule);
  if (c.epochs < 1) throw std::invalid_argument("epochs must be at least 1");
  if (c.batch_size < 1) throw std::invalid_argument("batch size must be at least 1");
  if (c.momentum < 0 || c.weight_decay < 0) throw std::invalid_argument("momentum and weight decay must be >= 0");
  if (c.label_smoothing < 0 || c.label_smoothing >= 1)
    throw std::invalid_argument("label smoothing must be in [0, 1)");
  if (c.cutout < 0) throw std::invalid_argument("cutout must be >= 0");
  if (const auto& d = c.distillation) {
    if (d->teacher.empty()) throw std::invalid_argument("distillation needs a teacher model file");
    if (!(d->temperature > 0)) throw std::invalid_argument("distillation temperature must be > 0");
    if (!(d->weight >= 0 && d->weight <= 1)) throw std::invalid_argument("distillation weight must be in [0, 1]");
  }
}

// The model must give one row of logits per image, one per class.
void check_logits(const torch::Tensor& logits, int64_t batch, size_t classes) {
  if (logits.dim() != 2 || logits.size(0) != batch || logits.size(1) != int64_t(classes))
    throw std::runtime_error("the model's output has shape " + c10::str(logits.sizes()) + "; the data needs (" +
                             std::to_string(batch) + ", " + std::to_string(classes) + "): one logit per class");
}

void set_learning_rate(torch::optim::SGD& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
}

// The resumable state of a run, written atomically after every epoch.
struct Checkpoint {
  static void save(const std::string& path, Model& model, torch::optim::SGD& optimizer,
                   const torch::Generator& generator, int64_t epoch, double wall_seconds,
                   const TrainConfig& config) {
    torch::serialize::OutputArchive archive, optimizer_archive;
    c10::Dict<std::string, torch::Tensor> weights;
    for (const auto& [name, tensor] : model.state_dict()) weights.insert(name, tensor.detach());
    optimizer.save(optimizer_archive);
    archive.write("model_state", c10::IValue(weights));
    archive.write("optimizer", optimizer_archive);
    archive.write("generator", generator.get_state());
    archive.write("epoch", c10::IValue(epoch));
    archive.write("wall_seconds", c10::IValue(wall_seconds));
    archive.write("config", c10::IValue(to_json(config).dump()));
    const std::string tmp = temporary_path_for(path);
    archive.save_to(tmp);
    commit_temporary(tmp, path);
  }

  // Returns the number of epochs already done.
  static int64_t load(const std::string& path, Model& model, torch::optim::SGD& optimizer,
                      torch::Generator& generator, double& wall_seconds, const TrainConfig& config,
                      const torch::Device& device) {
    torch::serialize::InputArchive archive, optimizer_archive;
    archive.load_from(path, device);
    c10::IValue value;
    archive.read("config", value);
    const json saved = json::parse(value.toStringRef());
    json wanted = to_json(config);
    wanted.erase("epochs");  // a run may be extended
    for (const auto& [key, v] : wanted.items())
      if (saved.value(key, json()) != v)
        throw std::runtime_error(path + ": checkpoint was made with " + key + "=" + saved.value(key, json()).dump() +
                                 ", this run has " + v.dump());
    archive.read("model_state", value);
    StateDict weights;
    for (const auto& entry : value.toGenericDict()) weights.emplace_back(entry.key().toStringRef(), entry.value().toTensor());
    load_state_dict(model, weights);
    archive.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
    torch::Tensor state;
    archive.read("generator", state);
    generator.set_state(state.to(torch::kCPU));
    archive.read("wall_seconds", value);
    wall_seconds = value.toDouble();
    archive.read("epoch", value);
    return value.toInt();
  }
};

std::vector<EpochRecord> read_metrics(const std::string& path, int64_t up_to_epoch) {
  std::vector<EpochRecord> records;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    EpochRecord r = epoch_record_from_json(json::parse(line));
    if (r.epoch <= up_to_epoch) records.push_back(r);
  }
  return records;
}

// The model's state_dict tensors: all of them, or only the buffers (those
// that are not parameters: BatchNorm's running statistics).
std::vector<torch::Tensor> state_tensors(const Model& model, bool with_parameters) {
  std::set<const void*> parameters;
  for (const torch::Tensor& p : model.parameters()) parameters.insert(p.unsafeGetTensorImpl());
  std::vector<torch::Tensor> tensors;
  for (const auto& [name, tensor] : model.state_dict())
    if (with_parameters || !parameters.count(tensor.unsafeGetTensorImpl())) tensors.push_back(tensor);
  return tensors;
}

// A digest of every weight's bytes: ranks that hold bit-identical models
// have equal digests.
std::string weights_digest(const Model& model) {
  std::string digest;
  for (const auto& [name, tensor] : model.state_dict()) {
    const torch::Tensor t = tensor.detach().cpu().contiguous();
    const std::string_view bytes(static_cast<const char*>(t.data_ptr()), t.nbytes());
    digest += fmt::format("{:016x}", std::hash<std::string_view>{}(bytes));
  }
  return digest;
}

void write_metrics(const std::string& path, const std::vector<EpochRecord>& records) {
  std::string text;
  for (const EpochRecord& r : records) text += to_json(r).dump() + "\n";
  write_file_atomic(path, text);
}

}  // namespace

EvalResult evaluate(Model& model, const TensorDataset& data, const DatasetInfo& info,
                    const torch::Device& device, bool bf16, int64_t batch_size) {
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  const int64_t classes = int64_t(info.class_names.size());
  // Per class: images right and images seen, as one tensor for one allreduce.
  auto counts = torch::zeros({2, classes}, torch::kInt64);
  auto correct = counts[0], seen = counts[1];
  DataParallel* group = data_parallel();
  const Shard shard = group ? shard_of(0, data.size(), group->rank(), group->world_size()) : Shard{0, data.size()};
  for (int64_t begin = shard.begin; begin < shard.end; begin += batch_size) {
    const TensorDataset batch = data.slice(begin, std::min(shard.end, begin + batch_size)).to(device);
    torch::Tensor logits;
    {
      Bf16Autocast autocast(bf16 && bf16_usable(device), device);
      logits = model.forward(normalize(batch.images, info));
    }
    check_logits(logits, batch.size(), info.class_names.size());
    auto hit = logits.argmax(1).eq(batch.labels).to(torch::kInt64).cpu();
    auto labels = batch.labels.cpu();
    correct += torch::bincount(labels, hit, classes).to(torch::kInt64);
    seen += torch::bincount(labels, {}, classes);
  }
  model.train(was_training);
  if (group) group->sum(counts, "evaluation");
  EvalResult result;
  result.images = data.size();
  result.top1 = double(correct.sum().item<int64_t>()) / double(std::max<int64_t>(1, result.images));
  for (int64_t c = 0; c < classes; ++c) {
    const int64_t n = seen[c].item<int64_t>();
    result.per_class.push_back(n ? double(correct[c].item<int64_t>()) / double(n) : 0.0);
  }
  return result;
}

std::unique_ptr<torch::optim::SGD> make_optimizer(Model& model, const TrainConfig& config) {
  return std::make_unique<torch::optim::SGD>(model.parameters(), torch::optim::SGDOptions(config.schedule.base_lr)
                                                                     .momentum(config.momentum)
                                                                     .nesterov(config.nesterov)
                                                                     .weight_decay(config.weight_decay));
}

std::unique_ptr<Model> load_teacher(const TrainConfig& config, const DatasetInfo& info, const torch::Device& device) {
  if (!config.distillation) return nullptr;
  const Distillation& d = *config.distillation;
  auto teacher = load_model_for(d.teacher, d.teacher_model.empty() ? config.model : d.teacher_model, info, device);
  teacher->eval();
  return teacher;
}

namespace {

// The forward pass and the loss's backward; the gradients are left in place.
StepOutput forward_and_backward(Model& model, const torch::Tensor& inputs, const torch::Tensor& labels,
                                const DatasetInfo& info, const TrainConfig& config, Model* teacher) {
  StepOutput out;
  torch::Tensor teacher_logits;
  {
    Bf16Autocast autocast(config.bf16 && bf16_usable(inputs.device()), inputs.device());
    out.logits = model.forward(inputs);
    if (config.distillation) {
      torch::NoGradGuard no_grad;
      teacher_logits = teacher->forward(inputs);
    }
  }
  check_logits(out.logits, labels.size(0), info.class_names.size());
  // The loss in fp32 whatever the forward pass ran in.
  const torch::Tensor logits = out.logits.to(torch::kFloat32);
  out.loss = torch::nn::functional::cross_entropy(
      logits, labels, torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(config.label_smoothing));
  if (const auto& d = config.distillation) {
    check_logits(teacher_logits, labels.size(0), info.class_names.size());
    const double t = d->temperature;
    const torch::Tensor soft = torch::nn::functional::kl_div(
        torch::log_softmax(logits / t, 1), torch::softmax(teacher_logits.to(torch::kFloat32) / t, 1),
        torch::nn::functional::KLDivFuncOptions().reduction(torch::kBatchMean));
    out.loss = (1 - d->weight) * out.loss + d->weight * t * t * soft;
  }
  out.loss.backward();
  return out;
}

}  // namespace

StepOutput train_step(Model& model, torch::optim::SGD& optimizer, const torch::Tensor& images,
                      const torch::Tensor& labels, const DatasetInfo& info, torch::Generator& generator,
                      const TrainConfig& config, const TrainHooks& hooks, Model* teacher, const StepShard& shard) {
  if (config.distillation && !teacher) throw std::logic_error("train_step: distillation without a teacher");
  torch::Tensor inputs = normalize(augment(images, info, generator, shard.slice), info);
  if (config.cutout > 0) inputs = cutout(inputs, config.cutout, generator, shard.slice);
  optimizer.zero_grad();
  const int64_t batch = labels.size(0);
  StepOutput out;
  if (batch == 0) {  // this rank's share of a short last batch is empty
    out.loss = torch::zeros({}, inputs.options());
    out.logits = torch::zeros({0, int64_t(info.class_names.size())}, inputs.options());
  } else {
    out = forward_and_backward(model, inputs, labels, info, config, teacher);
  }
  if (shard.group) {
    const int64_t global = shard.slice.global < 0 ? batch : shard.slice.global;
    shard.group->sum_gradients(model.parameters(), double(batch) / double(global));
  }
  if (hooks.after_backward) hooks.after_backward();
  optimizer.step();
  if (hooks.after_step) hooks.after_step();
  return out;
}

std::optional<std::string> bf16_training_fault(Model& model, const DatasetInfo& info, const torch::Device& device) {
  const bool was_training = model.is_training();
  model.train();
  StateDict saved;  // the probe must leave no trace: BN statistics restored below
  for (const auto& [name, tensor] : model.state_dict()) saved.emplace_back(name, tensor.detach().clone());
  std::optional<std::string> fault;
  try {
    const torch::Tensor inputs = torch::randn(
        {2, int64_t(info.mean.size()), info.image_size, info.image_size}, torch::TensorOptions().device(device));
    torch::Tensor logits;
    {
      Bf16Autocast autocast(true, device);
      logits = model.forward(inputs);
    }
    logits.to(torch::kFloat32).sum().backward();
  } catch (const c10::Error& e) {
    fault = first_line(e.msg());
  }
  for (const torch::Tensor& p : model.parameters()) p.mutable_grad() = torch::Tensor();
  load_state_dict(model, saved);
  model.train(was_training);
  return fault;
}

TrainConfig recipe_as_run(TrainConfig config, Model& model, const DatasetInfo& info, const torch::Device& device) {
  if (config.bf16 && !bf16_usable(device)) config.bf16 = false;
  // The built-in networks are known to train in bf16; a user's module may
  // use an op whose bf16 backward LibTorch lacks (1.13: hardtanh, i.e. ReLU6).
  if (config.bf16 && model.architecture() == "torchscript")
    if (const auto fault = bf16_training_fault(model, info, device)) {
      fmt::print(stderr, "note: this model cannot train under bf16 autocast here ({}); training in fp32\n", *fault);
      config.bf16 = false;
    }
  return config;
}

TrainResult train(Model& model, const TrainConfig& requested, const DataSplits& data,
                  const DatasetInfo& info, const torch::Device& device, const RunControl& run,
                  const TrainHooks& hooks) {
  const std::string& run_dir = run.run_dir;
  validate(requested);
  model.to(device);
  const TrainConfig config = recipe_as_run(requested, model, info, device);  // so recorded, in metrics and checkpoint
  DataParallel* group = data_parallel();
  const int world = group ? group->world_size() : 1, rank = group ? group->rank() : 0;
  if (group) group->check_same("training recipe", to_json(config).dump());
  const std::string checkpoint_path = (fs::path(run_dir) / "checkpoint.pt").string();
  const std::string metrics_path = (fs::path(run_dir) / "metrics.jsonl").string();
  if (rank == 0) {
    fs::create_directories(run_dir);
    write_file_atomic((fs::path(run_dir) / "config.json").string(), to_json(config).dump(2) + "\n");
  }

  model.train();
  const std::unique_ptr<Model> teacher = load_teacher(config, info, device);
  auto optimizer_ptr = make_optimizer(model, config);
  torch::optim::SGD& optimizer = *optimizer_ptr;
  torch::Generator generator = at::make_generator<at::CPUGeneratorImpl>(uint64_t(config.seed));
  int64_t first_epoch = 0;
  TrainResult result;
  result.recipe = config;
  if (run.resume) {
    if (!fs::exists(checkpoint_path)) throw std::runtime_error(checkpoint_path + ": no checkpoint to resume from");
    first_epoch = Checkpoint::load(checkpoint_path, model, optimizer, generator, result.wall_seconds, config, device);
    result.epochs = read_metrics(metrics_path, first_epoch);
    if (rank == 0) fmt::print(stderr, "resuming {} after epoch {}\n", run_dir, first_epoch);
  }
  if (group) {
    group->check_same("checkpoint epoch", std::to_string(first_epoch));
    group->broadcast_from_rank0(state_tensors(model, true), "the initial weights");
  }

  const TensorDataset train_set = data.train.to(device);
  const int64_t n = train_set.size();
  const int64_t global_batch = config.batch_size * world;
  const int64_t steps_per_epoch = (n + global_batch - 1) / global_batch;
  const int64_t total_steps = steps_per_epoch * config.epochs;
  if (group && rank == 0)
    fmt::print(stderr, "data-parallel: {} ranks x batch {} = global batch {}, {} steps per epoch\n", world,
               config.batch_size, global_batch, steps_per_epoch);

  const int64_t last_epoch = run.stop_after_epoch > 0 ? std::min(run.stop_after_epoch, config.epochs) : config.epochs;
  for (int64_t epoch = first_epoch; epoch < last_epoch; ++epoch) {
    if (hooks.before_epoch) hooks.before_epoch(epoch);
    const auto start = std::chrono::steady_clock::now();
    std::optional<ProgressBar> bar;
    if (rank == 0) bar.emplace(fmt::format("epoch {}/{}", epoch + 1, config.epochs), steps_per_epoch);
    auto order = torch::randperm(n, generator, torch::kInt64).to(device);
    auto loss_sum = torch::zeros({}, torch::TensorOptions().device(device));
    auto correct = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(device));
    double lr = 0;
    int64_t seen = 0;  // by this rank
    for (int64_t step = 0; step < steps_per_epoch; ++step) {
      // The global batch [first, first + count) of the epoch's order; this rank's share of it.
      const int64_t first = step * global_batch, count = std::min(global_batch, n - first);
      const Shard mine = shard_of(first, count, rank, world);
      auto index = order.slice(0, mine.begin, mine.end);
      auto labels = train_set.labels.index_select(0, index);
      lr = learning_rate(config.schedule, epoch * steps_per_epoch + step, steps_per_epoch, total_steps);
      set_learning_rate(optimizer, lr);
      const StepShard shard{group, BatchSlice{mine.begin - first, count}};
      const StepOutput out = train_step(model, optimizer, train_set.images.index_select(0, index), labels, info,
                                        generator, config, hooks, teacher.get(), shard);
      {
        torch::NoGradGuard no_grad;
        loss_sum += out.loss.detach() * labels.size(0);
        correct += out.logits.argmax(1).eq(labels).sum();
      }
      seen += labels.size(0);
      if (bar && bar->due(step + 1))  // rank 0's share, until the epoch's end
        bar->draw(step + 1, first + count, loss_sum.item<double>() / double(std::max<int64_t>(1, seen)),
                  double(correct.item<int64_t>()) / double(std::max<int64_t>(1, seen)));
    }
    if (group) {
      group->sum(loss_sum, "the epoch's training loss");
      group->sum(correct, "the epoch's training accuracy");
      group->broadcast_from_rank0(state_tensors(model, false), "the BatchNorm statistics");
      group->check_same(fmt::format("weights after epoch {}", epoch + 1), weights_digest(model));
    }
    EpochRecord record;
    record.epoch = epoch + 1;
    record.lr = lr;
    record.train_loss = loss_sum.item<double>() / double(n);
    record.train_top1 = double(correct.item<int64_t>()) / double(n);
    const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    record.images_per_second = double(n) / train_seconds;
    if (data.validation.size() > 0) record.validation_top1 = evaluate(model, data.validation, info, device, config.bf16).top1;
    if (group) group->check_same(fmt::format("validation top-1 after epoch {}", epoch + 1), fmt::format("{:.17g}", record.validation_top1));
    record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.wall_seconds += record.seconds;
    result.epochs.push_back(record);
    if (rank != 0) continue;
    Checkpoint::save(checkpoint_path, model, optimizer, generator, epoch + 1, result.wall_seconds, config);
    write_metrics(metrics_path, result.epochs);
    bar->finish(fmt::format("loss {:.4f} train {:.2f}% val {:.2f}% lr {:.4f} {:.0f} img/s {}", record.train_loss,
                           100 * record.train_top1, 100 * record.validation_top1, record.lr,
                           record.images_per_second, format_duration(record.seconds)));
  }
  return result;
}

}  // namespace dcomp
