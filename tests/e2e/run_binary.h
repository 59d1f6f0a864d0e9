// Helpers for the end-to-end tests: run the real dpsanitize binary in a
// temporary folder, with arguments passed as they are (fork/execve, no
// shell), stdin from a string or a file, and stdout and stderr captured to
// files; plus small file helpers and a test base that prepares the fixture
// embedding once per test suite.
//
//   dps_e2e::TempDir dir;
//   dir.Write("in.txt", "Hello world\n");
//   RunResult r = RunBinary({"--eps", "50", "--embedding", vec, "in.txt", "-"}, {dir.path()});
//   EXPECT_EQ(r.exit_code, 0) << r.Describe();
//
// Every run gets a clean environment for the embedding lookup: HOME points at
// an empty folder and DPSANITIZE_EMBEDDING at a file that does not exist, so
// a test that forgets --embedding fails instead of using the default
// embedding of the machine.
#ifndef DPSANITIZE_TESTS_E2E_RUN_BINARY_H_
#define DPSANITIZE_TESTS_E2E_RUN_BINARY_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace dps_e2e {

inline const char* BinaryPath() { return DPS_BINARY; }
inline const char* FixtureVecPath() { return DPS_FIXTURE_VEC; }
inline std::string SourcePath(const std::string& relative) {
  return std::string(DPS_SOURCE_DIR) + "/" + relative;
}

// ---------------------------------------------------------------- files

inline bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

// Names in `dir` (hidden ones included, without "." and ".."), sorted.
inline std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Splits `text` after each '\n'; a last line without '\n' is kept as is.
// The number of '\n' in `text`.
inline size_t CountLines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

inline std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    end = end == std::string::npos ? text.size() : end + 1;
    lines.push_back(text.substr(begin, end - begin));
    begin = end;
  }
  return lines;
}

// Compares two texts; on mismatch reports the sizes and the first differing
// line of each (with its number), which reads better than a dump of two
// large outputs. Use: EXPECT_TRUE(SameText(actual, expected)).
inline ::testing::AssertionResult SameText(const std::string& actual, const std::string& expected) {
  if (actual == expected) return ::testing::AssertionSuccess();
  const std::vector<std::string> a = SplitLines(actual), e = SplitLines(expected);
  size_t i = 0;
  while (i < a.size() && i < e.size() && a[i] == e[i]) ++i;
  auto line = [](const std::vector<std::string>& v, size_t k) {
    if (k >= v.size()) return std::string("<no such line>");
    std::string shown = "\"";
    for (char c : v[k]) shown += c == '\n' ? "\\n" : c == '\r' ? "\\r" : std::string(1, c);
    return shown + "\"";
  };
  return ::testing::AssertionFailure()
         << "texts differ: actual has " << actual.size() << " bytes in " << a.size()
         << " lines, expected " << expected.size() << " bytes in " << e.size()
         << " lines; first difference on line " << i + 1 << ":\n  actual:   " << line(a, i)
         << "\n  expected: " << line(e, i);
}

