// dcomp: Deep Compression (Han, Mao and Dally 2015) for PyTorch models.
#include <fmt/core.h>

#include "cli/commands.h"
#include "core/first_line.h"
#include "libtorch/data_parallel.h"

int main(int argc, char** argv) {
  CLI::App app{"dcomp: Deep Compression (pruning, weight sharing, Huffman coding) for PyTorch models"};
  dcomp::cli::set_invocation(argc, argv);
  app.require_subcommand(1);
  app.set_version_flag("--version", "dcomp " DCOMP_VERSION);
  dcomp::cli::add_train_command(app);
  dcomp::cli::add_finetune_command(app);
  dcomp::cli::add_prune_command(app);
  dcomp::cli::add_quantize_command(app);
  dcomp::cli::add_huffman_command(app);
  dcomp::cli::add_eval_command(app);
  dcomp::cli::add_lab_commands(app);
  dcomp::cli::add_lab3_command(app);
  dcomp::cli::add_pipeline_command(app);
  dcomp::cli::add_report_command(app);
  dcomp::cli::add_frontier_command(app);
  dcomp::cli::add_submission_command(app);
  dcomp::cli::add_sensitivity_command(app);
  dcomp::cli::add_data_command(app);
  dcomp::cli::add_pack_commands(app);
  try {
    app.parse(argc, argv);
    dcomp::finish_data_parallel();  // rank 0 may host the store: it leaves last
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "dcomp: error: {} (see --help)\n", dcomp::first_line(e.what()));
    return e.get_exit_code();
  } catch (const std::exception& e) {
    fmt::print(stderr, "dcomp: error: {}\n", dcomp::first_line(e.what()));
    return 1;
  }
  return 0;
}
