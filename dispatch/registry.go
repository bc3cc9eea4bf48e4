package dispatch

import (
	"fmt"
	"sync"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// Registry maps provider types to the providers of this process.
type Registry struct {
	mu sync.RWMutex
	m  map[zapbase.ProviderType]providers.Provider
}

// NewRegistry returns a registry holding ps.
func NewRegistry(ps ...providers.Provider) *Registry {
	r := &Registry{m: map[zapbase.ProviderType]providers.Provider{}}
	for _, p := range ps {
		r.Register(p)
	}
	return r
}

// Register adds (or replaces) the provider of p.Type(). It panics on a
// non-concrete type (a wiring bug).
func (r *Registry) Register(p providers.Provider) {
	t := p.Type()
	if !t.Concrete() {
		panic(fmt.Sprintf("dispatch: cannot register provider of type %q", t))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[t] = p
}

// Get returns the provider of type t, or nil.
func (r *Registry) Get(t zapbase.ProviderType) providers.Provider {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[t]
}

// Types lists the registered provider types.
func (r *Registry) Types() []zapbase.ProviderType {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]zapbase.ProviderType, 0, len(r.m))
	for t := range r.m {
		out = append(out, t)
	}
	return out
}
