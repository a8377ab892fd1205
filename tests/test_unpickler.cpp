#include <gtest/gtest.h>

#include <random>

#include "libtorch/unpickler.h"

using dcomp::pickle::PickleError;
using dcomp::pickle::unpickle;
using dcomp::pickle::Value;

// A byte string from a literal that may hold NULs.
#define BYTES(literal) std::string(literal, sizeof(literal) - 1)

namespace {

dcomp::pickle::ValueRef run(const std::string& program) {
  return unpickle(reinterpret_cast<const uint8_t*>(program.data()), program.size());
}

}  // namespace

TEST(Unpickler, ReadsADictOfScalars) {
  // pickle.dumps({'a': 1, 'b': 'x'}, protocol=2)
  const std::string program = BYTES("\x80\x02}q\x00(X\x01\x00\x00\x00" "a" "q\x01K\x01X\x01\x00\x00\x00" "b"
                                     "q\x02X\x01\x00\x00\x00" "x" "q\x03u.");
  const auto root = run(program);
  ASSERT_EQ(root->kind, Value::Kind::kDict);
  ASSERT_EQ(root->items.size(), 4u);
  EXPECT_EQ(root->items[0]->text, "a");
  EXPECT_EQ(root->items[1]->integer, 1);
  EXPECT_EQ(root->items[3]->text, "x");
}

TEST(Unpickler, RefusesArbitraryCallables) {
  // cos.system\n('echo hi',) R .
  const std::string program = BYTES("\x80\x02" "cos\nsystem\nX\x07\x00\x00\x00" "echo hi" "\x85R.");
  EXPECT_THROW(run(program), PickleError);
}

TEST(Unpickler, RejectsMalformedPrograms) {
  EXPECT_THROW(run(""), PickleError);                                    // empty
  EXPECT_THROW(run("\x80\x02}"), PickleError);                           // no STOP
  EXPECT_THROW(run(BYTES("\x80\x02X\xff\xff\xff\x7f")), PickleError);  // string longer than data
  EXPECT_THROW(run("\x80\x02h\x05."), PickleError);                      // missing memo entry
  EXPECT_THROW(run("\x80\x02u."), PickleError);                          // SETITEMS without mark
  EXPECT_THROW(run("\x80\x02}}."), PickleError);                         // two objects left
  EXPECT_THROW(run("\x80\x02\xff."), PickleError);                       // unknown opcode
}

// Whatever the bytes, the reader returns or throws PickleError: it never
// crashes or hangs.
TEST(Unpickler, SurvivesRandomBytes) {
  std::mt19937 rng(42);
  const std::string alphabet = BYTES("\x80\x02}])(XqhJKMtus.\x85\x86\x87NRQcb\x94\x95\x8c");
  for (int trial = 0; trial < 20000; ++trial) {
    std::string program;
    const int n = int(rng() % 40);
    for (int i = 0; i < n; ++i)
      program += rng() % 4 ? alphabet[rng() % alphabet.size()] : char(rng() % 256);
    try {
      run(program);
    } catch (const PickleError&) {
    }
  }
}
