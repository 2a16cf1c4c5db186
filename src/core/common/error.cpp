#include "svanet/common/error.h"

namespace svanet::detail {

void throw_error(const char* expression, const char* file, int line, const std::string& message) {
#ifdef NDEBUG
  (void)expression;
  (void)file;
  (void)line;
  throw Error(message);
#else
  std::ostringstream out;
  out << message;
  if (expression != nullptr) {
    out << " [check `" << expression << "` failed at " << file << ':' << line << ']';
  }
  throw Error(out.str());
#endif
}

}  // namespace svanet::detail
