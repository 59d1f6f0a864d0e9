// Privacy audit (spec section 7).
//
// tg (Xu, Feyisetan, Aggarwal, Xu, Teissier, FLAIRS 2021), for a source word
// with exact candidate distances d_0 = 0 <= d_1 <= ...: rank i wins when its
// score d_i + G_i is the smallest, so with f, S the density and survival
// function of the truncated Gumbel noise and pi_k the truncated Poisson pmf,
//   P[M(w) = rank i] = sum_{k >= i} pi_k int f(v - d_i) prod_{j <= k, j != i} S(v - d_j) dv.
// The sum over k is folded into the integrand by a backward recursion
// (c_K = 1, c_i = a_i + (1 - a_i) S(v - d_{i+1}) c_{i+1}), so that one
// vector-valued integral over v in [-D, D] gives every rank's probability at
// O(K) cost per point. The integral is computed by adaptive Gauss-Kronrod
// (7, 15)-point quadrature (Kronrod 1965; the QUADPACK rule qk15 of Piessens
// et al. 1983) on panels split at the kinks v = d_j - D, bisecting until
// every component's summed |K15 - G7| estimate is below a relative
// tolerance. Beyond the depth K the exact Poisson tail ln P(k >= r) (a
// log-sum-exp of lgamma terms) bounds each probability from above, and a
// single-threshold event bounds it from below (TgLogLowerBound).
//
// mvl (Feyisetan, Balle, Drake, Diethe, WSDM 2020): Monte Carlo with the
// library's sampler and an exact nearest-word search; exact binomial
// intervals (Clopper and Pearson, Biometrika 1934), Bonferroni-corrected
// over the outputs of each pair.
#include "dpsanitize/audit/audit.h"

#include <algorithm>
#include <atomic>
#include <boost/math/distributions/beta.hpp>
#include <chrono>
#include <cmath>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <numeric>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "dpsanitize/mechanisms/mvl.h"
#include "dpsanitize/mechanisms/samplers.h"
#include "dpsanitize/neighbors/faiss_index.h"
#include "dpsanitize/random/keyed_rng.h"

namespace dpsanitize {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kLn2 = 0.693147180559945309417232121458;

double LogAddExp(double a, double b) {
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}

// ln(1 - e^{-t}) for t >= 0 (Maechler, "Accurately computing log(1 - exp(-|a|))", 2012).
double Log1mExp(double t) {
  if (t <= 0) return kNegInf;
  return t < kLn2 ? std::log(-std::expm1(-t)) : std::log1p(-std::exp(-t));
}

// ln(1 - exp(-e^a)): for tiny e^a, 1 - exp(-t) = t (1 - t/2 + ...).
double Log1mExpOfLog(double a) {
  if (a < -30) return a - 0.5 * std::exp(a);
  return Log1mExp(std::exp(a));
}

// QUADPACK qk15: Kronrod nodes (descending, last = 0) and weights, and the
// weights of the embedded 7-point Gauss rule (nodes xgk[1], xgk[3], xgk[5], xgk[7]).
constexpr double kXgk[8] = {
    0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
    0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
    0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
    0.207784955007898467600689403773245, 0.0};
constexpr double kWgk[8] = {
    0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
    0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
    0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
    0.204432940075298892414161999234649, 0.209482141084727828012999174891714};
constexpr double kWg[4] = {0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
                           0.381830050505118944950369775488975,
                           0.417959183673469387755102040816327};

constexpr double kAbsTol = 1e-300;    // quadrature: absolute floor of the tolerance
constexpr double kResolved = 1e-250;  // smaller integrals count as unresolved (lower bound 0)

}  // namespace

// ---------------------------------------------------------------------------
// TruncatedGumbelLaw. With r = D/b, Phi(x) = exp(-e^{-x/b}):
//   Z = Phi(D) - Phi(-D) = Phi(D) (1 - exp(-2 sinh r))
//   P(G > x) = (Phi(D) - Phi(x)) / Z = Phi(D) (1 - exp(-u(x))) / Z,
//       u(x) = e^{-x/b} - e^{-r} = exp(-x/b + ln(1 - e^{-(D - x)/b}))
//   P(G <= x) = (Phi(x) - Phi(-D)) / Z = Phi(x) (1 - exp(-w(x))) / Z,
//       w(x) = e^{r} - e^{-x/b} = exp(r + ln(1 - e^{-(x + D)/b}))

TruncatedGumbelLaw::TruncatedGumbelLaw(double b, double delta) : b_(b), delta_(delta) {
  const double r = delta / b;
  exp_neg_ratio_ = std::exp(-r);
  log_z_ = -exp_neg_ratio_ + Log1mExp(2.0 * std::sinh(r));
  log_b_z_ = std::log(b) + log_z_;
  s_scale_ = std::exp(-exp_neg_ratio_ - log_z_);
}

double TruncatedGumbelLaw::LogPdf(double x) const {
  if (!(x >= -delta_ && x <= delta_)) return kNegInf;
  const double t = x / b_;
  return -t - std::exp(-t) - log_b_z_;
}

double TruncatedGumbelLaw::LogSurvival(double x) const {
  if (x <= -delta_) return 0.0;
  if (x >= delta_) return kNegInf;
  const double log_u = -x / b_ + Log1mExp((delta_ - x) / b_);
  return std::min(0.0, -exp_neg_ratio_ + Log1mExpOfLog(log_u) - log_z_);
}

double TruncatedGumbelLaw::LogCdf(double x) const {
  if (x <= -delta_) return kNegInf;
  if (x >= delta_) return 0.0;
  const double log_w = delta_ / b_ + Log1mExp((x + delta_) / b_);
  return std::min(0.0, -std::exp(-x / b_) + Log1mExpOfLog(log_w) - log_z_);
}

double TruncatedGumbelLaw::Survival(double x) const {
  if (x <= -delta_) return 1.0;
  if (x >= delta_) return 0.0;
  const double gap = (delta_ - x) / b_;
  // Far from D the difference e^{-x/b} - e^{-D/b} loses at most a factor
  // 1/(1 - e^{-1}) of relative accuracy; near D the log form keeps it.
  const double u =
      gap > 1.0 ? std::exp(-x / b_) - exp_neg_ratio_ : std::exp(-x / b_ + Log1mExp(gap));
  return std::min(1.0, s_scale_ * -std::expm1(-u));
}

double TruncatedGumbelLaw::Pdf(double x) const { return std::exp(LogPdf(x)); }

void TruncatedGumbelLaw::PdfAndSurvival(double x, double* pdf, double* survival) const {
  const double t = x / b_;
  const double ex = std::exp(-t);
  *pdf = std::exp(-t - ex - log_b_z_);
  const double gap = (delta_ - x) / b_;
  const double u = gap > 1.0 ? ex - exp_neg_ratio_ : std::exp(-t + Log1mExp(gap));
  *survival = std::min(1.0, s_scale_ * -std::expm1(-u));
}

// ---------------------------------------------------------------------------
// PoissonLogLaw

