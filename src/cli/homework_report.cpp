#include "cli/homework_report.h"

#include "cli/homework_sections.h"
#include "cli/model_io.h"
#include "libtorch/compressed_model.h"
#include "libtorch/json_file.h"
#include "libtorch/model_file.h"
#include "libtorch/runtime_info.h"
#include "libtorch/train.h"

namespace dcomp::cli {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace homework;

double homework::Lab4::top1(const std::string& model_file, const TensorDataset& split) const {
  return evaluate(*load_model_for(path(model_file), architecture, info, device), split, info, device).top1;
}

Document homework_report(const HomeworkInputs& in) {
  Lab4 lab;
  lab.dir = in.results / "lab4";
  for (const char* f : {"summary.json", "net_before_pruning.pt", "net_after_pruning.pt", "net_after_quantization.pt"})
    if (!fs::exists(lab.dir / f))
      throw std::runtime_error((lab.dir / f).string() + " not found (the Lab 4 pipeline's --results writes it)");
  lab.summary = read_json_file((lab.dir / "summary.json").string());
  lab.architecture = lab.summary["config"]["model"];
  if (!fs::exists(lab.file())) throw std::runtime_error(lab.file().string() + " not found");
  lab.compressed = dcz::read(lab.file().string());
  lab.info = chosen_data(file_data(lab.compressed), in.common);
  lab.data_dir = resolve_data_dir(lab.info, in.common.data_dir);
  lab.data = load_data(lab.info, in.common, lab.summary["config"].value(json::json_pointer("/retraining/validation_size"), 5000));
  lab.device = resolve_device(in.common.device);

  Document d;
  d.title = "Deep Compression of " + lab.summary["model"].get<std::string>() + ": the homework's report";
  d.blocks.push_back(text("", fmt::format(
      "Made by `dcomp submission --results {}` (dcomp at commit `{}`). Every figure is read from the committed "
      "results or measured by that command on the committed Lab 4 models (`{}`); each section names the command "
      "that made its results.\n\nLab 4 in one line: test top-1 {} -> {} at {:.1f}x by the size of one compressed "
      "file that holds everything needed to run the model, {:.1f}x by the seed's formula (nonzero/total x bits/32 x "
      "Huffman length/bits).",
      in.results.string(), git_commit(), lab.dir.string(), pct(lab.summary["baseline_top1"]),
      pct(lab.summary["final_top1"]), lab.summary["compression_file"].get<double>(),
      lab.summary["compression_formula"].get<double>())));
  problem_1_1_and_1_2(lab, d.blocks);
  problem_1_3(lab, in, d.blocks);
  problem_1_4(d.blocks);
  problem_1_5(lab, d.blocks);
  lab_1(in.results, d.blocks);
  lab_2(in.results, d.blocks);
  lab_3(in.results, d.blocks);
  lab_4(lab, in.results, d.blocks);
  std::string contents = "Contents:\n";
  for (const Block& b : d.blocks)
    if (!b.heading.empty()) contents += "\n- " + b.heading;
  d.blocks.insert(d.blocks.begin() + 1, text("", contents));
  return d;
}

}  // namespace dcomp::cli
