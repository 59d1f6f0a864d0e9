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

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

#include "dpsanitize/core/status.h"

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

// fn(i) for every i in [0, n) on up to `threads` threads, worker t taking
// t, t + workers, ...: for many items of equal cost, with no shared counter.
template <typename F>
void ParallelStrided(size_t n, size_t threads, F&& fn) {
  const size_t workers = std::max<size_t>(1, std::min(threads, n));
  ParallelFor(workers, [&](size_t t) {
    for (size_t i = t; i < n; i += workers) fn(i);
  });
}

// fn(i) for every i in [0, n) on up to `threads` threads, items handed out
// one at a time from a shared counter (laws, pairs and words differ widely in
// cost); after an error no new item starts, and the first worker's error is
// returned.
template <typename F>
Status ForEachItem(size_t n, size_t threads, F&& fn) {
  const size_t workers = std::max<size_t>(1, std::min<size_t>(threads, n));
  std::atomic<size_t> next{0};
  std::vector<Status> status(workers);
  ParallelFor(workers, [&](size_t worker) {
    while (true) {
      const size_t i = next.fetch_add(1);
      if (i >= n) return;
      Status s = fn(i);
      if (!s.ok()) {
        status[worker] = std::move(s);
        next.store(n);
        return;
      }
    }
  });
  for (Status& s : status) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace dpsanitize

#endif  // DPSANITIZE_CORE_PARALLEL_H_
