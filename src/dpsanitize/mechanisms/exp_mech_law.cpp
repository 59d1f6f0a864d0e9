// The exact law of the exponential-mechanism selectors (spec section 2b),
// as an OutputLaw of kind kExact (output_law.h).
//
// Per word w, one scan of the vocabulary:
//   d(w, y)   for every y, double precision, bitwise equal to Distance();
//   lw(y)   = ln alpha(y) - beta min(d(w, y), gamma);
//   ln Z(w) = m + ln sum_y exp(lw(y) - m),  m = max_y lw(y);
//   ln P(y) = lw(y) - ln Z(w).
// Everything that matters for privacy stays in log space: an output of
// probability e^-500 (beta = 25, d = 20) has a finite, accurate ln P, which
// is what the audit compares between two words. Only the utility figures
// (p_unchanged, mean_distance, mean_rank, p_near10) use linear weights,
// where a term below 1e-308 of the total cannot matter.
//
// Why the law is recomputed in Bounds() rather than kept from Of(): the
// audit keeps every audited word's WordLaw (about 500 words) and calibrate
// calls Of() on 1,000; |V| doubles per word would be 400 kB each. For the
// default 50,000 words a Bounds() costs 3 to 4.5 ms of CPU and an Of() 4 to
// 5.5 ms with its sort (measured on a 2-core machine at load 6 to 8), and the
// audit needs two Bounds() per pair.
#include "dpsanitize/mechanisms/exp_mech_law.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "dpsanitize/mechanisms/exp_mech_scan.h"

