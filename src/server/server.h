// server/server.h — process entry: CLI → validated startup (root, log, listeners; any problem
// is one line on stderr and exit 2) → one Worker thread per --threads → signal handling
// (SIGTERM/SIGINT: graceful stop within --shutdown-grace; exit 0).
#pragma once

namespace sluice::server {

int main_entry(int argc, char** argv);

}  // namespace sluice::server
