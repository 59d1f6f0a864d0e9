// Compressed input and output (issue 16): .gz and .zst corpora are read and
// written as streams; the result is the uncompressed run's bytes, compressed;
// other JSONL fields stay byte-identical; a damaged compressed input is exit 1
// naming the file and a byte offset, with nothing under the output's name.
// The system's gzip and zstd tools make the inputs and check the outputs, so
// the files are the ones those tools read and write.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "dpsanitize/io/byte_source.h"
#include "dpsanitize/io/compressor.h"
#include "e2e/run_binary.h"

namespace dps_e2e {
namespace {

using nlohmann::json;

// Runs a shell command in `dir` (tools only, fixed arguments).
int Shell(const std::string& dir, const std::string& command) {
  return std::system(("cd '" + dir + "' && " + command).c_str());
}

// A JSONL corpus whose other fields are awkward to re-encode: escapes,
// non-ASCII, numbers written unusually, nested values, and the text field
// not first.
std::string AwkwardJsonl(size_t records) {
  const std::vector<std::string> lines = SampleLines();
  std::string jsonl;
  for (size_t i = 0; i < records; ++i) {
    std::string t = lines[i % lines.size()];
    t.pop_back();
    jsonl += "{\"id\": " + std::to_string(i) +
             ",\"meta\":{\"src\":\"caf\\u00e9 \\\"q\\\"\", \"x\":1.50e2}, " +
             "\"text\":" + json(t).dump() + " ,\"tail\":[true,null,\"\xC3\xA9\"]}\n";
  }
  return jsonl;
}

// The line without its "text" value: the bytes before `"text":` and after the
// value's closing quote (the value is a JSON string; escaped quotes skipped).
std::string WithoutText(const std::string& line) {
  const size_t key = line.find("\"text\":");
  if (key == std::string::npos) return line;
  size_t open = line.find('"', key + 7);
  size_t end = open + 1;
  while (end < line.size() && line[end] != '"') end += line[end] == '\\' ? 2 : 1;
  return line.substr(0, key) + line.substr(end + 1);
}

class CompressTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    dir_.Write("key", std::string(40, 'k'));
    ASSERT_EQ(::chmod(dir_.File("key").c_str(), 0600), 0);
  }
  RunResult Run(std::vector<std::string> more, const RunOptions& options = {}) {
    std::vector<std::string> args{"--mechanism", "em", "--key-file", "key"};
    args.insert(args.end(), more.begin(), more.end());
    RunOptions o = options;
    if (o.cwd.empty()) o.cwd = dir_.path();
    return RunBinary(Arguments(args, "3"), o);
  }
  std::string Decompress(const std::string& tool, const std::string& file) {
    EXPECT_EQ(Shell(dir_.path(), tool + " -dc " + file + " > decompressed.tmp"), 0);
    const std::string d = ReadFile(dir_.File("decompressed.tmp"));
    std::remove(dir_.File("decompressed.tmp").c_str());
    return d;
  }
};

TEST_F(CompressTest, JsonlZstRoundTripsWithOtherFieldsByteIdentical) {
  const std::string jsonl = AwkwardJsonl(300);
  dir_.Write("corpus.jsonl", jsonl);
  ASSERT_EQ(Shell(dir_.path(), "zstd -q -k corpus.jsonl"), 0);
  const RunResult plain = Run({"--text-field", "text", "corpus.jsonl", "plain.jsonl"});
  ASSERT_EQ(plain.exit_code, 0) << plain.Describe();
  const RunResult z = Run({"--text-field", "text", "corpus.jsonl.zst", "out.jsonl.zst"});
  ASSERT_EQ(z.exit_code, 0) << z.Describe();

  EXPECT_EQ(Shell(dir_.path(), "zstd -q -t out.jsonl.zst"), 0);  // the tool accepts it
  const std::string out = Decompress("zstd", "out.jsonl.zst");
  EXPECT_EQ(out, ReadFile(dir_.File("plain.jsonl")));
  const std::vector<std::string> in_lines = SplitLines(jsonl), out_lines = SplitLines(out);
  ASSERT_EQ(out_lines.size(), in_lines.size());
  size_t changed = 0;
  for (size_t i = 0; i < in_lines.size(); ++i) {
    ASSERT_EQ(WithoutText(out_lines[i]), WithoutText(in_lines[i])) << "record " << i;
    changed += out_lines[i] != in_lines[i];
  }
  EXPECT_GT(changed, in_lines.size() / 2);  // the text was rewritten

  // The ledger describes the compressed file as it is on disk.
  const json ledger = json::parse(ReadFile(dir_.File("out.jsonl.zst.ledger.json")));
  EXPECT_EQ(ledger["outputs"][0]["compression"], "zstd");
  EXPECT_FALSE(json::parse(ReadFile(dir_.File("plain.jsonl.ledger.json")))["outputs"][0].contains(
      "compression"));
  const RunResult verify =
      RunBinary({"ledger", "verify", "out.jsonl.zst.ledger.json", "out.jsonl.zst"}, {dir_.path()});
  EXPECT_EQ(verify.exit_code, 0) << verify.Describe();
  // --skip-done recognises the finished compressed output.
  const RunResult again =
      Run({"--skip-done", "--text-field", "text", "corpus.jsonl.zst", "out.jsonl.zst"});
  EXPECT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_NE(again.err.find("already done"), std::string::npos) << again.err;
}

