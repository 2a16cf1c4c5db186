#pragma once
// Writing small NIfTI volumes in tests (full library only: needs niftilib).

#include <gtest/gtest.h>
#include <nifti2_io.h>

#include <cstdint>
#include <filesystem>
#include <functional>

namespace svanet::test {

/// Writes a 3D volume (nx, ny, nz) whose voxel (i, j, k) is value(i, j, k),
/// int16 or float32; `configure` may set header fields (spacing, affine)
/// before it is written.
inline void write_volume(const std::filesystem::path& path, int64_t nx, int64_t ny, int64_t nz,
                         int datatype,
                         const std::function<double(int64_t, int64_t, int64_t)>& value,
                         const std::function<void(nifti_image&)>& configure = {}) {
  std::filesystem::create_directories(path.parent_path());
  const int64_t dims[8] = {3, nx, ny, nz, 1, 1, 1, 1};
  nifti_image* nim = nifti_make_new_nim(dims, datatype, 1);
  ASSERT_NE(nim, nullptr);
  for (int64_t k = 0; k < nz; ++k) {
    for (int64_t j = 0; j < ny; ++j) {
      for (int64_t i = 0; i < nx; ++i) {
        const int64_t at = i + nx * (j + ny * k);
        if (datatype == DT_INT16) {
          static_cast<int16_t*>(nim->data)[at] = static_cast<int16_t>(value(i, j, k));
        } else {
          static_cast<float*>(nim->data)[at] = static_cast<float>(value(i, j, k));
        }
      }
    }
  }
  if (configure) configure(*nim);
  ASSERT_EQ(nifti_set_filenames(nim, path.c_str(), 0, 1), 0);
  nifti_image_write(nim);
  nifti_image_free(nim);
}

}  // namespace svanet::test
