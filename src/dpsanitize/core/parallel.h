// ParallelFor: the library's one way to run work on several threads.
//
//   ParallelFor(n, [&](size_t i) { ... });
//
// runs f(0), ..., f(n - 1) concurrently, each on its own thread (f(0) on the
// calling thread), and returns when all have finished. n is the number of
// workers, not the number of items: a caller with many items splits them into
// n shares itself (the sanitize loop gives each worker a contiguous run of
// lines so output stays in input order; the audit pulls item indices from an
// atomic counter inside f). f must not throw; report errors through the share's
// own slot (e.g. a Status per worker) and combine them after the call.
//
// Why plain threads and not a pool: each call does one large batch (megabytes
// of text, or thousands of audit pairs), so starting n threads costs
// microseconds against milliseconds of work; join() gives the caller every
// worker's writes with no further synchronisation; and there is no pool
// lifetime, queue or shutdown to get right when a signal handler _exit()s the
// process mid-batch.
#ifndef DPSANITIZE_CORE_PARALLEL_H_
#define DPSANITIZE_CORE_PARALLEL_H_

#include <cstddef>
#include <thread>
#include <vector>

namespace dpsanitize {

template <typename F>
void ParallelFor(size_t n, F&& f) {
  if (n == 0) return;
  if (n == 1) {
    f(size_t{0});
    return;
  }
  std::vector<std::thread> threads;
  threads.reserve(n - 1);
  for (size_t i = 1; i < n; ++i) threads.emplace_back([&f, i] { f(i); });
  f(size_t{0});
  for (std::thread& t : threads) t.join();
}

}  // namespace dpsanitize

#endif  // DPSANITIZE_CORE_PARALLEL_H_
