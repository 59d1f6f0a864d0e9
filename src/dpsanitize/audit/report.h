// The audit report as text: a table for people, JSON (format
// "dpsanitize-audit/1", docs/privacy-audit.md) for scripts.
//
//   std::string table = FormatAuditTable(report);
//   std::string json = AuditReportToJson(report).dump(2);
//
// Both print the vocabulary words of the audited pairs and their worst
// outputs (never corpus text: the audit reads none).
#ifndef DPSANITIZE_AUDIT_REPORT_H_
#define DPSANITIZE_AUDIT_REPORT_H_

#include <nlohmann/json.hpp>
#include <string>

#include "dpsanitize/audit/audit.h"

namespace dpsanitize {

nlohmann::json AuditReportToJson(const AuditReport& report);
std::string FormatAuditTable(const AuditReport& report);

}  // namespace dpsanitize

#endif  // DPSANITIZE_AUDIT_REPORT_H_
