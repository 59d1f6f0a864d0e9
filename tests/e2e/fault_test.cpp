// Fault injection (issue 15): the real binary killed at random points, on a
// full disk, under a file-size limit, in a read-only folder, with closed
// standard descriptors, writing to a device, a FIFO or through a symlink,
// next to a second writer of the same output, and given its own input on
// stdin. Each case checks what is left on disk: OUT and its ledger are the
// old pair or the new pair, never a mix, and no stray file remains.
//
// Several cases need root (mount, mknod, chown, chattr); CI runs as root, and
// elsewhere they are skipped with the reason.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dpsanitize/core/strings.h"
#include "e2e/run_binary.h"

namespace dps_e2e {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- helpers

std::string Sha256Hex(const std::string& data) {
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const uint8_t*>(data.data()), data.size());
  return dpsanitize::HexEncode(digest, sizeof digest);
}

// The output digest a ledger records; "" when `text` is no ledger.
std::string RecordedSha(const std::string& text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("outputs") || !j["outputs"].is_array() ||
      j["outputs"].empty() || !j["outputs"][0].contains("sha256") ||
      !j["outputs"][0]["sha256"].is_string()) {
    return "";
  }
  return j["outputs"][0]["sha256"].get<std::string>();
}

// The file's content, or "<missing>".
std::string ContentOrMissing(const std::string& path) {
  return Exists(path) ? ReadFile(path) : std::string("<missing>");
}

void ExpectOneErrorLine(const RunResult& r) {
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(r.err, StartsWith("dpsanitize: "));
  EXPECT_THAT(r.err, EndsWith("\n"));
  EXPECT_EQ(CountLines(r.err), 1u) << r.err;
}

// How a child's standard descriptor is set up.
constexpr int kNull = -1;           // /dev/null
constexpr int kClosed = kClosedFd;  // closed (run_binary.h)
constexpr int kCapture = -3;        // a capture file (stdout, stderr)

struct Child {
  std::vector<std::string> args;
  std::string cwd;
  int fds[3] = {kNull, kCapture, kCapture};
  rlim_t file_size_limit = RLIM_INFINITY;
};

// SpawnBinary (run_binary.h) with the child's descriptors in `fds` (kNull,
// kClosed or an open descriptor) and its file-size limit.
pid_t Start(const Child& c, const int fds[3]) {
  SpawnOptions options;
  options.cwd = c.cwd;
  options.stdin_fd = fds[0];
  options.stdout_fd = fds[1];
  options.stderr_fd = fds[2];
  options.file_size_limit = c.file_size_limit;
  return SpawnBinary(c.args, options);
}

// Runs `c` to completion; kCapture descriptors are read into out and err.
RunResult RunChild(const Child& c) {
  TempDir capture;
  int fds[3];
  for (int i = 0; i < 3; ++i) {
    fds[i] = c.fds[i];
    if (fds[i] == kCapture) {
      fds[i] =
          ::open(capture.File(std::to_string(i)).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    }
  }
  const pid_t pid = Start(c, fds);
  for (int i = 0; i < 3; ++i) {
    if (c.fds[i] == kCapture) ::close(fds[i]);
  }
  RunResult r;
  WaitForExit(pid, &r, std::chrono::seconds(120));
  if (c.fds[1] == kCapture) r.out = capture.Read("1");
  if (c.fds[2] == kCapture) r.err = capture.Read("2");
  return r;
}

// Waits until `done()`, checking every `nap`, for at most 60 s; false on
// time-out or when `pid` ended first (it is not reaped: WaitForExit does).
template <typename F>
bool WaitUntil(pid_t pid, F done, std::chrono::microseconds nap = std::chrono::milliseconds(2)) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    if (done()) return true;
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid) {
      return false;
    }
    std::this_thread::sleep_for(nap);
  }
  return false;
}

