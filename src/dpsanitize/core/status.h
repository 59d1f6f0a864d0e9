// Status: the error type of the dpsanitize library.
//
// Every fallible library call returns a Status (or StatusOr<T>); nothing in
// src/ throws across its public interface and nothing prints. The CLI turns a
// Status into one stderr line `dpsanitize: <message>` and an exit code:
//   kOk -> 0, kDataError / kIoError / kInternal -> 1, kUsage -> 2.
// Messages name the bad value (a file, a line, an option) but never the text
// being sanitized.
#ifndef DPSANITIZE_CORE_STATUS_H_
#define DPSANITIZE_CORE_STATUS_H_

#include <fmt/format.h>

#include <optional>
#include <string>
#include <utility>

namespace dpsanitize {

enum class StatusCode {
  kOk = 0,
  kUsage,       // bad option or option value: exit 2
  kDataError,   // bad input or embedding data: exit 1
  kIoError,     // file system failure: exit 1
  kBrokenPipe,  // the reader of stdout went away: a quiet stop, exit 0
  kInternal,    // a broken invariant: exit 1
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename... Args>
Status UsageError(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kUsage, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status DataError(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kDataError, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status IoError(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kIoError, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status InternalError(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kInternal, fmt::format(f, std::forward<Args>(args)...));
}

// A value or an error.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design
  StatusOr(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

// Exit code for a status, as documented in README.
int ExitCodeFor(const Status& status);

}  // namespace dpsanitize

#define DPS_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::dpsanitize::Status dps_status_ = (expr); \
    if (!dps_status_.ok()) return dps_status_; \
  } while (0)

#define DPS_CONCAT_INNER(a, b) a##b
#define DPS_CONCAT(a, b) DPS_CONCAT_INNER(a, b)
#define DPS_ASSIGN_OR_RETURN(lhs, expr) \
  DPS_ASSIGN_OR_RETURN_IMPL(DPS_CONCAT(dps_statusor_, __LINE__), lhs, expr)
#define DPS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#endif  // DPSANITIZE_CORE_STATUS_H_
