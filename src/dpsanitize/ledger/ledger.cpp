#include "dpsanitize/ledger/ledger.h"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>
#include <sstream>

#include "dpsanitize/core/files.h"

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

json DocumentIdsJson(const DocumentIds& ids) {
  json j;
  if (!ids.sketch) {
    j["kind"] = "ranges";
    json r = json::array();
    for (const auto& [lo, hi] : ids.ranges) r.push_back({lo, hi});
    j["ranges"] = r;  // [[first, last], ...], inclusive
    return j;
  }
  j["kind"] = "sketch";
  j["hash"] = "first 8 bytes of SHA-256(\"dpsanitize/doc-id/v1\" || id, 8 bytes little-endian)";
  j["k"] = kIdSketchSize;
  j["count"] = ids.count;
  json v = json::array();
  for (uint64_t h : ids.smallest) v.push_back(fmt::format("{:016x}", h));
  j["smallest"] = v;
  return j;
}

// Reads what DocumentIdsJson wrote; anything else is a corrupt ledger.
StatusOr<DocumentIds> ParseDocumentIds(const json& j, const std::string& name) {
  const auto bad = [&name](const char* why) {
    return DataError("{}: ledger's \"document_ids\" {}", name, why);
  };
  if (!j.is_object()) return bad("is not an object");
  DocumentIds ids;
  const std::string kind = j.value("kind", "");
  if (kind == "ranges") {
    if (!j.contains("ranges") || !j.at("ranges").is_array()) return bad("has no ranges");
    for (const json& r : j.at("ranges")) {
      if (!r.is_array() || r.size() != 2 || !r[0].is_number_unsigned() ||
          !r[1].is_number_unsigned() || r[0].get<uint64_t>() > r[1].get<uint64_t>()) {
        return bad("has a malformed range");
      }
      ids.ranges.emplace_back(r[0].get<uint64_t>(), r[1].get<uint64_t>());
    }
    return ids;
  }
  if (kind != "sketch") return bad("has an unknown kind");
  ids.sketch = true;
  if (!j.contains("count") || !j.at("count").is_number_unsigned()) return bad("has no count");
  ids.count = j.at("count").get<uint64_t>();
  if (j.value("k", uint64_t{0}) != kIdSketchSize) return bad("has another sketch size");
  if (!j.contains("smallest") || !j.at("smallest").is_array()) return bad("has no sketch");
  for (const json& h : j.at("smallest")) {
    if (!h.is_string() || h.get<std::string>().size() != 16) return bad("has a malformed hash");
    const std::string hex = h.get<std::string>();
    if (hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return bad("has a malformed hash");
    }
    ids.smallest.push_back(std::stoull(hex, nullptr, 16));
  }
  return ids;
}

// The union of the shards' document ids, or the overlap that forbids it.
StatusOr<DocumentIds> MergeDocumentIds(const std::vector<json>& shards,
                                       const std::vector<std::string>& names) {
  std::vector<DocumentIds> all;
  for (size_t i = 0; i < shards.size(); ++i) {
    if (!shards[i].contains("document_ids")) {
      return DataError(
          "ledger merge: {} records no document ids (written before they were recorded); "
          "overlap cannot be ruled out",
          names[i]);
    }
    DPS_ASSIGN_OR_RETURN(DocumentIds ids, ParseDocumentIds(shards[i].at("document_ids"), names[i]));
    if (!all.empty() && ids.sketch != all[0].sketch) {
      return DataError("ledger merge: {} and {} differ in document_ids.kind", names[0], names[i]);
    }
    all.push_back(std::move(ids));
  }
  DocumentIds out;
  out.sketch = all[0].sketch;
  if (!out.sketch) {
    // Exact: sort every range with its shard, any two that intersect are the
    // same documents released twice.
    struct Tagged {
      uint64_t lo, hi;
      size_t shard;
    };
    std::vector<Tagged> r;
    for (size_t i = 0; i < all.size(); ++i) {
      for (const auto& [lo, hi] : all[i].ranges) r.push_back({lo, hi, i});
    }
    std::sort(r.begin(), r.end(), [](const Tagged& a, const Tagged& b) {
      return a.lo < b.lo || (a.lo == b.lo && a.hi < b.hi);
    });
    for (size_t k = 0; k < r.size(); ++k) {
      if (k > 0 && r[k].lo <= r[k - 1].hi) {
        return DataError(
            "ledger merge: {} and {} both cover document ids {} to {}; a document may be "
            "released only once in a job",
            names[r[k - 1].shard], names[r[k].shard], r[k].lo, std::min(r[k].hi, r[k - 1].hi));
      }
      // Adjacent ranges join, so the merge of a job's shards equals the
      // ledger of one run over the whole input.
      if (!out.ranges.empty() && r[k].lo == out.ranges.back().second + 1) {
        out.ranges.back().second = r[k].hi;
      } else {
        out.ranges.emplace_back(r[k].lo, r[k].hi);
      }
    }
    return out;
  }
  // Sketch: a hash in two shards' sketches is (up to a 2^-64 collision) an id
  // in both. The union's k smallest are the k smallest of the sketches'
  // union, which is what one run over all the documents would have stored.
  std::vector<std::pair<uint64_t, size_t>> h;
  for (size_t i = 0; i < all.size(); ++i) {
    out.count += all[i].count;
    for (uint64_t v : all[i].smallest) h.emplace_back(v, i);
  }
  std::sort(h.begin(), h.end());
  for (size_t k = 1; k < h.size(); ++k) {
    if (h[k].first == h[k - 1].first) {
      return DataError(
          "ledger merge: {} and {} share document ids (their id sketches match); a document may "
          "be released only once in a job",
          names[h[k - 1].second], names[h[k].second]);
    }
  }
  for (size_t k = 0; k < h.size() && k < kIdSketchSize; ++k) out.smallest.push_back(h[k].first);
  return out;
}

}  // namespace

