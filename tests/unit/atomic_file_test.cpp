#include "dpsanitize/write/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "dpsanitize/write/target_lock.h"
#include "unit/test_util.h"

namespace dpsanitize {
namespace {

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

TEST(AtomicFileTest, CommitRenamesIntoPlace) {
  testing::TempDir dir;
  auto f = AtomicFile::Create(dir.File("out.txt"));
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f.value()->Write("hello ").ok());
  ASSERT_TRUE(f.value()->Write("world").ok());
  EXPECT_EQ(List(dir.path()).size(), 1u);
  EXPECT_NE(List(dir.path())[0], "out.txt");  // only the temporary so far
  ASSERT_TRUE(f.value()->Commit().ok());
  EXPECT_EQ(List(dir.path()), std::vector<std::string>{"out.txt"});
  EXPECT_EQ(testing::ReadFile(dir.File("out.txt")), "hello world");
}

TEST(AtomicFileTest, AbandonedFileLeavesNothingAndKeepsOldContent) {
  testing::TempDir dir;
  testing::WriteFile(dir.File("out.txt"), "old");
  {
    auto f = AtomicFile::Create(dir.File("out.txt"));
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(f.value()->Write("partial").ok());
  }
  EXPECT_EQ(List(dir.path()), std::vector<std::string>{"out.txt"});
  EXPECT_EQ(testing::ReadFile(dir.File("out.txt")), "old");
}

TEST(AtomicFileTest, MissingFolderIsAnIoError) {
  auto f = AtomicFile::Create("/nonexistent-dir-dpsanitize/out.txt");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kIoError);
  EXPECT_NE(f.status().message().find("/nonexistent-dir-dpsanitize/out.txt"), std::string::npos);
}

TEST(AtomicFileTest, SameFile) {
  testing::TempDir dir;
  testing::WriteFile(dir.File("a"), "x");
  testing::WriteFile(dir.File("b"), "x");
  ASSERT_EQ(::symlink(dir.File("a").c_str(), dir.File("link").c_str()), 0);
  EXPECT_TRUE(SameFile(dir.File("a"), dir.path() + "/./a"));
  EXPECT_TRUE(SameFile(dir.File("a"), dir.File("link")));
  EXPECT_FALSE(SameFile(dir.File("a"), dir.File("b")));
  EXPECT_FALSE(SameFile(dir.File("a"), dir.File("missing")));
}

// Issue 15: a replaced file keeps its permission bits (a private 0600 output
// became 0644), and for root its owner.
TEST(AtomicFileTest, ReplacementKeepsModeAndOwner) {
  testing::TempDir dir;
  const std::string out = dir.File("out.txt");
  testing::WriteFile(out, "old");
  ASSERT_EQ(::chmod(out.c_str(), 0600), 0);
  const bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(::chown(out.c_str(), 4321, 8765), 0);
  }
  auto f = AtomicFile::Create(out);
  ASSERT_TRUE(f.ok()) << f.status().message();
  ASSERT_TRUE(f.value()->Write("new").ok());
  ASSERT_TRUE(f.value()->Commit().ok());
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  if (root) {
    EXPECT_EQ(st.st_uid, 4321u);
    EXPECT_EQ(st.st_gid, 8765u);
  }
  EXPECT_EQ(testing::ReadFile(out), "new");
}

// A symbolic link stays; the file it leads to is replaced, from a temporary
// file in that file's folder. A dangling link's target is created.
TEST(AtomicFileTest, SymlinkIsKeptAndItsTargetReplaced) {
  testing::TempDir dir;
  ASSERT_EQ(::mkdir(dir.File("real").c_str(), 0755), 0);
  testing::WriteFile(dir.File("real/a.txt"), "old");
  ASSERT_EQ(::symlink("real/a.txt", dir.File("a.txt").c_str()), 0);
  ASSERT_EQ(::symlink("real/b.txt", dir.File("b.txt").c_str()), 0);
  for (const char* name : {"a.txt", "b.txt"}) {
    auto f = AtomicFile::Create(dir.File(name));
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_EQ(f.value()->temp_path().rfind(dir.File("real/."), 0), 0u) << f.value()->temp_path();
    ASSERT_TRUE(f.value()->Write(name).ok());
    ASSERT_TRUE(f.value()->Commit().ok());
  }
  char buf[64];
  for (const char* name : {"a.txt", "b.txt"}) {
    struct stat st {};
    ASSERT_EQ(::lstat(dir.File(name).c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode)) << name;
    const ssize_t n = ::readlink(dir.File(name).c_str(), buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), std::string("real/") + name);
    EXPECT_EQ(testing::ReadFile(dir.File(std::string("real/") + name)), name);
  }
  EXPECT_EQ(List(dir.path()), (std::vector<std::string>{"a.txt", "b.txt", "real"}));
  EXPECT_EQ(List(dir.File("real")), (std::vector<std::string>{"a.txt", "b.txt"}));
}

