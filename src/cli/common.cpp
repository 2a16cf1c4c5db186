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

CLI::Option* add_dataset_flag(CLI::App* sub, std::string& value) {
  return sub->add_option("--dataset", value,
                         "Built-in dataset definition (fives, isic2018t1, polypgen, atlas, kits23, "
                         "tissuenet, spermhealth, demo)");
}

CLI::Option* add_seed_flag(CLI::App* sub, uint64_t& value) {
  return sub->add_option("--seed", value, "Random seed (the same seed gives the same result)")
      ->capture_default_str();
}

std::vector<Command> register_all(CLI::App& app) {
  return {register_models(app),        register_convert(app),    register_checkpoint_info(app),
          register_demo_data(app),     register_check_data(app), register_data_stats(app),
          register_slice_volumes(app), register_version(app)};
}

}  // namespace svanet::cli
