// --shard I/N (issue 14): N runs over the parts of one input give, in order,
// the bytes of one run over the whole input with the same key, and their
// ledgers merge into that run's ledger; bad values and unsplittable inputs
// are usage errors.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "e2e/run_binary.h"

namespace dps_e2e {
namespace {

using nlohmann::json;

class ShardTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    dir_.Write("key", std::string(40, 'k'));
    ASSERT_EQ(::chmod(dir_.File("key").c_str(), 0600), 0);
  }

  // A corpus whose boundaries fall awkwardly: blank lines (runs of them:
  // paragraphs), one document far longer than a part of 7 (so some part is
  // empty), CRLF, and a last line without a newline.
  static std::string AwkwardText() {
    const std::vector<std::string> lines = SampleLines();
    std::string text;
    for (size_t i = 0; i < 40; ++i) {
      text += lines[i % lines.size()];
      if (i % 5 == 4) text += "\n";
      if (i % 9 == 8) text += "\r\n\r\n";
      if (i == 20) {
        std::string longest;
        for (size_t k = 0; k < 200; ++k) longest += lines[k % lines.size()];
        for (char& ch : longest) {
          if (ch == '\n') ch = ' ';
        }
        text += longest + "\n";
      }
    }
    return text + "the last line has no newline";
  }

  static std::string AwkwardJsonl() {
    std::string jsonl;
    const std::vector<std::string> lines = SampleLines();
    for (size_t i = 0; i < 30; ++i) {
      std::string t = lines[i % lines.size()];
      t.pop_back();  // the newline
      if (i == 12) {
        for (int k = 0; k < 150; ++k) t += " the long record goes on";
      }
      jsonl += "{\"n\":" + std::to_string(i) + ",\"text\":" + json(t).dump() + ",\"x\":[1, 2]}\n";
      if (i % 7 == 3) jsonl += "\n";
    }
    return jsonl;
  }

  RunResult Run(std::vector<std::string> more, const std::string& in, const std::string& out) {
    std::vector<std::string> args{"--mechanism", "em", "--key-file", "key"};
    args.insert(args.end(), more.begin(), more.end());
    args.insert(args.end(), {in, out});
    return RunBinary(Arguments(args, "3"), {dir_.path()});
  }

  // Runs N shards (concurrently when `parallel`), then checks the bytes and
  // the merged ledger against the whole run.
  void CheckShards(const std::vector<std::string>& more, const std::string& in, int n,
                   bool parallel) {
    SCOPED_TRACE("N = " + std::to_string(n));
    const RunResult whole = Run(more, in, "whole.out");
    ASSERT_EQ(whole.exit_code, 0) << whole.Describe();
    std::vector<RunResult> results(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> args = more;
      args.insert(args.end(), {"--shard", std::to_string(i) + "/" + std::to_string(n)});
      const std::string out = "part" + std::to_string(i) + ".out";
      if (parallel) {
        threads.emplace_back(
            [this, args, in, out, &results, i] { results[i] = Run(args, in, out); });
      } else {
        results[i] = Run(args, in, out);
      }
    }
    for (std::thread& t : threads) t.join();
    std::string joined;
    std::vector<std::string> merge{"ledger", "merge"};
    size_t empty_parts = 0;
    for (int i = 0; i < n; ++i) {
      ASSERT_EQ(results[i].exit_code, 0) << results[i].Describe();
      const std::string part = dir_.Read("part" + std::to_string(i) + ".out");
      empty_parts += part.empty();
      joined += part;
      merge.push_back("part" + std::to_string(i) + ".out.ledger.json");
    }
    EXPECT_EQ(joined, dir_.Read("whole.out"));
    merge.insert(merge.end(), {"-o", "merged.json"});
    const RunResult m = RunBinary(merge, {dir_.path()});
    ASSERT_EQ(m.exit_code, 0) << m.Describe();
    json merged = json::parse(dir_.Read("merged.json"));
    json one = json::parse(dir_.Read("whole.out.ledger.json"));
    for (const char* skip : {"created_utc", "tool", "outputs", "merged_from"}) {
      merged.erase(skip);
      one.erase(skip);
    }
    EXPECT_EQ(merged, one);
    if (n == 7) {
      EXPECT_GE(empty_parts, 1u) << "the long document should leave a part empty";
    }
  }
};

TEST_F(ShardTest, TextLinesConcatenateToTheWholeRun) {
  dir_.Write("in.txt", AwkwardText());
  for (int n : {1, 2, 7}) CheckShards({}, "in.txt", n, /*parallel=*/false);
}

