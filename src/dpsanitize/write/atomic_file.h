// AtomicFile: writes a file so that its final name only ever shows a whole
// file. The data goes to a temporary file in the destination folder, which is
// flushed (fsync) and renamed into place on Commit(); a failure, a full disk
// or a signal (write/signals.h) never leaves a partial file under the final
// name, and the destructor removes an uncommitted temporary file.
//
//   DPS_ASSIGN_OR_RETURN(auto file, AtomicFile::Create("out.txt"));
//   DPS_RETURN_IF_ERROR(file->Write(data));
//   DPS_RETURN_IF_ERROR(file->Commit());
//
// What the destination is decides how it is written, as with cp(1):
//   - a new name or a regular file: a temporary file and a rename; a replaced
//     file's permission bits (and, for root, its owner and group) carry over;
//   - a symbolic link to a regular file, or a dangling one: the link stays
//     and its target is replaced the same way, with the temporary file in the
//     target's folder;
//   - anything else (a device such as /dev/null or /dev/full, a FIFO, a
//     /dev/stdout that is a pipe): opened with O_WRONLY | O_TRUNC and written
//     in place. There is nothing to rename, so such an output is not atomic;
//     Commit() only flushes. Opening a FIFO waits for its reader.
//
// Temporary files are `.<name>.dpsanitize-tmp-XXXXXX` next to their
// destination; only SIGKILL or a crash leaves one behind.
//
// An output and its ledger are committed together by CommitPair().
#ifndef DPSANITIZE_WRITE_ATOMIC_FILE_H_
#define DPSANITIZE_WRITE_ATOMIC_FILE_H_

#include <sys/types.h>

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

// Where writing to a path goes (see AtomicFile).
struct WriteTarget {
  // The name a rename replaces, with the symbolic links of its last component
  // resolved; the path as given when written in place.
  std::string path;
  bool in_place = false;  // not a regular file: written through open(O_TRUNC)
  bool replaces = false;  // an existing regular file is replaced
  mode_t mode = 0;        // the replaced file's mode, owner and group
  uid_t uid = 0;
  gid_t gid = 0;
};
StatusOr<WriteTarget> ResolveWriteTarget(const std::string& path);

class AtomicFile : public Output {
 public:
  static StatusOr<std::unique_ptr<AtomicFile>> Create(const std::string& path);
  ~AtomicFile() override;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status Write(std::string_view data) override;
  Status Commit() override;
  int fd() const override { return fd_; }
  // The file being written: the temporary file, or the destination itself
  // when it is written in place.
  const std::string& temp_path() const { return temp_path_; }
  // The name Commit() renames onto (the destination when written in place).
  const std::string& target() const { return target_; }
  bool in_place() const { return in_place_; }

 private:
  friend Status CommitPair(AtomicFile* output, AtomicFile* ledger);
  AtomicFile(std::string path, std::string target, std::string temp_path, int fd, bool in_place)
      : path_(std::move(path)),
        target_(std::move(target)),
        temp_path_(std::move(temp_path)),
        fd_(fd),
        in_place_(in_place) {}
  // fsync and close; nothing once done.
  Status Flush();
  void MarkCommitted();

  std::string path_;  // as given, for messages
  std::string target_;
  std::string temp_path_;
  int fd_;
  bool in_place_;
  bool committed_ = false;
};

// Commits `output`, then `ledger` (nullptr: output->Commit() alone), so that
// their names show the old pair or the new pair, never one of each:
//   - a second run writing the same files is kept out by TargetLock
//     (write/target_lock.h), which the caller holds;
//   - before the output is renamed, the previous output is kept as a hard
//     link `.<name>.dpsanitize-old-XXXXXX`; if the ledger's rename then fails,
//     the previous output is renamed back (or the new one removed when there
//     was none) and the error says so; once the ledger is in place, the link
//     is removed;
//   - SIGINT, SIGTERM, SIGHUP and SIGQUIT wait until both renames (or the
//     rollback) are done (write/cleanup.h).
// What is left: two renames are not one atomic step. A SIGKILL, a crash or a
// power loss between them leaves the new output under the old ledger, with
// the previous output in the `.dpsanitize-old-` link and the new ledger whole
// in its `.dpsanitize-tmp-` file; the ledger's recorded output digest then
// differs from the output's, which `dpsanitize ledger verify` reports.
// An output written in place cannot be taken back: the ledger just follows.
Status CommitPair(AtomicFile* output, AtomicFile* ledger);

// Standard output. A closed pipe (EPIPE; SIGPIPE must be ignored) returns
// kBrokenPipe, which the CLI treats as a quiet stop.
class StdoutOutput : public Output {
 public:
  Status Write(std::string_view data) override;
  Status Commit() override { return Status::Ok(); }
  int fd() const override { return 1; }
};

// Writes all of `data` to `fd`, retrying on EINTR. `name` is for errors.
Status WriteAll(int fd, std::string_view data, const std::string& name);

// True when `a` and `b` name the same existing file (same device and inode).
bool SameFile(const std::string& a, const std::string& b);

// True when descriptor `fd` is open on a regular file that `path` names too
// (say, stdin redirected from the output file).
bool SameFileAsDescriptor(int fd, const std::string& path);

}  // namespace dpsanitize

#endif  // DPSANITIZE_WRITE_ATOMIC_FILE_H_