TEST_F(CompressTest, GzipTextRoundTripsAndDoesNotDependOnThreads) {
  const std::string text = SampleOfSize(300000);
  dir_.Write("in.txt", text);
  ASSERT_EQ(Shell(dir_.path(), "gzip -k in.txt"), 0);
  const RunResult plain = Run({"in.txt", "plain.txt"});
  ASSERT_EQ(plain.exit_code, 0) << plain.Describe();
  for (const std::string threads : {"1", "2"}) {
    const RunResult r = Run({"--threads", threads, "in.txt.gz", "out" + threads + ".txt.gz"});
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
  }
  EXPECT_EQ(Shell(dir_.path(), "gzip -t out1.txt.gz"), 0);
  EXPECT_EQ(Decompress("gzip", "out1.txt.gz"), ReadFile(dir_.File("plain.txt")));
  EXPECT_EQ(ReadFile(dir_.File("out1.txt.gz")), ReadFile(dir_.File("out2.txt.gz")));
}

TEST_F(CompressTest, StdinIsRecognisedAndStdoutCompressedOnRequest) {
  const std::string text = SampleOfSize(50000);
  dir_.Write("in.txt", text);
  ASSERT_EQ(Shell(dir_.path(), "zstd -q -k in.txt"), 0);
  const RunResult plain = Run({"in.txt", "plain.txt"});
  ASSERT_EQ(plain.exit_code, 0) << plain.Describe();
  RunOptions o(dir_.path());
  o.stdin_file = dir_.File("in.txt.zst");
  const RunResult r = Run({"--no-ledger", "--compress", "gzip", "-", "-"}, o);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  dir_.Write("stdout.gz", r.out);
  EXPECT_EQ(Decompress("gzip", "stdout.gz"), ReadFile(dir_.File("plain.txt")));
  // --compress none writes a .gz name uncompressed.
  const RunResult none = Run({"--compress", "none", "in.txt", "raw.gz"});
  ASSERT_EQ(none.exit_code, 0) << none.Describe();
  EXPECT_EQ(ReadFile(dir_.File("raw.gz")), ReadFile(dir_.File("plain.txt")));
}