TEST_F(ShardTest, TextParagraphsConcatenateToTheWholeRun) {
  dir_.Write("in.txt", AwkwardText());
  for (int n : {1, 2, 7}) CheckShards({"--doc", "paragraph"}, "in.txt", n, /*parallel=*/false);
}

TEST_F(ShardTest, JsonlConcatenatesToTheWholeRun) {
  dir_.Write("in.jsonl", AwkwardJsonl());
  for (int n : {1, 2, 7}) {
    CheckShards({"--text-field", "text"}, "in.jsonl", n, /*parallel=*/false);
    // With --id-field the lines before a part are never read.
    CheckShards({"--text-field", "text", "--id-field", "n"}, "in.jsonl", n, /*parallel=*/false);
  }
}

// The CI form of the scale-out recipe: four plain processes at once.
TEST_F(ShardTest, FourConcurrentProcessesGiveTheWholeRun) {
  dir_.Write("in.txt", RepeatSample(400));
  CheckShards({}, "in.txt", 4, /*parallel=*/true);
}

// --skip-done recognises a finished shard by its ledger and SHA-256, and
// redoes one whose output is missing, changed, or from another job.
TEST_F(ShardTest, SkipDoneRedoesExactlyWhatIsMissing) {
  dir_.Write("in.txt", RepeatSample(60));
  const std::vector<std::string> shard{"--shard", "1/3", "--skip-done"};
  RunResult r = Run(shard, "in.txt", "p1.out");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.err.find("already done"), std::string::npos) << r.err;
  const std::string first = dir_.Read("p1.out");
  const std::string ledger = dir_.Read("p1.out.ledger.json");
  EXPECT_EQ(json::parse(ledger).at("outputs").at(0).at("shard"), "1/3");
  r = Run(shard, "in.txt", "p1.out");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("p1.out: already done"), std::string::npos) << r.err;
  EXPECT_EQ(dir_.Read("p1.out.ledger.json"), ledger) << "a skipped shard rewrites nothing";
  // A changed output is redone (same key: the same bytes come back).
  dir_.Write("p1.out", first + "tampered\n");
  r = Run(shard, "in.txt", "p1.out");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("redoing the run"), std::string::npos) << r.err;
  EXPECT_EQ(dir_.Read("p1.out"), first);
  // Another job's ledger (other eps, other shard) is not this job's.
  r = RunBinary(Arguments({"--mechanism", "em", "--key-file", "key", "--shard", "1/3",
                           "--skip-done", "in.txt", "p1.out"},
                          "4"),
                {dir_.path()});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("another job (mechanism differs)"), std::string::npos) << r.err;
  r = RunBinary(Arguments({"--mechanism", "em", "--key-file", "key", "--shard", "2/3",
                           "--skip-done", "in.txt", "p1.out"},
                          "4"),
                {dir_.path()});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("another output or shard"), std::string::npos) << r.err;
  r = Run({"--skip-done", "--no-ledger"}, "in.txt", "x.out");
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
}

TEST_F(ShardTest, BadShardValuesAndUnsplittableInputs) {
  dir_.Write("in.txt", "the house\n");
  for (const char* v : {"4/4", "0/0", "-1/3", "a/b", "1", "1/2/3", "/3", "2/"}) {
    const RunResult r = Run({"--shard", v}, "in.txt", "out.txt");
    EXPECT_EQ(r.exit_code, 2) << v << ": " << r.Describe();
    EXPECT_NE(r.err.find(std::string("--shard ") + v), std::string::npos) << r.err;
    EXPECT_EQ(CountLines(r.err), 1u) << r.err;
    EXPECT_FALSE(dir_.Has("out.txt"));
  }
  RunResult r = Run({"--shard", "0/2"}, "-", "out.txt");
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find("not standard input"), std::string::npos) << r.err;
  ASSERT_EQ(::mkfifo(dir_.File("fifo").c_str(), 0600), 0);
  // The FIFO has a writer so that open() returns; the run must refuse it.
  std::thread writer([this] {
    const int fd = ::open(dir_.File("fifo").c_str(), O_WRONLY);
    if (fd >= 0) ::close(fd);
  });
  r = Run({"--shard", "0/2"}, "fifo", "out.txt");
  writer.join();
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find("is not a regular file"), std::string::npos) << r.err;
  r = Run({"--shard", "0/2", "--doc", "file"}, "in.txt", "out.txt");
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
}

}  // namespace
}  // namespace dps_e2e
