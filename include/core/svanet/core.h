#pragma once
/// @file
/// Everything svanet::core offers, in one include: blocks and models, the
/// registry, PyTorch-file and checkpoint I/O, losses, optimizers and
/// schedules, tensor-level inference and precision. It needs LibTorch and
/// the standard library only.
///
///     #include <svanet/core.h>
///     auto model = svanet::create_model("svanet_r50", svanet::ModelOptions().num_classes(3));

#include "svanet/common/error.h"
#include "svanet/common/log.h"
#include "svanet/common/normalization.h"
#include "svanet/inference/predict.h"
#include "svanet/inference/predictor.h"
#include "svanet/inference/sliding_window.h"
#include "svanet/inference/thresholds.h"
#include "svanet/io/checkpoint.h"
#include "svanet/io/export.h"
#include "svanet/io/pretrained.h"
#include "svanet/io/pytorch_file.h"
#include "svanet/io/state_dict.h"
#include "svanet/losses/loss.h"
#include "svanet/models/activation_checkpointing.h"
#include "svanet/models/aspp.h"
#include "svanet/models/assemble_former.h"
#include "svanet/models/batch_norm.h"
#include "svanet/models/feature_guide_bottleneck.h"
#include "svanet/models/full_res_head.h"
#include "svanet/models/layers.h"
#include "svanet/models/link_decoder.h"
#include "svanet/models/monte_carlo_attention.h"
#include "svanet/models/profile.h"
#include "svanet/models/registry.h"
#include "svanet/models/resnet.h"
#include "svanet/models/scale_variant_attention.h"
#include "svanet/models/segmentation_model.h"
#include "svanet/models/svanet.h"
#include "svanet/models/unet.h"
#include "svanet/official/compat.h"
#include "svanet/official/convert.h"
#include "svanet/optim/optimizer.h"
#include "svanet/optim/schedule.h"
#include "svanet/registry/options.h"
#include "svanet/registry/registry.h"
#include "svanet/runtime/collective.h"
#include "svanet/runtime/determinism.h"
#include "svanet/runtime/precision.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/components.h"
#include "svanet/utils/parallel.h"
#include "svanet/utils/paths.h"
#include "svanet/utils/text.h"
#include "svanet/version.h"
