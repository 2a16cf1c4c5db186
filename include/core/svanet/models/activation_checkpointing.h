#pragma once
/// @file
/// Activation checkpointing: a segment of a forward pass that keeps only its
/// inputs and runs again in the backward pass to rebuild what its gradients
/// need, trading a second forward pass of the segment for its activations'
/// memory. The replay is exact: it runs with the random-number state the
/// first pass started from (Monte Carlo pooling, region masks, drop-path and
/// dropout draw the same numbers), under the same autocast settings, and
/// puts back the BatchNorm running statistics the first pass left, so a
/// checkpointed step computes the gradients and statistics of a plain one.

#include <torch/nn/module.h>
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace svanet::models {

/// Which parts of a model recompute their activations in the backward pass
/// (`train.activation_checkpointing`).
enum class ActivationCheckpointing {
  kNone,     ///< keep every activation (fastest, most memory)
  kEncoder,  ///< each encoder stage
  kGuide,    ///< the feature-guide branches: bottlenecks, cross-scale attention, link decoder
  kAll,      ///< the encoder, the guide, the ASPP head and the classifier
};

/// "none", "encoder", "guide" or "all" (case-insensitive); anything else
/// throws svanet::Error listing the choices.
ActivationCheckpointing parse_activation_checkpointing(const std::string& text);
std::string to_string(ActivationCheckpointing mode);

/// A segment of a forward pass: tensors in, tensors out. It is kept until
/// the backward pass replays it, so it must capture by value (modules'
/// `this` pointers are fine: the model outlives its backward pass).
using Segment = std::function<std::vector<torch::Tensor>(const std::vector<torch::Tensor>&)>;

/// `segment(inputs)`, with its activations recomputed in the backward pass
/// instead of kept. `modules` own every parameter and buffer the segment
/// uses (gradients flow to those parameters; the buffers are restored after
/// the replay); null entries are skipped. Without gradient recording, or
/// when neither the inputs nor the parameters need gradients, this is just
/// `segment(inputs)`.
std::vector<torch::Tensor> checkpointed(const Segment& segment,
                                        const std::vector<torch::Tensor>& inputs,
                                        const std::vector<torch::nn::Module*>& modules);

/// The one-tensor form: `module` applied to `input` through `fn`.
torch::Tensor checkpointed(const std::function<torch::Tensor(const torch::Tensor&)>& fn,
                           const torch::Tensor& input, torch::nn::Module& module);

}  // namespace svanet::models
