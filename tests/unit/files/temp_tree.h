// Test helper: a real temporary directory tree, removed on destruction.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice::files::testing {

class TempTree {
public:
    TempTree() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "sluice-files-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        base_ = tmpl;
        std::filesystem::create_directory(root());
        std::filesystem::create_directory(outside());
    }
    ~TempTree() {
        std::error_code ec;
        std::filesystem::remove_all(base_, ec);
    }
    TempTree(const TempTree&) = delete;
    TempTree& operator=(const TempTree&) = delete;

    // The served root, and a sibling directory that must stay unreachable from it.
    [[nodiscard]] std::string root() const { return base_ + "/root"; }
    [[nodiscard]] std::string outside() const { return base_ + "/outside"; }
    [[nodiscard]] std::string in_root(std::string_view rel) const {
        return root() + "/" + std::string(rel);
    }

    // Writes through O_TRUNC on the existing inode (an in-place rewrite).
    void write(std::string_view rel, std::string_view content) const {
        write_abs(in_root(rel), content);
    }
    static void write_abs(const std::string& path, std::string_view content) {
        std::filesystem::path p(path);
        std::filesystem::create_directories(p.parent_path());
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) throw std::runtime_error("open for write failed: " + path);
        size_t off = 0;
        while (off < content.size()) {
            ssize_t n = ::write(fd, content.data() + off, content.size() - off);
            if (n <= 0) throw std::runtime_error("write failed");
            off += static_cast<size_t>(n);
        }
        ::close(fd);
    }
    void mkdir(std::string_view rel) const { std::filesystem::create_directories(in_root(rel)); }
    void symlink(std::string_view target, std::string_view rel) const {
        if (::symlink(std::string(target).c_str(), in_root(rel).c_str()) != 0) {
            throw std::runtime_error("symlink failed");
        }
    }
    void remove(std::string_view rel) const { std::filesystem::remove(in_root(rel)); }

private:
    std::string base_;
};

}  // namespace sluice::files::testing
