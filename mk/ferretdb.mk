# FerretDB v1.24.2 (SQLite backend): the MongoDB-protocol server that the
# mongodb service type runs beside where `mongod` is not on PATH (MongoDB is
# not packaged in Debian). Built from the Go module proxy into the tool cache
# by tools/ferretdb/build.sh, which skips when the binary is present.
FERRETDB_VERSION := v1.24.2
FERRETDB_BIN := $(VECRO_CACHE)/ferretdb/$(FERRETDB_VERSION)/ferretdb

TOOLS += $(FERRETDB_BIN)

$(FERRETDB_BIN):
	tools/ferretdb/build.sh