uint64_t DocumentIdHash(uint64_t id) {
  static constexpr char kContext[] = "dpsanitize/doc-id/v1";
  uint8_t msg[sizeof(kContext) - 1 + 8];
  std::memcpy(msg, kContext, sizeof(kContext) - 1);
  for (int b = 0; b < 8; ++b) msg[sizeof(kContext) - 1 + b] = static_cast<uint8_t>(id >> (8 * b));
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, msg, sizeof(msg));
  uint64_t h = 0;
  for (int b = 0; b < 8; ++b) h = (h << 8) | digest[b];
  return h;
}

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
  j["document_ids"] = DocumentIdsJson(f.document_ids);
  json output = {{"name", f.output_name},
                 {"sha256", f.output_sha256 ? json(*f.output_sha256) : json(nullptr)}};
  // Which part of a sharded job this is: --skip-done checks it, and the
  // merged ledger's outputs list the parts in order.
  if (!f.output_shard.empty()) output["shard"] = f.output_shard;
  // A compressed output's SHA-256 is of the compressed file as written.
  if (!f.output_compression.empty()) output["compression"] = f.output_compression;
  j["outputs"] = json::array({output});
  return j;
}

StatusOr<json> ReadLedger(const std::string& path) {
  // Ledgers are kilobytes; 256 MiB bounds what a wrong path can cost.
  DPS_ASSIGN_OR_RETURN(const std::string text, ReadSmallFile(path, uint64_t{256} << 20));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
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

namespace {

StatusOr<json> MergeChecked(const std::vector<json>& shards, const std::vector<std::string>& names,
                            const std::string& tool_version, const std::string& created_utc) {
  const json& first = shards[0];
  // What must agree for shards to be parts of one job.
  for (size_t i = 1; i < shards.size(); ++i) {
    for (const char* key : kLedgerJobFields) {
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
  DPS_ASSIGN_OR_RETURN(const DocumentIds ids, MergeDocumentIds(shards, names));
  json out = first;
  out["document_ids"] = DocumentIdsJson(ids);
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

// A count or figure of a ledger for `show`, whatever JSON number it holds:
// a hand-edited 1e70 must print, not be converted to int (undefined).
std::string Num(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key)) return "?";
  const json& v = obj.at(key);
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) return fmt::format("{:g}", v.get<double>());
  return "?";
}

std::string ShowChecked(const json& j) {
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
  s << "embedding   " << e.value("name", "") << ", |V| " << Num(e, "vocab_size") << ", dim "
    << Num(e, "dimension") << ", sha256 " << e.value("sha256", "").substr(0, 16) << "...\n";
  s << "randomness  " << j.at("randomness").value("kind", "") << "\n";
  s << "documents   " << Num(t, "documents") << ", words " << Num(t, "words") << " (perturbed "
    << Num(t, "words_perturbed") << "; OOV masked " << Num(t, "oov_masked") << ", kept "
    << Num(t, "oov_kept") << ", dropped " << Num(t, "oov_dropped") << "; bad records skipped "
    << Num(t, "bad_records_skipped") << ")\n";
  s << "words/doc   largest " << Num(w, "largest") << ", mean "
    << fmt::format("{:.1f}", w.value("mean", 0.0)) << ", p50 " << Num(w.at("quantiles"), "p50")
    << ", p90 " << Num(w.at("quantiles"), "p90") << ", p99 " << Num(w.at("quantiles"), "p99")
    << "\n";
  s << "no guarantee " << Num(j.at("per_document"), "documents_without_guarantee")
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

}  // namespace

// The ledger's own fields are read with nlohmann's checked accessors, which
// throw on a field of the wrong type: a hand-edited or corrupt ledger is a
// data error, never an exception out of the library.
StatusOr<json> MergeLedgers(const std::vector<json>& shards, const std::vector<std::string>& names,
                            const std::string& tool_version, const std::string& created_utc) {
  if (shards.empty()) return UsageError("ledger merge: no ledgers given");
  try {
    return MergeChecked(shards, names, tool_version, created_utc);
  } catch (const json::exception& e) {
    return DataError("ledger merge: a ledger has a malformed field ({})", e.what());
  }
}

StatusOr<std::string> ShowLedger(const json& ledger) {
  try {
    return ShowChecked(ledger);
  } catch (const json::exception& e) {
    return DataError("ledger show: malformed field ({})", e.what());
  }
}

}  // namespace dpsanitize
