// The exact output law of tg (Xu, Feyisetan, Aggarwal, Xu, Teissier, FLAIRS
// 2021), for the privacy audit (spec section 7) and the statistical tests.
//
// For a source word with exact candidate distances d_0 = 0 <= d_1 <= ...,
// rank i wins when its score d_i + G_i is the smallest, so with f, S the
// density and survival function of the truncated Gumbel noise and pi_k the
// truncated Poisson pmf,
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
#include "dpsanitize/mechanisms/tg_law.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <utility>

#include "dpsanitize/mechanisms/samplers.h"

namespace dpsanitize {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
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

// ---------------------------------------------------------------------------
// The OutputLaw the audit reads.

namespace {

// The rounding margin of a bound built from lgamma and sums of up to |V|
// logarithms (as in TgLogLowerBound): far below anything the audit reports.
double WithMargin(double log_bound) { return log_bound + 1e-10 * std::fabs(log_bound) + 1e-10; }

class TgOutputLaw;

// One word's law over all of V: its full exact candidate list (rank_of[y]
// and dist[rank], rank 0 = the word), so that any output's rank, tail bound
// and threshold bound are at hand. O(|V|) memory, hence built per pair.
class TgBounds : public OutputBounds {
 public:
  TgBounds(const TgOutputLaw& law, const WordLaw& word_law);
  const std::vector<WordId>& Listed() const override { return word_law_.outputs; }
  double Estimate(WordId y) const override;
  LogInterval Interval(WordId y, bool need_lower) const override;
  uint64_t Rank(WordId y) const override { return rank_of_[y]; }

  const std::vector<uint32_t>& rank_of() const { return rank_of_; }
  const std::vector<double>& dist() const { return dist_; }

 private:
  const TgOutputLaw& law_;
  const WordLaw& word_law_;
  std::vector<uint32_t> rank_of_;
  std::vector<double> dist_;
};

class TgOutputLaw : public OutputLaw {
 public:
  TgOutputLaw(const TgParams& params, VectorSet vectors, size_t depth,
              const QuadratureOptions& quad, PoissonLogLaw poisson, uint64_t k_impl)
      : params_(params),
        vs_(vectors),
        depth_(depth),
        quad_(quad),
        gumbel_(params.b, params.delta_max),
        poisson_(std::move(poisson)),
        k_impl_(k_impl) {}

  LawKind kind() const override { return LawKind::kCertified; }

  StatusOr<WordLaw> Of(WordId w) const override {
    thread_local std::vector<Neighbor> scratch;
    ExactNeighborsScan(vs_, w, depth_, &scratch);
    std::vector<double> dist = {0.0};
    WordLaw out;
    out.word = w;
    out.outputs = {w};
    for (const Neighbor& nb : scratch) {
      out.outputs.push_back(nb.id);
      dist.push_back(nb.dist);
    }
    DPS_ASSIGN_OR_RETURN(TgExactLaw law, ComputeTgExactLaw(dist, gumbel_, poisson_, quad_));
    // Utility over the integrated ranks; the mass beyond them (P(k > K)) is
    // negligible at any depth the factory accepts.
    double pd = 0, pr = 0;
    for (size_t r = 0; r < dist.size(); ++r) {
      const double p = std::exp(law.log_p[r]);
      pd += p * dist[r];
      pr += p * static_cast<double>(r);
    }
    out.p_unchanged = std::exp(law.log_p[0]);
    out.mean_distance = pd;
    out.mean_rank = pr;
    // Ranks 1..10 are w's 10 nearest other words in the (distance, id) order
    // of the candidate list, so their integrated probabilities sum to
    // calibrate's "share of outputs among the 10 nearest". A depth below 10
    // (with more words than that) would leave some unlisted: not computed.
    const size_t near = std::min<size_t>(10, vs_.n - 1);
    if (depth_ >= near) {
      double pn = 0;
      for (size_t r = 1; r <= near; ++r) pn += std::exp(law.log_p[r]);
      out.p_near10 = pn;
    }
    out.numerics = {law.max_rel_err, law.sum_rule, law.converged};
    out.log_unlisted = law.log_tail;
    out.log_p = std::move(law.log_p);
    out.rel_err = std::move(law.rel_err);
    return out;
  }

