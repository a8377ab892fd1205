// dcomp data download: fetch a dataset in the layout dcomp reads.
#include <fmt/core.h>

#include <memory>
#include <stdexcept>

#include "cli/commands.h"
#ifdef DCOMP_WITH_DOWNLOAD
#include "cli/download.h"
#endif

namespace dcomp::cli {

void add_data_command(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "Dataset utilities");
  data->require_subcommand(1);
  CLI::App* download = data->add_subcommand("download", "Download a dataset over HTTPS and check its MD5");
  auto name = std::make_shared<std::string>();
  auto dest = std::make_shared<std::string>("data");
  download->add_option("dataset", *name, "cifar10")->required();
  download->add_option("--dest", *dest, "Directory to unpack into")->capture_default_str();
  download->callback([name, dest] {
#ifdef DCOMP_WITH_DOWNLOAD
    fetch_and_unpack(find_download(*name), *dest);
    fmt::print("{} unpacked into {}\n", *name, *dest);
#else
    throw std::runtime_error("this dcomp was built without download support (DCOMP_WITH_DOWNLOAD=OFF)");
#endif
  });
}

}  // namespace dcomp::cli