namespace dpsanitize {
namespace {

constexpr size_t kNear = 10;  // WordLaw::p_near10: the 10 nearest other words

// Per-thread buffers: Of() runs on every audit thread and allocates nothing
// after its first word.
struct Workspace {
  Scan scan;
  std::vector<double> rel;
  std::vector<uint64_t> items, items_buffer;
  std::vector<WordId> order;
};

Workspace& ThreadWorkspace() {
  thread_local Workspace ws;
  return ws;
}

// The words y != w in (dist[y], y) order, the spec's candidate order, into
// `order`. A radix sort rather than std::sort, which cost as much as the
// distance scan (about 6 ms for 50,000 words here; this takes about 1):
//   * distances are >= 0, so the high 32 bits of a distance's bit pattern,
//     read as an unsigned integer, order like the value (to about 1e-6
//     relative); each word becomes one 64-bit item (those bits << 32 | y);
//   * the items start in increasing y, so a stable least-significant-digit
//     radix sort on the high half (three 11-bit digits; digits that are the
//     same for every item, such as the sign and most exponent bits, are
//     skipped) leaves equal high halves in increasing y: the tie-break;
//   * runs of equal high halves (distances equal to about 1e-6) are then put
//     in exact (distance, id) order by insertion sort; they hold one or two
//     words, or exact ties, which are already in id order.
void SortByDistanceThenId(const double* dist, size_t n, WordId w, std::vector<uint64_t>* items,
                          std::vector<uint64_t>* buffer, std::vector<WordId>* order) {
  constexpr int kBits = 11;
  constexpr int kDigits = 3;  // 33 bits >= the 32 of the high half
  constexpr size_t kRadix = size_t{1} << kBits;
  auto high = [dist](size_t y) {
    uint64_t bits = 0;
    static_assert(sizeof(bits) == sizeof(double));
    std::memcpy(&bits, &dist[y], sizeof bits);
    return bits >> 32;
  };
  items->clear();
  for (size_t y = 0; y < n; ++y) {
    if (y != w) items->push_back(high(y) << 32 | y);
  }
  const size_t m = items->size();
  buffer->resize(m);
  // Every digit's histogram in one read of the items.
  uint32_t count[kDigits][kRadix] = {};  // 24 kB on the stack: nothing allocated per word
  for (uint64_t it : *items) {
    for (int d = 0; d < kDigits; ++d) ++count[d][(it >> (32 + d * kBits)) & (kRadix - 1)];
  }
  for (int d = 0; d < kDigits; ++d) {
    uint32_t* c = count[d];
    if (std::any_of(c, c + kRadix, [m](uint32_t x) { return x == m; })) continue;
    uint32_t start = 0;
    for (size_t b = 0; b < kRadix; ++b) {
      const uint32_t k = c[b];
      c[b] = start;
      start += k;
    }
    const int shift = 32 + d * kBits;
    for (uint64_t it : *items) (*buffer)[c[(it >> shift) & (kRadix - 1)]++] = it;
    items->swap(*buffer);
  }
  order->resize(m);
  for (size_t i = 0; i < m; ++i) (*order)[i] = static_cast<WordId>((*items)[i] & 0xffffffffu);
  // Exact order within runs of equal high halves.
  auto before = [dist](WordId a, WordId b) {
    return dist[a] < dist[b] || (dist[a] == dist[b] && a < b);
  };
  for (size_t i = 1; i < m; ++i) {
    if (((*items)[i] >> 32) != ((*items)[i - 1] >> 32)) continue;
    const WordId x = (*order)[i];
    size_t j = i;
    while (j > 0 && ((*items)[j - 1] >> 32) == ((*items)[i] >> 32) && before(x, (*order)[j - 1])) {
      (*order)[j] = (*order)[j - 1];
      --j;
    }
    (*order)[j] = x;
  }
}

// ln P[M(w) = y] for every y of V, for one pair's loss.
class ExpMechBounds : public OutputBounds {
 public:
  ExpMechBounds(const std::vector<WordId>* listed, const VectorSet& v,
                const BlockedVectors& blocked, const ExpMechParams& p, WordId w)
      : listed_(listed), w_(w) {
    ScanWord(v, blocked, p, w, &scan_, nullptr);
  }
  const std::vector<WordId>& Listed() const override { return *listed_; }
  double Estimate(WordId y) const override { return scan_.lw[y] - scan_.log_z; }
  LogInterval Interval(WordId y, bool) const override {
    const double l = Estimate(y);
    return {l, l};
  }
  // 0 for w; else 1 + the number of other words before y in (distance, id)
  // order. A count rather than a sorted table: the audit asks for the ranks
  // of two outputs per pair, and a sort per Bounds() would cost more.
  uint64_t Rank(WordId y) const override {
    if (y == w_) return 0;
    const double dy = scan_.dist[y];
    uint64_t before = 0;
    const size_t n = scan_.dist.size();
    for (size_t u = 0; u < n; ++u) {
      if (u == w_) continue;
      const double du = scan_.dist[u];
      before += (du < dy || (du == dy && u < y)) ? 1 : 0;
    }
    return before + 1;
  }

 private:
  const std::vector<WordId>* listed_;
  WordId w_;
  Scan scan_;
};

class ExpMechOutputLaw : public OutputLaw {
 public:
  ExpMechOutputLaw(const ExpMechParams& p, VectorSet v) : p_(p), v_(v), blocked_(v), listed_(v.n) {
    std::iota(listed_.begin(), listed_.end(), WordId{0});
  }

  LawKind kind() const override { return LawKind::kExact; }

