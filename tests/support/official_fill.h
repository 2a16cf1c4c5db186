#pragma once
// PARITY.md's deterministic weight fill for official state-dict keys.

#include <torch/torch.h>

#include <string>
#include <vector>

namespace svanet::test {

/// The tensor PARITY.md's rule gives the official key `key`.
torch::Tensor official_fill(const std::string& key, const std::vector<int64_t>& shape,
                            const std::string& dtype);

}  // namespace svanet::test