  StatusOr<std::unique_ptr<OutputBounds>> Bounds(const WordLaw& law) const override {
    if (law.log_p.size() != depth_ + 1 || law.rel_err.size() != depth_ + 1) {
      return InternalError("tg output law: a word law of another depth");
    }
    return std::unique_ptr<OutputBounds>(std::make_unique<TgBounds>(*this, law));
  }

  // Candidates are ranked by a cheap proxy of ln P(low) - ln P(up): the
  // single-threshold bound keeps about pi_s / (s + 1) of rank s, and the
  // upper side is bounded by its Poisson tail. Only the few best get the
  // (costly) certified lower bound.
  StatusOr<std::vector<FarOutput>> FarOutputs(const OutputBounds& low_bounds,
                                              const OutputBounds& up_bounds,
                                              size_t n) const override {
    const auto* low = dynamic_cast<const TgBounds*>(&low_bounds);
    const auto* up = dynamic_cast<const TgBounds*>(&up_bounds);
    if (low == nullptr || up == nullptr) {
      return InternalError("tg output law: bounds from another law");
    }
    std::vector<std::pair<double, WordId>> best;  // a min-heap of the n best keys
    for (WordId y = 0; y < vs_.n; ++y) {
      const size_t s = low->rank_of()[y];
      if (s <= depth_) continue;
      const double key = poisson_.LogPmf(s) - std::log(static_cast<double>(s) + 1) -
                         poisson_.LogTailAtLeast(up->rank_of()[y]);
      if (best.size() < n) {
        best.emplace_back(key, y);
        std::push_heap(best.begin(), best.end(), std::greater<>());
      } else if (!best.empty() && key > best.front().first) {
        std::pop_heap(best.begin(), best.end(), std::greater<>());
        best.back() = {key, y};
        std::push_heap(best.begin(), best.end(), std::greater<>());
      }
    }
    std::vector<FarOutput> out;
    for (const auto& [key, y] : best) {
      FarOutput f;
      f.y = y;
      f.log_lower = TgLogLowerBound(low->dist().data(), low->rank_of()[y], gumbel_, poisson_);
      f.log_upper = WithMargin(poisson_.LogTailAtLeast(up->rank_of()[y]));
      out.push_back(f);
    }
    return out;
  }

  std::optional<uint64_t> ImplementationMaxRank() const override { return k_impl_; }

  LawReport Describe(const LawNumerics& numerics) const override {
    const double log_tail = poisson_.LogTailAtLeast(depth_ + 1);
    LawReport r;
    r.parameters = {{"b", params_.b},
                    {"mu", params_.mu},
                    {"delta_max", params_.delta_max},
                    {"depth", depth_},
                    {"log_p_k_beyond_depth",
                     std::isfinite(log_tail) ? nlohmann::json(log_tail) : nlohmann::json()}};
    r.sections["implementation"] = {
        {"k_max", k_impl_},
        {"note",
         "the sampler never draws k > k_max (uniform resolution 2^-54): outputs ranked beyond it "
         "have probability exactly 0 in the implementation"}};
    r.sections["quadrature"] = {
        {"method", "adaptive Gauss-Kronrod (7, 15), panels split at the kinks"},
        {"rel_tol", quad_.rel_tol},
        {"max_rel_err_estimate", numerics.max_rel_err},
        {"max_sum_rule_deviation", numerics.max_sum_rule},
        {"converged", numerics.converged}};
    r.text = fmt::format(
        "noise: b = {:.6g}, mu = {:.6g}, delta_max = {:.6g}; exact laws over ranks 0..{} "
        "(P(k > {}) = e^{:.1f})\n",
        params_.b, params_.mu, params_.delta_max, depth_, depth_, log_tail);
    r.text += fmt::format(
        "quadrature: adaptive Gauss-Kronrod 7-15, estimated relative error <= {:.1e} (tolerance "
        "{:.0e}{}), sum-rule deviation <= {:.1e}\n",
        numerics.max_rel_err, quad_.rel_tol, numerics.converged ? "" : ", NOT MET",
        numerics.max_sum_rule);
    r.implementation_note = fmt::format(
        "implementation (a separate finding): the sampler never draws k > {}, so an output "
        "ranked\nbeyond {} in a word's list has probability exactly 0 there (infinite loss against "
        "a word\nthat can give it):\n",
        k_impl_, k_impl_);
    return r;
  }

