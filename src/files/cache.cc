#include "files/cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace sluice::files {

const Mapping* Variant::mapped() const {
    if (!map && !map_tried && st.st_size > 0) {
        map_tried = true;
        if (auto m = Mapping::create(fd.get(), static_cast<size_t>(st.st_size))) map = std::move(*m);
    }
    return map && !map_failed ? &map : nullptr;
}

struct FileCache::Entry {
    std::string key;
    LookupKind kind = LookupKind::NotFound;
    std::shared_ptr<Resource> resource;
    uint64_t validated_ms = 0;
    uint64_t bytes = 0;
};

namespace {

// Indexed by Coding; must match http::encoding_suffix (files may not depend on http).
constexpr std::string_view kSuffix[kCodingCount] = {"", ".gz", ".zst", ".br"};

LookupKind kind_for_errno(int err) {
    switch (err) {
        case ENOENT:
        case ENOTDIR:
        case EXDEV:   // a symlink pointing outside the root
        case ELOOP:   // symlink loop, or a magic link refused by RESOLVE_NO_MAGICLINKS
        case ENAMETOOLONG:
            return LookupKind::NotFound;
        case EACCES:
        case EPERM:
            return LookupKind::Forbidden;
        default:
            return LookupKind::Error;
    }
}

Lookup from_errno(int err) {
    Lookup l;
    l.kind = kind_for_errno(err);
    if (l.kind == LookupKind::Error) l.err = err;
    return l;
}

// stat of `rel` without opening its contents (O_PATH never blocks and has no side effects,
// unlike opening a FIFO or a device).
Result<struct stat> probe(const Root& root, std::string_view rel) {
    auto fd = root.open_beneath(rel, O_PATH);
    if (!fd) return std::unexpected(fd.error());
    return Root::stat_fd(fd->get());
}

struct OpenFile {
    UniqueFd fd;
    struct stat st{};
};

// Opens `rel` for reading only if it is a regular file; anything else reads as ENOENT.
Result<OpenFile> open_regular(const Root& root, std::string_view rel) {
    auto st = probe(root, rel);
    if (!st) return std::unexpected(st.error());
    if (!S_ISREG(st->st_mode)) return fail(ENOENT);
    // O_NONBLOCK guards against the entry having been swapped for a FIFO since the probe.
    auto fd = root.open_beneath(rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (!fd) return std::unexpected(fd.error());
    OpenFile f;
    f.fd = std::move(*fd);
    auto st2 = Root::stat_fd(f.fd.get());
    if (!st2) return std::unexpected(st2.error());
    if (!S_ISREG(st2->st_mode)) return fail(ENOENT);
    f.st = *st2;
    // Reads go through io_uring/splice later; O_NONBLOCK on the file would make those fail
    // with EAGAIN instead of waiting for the disk.
    int fl = ::fcntl(f.fd.get(), F_GETFL);
    if (fl < 0 || ::fcntl(f.fd.get(), F_SETFL, fl & ~O_NONBLOCK) < 0) return fail_errno();
    return f;
}

// Reads the whole file at `fd` if it still has exactly `size` bytes.
bool read_exact(int fd, off_t size, std::string& out) {
    // One spare byte detects a file that grew since fstat.
    out.resize(static_cast<size_t>(size) + 1);
    size_t total = 0;
    while (total < out.size()) {
        ssize_t n = ::pread(fd, out.data() + total, out.size() - total, static_cast<off_t>(total));
        if (n < 0) {
            if (errno == EINTR) continue;
            out.clear();
            return false;
        }
        if (n == 0) break;
        total += static_cast<size_t>(n);
    }
    if (total != static_cast<size_t>(size)) {
        out.clear();
        return false;
    }
    out.resize(total);
    return true;
}

void fill_variant(Variant& v, OpenFile f, uint64_t small_max) {
    v.present = true;
    v.fd = std::move(f.fd);
    v.st = f.st;
    v.has_bytes = false;
    v.bytes.clear();
    // A file being written concurrently can change size under us: re-stat and retry once,
    // then give up on caching bytes (the fd still serves whatever is there).
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (static_cast<uint64_t>(v.st.st_size) > small_max) break;
        if (read_exact(v.fd.get(), v.st.st_size, v.bytes)) {
            v.has_bytes = true;
            break;
        }
        auto st = Root::stat_fd(v.fd.get());
        if (!st) break;
        v.st = *st;
    }
    v.bytes.shrink_to_fit();
    v.etag = make_etag(v.st);
}

bool same_file(const struct stat& a, const struct stat& b) {
    return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
           a.st_mode == b.st_mode && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
           a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ctim.tv_sec == b.st_ctim.tv_sec &&
           a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

}  // namespace

FileCache::FileCache(const Root& root, const MimeTypes& mime, CacheLimits limits)
    : root_(root), mime_(mime), limits_(limits) {}

FileCache::~FileCache() = default;
FileCache::FileCache(FileCache&&) noexcept = default;

Lookup FileCache::lookup(const CleanPath& path, uint64_t now_ms) {
    key_buf_.assign(path.rel);
    if (path.trailing_slash) key_buf_.push_back('/');

    if (auto it = map_.find(key_buf_); it != map_.end()) {
        Entry& e = *it->second;
        // A clock that went backwards (or a caller's stale now_ms) counts as fresh.
        bool fresh = now_ms < e.validated_ms || now_ms - e.validated_ms < limits_.revalidate_ms;
        if (!fresh && e.kind == LookupKind::File && still_valid(*e.resource)) {
            e.validated_ms = now_ms;
            e.resource->validated_ms = now_ms;
            fresh = true;
        }
        if (fresh) {
            lru_.splice(lru_.begin(), lru_, it->second);
            return Lookup{e.kind, e.resource, 0};
        }
        // Rebuilt, never patched: in-flight holders keep the old Resource intact.
        erase(it);
    }

    uint64_t bytes = 0;
    Lookup result = build(path, now_ms, bytes);
    // NotFound is not cached so a flood of random 404s cannot evict real entries (and a
    // newly created file is visible at once); errors and 403s are rare and not cached.
    bool cacheable = result.kind == LookupKind::File || result.kind == LookupKind::Redirect ||
                     result.kind == LookupKind::Directory;
    if (!cacheable) return result;

    lru_.push_front(Entry{key_buf_, result.kind, result.resource, now_ms, bytes});
    map_.emplace(key_buf_, lru_.begin());
    bytes_ += bytes;
    evict();
    return result;
}

Lookup FileCache::build(const CleanPath& path, uint64_t now_ms, uint64_t& bytes) {
    bytes = 0;
    std::string file_rel;
    Result<OpenFile> file = fail(ENOENT);

    if (path.trailing_slash) {
        file_rel = path.rel.empty() ? std::string("index.html") : path.rel + "/index.html";
        file = open_regular(root_, file_rel);
        if (!file) {
            int err = file.error().code;
            if (kind_for_errno(err) != LookupKind::NotFound) return from_errno(err);
            // No usable index.html: is the path itself a directory?
            auto st = probe(root_, path.rel);
            if (!st) return from_errno(st.error().code);
            Lookup l;
            // A trailing slash on a regular file names nothing ("a.txt/" is ENOTDIR).
            l.kind = S_ISDIR(st->st_mode) ? LookupKind::Directory : LookupKind::NotFound;
            return l;
        }
    } else {
        auto st = probe(root_, path.rel);
        if (!st) return from_errno(st.error().code);
        if (S_ISDIR(st->st_mode)) return Lookup{LookupKind::Redirect, nullptr, 0};
        if (!S_ISREG(st->st_mode)) return Lookup{LookupKind::NotFound, nullptr, 0};
        file_rel = path.rel;
        file = open_regular(root_, file_rel);
        if (!file) return from_errno(file.error().code);
    }

    auto res = std::make_shared<Resource>();
    res->rel = std::move(file_rel);
    res->content_type = mime_.lookup(res->rel);
    res->validated_ms = now_ms;
    fill_variant(res->variants[0], std::move(*file), limits_.small_max);
    res->available = 1;
    for (unsigned c = 1; c < kCodingCount; ++c) {
        path_buf_.assign(res->rel);
        path_buf_.append(kSuffix[c]);
        // Siblings are optional: any failure just means that encoding is not offered.
        auto sib = open_regular(root_, path_buf_);
        if (!sib) continue;
        fill_variant(res->variants[c], std::move(*sib), limits_.small_max);
        res->available |= 1u << c;
    }
    for (const Variant& v : res->variants) {
        if (v.has_bytes) bytes += v.bytes.size();
    }
    return Lookup{LookupKind::File, std::move(res), 0};
}

bool FileCache::still_valid(const Resource& res) {
    for (unsigned c = 0; c < kCodingCount; ++c) {
        const Variant& v = res.variants[c];
        path_buf_.assign(res.rel);
        path_buf_.append(kSuffix[c]);
        auto st = probe(root_, path_buf_);
        bool present = st && S_ISREG(st->st_mode);
        if (present != v.present) return false;
        if (present && !same_file(*st, v.st)) return false;
    }
    return true;
}

void FileCache::erase(Map::iterator it) {
    bytes_ -= it->second->bytes;
    lru_.erase(it->second);
    map_.erase(it);
}

void FileCache::evict() {
    while (!lru_.empty() && (bytes_ > limits_.max_bytes || map_.size() > limits_.max_entries)) {
        erase(map_.find(lru_.back().key));
    }
}

void FileCache::clear() {
    map_.clear();
    lru_.clear();
    bytes_ = 0;
}

Result<std::vector<DirEntry>> list_directory(const Root& root, std::string_view rel,
                                             bool allow_dotfiles) {
    auto fd = root.open_beneath(rel, O_RDONLY | O_DIRECTORY);
    if (!fd) return std::unexpected(fd.error());
    DIR* dir = ::fdopendir(fd->get());
    if (!dir) return fail_errno();
    fd->release();  // owned by `dir` now

    std::vector<DirEntry> out;
    std::string child;
    int err = 0;
    for (;;) {
        errno = 0;  // readdir signals errors only through errno
        struct dirent* d = ::readdir(dir);
        if (!d) {
            err = errno;
            break;
        }
        std::string_view name(d->d_name);
        if (name == "." || name == "..") continue;
        if (!allow_dotfiles && name.front() == '.') continue;
        struct stat st{};
        if (::fstatat(::dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISLNK(st.st_mode)) {
            // Describe what the link resolves to, but only if it resolves inside the root;
            // a dangling or escaping link would 404 anyway, so it is not listed.
            child.assign(rel);
            if (!child.empty()) child.push_back('/');
            child.append(name);
            auto target = probe(root, child);
            if (!target) continue;
            st = *target;
        }
        DirEntry e;
        e.name.assign(name);
        e.is_dir = S_ISDIR(st.st_mode);
        e.size = e.is_dir ? 0 : static_cast<uint64_t>(st.st_size);
        e.mtime = st.st_mtim.tv_sec;
        out.push_back(std::move(e));
    }
    ::closedir(dir);
    if (err != 0) return fail(err);

    std::sort(out.begin(), out.end(), [](const DirEntry& a, const DirEntry& b) {
        if (a.is_dir != b.is_dir) return a.is_dir;
        return a.name < b.name;
    });
    return out;
}

}  // namespace sluice::files
