# FerretDB v1.24.2 (SQLite backend): the MongoDB-protocol server that the
# mongodb service type runs beside where `mongod` is not on PATH (MongoDB is
# not packaged in Debian). Built from the Go module proxy into the tool cache
# by tools/ferretdb/build.sh, which skips when the binary is present.
TOOLS += $(FERRETDB_BIN)

$(FERRETDB_BIN): $(call tool_inputs,ferretdb)
	tools/ferretdb/build.sh