  const VectorSet& vectors() const { return vs_; }
  size_t depth() const { return depth_; }
  const TruncatedGumbelLaw& gumbel() const { return gumbel_; }
  const PoissonLogLaw& poisson() const { return poisson_; }

 private:
  TgParams params_;
  VectorSet vs_;
  size_t depth_;  // ranks 0..depth_ integrated
  QuadratureOptions quad_;
  TruncatedGumbelLaw gumbel_;
  PoissonLogLaw poisson_;
  uint64_t k_impl_;  // the sampler's largest k
};

TgBounds::TgBounds(const TgOutputLaw& law, const WordLaw& word_law)
    : law_(law), word_law_(word_law) {
  // A full exact scan: every output's rank, and the distances the threshold
  // bound of any rank needs.
  thread_local std::vector<Neighbor> scratch;
  const VectorSet& vs = law.vectors();
  ExactNeighborsScan(vs, word_law.word, vs.n - 1, &scratch);
  rank_of_.assign(vs.n, 0);
  dist_.assign(vs.n, 0.0);
  for (size_t r = 0; r < scratch.size(); ++r) {
    rank_of_[scratch[r].id] = static_cast<uint32_t>(r + 1);
    dist_[r + 1] = scratch[r].dist;
  }
}

double TgBounds::Estimate(WordId y) const {
  const size_t r = rank_of_[y];
  return r <= law_.depth() ? word_law_.log_p[r] : kNegInf;
}

// Exact (widened by the quadrature error) within the depth, tail and
// threshold bounds beyond. `need_lower` false skips the (costly) lower bound
// past the depth.
LogInterval TgBounds::Interval(WordId y, bool need_lower) const {
  const size_t r = rank_of_[y];
  LogInterval iv;
  // P <= P(k >= r) always.
  const double tail = WithMargin(law_.poisson().LogTailAtLeast(r));
  if (r <= law_.depth() && word_law_.log_p[r] != kNegInf) {
    const double e = word_law_.rel_err[r];
    iv.lo = word_law_.log_p[r] + std::log1p(-std::min(e, 0.5));
    iv.hi = std::min(tail, LogAddExp(word_law_.log_p[r] + std::log1p(e), word_law_.log_unlisted));
  } else {
    iv.hi = tail;
    if (need_lower) iv.lo = TgLogLowerBound(dist_.data(), r, law_.gumbel(), law_.poisson());
  }
  return iv;
}

}  // namespace

StatusOr<std::unique_ptr<OutputLaw>> MakeTgOutputLaw(const TgParams& params, uint64_t vocab_size,
                                                     const LawContext& ctx) {
  const VectorSet& vs = ctx.vectors;
  if (vs.n != vocab_size || vs.n < 2) {
    return InternalError("tg output law: {} vectors for a vocabulary of {}", vs.n, vocab_size);
  }
  const uint64_t kmax = vs.n - 1;
  const size_t depth = static_cast<size_t>(std::min<uint64_t>(ctx.depth, kmax));
  PoissonLogLaw poisson(params.mu, kmax);
  // Outputs past the depth are only bounded, so the mass there must be small
  // next to what the audit calls a typical output.
  const double log_tail = poisson.LogTailAtLeast(depth + 1);
  if (log_tail >= std::log(ctx.typical_threshold) - std::log(1e3)) {
    return UsageError(
        "audit: --depth {}: P(k > {}) = e^{:.1f} is not small against the typical-output "
        "threshold {:g}; use a larger depth",
        depth, depth, log_tail, ctx.typical_threshold);
  }
  // The sampler turns uniforms (j + 1/2) 2^-53 into k, so the smallest, 2^-54,
  // gives the largest k it can ever draw.
  const uint64_t k_impl = TruncatedPoisson(params.mu, kmax).Sample(0x1p-54);
  return std::unique_ptr<OutputLaw>(
      std::make_unique<TgOutputLaw>(params, vs, depth, ctx.quadrature, std::move(poisson), k_impl));
}

}  // namespace dpsanitize
