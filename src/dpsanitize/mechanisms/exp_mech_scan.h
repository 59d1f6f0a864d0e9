// The scan shared by the exponential mechanisms' exact law (exp_mech_law.cpp)
// and bem's weights (bem_weights.cpp): every distance from one word to the
// whole vocabulary, bitwise equal to Distance(), and ln Z(w) by a compensated
// sum. Internal to the mechanisms stage.
#ifndef DPSANITIZE_MECHANISMS_EXP_MECH_SCAN_H_
#define DPSANITIZE_MECHANISMS_EXP_MECH_SCAN_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "dpsanitize/core/vector_set.h"
#include "dpsanitize/mechanisms/exp_mech.h"

namespace dpsanitize {

// Neumaier-compensated running sum: the normaliser adds up to |V| terms of
// very different sizes, and its error enters every ln P of the word.
struct CompensatedSum {
  double sum = 0;
  double comp = 0;
  void Add(double t) {
    const double s = sum + t;
    comp += (std::fabs(sum) >= std::fabs(t)) ? (sum - s) + t : (t - s) + sum;
    sum = s;
  }
  double Value() const { return sum + comp; }
};

// The vocabulary re-laid for the distance scan: blocks of kScanLanes words, and
// within a block dimension-major (block b, dimension k, lane j holds
// coordinate k of word b kScanLanes + j); the last block is padded with zeros.
// Why: the scan is the cost of the law (|V| dim subtractions, squares and
// additions per word, 5 million for the default vocabulary), and each
// distance must be summed over dimensions in Distance()'s order to give the
// same bits. Summing kScanLanes words side by side keeps that order in every lane
// while the lanes fill a vector register; with the rows as stored, the
// compiler can only vectorise across dimensions, which reorders the sum. The
// copy costs |V| dim floats (20 MB for the default vocabulary), once per law.
constexpr size_t kScanLanes = 8;

class BlockedVectors {
 public:
  // Written once, in storage order; only the padding lanes are zeroed, so
  // the 20 MB are not first cleared and then overwritten (this runs at
  // start-up when a sanitize run states what its eps does).
  explicit BlockedVectors(const VectorSet& v)
      : dim_(v.dim),
        blocks_((v.n + kScanLanes - 1) / kScanLanes),
        data_(new float[blocks_ * kScanLanes * v.dim]) {
    for (size_t blk = 0; blk < blocks_; ++blk) {
      float* block = data_.get() + blk * kScanLanes * dim_;
      for (size_t j = 0; j < kScanLanes; ++j) {
        const size_t y = blk * kScanLanes + j;
        const float* row = y < v.n ? v.row(y) : nullptr;
        for (uint32_t k = 0; k < dim_; ++k) block[k * kScanLanes + j] = row ? row[k] : 0.0f;
      }
    }
  }
  uint32_t dim() const { return dim_; }
  size_t blocks() const { return blocks_; }
  size_t padded() const { return blocks_ * kScanLanes; }
  const float* data() const { return data_.get(); }

 private:
  uint32_t dim_;
  size_t blocks_;
  std::unique_ptr<float[]> data_;
};

// dist[i] = the distance of `a` (dim floats) to word i of `b`, for i below
// b.padded(); bitwise equal to Distance() (see exp_mech_scan.cpp).
void BlockDistances(const BlockedVectors& b, const float* a, double* dist);

// One word's law: distances, log weights and the normaliser.
struct Scan {
  std::vector<double> dist;  // d(w, y)
  std::vector<double> lw;    // ln alpha(y) - beta s(w, y)
  double max_lw = -std::numeric_limits<double>::infinity();
  double sum = 0;    // sum_y exp(lw(y) - max_lw), >= 1
  double log_z = 0;  // ln Z(w) = max_lw + ln sum
};

// Fills `s` for word w; `rel` (may be null) receives exp(lw(y) - max_lw),
// the weights relative to the heaviest.
void ScanWord(const VectorSet& v, const BlockedVectors& blocked, const ExpMechParams& p, WordId w,
              Scan* s, std::vector<double>* rel);

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_EXP_MECH_SCAN_H_
