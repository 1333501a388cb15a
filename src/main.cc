// sluice — a static file server on io_uring. See README.md.
#include "server/server.h"

int main(int argc, char** argv) { return sluice::server::main_entry(argc, argv); }
