// dps_bench: the floors that scripts/bench.sh compares dpsanitize against.
//   dps_bench floor IN OUT [--threads N] [--embedding P]
//       the whole pipeline (read, tokenize, look up, render, write) with the
//       identity mechanism: what dpsanitize costs without any noise;
//   dps_bench samplers WORDS [--threads N] [--eps E] [--embedding P]
//       the tg randomness alone for WORDS words: per word a keyed stream
//       (BLAKE2b + ChaCha20), one truncated Poisson draw and k + 1 truncated
//       Gumbel draws, no neighbour lookup and no text.
// Prints one line: "<words> words in <seconds> s: <rate> words/s".
// Not a test and not installed; timing lives here, never in ctest.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "dpsanitize/core/log.h"
#include "dpsanitize/mechanisms/bem_weights.h"
#include "dpsanitize/mechanisms/samplers.h"
#include "dpsanitize/mechanisms/tg.h"
#include "dpsanitize/mechanisms/tg_plan.h"
#include "dpsanitize/pipeline/engine.h"
#include "dpsanitize/pipeline/sanitize.h"

using namespace dpsanitize;

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: dps_bench floor IN OUT [--threads N] [--embedding P]\n"
               "       dps_bench samplers WORDS [--threads N] [--eps E] [--embedding P]\n"
               "       dps_bench bem-weights [--threads N] [--eps E (eps_1)] [--iterations I] "
               "[--corrections C] [--cone-slope S] [--cone-updates U] [--dense D] "
               "[--embedding P]\n");
  return 2;
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage();
  const std::string mode = argv[1];
  std::vector<std::string> pos;
  Config c;
  double eps = 50;
  int iterations = BemWeightsOptions().iterations;
  int corrections = 0;
  const BemWeightsOptions bem_defaults;
  double cone_slope = bem_defaults.cone_slope;
  int cone_updates = bem_defaults.cone_updates;
  int dense = bem_defaults.dense_corrections;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      c.threads = static_cast<unsigned>(std::atoi(argv[++i]));
    } else if (a == "--embedding" && i + 1 < argc) {
      c.embedding = argv[++i];
    } else if (a == "--corrections" && i + 1 < argc) {
      corrections = std::atoi(argv[++i]);
    } else if (a == "--cone-slope" && i + 1 < argc) {
      cone_slope = std::atof(argv[++i]);
    } else if (a == "--cone-updates" && i + 1 < argc) {
      cone_updates = std::atoi(argv[++i]);
    } else if (a == "--dense" && i + 1 < argc) {
      dense = std::atoi(argv[++i]);
    } else if (a == "--iterations" && i + 1 < argc) {
      iterations = std::atoi(argv[++i]);
    } else if (a == "--eps" && i + 1 < argc) {
      eps = std::atof(argv[++i]);
    } else {
      pos.push_back(a);
    }
  }
  const unsigned threads = c.threads == 0 ? std::thread::hardware_concurrency() : c.threads;
  if (mode == "floor" && pos.size() == 2) {
    c.mechanism = "identity";
    c.input = pos[0];
    c.output = pos[1];
    c.no_ledger = true;
    auto engine = OpenEngine(c, true);
    if (!engine.ok()) {
      std::fprintf(stderr, "dps_bench: %s\n", engine.status().message().c_str());
      return 1;
    }
    RunSummary s;
    const auto t0 = std::chrono::steady_clock::now();
    const Status st = SanitizeWith(*engine.value(), RunKey::FromSeed("bench"), &s);
    const double secs = Seconds(t0);
    if (!st.ok()) {
      std::fprintf(stderr, "dps_bench: %s\n", st.message().c_str());
      return 1;
    }
    std::printf("%llu words in %.3f s: %.0f words/s\n", static_cast<unsigned long long>(s.words),
                secs, s.words / secs);
    return 0;
  }
  if (mode == "samplers" && pos.size() == 1) {
    const uint64_t words = std::strtoull(pos[0].c_str(), nullptr, 10);
    c.mechanism = "tg";
    c.eps = eps;
    c.no_ledger = true;
    auto engine = OpenEngine(c, false);
    if (!engine.ok()) {
      std::fprintf(stderr, "dps_bench: %s\n", engine.status().message().c_str());
      return 1;
    }
    const auto& tg = dynamic_cast<const TgPlan&>(*engine.value()->plan);
    const TruncatedPoisson poisson(tg.params().mu, engine.value()->vocab->size() - 1);
    const TruncatedGumbel gumbel(tg.params().b, tg.params().delta_max);
    const RunKey key = RunKey::FromSeed("bench");
    std::vector<double> sink(threads, 0.0);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        double acc = 0;
        // Documents of 20 words: one key per document, as in the pipeline.
        for (uint64_t d = t; d * 20 < words; d += threads) {
          const DocKey doc(key, d);
          for (uint64_t i = 0; i < 20 && d * 20 + i < words; ++i) {
            WordRng rng(doc, 0, i);
            const uint64_t k = poisson.Sample(rng.Uniform());
            double best = gumbel.Sample(rng.Uniform());
            for (uint64_t r = 0; r < k; ++r) best = std::min(best, gumbel.Sample(rng.Uniform()));
            acc += best;
          }
        }
        sink[t] = acc;
      });
    }
    for (auto& th : pool) th.join();
    const double secs = Seconds(t0);
    double total = 0;
    for (double x : sink) total += x;
    std::printf("%llu words in %.3f s: %.0f words/s (checksum %.3g)\n",
                static_cast<unsigned long long>(words), secs, words / secs, total);
    return 0;
  }
  if (mode == "bem-weights") {
    // Time of bem's weights for the run's vocabulary at eps_1 = --eps:
    // the cheap iteration, then the exact ln Z and L over all pairs.
    c.mechanism = "em";
    c.eps = eps;
    c.no_ledger = true;
    auto engine = OpenEngine(c, false);
    if (!engine.ok()) {
      std::fprintf(stderr, "dps_bench: %s\n", engine.status().message().c_str());
      return 1;
    }
    auto nb = engine.value()->ExactNeighbors();
    if (!nb.ok()) {
      std::fprintf(stderr, "dps_bench: %s\n", nb.status().message().c_str());
      return 1;
    }
    BemWeightsOptions o;
    o.eps1 = eps;
    o.threads = threads;
    o.iterations = iterations;
    o.exact_corrections = corrections;
    o.cone_slope = cone_slope;
    o.cone_updates = cone_updates;
    o.dense_corrections = dense;
    const auto t0 = std::chrono::steady_clock::now();
    // Stage times on stderr, so a slow stage shows which one it is.
    o.progress = [t0](const std::string& stage) {
      std::fprintf(stderr, "[%6.1f s] %s\n", Seconds(t0), stage.c_str());
    };
    auto w = ComputeBemWeights(engine.value()->vocab->vectors(), *nb.value().source,
                               nb.value().depth, o);
    const double secs = Seconds(t0);
    if (!w.ok()) {
      std::fprintf(stderr, "dps_bench: %s\n", w.status().message().c_str());
      return 1;
    }
    std::printf("|V| = %zu, eps_1 = %g: L = %.6g, ln Z spread = %.4g, %d iterations, %.1f s\n",
                engine.value()->vocab->size(), eps, w.value().lipschitz, w.value().log_z_spread,
                w.value().iterations, secs);
    return 0;
  }
  return Usage();
}
