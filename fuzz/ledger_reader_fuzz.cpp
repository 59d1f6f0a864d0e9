// Fuzzes the ledger reader that `dpsanitize ledger show` and `ledger merge`
// use, on any bytes: ReadLedger returns a Status or a ledger; ShowLedger and
// MergeLedgers (the ledger with itself) on what it accepts, and ShowLedger on
// the merge, return a Status or a result. Library code returns errors and never
// throws (project rule), so an exception escaping is a finding as much as a
// crash is.
// fuzz-link: dpsanitize::ledger
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dpsanitize/ledger/ledger.h"
#include "fuzz_file.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzFile file(data, size);
  if (!file.ok()) return 0;
  auto ledger = dpsanitize::ReadLedger(file.path());
  if (!ledger.ok()) return 0;
  const auto shown = dpsanitize::ShowLedger(*ledger);
  Check(!shown.ok() || !shown->empty());
  auto merged = dpsanitize::MergeLedgers({*ledger, *ledger}, {"a.ledger.json", "b.ledger.json"},
                                         "fuzz", "2026-01-01T00:00:00Z");
  if (!merged.ok()) return 0;
  Check(merged->is_object());
  const auto merged_shown = dpsanitize::ShowLedger(*merged);
  Check(!merged_shown.ok() || !merged_shown->empty());
  return 0;
}
