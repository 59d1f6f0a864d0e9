#include "dpsanitize/ledger/ledger.h"

#include <fmt/format.h>

#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>

namespace dpsanitize {
namespace {

using nlohmann::json;

// Quantile of a histogram {value: count}: the smallest value v with at least
// q * total observations <= v.
uint64_t Quantile(const std::map<uint64_t, uint64_t>& hist, uint64_t total, double q) {
  if (total == 0) return 0;
  const double target = std::ceil(q * static_cast<double>(total));
  uint64_t seen = 0;
  for (const auto& [value, count] : hist) {
    seen += count;
    if (static_cast<double>(seen) >= target) return value;
  }
  return hist.rbegin()->first;
}

json WordsPerDocument(const std::map<uint64_t, uint64_t>& hist) {
  uint64_t docs = 0;
  long double sum = 0;
  for (const auto& [v, c] : hist) {
    docs += c;
    sum += static_cast<long double>(v) * c;
  }
  json j;
  j["largest"] = hist.empty() ? 0 : hist.rbegin()->first;
  j["mean"] = docs == 0 ? 0.0 : static_cast<double>(sum / docs);
  j["quantiles"] = {{"p50", Quantile(hist, docs, 0.5)},
                    {"p90", Quantile(hist, docs, 0.9)},
                    {"p99", Quantile(hist, docs, 0.99)}};
  json h = json::array();
  for (const auto& [v, c] : hist) h.push_back({v, c});
  j["histogram"] = h;  // [[words, documents], ...]: exact, so shard ledgers merge exactly
  return j;
}

// The per-document statement. `clause` names what the epsilon rests on; it
// comes from the mechanism's registry entry (MechanismPlan::statement_clause).
std::string Statement(const json& mech, const std::string& randomness, const std::string& clause) {
  if (randomness == "seeded") {
    return "No guarantee: the noise was derived from a --seed, which anyone who knows or guesses "
           "it can use to recompute the noise.";
  }
  const std::string basis = mech.value("eps_basis", "none");
  if (basis == "none") {
    return "No epsilon is claimed: the noise parameters were set explicitly.";
  }
  const double eps = mech.value("eps_per_word", 0.0);
  return fmt::format(
      "Each document is {}-metric-DP with respect to the sum over its words of d(x_i, x'_i) "
      "(epsilon {:g} per unit of embedding distance per word, basic composition over the words), "
      "among documents with the same word count, gaps, case patterns and out-of-vocabulary "
      "positions; {}. A document of n words whose words each move by at most distance D is "
      "covered with epsilon {:g} * n * D. Documents with a kept out-of-vocabulary word have no "
      "guarantee.",
      basis == "proven" ? "epsilon" : "nominally epsilon", eps, clause, eps);
}

json Guarantee(const json& mech, const std::string& randomness, const std::string& statement,
               uint64_t documents, uint64_t with_kept_oov,
               const std::map<uint64_t, uint64_t>& hist) {
  json g;
  g["statement"] = statement;
  g["words_per_document"] = WordsPerDocument(hist);
  const bool none = randomness == "seeded" || mech.value("eps_basis", "none") == "none";
  g["documents_without_guarantee"] = none ? documents : with_kept_oov;
  g["documents_with_kept_oov"] = with_kept_oov;
  return g;
}

std::map<uint64_t, uint64_t> HistogramOf(const json& ledger) {
  std::map<uint64_t, uint64_t> h;
  for (const auto& pair : ledger.at("per_document").at("words_per_document").at("histogram")) {
    h[pair.at(0).get<uint64_t>()] += pair.at(1).get<uint64_t>();
  }
  return h;
}

}  // namespace

std::string NowUtc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json BuildLedger(const LedgerFacts& f) {
  json j;
  j["format"] = kLedgerFormat;
  j["tool"] = {{"name", "dpsanitize"}, {"version", f.tool_version}};
  j["created_utc"] = f.created_utc;
  json mech;
  mech["name"] = f.mechanism;
  mech["eps_per_word"] = f.eps ? json(*f.eps) : json(nullptr);
  mech["eps_basis"] = f.eps_basis;
  mech["eps_basis_detail"] = f.eps_basis_detail;
  mech["eps_unit"] = "per unit of Euclidean embedding distance, per word";
  json params = json::object();
  for (const auto& [k, v] : f.parameters) params[k] = v;
  for (const auto& [k, v] : f.parameter_notes) params[k] = v;
  mech["parameters"] = params;
  j["mechanism"] = mech;
  j["embedding"] = {{"name", f.embedding_name},
                    {"sha256", f.embedding_sha256},
                    {"entries", f.embedding_entries},
                    {"vocab_size", f.vocab_size},
                    {"dimension", f.dim}};
  json rnd;
  rnd["kind"] = f.randomness;
  if (f.randomness == "seeded") {
    rnd["note"] = "seeded run: reproducible by anyone who guesses the seed; no guarantee holds";
  } else if (f.randomness == "keyed") {
    rnd["note"] = "key file: the same key, document id and input give the same output";
  } else {
    rnd["note"] = "fresh 256-bit key from the OS CSPRNG, never stored";
  }
  j["randomness"] = rnd;
  j["input"] = f.input;
  j["totals"] = {{"documents", f.documents},
                 {"words", f.words},
                 {"words_perturbed", f.words_perturbed},
                 {"oov_masked", f.oov_masked},
                 {"oov_kept", f.oov_kept},
                 {"oov_dropped", f.oov_dropped},
                 {"bad_records_skipped", f.bad_records_skipped}};
  j["per_document"] =
      Guarantee(mech, f.randomness, Statement(mech, f.randomness, f.statement_clause), f.documents,
                f.documents_with_kept_oov, f.words_per_document);
  j["outputs"] =
      json::array({{{"name", f.output_name},
                    {"sha256", f.output_sha256 ? json(*f.output_sha256) : json(nullptr)}}});
  return j;
}

StatusOr<json> ReadLedger(const std::string& path) {
  std::ifstream in(path);
  if (!in) return IoError("{}: cannot read ledger", path);
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return DataError("{}: not a JSON ledger", path);
  if (j.value("format", "") != kLedgerFormat) {
    return DataError("{}: not a {} ledger (format \"{}\")", path, kLedgerFormat,
                     j.value("format", std::string("?")));
  }
  for (const char* key :
       {"mechanism", "embedding", "randomness", "input", "totals", "per_document", "outputs"}) {
    if (!j.contains(key)) return DataError("{}: ledger has no \"{}\"", path, key);
  }
  return j;
}

StatusOr<json> MergeLedgers(const std::vector<json>& shards, const std::vector<std::string>& names,
                            const std::string& tool_version, const std::string& created_utc) {
  if (shards.empty()) return UsageError("ledger merge: no ledgers given");
  const json& first = shards[0];
  // What must agree for shards to be parts of one job.
  const char* same[] = {"mechanism", "embedding", "randomness", "input"};
  for (size_t i = 1; i < shards.size(); ++i) {
    for (const char* key : same) {
      const json& a = first.at(key);
      const json& b = shards[i].at(key);
      if (a == b) continue;
      // Name the first differing field.
      std::string field = key;
      for (auto it = a.begin(); it != a.end(); ++it) {
        if (!b.contains(it.key()) || b.at(it.key()) != it.value()) {
          field += "." + it.key();
          break;
        }
      }
      if (field == key) {
        for (auto it = b.begin(); it != b.end(); ++it) {
          if (!a.contains(it.key())) {
            field += "." + it.key();
            break;
          }
        }
      }
      return DataError("ledger merge: {} and {} differ in {}; they are not shards of one job",
                       names[0], names[i], field);
    }
  }
  json out = first;
  out["tool"] = {{"name", "dpsanitize"}, {"version", tool_version}};
  out["created_utc"] = created_utc;
  json totals = json::object();
  std::map<uint64_t, uint64_t> hist;
  uint64_t documents = 0, kept = 0;
  json outputs = json::array();
  json merged_from = json::array();
  for (size_t i = 0; i < shards.size(); ++i) {
    const json& s = shards[i];
    for (auto it = s.at("totals").begin(); it != s.at("totals").end(); ++it) {
      totals[it.key()] = totals.value(it.key(), uint64_t{0}) + it.value().get<uint64_t>();
    }
    for (const auto& [v, c] : HistogramOf(s)) hist[v] += c;
    documents += s.at("totals").at("documents").get<uint64_t>();
    kept += s.at("per_document").value("documents_with_kept_oov", uint64_t{0});
    for (const auto& o : s.at("outputs")) outputs.push_back(o);
    merged_from.push_back({{"ledger", names[i]}, {"created_utc", s.value("created_utc", "")}});
  }
  out["totals"] = totals;
  // The statement depends only on the mechanism and the randomness, which
  // agree across the shards (checked above): the first shard's is the job's.
  out["per_document"] =
      Guarantee(first.at("mechanism"), first.at("randomness").at("kind"),
                first.at("per_document").value("statement", ""), documents, kept, hist);
  out["outputs"] = outputs;
  out["merged_from"] = merged_from;
  return out;
}

std::string ShowLedger(const json& j) {
  std::ostringstream s;
  const json& m = j.at("mechanism");
  const json& t = j.at("totals");
  const json& w = j.at("per_document").at("words_per_document");
  s << "dpsanitize ledger (" << j.value("format", "") << "), created " << j.value("created_utc", "")
    << "\n";
  s << "mechanism   " << m.value("name", "") << ", eps "
    << (m.at("eps_per_word").is_null() ? std::string("none")
                                       : fmt::format("{:g}", m.at("eps_per_word").get<double>()))
    << " per word (" << m.value("eps_basis", "") << ")\n";
  const json& p = m.at("parameters");
  std::string params;
  for (auto it = p.begin(); it != p.end(); ++it) {
    if (!params.empty()) params += ", ";
    params += it.key() + " " +
              (it.value().is_number() ? fmt::format("{:g}", it.value().get<double>())
                                      : it.value().get<std::string>());
  }
  s << "parameters  " << params << "\n";
  const json& e = j.at("embedding");
  s << "embedding   " << e.value("name", "") << ", |V| " << e.value("vocab_size", 0) << ", dim "
    << e.value("dimension", 0) << ", sha256 " << e.value("sha256", "").substr(0, 16) << "...\n";
  s << "randomness  " << j.at("randomness").value("kind", "") << "\n";
  s << "documents   " << t.value("documents", 0) << ", words " << t.value("words", 0)
    << " (perturbed " << t.value("words_perturbed", 0) << "; OOV masked "
    << t.value("oov_masked", 0) << ", kept " << t.value("oov_kept", 0) << ", dropped "
    << t.value("oov_dropped", 0) << "; bad records skipped " << t.value("bad_records_skipped", 0)
    << ")\n";
  s << "words/doc   largest " << w.value("largest", 0) << ", mean "
    << fmt::format("{:.1f}", w.value("mean", 0.0)) << ", p50 " << w.at("quantiles").value("p50", 0)
    << ", p90 " << w.at("quantiles").value("p90", 0) << ", p99 "
    << w.at("quantiles").value("p99", 0) << "\n";
  s << "no guarantee " << j.at("per_document").value("documents_without_guarantee", 0)
    << " documents\n";
  s << "statement   " << j.at("per_document").value("statement", "") << "\n";
  for (const auto& o : j.at("outputs")) {
    s << "output      " << o.value("name", "") << " sha256 "
      << (o.at("sha256").is_null() ? std::string("(stdout, not hashed)")
                                   : o.at("sha256").get<std::string>())
      << "\n";
  }
  return s.str();
}

}  // namespace dpsanitize
