// handler/static_file.cc — the static-file handler: method, target, lookup, decision.
#include "handler/static_file.h"

#include <cerrno>
#include <cstdio>
#include <utility>
#include <vector>

#include "files/path.h"
#include "http/accept_encoding.h"

namespace sluice::handler {

namespace {

// A variant is picked by http::Encoding and indexed by files::Coding: the same numbering.
static_assert(static_cast<int>(files::Coding::Gzip) == static_cast<int>(http::Encoding::Gzip));
static_assert(static_cast<int>(files::Coding::Zstd) == static_cast<int>(http::Encoding::Zstd));
static_assert(static_cast<int>(files::Coding::Br) == static_cast<int>(http::Encoding::Br));
static_assert(files::kCodingCount == http::kEncodingCount);
static_assert(files::kRepIndexLen >= http::kPrerenderIndexLen);

constexpr http::Field kAllow[] = {{http::FieldName::Allow, http::kAllowMethods}};

}  // namespace

void Response::clear() {
    plan.clear();
    variant = nullptr;
    hold.reset();
    bad_request = false;
}

StaticFiles::StaticFiles(const Env& env) : env_(env) {}

http::ServerInfo StaticFiles::server_info() {
    http::ServerInfo info;
    info.server_name = env_.options.server_name;
    info.date = env_.dates->now();
    return info;
}

void StaticFiles::handle(const http::Request& req, Response& out) {
    out.clear();
    if (req.method == http::Method::Other) {
        simple(req, 405, kAllow, out);
        return;
    }
    if (req.method == http::Method::Options) {
        // The methods are the same for every resource, so a path is only checked for
        // malformation (the parser let "*" through for OPTIONS alone).
        if (req.form != http::TargetForm::Asterisk &&
            !files::clean_target(req.path(), true).has_value()) {
            bad_request(out);
            return;
        }
        http::plan_options_response(req.keep_alive, server_info(), out.plan);
        return;
    }
    auto clean = files::clean_target(req.path(), env_.options.dotfiles);
    if (!clean) {
        // A malformed target (bad escape, NUL, encoded '/', invalid UTF-8) is bad input like a
        // malformed request line: answer and close. A hidden dotfile is a plain 404 on a live
        // connection.
        if (clean.error() == 400)
            bad_request(out);
        else
            simple(req, clean.error(), {}, out);
        return;
    }
    files::Lookup lk = env_.cache->lookup(*clean, *env_.now_ms);
    switch (lk.kind) {
    case files::LookupKind::File:
        file(req, lk, out);
        return;
    case files::LookupKind::Redirect:
        redirect(req, out);
        return;
    case files::LookupKind::Directory:
        if (env_.options.autoindex)
            autoindex(req, clean->rel, out);
        else
            simple(req, 403, {}, out);
        return;
    case files::LookupKind::NotFound:
        simple(req, 404, {}, out);
        return;
    case files::LookupKind::Forbidden:
        simple(req, 403, {}, out);
        return;
    case files::LookupKind::Error:
        simple(req, 500, {}, out);
        return;
    }
}

void StaticFiles::error(int status, Response& out) {
    out.clear();
    std::span<const http::Field> extra;
    if (status == 405) extra = kAllow;
    http::plan_simple_response(status, extra, false, false, server_info(), out.plan);
}

void StaticFiles::bad_request(Response& out) {
    error(400, out);
    out.bad_request = true;
}

void StaticFiles::simple(const http::Request& req, int status,
                         std::span<const http::Field> extra, Response& out) {
    http::plan_simple_response(status, extra, req.keep_alive, req.method == http::Method::Head,
                               server_info(), out.plan);
}

void StaticFiles::file(const http::Request& req, files::Lookup& lk, Response& out) {
    files::Resource& r = *lk.resource;
    const http::Encoding enc = http::choose_encoding(req.accept_encoding, r.available);
    const files::Variant& v = r.variants[static_cast<unsigned>(enc)];
    http::Representation rep;
    rep.length = static_cast<uint64_t>(v.st.st_size);
    rep.mtime = v.st.st_mtim.tv_sec;
    rep.etag = v.etag;
    rep.content_type = r.content_type;
    rep.encoding = enc;
    rep.vary_accept_encoding = r.available != 1;
    // Built once per variant; a whole-body response then appends (h1) or walks (h2) it.
    if (v.rep_headers.empty()) http::prerender_representation(rep, v.rep_headers, v.rep_index);
    if (!v.rep_headers.empty()) {
        rep.prerendered = v.rep_headers;
        rep.prerendered_index = v.rep_index;
    }
    http::plan_file_response(req, rep, server_info(), out.plan);
    out.variant = &v;
    out.hold = std::move(lk.resource);
}

void StaticFiles::redirect(const http::Request& req, Response& out) {
    // The raw path (still percent-encoded, CR/LF impossible after llhttp) plus '/', then the
    // query as it came.
    std::string_view t = req.path();
    const size_t q = t.find('?');
    const std::string_view path = t.substr(0, q);
    const std::string_view query = q == std::string_view::npos ? "" : t.substr(q);
    simple(req, 301, {}, out);  // Location follows Content-Length, as extra fields do
    out.plan.copy_field(http::FieldName::Location, {path, "/", query});
}

void StaticFiles::autoindex(const http::Request& req, const std::string& rel, Response& out) {
    auto entries = files::list_directory(*env_.root, rel, env_.options.dotfiles);
    if (!entries) {
        simple(req, entries.error().code == EACCES ? 403 : 404, {}, out);
        return;
    }
    const std::string title = "Index of /" + files::html_escape(rel) + (rel.empty() ? "" : "/");
    std::string body;
    body.reserve(256 + entries->size() * 96);
    body += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>";
    body += title;
    body += "</title></head><body><h1>";
    body += title;
    body += "</h1><hr><pre>\n<a href=\"../\">../</a>\n";
    for (const files::DirEntry& e : *entries) {
        body += "<a href=\"";
        body += files::url_escape_segment(e.name);
        if (e.is_dir) body += '/';
        body += "\">";
        body += files::html_escape(e.name);
        if (e.is_dir) body += '/';
        body += "</a>";
        char meta[96];
        char date[http::kHttpDateLen + 1] = {};
        http::format_http_date(e.mtime, date);
        int n = std::snprintf(meta, sizeof meta, "  %s  %llu\n", date,
                              static_cast<unsigned long long>(e.size));
        body.append(meta, static_cast<size_t>(n > 0 ? n : 0));
    }
    body += "</pre><hr></body></html>\n";
    http::plan_html_response(200, std::move(body), req.keep_alive,
                             req.method == http::Method::Head, server_info(), out.plan);
}

}  // namespace sluice::handler
