#include "dpsanitize/write/cleanup.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>

namespace dpsanitize {
namespace {

// A fixed table, so that the handler neither allocates nor takes a lock.
constexpr int kMaxLive = 16;
std::array<std::atomic<const char*>, kMaxLive> g_live{};

// The number of UninterruptedSections running (a counter, not a flag: worker
// threads may create files too), or -1 once a signal handler has begun to end
// the process. The handler can only take -1 from 0, so it never removes files
// while a section is creating or renaming them.
std::atomic<int> g_sections{0};
static_assert(std::atomic<int>::is_always_lock_free, "g_sections is used in a signal handler");
static_assert(std::atomic<const char*>::is_always_lock_free, "g_live is used in a signal handler");

// A handler on some thread is removing the files and will call _exit() within
// microseconds: starting anything now would race it, so wait for the end.
[[noreturn]] void WaitForTheEnd() {
  while (true) ::pause();
}

}  // namespace

void RegisterForCleanup(const char* path) {
  for (auto& slot : g_live) {
    const char* expected = nullptr;
    if (slot.compare_exchange_strong(expected, path)) return;
  }
}

void UnregisterFromCleanup(const char* path) {
  for (auto& slot : g_live) {
    const char* expected = path;
    if (slot.compare_exchange_strong(expected, nullptr)) return;
  }
}

UninterruptedSection::UninterruptedSection() {
  // Held on this thread first: a handler that ran here inside the section
  // would wait for the section to end, that is for itself.
  sigset_t set;
  sigemptyset(&set);
  for (int s : kCleanupSignals) sigaddset(&set, s);
  ::pthread_sigmask(SIG_BLOCK, &set, &old_mask_);
  int n = g_sections.load();
  do {
    if (n < 0) WaitForTheEnd();
  } while (!g_sections.compare_exchange_weak(n, n + 1));
}

UninterruptedSection::~UninterruptedSection() {
  g_sections.fetch_sub(1);
  ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

void CleanUpForSignal() {
  int expected = 0;
  while (!g_sections.compare_exchange_weak(expected, -1)) {
    if (expected < 0) WaitForTheEnd();  // a handler on another thread got here first
    expected = 0;
    const timespec nap{0, 200 * 1000};
    ::nanosleep(&nap, nullptr);
  }
  for (auto& slot : g_live) {
    const char* p = slot.load();
    if (p != nullptr) ::unlink(p);
  }
}

}  // namespace dpsanitize
