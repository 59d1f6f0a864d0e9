// The audit report's table and JSON. What differs between mechanisms comes
// from the plan's rows (what --eps and the mechanism options calibrated to, as
// `calibrate` shows them) and from the law: its parameters, notes and header
// lines (LawReport), and its kind, which decides what the loss columns mean
// (bounds or confidence limits) and whether outputs have ranks. Nothing here
// names a mechanism.
#include "dpsanitize/audit/report.h"

#include <fmt/format.h>

#include <cmath>

namespace dpsanitize {
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

// Outputs have ranks (places in a word's output order) unless the law only
// has frequencies.
bool HasRanks(LawKind kind) {
  switch (kind) {
    case LawKind::kExact:
    case LawKind::kCertified:
      return true;
    case LawKind::kMonteCarlo:
      return false;
  }
  return false;  // unreachable: the switch is exhaustive (-Werror=switch)
}

nlohmann::json LossDefinitions(LawKind kind) {
  switch (kind) {
    case LawKind::kExact:
      return {{"worst_lower",
               "max_y |ln P[M(w)=y] - ln P[M(w')=y]| / d(w, w') over all outputs, exact "
               "(closed-form laws)"},
              {"typical",
               "over outputs with P >= 1e-6 under either word: the exact loss (lower = estimate "
               "= upper)"}};
    case LawKind::kCertified:
      return {{"worst_lower",
               "certified lower bound of max_y |ln P[M(w)=y] - ln P[M(w')=y]| / d(w, w') over all "
               "outputs"},
              {"typical",
               "over outputs with P >= 1e-6 under either word: certified [lower, upper] and "
               "the estimate from the exact laws"}};
    case LawKind::kMonteCarlo:
      return {{"worst_lower",
               "lower confidence bound (Clopper-Pearson, simultaneous at 1 - alpha per pair) of "
               "the loss over observed outputs"},
              {"typical",
               "over outputs seen at least min_count times under both words: point estimate and "
               "confidence interval [typical_lower, typical_upper] (null when there are none)"}};
  }
  return {};  // unreachable
}

std::string LossLines(const AuditReport& r) {
  switch (r.law_kind) {
    case LawKind::kExact:
      return "loss per unit distance: 'worst' = exact worst case over all outputs;\n"
             "'typical' = exact loss over outputs with P >= 1e-6 under either word\n";
    case LawKind::kCertified:
      return "loss per unit distance: 'worst' = certified lower bound of the worst case over all\n"
             "outputs; 'typical' = exact loss over outputs with P >= 1e-6 under either word\n";
    case LawKind::kMonteCarlo:
      return fmt::format(
          "Monte Carlo: {} draws per word; 'worst' = lower confidence bound (Clopper-Pearson, "
          "simultaneous {:g}% per pair) over all observed outputs;\n'typical' = estimate and "
          "confidence interval over outputs seen >= {} times under both words\n",
          r.samples, 100 * (1 - r.alpha), r.min_count);
  }
  return "";  // unreachable
}

// The plan's rows as `calibrate` shows them: JSON keys, or one indented
// "key  value (note)" line each.
nlohmann::json CalibrationJson(const std::vector<PlanRow>& rows) {
  nlohmann::json j = nlohmann::json::object();
  for (const PlanRow& r : rows) {
    if (r.where & PlanRow::kJson) j[r.key] = r.value;
  }
  return j;
}

std::string CalibrationLines(const std::vector<PlanRow>& rows) {
  std::string s;
  for (const PlanRow& r : rows) {
    if (!(r.where & PlanRow::kText)) continue;
    const std::string value = r.value.is_number() ? fmt::format("{:.6g}", r.value.get<double>())
                                                  : r.value.get<std::string>();
    s += fmt::format("  {:<13} {}\n", r.key, r.note.empty() ? value : value + " " + r.note);
  }
  return s.empty() ? s : "calibration:\n" + s;
}

}  // namespace

