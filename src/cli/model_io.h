// How commands read models and the data they run on, and write models back:
// built-in state_dicts or the user's TorchScript, told apart by content.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "libtorch/model.h"
#include "libtorch/model_file.h"

namespace dcomp::cli {

// The images `model` runs on: --dataset (with its options) if given, else
// what the model records; recorded into the model, so that what it saves
// says so. Throws if neither names a dataset.
DatasetInfo model_data(Model& model, const CommonOptions& common);

// The same choice for a model known by what it records (a file's, say).
DatasetInfo chosen_data(const std::optional<DatasetInfo>& recorded, const CommonOptions& common);

// `info`'s splits from --data (or the dataset's default place).
DataSplits load_data(const DatasetInfo& info, const CommonOptions& common, int64_t validation_size);

// What a model's files are named after: the built-in name, or the stem of
// the TorchScript file it came from.
std::string model_label(const Model& model, const std::string& path);

// --state-dict: write a state_dict .pt even for a TorchScript model.
void add_state_dict_flag(CLI::App& command, bool& as_state_dict);

// Writes `model` in its own format (TorchScript stays TorchScript), or as a
// state_dict on request; atomically.
void save_model(const Model& model, const std::string& path, bool as_state_dict);

}  // namespace dcomp::cli
