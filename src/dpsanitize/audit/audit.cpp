// Privacy audit (spec section 7): the run. Samples the pairs, computes each
// audited word's law once (the costly part: tg integrates ranks 0..K per
// word), then each pair's loss from the two laws, on every core. The law
// comes from the plan (MechanismPlan::Law), so nothing here depends on which
// mechanism is audited; what differs is the law's kind (exact, certified,
// Monte Carlo), which picks the loss computation.
#include "dpsanitize/audit/audit.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "dpsanitize/audit/loss.h"
#include "dpsanitize/audit/pairs.h"
#include "dpsanitize/audit/utility.h"
#include "dpsanitize/core/parallel.h"

namespace dpsanitize {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

StatusOr<AuditReport> RunAudit(const AuditInputs& in, const AuditOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  if (in.embedding == nullptr || in.vocab == nullptr || in.info == nullptr || in.plan == nullptr ||
      !in.neighbors) {
    return InternalError("audit: incomplete inputs");
  }
  const Vocabulary& vocab = *in.vocab;
  const MechanismPlan& plan = *in.plan;
  const std::optional<double> eps = plan.eps();
  if (!eps) return UsageError("audit: --eps is required");
  const VectorSet vs = vocab.vectors();
  if (vs.n < 3) return DataError("audit: the vocabulary has only {} words", vs.n);
  LawContext ctx = in.law;
  ctx.vectors = vs;
  ctx.depth = opt.depth;
  ctx.quadrature = opt.quadrature;
  ctx.typical_threshold = opt.typical_threshold;
  ctx.samples = opt.samples;
  ctx.seed = opt.seed;
  DPS_ASSIGN_OR_RETURN(std::unique_ptr<OutputLaw> law, plan.Law(ctx));
  const LawKind kind = law->kind();
  // Monte Carlo costs `samples` nearest-word searches per word: fewer words.
  const bool monte_carlo = kind == LawKind::kMonteCarlo;
  const size_t pairs = opt.pairs > 0 ? opt.pairs : (monte_carlo ? 10 : 200);
  const size_t utility_words = opt.utility_words > 0 ? opt.utility_words : (monte_carlo ? 1 : 10);
  const unsigned threads =
      opt.threads > 0 ? opt.threads : std::max(1u, std::thread::hardware_concurrency());

  AuditReport report;
  report.mechanism = in.info->name;
  report.law_kind = kind;
  report.embedding = in.embedding->path();
  report.embedding_sha256 = in.embedding->content_sha256();
  report.vocab_size = vs.n;
  report.dim = vs.dim;
  report.eps = *eps;
  report.eps_basis_kind = EpsBasisName(plan.basis());
  report.eps_basis = report.eps_basis_kind + " (" + in.info->citation + ")";
  report.seed = opt.seed;
  // delta_min is the vocabulary's (spec section 2), stated by the plans that
  // calibrate from it; the report quotes it beside the law's parameters.
  report.calibration = plan.Rows();
  for (const PlanRow& row : report.calibration) {
    if (row.key == "delta_min" && row.value.is_number()) report.delta_min = row.value.get<double>();
  }
  report.implementation_max_rank = law->ImplementationMaxRank();
  if (monte_carlo) {
    report.samples = opt.samples;
    report.alpha = opt.alpha;
    report.min_count = opt.min_count;
  }

  DPS_ASSIGN_OR_RETURN(SampledPairs sampled,
                       SamplePairs(vs, in.neighbors, opt.seed, pairs, utility_words));
  // Every word of a pair, then the utility words, each once.
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
  report.pairs.resize(sampled.pairs.size());
  for (size_t i = 0; i < sampled.pairs.size(); ++i) {
    const PairSpec& p = sampled.pairs[i];
    AuditPair& out = report.pairs[i];
    out.category = kPairCategories[p.category];
    out.w = p.w;
    out.w2 = p.w2;
    out.word = std::string(vocab.word(p.w));
    out.word2 = std::string(vocab.word(p.w2));
    out.distance = Distance(vs, p.w, p.w2);
  }
  report.seconds_setup = Seconds(t0);

  const auto t1 = std::chrono::steady_clock::now();
  std::vector<WordLaw> laws(words.size());
  DPS_RETURN_IF_ERROR(
      ForEachItem(words.size(), law->concurrent() ? threads : 1, [&](size_t i) -> Status {
        DPS_ASSIGN_OR_RETURN(laws[i], law->Of(words[i]));
        return Status::Ok();
      }));
  for (const WordLaw& wl : laws) {
    report.numerics.max_rel_err = std::max(report.numerics.max_rel_err, wl.numerics.max_rel_err);
    report.numerics.max_sum_rule = std::max(report.numerics.max_sum_rule, wl.numerics.max_sum_rule);
    report.numerics.converged = report.numerics.converged && wl.numerics.converged;
  }
  report.law = law->Describe(report.numerics);
  report.seconds_laws = Seconds(t1);

  const auto t2 = std::chrono::steady_clock::now();
  DPS_RETURN_IF_ERROR(ForEachItem(report.pairs.size(), threads, [&](size_t i) -> Status {
    AuditPair& out = report.pairs[i];
    const WordLaw& a = laws[index_of.at(out.w)];
    const WordLaw& b = laws[index_of.at(out.w2)];
    switch (kind) {
      case LawKind::kExact:
      case LawKind::kCertified:
        return BoundedPairLoss(*law, a, b, opt, vocab, &out);
      case LawKind::kMonteCarlo:
        return MonteCarloPairLoss(a, b, opt, vocab, &out);
    }
    return InternalError("audit: unknown law kind");  // unreachable (-Werror=switch)
  }));
  report.seconds_pairs = Seconds(t2);

  for (AuditPair& p : report.pairs) {
    p.exceeds = p.worst_lower > report.eps;
    p.typical_exceeds = p.typical_lower > report.eps;
  }
  report.categories = SummariseCategories(report.pairs);
  report.deciles = UtilityByDecile(sampled, words, laws);
  report.seconds_total = Seconds(t0);
  return report;
}

}  // namespace dpsanitize
