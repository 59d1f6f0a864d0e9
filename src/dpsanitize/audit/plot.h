// The audit's plot: per-pair losses against distance, with the claimed
// epsilon as a line, drawn by gnuplot (Debian package gnuplot-nox).
//
//   DPS_ASSIGN_OR_RETURN(std::string gnuplot, FindGnuplotFor(path));  // before the audit
//   DPS_ASSIGN_OR_RETURN(auto file, AtomicFile::Create(path));
//   ... RunAudit ...
//   DPS_RETURN_IF_ERROR(DrawAuditPlot(gnuplot, report, file.get()));  // draws and commits
#ifndef DPSANITIZE_AUDIT_PLOT_H_
#define DPSANITIZE_AUDIT_PLOT_H_

#include <string>

#include "dpsanitize/audit/audit.h"
#include "dpsanitize/core/status.h"
#include "dpsanitize/write/atomic_file.h"

namespace dpsanitize {

// A gnuplot script drawing the report into `image_path` (.png: pngcairo,
// .svg: svg).
std::string AuditGnuplotScript(const AuditReport& report, const std::string& image_path);

// Checks that `image_path` ends in .png or .svg (usage error) and finds the
// gnuplot executable on PATH (I/O error when there is none).
StatusOr<std::string> FindGnuplotFor(const std::string& image_path);

// Runs `gnuplot` on `script` (its stdin). gnuplot's stdout goes to
// /dev/null (ours carries data only); its first stderr line is quoted when it
// fails.
Status RunGnuplot(const std::string& gnuplot, const std::string& script);

// Draws `report` into `file`'s temporary path and commits the file.
Status DrawAuditPlot(const std::string& gnuplot, const AuditReport& report, AtomicFile* file);

}  // namespace dpsanitize

#endif  // DPSANITIZE_AUDIT_PLOT_H_
