#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "libtorch/coding_report.h"
#include "libtorch/prune.h"
#include "python_reference.h"
#include "temp_dir.h"

using namespace dcomp;
using dcomp::testing::TempDir;

namespace {

// One 2-bit layer of 10 weights: 2 pruned, indices 0 x5, 1 x2, 2 x1, 3 never.
SharedLayer small_layer() {
  SharedLayer l{"fc.weight", 2, {-0.5f, 0.1f, 0.2f, 0.9f}, torch::tensor({0, 0, -1, 0, 1, 0, -1, 2, 1, 0})};
  l.index = l.index.view({2, 5});
  return l;
}

}  // namespace

TEST(CodingReport, CountsAndBitsOfASmallLayer) {
  const CodingReport r = huffman_report({small_layer()});
  const LayerCoding& c = r.layers.at(0);
  EXPECT_EQ(c.weights, 10);
  EXPECT_EQ(c.nonzeros, 8);
  EXPECT_EQ(c.frequencies, (std::vector<uint64_t>{5, 2, 1, 0}));
  // Huffman over {5, 2, 1}: lengths 1, 2, 2 -> 5 + 4 + 2 = 11 bits.
  EXPECT_EQ(c.code_lengths, (std::vector<uint8_t>{1, 2, 2, 0}));
  EXPECT_DOUBLE_EQ(c.average_bits, 11.0 / 8);
  const double h = -(5 / 8. * std::log2(5 / 8.) + 2 / 8. * std::log2(2 / 8.) + 1 / 8. * std::log2(1 / 8.));
  EXPECT_NEAR(c.entropy_bits, h, 1e-12);
  // (nonzero/total) * (bits/32) * (huffman/bits) = (8/10) * (11/8) / 32.
  EXPECT_NEAR(r.formula_factor, 1.0 / (0.8 * (11.0 / 8) / 32), 1e-9);
}

TEST(CodingReport, ArtifactsLoadInNumpyWithoutPickle) {
  TempDir dir;
  SharedLayer wide{"conv.weight", 3, {0, 1, 2, 3, 4, 5, 6, 7}, torch::tensor({7, 7, 7, 3, -1, 0})};
  const std::vector<SharedLayer> layers = {wide, small_layer()};
  write_coding_artifacts(dir.str(), "net", layers, huffman_report(layers));
  const std::string script = dir.file("check.py");
  FILE* f = std::fopen(script.c_str(), "w");
  std::fputs(
      "import numpy as np, sys, json, math; d = sys.argv[1]\n"
      "c = np.load(d + '/codebook_net.npy', allow_pickle=False)\n"
      "e = np.load(d + '/huffman_encoding.npy', allow_pickle=False)\n"
      "q = np.load(d + '/huffman_freq.npy', allow_pickle=False)\n"
      "assert c.shape == e.shape == q.shape == (2, 8), (c.shape, e.shape, q.shape)\n"
      "assert c.dtype == np.float32 and q.dtype == np.int64 and e.dtype.kind == 'U'\n"
      "assert q[0].tolist() == [1, 0, 0, 1, 0, 0, 0, 3] and q[1].tolist() == [5, 2, 1, 0, 0, 0, 0, 0]\n"
      "assert math.isnan(c[0, 1]) and c[0, 7] == 7 and math.isnan(c[1, 3]) and math.isnan(c[1, 4])\n"
      "assert e[1].tolist() == ['0', '10', '11', '', '', '', '', ''], e[1]\n"
      "codes = [x for x in e[0] if x]\n"
      "assert not any(a != b and b.startswith(a) for a in codes for b in codes), codes\n"
      "assert [l['name'] for l in json.load(open(d + '/huffman_layers.json'))['layers']] == ['conv.weight', 'fc.weight']\n",
      f);
  std::fclose(f);
  EXPECT_EQ(std::system((std::string(DCOMP_TEST_PYTHON) + " " + script + " " + dir.str()).c_str()), 0);
}
