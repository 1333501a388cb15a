#include "files/mime.h"

#include <gtest/gtest.h>

#include "temp_tree.h"

namespace sluice::files {
namespace {

TEST(MimeTypes, SystemTableWithCharsets) {
    MimeTypes m = MimeTypes::load();
    EXPECT_EQ(m.lookup("index.html"), "text/html; charset=utf-8");
    EXPECT_EQ(m.lookup("style.css"), "text/css; charset=utf-8");
    EXPECT_EQ(m.lookup("logo.png"), "image/png");
    EXPECT_EQ(m.lookup("data.json"), "application/json; charset=utf-8");
    EXPECT_EQ(m.lookup("icon.svg"), "image/svg+xml; charset=utf-8");
    EXPECT_EQ(m.lookup("module.wasm"), "application/wasm");
    EXPECT_EQ(m.lookup("font.woff2"), "font/woff2");
    EXPECT_EQ(m.lookup("app.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(m.lookup("app.mjs"), "text/javascript; charset=utf-8");
}

TEST(MimeTypes, CaseInsensitiveLastExtension) {
    MimeTypes m = MimeTypes::load();
    EXPECT_EQ(m.lookup("INDEX.HTML"), "text/html; charset=utf-8");
    EXPECT_EQ(m.lookup("Photo.JpG"), "image/jpeg");
    EXPECT_EQ(m.lookup("dir/archive.tar.gz"), "application/gzip");
    EXPECT_EQ(m.lookup("a.html/readme"), "application/octet-stream");
}

TEST(MimeTypes, UnknownIsOctetStream) {
    MimeTypes m = MimeTypes::load();
    EXPECT_EQ(m.lookup("file.unknownext"), "application/octet-stream");
    EXPECT_EQ(m.lookup("Makefile"), "application/octet-stream");
    EXPECT_EQ(m.lookup("trailingdot."), "application/octet-stream");
    EXPECT_EQ(m.lookup(""), "application/octet-stream");
    EXPECT_EQ(m.lookup("x." + std::string(100, 'h')), "application/octet-stream");
}

TEST(MimeTypes, BuiltinFallbackWithoutSystemFile) {
    MimeTypes m = MimeTypes::load("/nonexistent/mime.types");
    EXPECT_EQ(m.lookup("a.html"), "text/html; charset=utf-8");
    EXPECT_EQ(m.lookup("a.md"), "text/markdown; charset=utf-8");
    EXPECT_EQ(m.lookup("a.map"), "application/json; charset=utf-8");
    EXPECT_EQ(m.lookup("a.avif"), "image/avif");
    EXPECT_EQ(m.lookup("a.webp"), "image/webp");
    EXPECT_EQ(m.lookup("a.PDF"), "application/pdf");
    EXPECT_EQ(m.lookup("a.zzz"), "application/octet-stream");
}

TEST(MimeTypes, FileLayersOnTopButJavascriptStays) {
    testing::TempTree t;
    std::string path = t.in_root("mime.types");
    testing::TempTree::write_abs(path,
                                 "# comment line html\n"
                                 "application/x-foo\tfoo\n"
                                 "text/x-bar bar BAZ # trailing comment qux\n"
                                 "application/evil js mjs\n"
                                 "image/x-custom-png png\n"
                                 "application/only-type\n"
                                 "application/manifest+json webmanifest\n"
                                 "application/multi tm.json\n");
    MimeTypes m = MimeTypes::load(path.c_str());
    EXPECT_EQ(m.lookup("x.foo"), "application/x-foo");
    EXPECT_EQ(m.lookup("x.bar"), "text/x-bar; charset=utf-8");
    EXPECT_EQ(m.lookup("x.baz"), "text/x-bar; charset=utf-8");
    EXPECT_EQ(m.lookup("x.qux"), "application/octet-stream");
    EXPECT_EQ(m.lookup("x.png"), "image/x-custom-png");
    EXPECT_EQ(m.lookup("x.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(m.lookup("x.mjs"), "text/javascript; charset=utf-8");
    EXPECT_EQ(m.lookup("x.webmanifest"), "application/manifest+json; charset=utf-8");
    EXPECT_EQ(m.lookup("x.json"), "application/json; charset=utf-8");
    EXPECT_EQ(m.lookup("x.html"), "text/html; charset=utf-8");
}

}  // namespace
}  // namespace sluice::files
