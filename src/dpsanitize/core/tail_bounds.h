// Tail bounds: a partition of the vocabulary into clusters and, for every
// word w and cluster c, a lower bound on the distance from w to the members
// of c other than w.
//
// Why: the exponential-mechanism samplers (mechanisms/exp_mech.h) draw words
// beyond the head (w and its nearest neighbours) by rejection against an
// envelope. With only "every tail word is at least as far as the K-th
// neighbour", a word of GloVe 6B at eps = 3 needs about 20 proposals (one
// distance each, a cache miss) per output. With a bound per cluster the
// envelope follows the real distances: 3.9 per token of the IMDb bench
// corpus with B = 256 (docs/performance.md). The bounds take a pass over
// all |V|^2 pairs, so `dpsanitize prepare` computes them once and stores
// them in the prepared file; a run only reads them.
//
// Exactness: the bounds are minima of Distance() itself (the double-precision
// function the samplers use), rounded *down* to a multiple of a power-of-two
// step, so bound(w, c) <= Distance(v, w, y) holds exactly for every member y
// != w of c, whatever the rounding of the individual distances.
//
// ComputeTailBounds (neighbors/tail_bounds_builder.h) builds them:
//   DPS_ASSIGN_OR_RETURN(OwnedTailBounds b, ComputeTailBounds(v, 256, threads));
//   const TailBounds t = b.view();  // t.Bound(w, c), t.Members(c)
#ifndef DPSANITIZE_CORE_TAIL_BOUNDS_H_
#define DPSANITIZE_CORE_TAIL_BOUNDS_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "dpsanitize/core/status.h"
#include "dpsanitize/core/vector_set.h"

namespace dpsanitize {

// A stored bound of kNoOtherMember: the cluster holds no word other than w.
inline constexpr uint16_t kNoOtherMember = 0xFFFF;

// A read-only view (of a prepared file's section or of OwnedTailBounds).
struct TailBounds {
  uint64_t vocab_size = 0;            // |V|: ids 0 .. vocab_size - 1
  uint32_t clusters = 0;              // B >= 1, every cluster non-empty
  double step = 0;                    // a power of two
  const uint32_t* offsets = nullptr;  // B + 1: cluster c is members[offsets[c], offsets[c+1])
  const uint32_t* members = nullptr;  // vocab_size ids, each exactly once
  const uint16_t* bounds = nullptr;   // vocab_size * B, row w

  bool present() const { return clusters > 0; }
  uint32_t Size(uint32_t c) const { return offsets[c + 1] - offsets[c]; }
  const uint32_t* Members(uint32_t c) const { return members + offsets[c]; }
  // Lower bound on Distance(w, y) for every y != w in cluster c; +inf when
  // there is no such y.
  double Bound(WordId w, uint32_t c) const {
    const uint16_t q = bounds[static_cast<size_t>(w) * clusters + c];
    return q == kNoOtherMember ? std::numeric_limits<double>::infinity() : q * step;
  }
};

// Structural checks on a view read from a file: B >= 1, step a positive power
// of two, offsets nondecreasing from 0 to vocab_size with no empty cluster,
// members a permutation of 0 .. vocab_size - 1. O(|V|), no distance computed
// (a bound's value cannot make the sampler read out of bounds; a wrong value
// makes its envelope invalid, which the prepared file's checks do not cover).
Status CheckTailBounds(const TailBounds& t);

struct OwnedTailBounds {
  uint64_t vocab_size = 0;
  uint32_t clusters = 0;
  double step = 0;
  std::vector<uint32_t> offsets, members;
  std::vector<uint16_t> bounds;
  TailBounds view() const {
    return {vocab_size, clusters, step, offsets.data(), members.data(), bounds.data()};
  }
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_CORE_TAIL_BOUNDS_H_