// A FIFO (or a device) is written, not replaced: renaming over it turned
// /dev/full into a regular file and left a FIFO's reader waiting forever.
TEST(AtomicFileTest, FifoIsWrittenInPlace) {
  testing::TempDir dir;
  const std::string fifo = dir.File("out.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Read and write ends of our own, so that neither open() waits.
  const int reader = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  {
    auto f = AtomicFile::Create(fifo);
    ASSERT_TRUE(f.ok()) << f.status().message();
    ASSERT_TRUE(f.value()->Write("through the pipe").ok());
    ASSERT_TRUE(f.value()->Commit().ok());
  }
  char buf[64];
  const ssize_t n = ::read(reader, buf, sizeof buf);
  ::close(reader);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), "through the pipe");
  struct stat st {};
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(List(dir.path()), std::vector<std::string>{"out.fifo"});
}

TEST(AtomicFileTest, TemporaryFilesHaveARecognisableName) {
  testing::TempDir dir;
  auto f = AtomicFile::Create(dir.File("out.txt"));
  ASSERT_TRUE(f.ok());
  const std::string name = List(dir.path()).at(0);
  const std::string prefix = ".out.txt.dpsanitize-tmp-";
  EXPECT_EQ(name.rfind(prefix, 0), 0u) << name;
  EXPECT_EQ(name.size(), prefix.size() + 6) << name;
  EXPECT_TRUE(std::all_of(name.begin() + static_cast<long>(prefix.size()), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0;
  })) << name;
}

// Under ulimit -f, with SIGXFSZ ignored (write/signals.cpp), write() fails
// with EFBIG; the message says which limit that is.
TEST(AtomicFileTest, FileSizeLimitIsNamed) {
  testing::TempDir dir;
  auto f = AtomicFile::Create(dir.File("out.txt"));
  ASSERT_TRUE(f.ok());
  struct sigaction ignore {};
  struct sigaction old_action {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &old_action), 0);
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit limit = old_limit;
  limit.rlim_cur = 4;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  const Status s = f.value()->Write("more than four bytes");
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::sigaction(SIGXFSZ, &old_action, nullptr);
  EXPECT_EQ(s.message(), dir.File("out.txt") +
                             ": cannot write: File too large (the file size limit, ulimit -f, "
                             "was reached)");
}

// The pair: both new, nothing else left.
TEST(CommitPairTest, BothTakeTheirNames) {
  testing::TempDir dir;
  testing::WriteFile(dir.File("out.txt"), "old out");
  testing::WriteFile(dir.File("out.ledger"), "old ledger");
  auto out = AtomicFile::Create(dir.File("out.txt"));
  auto ledger = AtomicFile::Create(dir.File("out.ledger"));
  ASSERT_TRUE(out.ok() && ledger.ok());
  ASSERT_TRUE(out.value()->Write("new out").ok());
  ASSERT_TRUE(ledger.value()->Write("new ledger").ok());
  ASSERT_TRUE(CommitPair(out.value().get(), ledger.value().get()).ok());
  out.value().reset();
  ledger.value().reset();
  EXPECT_EQ(List(dir.path()), (std::vector<std::string>{"out.ledger", "out.txt"}));
  EXPECT_EQ(testing::ReadFile(dir.File("out.txt")), "new out");
  EXPECT_EQ(testing::ReadFile(dir.File("out.ledger")), "new ledger");
}