nlohmann::json AuditReportToJson(const AuditReport& r) {
  using nlohmann::json;
  const bool ranks = HasRanks(r.law_kind);
  const bool monte_carlo = r.law_kind == LawKind::kMonteCarlo;
  const bool implementation = r.implementation_max_rank.has_value();
  json j;
  j["format"] = "dpsanitize-audit/1";
  j["mechanism"] = r.mechanism;
  j["embedding"] = r.embedding;
  j["embedding_sha256"] = r.embedding_sha256;
  j["vocab_size"] = r.vocab_size;
  j["dim"] = r.dim;
  j["claimed"] = {{"eps", r.eps}, {"basis", r.eps_basis}};
  j["calibration"] = CalibrationJson(r.calibration);
  j["seed"] = r.seed;
  j["audited_words"] = r.audited_words;
  json parameters = r.law.parameters;
  if (r.delta_min) parameters["delta_min"] = *r.delta_min;
  if (monte_carlo) {
    parameters["alpha"] = r.alpha;
    parameters["min_count"] = r.min_count;
  }
  j["parameters"] = parameters;
  for (const auto& [key, value] : r.law.sections.items()) j[key] = value;
  j["loss_definitions"] = LossDefinitions(r.law_kind);
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
    if (implementation) {
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
    if (ranks) e["mean_output_rank"] = u.mean_rank;
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
    if (ranks) {
      e["worst_output_ranks"] = {p.worst_rank_w, p.worst_rank_w2};
      e["typical_output"] = p.typical_output;
      e["typical_output_ranks"] = {p.typical_rank_w, p.typical_rank_w2};
    }
    if (implementation) {
      e["implementation_impossible_outputs"] = p.impossible_outputs;
      e["implementation_impossible_mass"] = p.impossible_mass;
    }
    ps.push_back(e);
  }
  j["pairs"] = ps;
  j["seconds"] = {{"setup", r.seconds_setup},
                  {monte_carlo ? "monte_carlo" : "exact_laws", r.seconds_laws},
                  {"pairs", r.seconds_pairs},
                  {"total", r.seconds_total}};
  return j;
}

std::string FormatAuditTable(const AuditReport& r) {
  const bool ranks = HasRanks(r.law_kind);
  std::string s;
  s += fmt::format("dpsanitize audit: {} on {} (|V| = {}, dim {}), {} pairs, seed {}\n",
                   r.mechanism, r.embedding, r.vocab_size, r.dim, r.pairs.size(), r.seed);
  s += fmt::format("claimed: eps = {:g} per unit distance, {}\n", r.eps, r.eps_basis);
  s += CalibrationLines(r.calibration);
  s += r.law.text;
  s += LossLines(r);
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
  if (r.implementation_max_rank) {
    s += "\n" + r.law.implementation_note;
    for (const CategorySummary& c : r.categories) {
      s += fmt::format(
          "  {:<9} {:>4} of {:>4} pairs have such outputs; median P(an output impossible for the "
          "other word) = {:.4f}\n",
          c.category, c.impossible, c.pairs, c.median_impossible_mass);
    }
  }
  s += "\nutility by density decile (nearest-neighbour distance; 1 = densest):\n";
  s += fmt::format("{:>6} {:>17} {:>6} {:>13} {:>13}{}\n", "decile", "NN distance", "words",
                   "P(unchanged)", "E[d(w, out)]", ranks ? "       E[rank]" : "");
  for (const DecileUtility& u : r.deciles) {
    s += fmt::format("{:>6} {:>7.3f} - {:<7.3f} {:>6} {:>13.4f} {:>13.4f}", u.decile, u.nn_lo,
                     u.nn_hi, u.words, u.p_unchanged, u.mean_distance);
    if (ranks) s += fmt::format(" {:>13.3f}", u.mean_rank);
    s += "\n";
  }
  s += "\npairs (losses per unit distance):\n";
  if (ranks) {
    s += fmt::format(
        "{:<9} {:<16} {:<16} {:>7} {:>11} {:<28} {:>10} {:>10} {:>10} {}\n", "category", "w", "w'",
        "d", r.law_kind == LawKind::kExact ? "worst" : "worst >=", "at y (rank in w, in w')",
        "typ lower", "typ exact", "typ upper", "typical y (ranks)");
  } else {
    s += fmt::format("{:<9} {:<16} {:<16} {:>7} {:>11} {:<16} {:>10} {:>10} {:>10}\n", "category",
                     "w", "w'", "d", "lower conf", "at output y", "typ lower", "typ est",
                     "typ upper");
  }
  for (const AuditPair& p : r.pairs) {
    if (ranks) {
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
                   r.seconds_total, r.seconds_setup, ranks ? "exact laws" : "Monte Carlo",
                   r.seconds_laws, r.seconds_pairs);
  return s;
}

}  // namespace dpsanitize
