// Errors are reported on one line: the first line of a library's message
// (LibTorch's and gloo's carry backtraces and source excerpts after it).
#pragma once

#include <string>

namespace dcomp {

inline std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace dcomp