// The ledger cannot take its name (here a folder took it): the output goes
// back to what it was, and the error names the ledger.
TEST(CommitPairTest, FailedLedgerRenamePutsTheOldOutputBack) {
  for (const bool had_output : {true, false}) {
    SCOPED_TRACE(had_output ? "with a previous output" : "without one");
    testing::TempDir dir;
    if (had_output) testing::WriteFile(dir.File("out.txt"), "old out");
    auto out = AtomicFile::Create(dir.File("out.txt"));
    auto ledger = AtomicFile::Create(dir.File("out.ledger"));
    ASSERT_TRUE(out.ok() && ledger.ok());
    ASSERT_TRUE(out.value()->Write("new out").ok());
    ASSERT_TRUE(ledger.value()->Write("new ledger").ok());
    ASSERT_EQ(::mkdir(dir.File("out.ledger").c_str(), 0755), 0);
    testing::WriteFile(dir.File("out.ledger/x"), "");
    const Status s = CommitPair(out.value().get(), ledger.value().get());
    out.value().reset();
    ledger.value().reset();
    EXPECT_EQ(s.code(), StatusCode::kIoError);
    EXPECT_EQ(s.message().rfind(dir.File("out.ledger") + ": cannot rename", 0), 0u) << s.message();
    if (had_output) {
      EXPECT_EQ(List(dir.path()), (std::vector<std::string>{"out.ledger", "out.txt"}));
      EXPECT_EQ(testing::ReadFile(dir.File("out.txt")), "old out");
    } else {
      EXPECT_EQ(List(dir.path()), std::vector<std::string>{"out.ledger"});
    }
  }
}

TEST(TargetLockTest, SecondHolderIsRefusedAndTheFileGoesWithTheLock) {
  testing::TempDir dir;
  const std::string out = dir.File("out.txt");
  {
    auto first = TargetLock::Acquire(out);
    ASSERT_TRUE(first.ok()) << first.status().message();
    ASSERT_NE(first.value(), nullptr);
    EXPECT_EQ(first.value()->lock_path(), dir.File(".out.txt.dpsanitize-lock"));
    auto second = TargetLock::Acquire(out);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), StatusCode::kIoError);
    EXPECT_EQ(second.status().message(), out + ": another dpsanitize run is writing it");
    // Through a symbolic link to the same file.
    testing::WriteFile(out, "x");
    ASSERT_EQ(::symlink("out.txt", dir.File("link.txt").c_str()), 0);
    EXPECT_FALSE(TargetLock::Acquire(dir.File("link.txt")).ok());
  }
  EXPECT_EQ(List(dir.path()), (std::vector<std::string>{"link.txt", "out.txt"}));
}

TEST(TargetLockTest, StaleLockFileIsTakenOver) {
  testing::TempDir dir;
  testing::WriteFile(dir.File(".out.txt.dpsanitize-lock"), "");
  {
    auto lock = TargetLock::Acquire(dir.File("out.txt"));
    ASSERT_TRUE(lock.ok()) << lock.status().message();
  }
  EXPECT_TRUE(List(dir.path()).empty());
}

TEST(TargetLockTest, InPlaceOutputsAreNotLocked) {
  testing::TempDir dir;
  ASSERT_EQ(::mkfifo(dir.File("fifo").c_str(), 0600), 0);
  auto lock = TargetLock::Acquire(dir.File("fifo"));
  ASSERT_TRUE(lock.ok()) << lock.status().message();
  EXPECT_EQ(lock.value(), nullptr);
  EXPECT_EQ(List(dir.path()), std::vector<std::string>{"fifo"});
}

TEST(AtomicFileTest, SameFileAsDescriptor) {
  testing::TempDir dir;
  testing::WriteFile(dir.File("a"), "x");
  testing::WriteFile(dir.File("b"), "x");
  const int fd = ::open(dir.File("a").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(SameFileAsDescriptor(fd, dir.File("a")));
  EXPECT_FALSE(SameFileAsDescriptor(fd, dir.File("b")));
  EXPECT_FALSE(SameFileAsDescriptor(fd, dir.File("missing")));
  ::close(fd);
  ASSERT_EQ(::mkfifo(dir.File("fifo").c_str(), 0600), 0);
  const int fifo_fd = ::open(dir.File("fifo").c_str(), O_RDWR);
  EXPECT_FALSE(SameFileAsDescriptor(fifo_fd, dir.File("fifo")));  // not a regular file
  ::close(fifo_fd);
}

}  // namespace
}  // namespace dpsanitize
