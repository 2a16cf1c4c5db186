#include "commands.h"

namespace svanet::cli {

CLI::Option* add_num_classes_flag(CLI::App* sub, int64_t& value) {
  return sub->add_option("--num-classes", value, "Number of output classes, background included")
      ->check(CLI::PositiveNumber);
}

CLI::Option* add_image_size_flag(CLI::App* sub, int64_t& value) {
  return sub
      ->add_option("--image-size", value,
                   "Nominal image size: the training resolution (official resize_shape)")
      ->check(CLI::Range(32, 8192));
}

std::vector<Command> register_all(CLI::App& app) {
  return {register_models(app), register_convert(app), register_checkpoint_info(app),
          register_version(app)};
}

}  // namespace svanet::cli