PoissonLogLaw::PoissonLogLaw(double mu, uint64_t kmax) : mu_(mu), kmax_(kmax) {
  log_tail_.assign(kmax + 2, kNegInf);
  const double log_mu = mu > 0 ? std::log(mu) : kNegInf;
  auto term = [&](uint64_t k) {
    if (mu == 0) return k == 0 ? 0.0 : kNegInf;
    const double kk = static_cast<double>(k);
    return kk * log_mu - mu - std::lgamma(kk + 1.0);
  };
  // From the top down: the smallest terms first.
  double acc = kNegInf;
  for (uint64_t k = kmax + 1; k-- > 0;) {
    acc = LogAddExp(acc, term(k));
    log_tail_[k] = acc;
  }
  log_norm_ = log_tail_[0];
  for (double& t : log_tail_) {
    if (t != kNegInf) t = std::min(0.0, t - log_norm_);
  }
  log_tail_[0] = 0.0;
}

double PoissonLogLaw::LogPmf(uint64_t k) const {
  if (k > kmax_) return kNegInf;
  if (mu_ == 0) return k == 0 ? 0.0 : kNegInf;
  const double kk = static_cast<double>(k);
  return kk * std::log(mu_) - mu_ - std::lgamma(kk + 1.0) - log_norm_;
}

double PoissonLogLaw::LogTailAtLeast(uint64_t r) const {
  if (r > kmax_) return kNegInf;
  return log_tail_[r];
}

// ---------------------------------------------------------------------------
// The exact law of tg.

namespace {

struct Panel {
  double a = 0, c = 0;
  std::vector<double> est, err;
};

class TgIntegrand {
 public:
  TgIntegrand(const std::vector<double>& dist, const TruncatedGumbelLaw& g,
              const std::vector<double>& alpha)
      : d_(dist), g_(g), alpha_(alpha), f_(dist.size()), s_(dist.size()) {}

  // out[i] += weight * integrand_i(v).
  void Accumulate(double v, double weight, double* out) {
    const size_t n = d_.size();
    const double delta = g_.delta();
    for (size_t j = 0; j < n; ++j) {
      const double x = v - d_[j];
      if (x <= -delta) {
        s_[j] = 1.0;
        f_[j] = x < -delta ? 0.0 : g_.Pdf(x);
      } else if (x >= delta) {
        s_[j] = 0.0;
        f_[j] = x > delta ? 0.0 : g_.Pdf(x);
      } else {
        g_.PdfAndSurvival(x, &f_[j], &s_[j]);
      }
    }
    // c_K = 1, c_i = a_i + (1 - a_i) S_{i+1} c_{i+1}; kept in c_ (reuse of a buffer).
    c_.resize(n);
    c_[n - 1] = 1.0;
    for (size_t i = n - 1; i-- > 0;) c_[i] = alpha_[i] + (1.0 - alpha_[i]) * s_[i + 1] * c_[i + 1];
    double prefix = weight;
    for (size_t i = 0; i < n && prefix != 0; ++i) {
      out[i] += f_[i] * prefix * c_[i];
      prefix *= s_[i];
    }
  }

 private:
  const std::vector<double>& d_;
  const TruncatedGumbelLaw& g_;
  const std::vector<double>& alpha_;
  std::vector<double> f_, s_, c_;
};

// Gauss-Kronrod 15 on [a, c] for every component.
void Gk15(TgIntegrand& fn, Panel* p, size_t n, std::vector<double>* kbuf,
          std::vector<double>* gbuf) {
  const double mid = 0.5 * (p->a + p->c);
  const double half = 0.5 * (p->c - p->a);
  kbuf->assign(n, 0.0);
  gbuf->assign(n, 0.0);
  std::vector<double> one(n);
  for (int k = 0; k < 8; ++k) {
    const int reps = k == 7 ? 1 : 2;
    for (int s = 0; s < reps; ++s) {
      const double x = mid + (s == 0 ? 1.0 : -1.0) * half * kXgk[k];
      std::fill(one.begin(), one.end(), 0.0);
      fn.Accumulate(x, 1.0, one.data());
      for (size_t i = 0; i < n; ++i) (*kbuf)[i] += kWgk[k] * one[i];
      if (k % 2 == 1) {
        for (size_t i = 0; i < n; ++i) (*gbuf)[i] += kWg[k / 2] * one[i];
      }
    }
  }
  p->est.resize(n);
  p->err.resize(n);
  for (size_t i = 0; i < n; ++i) {
    p->est[i] = half * (*kbuf)[i];
    p->err[i] = half * std::fabs((*kbuf)[i] - (*gbuf)[i]);
  }
}

}  // namespace

StatusOr<TgExactLaw> ComputeTgExactLaw(const std::vector<double>& dist,
                                       const TruncatedGumbelLaw& gumbel,
                                       const PoissonLogLaw& poisson,
                                       const QuadratureOptions& quad) {
  if (dist.empty() || dist[0] != 0.0) {
    return InternalError("tg exact law: the candidate list must start with the word itself");
  }
  const size_t n = dist.size();
  const size_t kk = n - 1;
  if (kk > poisson.kmax()) {
    return InternalError("tg exact law: depth {} exceeds kmax {}", kk, poisson.kmax());
  }
  for (size_t j = 1; j < n; ++j) {
    if (!std::isfinite(dist[j]) || dist[j] < dist[j - 1]) {
      return InternalError("tg exact law: candidate distances must be sorted and finite");
    }
  }
  const double delta = gumbel.delta();
  if (!(delta > 0) || !(gumbel.b() > 0)) {
    return InternalError("tg exact law: b and delta_max must be positive");
  }
  // cum[i] = ln sum_{k=i..K} pi_k; alpha[i] = pi_i / that sum.
  std::vector<double> log_pi(n), cum(n), alpha(n);
  for (size_t i = 0; i < n; ++i) log_pi[i] = poisson.LogPmf(i);
  double acc = kNegInf;
  for (size_t i = n; i-- > 0;) {
    acc = LogAddExp(acc, log_pi[i]);
    cum[i] = acc;
    alpha[i] = acc == kNegInf ? 1.0 : std::exp(log_pi[i] - acc);
  }
  // Panels between the kinks d_j - D.
  std::vector<double> cuts = {-delta, delta};
  for (size_t j = 1; j < n; ++j) {
    const double c = dist[j] - delta;
    if (c > -delta && c < delta) cuts.push_back(c);
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());

  TgIntegrand fn(dist, gumbel, alpha);
  std::vector<double> kbuf, gbuf;
  std::vector<Panel> panels;
  for (size_t p = 0; p + 1 < cuts.size(); ++p) {
    Panel panel;
    panel.a = cuts[p];
    panel.c = cuts[p + 1];
    Gk15(fn, &panel, n, &kbuf, &gbuf);
    panels.push_back(std::move(panel));
  }
  TgExactLaw law;
  std::vector<double> total(n), error(n), tol(n);
  bool converged = false;
  while (true) {
    std::fill(total.begin(), total.end(), 0.0);
    std::fill(error.begin(), error.end(), 0.0);
    for (const Panel& p : panels) {
      for (size_t i = 0; i < n; ++i) {
        total[i] += p.est[i];
        error[i] += p.err[i];
      }
    }
    converged = true;
    for (size_t i = 0; i < n; ++i) {
      tol[i] = quad.rel_tol * total[i] + kAbsTol;
      if (error[i] > tol[i]) converged = false;
    }
    if (converged || panels.size() >= quad.max_panels) break;
    // Bisect every panel that holds more than its share of some component's
    // allowed error.
    const double share = 1.0 / static_cast<double>(panels.size());
    std::vector<Panel> next;
    next.reserve(panels.size() * 2);
    bool split_any = false;
    for (Panel& p : panels) {
      double bad = 0;
      for (size_t i = 0; i < n; ++i) bad = std::max(bad, p.err[i] / tol[i]);
      const double mid = 0.5 * (p.a + p.c);
      if (bad > share && mid > p.a && mid < p.c) {
        Panel left, right;
        left.a = p.a;
        left.c = mid;
        right.a = mid;
        right.c = p.c;
        Gk15(fn, &left, n, &kbuf, &gbuf);
        Gk15(fn, &right, n, &kbuf, &gbuf);
        next.push_back(std::move(left));
        next.push_back(std::move(right));
        split_any = true;
      } else {
        next.push_back(std::move(p));
      }
    }
    panels.swap(next);
    if (!split_any) break;
  }
  law.converged = converged;
  law.panels = panels.size();
  law.log_p.resize(n);
  law.rel_err.resize(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    if (total[i] >= kResolved && cum[i] != kNegInf) {
      law.log_p[i] = cum[i] + std::log(total[i]);
      law.rel_err[i] = error[i] / total[i];
      law.max_rel_err = std::max(law.max_rel_err, law.rel_err[i]);
      sum += std::exp(law.log_p[i]);
    } else {
      law.log_p[i] = kNegInf;
      law.rel_err[i] = 0;
    }
  }
  law.log_tail = poisson.LogTailAtLeast(kk + 1);
  law.sum_rule = std::fabs(sum - (-std::expm1(law.log_tail)));
  return law;
}