  StatusOr<WordLaw> Of(WordId w) const override {
    if (w >= v_.n) return InternalError("exponential mechanism law: word {} not in V", w);
    Workspace& ws = ThreadWorkspace();
    ScanWord(v_, blocked_, p_, w, &ws.scan, &ws.rel);
    const Scan& s = ws.scan;
    const std::vector<double>& rel = ws.rel;
    // P(y) = rel[y] / sum. Sums of rel-weighted figures, divided once.
    CompensatedSum mass, dist;
    for (size_t y = 0; y < v_.n; ++y) {
      mass.Add(rel[y] / s.sum);
      dist.Add(rel[y] * s.dist[y]);
    }
    // The other words in (distance, id) order: rank r + 1 is order[r].
    SortByDistanceThenId(s.dist.data(), v_.n, w, &ws.items, &ws.items_buffer, &ws.order);
    CompensatedSum rank, near;
    for (size_t r = 0; r < ws.order.size(); ++r) {
      const double t = rel[ws.order[r]];
      rank.Add(t * static_cast<double>(r + 1));
      if (r < kNear) near.Add(t);
    }
    WordLaw out;
    out.word = w;
    out.p_unchanged = rel[w] / s.sum;
    out.mean_distance = dist.Value() / s.sum;
    out.mean_rank = rank.Value() / s.sum;
    out.p_near10 = near.Value() / s.sum;
    // The one check a closed form allows: the probabilities add up to 1.
    out.numerics.max_sum_rule = std::fabs(mass.Value() - 1.0);
    return out;
  }

  StatusOr<std::unique_ptr<OutputBounds>> Bounds(const WordLaw& law) const override {
    if (law.word >= v_.n) {
      return InternalError("exponential mechanism law: word {} not in V", law.word);
    }
    return std::unique_ptr<OutputBounds>(
        std::make_unique<ExpMechBounds>(&listed_, v_, blocked_, p_, law.word));
  }

  LawReport Describe(const LawNumerics& numerics) const override {
    const bool truncated = std::isfinite(p_.gamma);
    const bool weighted = p_.log_alpha != nullptr;
    LawReport r;
    r.parameters = {{"beta", p_.beta},
                    {"gamma", truncated ? nlohmann::json(p_.gamma) : nlohmann::json()},
                    {"output_weights", weighted ? "per output (alpha)" : "uniform"},
                    // The termwise bound of spec section 2b, for any alpha:
                    // the claimed eps of em and tem; bem claims beta + L.
                    {"eps_bound_2beta", 2 * p_.beta}};
    r.sections["exact_law"] = {
        {"form", truncated ? "P[M(w)=y] ~ alpha(y) exp(-beta min(d(w,y), gamma))"
                           : "P[M(w)=y] ~ alpha(y) exp(-beta d(w,y))"},
        {"outputs_per_word", v_.n},
        {"method",
         "closed form over every output, log space, double precision, compensated "
         "log-sum-exp"},
        {"max_sum_rule_deviation", numerics.max_sum_rule}};
    std::string law = truncated ? fmt::format(
                                      "exp(-beta min(d, gamma)), beta = {:.6g}, "
                                      "gamma = {:.6g}",
                                      p_.beta, p_.gamma)
                                : fmt::format("exp(-beta d), beta = {:.6g}", p_.beta);
    if (weighted) law = "alpha(y) " + law + ", per-output alpha";
    r.text = fmt::format("law: P[M(w) = y] ~ {} (2 beta = {:.6g} bounds the loss for any alpha)\n",
                         law, 2 * p_.beta);
    r.text += fmt::format(
        "exact: ln P for all {} outputs of every audited word, double precision; sum-rule "
        "deviation <= {:.1e}\n",
        v_.n, numerics.max_sum_rule);
    return r;
  }

 private:
  ExpMechParams p_;
  VectorSet v_;
  BlockedVectors blocked_;      // v_ re-laid for the scan
  std::vector<WordId> listed_;  // 0 .. |V| - 1: an exact law lists every output
};

}  // namespace

StatusOr<std::unique_ptr<OutputLaw>> MakeExpMechOutputLaw(const ExpMechParams& params,
                                                          const LawContext& ctx) {
  if (ctx.vectors.data == nullptr || ctx.vectors.n == 0) {
    return InternalError("exponential mechanism law: empty vocabulary");
  }
  DPS_RETURN_IF_ERROR(ValidateExpMechParams(params, ctx.vectors.n));
  return std::unique_ptr<OutputLaw>(std::make_unique<ExpMechOutputLaw>(params, ctx.vectors));
}

}  // namespace dpsanitize