// A tmpfs mounted on a folder for one test, unmounted on destruction.
class TmpfsMount {
 public:
  TmpfsMount(std::string dir, const std::string& options) : dir_(std::move(dir)) {
    ok_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, options.c_str()) == 0;
    if (!ok_) error_ = std::strerror(errno);
  }
  ~TmpfsMount() {
    if (ok_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  bool RemountReadOnly() {
    return ::mount(nullptr, dir_.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0;
  }

 private:
  std::string dir_;
  bool ok_ = false;
  std::string error_;
};

// chattr +i on a file for one test; -i on destruction, so the folder can go.
class Immutable {
 public:
  explicit Immutable(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    int flags = 0;
    if (fd_ >= 0 && ::ioctl(fd_, FS_IOC_GETFLAGS, &flags) == 0) {
      flags |= FS_IMMUTABLE_FL;
      ok_ = ::ioctl(fd_, FS_IOC_SETFLAGS, &flags) == 0;
    }
    if (!ok_) error_ = std::strerror(errno);
  }
  ~Immutable() {
    int flags = 0;
    if (ok_ && ::ioctl(fd_, FS_IOC_GETFLAGS, &flags) == 0) {
      flags &= ~FS_IMMUTABLE_FL;
      ::ioctl(fd_, FS_IOC_SETFLAGS, &flags);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  Immutable(const Immutable&) = delete;
  Immutable& operator=(const Immutable&) = delete;
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

 private:
  int fd_;
  bool ok_ = false;
  std::string error_;
};

// The names a run may leave after SIGKILL, next to OUT (out.txt) and its
// ledger: `.out.txt[.ledger.json].dpsanitize-` followed by `tmp-XXXXXX` (a
// temporary file), `old-XXXXXX[-N]` (the previous OUT, kept during the two
// renames) or `lock` (write/atomic_file.h, write/target_lock.h).
bool IsLeftoverName(const std::string& name) {
  auto alnum6 = [](const std::string& s, size_t at) {
    if (s.size() < at + 6) return false;
    return std::all_of(s.begin() + static_cast<long>(at), s.begin() + static_cast<long>(at + 6),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
  };
  for (const std::string prefix : {".out.txt.dpsanitize-", ".out.txt.ledger.json.dpsanitize-"}) {
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    if (rest == "lock") return true;
    if (rest.rfind("tmp-", 0) == 0) return rest.size() == 10 && alnum6(rest, 4);
    if (rest.rfind("old-", 0) == 0 && alnum6(rest, 4)) {
      if (rest.size() == 10) return true;
      return rest.size() > 11 && rest[10] == '-' &&
             std::all_of(rest.begin() + 11, rest.end(),
                         [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
    }
  }
  return false;
}

class FaultTest : public E2eTest {
 protected:
  // --threads 1 keeps the run long enough to be hit at many points.
  std::vector<std::string> Sanitize(std::vector<std::string> more) {
    std::vector<std::string> args{"-q", "--threads", "1"};
    args.insert(args.end(), more.begin(), more.end());
    return Arguments(args);
  }
  RunResult Run(const std::vector<std::string>& args) {
    Child c;
    c.args = args;
    c.cwd = dir_.path();
    return RunChild(c);
  }
};

// ---------------------------------------------------------------- (a) kills

struct Pair {
  std::string out, ledger;
};

enum class PairState { kOld, kNew, kMixed };

// kOld: both files as they were; kNew: OUT changed and the ledger records
// its digest; anything else is a mix.
PairState Classify(const Pair& now, const Pair& old) {
  if (now.out == old.out && now.ledger == old.ledger) return PairState::kOld;
  if (now.out != old.out && now.ledger != old.ledger &&
      RecordedSha(now.ledger) == Sha256Hex(now.out)) {
    return PairState::kNew;
  }
  return PairState::kMixed;
}

TEST_F(FaultTest, KilledAtRandomPointsLeavesTheOldPairOrTheNewPair) {
  dir_.Write("in.txt", SampleOfSize(480u << 10));
  const std::vector<std::string> args = Sanitize({"in.txt", "out.txt"});
  auto pair = [&] {
    return Pair{ContentOrMissing(dir_.File("out.txt")),
                ContentOrMissing(dir_.File("out.txt.ledger.json"))};
  };
  // The old pair, and how long a whole run takes.
  const auto t0 = Clock::now();
  const RunResult first = Run(args);
  const double run_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  Pair current = pair();
  ASSERT_EQ(Classify(current, Pair{}), PairState::kNew);

  const int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGKILL};
  constexpr int kKills = 120;
  std::mt19937 rng(15);
  // Half of the kills come at a random time up to 1.2 runs; the other half
  // aim at the commit: 0 to 3 ms after the ledger's temporary file appears,
  // which is when the pair is flushed and renamed.
  std::uniform_real_distribution<double> delay_ms(0.0, 1.2 * run_ms);
  std::uniform_real_distribution<double> commit_delay_ms(0.0, 3.0);
  std::map<std::string, int> tally;
  for (int i = 0; i < kKills; ++i) {
    const int sig = kSignals[i % 5];
    const bool at_commit = (i / 5) % 2 == 1;
    const double delay = at_commit ? commit_delay_ms(rng) : delay_ms(rng);
    SCOPED_TRACE("kill " + std::to_string(i) + ": signal " + std::to_string(sig) + " after " +
                 std::to_string(delay) + " ms" + (at_commit ? " from the ledger's temporary" : ""));
    Child c;
    c.args = args;
    c.cwd = dir_.path();
    const int fds[3] = {kNull, kNull, kNull};
    const pid_t pid = Start(c, fds);
    if (at_commit) {
      WaitUntil(
          pid,
          [&] {
            for (const std::string& name : dir_.List()) {
              if (name.find(".ledger.json.") != std::string::npos &&
                  name.find("tmp") != std::string::npos) {
                return true;
              }
            }
            return false;
          },
          std::chrono::microseconds(0));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(delay * 1000)));
    ::kill(pid, sig);  // a run that already ended is a zombie: no effect
    RunResult r;
    WaitForExit(pid, &r, std::chrono::seconds(60));
    const Pair now = pair();
    const PairState state = Classify(now, current);
    std::vector<std::string> leftovers;
    for (const std::string& name : dir_.List()) {
      if (name != "in.txt" && name != "out.txt" && name != "out.txt.ledger.json") {
        leftovers.push_back(name);
      }
    }
    if (r.exit_code == 0) {
      // Finished before the signal came.
      EXPECT_EQ(state, PairState::kNew);
      EXPECT_THAT(leftovers, IsEmpty());
      ++tally[at_commit ? "at commit: finished first" : "finished first"];
    } else if (sig != SIGKILL) {
      // The handler (exit 128 + N), or the default action when the signal
      // came before main() installed the handler.
      EXPECT_TRUE(r.exit_code == 128 + sig || r.signal == sig) << r.Describe();
      EXPECT_NE(state, PairState::kMixed);
      EXPECT_THAT(leftovers, IsEmpty());
      ++tally[std::string(at_commit ? "at commit: " : "") +
              (state == PairState::kOld ? "handler, old pair" : "handler, new pair")];
    } else {
      EXPECT_EQ(r.signal, SIGKILL) << r.Describe();
      for (const std::string& name : leftovers) {
        EXPECT_TRUE(IsLeftoverName(name)) << "left behind: " << name;
      }
      if (state == PairState::kMixed) {
        // Killed between the two renames (the one window left): the new OUT
        // is in place, the old one is kept as a backup and the new ledger is
        // complete under its temporary name. Both pairs can be recovered,
        // and the ledger's digest no longer matches OUT.
        bool backup = false, ledger = false;
        for (const std::string& name : leftovers) {
          const std::string text = dir_.Read(name);
          if (name.find("out.txt.dpsanitize-old-") != std::string::npos)
            backup |= text == current.out;
          if (name.find("ledger.json.dpsanitize-tmp-") != std::string::npos) {
            ledger |= RecordedSha(text) == Sha256Hex(now.out);
          }
        }
        EXPECT_TRUE(backup && ledger) << "a mixed pair that cannot be recovered";
        EXPECT_NE(RecordedSha(now.ledger), Sha256Hex(now.out));
        dir_.Write("out.txt", current.out);  // back to the old pair
        ++tally["SIGKILL, mixed (between the renames)"];
      } else {
        ++tally[std::string(at_commit ? "at commit: " : "") +
                (state == PairState::kOld ? "SIGKILL, old pair" : "SIGKILL, new pair")];
      }
      for (const std::string& name : leftovers) ::unlink(dir_.File(name).c_str());
    }
    if (::testing::Test::HasFailure()) break;
    current = pair();
  }
  std::string summary;
  for (const auto& [what, n] : tally) summary += "  " + what + ": " + std::to_string(n) + "\n";
  std::printf("%d kills, a whole run %.0f ms:\n%s", kKills, run_ms, summary.c_str());
}

// ---------------------------------------------------------------- (b) (c) (d) space, limits

TEST_F(FaultTest, FullDiskFailsWithOneLineAndLeavesTheOldPair) {
  const std::string mnt = dir_.File("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  TmpfsMount tmpfs(mnt, "size=64k");
  if (!tmpfs.ok()) GTEST_SKIP() << "cannot mount a tmpfs: " << tmpfs.error();
  WriteFile(mnt + "/out.txt", "old output\n");
  WriteFile(mnt + "/out.txt.ledger.json", "old ledger\n");
  dir_.Write("in.txt", SampleOfSize(256u << 10));
  const RunResult r = Run(Sanitize({"in.txt", "mnt/out.txt"}));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("No space left on device"));
  EXPECT_THAT(ListDir(mnt), ElementsAre("out.txt", "out.txt.ledger.json"));
  EXPECT_EQ(ReadFile(mnt + "/out.txt"), "old output\n");
}

TEST_F(FaultTest, FileSizeLimitFailsWithOneLineAndLeavesNothing) {
  dir_.Write("in.txt", SampleOfSize(300u << 10));
  Child c;
  c.args = Sanitize({"in.txt", "out.txt"});
  c.cwd = dir_.path();
  c.file_size_limit = 100 << 10;  // ulimit -f 100
  const RunResult r = RunChild(c);
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("out.txt: cannot write: File too large"));
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt"));
}

TEST_F(FaultTest, ReadOnlyFolderFailsWithOneLine) {
  const std::string ro = dir_.File("ro");
  ASSERT_EQ(::mkdir(ro.c_str(), 0755), 0);
  std::unique_ptr<TmpfsMount> tmpfs;
  if (::geteuid() == 0) {
    // Root writes into a mode 0555 folder anyway: a read-only mount it is.
    tmpfs = std::make_unique<TmpfsMount>(ro, "size=64k");
    if (!tmpfs->ok()) GTEST_SKIP() << "cannot mount a tmpfs: " << tmpfs->error();
  }
  WriteFile(ro + "/out.txt", "old output\n");
  if (tmpfs) {
    ASSERT_TRUE(tmpfs->RemountReadOnly()) << std::strerror(errno);
  } else {
    ASSERT_EQ(::chmod(ro.c_str(), 0555), 0);
  }
  dir_.Write("in.txt", RepeatSample(20));
  const RunResult r = Run(Sanitize({"in.txt", "ro/out.txt"}));
  if (!tmpfs) ::chmod(ro.c_str(), 0755);
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("ro/out.txt"));
  EXPECT_THAT(ListDir(ro), ElementsAre("out.txt"));
  EXPECT_EQ(ReadFile(ro + "/out.txt"), "old output\n");
}

// ---------------------------------------------------------------- (e) closed descriptors

TEST_F(FaultTest, ClosedStdinIsNotAnEmptyInput) {
  Child c;
  c.args = Sanitize({"-", "out.txt"});
  c.cwd = dir_.path();
  c.fds[0] = kClosed;
  const RunResult r = RunChild(c);
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("-: standard input is closed"));
  EXPECT_THAT(dir_.List(), IsEmpty());
}

TEST_F(FaultTest, ClosedStdoutIsAnErrorForOutputDash) {
  dir_.Write("in.txt", RepeatSample(20));
  Child c;
  c.args = Sanitize({"--no-ledger", "in.txt", "-"});
  c.cwd = dir_.path();
  c.fds[1] = kClosed;
  const RunResult r = RunChild(c);
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_EQ(CountLines(r.err), 1u) << r.err;
  EXPECT_THAT(r.err, HasSubstr("-: standard output is closed"));
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt"));
}

// With descriptor 2 closed, the output's temporary file used to take it, and
// the progress meter wrote into the output.
TEST_F(FaultTest, ClosedStderrDoesNotLetMessagesIntoTheOutput) {
  const std::string in = dir_.Write("in.txt", SampleOfSize(6u << 20));
  const std::vector<std::string> common{"--seed", "s", "--no-ledger", "--progress"};
  std::vector<std::string> args = common;
  args.insert(args.end(), {"in.txt", "ref.txt"});
  ASSERT_EQ(Run(Arguments(args)).exit_code, 0);
  const int in_fd = ::open(in.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(in_fd, 0);
  args = common;
  args.insert(args.end(), {"-", "out.txt"});
  Child c;
  c.args = Arguments(args);
  c.cwd = dir_.path();
  c.fds[0] = in_fd;
  c.fds[2] = kClosed;
  const RunResult r = RunChild(c);
  ::close(in_fd);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(SameText(dir_.Read("out.txt"), dir_.Read("ref.txt")));
}

TEST_F(FaultTest, AllStandardDescriptorsClosedWithFileArguments) {
  dir_.Write("in.txt", RepeatSample(50));
  ASSERT_EQ(Run(Sanitize({"--seed", "s", "in.txt", "ref.txt"})).exit_code, 0);
  Child c;
  c.args = Sanitize({"--seed", "s", "in.txt", "out.txt"});
  c.cwd = dir_.path();
  c.fds[0] = c.fds[1] = c.fds[2] = kClosed;
  const RunResult r = RunChild(c);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(dir_.Read("out.txt"), dir_.Read("ref.txt"));
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt", "out.txt", "out.txt.ledger.json", "ref.txt",
                                       "ref.txt.ledger.json"));
}

// ---------------------------------------------------------------- (f) (g) devices, FIFOs, links

TEST_F(FaultTest, DeviceOutputIsWrittenInPlaceAndStaysADevice) {
  // A private /dev/full (char 1:7), so that a binary that replaces its output
  // cannot harm the real one.
  const std::string full = dir_.File("full");
  if (::mknod(full.c_str(), S_IFCHR | 0666, ::makedev(1, 7)) != 0) {
    GTEST_SKIP() << "cannot create a device node: " << std::strerror(errno);
  }
  dir_.Write("in.txt", RepeatSample(20));
  const RunResult r = Run(Sanitize({"--no-ledger", "in.txt", "full"}));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("full: cannot write: No space left on device"));
  struct stat st {};
  ASSERT_EQ(::lstat(full.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, ::makedev(1, 7));
  EXPECT_THAT(dir_.List(), ElementsAre("full", "in.txt"));
}

TEST_F(FaultTest, FifoOutputReachesItsReader) {
  dir_.Write("in.txt", RepeatSample(200));
  ASSERT_EQ(Run(Sanitize({"--seed", "s", "--no-ledger", "in.txt", "ref.txt"})).exit_code, 0);
  const std::string fifo = dir_.File("out.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Non-blocking, so that a binary that never opens the FIFO (it renamed a
  // regular file over it) cannot leave this test waiting.
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  TempDir capture;
  const int err_fd = ::open(capture.File("err").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(err_fd, 0);
  Child c;
  c.args = Sanitize({"--seed", "s", "in.txt", "out.fifo"});
  c.cwd = dir_.path();
  const int fds[3] = {kNull, kNull, err_fd};
  const pid_t pid = Start(c, fds);
  ::close(err_fd);
  std::string got;
  char buf[65536];
  auto drain = [&] {
    ssize_t n;
    while ((n = ::read(reader, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  };
  RunResult r;
  int status = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (::waitpid(pid, &status, WNOHANG) != pid) {
    if (Clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "dpsanitize did not finish";
      break;
    }
    pollfd p{reader, POLLIN, 0};
    ::poll(&p, 1, 10);
    drain();
  }
  drain();
  ::close(reader);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = capture.Read("err");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(SameText(got, dir_.Read("ref.txt")));
  struct stat st {};
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(RecordedSha(dir_.Read("out.fifo.ledger.json")), Sha256Hex(got));
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt", "out.fifo", "out.fifo.ledger.json", "ref.txt"));
}

TEST_F(FaultTest, SymlinkOutputAndLedgerKeepTheLinksAndReplaceTheTargets) {
  dir_.Write("in.txt", RepeatSample(20));
  ASSERT_EQ(::mkdir(dir_.File("real").c_str(), 0755), 0);
  dir_.Write("real/out.txt", "old output\n");
  dir_.Write("real/l.json", "old ledger\n");
  ASSERT_EQ(::symlink("real/out.txt", dir_.File("out.txt").c_str()), 0);
  ASSERT_EQ(::symlink("real/l.json", dir_.File("l.json").c_str()), 0);
  // A dangling link: its target is created.
  ASSERT_EQ(::symlink("real/new.txt", dir_.File("new.txt").c_str()), 0);
  RunResult r = Run(Sanitize({"--ledger", "l.json", "in.txt", "out.txt"}));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  r = Run(Sanitize({"--no-ledger", "in.txt", "new.txt"}));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  char buf[256];
  for (const auto& [link, target] : std::map<std::string, std::string>{
           {"out.txt", "real/out.txt"}, {"l.json", "real/l.json"}, {"new.txt", "real/new.txt"}}) {
    SCOPED_TRACE(link);
    struct stat st {};
    ASSERT_EQ(::lstat(dir_.File(link).c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    const ssize_t n = ::readlink(dir_.File(link).c_str(), buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), target);
  }
  const std::string out = dir_.Read("real/out.txt");
  EXPECT_NE(out, "old output\n");
  EXPECT_EQ(RecordedSha(dir_.Read("real/l.json")), Sha256Hex(out));
  EXPECT_EQ(CountLines(dir_.Read("real/new.txt")), 20u);
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt", "l.json", "new.txt", "out.txt", "real"));
  EXPECT_THAT(ListDir(dir_.File("real")), ElementsAre("l.json", "new.txt", "out.txt"));
}

// ---------------------------------------------------------------- (h) concurrent writers

TEST_F(FaultTest, SecondWriterOfTheSameOutputIsRefused) {
  dir_.Write("in.txt", RepeatSample(20));
  dir_.Write("out.txt", "old output\n");
  dir_.Write("out.txt.ledger.json", "old ledger\n");
  const std::string fifo = dir_.File("in.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The first run reads a FIFO that we keep open, so it holds OUT while the
  // second one starts.
  const int writer = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  const std::string line = "The world is wide.\n";
  ASSERT_EQ(::write(writer, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  Child first;
  first.args = Sanitize({"in.fifo", "out.txt"});
  first.cwd = dir_.path();
  const int fds[3] = {kNull, kNull, kNull};
  const pid_t pid = Start(first, fds);
  // Started: it has created its temporary output file.
  const bool started = WaitUntil(pid, [&] {
    for (const std::string& name : dir_.List()) {
      if (name.rfind(".out.txt.", 0) == 0 && name.find("tmp") != std::string::npos) return true;
    }
    return false;
  });
  EXPECT_TRUE(started) << "the first run did not start";
  const RunResult second = Run(Sanitize({"in.txt", "out.txt"}));
  // The same ledger with another output is refused too.
  const RunResult third = Run(Sanitize({"--ledger", "out.txt.ledger.json", "in.txt", "o.txt"}));
  ::close(writer);  // end of the first run's input
  RunResult r;
  WaitForExit(pid, &r, std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(second.exit_code, 1) << second.Describe();
  ExpectOneErrorLine(second);
  EXPECT_EQ(second.err, "dpsanitize: out.txt: another dpsanitize run is writing it\n");
  EXPECT_EQ(third.exit_code, 1) << third.Describe();
  EXPECT_EQ(third.err, "dpsanitize: out.txt.ledger.json: another dpsanitize run is writing it\n");
  // The first run's pair, whole.
  const std::string out = dir_.Read("out.txt");
  EXPECT_EQ(CountLines(out), 1u);
  EXPECT_EQ(RecordedSha(dir_.Read("out.txt.ledger.json")), Sha256Hex(out));
  EXPECT_THAT(dir_.List(), ElementsAre("in.fifo", "in.txt", "out.txt", "out.txt.ledger.json"));
}

TEST_F(FaultTest, StaleLockFileOfAKilledRunIsHarmless) {
  dir_.Write("in.txt", RepeatSample(20));
  dir_.Write(".out.txt.dpsanitize-lock", "");
  const RunResult r = Run(Sanitize({"in.txt", "out.txt"}));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt", "out.txt", "out.txt.ledger.json"));
}

// chattr +i on the ledger: its rename fails after OUT's succeeded, and OUT
// must go back to what it was.
TEST_F(FaultTest, LedgerThatCannotBeReplacedRollsBackTheOutput) {
  dir_.Write("in.txt", RepeatSample(20));
  dir_.Write("out.txt", "old output\n");
  dir_.Write("out.txt.ledger.json", "old ledger\n");
  Immutable frozen(dir_.File("out.txt.ledger.json"));
  if (!frozen.ok()) GTEST_SKIP() << "cannot make a file immutable: " << frozen.error();
  const RunResult r = Run(Sanitize({"in.txt", "out.txt"}));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("out.txt.ledger.json"));
  EXPECT_EQ(dir_.Read("out.txt"), "old output\n");
  EXPECT_EQ(dir_.Read("out.txt.ledger.json"), "old ledger\n");
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt", "out.txt", "out.txt.ledger.json"));
}

// ---------------------------------------------------------------- (i) modes

TEST_F(FaultTest, ReplacedFilesKeepTheirModeAndOwner) {
  dir_.Write("in.txt", RepeatSample(20));
  dir_.Write("out.txt", "old output\n");
  dir_.Write("out.txt.ledger.json", "old ledger\n");
  ASSERT_EQ(::chmod(dir_.File("out.txt").c_str(), 0600), 0);
  ASSERT_EQ(::chmod(dir_.File("out.txt.ledger.json").c_str(), 0640), 0);
  const bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(::chown(dir_.File("out.txt").c_str(), 1234, 5678), 0);
    ASSERT_EQ(::chmod(dir_.File("out.txt").c_str(), 0600), 0);
  }
  const RunResult r = Run(Sanitize({"in.txt", "out.txt"}));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  struct stat st {};
  ASSERT_EQ(::stat(dir_.File("out.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  if (root) {
    EXPECT_EQ(st.st_uid, 1234u);
    EXPECT_EQ(st.st_gid, 5678u);
  }
  ASSERT_EQ(::stat(dir_.File("out.txt.ledger.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_NE(dir_.Read("out.txt"), "old output\n");
}

// ---------------------------------------------------------------- (j) stdin is the output

TEST_F(FaultTest, OutputOrLedgerThatIsStdinIsRefused) {
  const std::string text = RepeatSample(20);
  const std::string in = dir_.Write("in.txt", text);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--ledger", "l.json", "-", "in.txt"}, {"--ledger", "in.txt", "-", "out.txt"}}) {
    SCOPED_TRACE(args[1] + " " + args[3]);
    const int in_fd = ::open(in.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(in_fd, 0);
    Child c;
    c.args = Sanitize(args);
    c.cwd = dir_.path();
    c.fds[0] = in_fd;
    const RunResult r = RunChild(c);
    ::close(in_fd);
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    ExpectOneErrorLine(r);
    EXPECT_THAT(r.err, HasSubstr("in.txt"));
    EXPECT_EQ(dir_.Read("in.txt"), text);
    EXPECT_THAT(dir_.List(), ElementsAre("in.txt"));
  }
}

// ---------------------------------------------------------------- (11) broken pipe

// `| head` with --ledger: the ledger cannot describe an output that was cut
// short, so it is not written, and the run says so (exit 1).
TEST_F(FaultTest, BrokenPipeWithALedgerSaysNoLedgerWasWritten) {
  dir_.Write("in.txt", SampleOfSize(3u << 20));
  RunResult r =
      RunIntoClosedPipe(Sanitize({"--ledger", "l.json", "in.txt", "-"}), dir_.path(), 16384);
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_GE(r.out.size(), 16384u);  // what the reader took before hanging up
  r.out.clear();                    // the rest is about stderr alone
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("no ledger was written"));
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt"));
}

}  // namespace
}  // namespace dps_e2e
