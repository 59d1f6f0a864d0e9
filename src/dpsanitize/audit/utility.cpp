// Utility by density decile. Dense regions are where metric-DP noise of a
// given scale reaches many words, sparse ones where it reaches few, so the
// mean over the vocabulary would hide the difference the deciles show.
#include "dpsanitize/audit/utility.h"

namespace dpsanitize {

std::vector<DecileUtility> UtilityByDecile(const SampledPairs& sampled,
                                           const std::vector<WordId>& words,
                                           const std::vector<WordLaw>& laws) {
  std::vector<DecileUtility> out;
  for (int dec = 1; dec <= 10; ++dec) {
    DecileUtility u;
    u.decile = dec;
    u.nn_lo = sampled.decile_range[dec - 1].first;
    u.nn_hi = sampled.decile_range[dec - 1].second;
    for (size_t i = 0; i < words.size(); ++i) {
      if (sampled.decile[words[i]] != dec) continue;
      ++u.words;
      u.p_unchanged += laws[i].p_unchanged;
      u.mean_distance += laws[i].mean_distance;
      u.mean_rank += laws[i].mean_rank;
    }
    if (u.words > 0) {
      const double k = static_cast<double>(u.words);
      u.p_unchanged /= k;
      u.mean_distance /= k;
      u.mean_rank /= k;
    }
    out.push_back(u);
  }
  return out;
}

}  // namespace dpsanitize