// A folder created with mkdtemp and removed, with its contents, on
// destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/dps-e2e-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) {
      throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    }
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` to `name` in the folder; returns the full path.
  std::string Write(const std::string& name, const std::string& content) const {
    WriteFile(File(name), content);
    return File(name);
  }
  std::string Read(const std::string& name) const { return ReadFile(File(name)); }
  bool Has(const std::string& name) const { return Exists(File(name)); }
  std::vector<std::string> List() const { return ListDir(path_); }

 private:
  std::string path_;
};

// ---------------------------------------------------------------- processes

struct RunResult {
  int exit_code = -1;  // exit status, or -1 when killed by a signal
  int signal = 0;      // the terminating signal, or 0
  std::string out;     // stdout
  std::string err;     // stderr

  // For failure messages: exit status and stderr.
  std::string Describe() const {
    std::ostringstream s;
    s << "exit " << exit_code;
    if (signal != 0) s << " (signal " << signal << ")";
    s << ", stderr:\n" << err;
    return s.str();
  }
};

// A descriptor that the child gets closed (SpawnOptions::stdin_fd, ...).
constexpr int kClosedFd = -2;

struct SpawnOptions {
  std::string cwd;     // working folder of the child; "" = ours
  std::string home;    // HOME of the child; "" = a folder that does not exist
  int stdin_fd = -1;   // -1: /dev/null; kClosedFd: closed
  int stdout_fd = -1;  // -1: /dev/null; kClosedFd: closed
  int stderr_fd = -1;  // -1: /dev/null; kClosedFd: closed
  // XDG_CACHE_HOME of the child (bem's weights cache); "" = the build's shared
  // test cache, so that the fixture's weights are computed once per build.
  std::string cache_home;
  // The child's file-size limit (ulimit -f), for the disk-full style tests.
  rlim_t file_size_limit = RLIM_INFINITY;
};

// The child's environment: ours without the variables that pick the default
// embedding, then HOME=`home` and a DPSANITIZE_EMBEDDING that does not exist.
inline std::vector<std::string> ChildEnvironment(const std::string& home,
                                                 const std::string& cache_home = "") {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('='));
    if (key == "HOME" || key == "XDG_DATA_HOME" || key == "XDG_CACHE_HOME" ||
        key == "DPSANITIZE_EMBEDDING") {
      continue;
    }
    env.push_back(kv);
  }
  env.push_back("XDG_CACHE_HOME=" +
                (cache_home.empty() ? std::string(DPS_TEST_CACHE) : cache_home));
  const std::string h = home.empty() ? "/nonexistent/dps-e2e-home" : home;
  env.push_back("HOME=" + h);
  env.push_back("DPSANITIZE_EMBEDDING=" + h + "/no-default-embedding.dpsemb");
  return env;
}

// Starts the binary with `args` (argv[1..]); returns its pid. The caller owns
// the descriptors in `options`, which may be closed after this returns.
inline pid_t SpawnBinary(const std::vector<std::string>& args, const SpawnOptions& options) {
  std::vector<std::string> argv_s{BinaryPath()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  const std::vector<std::string> env_s = ChildEnvironment(options.home, options.cache_home);
  std::vector<char*> argv, envp;
  for (const std::string& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : env_s) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) throw std::runtime_error("cannot open /dev/null");
  const int wanted[3] = {options.stdin_fd, options.stdout_fd, options.stderr_fd};
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) ::_exit(126);
    // Move the sources above 2 first, so that dup2 cannot clobber one of them.
    int moved[3];
    for (int i = 0; i < 3; ++i) {
      moved[i] = ::fcntl(wanted[i] >= 0 ? wanted[i] : null_fd, F_DUPFD, 10);
      if (moved[i] < 0) ::_exit(126);
    }
    for (int i = 0; i < 3; ++i) {
      if (wanted[i] == kClosedFd) {
        ::close(i);
      } else if (::dup2(moved[i], i) < 0) {
        ::_exit(126);
      }
    }
    for (int i = 0; i < 3; ++i) ::close(moved[i]);
    // No core files: the signal tests end children that have no handler for
    // SIGQUIT, and a core would be left in their working folder.
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    if (options.file_size_limit != RLIM_INFINITY) {
      rlimit fsize{};
      ::getrlimit(RLIMIT_FSIZE, &fsize);
      fsize.rlim_cur = options.file_size_limit;
      if (::setrlimit(RLIMIT_FSIZE, &fsize) != 0) ::_exit(126);
    }
    for (int s : {SIGPIPE, SIGINT, SIGXFSZ}) ::signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(null_fd);
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(fork_errno));
  return pid;
}

// Waits for `pid`; kills it after `timeout`. Fills exit_code and signal.
inline void WaitForExit(pid_t pid, RunResult* result,
                        std::chrono::seconds timeout = std::chrono::seconds(300)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) throw std::runtime_error("waitpid failed");
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "dpsanitize did not finish within " << timeout.count() << " s";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (WIFEXITED(status)) {
    result->exit_code = WEXITSTATUS(status);
    result->signal = 0;
  } else if (WIFSIGNALED(status)) {
    result->exit_code = -1;
    result->signal = WTERMSIG(status);
  }
}

struct RunOptions {
  RunOptions() = default;
  // Lets callers write RunBinary(args, {dir.path()}).
  RunOptions(std::string working_dir) : cwd(std::move(working_dir)) {}  // NOLINT

  std::string cwd;                        // "" = a fresh temporary folder, removed after
  std::optional<std::string> stdin_data;  // stdin content; else `stdin_file`
  std::string stdin_file;                 // "" (and no stdin_data) = /dev/null
  std::string cache_home;                 // XDG_CACHE_HOME; "" = the shared test cache
};

// Runs the binary to completion and returns its exit status, stdout and
// stderr. stdout and stderr go to files (no pipe, so no deadlock on big
// outputs) in a private folder, not in `cwd`.
inline RunResult RunBinary(const std::vector<std::string>& args, const RunOptions& options = {}) {
  TempDir capture;
  std::unique_ptr<TempDir> own_cwd;
  std::string cwd = options.cwd;
  if (cwd.empty()) {
    own_cwd = std::make_unique<TempDir>();
    cwd = own_cwd->path();
  }
  const std::string home = capture.File("home");
  ::mkdir(home.c_str(), 0700);
  std::string stdin_path = options.stdin_file;
  if (options.stdin_data) stdin_path = capture.Write("stdin", *options.stdin_data);
  if (stdin_path.empty()) stdin_path = "/dev/null";
  const int in = ::open(stdin_path.c_str(), O_RDONLY | O_CLOEXEC);
  const int out = ::open(capture.File("stdout").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  const int err = ::open(capture.File("stderr").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (in < 0 || out < 0 || err < 0) throw std::runtime_error("cannot open the capture files");
  SpawnOptions spawn;
  spawn.cwd = cwd;
  spawn.home = home;
  spawn.stdin_fd = in;
  spawn.stdout_fd = out;
  spawn.stderr_fd = err;
  spawn.cache_home = options.cache_home;
  RunResult result;
  const pid_t pid = SpawnBinary(args, spawn);
  ::close(in);
  ::close(out);
  ::close(err);
  WaitForExit(pid, &result);
  result.out = capture.Read("stdout");
  result.err = capture.Read("stderr");
  return result;
}

// Runs the binary in `cwd` with stdout into a pipe, reads `bytes` of it (fewer
// if the output ends first), then closes the pipe as `| head -c BYTES` does
// and waits. result.out is what was read; result.err the captured stderr.
inline RunResult RunIntoClosedPipe(const std::vector<std::string>& args, const std::string& cwd,
                                   size_t bytes) {
  TempDir capture;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const int err = ::open(capture.File("stderr").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (err < 0) throw std::runtime_error("cannot open the capture file");
  SpawnOptions spawn;
  spawn.cwd = cwd;
  spawn.stdout_fd = pipe_fds[1];
  spawn.stderr_fd = err;
  const pid_t pid = SpawnBinary(args, spawn);
  ::close(pipe_fds[1]);
  ::close(err);
  RunResult result;
  char buf[4096];
  while (result.out.size() < bytes) {
    const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
    if (n <= 0) break;
    result.out.append(buf, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  WaitForExit(pid, &result);
  result.err = capture.Read("stderr");
  return result;
}

// `err` without the "what eps does" line a successful run prints by default
// (pipeline/effect.h): "dpsanitize: <mechanism> at eps <E>: ...; see dpsanitize
// calibrate ...". Tests about other stderr output compare what is left.
inline std::string WithoutEffectLine(const std::string& err) {
  std::string kept;
  for (const std::string& line : SplitLines(err)) {
    const bool effect = line.rfind("dpsanitize: ", 0) == 0 &&
                        line.find(" at eps ") != std::string::npos &&
                        line.find("see dpsanitize calibrate") != std::string::npos;
    if (!effect) kept += line;
  }
  return kept;
}

// ---------------------------------------------------------------- test data

// The lines of data/sample/corpus.txt, each with its '\n'.
inline std::vector<std::string> SampleLines() {
  return SplitLines(ReadFile(SourcePath("data/sample/corpus.txt")));
}

// `n` lines taken from the sample corpus in order, repeated as needed.
inline std::string RepeatSample(size_t n) {
  const std::vector<std::string> lines = SampleLines();
  std::string text;
  for (size_t i = 0; i < n; ++i) text += lines[i % lines.size()];
  return text;
}

// Text of at least `bytes` bytes made of whole sample corpus lines.
inline std::string SampleOfSize(size_t bytes) {
  const std::vector<std::string> lines = SampleLines();
  std::string text;
  for (size_t i = 0; text.size() < bytes; ++i) text += lines[i % lines.size()];
  return text;
}

// Test base: SetUpTestSuite converts the fixture embedding to the prepared
// format once per suite; Embedding() is its path. Arguments() starts a
// sanitize command line with --embedding and --eps.
class E2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_dir_ = std::make_unique<TempDir>();
    // ctest runs every test in its own process, so a per-process prepare
    // cost 2.7 s per test (far more under ASan): the prepared fixture is
    // shared through the build's test cache, named after the binary's size
    // and time so that a rebuilt binary prepares it afresh, and written by
    // rename so that concurrent tests never see half a file. Tests only read
    // it (the ones that corrupt an embedding prepare their own copy).
    struct stat bin {};
    ASSERT_EQ(::stat(BinaryPath(), &bin), 0);
    // The file keeps its name (ledgers and messages show "fixture.dpsemb").
    const std::string folder = std::string(DPS_TEST_CACHE) + "/fixture-" +
                               std::to_string(bin.st_size) + "-" + std::to_string(bin.st_mtime);
    const std::string shared = folder + "/fixture.dpsemb";
    if (!Exists(shared)) {
      std::filesystem::create_directories(folder);
      const std::string path = suite_dir_->File("fixture.dpsemb");
      const RunResult r = RunBinary({"prepare", "-q", FixtureVecPath(), path});
      ASSERT_EQ(r.exit_code, 0) << "prepare of the fixture failed: " << r.Describe();
      ASSERT_TRUE(Exists(path));
      const std::string temp = shared + ".tmp" + std::to_string(::getpid());
      std::filesystem::copy_file(path, temp, std::filesystem::copy_options::overwrite_existing);
      ASSERT_EQ(::rename(temp.c_str(), shared.c_str()), 0) << std::strerror(errno);
    }
    embedding_ = shared;
  }
  static void TearDownTestSuite() {
    suite_dir_.reset();
    embedding_.clear();
  }
  void SetUp() override { ASSERT_FALSE(embedding_.empty()) << "SetUpTestSuite failed"; }

  static const std::string& Embedding() { return embedding_; }

  // {"--embedding", <prepared fixture>, "--eps", eps} followed by `more`.
  // These tests were written for tg at eps 50 (above the fixture's eps_min):
  // "--mechanism tg" is added unless `more` names a mechanism. Tests of the
  // default mechanism (em) say so with "--mechanism em" or RunBinary.
  static std::vector<std::string> Arguments(std::vector<std::string> more,
                                            const std::string& eps = "50") {
    std::vector<std::string> args{"--embedding", embedding_, "--eps", eps};
    if (std::find(more.begin(), more.end(), "--mechanism") == more.end()) {
      args.insert(args.end(), {"--mechanism", "tg"});
    }
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  // A folder for one test: input files, outputs and the binary's cwd.
  TempDir dir_;

 private:
  inline static std::unique_ptr<TempDir> suite_dir_;
  inline static std::string embedding_;
};

}  // namespace dps_e2e

#endif  // DPSANITIZE_TESTS_E2E_RUN_BINARY_H_
