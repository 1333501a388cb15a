// files/cache.h — per-worker cache of resolved resources (one per worker thread, not
// thread-safe). A Resource is what a request path maps to: the file (index.html for a
// directory), its open fd, stat, ETag, Content-Type and its precompressed siblings; files up
// to `small_max` bytes also carry their bytes. Entries are revalidated by stat (inode, size,
// mtime) when older than `revalidate_ms`, so a replaced or rewritten file is noticed within
// that window and never served stale after it. Resources are shared_ptr: an in-flight send
// keeps its fd and bytes alive after eviction. File, Redirect and Directory results are cached;
// NotFound, Forbidden and Error are not (so random 404s cannot evict real entries).
//
// Metadata work here (openat2, fstat, reading small files) is synchronous: it runs on a cache
// miss or at most once per revalidation window per file, and hits the page cache. Body bytes
// of large files go through the ring (splice) in server/.
#pragma once

#include <sys/stat.h>

#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/fd.h"
#include "base/result.h"
#include "files/mapping.h"
#include "files/mime.h"
#include "files/path.h"
#include "files/root.h"

namespace sluice::files {

// Same order and values as http::Encoding (server static_asserts it).
enum class Coding : uint8_t { Identity = 0, Gzip = 1, Zstd = 2, Br = 3 };
constexpr unsigned kCodingCount = 4;
// Room for Variant::rep_index (at least http::kPrerenderIndexLen; handler/ static_asserts it).
constexpr size_t kRepIndexLen = 24;

struct Variant {
    bool present = false;
    UniqueFd fd;               // open O_RDONLY; valid while present
    struct stat st{};
    std::string etag;          // strong, quoted; differs per variant
    bool has_bytes = false;    // st.st_size <= small_max: `bytes` holds the whole file
    std::string bytes;
    // A mapping of `fd`, made on first use (files/mapping.h): the userspace TLS path seals from
    // it and HTTP/2 sends from it. nullptr when mmap failed or a read of it faulted (the file
    // shrank). Lives and dies with the entry: queued sends may point into it, so a fault marks
    // it unusable instead of unmapping it.
    [[nodiscard]] const Mapping* mapped() const;
    void map_faulted() const { map_failed = true; }
    mutable Mapping map;
    mutable bool map_tried = false;
    mutable bool map_failed = false;
    // Free slots for the server: this variant's representation header fields for a whole-body
    // response, rendered on first use (http::prerender_representation): the HTTP/1.1 lines,
    // and an index saying where each field lies in them (http's layout, opaque here), so
    // HTTP/2 sends the same fields without rendering them again.
    mutable std::string rep_headers;
    mutable std::array<uint16_t, kRepIndexLen> rep_index{};
};

struct Resource {
    std::string rel;                 // resolved file path beneath the root
    std::string_view content_type;   // from MimeTypes (of the identity file name)
    Variant variants[kCodingCount];  // [Identity] always present for a File
    unsigned available = 1;          // bitmask of present variants (bit i = Coding i)
    uint64_t validated_ms = 0;
};

enum class LookupKind : uint8_t {
    File,          // `resource` is set
    Redirect,      // a directory requested without trailing slash → 301 to rel + "/"
    Directory,     // a directory without index.html (autoindex or 403)
    NotFound,      // missing, not a regular file, or outside the root (EXDEV, ELOOP)
    Forbidden,     // EACCES
    Error,         // anything else (EMFILE…) → 500; `err` says which
};

struct Lookup {
    LookupKind kind = LookupKind::NotFound;
    std::shared_ptr<Resource> resource;
    int err = 0;
};

struct CacheLimits {
    uint64_t small_max = 64 * 1024;            // files up to this are held in memory
    uint64_t max_bytes = 64ull * 1024 * 1024;  // total cached bytes per worker
    size_t max_entries = 4096;                 // resources (each holds up to 4 fds)
    uint64_t revalidate_ms = 1000;
};

class FileCache {
public:
    FileCache(const Root& root, const MimeTypes& mime, CacheLimits limits = {});
    // Out of line: Entry is only complete in cache.cc.
    ~FileCache();
    FileCache(FileCache&&) noexcept;
    FileCache& operator=(FileCache&&) = delete;

    // Resolves a clean path. `now_ms` is a monotonic clock in milliseconds.
    Lookup lookup(const CleanPath& path, uint64_t now_ms);

    // Drops every entry (e.g. on SIGHUP).
    void clear();

    [[nodiscard]] size_t entries() const { return map_.size(); }
    [[nodiscard]] uint64_t cached_bytes() const { return bytes_; }

private:
    struct Entry;
    using Map = std::unordered_map<std::string, std::list<Entry>::iterator>;

    // Resolves `path` from disk; `bytes` receives the file bytes the result holds in memory.
    Lookup build(const CleanPath& path, uint64_t now_ms, uint64_t& bytes);
    // Re-stats every variant of `res` (present or not) against what was cached.
    bool still_valid(const Resource& res);
    void erase(Map::iterator it);
    void evict();

    const Root& root_;
    const MimeTypes& mime_;
    CacheLimits limits_;
    // LRU order, most recent first; map_ is keyed by rel + ("/" if trailing_slash).
    Map map_;
    std::list<Entry> lru_;
    uint64_t bytes_ = 0;
    std::string key_buf_;   // reused per lookup so a hit does not allocate
    std::string path_buf_;  // scratch for "<rel><suffix>" during revalidation
};

// Directory listing for autoindex: names (dotfiles hidden unless allowed), '/' suffix for
// directories, sorted. `rel` is a CleanPath::rel of a directory beneath the root.
struct DirEntry {
    std::string name;
    bool is_dir = false;
    uint64_t size = 0;
    time_t mtime = 0;
};
Result<std::vector<DirEntry>> list_directory(const Root& root, std::string_view rel,
                                             bool allow_dotfiles);

}  // namespace sluice::files