double TgLogLowerBound(const double* dist, size_t r, const TruncatedGumbelLaw& gumbel,
                       const PoissonLogLaw& poisson) {
  const double log_pi = poisson.LogPmf(r);
  if (r == 0 || log_pi == kNegInf) return log_pi;  // rank 0: P >= P(k = 0)
  const double delta = gumbel.delta();
  const double lo = dist[r] - delta;  // F(x - d_r) = 0 at x <= lo
  const double width = delta - lo;    // S(x - d_0) = 0 at x >= D
  if (!(width > 0)) return kNegInf;
  // Groups of ranks [j, j + size) represented by d_j, their smallest distance.
  thread_local std::vector<std::pair<double, double>> groups;
  groups.clear();
  for (size_t j = 0; j < r;) {
    const size_t size = j < 64 ? 1 : std::max<size_t>(1, j / 64);
    const size_t end = std::min(r, j + size);
    groups.emplace_back(dist[j], static_cast<double>(end - j));
    j = end;
  }
  double best = kNegInf;
  auto value = [&](double x) {
    double s = gumbel.LogCdf(x - dist[r]);
    for (const auto& [d, count] : groups) {
      if (s == kNegInf) break;
      s += count * gumbel.LogSurvival(x - d);
    }
    return s;
  };
  for (int j = 1; j <= 15; ++j) best = std::max(best, value(lo + width * j / 16.0));
  for (int m = 9; m <= 56; ++m)
    best = std::max(
        best, value(lo + width * std::ldexp(1.0, -m / 2) * (m % 2 ? 0.70710678118654752 : 1.0)));
  // A margin for rounding (lgamma, sums of up to |V| logarithms): far below
  // anything the audit reports.
  const double bound = log_pi + best;
  return bound - 1e-10 * std::fabs(bound) - 1e-10;
}

StatusOr<Interval> ClopperPearson(uint64_t count, uint64_t n, double alpha) {
  if (n == 0 || count > n || !(alpha > 0 && alpha < 1)) {
    return InternalError("Clopper-Pearson: bad arguments ({} of {}, alpha {})", count, n, alpha);
  }
  Interval iv;
  try {
    const double k = static_cast<double>(count);
    const double nn = static_cast<double>(n);
    if (count > 0) {
      iv.lo =
          boost::math::quantile(boost::math::beta_distribution<double>(k, nn - k + 1), alpha / 2);
    }
    if (count < n) {
      iv.hi = boost::math::quantile(boost::math::complement(
          boost::math::beta_distribution<double>(k + 1, nn - k), alpha / 2));
    }
  } catch (const std::exception& e) {
    return InternalError("Clopper-Pearson ({} of {}): {}", count, n, e.what());
  }
  return iv;
}

// ---------------------------------------------------------------------------
// The audit.

namespace {

const char* const kCategories[] = {"nearest", "random", "distant", "dense", "sparse"};
constexpr size_t kNumCategories = 5;
constexpr uint64_t kPairDoc = 0x617564697400ULL;     // random streams of the pair sampling
constexpr uint64_t kMvlDoc = 0x6d766c0000000000ULL;  // + word id: Monte Carlo streams
constexpr size_t kDenseNeighbors = 10;               // dense/sparse pairs: w' among w's 10 nearest

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

size_t UniformIndex(WordRng& rng, size_t n) {
  const double u = rng.Uniform();
  return std::min(n - 1, static_cast<size_t>(u * static_cast<double>(n)));
}

double Median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Runs fn(i) for i in [0, n) on `threads` threads; returns the first error.
template <typename F>
Status ParallelFor(size_t n, unsigned threads, F&& fn) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first;
  auto work = [&] {
    while (true) {
      const size_t i = next.fetch_add(1);
      if (i >= n) return;
      Status s = fn(i);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first.ok()) first = s;
        next.store(n);
        return;
      }
    }
  };
  threads =
      std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(std::max<size_t>(n, 1))));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  return first;
}

struct PairSpec {
  size_t category;
  WordId w, w2;
};

// A word's full exact candidate list: rank_of[id] and dist[rank] (rank 0 = the word).
struct FullList {
  std::vector<uint32_t> rank_of;
  std::vector<double> dist;
  std::vector<WordId> id;
  void Build(const VectorSet& vs, WordId w, std::vector<Neighbor>* scratch) {
    ExactNeighborsScan(vs, w, vs.n - 1, scratch);
    rank_of.assign(vs.n, 0);
    dist.assign(vs.n, 0.0);
    id.assign(vs.n, w);
    for (size_t r = 0; r < scratch->size(); ++r) {
      rank_of[(*scratch)[r].id] = static_cast<uint32_t>(r + 1);
      dist[r + 1] = (*scratch)[r].dist;
      id[r + 1] = (*scratch)[r].id;
    }
  }
};

// Everything the tg audit keeps per audited word.
struct WordLaw {
  TgExactLaw law;
  std::vector<WordId> ids;   // ranks 0..K
  std::vector<double> dist;  // ranks 0..K
};

struct Sampled {
  std::vector<PairSpec> pairs;
  std::vector<WordId> utility;
  std::vector<int> decile;  // per word, 1..10
  std::vector<std::pair<double, double>> decile_range;
};

