#include "svanet/utils/parallel.h"

#include <torch/utils.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace svanet::utils {

int default_threads() {
  const int torch_threads = torch::get_num_threads();
  const auto hardware = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  return std::max(1, std::min(torch_threads > 1 ? torch_threads : hardware, 64));
}

void parallel_for(int64_t n, const std::function<void(int64_t)>& fn, int threads) {
  if (n <= 0) return;
  const int count =
      static_cast<int>(std::min<int64_t>(n, threads > 0 ? threads : default_threads()));
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    while (true) {
      const int64_t i = next.fetch_add(1);
      if (i >= n) return;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(n);  // stop handing out work
        return;
      }
    }
  };
  if (count <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    pool.reserve(static_cast<size_t>(count));
    for (int t = 0; t < count; ++t) pool.emplace_back(worker);
    for (auto& thread : pool) thread.join();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace svanet::utils
