#include "libtorch/seed_artifacts.h"

#include <zip.h>

#include <filesystem>
#include <memory>
#include <stdexcept>

#include "core/atomic_file.h"
#include "libtorch/coding_report.h"
#include "libtorch/weight_sharing.h"

namespace dcomp {

namespace fs = std::filesystem;

std::vector<std::string> write_seed_artifacts(const std::string& dir, const std::string& architecture,
                                              const StateDict& before_pruning, const StateDict& after_pruning,
                                              Model& quantized) {
  fs::create_directories(dir);
  const fs::path d(dir);
  std::vector<std::string> files = {(d / "net_before_pruning.pt").string(), (d / "net_after_pruning.pt").string(),
                                    (d / "net_after_quantization.pt").string()};
  save_state_dict(before_pruning, files[0]);
  save_state_dict(after_pruning, files[1]);
  save_state_dict(quantized.state_dict(), files[2]);
  const std::vector<SharedLayer> layers = shared_layers_from_values(quantized);
  write_coding_artifacts(dir, architecture, layers, huffman_report(layers));
  for (const std::string& name : {"codebook_" + architecture + ".npy", std::string("huffman_encoding.npy"),
                                 std::string("huffman_freq.npy")})
    files.push_back((d / name).string());
  std::vector<ZipEntry> entries;
  for (const std::string& f : files) entries.push_back({f, ""});
  write_zip((d / "lab4_submission.zip").string(), entries);
  return files;
}

void write_zip(const std::string& path, const std::vector<ZipEntry>& entries) {
  const std::string temporary = temporary_path_for(path);
  int error = 0;
  zip_t* archive = zip_open(temporary.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (!archive) {
    zip_error_t e;
    zip_error_init_with_code(&e, error);
    const std::string message = path + ": cannot create zip: " + zip_error_strerror(&e);
    zip_error_fini(&e);
    throw std::runtime_error(message);
  }
  for (const ZipEntry& entry : entries) {
    const std::string name = entry.name.empty() ? fs::path(entry.file).filename().string() : entry.name;
    zip_source_t* source = zip_source_file(archive, entry.file.c_str(), 0, -1);
    if (!source || zip_file_add(archive, name.c_str(), source, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) < 0) {
      if (source) zip_source_free(source);
      const std::string message = path + ": cannot add " + entry.file + ": " + zip_strerror(archive);
      zip_discard(archive);
      throw std::runtime_error(message);
    }
  }
  if (zip_close(archive) < 0) {
    const std::string message = path + ": cannot write zip: " + zip_strerror(archive);
    zip_discard(archive);
    throw std::runtime_error(message);
  }
  commit_temporary(temporary, path);
}

}  // namespace dcomp
