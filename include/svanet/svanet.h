#pragma once
/// @file
/// Everything svanet offers, in one include: svanet::core (svanet/core.h)
/// and the pipeline on top of it: datasets, augmentation and loading,
/// configs, the trainer, metrics and evaluation.
///
/// Opt-in: svanet/data/opencv.h (cv::Mat in and out; needs OpenCV's headers).
/// Opt-in: svanet/data/convert_writer.h (writing a dataset converter; needs OpenCV's headers).

#include "svanet/core.h"

#include "svanet/config/data_config.h"
#include "svanet/config/model_config.h"
#include "svanet/config/train_config.h"
#include "svanet/data/augment.h"
#include "svanet/data/check.h"
#include "svanet/data/convert.h"
#include "svanet/data/dataset.h"
#include "svanet/data/demo.h"
#include "svanet/data/image_io.h"
#include "svanet/data/loader.h"
#include "svanet/data/splits.h"
#include "svanet/data/stats.h"
#include "svanet/data/volumes.h"
#include "svanet/engine/calibrate.h"
#include "svanet/engine/distributed.h"
#include "svanet/engine/evaluate.h"
#include "svanet/engine/inference.h"
#include "svanet/engine/predict.h"
#include "svanet/engine/trainer.h"
#include "svanet/evaluation/compare.h"
#include "svanet/evaluation/report.h"
#include "svanet/evaluation/study.h"
#include "svanet/evaluation/summary.h"
#include "svanet/metrics/case.h"
#include "svanet/metrics/counts.h"
#include "svanet/metrics/evaluator.h"
#include "svanet/metrics/objects.h"
#include "svanet/metrics/reduce.h"
#include "svanet/metrics/registry.h"
#include "svanet/metrics/surface.h"