StatusOr<Sampled> SamplePairs(const VectorSet& vs, const AuditOptions& opt, size_t pairs,
                              size_t utility_words) {
  const size_t n = vs.n;
  Sampled out;
  DPS_ASSIGN_OR_RETURN(auto knn, ExactKnn::Create(vs));
  std::vector<WordId> all(n);
  std::iota(all.begin(), all.end(), 0);
  std::vector<std::vector<Neighbor>> nn;
  DPS_RETURN_IF_ERROR(knn->Neighbors(all, 1, &nn));
  // Density deciles by nearest-neighbour distance (1 = densest).
  std::vector<WordId> order(all);
  std::sort(order.begin(), order.end(), [&](WordId a, WordId b) {
    return nn[a][0].dist < nn[b][0].dist || (nn[a][0].dist == nn[b][0].dist && a < b);
  });
  out.decile.assign(n, 0);
  std::vector<std::vector<WordId>> members(10);
  out.decile_range.assign(10, {kInf, 0.0});
  for (size_t r = 0; r < n; ++r) {
    const int dec = static_cast<int>(std::min<size_t>(9, r * 10 / n));
    out.decile[order[r]] = dec + 1;
    members[dec].push_back(order[r]);
    auto& range = out.decile_range[dec];
    range.first = std::min(range.first, nn[order[r]][0].dist);
    range.second = std::max(range.second, nn[order[r]][0].dist);
  }
  const RunKey key = RunKey::FromSeed(opt.seed);
  std::vector<Neighbor> scratch;
  for (size_t c = 0; c < kNumCategories; ++c) {
    const size_t count = pairs / kNumCategories + (c < pairs % kNumCategories ? 1 : 0);
    WordRng rng(key, kPairDoc, static_cast<uint32_t>(c), 0);
    for (size_t i = 0; i < count; ++i) {
      PairSpec p{c, 0, 0};
      for (int attempt = 0; attempt < 1000; ++attempt) {
        switch (c) {
          case 0:  // nearest
            p.w = static_cast<WordId>(UniformIndex(rng, n));
            p.w2 = nn[p.w][0].id;
            break;
          case 1:  // random
            p.w = static_cast<WordId>(UniformIndex(rng, n));
            p.w2 = static_cast<WordId>(UniformIndex(rng, n));
            break;
          case 2: {  // distant: among the farthest 1% of w's list
            p.w = static_cast<WordId>(UniformIndex(rng, n));
            ExactNeighborsScan(vs, p.w, n - 1, &scratch);
            const size_t far = std::max<size_t>(1, (n - 1 + 99) / 100);
            p.w2 = scratch[n - 1 - far + UniformIndex(rng, far)].id;
            break;
          }
          default: {  // dense (decile 1) / sparse (decile 10): w' among w's nearest
            const auto& pool = members[c == 3 ? 0 : 9];
            p.w = pool[UniformIndex(rng, pool.size())];
            std::vector<std::vector<Neighbor>> lists;
            const size_t k = std::min(kDenseNeighbors, n - 1);
            DPS_RETURN_IF_ERROR(knn->Neighbors({p.w}, k, &lists));
            p.w2 = lists[0][UniformIndex(rng, lists[0].size())].id;
            break;
          }
        }
        if (p.w != p.w2 && Distance(vs, p.w, p.w2) > 0) break;
      }
      if (p.w == p.w2 || Distance(vs, p.w, p.w2) == 0) {
        return DataError("audit: cannot find {} pairs of distinct vectors", kCategories[c]);
      }
      out.pairs.push_back(p);
    }
  }
  WordRng urng(key, kPairDoc, 100, 0);
  for (size_t dec = 0; dec < 10; ++dec) {
    for (size_t i = 0; i < utility_words && !members[dec].empty(); ++i) {
      out.utility.push_back(members[dec][UniformIndex(urng, members[dec].size())]);
    }
  }
  return out;
}

// Log-probability interval of one output under one word.
struct LogInterval {
  double lo = kNegInf;
  double hi = 0;
};

struct TgContext {
  const VectorSet& vs;
  const TruncatedGumbelLaw& gumbel;
  const PoissonLogLaw& poisson;
  size_t depth;
  uint64_t k_impl;  // the sampler's largest k
};

// ln P[M(x) = rank r] bounds: exact (widened by the quadrature error) within
// the depth, tail and threshold bounds beyond. `need_lower` false skips the
// (costly) lower bound past the depth.
LogInterval RankInterval(const TgContext& ctx, const WordLaw& law, const FullList& full, size_t r,
                         bool need_lower) {
  LogInterval iv;
  // P <= P(k >= r) always; with a margin for rounding, as TgLogLowerBound.
  const double t = ctx.poisson.LogTailAtLeast(r);
  const double tail = t + 1e-10 * std::fabs(t) + 1e-10;
  if (r <= ctx.depth && law.law.log_p[r] != kNegInf) {
    const double e = law.law.rel_err[r];
    iv.lo = law.law.log_p[r] + std::log1p(-std::min(e, 0.5));
    iv.hi = std::min(tail, LogAddExp(law.law.log_p[r] + std::log1p(e), law.law.log_tail));
  } else {
    iv.hi = tail;
    if (need_lower) iv.lo = TgLogLowerBound(full.dist.data(), r, ctx.gumbel, ctx.poisson);
  }
  return iv;
}

double Gap(double a, double b) {  // a - b with -inf handling: a lower bound of a loss
  if (a == kNegInf) return kNegInf;
  if (b == kNegInf) return kInf;
  return a - b;
}

