package faultagent

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/vecrosim/vecro/framework/agent"
)

// maxBody bounds a PUT body; a fault is a few hundred bytes.
const maxBody = 1 << 20

// validID is what a fault id may look like: it names toxics and files.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// Handler serves the fault API:
//
//	PUT    /faults/{id}  push a fault (agent.Fault); 201 new, 200 identical repeat
//	GET    /faults/{id}  one fault's agent.Status
//	DELETE /faults/{id}  switch it off and forget it; returns its final status
//	GET    /faults       every fault's status
//	DELETE /faults       switch all off and forget them; returns their statuses
//
// Every call needs "Authorization: Bearer <token>"; with no token configured
// every call is refused. Errors are JSON {"error": "..."}: 400 bad input,
// 401 token, 404 unknown id, 409 conflict with the agent's state.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /faults", a.handleList)
	mux.HandleFunc("DELETE /faults", a.handleClear)
	mux.HandleFunc("GET /faults/{id}", a.handleGet)
	mux.HandleFunc("PUT /faults/{id}", a.handlePut)
	mux.HandleFunc("DELETE /faults/{id}", a.handleDelete)
	return a.authenticate(mux)
}

// authenticate refuses a call without the agent's bearer token. Both sides
// are hashed before the constant-time compare so that neither the token nor
// its length leaks through timing.
func (a *Agent) authenticate(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(a.token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vecro-agent"`)
		if a.token == "" {
			writeError(w, http.StatusUnauthorized, "fault API disabled: this agent has no token configured (--token, --token-file or VECRO_TOKEN)")
			return
		}
		got, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			writeError(w, http.StatusUnauthorized, `missing bearer token (want "Authorization: Bearer <token>")`)
			return
		}
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			writeError(w, http.StatusUnauthorized, "wrong bearer token")
			return
		}
		w.Header().Del("WWW-Authenticate")
		next.ServeHTTP(w, r)
	})
}

func bearer(h string) (string, bool) {
	const prefix = "bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(h[len(prefix):])
	return tok, tok != ""
}

func (a *Agent) handlePut(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID.MatchString(id) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("fault id %q: want 1–128 of A-Z a-z 0-9 . _ : - (starting with a letter or digit)", id))
		return
	}
	var f agent.Fault
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("fault %q: malformed JSON body: %v", id, err))
		return
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("fault %q: trailing data after the JSON object", id))
		return
	}
	switch f.ID {
	case "":
		f.ID = id
	case id:
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("fault id %q in the body does not match %q in the path", f.ID, id))
		return
	}
	st, created, err := a.put(f)
	switch {
	case errors.As(err, new(conflictError)):
		writeError(w, http.StatusConflict, err.Error())
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
	case created:
		writeJSON(w, http.StatusCreated, st)
	default:
		writeJSON(w, http.StatusOK, st)
	}
}

func (a *Agent) handleGet(w http.ResponseWriter, r *http.Request) {
	st, ok := a.get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no fault %q on this agent", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *Agent) handleDelete(w http.ResponseWriter, r *http.Request) {
	st, ok := a.remove(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no fault %q on this agent", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *Agent) handleList(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.list())
}

func (a *Agent) handleClear(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.clear())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	// The client may be gone; nothing useful to do with the error.
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, agent.ErrorBody{Error: msg})
}
