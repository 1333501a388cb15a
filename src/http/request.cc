// http/request.cc — Request::clear(): resets every field while keeping string capacity.
#include "http/request.h"

namespace sluice::http {

void Request::clear() {
    method = Method::Other;
    method_name.clear();
    target.clear();
    form = TargetForm::Origin;
    absolute_path.clear();
    version_major = 1;
    version_minor = 1;
    keep_alive = true;
    has_body = false;
    host.clear();
    range.clear();
    if_range.clear();
    if_match.clear();
    if_none_match.clear();
    if_modified_since.clear();
    if_unmodified_since.clear();
    accept_encoding.clear();
    user_agent.clear();
    referer.clear();
    has_host = false;
}

}  // namespace sluice::http
