// Reading JSON files (configs, stage records, summaries) with errors that
// name the file.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace dcomp {

// Throws std::runtime_error "<path>: cannot open" or "<path>: <parse error>".
nlohmann::json read_json_file(const std::string& path);

}  // namespace dcomp
