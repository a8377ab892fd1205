// dcomp submission --results results --out DIR: the homework's three
// deliverables from the committed results: report.html (self-contained)
// and report.pdf (the same page printed by headless Chromium, A4), code.zip
// (the sources of the commit it runs from) and lab4_submission.zip.
#include <fmt/core.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/homework_report.h"
#include "core/process.h"
#include "core/atomic_file.h"
#include "libtorch/seed_artifacts.h"

namespace dcomp::cli {
namespace {

namespace fs = std::filesystem;

struct SubmissionOptions {
  HomeworkInputs inputs;
  std::string out, chromium = "chromium";
};

void print_pdf(const std::string& chromium, const fs::path& html, const fs::path& pdf) {
  const std::string temporary = temporary_path_for(pdf.string());
  const fs::path profile = fs::temp_directory_path() / fmt::format("dcomp_chromium_{}", ::getpid());
  const int status = run_program({chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                                  "--user-data-dir=" + profile.string(), "--print-to-pdf=" + temporary,
                                  "file://" + fs::absolute(html).string()},
                                 180);
  fs::remove_all(profile);
  if (status != 0 || !fs::exists(temporary) || fs::file_size(temporary) == 0) {
    fs::remove(temporary);
    throw std::runtime_error(status == -1 && !fs::exists(temporary)
                                 ? chromium + " did not print " + pdf.string() +
                                       " (not installed, or it ran past 180 s; scripts/setup.sh installs it)"
                                 : chromium + " failed to print " + pdf.string());
  }
  commit_temporary(temporary, pdf.string());
}

// The sources, build files, configs and scripts: `git archive` of HEAD where
// the source tree is a checkout (results and model weights left out), the
// tree's own files otherwise.
void write_code_zip(const fs::path& zip) {
  const fs::path source = DCOMP_SOURCE_DIR;
  const std::string temporary = temporary_path_for(zip.string());
  if (fs::exists(source / ".git")) {
    const int status = run_program({"git", "-C", source.string(), "archive", "--format=zip", "--prefix=dcomp/",
                                    "-o", fs::absolute(temporary).string(), "HEAD", "--", ".", ":(exclude)results",
                                    ":(exclude)models"},
                                   120);
    if (status != 0) {
      fs::remove(temporary);
      throw std::runtime_error("git archive of " + source.string() + " failed (exit " + std::to_string(status) + ")");
    }
    commit_temporary(temporary, zip.string());
    return;
  }
  std::vector<ZipEntry> entries;
  for (const char* top : {"CMakeLists.txt", "README.md", ".ci", "bench", "configs", "docs", "scripts", "src", "tests"}) {
    const fs::path p = source / top;
    if (fs::is_regular_file(p)) entries.push_back({p.string(), std::string("dcomp/") + top});
    if (!fs::is_directory(p)) continue;
    for (const auto& e : fs::recursive_directory_iterator(p))
      if (e.is_regular_file()) entries.push_back({e.path().string(), "dcomp/" + fs::relative(e.path(), source).string()});
  }
  write_zip(zip.string(), entries);
}

void run_submission(const SubmissionOptions& o) {
  apply_threads(o.inputs.common);
  const fs::path out(o.out);
  const fs::path lab4_zip = o.inputs.results / "lab4" / "lab4_submission.zip";
  if (!fs::exists(lab4_zip)) throw std::runtime_error(lab4_zip.string() + " not found (the Lab 4 pipeline writes it)");
  const Document report = homework_report(o.inputs);
  fs::create_directories(out);
  write_file_atomic((out / "report.html").string(), report.html());
  print_pdf(o.chromium, out / "report.html", out / "report.pdf");
  write_code_zip(out / "code.zip");
  const std::string temporary = temporary_path_for((out / "lab4_submission.zip").string());
  fs::copy_file(lab4_zip, temporary, fs::copy_options::overwrite_existing);
  commit_temporary(temporary, (out / "lab4_submission.zip").string());
  for (const char* f : {"report.html", "report.pdf", "code.zip", "lab4_submission.zip"})
    fmt::print("wrote {} ({} bytes)\n", (out / f).string(), fs::file_size(out / f));
}

}  // namespace

void add_submission_command(CLI::App& app) {
  auto o = std::make_shared<SubmissionOptions>();
  CLI::App* cmd = app.add_subcommand(
      "submission", "The homework's deliverables: report.html and report.pdf (every question answered with "
                    "measurements), code.zip and lab4_submission.zip");
  add_common_options(*cmd, o->inputs.common);
  cmd->add_option("--results", o->inputs.results, "The committed results: lab1..lab4, frontier")
      ->check(CLI::ExistingDirectory)->capture_default_str();
  cmd->add_option("--out", o->out, "Where the four files go")->required();
  cmd->add_option("--training-steps", o->inputs.training_steps, "Problem 1.3: training steps per timing")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--training-repetitions", o->inputs.training_repetitions, "Problem 1.3: timings of each kind")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--chromium", o->chromium, "The browser that prints the PDF")->capture_default_str();
  cmd->callback([o] { run_submission(*o); });
}

}  // namespace dcomp::cli
