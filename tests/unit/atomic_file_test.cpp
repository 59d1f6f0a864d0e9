#include "dpsanitize/write/atomic_file.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

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

}  // namespace
}  // namespace dpsanitize
