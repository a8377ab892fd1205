// The committed configs (configs/): every one parses, names files that are
// committed, and says how its baseline was trained as the baseline's own
// metadata does, so that the README's commands reproduce the committed models.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "libtorch/json_file.h"
#include "libtorch/pipeline.h"
#include "libtorch/train.h"

namespace dcomp {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kSource = DCOMP_SOURCE_DIR;

std::vector<fs::path> committed_configs() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(kSource / "configs"))
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// Pipeline configs say how to share weights; the others are training recipes.
bool is_pipeline(const json& config) { return config.contains("weight_sharing"); }

// The recipe recorded beside a committed model (models/NAME.json for NAME.pt).
json recipe_of(const fs::path& model) {
  return read_json_file((kSource / model).replace_extension(".json").string()).at("recipe");
}

// Keys on which `recipe` (a TrainConfig as JSON) and the `recorded` one
// differ. A key missing from the record is a setting added since, whose
// default leaves training as it was: the record had the default.
std::vector<std::string> differences(const json& recipe, const json& recorded) {
  const json defaults = to_json(TrainConfig{});
  std::vector<std::string> keys;
  for (const auto& [key, value] : recipe.items())
    if (recorded.value(key, defaults.at(key)) != value) keys.push_back(key);
  return keys;
}

TEST(CommittedConfigs, ParseAndNameCommittedFiles) {
  const std::vector<fs::path> files = committed_configs();
  ASSERT_GE(files.size(), 14u);
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    const json j = read_json_file(file.string());
    if (!is_pipeline(j)) {
      EXPECT_NO_THROW(train_config_from_json(j));
      continue;
    }
    PipelineConfig config;
    ASSERT_NO_THROW(config = pipeline_config_from_json(j));
    EXPECT_EQ(to_json(pipeline_config_from_json(to_json(config))), to_json(config));  // as the run keeps it
    EXPECT_TRUE(fs::exists(kSource / config.baseline)) << config.baseline;
    if (!config.pruned.empty()) {
      EXPECT_TRUE(fs::exists(kSource / config.pruned)) << config.pruned;
    }
  }
}

TEST(CommittedConfigs, BaselineRecipesAreTheOnesTheModelsRecord) {
  int checked = 0;
  for (const fs::path& file : committed_configs()) {
    SCOPED_TRACE(file.string());
    const json j = read_json_file(file.string());
    if (is_pipeline(j)) {
      const PipelineConfig config = pipeline_config_from_json(j);
      if (!config.baseline_training) continue;
      json recipe = to_json(*config.baseline_training);
      recipe["model"] = config.model;
      EXPECT_EQ(differences(recipe, recipe_of(config.baseline)), std::vector<std::string>{}) << config.baseline;
      ++checked;
    } else {
      // configs/NAME.json trains models/NAME.pt (see the README's baselines).
      const fs::path model = fs::path("models") / file.filename().replace_extension(".pt");
      ASSERT_TRUE(fs::exists(kSource / model)) << model;
      EXPECT_EQ(differences(to_json(train_config_from_json(j)), recipe_of(model)), std::vector<std::string>{});
      ++checked;
    }
  }
  EXPECT_GE(checked, 6);
}

}  // namespace
}  // namespace dcomp
