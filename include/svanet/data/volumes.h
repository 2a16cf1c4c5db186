#pragma once
/// @file
/// Turning 3D NIfTI volumes (CT, MRI) and their label volumes into 2D
/// image/mask slices in the official layout, as the official
/// `tools/niftiFileExtractor.py` does for ATLAS and KiTS23, with explicit
/// choices where that script hard-codes them.
///
/// Axes are NIfTI voxel axes: 0 = i (x), 1 = j (y), 2 = k (z). A slice along
/// axis 2 has rows j and columns i; along axis 0, rows j and columns k (the
/// official KiTS23 orientation); along axis 1, rows k and columns i.

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace svanet::data {

/// Which slices of a volume to keep.
enum class SliceSelection {
  kOfficial,    ///< the official extractor's rule for the dataset (see slice_volumes)
  kAll,         ///< every slice
  kForeground,  ///< slices with at least one labelled voxel
  kStride,      ///< every `stride`-th slice and the last one (official ATLAS rule)
  kRandom,      ///< a seeded random `fraction` of the slices within `range` (official KiTS23 rule)
};

/// How voxel intensities become 8-bit pixels.
enum class Intensity {
  kOfficial,    ///< the official rule for the dataset
  kWindow,      ///< linear map of [centre - width/2, centre + width/2] to 0..255
  kSliceMax,    ///< divide each slice by its maximum (official MRI rule)
  kClip,        ///< clip to 0..255 without scaling (official CT rule: a HU window [0, 255])
  kPercentile,  ///< map each volume's 0.5th..99.5th percentile to 0..255
};

/// "official", "window", "slice-max", "clip", "percentile"; anything else
/// throws svanet::Error listing them.
Intensity parse_intensity(const std::string& text);

struct SliceOptions {
  /// Built-in dataset whose official rules apply (`atlas`, `kits23`), or
  /// empty for the generic rules (all slices along axis 2, percentile scaling).
  std::string dataset;
  SliceSelection selection = SliceSelection::kOfficial;
  Intensity intensity = Intensity::kOfficial;
  /// Axis to slice along; -1 = the dataset's official axis (2 otherwise).
  int axis = -1;
  int64_t stride = 4;
  double fraction = 0.02;
  double range_begin = 0.15, range_end = 0.85;
  double window_centre = 40.0, window_width = 400.0;
  /// Cases (patients) held out as test/, chosen with `seed`; slices of one
  /// case never straddle splits.
  double test_fraction = 0.2;
  uint64_t seed = 0;
  /// Image file type: ".png" (lossless) or ".jpg" (what the official extractor writes).
  std::string image_extension = ".png";
  /// Replace an existing `out/<Dataset>/` (otherwise a non-empty one is
  /// refused); a failed run removes what it wrote either way.
  bool overwrite = false;
};

struct SliceSummary {
  std::string folder;
  int64_t cases = 0, train_cases = 0, test_cases = 0;
  int64_t slices = 0;
  int64_t slices_with_foreground = 0;
};

/// Pairs of image and label volumes found under `in`: KiTS layout
/// (`case_*/imaging.nii.gz` + `segmentation.nii.gz`), ATLAS / nnU-Net layout
/// (`imagesTr/` + `labelsTr/`, with `im<N>` matching `lb<N>` or `<case>_0000`
/// matching `<case>`).
struct VolumePair {
  std::string case_id;
  std::string image;
  std::string label;
};
std::vector<VolumePair> find_volume_pairs(const std::string& in);

/// Writes OUT/<Folder>/{train,test,mask}/ (Folder = the dataset's official
/// folder, or "Volumes") with one image and one palette-PNG mask per kept
/// slice, named `<case>_<slice>`. Errors name the volume and the problem.
SliceSummary slice_volumes(const std::string& in, const std::string& out,
                           const SliceOptions& options);

/// Sets the CT window from "CENTRE,WIDTH" (HU), and the intensity rule to
/// window unless another was chosen. Bad text throws svanet::Error.
void parse_window(const std::string& text, SliceOptions& options);

/// The axis slice_volumes (and read_volume_slices) slices along for these
/// options: the explicit one, else the dataset's official one, else 2.
int slice_axis(const SliceOptions& options);

/// Whether a path names a NIfTI file (.nii or .nii.gz).
bool is_nifti_path(const std::string& path);
/// The file name without .nii.gz or .nii.
std::string nifti_stem(const std::string& path);

/// A volume as the 2D images a model trained on slice_volumes' output saw.
struct VolumeSlices {
  /// One per slice along `axis`, (1, H, W) float in [0, 1]: the 8-bit
  /// pixels slice_volumes writes, divided by 255.
  std::vector<torch::Tensor> slices;
  int axis = 2;
  int64_t nx = 0, ny = 0, nz = 0;
};

/// Reads a NIfTI volume and turns every slice along the axis into pixels
/// with the rules `options` gives (the dataset's official axis and
/// intensity rule unless overridden, as slice_volumes). Errors name the file.
VolumeSlices read_volume_slices(const std::string& path, const SliceOptions& options);

/// The slices of a label volume along `axis`, each (H, W) uint8 class indices.
std::vector<torch::Tensor> read_label_slices(const std::string& path, int axis);

/// Writes a label volume whose slices along `axis` are `labels` ((H, W)
/// uint8 each, in the orientation read_volume_slices returns), with the
/// header of the volume `like`: dimensions, voxel sizes, qform and sform
/// affines, units and description; voxels uint8 without scaling. Written
/// atomically; the format (.nii or .nii.gz) follows `path`.
void write_label_volume(const std::string& path, const std::string& like, int axis,
                        const std::vector<torch::Tensor>& labels);

}  // namespace svanet::data
