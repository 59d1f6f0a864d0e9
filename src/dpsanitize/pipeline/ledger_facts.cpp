#include "dpsanitize/pipeline/ledger_facts.h"

#include <unistd.h>

#include <iterator>
#include <nlohmann/json.hpp>

#include "dpsanitize/core/log.h"
#include "dpsanitize/core/strings.h"
#include "dpsanitize/io/byte_source.h"
#include "dpsanitize/ledger/ledger.h"

namespace dpsanitize {
namespace {

// The mechanism's name, epsilon and its basis, and its parameters: all from
// the registry entry and its calibrated plan, so a new mechanism needs
// nothing here.
void AddMechanismFacts(const Engine& e, LedgerFacts* f) {
  const MechanismPlan& plan = *e.plan;
  f->mechanism = e.info->name;
  f->eps = plan.eps();
  f->eps_basis = EpsBasisName(plan.basis());
  f->eps_basis_detail = plan.basis_detail();
  f->statement_clause = plan.statement_clause();
  for (const PlanRow& r : plan.Rows()) {
    if (!(r.where & PlanRow::kLedger)) continue;
    if (r.value.is_number()) {
      f->parameters[r.key] = r.value.get<double>();
    } else {
      f->parameter_notes[r.key] = r.value.get<std::string>();
    }
  }
}

// The settings that decide how the input was read and what of it the
// output shows; a merge refuses shards whose settings differ.
void AddInputFacts(const Config& c, LedgerFacts* f) {
  const InputFormat format = ResolvedFormat(c);
  const bool table = format == InputFormat::kCsv || format == InputFormat::kTsv;
  f->input["format"] = format == InputFormat::kJsonl ? "jsonl"
                       : format == InputFormat::kCsv ? "csv"
                       : format == InputFormat::kTsv ? "tsv"
                                                     : "text";
  if (format == InputFormat::kJsonl || table) {
    // The columns, like the fields, are part of the job (a merge or
    // --skip-done compares "input" as a whole: kLedgerJobFields).
    if (table) {
      f->input["text_columns"] = c.text_columns;
    } else {
      f->input["text_fields"] = c.text_fields;
    }
    f->input["id_field"] = c.id_field ? nlohmann::json(*c.id_field) : nlohmann::json(nullptr);
    f->input["on_bad_record"] = c.on_bad_record == BadRecordPolicy::kSkip ? "skip" : "error";
  } else {
    f->input["document"] = c.doc_mode == DocMode::kLine        ? "line"
                           : c.doc_mode == DocMode::kParagraph ? "paragraph"
                                                               : "file";
  }
  f->input["oov"] = c.oov == OovPolicy::kMask   ? "mask"
                    : c.oov == OovPolicy::kKeep ? "keep"
                                                : "drop";
  f->input["case"] = c.case_mode == CaseMode::kLower ? "lower" : "preserve";
}

void AddTotals(const RunSummary& s, LedgerFacts* f) {
  f->documents = s.documents;
  f->words = s.words;
  f->words_perturbed = s.perturbed;
  f->oov_masked = s.oov_masked;
  f->oov_kept = s.oov_kept;
  f->oov_dropped = s.oov_dropped;
  f->bad_records_skipped = s.bad_records_skipped;
  f->documents_with_kept_oov = s.documents_with_kept_oov;
  f->words_per_document = s.words_per_document;
}

}  // namespace

DocumentTracker::DocumentTracker(RunSummary* s, bool sketch_ids) : s_(s) {
  s_->document_ids.sketch = sketch_ids;
}

void DocumentTracker::RecordId(uint64_t doc) {
  DocumentIds& ids = s_->document_ids;
  if (!ids.sketch) {
    // Positional ids increase through the input: one range, split only
    // where blank or skipped records leave a gap.
    if (!ids.ranges.empty() && doc == ids.ranges.back().second + 1) {
      ids.ranges.back().second = doc;
    } else if (ids.ranges.empty() || doc > ids.ranges.back().second) {
      ids.ranges.emplace_back(doc, doc);
    }
    return;
  }
  ++ids.count;
  smallest_.insert(DocumentIdHash(doc));
  if (smallest_.size() > kIdSketchSize) smallest_.erase(std::prev(smallest_.end()));
}

void DocumentTracker::Finish() {
  Close();
  if (s_->document_ids.sketch) {
    s_->document_ids.smallest.assign(smallest_.begin(), smallest_.end());
  }
}

uint64_t DocumentTracker::Add(uint64_t doc, const Unit& u, bool per_field_positions,
                              bool kept_oov) {
  if (!open_ || doc != doc_) {
    Close();
    open_ = true;
    doc_ = doc;
    RecordId(doc);
  }
  const uint64_t base = per_field_positions ? 0 : words_;
  words_ += u.words;
  kept_ |= kept_oov && u.oov > 0;
  return base;
}

void DocumentTracker::Close() {
  if (!open_) return;
  ++s_->documents;
  ++s_->words_per_document[words_];
  if (kept_) ++s_->documents_with_kept_oov;
  open_ = false;
  words_ = 0;
  kept_ = false;
}

void DocumentTracker::AddEmptyDocument(uint64_t doc) {
  RecordId(doc);
  ++s_->documents;
  ++s_->words_per_document[0];
}

namespace {

// The facts that identify a job, without any count of its run: what a
// ledger states and --skip-done compares. File names without their folders
// (docs/ledger.md).
LedgerFacts JobFacts(const Engine& e, RandomnessKind randomness) {
  const Config& c = e.config;
  LedgerFacts f;
  AddMechanismFacts(e, &f);
  f.embedding_name = BaseName(e.embedding->path());
  f.embedding_sha256 = e.embedding->content_sha256();
  f.embedding_entries = e.embedding->size();
  f.vocab_size = e.vocab->size();
  f.dim = e.vocab->dim();
  f.randomness = RandomnessKindName(randomness);
  AddInputFacts(c, &f);
  f.output_name = c.output == "-" ? "-" : BaseName(c.output);
  if (c.shard_count > 0) f.output_shard = fmt::format("{}/{}", c.shard_index, c.shard_count);
  const Compression out_compression = ResolvedOutputCompression(c);
  if (out_compression != Compression::kNone) {
    f.output_compression = CompressionName(out_compression);
  }
  return f;
}

}  // namespace

StatusOr<bool> AlreadyDone(const Engine& e, RandomnessKind randomness) {
  const Config& c = e.config;
  const std::string ledger_path = LedgerPath(c);
  if (ledger_path.empty() || ::access(ledger_path.c_str(), F_OK) != 0 ||
      ::access(c.output.c_str(), F_OK) != 0) {
    return false;
  }
  auto read = ReadLedger(ledger_path);
  if (!read.ok()) {
    Log().warn("--skip-done: {}; redoing the run", read.status().message());
    return false;
  }
  const nlohmann::json& old = read.value();
  const nlohmann::json now = BuildLedger(JobFacts(e, randomness));
  for (const char* key : kLedgerJobFields) {
    if (old.at(key) != now.at(key)) {
      Log().warn("--skip-done: {} was written by another job ({} differs); redoing the run",
                 ledger_path, key);
      return false;
    }
  }
  const nlohmann::json& outputs = old.at("outputs");
  const nlohmann::json& want = now.at("outputs").at(0);
  if (!outputs.is_array() || outputs.size() != 1 ||
      outputs[0].value("name", "") != want.at("name") ||
      outputs[0].value("shard", "") != want.value("shard", "")) {
    Log().warn("--skip-done: {} describes another output or shard; redoing the run", ledger_path);
    return false;
  }
  // The output must be the one the ledger describes, byte for byte.
  auto verified = VerifyLedgerOutputs(ledger_path, c.output);
  if (!verified.ok()) {
    Log().warn("--skip-done: {}; redoing the run", verified.status().message());
    return false;
  }
  Log().warn("{}: already done (its ledger matches this job and its SHA-256); skipped", c.output);
  return true;
}

Status WriteLedger(const Engine& e, const RunSummary& s, const std::string& path,
                   std::unique_ptr<AtomicFile>* file) {
  const Config& c = e.config;
  LedgerFacts f = JobFacts(e, s.randomness);
  f.tool_version = c.tool_version;
  f.created_utc = NowUtc();
  AddTotals(s, &f);
  f.document_ids = s.document_ids;
  f.output_sha256 = s.output_sha256;
  const std::string text = BuildLedger(f).dump(2) + "\n";
  DPS_ASSIGN_OR_RETURN(*file, AtomicFile::Create(path));
  return (*file)->Write(text);
}

}  // namespace dpsanitize
