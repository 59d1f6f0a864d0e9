// A progress line on stderr ("\r"-refreshed a few times a second): bytes and
// documents done, words per second, and the ETA when the input size is known.
// Counts only; never text.
#ifndef DPSANITIZE_PIPELINE_PROGRESS_H_
#define DPSANITIZE_PIPELINE_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "dpsanitize/core/config.h"

namespace dpsanitize {

// Whether a run shows progress lines: --progress always, or auto on a TTY
// unless --quiet.
bool ProgressEnabled(const Config& config);

// One refreshed line for a long computation made of named stages (bem's
// weights: minutes), with the elapsed time; cleared by Finish() or the
// destructor. Stage names hold counts only.
class StageLine {
 public:
  StageLine(bool enabled, std::string what);
  ~StageLine() { Finish(); }
  StageLine(const StageLine&) = delete;
  StageLine& operator=(const StageLine&) = delete;
  void Stage(const std::string& stage);
  void Finish();

 private:
  bool enabled_;
  std::string what_;
  std::chrono::steady_clock::time_point start_;
  bool printed_ = false;
};

class ProgressMeter {
 public:
  // `total_bytes` 0 when unknown.
  ProgressMeter(bool enabled, uint64_t total_bytes);
  void Update(uint64_t bytes, uint64_t documents, uint64_t words);
  void Finish();

 private:
  void Print(uint64_t bytes, uint64_t documents, uint64_t words);
  bool enabled_;
  uint64_t total_;
  std::chrono::steady_clock::time_point start_, last_;
  bool printed_ = false;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_PROGRESS_H_
