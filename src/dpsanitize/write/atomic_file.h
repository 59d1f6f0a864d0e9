// AtomicFile: writes a file under a temporary name in the destination folder
// and renames it into place only on Commit(), after flushing and fsync. A
// failure, a full disk or a crash therefore never leaves a partial file under
// the final name; the destructor removes an uncommitted temporary file.
//
//   DPS_ASSIGN_OR_RETURN(auto file, AtomicFile::Create("out.txt"));
//   DPS_RETURN_IF_ERROR(file->Write(data));
//   DPS_RETURN_IF_ERROR(file->Commit());
#ifndef DPSANITIZE_WRITE_ATOMIC_FILE_H_
#define DPSANITIZE_WRITE_ATOMIC_FILE_H_

#include <memory>
#include <string>
#include <string_view>

#include "dpsanitize/core/status.h"

namespace dpsanitize {

class Output {
 public:
  virtual ~Output() = default;
  virtual Status Write(std::string_view data) = 0;
  virtual Status Commit() = 0;
  virtual int fd() const = 0;
};

class AtomicFile : public Output {
 public:
  static StatusOr<std::unique_ptr<AtomicFile>> Create(const std::string& path);
  ~AtomicFile() override;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status Write(std::string_view data) override;
  Status Commit() override;
  int fd() const override { return fd_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  AtomicFile(std::string path, std::string temp_path, int fd)
      : path_(std::move(path)), temp_path_(std::move(temp_path)), fd_(fd) {}
  std::string path_;
  std::string temp_path_;
  int fd_;
  bool committed_ = false;
};

// Standard output. A closed pipe (EPIPE; SIGPIPE must be ignored) returns
// kBrokenPipe, which the CLI treats as a quiet, successful stop.
class StdoutOutput : public Output {
 public:
  Status Write(std::string_view data) override;
  Status Commit() override { return Status::Ok(); }
  int fd() const override { return 1; }
};

// Writes all of `data` to `fd`, retrying on EINTR. `name` is for errors.
Status WriteAll(int fd, std::string_view data, const std::string& name);

// Removes every live AtomicFile's temporary file. Async-signal-safe enough
// for a signal handler (unlink only); used on SIGINT/SIGTERM.
void RemoveTemporaryFilesForSignal();

// True when `a` and `b` name the same existing file (same device and inode).
bool SameFile(const std::string& a, const std::string& b);

}  // namespace dpsanitize

#endif  // DPSANITIZE_WRITE_ATOMIC_FILE_H_
