#!/bin/sh
# Command of the synthetic-data FlowDB image (flowdb/Dockerfile, target `synthetic`).
# On the first start the data are generated while the server listens on loopback only, so nothing else connects
# and the container is not healthy yet; then (and on every later start) FlowDB serves in the foreground.
set -eu
FLOWDB_LISTEN_ADDRESSES=127.0.0.1 flowdb start
FLOWDB_LISTEN_ADDRESSES=127.0.0.1 flowdb synthetic --if-empty
FLOWDB_LISTEN_ADDRESSES=127.0.0.1 flowdb stop
exec flowdb start --foreground
