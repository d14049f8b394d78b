package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/vecrosim/vecro/images/service/internal/config"
	"github.com/vecrosim/vecro/images/service/internal/faultagent"
	"github.com/vecrosim/vecro/images/service/internal/server"
)

// closingStore is a storage type's database handle.
type closingStore interface {
	server.Store
	Close() error
}

// openStore connects a storage type to its database through the agent's
// db proxy.
//
// TODO(H8): images/service/internal/storage (storage.Open) is not built yet;
// until it is, storage types fail at start-up with this error.
func openStore(_ context.Context, _ context.Context, cfg *config.Config, _ *faultagent.Agent, _ *slog.Logger) (closingStore, error) {
	return nil, fmt.Errorf("--type %s: storage types not built yet", cfg.Type)
}