// A .csv.gz round trip: the header and every byte outside the rewritten
// column (other columns with commas and doubled quotes, the quoting) kept.
TEST_F(CompressTest, CsvGzRoundTripsWithOtherFieldsByteIdentical) {
  const std::vector<std::string> lines = SampleLines();
  std::string csv = "id,label,text,tail\r\n";
  std::vector<std::pair<std::string, std::string>> frames;  // each row's prefix and suffix
  for (size_t i = 0; i < 200; ++i) {
    std::string t = lines[i % lines.size()];
    t.pop_back();
    std::string quoted;
    for (char ch : t) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    const std::string prefix = std::to_string(i) + ",\"pos, \"\"neg\"\"\",";
    const std::string suffix = ",caf\xC3\xA9 " + std::to_string(i * 7) + "\r\n";
    frames.emplace_back(prefix, suffix);
    csv += prefix + "\"" + quoted + "\"" + suffix;
  }
  dir_.Write("data.csv", csv);
  ASSERT_EQ(Shell(dir_.path(), "gzip -k data.csv"), 0);
  const RunResult plain = Run({"--text-column", "text", "data.csv", "plain.csv"});
  ASSERT_EQ(plain.exit_code, 0) << plain.Describe();
  const RunResult z = Run({"--text-column", "text", "data.csv.gz", "out.csv.gz"});
  ASSERT_EQ(z.exit_code, 0) << z.Describe();
  EXPECT_EQ(Shell(dir_.path(), "gzip -t out.csv.gz"), 0);
  const std::string out = Decompress("gzip", "out.csv.gz");
  EXPECT_EQ(out, ReadFile(dir_.File("plain.csv")));
  ASSERT_EQ(out.rfind("id,label,text,tail\r\n", 0), 0u);
  // Rows are single lines here (no newline inside a field): check each.
  std::vector<std::string> rows;
  for (size_t b = out.find('\n') + 1; b < out.size();) {
    const size_t e = out.find('\n', b);
    rows.push_back(out.substr(b, e - b + 1));
    b = e + 1;
  }
  ASSERT_EQ(rows.size(), frames.size());
  size_t changed = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& [prefix, suffix] = frames[i];
    ASSERT_EQ(rows[i].rfind(prefix, 0), 0u) << "row " << i;
    ASSERT_GE(rows[i].size(), prefix.size() + suffix.size());
    ASSERT_EQ(rows[i].substr(rows[i].size() - suffix.size()), suffix) << "row " << i;
    changed += rows[i] != csv.substr(csv.find(prefix), rows[i].size());
  }
  EXPECT_GT(changed, rows.size() / 2);
  const json ledger = json::parse(ReadFile(dir_.File("out.csv.gz.ledger.json")));
  EXPECT_EQ(ledger["outputs"][0]["compression"], "gzip");
  EXPECT_EQ(ledger["input"]["format"], "csv");
}

// Damage anywhere: exit 1, one line naming the file and a byte offset, the
// previous output (and ledger) left as they were, no temporary file left.
TEST_F(CompressTest, DamagedInputIsAnErrorNamingFileAndByteAndLeavesNothing) {
  dir_.Write("in.txt", SampleOfSize(400000));
  ASSERT_EQ(Shell(dir_.path(), "gzip -k in.txt && zstd -q -k in.txt"), 0);
  const std::string gz = ReadFile(dir_.File("in.txt.gz"));
  const std::string zst = ReadFile(dir_.File("in.txt.zst"));
  std::string flipped_gz = gz, flipped_zst = zst;
  flipped_gz[gz.size() / 2] ^= 0x55;
  flipped_zst[zst.size() / 2] ^= 0x55;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"cut.txt.gz", gz.substr(0, gz.size() * 2 / 3)},
      {"cut.txt.zst", zst.substr(0, zst.size() * 2 / 3)},
      {"flip.txt.gz", flipped_gz},
      {"flip.txt.zst", flipped_zst},
      {"trailer.txt.gz", gz.substr(0, gz.size() - 3)},
      {"plain.txt.gz", "not compressed at all\n"},
  };
  dir_.Write("out.txt", "previous output\n");
  dir_.Write("out.txt.ledger.json", "{}\n");
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    dir_.Write(name, bytes);
    const std::vector<std::string> before = ListDir(dir_.path());
    const RunResult r = Run({name, "out.txt"});
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_EQ(CountLines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("dpsanitize: " + name + ": ", 0), 0u) << r.err;
    if (name != "plain.txt.gz") {
      EXPECT_NE(r.err.find(" byte "), std::string::npos) << r.err;
    }
    EXPECT_EQ(ListDir(dir_.path()), before);
    EXPECT_EQ(ReadFile(dir_.File("out.txt")), "previous output\n");
    EXPECT_EQ(ReadFile(dir_.File("out.txt.ledger.json")), "{}\n");
  }
}

TEST_F(CompressTest, CompressedInputCannotBeSharded) {
  dir_.Write("in.txt", SampleOfSize(20000));
  ASSERT_EQ(Shell(dir_.path(), "gzip -k in.txt && cp in.txt.gz hidden.txt"), 0);
  for (const std::string in : {"in.txt.gz", "hidden.txt"}) {
    const RunResult r = Run({"--shard", "0/2", in, "part0.txt"});
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    EXPECT_NE(r.err.find("gzip-compressed"), std::string::npos) << r.err;
    EXPECT_FALSE(Exists(dir_.File("part0.txt")));
  }
}

}  // namespace
}  // namespace dps_e2e
