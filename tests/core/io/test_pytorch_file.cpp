// Reading torch.save files written by real PyTorch (tests/data/pytorch,
// made by make_fixtures.py there), and svanet's own writing of them.

#include "support/test_support.h"

#include "svanet/common/error.h"
#include "svanet/io/pytorch_file.h"

#include <torch/torch.h>

#include <cstdint>
#include <fstream>
#include <iterator>

namespace svanet::test {
namespace {

using io::PyObject;
using Kind = PyObject::Kind;

std::string fixture(const std::string& name) {
  return (data_dir() / "pytorch" / name).string();
}

/// make_fixtures.py's expected_value: arange * 0.5 + crc32(name) % 97.
torch::Tensor expected_value(const std::string& name, std::vector<int64_t> shape,
                             torch::ScalarType dtype) {
  const auto crc = crc32(name);
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return (torch::arange(n, torch::kDouble).reshape(shape) * 0.5 + static_cast<double>(crc % 97))
      .to(dtype);
}

std::map<std::string, torch::Tensor> as_map(const io::StateDict& sd) {
  return {sd.begin(), sd.end()};
}

void expect_tiny_state_dict(const io::StateDict& sd) {
  const std::vector<std::pair<std::string, std::vector<int64_t>>> keys = {
      {"conv.weight", {4, 3, 3, 3}},
      {"conv.bias", {4}},
      {"bn.weight", {4}},
      {"bn.bias", {4}},
      {"bn.running_mean", {4}},
      {"bn.running_var", {4}},
      {"bn.num_batches_tracked", {}},
      {"fc.weight", {2, 4}},
      {"fc.bias", {2}}};
  ASSERT_EQ(sd.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(sd[i].first, keys[i].first);  // the module's order
    const auto dtype = keys[i].first == "bn.num_batches_tracked" ? torch::kLong : torch::kFloat;
    EXPECT_TRUE(torch::equal(sd[i].second, expected_value(keys[i].first, keys[i].second, dtype)))
        << keys[i].first;
  }
}

class PyTorchFormats : public ::testing::TestWithParam<std::string> {};

TEST_P(PyTorchFormats, ReadsEveryDtypeOfAPlainDict) {
  auto sd = as_map(io::read_pytorch_state_dict(fixture(GetParam() + "_plain.pth")));
  ASSERT_EQ(sd.size(), 8u);
  EXPECT_TRUE(torch::equal(sd["float"], expected_value("float", {2, 3}, torch::kFloat)));
  EXPECT_TRUE(torch::equal(sd["double"], expected_value("double", {4}, torch::kDouble)));
  EXPECT_TRUE(torch::equal(sd["half"], expected_value("half", {3}, torch::kHalf)));
  EXPECT_TRUE(torch::equal(sd["long"], expected_value("long", {2, 2}, torch::kLong)));
  EXPECT_TRUE(torch::equal(sd["int"], expected_value("int", {5}, torch::kInt)));
  EXPECT_TRUE(torch::equal(sd["uint8"], expected_value("uint8", {6}, torch::kByte)));
  EXPECT_TRUE(torch::equal(sd["bool"], torch::tensor({true, false, true})));
  EXPECT_EQ(sd["scalar"].dim(), 0);
  EXPECT_TRUE(torch::equal(sd["scalar"], expected_value("scalar", {}, torch::kFloat)));
}

TEST_P(PyTorchFormats, ReadsAnOrderedDictStateDictInOrder) {
  expect_tiny_state_dict(io::read_pytorch_state_dict(fixture(GetParam() + "_ordered.pth")));
}

TEST_P(PyTorchFormats, KeepsViewsOfOneStorage) {
  auto sd = as_map(io::read_pytorch_state_dict(fixture(GetParam() + "_views.pth")));
  const auto base = expected_value("base", {4, 6}, torch::kFloat);
  EXPECT_TRUE(torch::equal(sd["base"], base));
  EXPECT_TRUE(torch::equal(sd["row"], base[2]));
  EXPECT_TRUE(torch::equal(sd["column"], base.select(1, 3)));
  EXPECT_TRUE(torch::equal(sd["transposed"], base.t()));
  EXPECT_FALSE(sd["transposed"].is_contiguous());
  EXPECT_TRUE(sd["row"].storage().is_alias_of(sd["base"].storage()));
}

TEST_P(PyTorchFormats, FindsTheStateDictInsideATrainingCheckpoint) {
  const auto path = fixture(GetParam() + "_wrapped.pth");
  auto root = io::read_pytorch_file(path);
  ASSERT_EQ(root->kind, Kind::kDict);
  EXPECT_EQ(root->find("epoch")->integer, 12);
  EXPECT_DOUBLE_EQ(root->find("best_dice")->number, 0.875);
  EXPECT_EQ(root->find("name")->text, "tiny");
  const PyObject* flags = root->find("flags");
  ASSERT_EQ(flags->kind, Kind::kList);
  ASSERT_EQ(flags->items.size(), 3u);
  EXPECT_TRUE(flags->items[0]->boolean);
  EXPECT_EQ(flags->items[1]->kind, Kind::kNone);
  EXPECT_EQ(flags->items[2]->kind, Kind::kTuple);
  EXPECT_EQ(root->find("optimizer")->find("param_groups")->items[0]->find("lr")->number, 0.001);
  expect_tiny_state_dict(io::read_pytorch_state_dict(path));
}

TEST_P(PyTorchFormats, EveryTruncationFailsCleanly) {
  // Cut the file at many lengths: the reader must throw svanet::Error, never crash.
  std::ifstream in(fixture(GetParam() + "_wrapped.pth"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TempDir dir;
  const auto path = (dir.path() / "cut.pth").string();
  for (size_t n = 1; n < bytes.size(); n += 7) {
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(bytes.data(), static_cast<std::streamsize>(n));
    EXPECT_THROW(io::read_pytorch_file(path), Error) << "cut at " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, PyTorchFormats, ::testing::Values("zip", "legacy"),
                         [](const auto& info) { return info.param; });

TEST(PyTorchFile, StripsTheDataParallelPrefix) {
  expect_tiny_state_dict(io::read_pytorch_state_dict(fixture("zip_module_prefix.pth")));
}

TEST(PyTorchFile, ReadsParameters) {
  auto sd = io::read_pytorch_state_dict(fixture("zip_parameter.pth"));
  ASSERT_EQ(sd.size(), 1u);
  EXPECT_TRUE(torch::equal(sd[0].second, expected_value("weight", {2, 2}, torch::kFloat)));
}

TEST(PyTorchFile, RecordsUnknownObjectsWithoutRunningThem) {
  const auto path = fixture("zip_namespace.pth");
  auto root = io::read_pytorch_file(path);
  const PyObject* args = root->find("args");
  ASSERT_NE(args, nullptr);
  EXPECT_EQ(args->kind, Kind::kObject);
  EXPECT_EQ(args->type_name(), "argparse.Namespace");
  expect_tiny_state_dict(io::read_pytorch_state_dict(path));
}

TEST(PyTorchFile, BadFilesFailWithTheFileNameAndTheProblem) {
  ASSERT_THROWS_WITH(io::read_pytorch_file(fixture("truncated.pth")), "truncated.pth");
  ASSERT_THROWS_WITH(io::read_pytorch_file(fixture("truncated.pth")), "truncated or corrupt");
  ASSERT_THROWS_WITH(io::read_pytorch_file(fixture("legacy_truncated.pth")), "truncated");
  ASSERT_THROWS_WITH(io::read_pytorch_file(fixture("not_pytorch.pth")),
                     "not_pytorch.pth: not a PyTorch file");
  ASSERT_THROWS_WITH(io::read_pytorch_file(fixture("missing.pth")), "missing.pth: no such file");
  ASSERT_THROWS_WITH(io::read_pytorch_state_dict(fixture("no_state_dict.pth")),
                     "no state dict (a mapping of names to tensors) found");
  ASSERT_THROWS_WITH(io::read_pytorch_state_dict(fixture("no_state_dict.pth")), "epoch: int");
}

TEST(PyTorchFile, WritesWhatItReadsWithDataAlignedTo64Bytes) {
  TempDir dir;
  const auto path = (dir.path() / "sd.pth").string();
  io::StateDict sd;
  // Odd sizes, an empty tensor and a scalar: every record starts elsewhere.
  sd.emplace_back("a", torch::arange(7, torch::kFloat));
  sd.emplace_back("empty", torch::zeros({0, 3}));
  sd.emplace_back("scalar", torch::tensor(int64_t{5}));
  sd.emplace_back("half", torch::rand({3, 5}).to(torch::kHalf));
  io::write_pytorch_state_dict(path, sd);
  const auto back = io::read_pytorch_state_dict(path);
  ASSERT_EQ(back.size(), sd.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    EXPECT_EQ(back[i].first, sd[i].first);
    EXPECT_TRUE(torch::equal(back[i].second, sd[i].second)) << sd[i].first;
  }
  // Every local header's data (after its name and extra field) starts at a
  // multiple of 64, as PyTorch's writer places them.
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto le = [&bytes](size_t at, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
    return v;
  };
  int records = 0;
  for (size_t at = bytes.find("PK\x03\x04"); at != std::string::npos;
       at = bytes.find("PK\x03\x04", at + 4)) {
    const uint64_t data = at + 30 + le(at + 26, 2) + le(at + 28, 2);
    EXPECT_EQ(data % 64, 0U) << "record at byte " << at;
    ++records;
  }
  // data.pkl, byteorder, the storages and LibTorch's version record(s).
  EXPECT_GE(records, 3 + 4);
}

}  // namespace
}  // namespace svanet::test
