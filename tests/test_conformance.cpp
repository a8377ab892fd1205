// The conformance vectors (tests/conformance/README.md): committed as the
// generator writes them, the valid ones decoded to their .npy files bit for
// bit, the invalid ones refused with their message.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "conformance/vectors.h"
#include "core/bit_stream.h"
#include "core/compressed_file.h"
#include "core/npy.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using namespace dcomp;

namespace {

const fs::path kVectors = DCOMP_CONFORMANCE_DIR;

std::string contents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<fs::path> files_under(const fs::path& root) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), root));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<fs::path> dcz_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".dcz") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

// Regenerating changes nothing: the committed vectors are the generator's,
// and an encoder change that alters the bytes shows here.
TEST(Conformance, CommittedVectorsAreTheGeneratedOnes) {
  dcomp::testing::TempDir dir;
  conformance::write_all(dir.str());
  std::vector<fs::path> generated = files_under(dir.str()), committed = files_under(kVectors);
  committed.erase(std::remove_if(committed.begin(), committed.end(),
                                 [](const fs::path& p) { return p.extension() == ".cpp" || p.extension() == ".h"; }),
                  committed.end());
  ASSERT_EQ(generated, committed) << "run build/tests/make_conformance_vectors tests/conformance";
  for (const fs::path& f : generated) EXPECT_EQ(contents(fs::path(dir.str()) / f), contents(kVectors / f)) << f;
}

TEST(Conformance, ValidVectorsDecodeToTheirNpyFiles) {
  const std::vector<fs::path> files = dcz_files(kVectors / "valid");
  ASSERT_GE(files.size(), 12u);
  dcomp::testing::TempDir dir;
  for (const fs::path& file : files) {
    const dcz::Model model = dcz::read(file.string());
    const fs::path expected = file.parent_path() / file.stem();
    size_t npy_files = 0;
    for (const auto& e : fs::directory_iterator(expected)) npy_files += e.path().extension() == ".npy";
    EXPECT_EQ(npy_files, model.tensors.size()) << file;
    for (const dcz::Tensor& t : model.tensors) {
      const conformance::Tensor v = conformance::values_of(t);
      const std::string ours = dir.file("t.npy");
      if (v.is_integer) npy::save(ours, v.integers, v.shape);
      else npy::save(ours, v.floats, v.shape);
      EXPECT_EQ(contents(ours), contents(expected / (t.name + ".npy"))) << file << " " << t.name;
    }
  }
}

TEST(Conformance, InvalidVectorsAreRefusedWithTheirMessage) {
  const std::vector<fs::path> files = dcz_files(kVectors / "invalid");
  ASSERT_GE(files.size(), 12u);
  for (const fs::path& file : files) {
    std::string error = contents(fs::path(file).replace_extension(".error"));
    ASSERT_FALSE(error.empty()) << file;
    error.pop_back();  // the newline
    const std::string bytes = contents(file);
    try {
      dcz::decode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ADD_FAILURE() << file << " decodes";
    } catch (const FormatError& e) {
      EXPECT_EQ(e.what(), error) << file;
    }
  }
}
