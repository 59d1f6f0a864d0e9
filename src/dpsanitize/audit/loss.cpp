// Privacy loss of a pair (spec section 7):
//   max over outputs y of |ln P[M(w) = y] - ln P[M(w') = y]| / d(w, w').
// With an interval for each log-probability, max(0, lo_a - hi_b, lo_b - hi_a)
// is a certified lower bound of the loss at y, and max(hi_a - lo_b,
// hi_b - lo_a) an upper bound; for exact laws both are the loss itself.
//
// Monte Carlo laws: exact binomial intervals (Clopper and Pearson,
// Biometrika 1934) of each output's probability under each word,
// Bonferroni-corrected over the outputs of the pair, so that all of them
// hold at once with probability 1 - alpha and the largest lower bound is a
// lower confidence bound of the loss over the observed outputs.
#include "dpsanitize/audit/loss.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>

#include "dpsanitize/audit/pairs.h"
#include "dpsanitize/core/intervals.h"

namespace dpsanitize {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr double kInf = std::numeric_limits<double>::infinity();

double Gap(double a, double b) {  // a - b with -inf handling: a lower bound of a loss
  if (a == kNegInf) return kNegInf;
  if (b == kNegInf) return kInf;
  return a - b;
}

double Median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

}  // namespace

Status BoundedPairLoss(const OutputLaw& law, const WordLaw& lw, const WordLaw& lw2,
                       const AuditOptions& opt, const Vocabulary& vocab, AuditPair* out) {
  DPS_ASSIGN_OR_RETURN(std::unique_ptr<OutputBounds> bw, law.Bounds(lw));
  DPS_ASSIGN_OR_RETURN(std::unique_ptr<OutputBounds> bw2, law.Bounds(lw2));
  const double d = out->distance;
  const double log_typ = std::log(opt.typical_threshold);
  double worst = 0;
  WordId worst_y = out->w;
  auto consider = [&](double lo_loss, WordId y) {
    if (lo_loss > worst) {
      worst = lo_loss;
      worst_y = y;
    }
  };
  // Outputs listed by either word's law.
  std::vector<WordId> ys(bw->Listed());
  ys.insert(ys.end(), bw2->Listed().begin(), bw2->Listed().end());
  std::sort(ys.begin(), ys.end());
  ys.erase(std::unique(ys.begin(), ys.end()), ys.end());
  double typ_lo = 0, typ_hi = 0, typ_est = 0;
  WordId typ_y = out->w;
  size_t typical = 0;
  for (WordId y : ys) {
    const double ea = bw->Estimate(y);
    const double eb = bw2->Estimate(y);
    const bool in1 = ea != kNegInf;
    const bool in2 = eb != kNegInf;
    const bool is_typical = (in1 && ea >= log_typ) || (in2 && eb >= log_typ);
    // Lower bounds can be costly (tg past its depth): only typical outputs
    // need them on both sides.
    const LogInterval a = bw->Interval(y, is_typical);
    const LogInterval b = bw2->Interval(y, is_typical);
    const double lo = std::max({0.0, Gap(a.lo, b.hi), Gap(b.lo, a.hi)});
    consider(lo, y);
    if (is_typical) {
      ++typical;
      const double hi = std::max(Gap(a.hi, b.lo), Gap(b.hi, a.lo));
      // Estimate: computed values where there are some, else the middle of the bounds.
      const double ma = in1 ? ea : 0.5 * (a.lo + a.hi);
      const double mb = in2 ? eb : 0.5 * (b.lo + b.hi);
      typ_lo = std::max(typ_lo, lo);
      typ_hi = std::max(typ_hi, hi);
      if (std::fabs(ma - mb) >= typ_est) {
        typ_est = std::fabs(ma - mb);
        typ_y = y;
      }
    }
  }
  // Outputs no list holds, lower-bounded under one word and upper-bounded
  // under the other: the rare outputs that make a certified law's worst case.
  for (int dir = 0; dir < 2; ++dir) {
    const OutputBounds& low = dir == 0 ? *bw2 : *bw;
    const OutputBounds& up = dir == 0 ? *bw : *bw2;
    DPS_ASSIGN_OR_RETURN(std::vector<FarOutput> far, law.FarOutputs(low, up, opt.far_candidates));
    for (const FarOutput& f : far) consider(std::max(0.0, Gap(f.log_lower, f.log_upper)), f.y);
  }
  // Outputs the implementation can give for one word and never for the
  // other; counted only when both lists reach the implementation's limit.
  const std::optional<uint64_t> k_impl = law.ImplementationMaxRank();
  if (k_impl && *k_impl < lw.outputs.size() && *k_impl < lw2.outputs.size()) {
    double mass[2] = {0, 0};
    for (int side = 0; side < 2; ++side) {
      const WordLaw& l = side == 0 ? lw : lw2;
      const OutputBounds& other = side == 0 ? *bw2 : *bw;
      for (size_t r = 0; r <= *k_impl; ++r) {
        if (other.Rank(l.outputs[r]) > *k_impl) {
          ++out->impossible_outputs;
          mass[side] += std::exp(l.log_p[r]);
        }
      }
    }
    out->impossible_mass = std::max(mass[0], mass[1]);
  }
  out->worst_lower = worst / d;
  out->worst_output = std::string(vocab.word(worst_y));
  out->worst_rank_w = bw->Rank(worst_y);
  out->worst_rank_w2 = bw2->Rank(worst_y);
  out->typical_lower = typ_lo / d;
  out->typical_upper = typ_hi / d;
  out->typical_estimate = typ_est / d;
  out->typical_outputs = typical;
  out->typical_output = std::string(vocab.word(typ_y));
  out->typical_rank_w = bw->Rank(typ_y);
  out->typical_rank_w2 = bw2->Rank(typ_y);
  return Status::Ok();
}