void AuditTgPair(const TgContext& ctx, const AuditOptions& opt, const WordLaw& lw,
                 const WordLaw& lw2, const FullList& fw, const FullList& fw2,
                 const Vocabulary& vocab, AuditPair* out) {
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
  // Outputs within the depth of either word.
  std::vector<WordId> ys(lw.ids);
  ys.insert(ys.end(), lw2.ids.begin(), lw2.ids.end());
  std::sort(ys.begin(), ys.end());
  ys.erase(std::unique(ys.begin(), ys.end()), ys.end());
  double typ_lo = 0, typ_hi = 0, typ_est = 0;
  WordId typ_y = out->w;
  size_t typical = 0;
  for (WordId y : ys) {
    const size_t r = fw.rank_of[y];
    const size_t r2 = fw2.rank_of[y];
    const bool in1 = r <= ctx.depth && lw.law.log_p[r] != kNegInf;
    const bool in2 = r2 <= ctx.depth && lw2.law.log_p[r2] != kNegInf;
    const bool is_typical =
        (in1 && lw.law.log_p[r] >= log_typ) || (in2 && lw2.law.log_p[r2] >= log_typ);
    const LogInterval a = RankInterval(ctx, lw, fw, r, is_typical);
    const LogInterval b = RankInterval(ctx, lw2, fw2, r2, is_typical);
    const double lo = std::max({0.0, Gap(a.lo, b.hi), Gap(b.lo, a.hi)});
    consider(lo, y);
    if (is_typical) {
      ++typical;
      const double hi = std::max(Gap(a.hi, b.lo), Gap(b.hi, a.lo));
      // Estimate: exact values where integrated, else the middle of the bounds.
      const double ma = in1 ? lw.law.log_p[r] : 0.5 * (a.lo + a.hi);
      const double mb = in2 ? lw2.law.log_p[r2] : 0.5 * (b.lo + b.hi);
      typ_lo = std::max(typ_lo, lo);
      typ_hi = std::max(typ_hi, hi);
      if (std::fabs(ma - mb) >= typ_est) {
        typ_est = std::fabs(ma - mb);
        typ_y = y;
      }
    }
  }
  // Outputs past the depth on the lower-bounded side: a few candidates per
  // direction, chosen by a cheap proxy of ln P(lower side) - ln P(upper side).
  for (int dir = 0; dir < 2; ++dir) {
    const FullList& low = dir == 0 ? fw2 : fw;
    const FullList& up = dir == 0 ? fw : fw2;
    std::vector<std::pair<double, WordId>> best;
    for (WordId y = 0; y < ctx.vs.n; ++y) {
      const size_t s = low.rank_of[y];
      if (s <= ctx.depth) continue;
      const double key = ctx.poisson.LogPmf(s) - std::log(static_cast<double>(s) + 1) -
                         ctx.poisson.LogTailAtLeast(up.rank_of[y]);
      if (best.size() < opt.far_candidates) {
        best.emplace_back(key, y);
        std::push_heap(best.begin(), best.end(), std::greater<>());
      } else if (!best.empty() && key > best.front().first) {
        std::pop_heap(best.begin(), best.end(), std::greater<>());
        best.back() = {key, y};
        std::push_heap(best.begin(), best.end(), std::greater<>());
      }
    }
    for (const auto& [key, y] : best) {
      const double l = TgLogLowerBound(low.dist.data(), low.rank_of[y], ctx.gumbel, ctx.poisson);
      const double t = ctx.poisson.LogTailAtLeast(up.rank_of[y]);
      const double u = t + 1e-10 * std::fabs(t) + 1e-10;
      consider(std::max(0.0, Gap(l, u)), y);
    }
  }
  // Outputs the implementation can give for one word and never for the other.
  if (ctx.k_impl <= ctx.depth) {
    double mass[2] = {0, 0};
    for (int side = 0; side < 2; ++side) {
      const WordLaw& l = side == 0 ? lw : lw2;
      const FullList& other = side == 0 ? fw2 : fw;
      for (size_t r = 0; r <= ctx.k_impl; ++r) {
        if (other.rank_of[l.ids[r]] > ctx.k_impl) {
          ++out->impossible_outputs;
          mass[side] += std::exp(l.law.log_p[r]);
        }
      }
    }
    out->impossible_mass = std::max(mass[0], mass[1]);
  }
  out->worst_lower = worst / d;
  out->worst_output = std::string(vocab.word(worst_y));
  out->worst_rank_w = fw.rank_of[worst_y];
  out->worst_rank_w2 = fw2.rank_of[worst_y];
  out->typical_lower = typ_lo / d;
  out->typical_upper = typ_hi / d;
  out->typical_estimate = typ_est / d;
  out->typical_outputs = typical;
  out->typical_output = std::string(vocab.word(typ_y));
  out->typical_rank_w = fw.rank_of[typ_y];
  out->typical_rank_w2 = fw2.rank_of[typ_y];
}

// Monte Carlo output counts of mvl for one word.
struct McCounts {
  std::unordered_map<WordId, uint64_t> counts;
  double sum_dist = 0;
};

Status McWord(const VectorSet& vs, const NearestWordFinder& finder, double eps, const RunKey& key,
              WordId w, uint64_t samples, McCounts* out) {
  constexpr size_t kChunk = 4096;
  const uint32_t dim = vs.dim;
  std::vector<float> z(kChunk * dim);
  std::vector<WordId> nearest(kChunk);
  for (uint64_t start = 0; start < samples; start += kChunk) {
    const size_t m = static_cast<size_t>(std::min<uint64_t>(kChunk, samples - start));
    for (size_t i = 0; i < m; ++i) {
      WordRng rng(key, kMvlDoc + w, 0, start + i);
      MvlNoisyPoint(vs.row(w), dim, eps, rng, z.data() + i * dim);
    }
    try {
      finder.FindNearest(z.data(), m, nearest.data());
    } catch (const std::exception& e) {
      return InternalError("audit: nearest-word search: {}", e.what());
    }
    for (size_t i = 0; i < m; ++i) {
      ++out->counts[nearest[i]];
      out->sum_dist += Distance(vs, w, nearest[i]);
    }
  }
  return Status::Ok();
}

