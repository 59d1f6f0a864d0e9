// Temporary folders and files for unit tests.
#ifndef DPSANITIZE_TESTS_UNIT_TEST_UTIL_H_
#define DPSANITIZE_TESTS_UNIT_TEST_UTIL_H_

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace dpsanitize::testing {

class TempDir {
 public:
  TempDir() {
    std::string templ = "/tmp/dpsanitize-test.XXXXXX";
    path_ = ::mkdtemp(templ.data());
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace dpsanitize::testing

#endif  // DPSANITIZE_TESTS_UNIT_TEST_UTIL_H_