Status MonteCarloPairLoss(const WordLaw& a, const WordLaw& b, const AuditOptions& opt,
                          const Vocabulary& vocab, AuditPair* out) {
  if (a.draws == 0 || a.draws != b.draws || a.counts.size() != a.outputs.size() ||
      b.counts.size() != b.outputs.size()) {
    return InternalError("audit: Monte Carlo laws of different draws");
  }
  const uint64_t samples = a.draws;
  // Both lists are sorted by id: their union is every output observed.
  std::vector<WordId> ys;
  std::set_union(a.outputs.begin(), a.outputs.end(), b.outputs.begin(), b.outputs.end(),
                 std::back_inserter(ys));
  const double level = opt.alpha / (2.0 * static_cast<double>(ys.size()));
  std::unordered_map<uint64_t, Interval> cache;
  auto interval = [&](uint64_t c) -> StatusOr<Interval> {
    auto it = cache.find(c);
    if (it != cache.end()) return it->second;
    DPS_ASSIGN_OR_RETURN(Interval iv, ClopperPearson(c, samples, level));
    cache.emplace(c, iv);
    return iv;
  };
  auto count_of = [](const WordLaw& m, WordId y) -> uint64_t {
    auto it = std::lower_bound(m.outputs.begin(), m.outputs.end(), y);
    return it == m.outputs.end() || *it != y ? 0 : m.counts[it - m.outputs.begin()];
  };
  const double d = out->distance;
  double lower = 0, upper = 0, est = 0, well_lower = 0;
  WordId worst_y = out->w;
  size_t well = 0;
  for (WordId y : ys) {
    const uint64_t ca = count_of(a, y), cb = count_of(b, y);
    DPS_ASSIGN_OR_RETURN(Interval ia, interval(ca));
    DPS_ASSIGN_OR_RETURN(Interval ib, interval(cb));
    const double la = ia.lo > 0 ? std::log(ia.lo) : kNegInf;
    const double lb = ib.lo > 0 ? std::log(ib.lo) : kNegInf;
    const double lo = std::max({0.0, Gap(la, std::log(ib.hi)), Gap(lb, std::log(ia.hi))});
    if (lo > lower) {
      lower = lo;
      worst_y = y;
    }
    // Point estimates only where both counts are large enough to mean something.
    if (ca >= opt.min_count && cb >= opt.min_count) {
      ++well;
      est = std::max(
          est, std::fabs(std::log(static_cast<double>(ca)) - std::log(static_cast<double>(cb))));
      upper = std::max({upper, Gap(std::log(ia.hi), lb), Gap(std::log(ib.hi), la)});
      well_lower = std::max(well_lower, lo);
    }
  }
  out->worst_lower = lower / d;
  out->worst_output = std::string(vocab.word(worst_y));
  out->worst_rank_w = 0;
  out->worst_rank_w2 = 0;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  out->typical_lower = well > 0 ? well_lower / d : nan;
  out->typical_upper = well > 0 ? upper / d : nan;
  out->typical_estimate = well > 0 ? est / d : nan;
  out->typical_outputs = well;
  return Status::Ok();
}

std::vector<CategorySummary> SummariseCategories(const std::vector<AuditPair>& pairs) {
  std::vector<CategorySummary> out;
  for (size_t c = 0; c <= kNumPairCategories; ++c) {
    CategorySummary s;
    s.category = c < kNumPairCategories ? kPairCategories[c] : "all";
    std::vector<double> dist, worst, typical, mass;
    for (const AuditPair& p : pairs) {
      if (c < kNumPairCategories && p.category != kPairCategories[c]) continue;
      ++s.pairs;
      dist.push_back(p.distance);
      worst.push_back(p.worst_lower);
      s.max_worst = std::max(s.max_worst, p.worst_lower);
      if (std::isfinite(p.typical_estimate)) {
        typical.push_back(p.typical_estimate);
        s.max_typical = std::max(s.max_typical, p.typical_estimate);
      }
      s.exceeding += p.exceeds ? 1 : 0;
      s.typical_exceeding += p.typical_exceeds ? 1 : 0;
      s.impossible += p.impossible_outputs > 0 ? 1 : 0;
      mass.push_back(p.impossible_mass);
    }
    if (s.pairs == 0) continue;
    if (typical.empty()) s.max_typical = std::numeric_limits<double>::quiet_NaN();
    s.median_distance = Median(dist);
    s.median_worst = Median(worst);
    s.median_typical = Median(typical);
    s.median_impossible_mass = Median(mass);
    out.push_back(s);
  }
  return out;
}

}  // namespace dpsanitize