Status AuditMvlPair(const McCounts& a, const McCounts& b, uint64_t samples, const AuditOptions& opt,
                    const Vocabulary& vocab, AuditPair* out) {
  std::vector<WordId> ys;
  for (const auto& [y, c] : a.counts) ys.push_back(y);
  for (const auto& [y, c] : b.counts) {
    if (!a.counts.count(y)) ys.push_back(y);
  }
  std::sort(ys.begin(), ys.end());
  const double level = opt.alpha / (2.0 * static_cast<double>(ys.size()));
  std::unordered_map<uint64_t, Interval> cache;
  auto interval = [&](uint64_t c) -> StatusOr<Interval> {
    auto it = cache.find(c);
    if (it != cache.end()) return it->second;
    DPS_ASSIGN_OR_RETURN(Interval iv, ClopperPearson(c, samples, level));
    cache.emplace(c, iv);
    return iv;
  };
  auto count_of = [](const McCounts& m, WordId y) -> uint64_t {
    auto it = m.counts.find(y);
    return it == m.counts.end() ? 0 : it->second;
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

void Summarise(AuditReport* r) {
  r->categories.clear();
  for (size_t c = 0; c <= kNumCategories; ++c) {
    CategorySummary s;
    s.category = c < kNumCategories ? kCategories[c] : "all";
    std::vector<double> dist, worst, typical, mass;
    for (const AuditPair& p : r->pairs) {
      if (c < kNumCategories && p.category != kCategories[c]) continue;
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
    r->categories.push_back(s);
  }
}

}  // namespace

StatusOr<AuditReport> RunAudit(const Embedding& embedding, const Vocabulary& vocab,
                               const Calibration& cal, const AuditOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool tg = opt.mechanism == MechanismKind::kTg;
  if (opt.mechanism != MechanismKind::kTg && opt.mechanism != MechanismKind::kMvl) {
    return UsageError("audit: --mechanism must be tg or mvl");
  }
  if (cal.mechanism != opt.mechanism) {
    return InternalError("audit: the calibration is for another mechanism");
  }
  if (!cal.eps) return UsageError("audit: --eps is required");
  const VectorSet vs = vocab.vectors();
  if (vs.n < 3) return DataError("audit: the vocabulary has only {} words", vs.n);
  const size_t pairs = opt.pairs > 0 ? opt.pairs : (tg ? 200 : 10);
  const size_t utility_words = opt.utility_words > 0 ? opt.utility_words : (tg ? 10 : 1);
  const unsigned threads =
      opt.threads > 0 ? opt.threads : std::max(1u, std::thread::hardware_concurrency());

  AuditReport report;
  report.mechanism = MechanismName(opt.mechanism);
  report.embedding = embedding.path();
  report.embedding_sha256 = embedding.content_sha256();
  report.vocab_size = vs.n;
  report.dim = vs.dim;
  report.eps = *cal.eps;
  report.eps_basis = cal.eps_basis;
  report.seed = opt.seed;
  report.delta_min = cal.stats.delta_min;

  DPS_ASSIGN_OR_RETURN(Sampled sampled, SamplePairs(vs, opt, pairs, utility_words));
  std::vector<WordId> words;
  {
    std::unordered_set<WordId> seen;
    for (const PairSpec& p : sampled.pairs) {
      for (WordId w : {p.w, p.w2}) {
        if (seen.insert(w).second) words.push_back(w);
      }
    }
    for (WordId w : sampled.utility) {
      if (seen.insert(w).second) words.push_back(w);
    }
  }
  report.audited_words = words.size();
  std::unordered_map<WordId, size_t> index_of;
  for (size_t i = 0; i < words.size(); ++i) index_of[words[i]] = i;
  report.seconds_setup = Seconds(t0);

  // Per-word utility: P(unchanged), E[d], E[rank].
  std::vector<double> p_same(words.size()), mean_d(words.size()), mean_rank(words.size(), 0);
  report.pairs.resize(sampled.pairs.size());
  for (size_t i = 0; i < sampled.pairs.size(); ++i) {
    const PairSpec& p = sampled.pairs[i];
    AuditPair& out = report.pairs[i];
    out.category = kCategories[p.category];
    out.w = p.w;
    out.w2 = p.w2;
    out.word = std::string(vocab.word(p.w));
    out.word2 = std::string(vocab.word(p.w2));
    out.distance = Distance(vs, p.w, p.w2);
  }

  if (tg) {
    const TgParams& params = cal.tg;
    report.b = params.b;
    report.mu = params.mu;
    report.delta_max = params.delta_max;
    const uint64_t kmax = vs.n - 1;
    const size_t depth = static_cast<size_t>(std::min<uint64_t>(opt.depth, kmax));
    report.depth = depth;
    report.quad_rel_tol = opt.quadrature.rel_tol;
    const TruncatedGumbelLaw gumbel(params.b, params.delta_max);
    const PoissonLogLaw poisson(params.mu, kmax);
    report.log_tail_beyond_depth = poisson.LogTailAtLeast(depth + 1);
    if (report.log_tail_beyond_depth >= std::log(opt.typical_threshold) - std::log(1e3)) {
      return UsageError(
          "audit: --depth {}: P(k > {}) = e^{:.1f} is not small against the typical-output "
          "threshold {:g}; use a larger depth",
          depth, depth, report.log_tail_beyond_depth, opt.typical_threshold);
    }
    // Uniforms are (j + 1/2) 2^-53, so the smallest is 2^-54.
    report.implementation_k_max = TruncatedPoisson(params.mu, kmax).Sample(0x1p-54);
    const TgContext ctx{vs, gumbel, poisson, depth, report.implementation_k_max};

    const auto t1 = std::chrono::steady_clock::now();
    std::vector<WordLaw> laws(words.size());
    DPS_RETURN_IF_ERROR(ParallelFor(words.size(), threads, [&](size_t i) -> Status {
      thread_local std::vector<Neighbor> scratch;
      const WordId w = words[i];
      ExactNeighborsScan(vs, w, depth, &scratch);
      WordLaw& wl = laws[i];
      wl.ids = {w};
      wl.dist = {0.0};
      for (const Neighbor& nb : scratch) {
        wl.ids.push_back(nb.id);
        wl.dist.push_back(nb.dist);
      }
      DPS_ASSIGN_OR_RETURN(wl.law, ComputeTgExactLaw(wl.dist, gumbel, poisson, opt.quadrature));
      double pd = 0, pr = 0;
      for (size_t r = 0; r < wl.dist.size(); ++r) {
        const double p = std::exp(wl.law.log_p[r]);
        pd += p * wl.dist[r];
        pr += p * static_cast<double>(r);
      }
      p_same[i] = std::exp(wl.law.log_p[0]);
      mean_d[i] = pd;
      mean_rank[i] = pr;
      return Status::Ok();
    }));
    for (const WordLaw& wl : laws) {
      report.max_quad_rel_err = std::max(report.max_quad_rel_err, wl.law.max_rel_err);
      report.max_sum_rule = std::max(report.max_sum_rule, wl.law.sum_rule);
      report.quad_converged = report.quad_converged && wl.law.converged;
    }
    report.seconds_laws = Seconds(t1);

    const auto t2 = std::chrono::steady_clock::now();
    DPS_RETURN_IF_ERROR(ParallelFor(sampled.pairs.size(), threads, [&](size_t i) -> Status {
      thread_local std::vector<Neighbor> scratch;
      thread_local FullList fw, fw2;
      AuditPair& out = report.pairs[i];
      fw.Build(vs, out.w, &scratch);
      fw2.Build(vs, out.w2, &scratch);
      AuditTgPair(ctx, opt, laws[index_of.at(out.w)], laws[index_of.at(out.w2)], fw, fw2, vocab,
                  &out);
      return Status::Ok();
    }));
    report.seconds_pairs = Seconds(t2);
  } else {
    report.samples = opt.samples;
    report.alpha = opt.alpha;
    report.min_count = opt.min_count;
    if (opt.samples == 0) return UsageError("audit: --samples must be positive");
    const auto t1 = std::chrono::steady_clock::now();
    DPS_ASSIGN_OR_RETURN(auto finder, MakeNearestWordFinder(vs, NearestSearch::kExact));
    const RunKey key = RunKey::FromSeed(opt.seed);
    std::vector<McCounts> mc(words.size());
    for (size_t i = 0; i < words.size(); ++i) {
      DPS_RETURN_IF_ERROR(McWord(vs, *finder, *cal.eps, key, words[i], opt.samples, &mc[i]));
      auto it = mc[i].counts.find(words[i]);
      const double nn = static_cast<double>(opt.samples);
      p_same[i] = it == mc[i].counts.end() ? 0.0 : static_cast<double>(it->second) / nn;
      mean_d[i] = mc[i].sum_dist / nn;
    }
    report.seconds_laws = Seconds(t1);
    const auto t2 = std::chrono::steady_clock::now();
    for (AuditPair& out : report.pairs) {
      DPS_RETURN_IF_ERROR(AuditMvlPair(mc[index_of.at(out.w)], mc[index_of.at(out.w2)], opt.samples,
                                       opt, vocab, &out));
    }
    report.seconds_pairs = Seconds(t2);
  }
  for (AuditPair& p : report.pairs) {
    p.exceeds = p.worst_lower > report.eps;
    p.typical_exceeds = p.typical_lower > report.eps;
  }
  Summarise(&report);
  // Utility by decile, over every audited word.
  for (int dec = 1; dec <= 10; ++dec) {
    DecileUtility u;
    u.decile = dec;
    u.nn_lo = sampled.decile_range[dec - 1].first;
    u.nn_hi = sampled.decile_range[dec - 1].second;
    for (size_t i = 0; i < words.size(); ++i) {
      if (sampled.decile[words[i]] != dec) continue;
      ++u.words;
      u.p_unchanged += p_same[i];
      u.mean_distance += mean_d[i];
      u.mean_rank += mean_rank[i];
    }
    if (u.words > 0) {
      const double k = static_cast<double>(u.words);
      u.p_unchanged /= k;
      u.mean_distance /= k;
      u.mean_rank /= k;
    }
    report.deciles.push_back(u);
  }
  report.seconds_total = Seconds(t0);
  return report;
}

// ---------------------------------------------------------------------------
// Output.

namespace {

nlohmann::json Finite(double x) {
  if (std::isfinite(x)) return x;
  return nullptr;
}

// A table cell: "-" for an undefined value (NaN), "inf" for an unresolved bound.
std::string Num(double x) {
  if (std::isnan(x)) return "-";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  return fmt::format("{:.4g}", x);
}

}  // namespace

nlohmann::json AuditReportToJson(const AuditReport& r) {
  using nlohmann::json;
  const bool tg = r.mechanism == "tg";
  json j;
  j["format"] = "dpsanitize-audit/1";
  j["mechanism"] = r.mechanism;
  j["embedding"] = r.embedding;
  j["embedding_sha256"] = r.embedding_sha256;
  j["vocab_size"] = r.vocab_size;
  j["dim"] = r.dim;
  j["claimed"] = {{"eps", r.eps}, {"basis", r.eps_basis}};
  j["seed"] = r.seed;
  j["audited_words"] = r.audited_words;
  if (tg) {
    j["parameters"] = {{"b", r.b},
                       {"mu", r.mu},
                       {"delta_max", r.delta_max},
                       {"delta_min", r.delta_min},
                       {"depth", r.depth},
                       {"log_p_k_beyond_depth", Finite(r.log_tail_beyond_depth)}};
    j["implementation"] = {
        {"k_max", r.implementation_k_max},
        {"note",
         "the sampler never draws k > k_max (uniform resolution 2^-54): outputs ranked beyond it "
         "have probability exactly 0 in the implementation"}};
    j["quadrature"] = {{"method", "adaptive Gauss-Kronrod (7, 15), panels split at the kinks"},
                       {"rel_tol", r.quad_rel_tol},
                       {"max_rel_err_estimate", r.max_quad_rel_err},
                       {"max_sum_rule_deviation", r.max_sum_rule},
                       {"converged", r.quad_converged}};
    j["loss_definitions"] = {
        {"worst_lower",
         "certified lower bound of max_y |ln P[M(w)=y] - ln P[M(w')=y]| / d(w, w') over all "
         "outputs"},
        {"typical",
         "over outputs with P >= 1e-6 under either word: certified [lower, upper] and "
         "the estimate from the exact laws"}};
  } else {
    j["parameters"] = {
        {"samples_per_word", r.samples}, {"alpha", r.alpha}, {"min_count", r.min_count}};
    j["loss_definitions"] = {
        {"worst_lower",
         "lower confidence bound (Clopper-Pearson, simultaneous at 1 - alpha per pair) of the loss "
         "over observed outputs"},
        {"typical",
         "over outputs seen at least min_count times under both words: point estimate and "
         "confidence interval [typical_lower, typical_upper] (null when there are none)"}};
  }
  json cats = json::array();
  for (const CategorySummary& s : r.categories) {
    cats.push_back(
        {{"category", s.category},
         {"pairs", s.pairs},
         {"median_distance", s.median_distance},
         {"median_worst_lower", s.median_worst},
         {"max_worst_lower", s.max_worst},
         {"median_typical_estimate", s.median_typical},
         {"max_typical_estimate", s.max_typical},
         {"exceeding_eps", s.exceeding},
         {"fraction_exceeding_eps", static_cast<double>(s.exceeding) / s.pairs},
         {"typical_exceeding_eps", s.typical_exceeding},
         {"fraction_typical_exceeding_eps", static_cast<double>(s.typical_exceeding) / s.pairs}});
    if (tg) {
      cats.back()["implementation_pairs_with_impossible_outputs"] = s.impossible;
      cats.back()["implementation_median_impossible_mass"] = s.median_impossible_mass;
    }
  }
  j["summary"] = cats;
  json dec = json::array();
  for (const DecileUtility& u : r.deciles) {
    json e = {{"decile", u.decile},
              {"nn_distance", {u.nn_lo, u.nn_hi}},
              {"words", u.words},
              {"p_unchanged", u.p_unchanged},
              {"mean_output_distance", u.mean_distance}};
    if (tg) e["mean_output_rank"] = u.mean_rank;
    dec.push_back(e);
  }
  j["utility_by_density_decile"] = dec;
  json ps = json::array();
  for (const AuditPair& p : r.pairs) {
    json e = {{"category", p.category},
              {"w", p.word},
              {"w2", p.word2},
              {"distance", p.distance},
              {"worst_lower", Finite(p.worst_lower)},
              {"worst_output", p.worst_output},
              {"typical_lower", Finite(p.typical_lower)},
              {"typical_upper", Finite(p.typical_upper)},
              {"typical_estimate", Finite(p.typical_estimate)},
              {"typical_outputs", p.typical_outputs},
              {"exceeds_eps", p.exceeds},
              {"typical_exceeds_eps", p.typical_exceeds}};
    if (tg) {
      e["worst_output_ranks"] = {p.worst_rank_w, p.worst_rank_w2};
      e["typical_output"] = p.typical_output;
      e["typical_output_ranks"] = {p.typical_rank_w, p.typical_rank_w2};
      e["implementation_impossible_outputs"] = p.impossible_outputs;
      e["implementation_impossible_mass"] = p.impossible_mass;
    }
    ps.push_back(e);
  }
  j["pairs"] = ps;
  j["seconds"] = {{"setup", r.seconds_setup},
                  {tg ? "exact_laws" : "monte_carlo", r.seconds_laws},
                  {"pairs", r.seconds_pairs},
                  {"total", r.seconds_total}};
  return j;
}

std::string FormatAuditTable(const AuditReport& r) {
  const bool tg = r.mechanism == "tg";
  std::string s;
  s += fmt::format("dpsanitize audit: {} on {} (|V| = {}, dim {}), {} pairs, seed {}\n",
                   r.mechanism, r.embedding, r.vocab_size, r.dim, r.pairs.size(), r.seed);
  s += fmt::format("claimed: eps = {:g} per unit distance, {}\n", r.eps, r.eps_basis);
  if (tg) {
    s += fmt::format(
        "noise: b = {:.6g}, mu = {:.6g}, delta_max = {:.6g}; exact laws over ranks 0..{} "
        "(P(k > {}) = e^{:.1f})\n",
        r.b, r.mu, r.delta_max, r.depth, r.depth, r.log_tail_beyond_depth);
    s += fmt::format(
        "quadrature: adaptive Gauss-Kronrod 7-15, estimated relative error <= {:.1e} (tolerance "
        "{:.0e}{}), sum-rule deviation <= {:.1e}\n",
        r.max_quad_rel_err, r.quad_rel_tol, r.quad_converged ? "" : ", NOT MET", r.max_sum_rule);
    s += "loss per unit distance: 'worst' = certified lower bound of the worst case over all\n"
         "outputs; 'typical' = exact loss over outputs with P >= 1e-6 under either word\n";
  } else {
    s += fmt::format(
        "Monte Carlo: {} draws per word; 'worst' = lower confidence bound (Clopper-Pearson, "
        "simultaneous {:g}% per pair) over all observed outputs;\n'typical' = estimate and "
        "confidence interval over outputs seen >= {} times under both words\n",
        r.samples, 100 * (1 - r.alpha), r.min_count);
  }
  s += "\n";
  s += fmt::format("{:<9} {:>5} {:>9} {:>12} {:>12} {:>12} {:>12} {:>14} {:>14}\n", "category",
                   "pairs", "median d", "worst med", "worst max", "typical med", "typical max",
                   "worst > eps", "typical > eps");
  for (const CategorySummary& c : r.categories) {
    s += fmt::format(
        "{:<9} {:>5} {:>9.3f} {:>12.4g} {:>12.4g} {:>12.4g} {:>12.4g} {:>8} {:>5.1f}% "
        "{:>8} {:>5.1f}%\n",
        c.category, c.pairs, c.median_distance, c.median_worst, c.max_worst, c.median_typical,
        c.max_typical, c.exceeding, 100.0 * static_cast<double>(c.exceeding) / c.pairs,
        c.typical_exceeding, 100.0 * static_cast<double>(c.typical_exceeding) / c.pairs);
  }
  if (tg) {
    s += fmt::format(
        "\nimplementation (a separate finding): the sampler never draws k > {}, so an output "
        "ranked\nbeyond {} in a word's list has probability exactly 0 there (infinite loss against "
        "a word\nthat can give it):\n",
        r.implementation_k_max, r.implementation_k_max);
    for (const CategorySummary& c : r.categories) {
      s += fmt::format(
          "  {:<9} {:>4} of {:>4} pairs have such outputs; median P(an output impossible for the "
          "other word) = {:.4f}\n",
          c.category, c.impossible, c.pairs, c.median_impossible_mass);
    }
  }
  s += "\nutility by density decile (nearest-neighbour distance; 1 = densest):\n";
  s += fmt::format("{:>6} {:>17} {:>6} {:>13} {:>13}{}\n", "decile", "NN distance", "words",
                   "P(unchanged)", "E[d(w, out)]", tg ? "       E[rank]" : "");
  for (const DecileUtility& u : r.deciles) {
    s += fmt::format("{:>6} {:>7.3f} - {:<7.3f} {:>6} {:>13.4f} {:>13.4f}", u.decile, u.nn_lo,
                     u.nn_hi, u.words, u.p_unchanged, u.mean_distance);
    if (tg) s += fmt::format(" {:>13.3f}", u.mean_rank);
    s += "\n";
  }
  s += "\npairs (losses per unit distance):\n";
  if (tg) {
    s += fmt::format("{:<9} {:<16} {:<16} {:>7} {:>11} {:<28} {:>10} {:>10} {:>10} {}\n",
                     "category", "w", "w'", "d", "worst >=", "at y (rank in w, in w')", "typ lower",
                     "typ exact", "typ upper", "typical y (ranks)");
  } else {
    s += fmt::format("{:<9} {:<16} {:<16} {:>7} {:>11} {:<16} {:>10} {:>10} {:>10}\n", "category",
                     "w", "w'", "d", "lower conf", "at output y", "typ lower", "typ est",
                     "typ upper");
  }
  for (const AuditPair& p : r.pairs) {
    if (tg) {
      s += fmt::format(
          "{:<9} {:<16} {:<16} {:>7.3f} {:>11} {:<28} {:>10} {:>10} {:>10} {}{}\n", p.category,
          p.word, p.word2, p.distance, Num(p.worst_lower),
          fmt::format("{} ({}, {})", p.worst_output, p.worst_rank_w, p.worst_rank_w2),
          Num(p.typical_lower), Num(p.typical_estimate), Num(p.typical_upper),
          fmt::format("{} ({}, {})", p.typical_output, p.typical_rank_w, p.typical_rank_w2),
          p.exceeds ? "  > eps" : "");
    } else {
      s += fmt::format("{:<9} {:<16} {:<16} {:>7.3f} {:>11} {:<16} {:>10} {:>10} {:>10}{}\n",
                       p.category, p.word, p.word2, p.distance, Num(p.worst_lower), p.worst_output,
                       Num(p.typical_lower), Num(p.typical_estimate), Num(p.typical_upper),
                       p.exceeds ? "  > eps" : "");
    }
  }
  s += fmt::format("\ntime: {:.1f} s (setup {:.1f} s, {} {:.1f} s, pairs {:.1f} s)\n",
                   r.seconds_total, r.seconds_setup, tg ? "exact laws" : "Monte Carlo",
                   r.seconds_laws, r.seconds_pairs);
  return s;
}

std::string AuditGnuplotScript(const AuditReport& r, const std::string& image_path) {
  const bool tg = r.mechanism == "tg";
  const bool svg =
      image_path.size() >= 4 && image_path.compare(image_path.size() - 4, 4, ".svg") == 0;
  auto quote = [](const std::string& x) {
    std::string q = "\"";
    for (char c : x) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    return q + "\"";
  };
  std::string s;
  s += svg ? "set terminal svg size 960,720 dynamic font \"sans,11\"\n"
           : "set terminal pngcairo size 960,720 font \"sans,10\"\n";
  s += "set output " + quote(image_path) + "\n";
  s += "set logscale y\nset grid\nset key below maxrows 4\n";
  // The top of the range: above every point and the eps line.
  double top = 4 * r.eps;
  for (const AuditPair& p : r.pairs) {
    for (double v : {p.worst_lower, p.typical_estimate, p.typical_upper}) {
      if (std::isfinite(v)) top = std::max(top, 2 * v);
    }
  }
  s += fmt::format("set yrange [*:{:.6g}]\n", top);
  s += "set xlabel \"d(w, w') (Euclidean embedding distance)\"\n";
  s += "set ylabel \"privacy loss per unit distance\"\n";
  s += "set title " +
       quote(fmt::format("dpsanitize audit: {} at eps = {:g} ({}), |V| = {}, {} pairs", r.mechanism,
                         r.eps, tg ? "nominal" : "proven", r.vocab_size, r.pairs.size())) +
       "\n";
  // Losses of 0 cannot be drawn on a log scale: they are lifted to a floor.
  const double floor = 1e-3 * r.eps;
  for (size_t c = 0; c < kNumCategories; ++c) {
    s += fmt::format("$c{} << EOD\n", c);
    for (const AuditPair& p : r.pairs) {
      if (p.category != kCategories[c]) continue;
      auto cell = [floor](double x) {
        return std::isnan(x) ? std::string("NaN") : fmt::format("{:.6g}", std::max(floor, x));
      };
      const double up = std::isinf(p.typical_upper) ? p.typical_estimate : p.typical_upper;
      s += fmt::format("{:.6g} {} {} {} {}\n", p.distance, cell(p.worst_lower),
                       cell(p.typical_estimate), cell(p.typical_lower), cell(up));
    }
    s += "EOD\n";
  }
  std::string plot = "plot ";
  for (size_t c = 0; c < kNumCategories; ++c) {
    if (tg) {
      plot += fmt::format(
          "$c{} using 1:2 with points pt 7 ps 0.8 lc {} title \"{}: worst case "
          "(lower bound)\", ",
          c, c + 1, kCategories[c]);
      plot += fmt::format(
          "$c{} using 1:3 with points pt 6 ps 0.8 lc {} title \"{}: typical "
          "outputs\", ",
          c, c + 1, kCategories[c]);
    } else {
      plot += fmt::format(
          "$c{} using 1:3:4:5 with yerrorbars pt 7 ps 0.6 lc {} title \"{}: "
          "estimate, confidence interval\", ",
          c, c + 1, kCategories[c]);
      plot += fmt::format("$c{} using 1:2 with points pt 8 ps 0.8 lc {} {}, ", c, c + 1,
                          c == 0 ? "title \"lower confidence bounds\"" : "notitle");
    }
  }
  plot += fmt::format("{:g} with lines dt 2 lw 2 lc rgb \"black\" title \"claimed eps = {:g}\"\n",
                      r.eps, r.eps);
  s += plot;
  return s;
}

}  // namespace dpsanitize
