#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "core/npy.h"
#include "temp_dir.h"

using dcomp::testing::TempDir;

// numpy.load, without allow_pickle, reads back exactly what was written.
TEST(Npy, NumpyLoadsFloatIntAndUnicodeArrays) {
  TempDir dir;
  dcomp::npy::save(dir.file("f.npy"), std::vector<float>{1.5f, -2.0f, NAN, 0.25f, 3.0f, 4.0f}, {2, 3});
  dcomp::npy::save(dir.file("i.npy"), std::vector<int64_t>{7, -1, 1LL << 40}, {3});
  dcomp::npy::save(dir.file("u.npy"), std::vector<std::string>{"0", "10", "", "111"}, {2, 2});
  const std::string check =
      "import numpy as np, sys, math; d = sys.argv[1]\n"
      "f = np.load(d + '/f.npy', allow_pickle=False)\n"
      "assert f.dtype == np.float32 and f.shape == (2, 3), (f.dtype, f.shape)\n"
      "assert f[0, 0] == 1.5 and f[0, 1] == -2 and math.isnan(f[0, 2]) and f[1, 2] == 4\n"
      "i = np.load(d + '/i.npy', allow_pickle=False)\n"
      "assert i.dtype == np.int64 and i.tolist() == [7, -1, 1 << 40], i\n"
      "u = np.load(d + '/u.npy', allow_pickle=False)\n"
      "assert u.dtype == np.dtype('<U3') and u.tolist() == [['0', '10'], ['', '111']], u\n";
  const std::string script = dir.file("check.py");
  FILE* f = std::fopen(script.c_str(), "w");
  std::fputs(check.c_str(), f);
  std::fclose(f);
  EXPECT_EQ(std::system((std::string(DCOMP_TEST_PYTHON) + " " + script + " " + dir.str()).c_str()), 0);
}

TEST(Npy, RejectsShapeMismatch) {
  TempDir dir;
  EXPECT_THROW(dcomp::npy::save(dir.file("x.npy"), std::vector<float>{1, 2, 3}, {2, 2}), std::invalid_argument);
}
