#include "dpsanitize/pipeline/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace dpsanitize {

bool ProgressEnabled(const Config& c) {
  return c.progress == ProgressMode::kAlways ||
         (c.progress == ProgressMode::kAuto && !c.quiet && ::isatty(2));
}

StageLine::StageLine(bool enabled, std::string what)
    : enabled_(enabled), what_(std::move(what)), start_(std::chrono::steady_clock::now()) {}

void StageLine::Stage(const std::string& stage) {
  if (!enabled_) return;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string line = fmt::format("dpsanitize: {}: {} [{:.0f} s]", what_, stage, secs);
  std::fprintf(stderr, "\r%-78s", line.c_str());
  std::fflush(stderr);
  printed_ = true;
}

void StageLine::Finish() {
  if (enabled_ && printed_) {
    std::fprintf(stderr, "\r%78s\r", "");
    std::fflush(stderr);
    printed_ = false;
  }
}

ProgressMeter::ProgressMeter(bool enabled, uint64_t total_bytes)
    : enabled_(enabled),
      total_(total_bytes),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

void ProgressMeter::Update(uint64_t bytes, uint64_t documents, uint64_t words) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(250)) return;
  last_ = now;
  Print(bytes, documents, words);
}

void ProgressMeter::Print(uint64_t bytes, uint64_t documents, uint64_t words) {
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? words / secs : 0;
  std::string line = fmt::format("dpsanitize: {:.1f} MB", bytes / 1e6);
  if (total_ > 0) {
    line += fmt::format(" of {:.1f} MB ({:.0f}%)", total_ / 1e6, 100.0 * bytes / total_);
  }
  line += fmt::format(", {} documents, {:.0f}k words/s", documents, rate / 1e3);
  if (total_ > 0 && bytes > 0 && bytes < total_) {
    const double eta = secs * (static_cast<double>(total_) / bytes - 1);
    line += fmt::format(", ETA {}:{:02d}", static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
  }
  std::fprintf(stderr, "\r%-78s", line.c_str());
  std::fflush(stderr);
  printed_ = true;
}

void ProgressMeter::Finish() {
  if (enabled_ && printed_) {
    std::fprintf(stderr, "\r%78s\r", "");
    std::fflush(stderr);
  }
}

}  // namespace dpsanitize
